"""SOAP 1.1 document/literal envelopes for the outcall web service. Pure, no I/O.

Both sides use it: the adapter builds requests and reads responses and faults; the
emulator reads requests and builds responses and faults. Field order follows the WSDL
(``AppIntfWS.wsdl`` beside this module). Untrusted XML is parsed with entity expansion,
DTD loading and network access off; anything that is not the expected envelope is a
``SoapFault`` (client side) or an ``EnvelopeError`` (server side), never a crash.

``parameters`` strings follow the service's convention: ``name=value`` pairs separated by
``;``, a ``;`` inside a value escaped as ``\\;``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "urn:outdial:appintfws"
WSDL_PATH = Path(__file__).with_name("AppIntfWS.wsdl")

_LAUNCHED = (("sessionID", str), ("totalRes", int), ("unusedSIP", int), ("unusedH323", int))
_RESOURCES = _LAUNCHED[1:]
_STATUS = (("sessionID", str), ("state", str), ("result", str), ("human", bool))

# operation -> (request fields, response fields); a field is (name, type); GetStatus's
# request repeats sessionID and its response repeats ``status`` records.
OPERATIONS: dict[str, tuple[tuple[tuple[str, type], ...], tuple[tuple[str, type], ...]]] = {
    "LaunchCCXML": ((("toURI", str), ("applicationName", str), ("applicationURL", str),
                     ("parameters", str), ("uuiInfo", str), ("launchTimeout", int)),
                    _LAUNCHED),
    "LaunchVXML": ((("toURI", str), ("fromURI", str), ("applicationName", str),
                    ("applicationURL", str), ("parameters", str), ("uuiInfo", str),
                    ("launchTimeout", int)), _LAUNCHED),
    "QueryResources": ((("zoneName", str),), _RESOURCES),
    "GetStatus": ((("sessionID", list),), (("status", list),)),
    "SendCCXMLEvent": ((("sessionID", str), ("eventName", str), ("eventBody", str)),
                       (("accepted", bool),)),
    "SendSMS": ((("toAddr", str), ("fromAddr", str), ("message", str),
                 ("applicationName", str), ("parameters", str)), (("sessionID", str),)),
    "SendEmail": ((("toAddr", str), ("fromAddr", str), ("subject", str), ("message", str),
                   ("applicationName", str), ("parameters", str)), (("sessionID", str),)),
}

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          huge_tree=False, remove_comments=True)


@dataclass(frozen=True)
class SoapFault(Exception):
    """A SOAP fault from the service (or a response that is not SOAP): its fault code
    (``Client``, ``Server``, ...) and fault string."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class EnvelopeError(ValueError):
    """A request the emulator cannot read (not SOAP, unknown operation, bad field)."""


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _envelope(body_el: etree._Element) -> bytes:
    env = etree.Element(_q(SOAP_NS, "Envelope"), nsmap={"soapenv": SOAP_NS, "tns": TNS})
    etree.SubElement(env, _q(SOAP_NS, "Body")).append(body_el)
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def _fields(parent: etree._Element, spec, values: Mapping[str, Any]) -> None:
    for name, typ in spec:
        v = values.get(name)
        if v is None:
            continue
        if typ is list:
            for item in v:
                el = etree.SubElement(parent, _q(TNS, name))
                if isinstance(item, Mapping):
                    _fields(el, _STATUS, item)
                else:
                    el.text = _text(item)
        else:
            etree.SubElement(parent, _q(TNS, name)).text = _text(v)


def request(op: str, **values: Any) -> bytes:
    """The envelope calling ``op`` with ``values`` (None values are left out)."""
    if op not in OPERATIONS:
        raise ValueError(f"unknown operation {op!r}; expected one of {', '.join(OPERATIONS)}")
    el = etree.Element(_q(TNS, op))
    _fields(el, OPERATIONS[op][0], values)
    return _envelope(el)


def response(op: str, values: Mapping[str, Any]) -> bytes:
    """The envelope answering ``op``."""
    el = etree.Element(_q(TNS, op + "Response"))
    _fields(el, OPERATIONS[op][1], values)
    return _envelope(el)


def fault(code: str, message: str) -> bytes:
    """A SOAP 1.1 fault envelope (``code``: ``Client`` or ``Server``)."""
    f = etree.Element(_q(SOAP_NS, "Fault"))
    etree.SubElement(f, "faultcode").text = f"soapenv:{code}"
    etree.SubElement(f, "faultstring").text = message
    return _envelope(f)


def _body(data: bytes) -> etree._Element:
    try:
        root = etree.fromstring(data, _PARSER)
    except (etree.XMLSyntaxError, ValueError) as e:
        raise EnvelopeError(f"not XML ({e})") from None
    if root.tag != _q(SOAP_NS, "Envelope"):
        raise EnvelopeError(f"not a SOAP 1.1 envelope (root {root.tag!r})")
    body = root.find(_q(SOAP_NS, "Body"))
    if body is None or len(body) != 1:
        raise EnvelopeError("SOAP Body must hold exactly one element")
    return body[0]


def _convert(name: str, typ: type, text: str | None) -> Any:
    text = (text or "").strip()
    if typ is int:
        try:
            return int(text)
        except ValueError:
            raise EnvelopeError(f"{name}: {text!r} is not an integer") from None
    if typ is bool:
        if text not in ("true", "false", "1", "0"):
            raise EnvelopeError(f"{name}: {text!r} is not a boolean")
        return text in ("true", "1")
    return text


def _read(el: etree._Element, spec, lenient: bool = False) -> dict[str, Any]:
    """The fields of ``spec`` under ``el``. A repeated record (a session's status) is
    read ``lenient``: a field that does not convert is left out and named in the record's
    ``invalid`` list, so one bad value costs that field, not every record beside it."""
    out: dict[str, Any] = {}
    invalid: list[str] = []
    for name, typ in spec:
        kids = el.findall(_q(TNS, name))
        if typ is list:
            out[name] = [_read(k, _STATUS, True) if len(k) else _convert(name, str, k.text)
                         for k in kids]
        elif kids:
            try:
                out[name] = _convert(name, typ, kids[0].text)
            except EnvelopeError as e:
                if not lenient:
                    raise
                invalid.append(str(e))
    if invalid:
        out["invalid"] = invalid
    return out


def parse_request(data: bytes) -> tuple[str, dict[str, Any]]:
    """(operation, its fields) from a request envelope; ``EnvelopeError`` if unreadable."""
    el = _body(data)
    if not isinstance(el.tag, str) or not el.tag.startswith("{" + TNS + "}"):
        raise EnvelopeError(f"unknown operation element {el.tag!r}")
    op = etree.QName(el).localname
    if op not in OPERATIONS:
        raise EnvelopeError(f"unknown operation {op!r}")
    return op, _read(el, OPERATIONS[op][0])


def parse_response(op: str, data: bytes) -> dict[str, Any]:
    """``op``'s result fields; raises ``SoapFault`` for a fault or anything not SOAP."""
    try:
        el = _body(data)
    except EnvelopeError as e:
        raise SoapFault("Client", f"unreadable {op} response: {e}") from None
    if el.tag == _q(SOAP_NS, "Fault"):
        code = (el.findtext("faultcode") or "Server").split(":")[-1]
        raise SoapFault(code, (el.findtext("faultstring") or "").strip() or "no fault string")
    if el.tag != _q(TNS, op + "Response"):
        raise SoapFault("Client", f"{op}: unexpected response element {el.tag!r}")
    try:
        return _read(el, OPERATIONS[op][1])
    except EnvelopeError as e:
        raise SoapFault("Client", f"{op} response: {e}") from None


_SEP = re.compile(r"(?<!\\);")


def format_parameters(params: Mapping[str, Any]) -> str:
    """``{"a": 1, "b": "x;y"}`` -> ``a=1;b=x\\;y``."""
    return ";".join(f"{k}={str(v).replace(';', chr(92) + ';')}" for k, v in params.items())


def parse_parameters(text: str) -> dict[str, str]:
    """The inverse of ``format_parameters`` (pairs without ``=`` are ignored)."""
    out: dict[str, str] = {}
    for pair in _SEP.split(text or ""):
        if "=" in pair:
            k, v = pair.split("=", 1)
            out[k.strip()] = v.replace("\\;", ";")
    return out

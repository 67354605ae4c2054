"""DMCC XML messages: build a request, response or event body, and read one back. Pure.

CSTA Phase III XML (ECMA-323) carries the call-control and agent messages; application
sessions are ECMA-354. A message is a root element named for its type in its namespace,
holding nested elements with text leaves. ``Message.fields`` flattens the leaves into
``"parent/child"`` paths (first occurrence wins), which is all the adapter needs and keeps
the parser independent of element order and of extensions it does not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element, ParseError, SubElement, tostring

from defusedxml.ElementTree import fromstring

from adapters.dmcc.framing import Frame

CSTA_NS = "http://www.ecma-international.org/standards/ecma-323/csta/ed3"
SESSION_NS = "http://www.ecma-international.org/standards/ecma-354/appl_session"
AVAYA_NS = "http://www.avaya.com/csta"
PROTOCOL_VERSION = CSTA_NS + "/priv8"  # the DMCC XML protocol version the client asks for

SESSION_TYPES = frozenset({
    "StartApplicationSession", "StartApplicationSessionPosResponse",
    "StartApplicationSessionNegResponse", "StopApplicationSession",
    "StopApplicationSessionPosResponse", "ResetApplicationSessionTimer",
    "ResetApplicationSessionTimerPosResponse", "ResetApplicationSessionTimerNegResponse",
})
AVAYA_TYPES = frozenset({"GetDeviceId", "GetDeviceIdResponse"})
EVENTS = ("DeliveredEvent", "EstablishedEvent", "ConnectionClearedEvent", "FailedEvent",
          "OriginatedEvent")


MAX_DEPTH = 64  # element nesting a message may have (real ones have fewer than 10)


class MessageError(ValueError):
    """A body that is not a DMCC message (not XML, or no root element)."""


def namespace(kind: str) -> str:
    """The XML namespace of message type ``kind``."""
    if kind in SESSION_TYPES:
        return SESSION_NS
    if kind in AVAYA_TYPES:
        return AVAYA_NS
    return CSTA_NS


@dataclass(frozen=True)
class Message:
    """A DMCC message: its type (root element's local name) and its leaf values by path."""

    kind: str
    fields: Mapping[str, str] = field(default_factory=dict)

    def get(self, path: str, default: str | None = None) -> str | None:
        """The text at ``path`` (``"a/b"``), or at any path ending in ``/path``."""
        if path in self.fields:
            return self.fields[path]
        tail = "/" + path
        for k, v in self.fields.items():
            if k.endswith(tail):
                return v
        return default


def _fill(parent: Element, ns: str, body: Mapping[str, Any]) -> None:
    for name, value in body.items():
        child = SubElement(parent, f"{{{ns}}}{name}")
        if isinstance(value, Mapping):
            _fill(child, ns, value)
        elif value is not None:
            child.text = str(value)


def build(kind: str, body: Mapping[str, Any] | None = None) -> str:
    """The XML text of a ``kind`` message with nested ``body`` (dicts become elements,
    other values their text)."""
    ns = namespace(kind)
    root = Element(f"{{{ns}}}{kind}")
    _fill(root, ns, body or {})
    return '<?xml version="1.0" encoding="UTF-8"?>' + tostring(
        root, encoding="unicode", default_namespace=ns)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse(body: str | Element) -> Message:
    """Read a message body: its text, or the document ``framing.FrameDecoder`` parsed
    already (``Frame.root``, not parsed again). Raises ``MessageError`` for text that is
    not XML and for a body nested deeper than ``MAX_DEPTH``."""
    root = body if isinstance(body, Element) else _document(body)
    out: dict[str, str] = {}
    # Iterative and depth-bounded: a peer's deeply nested body must not exhaust the
    # interpreter's recursion limit (a RecursionError would end the connection).
    stack: list[tuple[Element, str, int]] = [(k, _local(k.tag), 1) for k in reversed(root)]
    while stack:
        el, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise MessageError(f"DMCC {_local(root.tag)} nested deeper than {MAX_DEPTH} "
                               "elements")
        kids = list(el)
        if not kids:
            out.setdefault(path, (el.text or "").strip())
            continue
        stack.extend((k, f"{path}/{_local(k.tag)}", depth + 1) for k in reversed(kids))
    return Message(_local(root.tag), out)


def parse_frame(frame: Frame) -> Message:
    """Read a decoded frame's message from the document the decoder parsed (its text only
    for a frame made without one)."""
    return parse(frame.body if frame.root is None else frame.root)


def _document(text: str) -> Element:
    try:
        return fromstring(text)
    except (ParseError, ValueError) as e:
        raise MessageError(f"not a DMCC XML message ({e})") from e
    except Exception as e:  # defusedxml: DTDs, entities, external references refused
        raise MessageError(f"refused DMCC XML message ({type(e).__name__})") from e


# ---- the requests the adapter sends

def start_session(user: str, password: str, application_id: str, duration_s: int,
                  cleanup_delay_s: int, session_id: str | None = None,
                  protocol: str = PROTOCOL_VERSION) -> str:
    """StartApplicationSession with session login info; ``session_id`` asks to resume
    (recover) an earlier session whose cleanup delay has not expired."""
    login: dict[str, Any] = {"userName": user, "password": password,
                             "sessionCleanupDelay": cleanup_delay_s}
    if session_id:
        login["sessionID"] = session_id
    return build("StartApplicationSession", {
        "applicationInfo": {"applicationID": application_id,
                            "applicationSpecificInfo": {"SessionLoginInfo": login}},
        "requestedProtocolVersions": {"protocolVersion": protocol},
        "requestedSessionDuration": duration_s,
    })


def device_ref(device_id: str) -> dict[str, Any]:
    return {"deviceID": device_id}


def connection_ref(call_id: str, device_id: str) -> dict[str, Any]:
    return {"callID": call_id, "deviceID": device_id}

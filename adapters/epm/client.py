"""The outcall web service client: SOAP over HTTPS with HTTP Digest authentication.

Built on ``requests`` (a ``Session`` keeps connections alive and answers Digest
challenges) and this package's SOAP framing. Every failure is one ``EpmError`` whose
message names the service URL (without any credentials) and what went wrong: refused
credentials, TLS, connection, timeout, or the service's SOAP fault.
"""

from __future__ import annotations

import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

import requests
import urllib3
from requests.auth import HTTPDigestAuth

from adapters.epm import framing as f

MAX_RESPONSE = 16 << 20  # bytes of one response it reads (GetStatus of 50k sessions fits)


class EpmError(RuntimeError):
    """The web service could not be used (message safe to show: no credentials)."""


class EpmAnswerError(EpmError):
    """The service answered, with something that cannot be used (a field missing)."""


class EpmFault(EpmError):
    """The service answered with a SOAP fault."""

    def __init__(self, op: str, fault: f.SoapFault):
        super().__init__(f"{op} refused by the outcall web service: {fault}")
        self.op = op
        self.fault = fault


@dataclass(frozen=True)
class Resources:
    """Outbound ports: total (used and unused), unused SIP, unused H.323."""

    total: int
    unused_sip: int
    unused_h323: int

    @property
    def free(self) -> int:
        return self.unused_sip + self.unused_h323


@dataclass(frozen=True)
class Launched:
    """A started session and the port figures the service returned with it."""

    session_id: str
    resources: Resources


def safe_url(url: str) -> str:
    """``url`` without user info (``user:password@``) and query."""
    p = urllib.parse.urlsplit(url)
    host = p.hostname or ""
    if p.port:
        host = f"{host}:{p.port}"
    return urllib.parse.urlunsplit((p.scheme, host, p.path, "", ""))


class EpmClient:
    """Calls the service at ``url`` as ``user``. ``verify``: a CA bundle path, True (the
    system's) or False (never in production). ``timeout_s``: the longest wait to connect,
    for the response's headers, and for its whole body; ``max_response``: bytes."""

    def __init__(self, url: str, user: str, password: str, verify: str | bool = True,
                 timeout_s: float = 10.0, connections: int = 16,
                 max_response: int = MAX_RESPONSE):
        self.url = url
        self.where = safe_url(url)
        self.timeout_s = timeout_s
        self.max_response = max_response
        self._session = requests.Session()
        pool = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=connections)
        self._session.mount("https://", pool)
        self._session.mount("http://", pool)
        self._session.auth = HTTPDigestAuth(user, password)
        # Per request: a session-level ``verify`` loses to REQUESTS_CA_BUNDLE in requests.
        self._verify = verify

    def __repr__(self) -> str:
        return f"EpmClient({self.where!r})"

    def close(self) -> None:
        self._session.close()

    def call(self, op: str, **values: Any) -> dict[str, Any]:
        """Call ``op``; its response fields. Raises ``EpmFault`` / ``EpmError``."""
        body = f.request(op, **values)
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"urn:{op}"'}
        try:
            r = self._session.post(self.url, data=body, headers=headers, stream=True,
                                   timeout=self.timeout_s, verify=self._verify)
        except requests.exceptions.SSLError as e:
            raise EpmError(f"{self.where}: TLS handshake failed ({_reason(e)})") from None
        except requests.exceptions.Timeout:
            raise EpmError(f"{self.where}: {op} timed out after {self.timeout_s:g} s") from None
        except requests.exceptions.RequestException as e:
            raise EpmError(f"{self.where}: cannot reach the outcall web service "
                           f"({type(e).__name__})") from None
        except (ValueError, UnicodeError) as e:  # e.g. a user name HTTP cannot carry
            raise EpmError(f"{self.where}: {op} request not sendable ({type(e).__name__}); "
                           "check the user name (printable Latin-1, no quotes)") from None
        try:
            if r.status_code == 401:
                raise EpmError(f"{self.where}: the outcall web service refused the "
                               "credentials (HTTP 401); check the EPM user name and password")
            content = self._content(op, r) if r.status_code in (200, 500) else b""
        except BaseException:
            r.close()  # the body was not read to its end: the connection is not reused
            raise
        if r.status_code in (200, 500):
            r.raw.release_conn()  # read to its end: kept alive for the next request
        else:
            r.close()
        if not content:
            raise EpmError(f"{self.where}: {op} answered HTTP {r.status_code}")
        try:
            return f.parse_response(op, content)
        except f.SoapFault as fault:
            raise EpmFault(op, fault) from None

    def _content(self, op: str, r: requests.Response) -> bytes:
        """The response body, read as it arrives: ``EpmError`` when it is larger than
        ``max_response`` bytes or still arriving ``timeout_s`` after the headers (a
        trickle of bytes would reset a per-read timeout for ever)."""
        deadline = time.monotonic() + self.timeout_s
        out = bytearray()
        try:
            while data := r.raw.read1(65536, decode_content=True):
                out += data
                if len(out) > self.max_response:
                    raise EpmError(f"{self.where}: {op} response larger than "
                                   f"{self.max_response} bytes; not read")
                if time.monotonic() > deadline:
                    raise EpmError(f"{self.where}: {op} response still arriving after "
                                   f"{self.timeout_s:g} s; not read")
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise EpmError(f"{self.where}: {op} response cut off ({type(e).__name__})") \
                from None
        return bytes(out)

    # ---- the operations

    def launch_ccxml(self, to_uri: str, application_name: str, application_url: str = "",
                     parameters: str = "", uui: str = "", launch_timeout_s: int = 60) -> Launched:
        return _launched(self.call("LaunchCCXML", toURI=to_uri, applicationName=application_name,
                                   applicationURL=application_url or None,
                                   parameters=parameters or None, uuiInfo=uui or None,
                                   launchTimeout=launch_timeout_s))

    def launch_vxml(self, to_uri: str, application_name: str, from_uri: str = "",
                    application_url: str = "", parameters: str = "", uui: str = "",
                    launch_timeout_s: int = 60) -> Launched:
        return _launched(self.call("LaunchVXML", toURI=to_uri, fromURI=from_uri or None,
                                   applicationName=application_name,
                                   applicationURL=application_url or None,
                                   parameters=parameters or None, uuiInfo=uui or None,
                                   launchTimeout=launch_timeout_s))

    def query_resources(self, zone: str = "") -> Resources:
        return _resources(self.call("QueryResources", zoneName=zone or None))

    def get_status(self, session_ids: list[str]) -> list[dict[str, Any]]:
        return self.call("GetStatus", sessionID=list(session_ids)).get("status", [])

    def send_ccxml_event(self, session_id: str, name: str, body: str = "") -> bool:
        return bool(self.call("SendCCXMLEvent", sessionID=session_id, eventName=name,
                              eventBody=body or None).get("accepted"))

    def send_sms(self, to: str, message: str, sender: str = "", application: str = "",
                 parameters: str = "") -> str:
        return _session(self.call("SendSMS", toAddr=to, fromAddr=sender or None,
                                  message=message, applicationName=application or None,
                                  parameters=parameters or None))

    def send_email(self, to: str, subject: str, message: str, sender: str = "",
                   application: str = "", parameters: str = "") -> str:
        return _session(self.call("SendEmail", toAddr=to, fromAddr=sender or None,
                                  subject=subject, message=message,
                                  applicationName=application or None,
                                  parameters=parameters or None))


def _resources(d: dict[str, Any]) -> Resources:
    try:
        return Resources(int(d["totalRes"]), int(d["unusedSIP"]), int(d["unusedH323"]))
    except KeyError as e:
        raise EpmAnswerError(f"outcall web service response lacks {e.args[0]}") from None


def _session(d: dict[str, Any]) -> str:
    """The session id of an accepted message: a message without one could never be
    followed to its end, so it is an error (the attempt ends undelivered, not lost)."""
    if not d.get("sessionID"):
        raise EpmAnswerError("outcall web service accepted a message without a session id")
    return d["sessionID"]


def _launched(d: dict[str, Any]) -> Launched:
    if not d.get("sessionID"):
        raise EpmAnswerError("outcall web service launched no session (empty sessionID)")
    return Launched(d["sessionID"], _resources(d))


def _reason(e: Exception) -> str:
    text = str(e)
    for key in ("CERTIFICATE_VERIFY_FAILED", "WRONG_VERSION_NUMBER", "hostname mismatch"):
        if key in text:
            return key
    return type(e).__name__

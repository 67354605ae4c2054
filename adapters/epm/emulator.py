"""A loopback outcall web service: the WSDL, SOAP over HTTPS, HTTP Digest authentication,
every operation answered from the world model handed to it.

It binds 127.0.0.1 only, serves ``?wsdl`` (with its own address filled in) and answers
POSTs from any SOAP client: zeep, or the adapter. Requests without valid Digest
credentials get 401 with a fresh challenge (RFC 7616, MD5, qop=auth); a request the
service cannot read gets a ``Client`` fault, a refusal from the world a ``Server`` fault.
The world is called under ``lock``, which a world advanced by another thread shares.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import secrets
import socket
import ssl
import threading
import time
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from adapters.epm import framing as f

REALM = "AppIntfWS"
NONCE_TTL_S = 300.0
MAX_NONCES = 10000  # challenges outstanding at once (memory stays bounded)
IDLE_S = 60.0  # seconds a connection may stay silent (keep-alive or mid-request)
MAX_REQUEST = 4 << 20  # bytes of a request body it reads
log = logging.getLogger(__name__)


class LaunchRefused(Exception):
    """The world cannot start this session (no free port, bad address, ...)."""


@dataclass(frozen=True)
class SessionStatus:
    """A session's progress: ``state`` one of ``launching``, ``ringing``, ``answered``,
    ``connected``, ``ended``; ``result`` how it ended (``busy``, ``noanswer``, ``invalid``,
    ``hangup``, ``completed``, ``delivered``, ``undelivered``) or empty; ``human`` the AMD
    classification once answered."""

    state: str
    result: str = ""
    human: bool = False


class PortWorld(Protocol):
    """What the EPM emulator asks the world."""

    def resources(self) -> tuple[int, int, int]:
        """(total outbound ports, unused SIP ports, unused H.323 ports)."""

    def launch(self, session_id: str, op: str, fields: dict[str, Any]) -> None:
        """Start a LaunchCCXML / LaunchVXML session; raise ``LaunchRefused`` if it cannot."""

    def status(self, session_id: str) -> SessionStatus | None:
        """The session's progress, None if unknown."""

    def ccxml_event(self, session_id: str, name: str, body: str) -> bool:
        """Deliver an event to a session (``outdial.connect`` with ``agent=N``,
        ``outdial.drop``); False if the session is unknown or over."""

    def send_message(self, session_id: str, channel: str, fields: dict[str, Any]) -> None:
        """Send an SMS (``channel`` ``sms``) or email (``email``); its delivery shows in
        ``status``. Raise ``LaunchRefused`` if it cannot be sent."""


def _h(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()  # RFC 7616's MD5 algorithm


class EpmEmulator:
    """Serve the outcall web service on ``https://127.0.0.1:<port>/axis2/services/AppIntfWS``
    (plain HTTP when ``tls`` is None). ``users``: user name -> password."""

    PATH = "/axis2/services/AppIntfWS"

    def __init__(self, world: PortWorld, users: dict[str, str], tls: ssl.SSLContext | None,
                 port: int = 0, lock: threading.Lock | None = None):
        self.world = world
        self.users = dict(users)
        self.lock = lock or threading.Lock()
        self.calls: dict[str, int] = {}
        self.auth_failures = 0
        self._nonces: dict[str, float] = {}
        self._ids = itertools.count(1)
        self._conns: set[socket.socket] = set()
        emu = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = IDLE_S  # a client silent this long is cut (its thread is freed)

            def log_message(self, *args: Any) -> None:  # quiet; never logs credentials
                pass

            def setup(self) -> None:
                super().setup()
                emu._conns.add(self.connection)

            def finish(self) -> None:
                emu._conns.discard(self.connection)
                super().finish()

            def do_GET(self) -> None:
                if self.path.split("?")[0] == emu.PATH and self.path.endswith("?wsdl"):
                    self._send(200, emu.wsdl(), "text/xml; charset=utf-8")
                else:
                    self._send(404, b"not found", "text/plain")

            def do_POST(self) -> None:
                text = (self.headers.get("Content-Length") or "0").strip()
                length = int(text) if text.isascii() and text.isdigit() and len(text) < 12 \
                    else -1
                if not 0 <= length <= MAX_REQUEST:  # unreadable: the body cannot be skipped
                    self.close_connection = True
                    self._send(400 if length < 0 else 413, b"bad Content-Length",
                               "text/plain")
                    return
                data = self.rfile.read(length)
                if self.path != emu.PATH:
                    self._send(404, b"not found", "text/plain")
                    return
                if not emu.authorised(self.headers.get("Authorization"), "POST", self.path):
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", emu.challenge())
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status, body = emu.handle(data)
                self._send(status, body, "text/xml; charset=utf-8")

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self.port = self._httpd.server_address[1]
        self.scheme = "https" if tls is not None else "http"
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{self.PATH}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="epm-emulator",
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving and cut every open connection (keep-alive ones too)."""
        self._httpd.shutdown()
        self._httpd.server_close()
        for c in list(self._conns):
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)

    def wsdl(self) -> bytes:
        text = f.WSDL_PATH.read_text(encoding="utf-8")
        return text.replace("https://127.0.0.1/axis2/services/AppIntfWS", self.url).encode()

    # ---- HTTP Digest (RFC 7616)

    def challenge(self) -> str:
        nonce = secrets.token_hex(16)
        now = time.monotonic()
        self._nonces = {n: t for n, t in self._nonces.items() if now - t < NONCE_TTL_S}
        if len(self._nonces) >= MAX_NONCES:  # a flood of challenges: the oldest go first
            for n in list(self._nonces)[: len(self._nonces) - MAX_NONCES + 1]:
                del self._nonces[n]
        self._nonces[nonce] = now
        return (f'Digest realm="{REALM}", qop="auth", algorithm=MD5, nonce="{nonce}", '
                f'opaque="{secrets.token_hex(8)}"')

    def authorised(self, header: str | None, method: str, uri: str) -> bool:
        if not header or not header.lower().startswith("digest "):
            return False
        p = urllib.request.parse_keqv_list(urllib.request.parse_http_list(header[7:]))
        user, nonce = p.get("username", ""), p.get("nonce", "")
        ok = (user in self.users and nonce in self._nonces and p.get("realm") == REALM
              and p.get("uri") == uri and p.get("qop") == "auth")
        if ok:
            ha1 = _h(f"{user}:{REALM}:{self.users[user]}")
            ha2 = _h(f"{method}:{uri}")
            want = _h(f"{ha1}:{nonce}:{p.get('nc')}:{p.get('cnonce')}:auth:{ha2}")
            ok = secrets.compare_digest(want, p.get("response", ""))
        if not ok:
            self.auth_failures += 1
        return ok

    # ---- SOAP

    def handle(self, data: bytes) -> tuple[int, bytes]:
        try:
            op, fields = f.parse_request(data)
        except f.EnvelopeError as e:
            return 500, f.fault("Client", f"unreadable request: {e}")
        self.calls[op] = self.calls.get(op, 0) + 1
        try:
            with self.lock:
                return 200, f.response(op, self._op(op, fields))
        except LaunchRefused as e:
            return 500, f.fault("Server", str(e))
        except Exception as e:  # the world failed on this request: a fault, never a crash
            log.exception("EPM emulator: %s failed", op)
            return 500, f.fault("Server", f"{op} failed ({type(e).__name__})")

    def _resources(self) -> dict[str, int]:
        total, sip, h323 = self.world.resources()
        return {"totalRes": total, "unusedSIP": sip, "unusedH323": h323}

    def _op(self, op: str, fields: dict[str, Any]) -> dict[str, Any]:
        if op in ("LaunchCCXML", "LaunchVXML"):
            if not fields.get("toURI") or not fields.get("applicationName"):
                raise LaunchRefused(f"{op}: toURI and applicationName are required")
            sid = f"EPM-{next(self._ids):010d}"
            self.world.launch(sid, op, fields)
            return {"sessionID": sid, **self._resources()}
        if op == "QueryResources":
            return self._resources()
        if op == "GetStatus":
            out = []
            for sid in fields.get("sessionID", []):
                st = self.world.status(sid)
                st = st or SessionStatus("ended", "unknown")
                out.append({"sessionID": sid, "state": st.state, "result": st.result,
                            "human": st.human})
            return {"status": out}
        if op == "SendCCXMLEvent":
            return {"accepted": self.world.ccxml_event(
                fields.get("sessionID", ""), fields.get("eventName", ""),
                fields.get("eventBody", ""))}
        if op in ("SendSMS", "SendEmail"):
            if not fields.get("toAddr"):
                raise LaunchRefused(f"{op}: toAddr is required")
            sid = f"MSG-{next(self._ids):010d}"
            self.world.send_message(sid, "sms" if op == "SendSMS" else "email", fields)
            return {"sessionID": sid}
        raise LaunchRefused(f"operation {op} is not served")  # pragma: no cover (OPERATIONS)

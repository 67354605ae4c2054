"""A running ``outdial run``'s control channel: a supervisor's requests over a local socket.

``outdial control CONFIG ACTION ...`` (``outdial/cli/control.py``) reaches the run of the
same configuration through a Unix domain socket (``[control] socket`` in the run
configuration; by default beside the SQLite store, ``<store>.control``), open to the user
running outdial only (mode 0600). One request per line, a JSON object of at most
``MAX_LINE`` bytes (``engine.supervisor``: status, pause, resume, stop, set, logoff); one
reply per line: ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}``. A
request that is malformed or refused gets its error and is logged; the run goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import socket
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.supervisor import Supervisor, SupervisorError
from outdial.app import json_safe

log = logging.getLogger(__name__)

MAX_LINE = 65536  # bytes of one request, its newline included
MAX_CLIENTS = 16  # control connections open at once (more are told so and closed)
IDLE_S = 60.0  # a connection that sends no request this long is closed
SEND_S = 10.0  # a reply the client does not take within this is its connection's end
SOCKET_PATH_MAX = 104  # bytes of a Unix socket's path (sun_path: 104 on BSD, 108 on Linux)


class ControlError(RuntimeError):
    """The control socket cannot be opened or reached (the message says why)."""


def check_socket_path(path: Path) -> str | None:
    """Why ``path`` cannot be a control socket (too long for a Unix socket), or None."""
    n = len(os.fsencode(path))
    if n >= SOCKET_PATH_MAX:
        return (f"{path}: {n} bytes, a Unix socket's path must be under {SOCKET_PATH_MAX}; "
                "set [control] socket to a shorter path")
    return None


class ControlServer:
    """Serves ``supervisor``'s requests on the Unix socket ``path``; ``status`` gives the
    reply to a status request (the live view's figures and the jobs' limits)."""

    def __init__(self, path: Path, supervisor: Supervisor,
                 status: Callable[[], dict[str, Any]]):
        self.path = path
        self.supervisor = supervisor
        self.status = status
        self.requests = 0  # served, refused ones included
        self.refused = 0
        self.clients = 0  # connections open now
        self.max_clients, self.idle_s, self.send_s = MAX_CLIENTS, IDLE_S, SEND_S
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        """Listen; a socket file a killed run left is replaced, a live one is an error."""
        problem = check_socket_path(self.path)
        if problem:
            raise ControlError(f"control.socket: {problem}")
        if self.path.exists() or self.path.is_symlink():
            if not stat.S_ISSOCK(self.path.lstat().st_mode):
                raise ControlError(f"control.socket: {self.path} exists and is not a socket")
            if _listening(self.path):
                raise ControlError(f"control.socket: {self.path} is in use by another "
                                   "running outdial (one run per control socket)")
            self.path.unlink()  # left by a run that was killed
        try:
            self._server = await asyncio.start_unix_server(self._client, path=str(self.path),
                                                           limit=MAX_LINE)
        except OSError as e:
            raise ControlError(f"control.socket: cannot listen on {self.path} "
                               f"({e.strerror}); set [control] socket to a path on a local "
                               "disk, or [control] enabled = false") from None
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2.0)
        self._server = None
        with contextlib.suppress(OSError):
            self.path.unlink()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One connection's requests. Bounded, so that clients that connect and stay
        (a script gone wrong) cannot take the run's file descriptors, and one that never
        reads its replies cannot hold a task: ``max_clients`` at once, ``idle_s`` without
        a request, ``send_s`` for a reply to be taken."""
        self.clients += 1
        try:
            if self.clients > self.max_clients:
                log.warning("control: more than %d connections; one refused",
                            self.max_clients)
                await self._send(writer, {"ok": False, "error": f"more than "
                                          f"{self.max_clients} control connections open; "
                                          "close one and ask again"})
                return
            await self._serve(reader, writer)
        except (ConnectionError, TimeoutError, asyncio.CancelledError):
            pass
        finally:
            self.clients -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                async with asyncio.timeout(self.idle_s):
                    line = await reader.readuntil(b"\n")
            except TimeoutError:
                log.info("control: a connection idle for %g s closed", self.idle_s)
                return
            except asyncio.IncompleteReadError as e:
                line = e.partial  # the last request may come without its newline
                if not line.strip():
                    return
            except asyncio.LimitOverrunError:
                self.requests += 1
                self.refused += 1
                log.warning("control: a request over %d bytes; connection closed", MAX_LINE)
                await self._send(writer, {"ok": False, "error": f"a request is one line of "
                                                               f"at most {MAX_LINE} bytes"})
                return
            if line.strip():
                await self._send(writer, await self.reply(line))

    async def _send(self, writer: asyncio.StreamWriter, reply: dict[str, Any]) -> None:
        """``reply`` on its line; ``TimeoutError`` when the client has not taken it
        within ``send_s`` (it does not read: its connection ends)."""
        writer.write(json.dumps(json_safe(reply)).encode() + b"\n")
        async with asyncio.timeout(self.send_s):
            await writer.drain()

    async def reply(self, line: bytes) -> dict[str, Any]:
        """The reply to one request line (see the module); an import's file is read off
        the event loop (the supervisor's importer gives an awaitable), the run going on."""
        self.requests += 1
        try:
            req = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            # (RecursionError: nested deeper than the parser follows)
            self.refused += 1
            log.warning("control: not a JSON request (%s): %r", e, line[:80])
            return {"ok": False, "error": f"expected a JSON object on one line ({e})"}
        try:
            result = self.supervisor.handle(req)
            if inspect.isawaitable(result):
                result = await result
            if req.get("action") == "status":
                result = self.status()
        except SupervisorError as e:
            self.refused += 1
            log.warning("control: refused %.200s: %s", json.dumps(req), e)
            return {"ok": False, "error": str(e)}
        except Exception as e:  # the store, an import's disk: said, the run goes on
            self.refused += 1
            log.error("control: %.200s failed: %s: %s", json.dumps(req), type(e).__name__, e)
            return {"ok": False, "error": f"{type(e).__name__}: {e}"}
        else:
            log.warning("control: %s", json.dumps(req))  # an operator's action: in the log
        return {"ok": True, "result": result}


def _listening(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(str(path))
        except OSError:
            return False
        return True


def request(path: Path, req: dict[str, Any] | bytes,
            timeout_s: float = 10.0) -> dict[str, Any]:
    """Send one request (a mapping, or a line's bytes as they are) to the run listening on
    ``path`` and return its reply; raises ``ControlError`` when no run listens there or
    the reply does not come."""
    problem = check_socket_path(path)
    if problem:
        raise ControlError(problem)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout_s)
        try:
            s.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise ControlError(f"no outdial run listens on {path} (is it running with "
                               "this configuration?)") from None
        except OSError as e:
            raise ControlError(f"{path}: {e.strerror or e}") from None
        line = req if isinstance(req, bytes) else json.dumps(req).encode() + b"\n"
        try:
            s.sendall(line)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before it was all read (over MAX_LINE): the reply is waiting
        try:
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        except TimeoutError:
            raise ControlError(f"{path}: no reply within {timeout_s:g} s") from None
        except OSError as e:
            raise ControlError(f"{path}: {e.strerror or e}") from None
    try:
        reply = json.loads(buf)
    except json.JSONDecodeError:
        raise ControlError(f"{path}: the run's reply is not JSON: {buf[:80]!r}") from None
    if not isinstance(reply, dict) or "ok" not in reply:
        raise ControlError(f"{path}: unexpected reply {buf[:80]!r}")
    return reply

"""A loopback AES DMCC server: application sessions, device ids, monitors, agent states
(and work modes, for a world with an ACD: ``InboundWorld``), agent calls and their events,
driven by the world model handed to it.

It listens on 127.0.0.1 only (TCP, or TLS with a server ``ssl.SSLContext``), checks the
session login, expires a session whose timer is not reset within its duration, keeps a
disconnected session resumable for its cleanup delay, and answers every request the
client sends. ``drop_connections()`` cuts every link (to test reconnects).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import ssl
import time
from dataclasses import dataclass, field
from typing import Protocol

from adapters.dmcc import messages as m
from adapters.dmcc.framing import EVENT_INVOKE_ID, FrameDecoder, encode

log = logging.getLogger(__name__)


class AgentWorld(Protocol):
    """What the DMCC emulator asks the world: agents' CSTA states at their stations."""

    def agent_state(self, station: str) -> str:
        """``agentNull`` (logged out), ``agentReady``, ``agentNotReady``, ``agentBusy`` or
        ``agentWorkingAfterCall``; ``agentNull`` for an unknown station."""

    def set_agent_state(self, station: str, state: str) -> None:
        """A SetAgentState request (``readyState``, ``notReadyState``, ``logOutState``...)."""


class InboundWorld(Protocol):
    """What the emulator asks a world with an ACD: work modes (blending moves agents
    between outbound and the ACD's queues with them)."""

    def work_mode(self, station: str) -> str:
        """``AUTO_IN`` (the ACD routes calls to the agent) or ``MANUAL_IN``."""

    def set_work_mode(self, station: str, state: str, work_mode: str, pending: bool) -> None:
        """A SetAgentState with a work mode; ``pending``: after the current call."""


@dataclass
class _Session:
    id: str
    user: str
    duration_s: float
    cleanup_s: float
    expires: float
    monitors: dict[str, str] = field(default_factory=dict)  # crossref -> device
    writer: asyncio.StreamWriter | None = None
    detached_at: float | None = None


class DmccEmulator:
    """Serve DMCC on 127.0.0.1:``port`` (0: any free port, see ``port`` after ``start``)."""

    def __init__(self, world: AgentWorld, users: dict[str, str], port: int = 0,
                 tls: ssl.SSLContext | None = None, max_session_s: float = 3600.0):
        self.world = world
        self.users = dict(users)
        self.port = port
        self.tls = tls
        self.max_session_s = max_session_s
        self.sessions: dict[str, _Session] = {}
        self.requests: dict[str, int] = {}
        self.bad_frames = 0
        self.events_sent = 0
        self._ids = itertools.count(1)
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port,
                                                  ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.drop_connections()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def drop_connections(self) -> None:
        """Cut every client connection now (sessions stay resumable for their cleanup)."""
        for w in list(self._writers):
            w.close()

    # ---- protocol

    def _expire(self, now: float) -> None:
        for sid, s in list(self.sessions.items()):
            gone = now > s.expires or (s.detached_at is not None
                                       and now - s.detached_at > s.cleanup_s)
            if gone:
                del self.sessions[sid]

    def _send(self, w: asyncio.StreamWriter, invoke: int, kind: str, body: dict) -> None:
        w.write(encode(invoke, m.build(kind, body)))

    def _event(self, session: _Session, kind: str, body: dict) -> None:
        if session.writer is not None:
            self._send(session.writer, EVENT_INVOKE_ID, kind, body)
            self.events_sent += 1

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        dec = FrameDecoder()
        session: _Session | None = None
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                frames = dec.feed(data)
                self.bad_frames += len(dec.errors)
                dec.errors.clear()
                for f in frames:
                    try:
                        msg = m.parse_frame(f)
                    except m.MessageError:
                        self.bad_frames += 1
                        continue
                    try:
                        session = self._handle(writer, f.invoke_id, msg, session)
                    except Exception:  # a request it cannot serve: answered, never fatal
                        self.bad_frames += 1
                        log.warning("DMCC emulator: %s (invoke %d) not served", msg.kind,
                                    f.invoke_id, exc_info=True)
                        self._send(writer, f.invoke_id, "CSTAErrorCode",
                                   {"operation": "invalidParameterValue"})
                await writer.drain()
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass  # the peer left, or the emulator is closing
        finally:
            self._writers.discard(writer)
            if session is not None and session.id in self.sessions:
                session.writer = None
                session.detached_at = time.monotonic()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _handle(self, w: asyncio.StreamWriter, invoke: int, msg: m.Message,
                session: _Session | None) -> _Session | None:
        now = time.monotonic()
        self._expire(now)
        kind = msg.kind
        self.requests[kind] = self.requests.get(kind, 0) + 1
        if kind == "StartApplicationSession":
            user, pw = msg.get("userName") or "", msg.get("password") or ""
            if self.users.get(user) != pw or not user:
                self._send(w, invoke, "StartApplicationSessionNegResponse",
                           {"errorCode": {"definedError": "invalidUserNameOrPassword"}})
                return None
            dur = _seconds(msg.get("requestedSessionDuration"), 180.0, self.max_session_s)
            old = self.sessions.get(msg.get("sessionID") or "")
            if old is not None and old.user == user:
                s = old  # recovered within its cleanup delay
            else:
                s = _Session(f"{next(self._ids):08X}", user, dur,
                             _seconds(msg.get("sessionCleanupDelay"), 60.0, 3600.0),
                             now + dur)
                self.sessions[s.id] = s
            s.writer, s.detached_at, s.expires, s.duration_s = w, None, now + dur, dur
            self._send(w, invoke, "StartApplicationSessionPosResponse",
                       {"sessionID": s.id, "actualProtocolVersion": m.PROTOCOL_VERSION,
                        "actualSessionDuration": int(dur)})
            return s
        if session is None or session.id not in self.sessions:
            self._send(w, invoke, "CSTAErrorCode", {"operation": "invalidSession"})
            return None
        if kind == "ResetApplicationSessionTimer":
            session.expires = now + session.duration_s
            self._send(w, invoke, "ResetApplicationSessionTimerPosResponse",
                       {"actualSessionDuration": int(session.duration_s)})
        elif kind == "StopApplicationSession":
            self.sessions.pop(session.id, None)
            self._send(w, invoke, "StopApplicationSessionPosResponse", {})
            return None
        elif kind == "GetDeviceId":
            ext = msg.get("extension") or ""
            if not ext.isdigit():
                self._send(w, invoke, "CSTAErrorCode", {"operation": "invalidDeviceID"})
            else:
                self._send(w, invoke, "GetDeviceIdResponse",
                           {"device": {"deviceID": f"{ext}:{msg.get('switchName')}::0"}})
        elif kind == "MonitorStart":
            dev = msg.get("deviceObject") or ""
            ref = str(next(self._ids))
            session.monitors[ref] = dev
            self._send(w, invoke, "MonitorStartResponse", {"monitorCrossRefID": ref})
        elif kind == "GetAgentState":
            station = _station(msg.get("device") or "")
            st = self.world.agent_state(station)
            body: dict = {"agentStateList": {"agentStateEntry": {"agentState": st}}}
            if hasattr(self.world, "work_mode"):
                body["workMode"] = self.world.work_mode(station)
            self._send(w, invoke, "GetAgentStateResponse", body)
        elif kind == "SetAgentState":
            station = _station(msg.get("device") or "")
            state = msg.get("requestedAgentState") or ""
            mode = msg.get("workMode")
            if mode and not hasattr(self.world, "set_work_mode"):
                self._send(w, invoke, "CSTAErrorCode",
                           {"operation": "requestIncompatibleWithObject"})
            else:
                if mode:
                    self.world.set_work_mode(station, state, mode,
                                             msg.get("enablePending") == "true")
                else:
                    self.world.set_agent_state(station, state)
                self._send(w, invoke, "SetAgentStateResponse", {})
        elif kind == "MakeCall":
            dev = msg.get("callingDevice") or ""
            call = str(next(self._ids))
            self._send(w, invoke, "MakeCallResponse", {"callingDevice": m.connection_ref(
                call, dev)})
            conn = {"connection": m.connection_ref(call, dev)}
            self._event(session, "OriginatedEvent", conn)
            if (msg.get("calledDirectoryNumber") or "").lstrip("+").isdigit():
                self._event(session, "DeliveredEvent", conn)
                self._event(session, "EstablishedEvent", conn)
            else:
                self._event(session, "FailedEvent", {**conn, "cause": "invalidNumberFormat"})
        elif kind == "ClearConnection":
            call = msg.get("connectionToBeCleared/callID") or ""
            dev = msg.get("connectionToBeCleared/deviceID") or ""
            self._send(w, invoke, "ClearConnectionResponse", {})
            self._event(session, "ConnectionClearedEvent",
                        {"droppedConnection": m.connection_ref(call, dev)})
        else:
            self._send(w, invoke, "CSTAErrorCode", {"operation": "requestIncompatibleWithObject"})
        return session


def _seconds(text: str | None, default: float, most: float) -> float:
    """A client's requested duration (seconds) within 1 .. ``most``; ``default`` when it
    is missing or no finite number (a client's nonsense never reaches the clock)."""
    try:
        v = float(text) if text else default
    except ValueError:
        return default
    return min(max(v, 1.0), most) if math.isfinite(v) else default


def _station(device_id: str) -> str:
    """A DMCC device id ``ext:switch:ip:instance`` -> its extension."""
    return device_id.split(":", 1)[0]

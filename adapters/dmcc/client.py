"""The DMCC client: an application session on AES, agent states for the engine, agent calls.

``DmccClient`` implements the engine's ``AgentFeed``. It connects (TCP 4721, or TLS 4722
with an ``ssl.SSLContext``), starts an application session with the login info, resets the
session timer at half the session duration the server granted, looks up each agent
station's device id, starts a monitor on it, and polls each agent's state (DMCC sends no
event when an agent changes work mode at the phone, so polling is the documented way to
follow it). Every change is handed to the subscribed listener as an
``engine.agents.AgentState``, except the ready / busy / after-call states of agents lent
to inbound skills (``lent``, kept by ``adapters.dmcc.blending``): those are the ACD's.
A station the switch refuses (no device id, a CSTA error to its state request) or an
answer without an agent state costs that agent's reading, logged and retried at the next
poll: never the session, never a logout. A lost connection is retried with backoff (it
grows while sessions end at once, see ``Backoff.ended``); the previous session id is
offered back (session recovery within the cleanup delay) and monitors are
started again if the server did not keep them. Call events (Delivered, Established,
ConnectionCleared, Failed, Originated) go to ``on_call_event``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from adapters.backoff import Backoff
from adapters.dmcc import messages as m
from adapters.dmcc.framing import EVENT_INVOKE_ID, Frame, FrameDecoder, encode
from engine.agents import AgentState
from engine.interfaces import AgentListener

log = logging.getLogger(__name__)

DMCC_PORT = 4721
DMCC_TLS_PORT = 4722

# CSTA agent states -> what the engine's agent feed reports (None: the engine tracks it).
_STATES: dict[str, AgentState | None] = {
    "agentNull": AgentState.LOGGED_OUT,
    "agentReady": AgentState.READY,
    "agentNotReady": AgentState.NOT_READY,
    "agentWorkingAfterCall": None,  # wrap-up: the engine started it at call end
    "agentBusy": None,  # on a call the engine connected
}


_RETRY = "retry"  # raw state meaning: the last change was refused, apply it again


def _granted_s(text: str | None, requested_s: float) -> float:
    """The session duration AES granted (seconds), or the one requested when the response
    holds none or nonsense (not a number, not in 1 s .. 1 day): logged, never fatal."""
    if not text:
        return float(requested_s)
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not 1.0 <= v <= 86400.0:
        log.warning("DMCC: actualSessionDuration %r is not a duration in seconds; "
                    "keeping %s s", text[:40], requested_s)
        return float(requested_s)
    return v


class DmccError(RuntimeError):
    """A negative response or a CSTA error from AES (message names the request)."""


@dataclass(frozen=True)
class DmccConfig:
    """Where and how to reach AES. ``stations``: the agents' extensions, in the engine's
    agent order. ``tls``: a client context (None: plain TCP). Durations in seconds."""

    host: str
    port: int
    user: str
    password: str
    stations: Sequence[str]
    switch_name: str = "CM"
    application_id: str = "outdial"
    session_duration_s: int = 180
    cleanup_delay_s: int = 60
    poll_s: float = 1.0
    request_timeout_s: float = 5.0
    connect_timeout_s: float = 10.0  # TCP connect and TLS handshake together
    tls: ssl.SSLContext | None = None
    # the link down this long: the agents the engine holds ready are reported not ready
    # (it cannot see them leave or take a break meanwhile); the first poll after it is back
    # reports them as they are
    stale_s: float = 10.0

    def __repr__(self) -> str:  # never show the password
        return (f"DmccConfig(host={self.host!r}, port={self.port}, user={self.user!r}, "
                f"stations={len(self.stations)}, tls={self.tls is not None})")


CallListener = Callable[[m.Message], None]


class DmccClient:
    """``engine.interfaces.AgentFeed`` over AES DMCC; run ``await client.run()`` in a task
    and ``await client.stop()`` to end the session."""

    def __init__(self, config: DmccConfig, on_call_event: CallListener | None = None,
                 backoff: Backoff | None = None):
        self.config = config
        self.on_call_event = on_call_event
        self.backoff = backoff or Backoff()
        self.listener: AgentListener | None = None
        self.session_id: str | None = None
        self.session_duration_s = float(config.session_duration_s)
        self.device_ids: dict[int, str] = {}
        self.monitors: dict[int, str] = {}
        self.states: dict[int, AgentState] = {}
        self.raw: dict[int, str] = {}  # last CSTA state seen per agent
        self.refused = 0  # changes the engine refused (applied again at the next poll)
        self.agent_errors: dict[int, str] = {}  # agents whose last request was refused
        # agents lent to inbound skills (blending, ``adapters.dmcc.blending``): the ACD
        # owns their ready / busy / after-call states, so only a logout reaches the engine
        self.lent: set[int] = set()
        self.connected = asyncio.Event()
        self.connects = 0
        self.resumed = 0
        self.errors = 0
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, asyncio.Future[m.Message]] = {}
        self._next_invoke = 0
        self._stopping = False
        self._up_since: float | None = None  # loop time the current session started
        self._hold: asyncio.TimerHandle | None = None  # the stale link's hold, pending
        self.holds = 0  # times the link stayed down stale_s and ready agents were held

    # ---- AgentFeed

    def subscribe(self, listener: AgentListener) -> None:
        self.listener = listener

    # ---- requests

    async def request(self, kind: str, body: dict | None = None,
                      text: str | None = None) -> m.Message:
        """Send one request and wait for its response; raises ``DmccError`` on a negative
        response, ``ConnectionError`` if the link is down or drops meanwhile."""
        if self._writer is None:
            raise ConnectionError("DMCC: not connected")
        self._next_invoke = (self._next_invoke + 1) % EVENT_INVOKE_ID  # 9999 is for events
        invoke = self._next_invoke
        fut: asyncio.Future[m.Message] = asyncio.get_running_loop().create_future()
        self._pending[invoke] = fut
        try:
            self._writer.write(encode(invoke, text if text is not None else m.build(kind, body)))
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the
            # caller's cancellation when the response lands at that moment, and a retry
            # loop above it would then outlive its task's cancel
            async with asyncio.timeout(self.config.request_timeout_s):
                resp = await fut
        finally:
            self._pending.pop(invoke, None)
        if resp.kind.endswith("NegResponse") or resp.kind == "CSTAErrorCode":
            reason = next(iter(resp.fields.values()), "") if resp.fields else ""
            raise DmccError(f"DMCC {kind} refused: {resp.kind} {reason}".strip())
        return resp

    async def make_call(self, agent: int, number: str) -> str:
        """Dial ``number`` from agent ``agent``'s station; returns the call id."""
        resp = await self.request("MakeCall", {
            "callingDevice": self.device_ids[agent], "calledDirectoryNumber": number})
        return resp.get("callID") or ""

    async def clear_connection(self, agent: int, call_id: str) -> None:
        """Hang up agent ``agent``'s side of call ``call_id``."""
        await self.request("ClearConnection", {"connectionToBeCleared": m.connection_ref(
            call_id, self.device_ids[agent])})

    async def set_agent_state(self, agent: int, state: str, work_mode: str | None = None,
                              pending: bool = False) -> None:
        """Ask for CSTA agent state ``state`` (``readyState``, ``notReadyState``, ...).

        ``work_mode`` (``AUTO_IN``: the ACD routes the agent's skills' calls to it;
        ``MANUAL_IN``: it takes no ACD call) and ``pending`` (the change waits until the
        agent's current call and after-call work end) are the Avaya private-data fields of
        the request (Avaya AES DMCC, SetAgentState's work mode and enable-pending flag)."""
        body: dict = {"device": self.device_ids[agent], "requestedAgentState": state}
        if work_mode is not None:
            body["workMode"] = work_mode
            body["enablePending"] = "true" if pending else "false"
        await self.request("SetAgentState", body)

    async def agent_state(self, agent: int) -> str:
        """The CSTA agent state of agent ``agent`` (``agentReady``, ``agentNull``, ...)."""
        return (await self.agent_state_and_mode(agent))[0]

    async def agent_state_and_mode(self, agent: int) -> tuple[str, str]:
        """Agent ``agent``'s CSTA state and its work mode (``AUTO_IN``, ``MANUAL_IN``; empty
        when the switch does not say)."""
        resp = await self.request("GetAgentState", {"device": self.device_ids[agent]})
        state = resp.get("agentState")
        if not state:  # no answer is no logout: the agent's state is read again next poll
            raise DmccError(f"DMCC GetAgentState of agent {agent}: answer without an "
                            f"agentState ({resp.kind})")
        return state, resp.get("workMode") or ""

    # ---- the connection's life

    async def run(self) -> None:
        """Connect, serve, reconnect with backoff until ``stop``."""
        loop = asyncio.get_running_loop()
        while not self._stopping:
            self._up_since = None
            try:
                await self._session()
            except (OSError, ConnectionError, asyncio.IncompleteReadError, DmccError,
                    TimeoutError) as e:
                self.errors += 1
                log.warning("DMCC %s:%d: %s", self.config.host, self.config.port,
                            type(e).__name__ if isinstance(e, OSError) else e)
            except Exception:  # anything else AES sends must not end the agent feed
                self.errors += 1
                log.exception("DMCC %s:%d: session failed; reconnecting", self.config.host,
                              self.config.port)
            finally:
                self.connected.clear()
                self._fail_pending()
                if self._up_since is not None:  # a session was up: was it for long?
                    self.backoff.ended(loop.time() - self._up_since)
                if self._hold is None and not self._stopping:
                    self._hold = loop.call_later(self.config.stale_s, self._hold_ready)
            if self._stopping:
                break
            await asyncio.sleep(self.backoff.next_s())
        if self._hold is not None:
            self._hold.cancel()
            self._hold = None

    def _hold_ready(self) -> None:
        """The link has been down ``stale_s``: every agent the engine holds ready (not lent)
        is reported not ready, and read afresh at the first poll once the link is back."""
        self._hold = None
        if self.connected.is_set() or self.listener is None:
            return
        ready = [a for a, st in sorted(self.states.items())
                 if st == AgentState.READY and a not in self.lent]
        self.holds += 1
        log.warning("DMCC: no link to AES for %.0f s: %d ready agents held not ready until "
                    "it is back (their state cannot be seen meanwhile)", self.config.stale_s,
                    len(ready))
        for a in ready:
            try:
                self.listener.on_agent_state(a, int(AgentState.NOT_READY))
            except ValueError as e:  # the engine's view moved on: leave it as it is
                log.info("DMCC: agent %d not held: %s", a, e)
                continue
            self.states[a] = AgentState.NOT_READY
            self.raw[a] = _RETRY  # the next reading is news, whatever it is

    def _fail_pending(self) -> None:
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError("DMCC connection lost"))
        self._pending.clear()
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def _session(self) -> None:
        c = self.config
        async with asyncio.timeout(c.connect_timeout_s):  # a far end that never answers
            reader, writer = await asyncio.open_connection(  # the SYN or the TLS handshake
                c.host, c.port, ssl=c.tls, server_hostname=c.host if c.tls else None)
        self._writer = writer
        self.connects += 1
        read_task = asyncio.create_task(self._read(reader))
        tasks = [read_task]
        try:
            await self._start_session()
            self._up_since = asyncio.get_running_loop().time()
            self.connected.set()
            if self._hold is not None:  # back before it went stale: nothing held
                self._hold.cancel()
                self._hold = None
            tasks += [asyncio.create_task(self._keep_alive()),
                      asyncio.create_task(self._poll())]
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                t.result()  # re-raise what ended the session
            raise ConnectionError("DMCC server closed the connection")
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    async def _start_session(self) -> None:
        c = self.config
        resp = await self.request("StartApplicationSession", text=m.start_session(
            c.user, c.password, c.application_id, c.session_duration_s, c.cleanup_delay_s,
            self.session_id))
        new_id = resp.get("sessionID")
        resumed = self.session_id is not None and new_id == self.session_id
        self.session_id = new_id
        self.session_duration_s = _granted_s(resp.get("actualSessionDuration"),
                                             c.session_duration_s)
        if resumed:
            self.resumed += 1
            return  # the server kept our device ids and monitors
        self.monitors.clear()
        for agent, ext in enumerate(c.stations):
            try:  # one station the switch refuses costs that agent, not the agent feed
                if agent not in self.device_ids:
                    r = await self.request("GetDeviceId", {"switchName": c.switch_name,
                                                           "extension": ext})
                    if not r.get("deviceID"):
                        raise DmccError(f"DMCC GetDeviceId of station {ext}: no deviceID")
                    self.device_ids[agent] = r.get("deviceID") or ""
                r = await self.request("MonitorStart", {"monitorObject": {
                    "deviceObject": self.device_ids[agent]}})
                self.monitors[agent] = r.get("monitorCrossRefID") or ""
            except DmccError as e:
                self._agent_error(agent, f"station {ext} not followed this session: {e}")

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(max(self.session_duration_s / 2.0, 0.05))
            await self.request("ResetApplicationSessionTimer", {
                "sessionID": self.session_id,
                "requestedSessionDuration": self.config.session_duration_s})

    async def _poll(self) -> None:
        while True:
            known = sorted(self.device_ids)  # stations the switch gave a device id
            for lo in range(0, len(known), 200):  # pipelined: up to 200 on the wire
                agents = known[lo:lo + 200]
                states = await asyncio.gather(*(self.agent_state(a) for a in agents),
                                              return_exceptions=True)
                for a, st in zip(agents, states, strict=True):
                    if isinstance(st, DmccError):  # this agent's answer: skipped
                        self._agent_error(a, str(st))
                    elif isinstance(st, BaseException):  # the link's: ends the session
                        raise st
                    else:
                        if self.agent_errors.pop(a, None) is not None:
                            log.info("DMCC: agent %d read again", a)
                        self._apply(a, st)
            await asyncio.sleep(self.config.poll_s)

    def call_ended(self, agent: int) -> None:
        """The engine ended a call of ``agent`` (its wrap-up starts there): the next poll's
        reading of it is news, whatever it is. A call and its wrap-up that both fall
        between two polls leave the phone reading ``agentReady`` before and after, no
        change: the agent stayed in wrap-up in the engine for good (it gives calls only
        to ready agents, so no later change came)."""
        if agent in self.raw and agent not in self.lent:
            self.raw[agent] = _RETRY

    def _agent_error(self, agent: int, text: str) -> None:
        """One agent's request refused: counted, logged when its reason changes (a station
        refused at every poll logs once), and the other agents go on."""
        self.errors += 1
        if self.agent_errors.get(agent) != text:
            log.warning("DMCC: agent %d: %s", agent, text)
        self.agent_errors[agent] = text

    def _apply(self, agent: int, csta_state: str) -> None:
        """Report agent ``agent``'s change to the listener as engine agent states.

        A transition the engine refuses (its view is ahead or behind, e.g. the wrap-up
        ended at the phone before the call's end reached the engine through the voice
        portal) is logged and offered again at the next poll, never dropped."""
        if csta_state not in _STATES:
            log.warning("DMCC: unknown agent state %r for agent %d", csta_state, agent)
            return
        before = self.raw.get(agent, "agentNull")
        if csta_state == before:
            return
        self.raw[agent] = csta_state
        new = _STATES[csta_state]
        old = self.states.get(agent, AgentState.LOGGED_OUT)
        if new is None:
            return
        if agent in self.lent and new != AgentState.LOGGED_OUT:
            return  # on inbound: the engine holds it not ready for outbound meanwhile
        if new == old and _STATES.get(before) is not None:
            return  # e.g. ready -> ready; but after a call or wrap-up READY is news
        if self.listener is None:
            self.states[agent] = new
            return
        steps = [new]
        if old == AgentState.LOGGED_OUT and new != AgentState.LOGGED_OUT:
            steps = [AgentState.LOGGED_IN, new] if new != AgentState.LOGGED_IN else [new]
        for s in steps:
            try:
                self.listener.on_agent_state(agent, int(s))
            except ValueError as e:  # refused now: try again at the next poll
                log.info("DMCC: agent %d %s not applied yet: %s", agent, s.name, e)
                self.raw[agent] = _RETRY
                self.refused += 1
                return
            self.states[agent] = s

    async def _read(self, reader: asyncio.StreamReader) -> None:
        dec = FrameDecoder()
        while True:
            data = await reader.read(65536)
            if not data:
                dec.close()
                for fut in self._pending.values():  # their answers will never come
                    if not fut.done():
                        fut.set_exception(ConnectionError("DMCC server closed the connection"))
                return
            for frame in dec.feed(data):
                self._dispatch(frame)
            while dec.errors:
                log.warning("DMCC: %s", dec.errors.pop(0))

    def _dispatch(self, frame: Frame) -> None:
        invoke = frame.invoke_id
        try:
            msg = m.parse_frame(frame)
        except m.MessageError as e:
            log.warning("DMCC: %s", e)
            return
        if msg.kind in m.EVENTS:
            if self.on_call_event is not None:
                try:
                    self.on_call_event(msg)
                except Exception:  # a consumer's failure on one event: logged, skipped
                    log.exception("DMCC: call event listener failed on %s (skipped)",
                                  msg.kind)
            return
        fut = self._pending.get(invoke)
        if fut is not None and not fut.done():
            fut.set_result(msg)
        else:
            log.debug("DMCC: unsolicited %s (invoke %d)", msg.kind, invoke)

    async def stop(self) -> None:
        """End the application session (StopApplicationSession) and the connection."""
        self._stopping = True
        if self._writer is not None and self.session_id is not None:
            with contextlib.suppress(Exception):
                await self.request("StopApplicationSession", {
                    "sessionID": self.session_id, "sessionEndReason": {
                        "appEndReason": "Application Request"}})
        self._fail_pending()

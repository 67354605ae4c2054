"""The engine's ``Telephony`` over the outcall web service.

Voice attempts start a CCXML session (LaunchCCXML) whose parameters carry the attempt
id, the channel and whether AMD is on; SMS and email go out through SendSMS / SendEmail.
The session's progress is read back with GetStatus, every in-flight session in one
request each ``poll_s``, and turned into the engine's ``TelephonyEvents`` calls on the
event loop. The free-port figures each launch and each QueryResources return (unused SIP
plus unused H.323) minus the launches still awaiting their answer are the voice
``capacity`` the engine fits its dials to. ``connect`` and ``drop`` are CCXML events to
the session (``outdial.connect`` with the agent's station, ``outdial.drop``). An SMS or
email carries its strategy step's ``template`` (and ``subject``) filled from the contact.

Web service calls block, so they run on a small thread pool; their results come back to
the loop with ``call_soon_threadsafe``. A service that cannot be reached is retried at the
next poll: sessions stay tracked, so no result is lost while the link is down. A launch
that fails is the attempt's end: ``Code.BLOCKED`` (never went out); so is a launch whose
session id the service already gave a session still followed. A session every GetStatus
answer leaves out for ``unreported_s`` has ended unknown, as one the service reports so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from adapters.backoff import Backoff
from adapters.epm.client import (
    EpmAnswerError,
    EpmClient,
    EpmError,
    EpmFault,
    Launched,
    Resources,
)
from adapters.epm.framing import format_parameters
from adapters.epm.orphans import SessionBook
from engine.attempt import Attempt, Channel, Code
from engine.interfaces import TelephonyEvents

log = logging.getLogger(__name__)

_FAILED = {"busy": Code.BUSY, "noanswer": Code.NO_ANSWER, "invalid": Code.INVALID,
           "unknown": Code.NO_ANSWER}
_VOICE = (Channel.VOICE_AGENT, Channel.VOICE_AGENTLESS)


@dataclass
class _Tracked:
    attempt: Attempt
    answered: bool = False
    seen: float = 0.0  # loop time the service last reported the session (or launched it)


@dataclass
class EpmTelephonyConfig:
    """``application``: the CCXML application's name on the portal; ``stations``: the
    agents' extensions in the engine's agent order. Seconds for the periods."""

    application: str = "outdial"
    application_url: str = ""
    stations: Sequence[str] = field(default_factory=tuple)
    sms_from: str = ""
    email_from: str = ""
    poll_s: float = 0.25
    resources_s: float = 1.0
    launch_timeout_s: int = 60
    workers: int = 16
    max_messages_in_flight: int = 1000
    unreported_s: float = 120.0  # a session GetStatus leaves out this long has ended
    amd_jobs: frozenset[int] = frozenset()  # jobs whose calls run answering-machine detection
    # per job, seconds a call rings unanswered before the application gives up on it (the
    # campaign's ring_no_answer_s; a job not given: the application's own default)
    ring_no_answer_s: Mapping[int, float] = field(default_factory=dict)


class EpmTelephony:
    """``engine.interfaces.Telephony`` through ``client``; ``await run()`` in a task."""

    def __init__(self, client: EpmClient, config: EpmTelephonyConfig,
                 listener: TelephonyEvents | None = None,
                 to_uri: Callable[[str], str] = lambda address: f"tel:{address}",
                 message: Callable[[Attempt], tuple[str, str | None]] | None = None,
                 book: SessionBook | None = None):
        """``message``: an SMS or email attempt's text and subject (its strategy step's
        template filled from its contact); without it, ``attempt ID`` (tests). ``book``:
        where each session id is kept while the session lasts (the store: a restart after
        a crash settles what the portal still has, ``adapters.epm.orphans``)."""
        self.client = client
        self.config = config
        self.listener = listener
        self.to_uri = to_uri
        self.message = message
        self.book = book
        self.sessions: dict[str, _Tracked] = {}
        self._sid_of: dict[int, str] = {}  # attempt id -> session id, while tracked
        self.resources = Resources(0, 0, 0)
        self.launching = 0  # launch requests sent, not yet answered
        self.messages = 0  # SMS / email requests sent, not yet answered
        self.errors = 0
        self.launched = 0
        self._figures = 0  # port figures taken from launch answers (newer than a query's)
        self.polls = 0  # session status polls answered
        self.resource_polls = 0  # port figures (QueryResources) answered
        self._pool = ThreadPoolExecutor(config.workers, thread_name_prefix="epm")
        self._requests: set[futures.Future] = set()  # submitted to the pool, not ended
        self._loop: asyncio.AbstractEventLoop | None = None
        self.backoff = Backoff(first_s=config.poll_s, max_s=10.0)
        self.down_since: float | None = None  # loop time the service stopped answering
        self.outages = 0  # spells without an answer (each ended by the next answer)

    # ---- Telephony

    def subscribe(self, listener: TelephonyEvents) -> None:
        """The engine's dialer, told every attempt's results."""
        self.listener = listener

    def capacity(self, voice: bool) -> int:
        if self.down_since is not None:  # no launch into a service that cannot be
            return 0                     # reached: each was a BLOCKED record at once
        if voice:
            return max(self.resources.free - self.launching, 0)
        return max(self.config.max_messages_in_flight - self.messages, 0)

    def dial(self, a: Attempt) -> None:
        ch = Channel(a.channel)
        fields = {"attempt": a.id, "job": a.job_name, "contact": a.contact_id,
                  "channel": ch.name.lower()}
        if ch in _VOICE:  # the CCXML application runs AMD for the campaigns that have it
            fields["amd"] = int(a.job in self.config.amd_jobs)
            ring = self.config.ring_no_answer_s.get(a.job)
            if ring is not None:  # the campaign's, not the portal's default
                fields["ring_no_answer_s"] = f"{ring:g}"
        params = format_parameters(fields)
        if ch in _VOICE:
            self.launching += 1
            self._submit(lambda: self.client.launch_ccxml(
                self.to_uri(a.address), self.config.application, self.config.application_url,
                params, launch_timeout_s=self.config.launch_timeout_s),
                lambda r: self._launched(a, r), lambda e: self._launch_failed(a, e))
        else:
            self.messages += 1
            try:  # the strategy's template: a contact it cannot fill is not sent
                text, subject = (f"attempt {a.id}", None) if self.message is None \
                    else self.message(a)
            except Exception as e:  # TemplateError, or a contact the flow no longer has
                asyncio.get_running_loop().call_soon(self._send_failed, a, e)
                return
            if ch == Channel.SMS:
                self._submit(lambda: self.client.send_sms(a.address, text, self.config.sms_from,
                                                          self.config.application, params),
                             lambda sid: self._sent(a, sid), lambda e: self._send_failed(a, e))
            else:
                self._submit(lambda: self.client.send_email(
                    a.address, subject or a.job_name, text, self.config.email_from,
                    self.config.application, params),
                    lambda sid: self._sent(a, sid), lambda e: self._send_failed(a, e))

    def connect(self, a: Attempt, agent: int) -> None:
        sid = self._session_of(a)
        if sid is not None:
            station = (self.config.stations[agent] if agent < len(self.config.stations)
                       else str(agent))
            self._submit(lambda: self.client.send_ccxml_event(sid, "outdial.connect",
                                                              f"agent={station}"),
                         lambda ok: None, self._event_failed)

    def drop(self, a: Attempt) -> None:
        sid = self._session_of(a)
        if sid is not None:
            self._submit(lambda: self.client.send_ccxml_event(sid, "outdial.drop"),
                         lambda ok: None, self._event_failed)

    @property
    def answered(self) -> bool:
        """Whether the web service has answered a poll (port figures or session status),
        whatever figures it gave (a portal reporting no port has answered)."""
        return bool(self.resource_polls or self.polls or self.resources.total)

    # ---- the loop side

    async def run(self) -> None:
        """Poll sessions and port figures until cancelled."""
        self._loop = asyncio.get_running_loop()
        next_res = 0.0
        while True:
            now = self._loop.time()
            try:
                if now >= next_res or self.down_since is not None:
                    gen = self._figures
                    res = await self._in_pool(self.client.query_resources)
                    self._link_up()
                    if gen == self._figures:  # no launch answered since: not stale
                        self.resources = res
                    self.resource_polls += 1
                    next_res = now + self.config.resources_s
                if self.sessions:
                    ids = list(self.sessions)
                    statuses = await self._in_pool(partial(self.client.get_status, ids))
                    self._link_up()
                    self.polls += 1
                    for st in statuses:
                        self._progress_one(st)
                    self._forget_unreported(ids)
                self.backoff.reset()
                await asyncio.sleep(self.config.poll_s)
            except EpmError as e:
                self.errors += 1
                log.warning("EPM: %s", e)
                self._link_down(e)
                await asyncio.sleep(self.backoff.next_s())
            except asyncio.CancelledError:
                raise
            except Exception:  # nothing the service answers may end the polling
                self.errors += 1
                log.exception("EPM: poll failed; retrying")
                await asyncio.sleep(self.backoff.next_s())

    def _progress_one(self, st: Any) -> None:
        """One GetStatus record: one that is no record is logged and skipped, and so is
        a listener's failure on it (the session stays tracked until it ends, so its end
        is still reported: no result is lost)."""
        if not isinstance(st, dict) or not st.get("sessionID"):
            self.errors += 1
            log.warning("EPM: GetStatus record skipped (not a session status): %.80r", st)
            return
        if st.get("invalid"):  # the fields that did read are used
            self.errors += 1
            log.warning("EPM: session %.40s: status fields not read: %s", st["sessionID"],
                        "; ".join(st["invalid"])[:200])
        try:
            self._progress(st)
        except Exception:
            self.errors += 1
            log.exception("EPM: session %s: status not applied", st.get("sessionID"))

    def _forget_unreported(self, asked: list[str]) -> None:
        """End the sessions of ``asked`` the service has left out of every GetStatus
        answer for ``unreported_s`` seconds: it no longer knows them (as for a session
        it reports ``unknown``), so their attempts end rather than wait for ever."""
        now = self._now()
        for sid in asked:
            t = self.sessions.get(sid)
            if t is None or now - t.seen <= self.config.unreported_s:
                continue
            self.errors += 1
            log.warning("EPM: session %.40s (attempt %d) unreported for %.0f s; ended as "
                        "unknown", sid, t.attempt.id, now - t.seen)
            self._progress_one({"sessionID": sid, "state": "ended", "result": "unknown"})
            self._untrack(sid)

    async def _in_pool(self, fn: Callable[[], Any]) -> Any:
        return await self._pooled(fn, asyncio.get_running_loop())

    def _pooled(self, fn: Callable[[], Any], loop: asyncio.AbstractEventLoop
                ) -> asyncio.Future:
        """``fn`` on the pool (``run_in_executor``), its request kept until it ends so
        that ``close`` can wait for it."""
        cf = self._pool.submit(fn)
        self._requests.add(cf)
        cf.add_done_callback(self._requests.discard)
        return asyncio.wrap_future(cf, loop=loop)

    def close(self, wait_s: float | None = None) -> None:
        """No more requests; those under way (connects, hang-ups, launches) reach the
        service first: all of them, or those that do within ``wait_s`` seconds, the rest
        not sent (logged), so a service that stalls (each request waits out its timeout)
        cannot hold a stop for minutes."""
        if wait_s is None:
            self._pool.shutdown(wait=True, cancel_futures=False)
            return
        _, left = futures.wait(list(self._requests), timeout=wait_s)
        if left:
            self.errors += 1
            log.warning("EPM: %d requests (hang-ups, connects, launches) not sent: the "
                        "service did not take them within %g s", len(left), wait_s)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def in_flight(self) -> int:
        """Sessions started and not yet over (plus requests awaiting their answer)."""
        return len(self.sessions) + self.launching + self.messages

    def _submit(self, call: Callable[[], Any], ok: Callable[[Any], None],
                fail: Callable[[Exception], None]) -> None:
        loop = self._loop or asyncio.get_running_loop()
        self._loop = loop
        try:
            fut = self._pooled(call, loop)
        except RuntimeError:  # closed (a launch answered while the run closed: its drop)
            self.errors += 1
            log.warning("EPM: a request after the close not sent")
            return

        def done(f: asyncio.Future) -> None:
            e = f.exception()
            if e is None:
                ok(f.result())
            elif isinstance(e, EpmError):
                fail(e)
            else:
                log.error("EPM: unexpected %s", type(e).__name__, exc_info=e)
                fail(e)  # type: ignore[arg-type]
        fut.add_done_callback(done)

    def _session_of(self, a: Attempt) -> str | None:
        return self._sid_of.get(a.id)

    def _track(self, sid: str, a: Attempt) -> bool:
        """Follow ``a``'s session ``sid``; False when the service gave an id it already
        gave another session still followed (two attempts' statuses could not be told
        apart: the earlier one keeps it, the caller ends ``a`` as not sent)."""
        held = self.sessions.get(sid)
        if held is not None and held.attempt.id != a.id:
            self.errors += 1
            log.error("EPM: session id %.40s given again (attempt %d holds it); attempt %d "
                      "ends unsent", sid, held.attempt.id, a.id)
            return False
        self.sessions[sid] = _Tracked(a, seen=self._now())
        self._sid_of[a.id] = sid
        if self.book is not None:
            self.book.launched(a.id, sid)
        return True

    def _now(self) -> float:
        return (self._loop or asyncio.get_running_loop()).time()

    def _untrack(self, sid: str) -> None:
        t = self.sessions.pop(sid, None)
        if t is not None:
            self._sid_of.pop(t.attempt.id, None)
            if self.book is not None:
                self.book.ended(t.attempt.id)

    def _launched(self, a: Attempt, r: Launched) -> None:
        self.launching -= 1
        self.launched += 1
        self.resources = r.resources
        self._figures += 1
        if not self._track(r.session_id, a):
            self.listener.on_failed(a, int(Code.BLOCKED))
        elif a.code != Code.PENDING:  # ended while its launch was answered (a stop):
            self.drop(a)              # hung up, not left ringing
            self._untrack(r.session_id)

    def _launch_failed(self, a: Attempt, e: Exception) -> None:
        self.launching -= 1
        self.errors += 1
        if self.down_since is None:  # one line per attempt while it answers; once down,
            log.warning("EPM: attempt %d not launched: %s", a.id, e)  # the outage's line
        self._link_down(e)
        self.listener.on_failed(a, int(Code.BLOCKED))

    def _link_down(self, e: Exception) -> None:
        """The service could not be reached (not a refusal it answered, ``EpmFault``, nor
        an unusable answer, ``EpmAnswerError``):
        no capacity until it answers a poll again (``_link_up``), so the dialer makes no
        attempt it could only record BLOCKED (a 5 s outage made 3000 of them, each
        contact tried dozens of times). Sessions in flight stay tracked meanwhile."""
        if isinstance(e, EpmFault | EpmAnswerError) or self.down_since is not None:
            return  # it answered: a refusal, or an answer without what was asked
        self.down_since = self._now()
        self.outages += 1
        log.warning("EPM: the outcall web service cannot be reached; no new attempt until "
                    "it answers again (sessions in flight stay followed)")

    def _link_up(self) -> None:
        if self.down_since is not None:
            log.warning("EPM: the outcall web service answers again after %.1f s",
                        self._now() - self.down_since)
            self.down_since = None

    def _sent(self, a: Attempt, sid: str) -> None:
        self.messages -= 1
        if not self._track(sid, a):
            self.listener.on_delivered(a, False)

    def _send_failed(self, a: Attempt, e: Exception) -> None:
        self.messages -= 1
        self.errors += 1
        log.warning("EPM: attempt %d not sent: %s", a.id, e)
        if isinstance(e, EpmError):  # not a template the contact cannot fill
            self._link_down(e)
        self.listener.on_delivered(a, False)

    def _event_failed(self, e: Exception) -> None:
        self.errors += 1
        log.warning("EPM: CCXML event not delivered: %s", e)

    def _progress(self, st: dict[str, Any]) -> None:
        sid = st.get("sessionID", "")
        t = self.sessions.get(sid)
        if t is None:
            return
        t.seen = self._now()
        a, lis = t.attempt, self.listener
        state, result = st.get("state", ""), st.get("result", "")
        if a.code != Code.PENDING:  # the engine ended it (abandon, machine): stop following
            self._untrack(sid)
            return
        ch = a.channel
        if ch in (Channel.SMS, Channel.EMAIL):
            if state == "ended":
                self._untrack(sid)
                lis.on_delivered(a, result == "delivered")
            return
        if state in ("answered", "connected", "ended") and not t.answered \
                and result not in _FAILED:
            t.answered = True
            lis.on_answered(a, bool(st.get("human")) if ch == Channel.VOICE_AGENT else True)
            if a.code != Code.PENDING:
                self._untrack(sid)
                return
        if state != "ended":
            return
        self._untrack(sid)
        if result in _FAILED and not t.answered:
            lis.on_failed(a, int(_FAILED[result]))
        elif ch == Channel.VOICE_AGENTLESS:
            lis.on_delivered(a, True)
        elif a.t_connect >= 0:  # ``machine``: its agent found an answering machine
            lis.on_call_ended(a, result == "machine")
        else:
            lis.on_customer_hangup(a)

"""The live runtime: the engine on an asyncio event loop and the wall clock.

``LoopClock`` is the engine's ``Clock`` on the loop (run-clock seconds, ``speed`` run
seconds per wall second: 1 in production). ``LiveRunner`` starts the director and the
dialer, relays the event outbox to the sink, and stops gracefully (on request, e.g.
SIGINT/SIGTERM, at the end of the run, or on a failure): no new attempts, the attempts in
flight (and the agents lent to inbound, recalled at once: ``on_stop``) get ``drain_s``
wall seconds to end (come back) by themselves, and the attempts still in flight are
then ended and recorded (``Code.LIVE_CONNECTED`` when talking to an agent, a waiting live
answer dropped as an abandon, else hung up if ringing and ``Code.TRAPPED``, re-queued next
run: ``Dialer.end_in_flight``), each with its completion event, so nothing is
left PENDING. Jobs end FINISHED at the end of the run, PAUSED by a stop (and resumed by
the next run on the store). An error inside the engine (a store that cannot be written,
a sink that fails) stops the run the same way and is returned, never swallowed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.agents import InvalidTransition
from engine.attempt import Code
from engine.director import CampaignDirector, JobState
from engine.outbox import OutboxRelay
from engine.recovery import transaction
from engine.sinks import SinkBusy

log = logging.getLogger(__name__)

SHUTDOWN_PAUSED = "jobs_paused_by_shutdown"  # store meta: JSON list of job names


WALL_TOLERANCE_S = 2.0  # run clock behind the wall clock by more: caught up (``follow_wall``)


class LoopClock:
    """``engine.interfaces.Clock`` on ``loop``: ``now()`` is ``start_s`` plus the wall time
    since creation times ``speed``. A callback that raises stops the run (``failure``).

    The loop's time is monotonic: it never goes back, and it does not count a suspended
    machine (a paused virtual machine, a laptop asleep). ``wall`` (a live run at speed 1:
    the run seconds the wall clock gives) lets ``follow_wall`` catch the run clock up when
    it has fallen behind, so calling windows stay those of the real time of day (behind by
    an hour's suspend, the dialer dialled an hour past the window's end)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, start_s: float = 0.0,
                 speed: float = 1.0, wall: Callable[[], float] | None = None):
        if not speed > 0:
            raise ValueError(f"speed: expected run seconds per wall second > 0, got {speed}")
        self.loop = loop
        self.start_s = float(start_s)
        self.speed = float(speed)
        self.wall = wall
        self.jumps = 0  # times the run clock was caught up with the wall clock
        self.jumped_s = 0.0  # run seconds it was moved forward in all
        self._wall_behind = False  # the wall clock set back: said once
        self._t0 = loop.time()
        self.failure: BaseException | None = None
        self.closed = False  # ``close``: nothing more runs
        self.failed = asyncio.Event()
        self.late_s: list[float] = []  # callback lateness samples (wall s), for the view
        self.callbacks = 0

    def now(self) -> float:
        return self.start_s + (self.loop.time() - self._t0) * self.speed

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> None:
        due = self.loop.time() + max(delay_s, 0.0) / self.speed
        self.loop.call_at(due, self._call, callback, due)

    def follow_wall(self) -> float:
        """With ``wall``: move the run clock forward to the wall clock's time when it is
        more than ``WALL_TOLERANCE_S`` behind (a suspend, a clock set forward); returns the
        seconds moved (0: none). A wall clock set back is logged and not followed: the run
        clock never goes back (durations and the records' order depend on it)."""
        if self.wall is None:
            return 0.0
        drift = self.wall() - self.now()
        if drift > WALL_TOLERANCE_S:
            self.start_s += drift
            self.jumps += 1
            self.jumped_s += drift
            self._wall_behind = False
            log.warning("run clock %.1f s behind the wall clock (the machine was suspended, "
                        "or its clock set forward): caught up, calling windows follow the "
                        "time of day", drift)
            return drift
        if drift < -WALL_TOLERANCE_S:
            if not self._wall_behind:
                self._wall_behind = True
                log.warning("wall clock %.1f s behind the run clock (set back?): the run "
                            "clock goes on, never back", -drift)
        else:
            self._wall_behind = False
        return 0.0

    def wall_s(self, run_s: float) -> float:
        """Run-clock seconds as wall seconds."""
        return run_s / self.speed

    def close(self) -> None:
        """The run is over: callbacks still due (ticks, the world's timers) are dropped, so
        none reaches a store or an adapter that is closing."""
        self.closed = True

    def _call(self, callback: Callable[[], None], due: float) -> None:
        if self.failure is not None or self.closed:
            return  # stopping after a failure, or closed: nothing more runs
        self.callbacks += 1
        if self.callbacks % 64 == 0:
            self.late_s.append(self.loop.time() - due)
            del self.late_s[:-2048]
        try:
            callback()
        except Exception as e:
            self.fail(e)

    def fail(self, e: BaseException) -> None:
        if self.failure is None:
            self.failure = e
            log.error("engine stopped by %s: %s", type(e).__name__, e)
        self.failed.set()


@dataclass
class RunOutcome:
    """How a live run ended. ``reason``: ``end`` (the run's end time), ``stop`` (asked),
    ``error`` (``error`` holds it)."""

    reason: str
    error: BaseException | None = None
    attempts: int = 0
    drained: int = 0  # attempts that ended by themselves while draining
    ended_at_stop: int = 0  # attempts still in flight after the drain, recorded at the stop
    left_pending: int = 0
    lost_events: int = 0
    events_published: int = 0
    wall_s: float = 0.0
    job_states: dict[str, str] = field(default_factory=dict)
    drain_cut: bool = False  # asked to stop again while draining: the drain ended then
    clock_jumps: int = 0  # run clock caught up with the wall clock (``LoopClock.follow_wall``)
    clock_jumped_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "error"}
        d["error"] = None if self.error is None else str(self.error)
        return d


class LiveRunner:
    """Run ``director`` and ``dialer`` on ``clock`` until ``end_s`` (run clock; None: until
    stopped). ``relay`` publishes the outbox every ``relay_s`` wall seconds; a sink that is
    busy (``SinkBusy``: a broker slow or away) is asked again at the next relay while the
    run goes on, and waited for at most ``final_flush_s`` seconds at the stop.
    ``on_stop`` is called once the stop begins (the dialer just stopped, before the
    drain), whatever the reason: the session recalls the agents lent to inbound there; the
    drain then waits, within the same ``drain_s``, while ``stop_pending()`` is true (agents
    not handed back yet) as it waits for the calls in flight."""

    def __init__(self, clock: LoopClock, dialer: Any, director: CampaignDirector, store: Any,
                 relay: OutboxRelay, end_s: float | None = None, drain_s: float = 10.0,
                 relay_s: float = 0.2, on_second: Callable[[], None] | None = None,
                 final_flush_s: float = 30.0, on_stop: Callable[[], None] | None = None,
                 stop_pending: Callable[[], bool] | None = None):
        self.clock = clock
        self.dialer = dialer
        self.director = director
        self.store = store
        self.relay = relay
        self.end_s = end_s
        self.drain_s = drain_s
        self.relay_s = relay_s
        self.on_second = on_second
        self.on_stop = on_stop
        self.stop_pending = stop_pending or (lambda: False)
        self.stop_requested = asyncio.Event()
        self.stopping = False
        self.hurry = False  # asked to stop again while draining: the drain ends now
        self.final_flush_s = final_flush_s
        self.sink_busy_since: float | None = None  # time.monotonic() a busy spell began

    def request_stop(self) -> None:
        """Ask for a graceful stop (safe from a signal handler on the loop). Asked while
        the run is already stopping (a second Ctrl-C, or one during the drain at the run's
        end), the drain is cut short: the calls in flight are recorded now, as at the
        drain's end (``drain_s`` may be an hour)."""
        if self.stopping and not self.hurry:
            self.hurry = True
            log.warning("stop asked again: the drain is cut short, the calls in flight are "
                        "recorded now")
        self.stop_requested.set()

    def resume_after_shutdown(self) -> list[str]:
        """Jobs a previous run paused at its stop are RUNNING again (before ``start``): each
        resumed as an operator's resume is (its state recorded, a JOB event), in the same
        transaction as the list is cleared, so a run killed later still finds them RUNNING
        (set in memory only, they came back PAUSED after a kill -9, the list gone)."""
        raw = self.store.get_meta(SHUTDOWN_PAUSED)
        names = json.loads(raw) if raw else []
        with transaction(self.store):
            for j, job in enumerate(self.dialer.jobs):
                if job.name in names and self.director.states[j] == JobState.PAUSED:
                    was = self.director.started_s[j]
                    self.director._apply(j, "resume", "restart")
                    self.director.started_s[j] = was  # a restart is no start (the ETA)
            self.store.set_meta(SHUTDOWN_PAUSED, "[]")
        return names

    async def run(self) -> RunOutcome:
        t0 = time.perf_counter()
        first_id = self.dialer.next_attempt_id
        reason = "stop"
        try:
            self.director.start()
            self.dialer.start()
            reason = await self._serve()
        except Exception as e:  # raised while starting: same stop path
            self.clock.fail(e)
            reason = "error"
        out = await self._stop(reason)
        out.attempts = self.dialer.next_attempt_id - first_id
        out.wall_s = time.perf_counter() - t0
        return out

    async def _serve(self) -> str:
        next_second = time.monotonic()
        while True:
            if self.clock.failure is not None:
                return "error"
            if self.stop_requested.is_set():
                return "stop"
            self.clock.follow_wall()
            if self.end_s is not None and self.clock.now() >= self.end_s:
                return "end"
            try:
                self.relay.relay()
            except SinkBusy as e:  # kept in the outbox: published when the sink takes them
                self._sink_busy(e)
            except Exception as e:
                self.clock.fail(e)
                return "error"
            else:
                self._sink_ok()
            if self.on_second is not None and time.monotonic() >= next_second:
                next_second += 1.0
                self.on_second()
            waits = [asyncio.ensure_future(self.stop_requested.wait()),
                     asyncio.ensure_future(self.clock.failed.wait())]
            await asyncio.wait(waits, timeout=self.relay_s,
                               return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()

    async def _stop(self, reason: str) -> RunOutcome:
        self.stopping = True
        out = RunOutcome(reason, self.clock.failure)
        d = self.dialer
        d.stop()
        if self.on_stop is not None:
            try:
                self.on_stop()
            except Exception as e:
                self.clock.fail(e)
        store_ok = not _is_store_error(self.clock.failure)
        try:
            if store_ok:
                self._settle_jobs(reason)
        except Exception as e:
            self.clock.fail(e)
            store_ok = False
        n0 = len(d.in_flight)
        if store_ok and reason != "error":
            deadline = time.monotonic() + self.drain_s
            next_second = time.monotonic() + 1.0
            while (d.in_flight or self.stop_pending()) and time.monotonic() < deadline \
                    and self.clock.failure is None and not self.hurry:
                await asyncio.sleep(0.05)
                self.clock.follow_wall()
                try:
                    self.relay.relay()
                except SinkBusy as e:
                    self._sink_busy(e)
                except Exception as e:
                    self.clock.fail(e)
                if self.on_second is not None and time.monotonic() >= next_second:
                    next_second += 1.0
                    self.on_second()
        if self.clock.failure is not None and not out.error:
            out.reason, out.error = "error", self.clock.failure
        out.drained = n0 - len(d.in_flight)
        out.drain_cut = self.hurry
        if store_ok and not _is_store_error(self.clock.failure):
            try:
                out.ended_at_stop = d.end_in_flight(int(Code.TRAPPED), int(Code.LIVE_CONNECTED))
            except Exception as e:  # the store failed now: the rest stay trapped
                self.clock.fail(e)
                out.reason, out.error = "error", e
        await self._last_relay(out)
        if self.on_second is not None:
            self.on_second()
        try:
            out.lost_events = self.relay.pending()
            out.left_pending = len(self.store.trapped())
            out.job_states = self.store.job_states()
        except Exception as e:
            if out.error is None:
                out.reason, out.error = "error", e
        out.events_published = self.relay.published
        out.clock_jumps, out.clock_jumped_s = self.clock.jumps, self.clock.jumped_s
        return out

    async def _last_relay(self, out: RunOutcome) -> None:
        """Publish what is left; a busy sink is waited for up to ``final_flush_s`` (the
        loop keeps running meanwhile), then what it has not confirmed stays in the outbox
        for the next run and the run ends in that error."""
        deadline = time.monotonic() + self.final_flush_s
        flush = getattr(self.store, "flush", None)  # (write-behind: the stop's records and
        while True:                                 # events committed, then relayed)
            try:
                if flush is not None:
                    flush()
                self.relay.relay()
                return
            except SinkBusy as e:
                if time.monotonic() >= deadline:
                    if out.error is None:
                        out.reason, out.error = "error", e
                    return
                await asyncio.sleep(0.1)
            except Exception as e:
                if out.error is None:
                    out.reason, out.error = "error", e
                return

    def _sink_busy(self, e: SinkBusy) -> None:
        """Logged once per spell: the run goes on, the outbox keeps the events."""
        if self.sink_busy_since is None:
            self.sink_busy_since = time.monotonic()
            log.warning("events sink busy (%s); events wait in the outbox", e)

    def _sink_ok(self) -> None:
        if self.sink_busy_since is not None:
            log.warning("events sink took the outbox again after %.1f s",
                        time.monotonic() - self.sink_busy_since)
            self.sink_busy_since = None

    def _settle_jobs(self, reason: str) -> None:
        """At the end of the run jobs finish; at a stop running jobs pause (remembered, so
        the next run resumes them); after an error they are left as they are."""
        if reason == "error":
            return
        director = self.director
        paused = []
        # the states and the list of jobs to resume commit together: a kill between them
        # left a job PAUSED that no run resumed
        with transaction(self.store):
            for j, st in enumerate(director.states):
                if st not in (JobState.RUNNING, JobState.PAUSED, JobState.SCHEDULED):
                    continue
                name = self.dialer.jobs[j].name
                if reason == "end":
                    director._apply(j, "finish" if st != JobState.SCHEDULED else "stop",
                                    "end_of_run")
                elif st == JobState.RUNNING:
                    director._apply(j, "pause", "shutdown")
                    paused.append(name)
            if paused:
                self.store.set_meta(SHUTDOWN_PAUSED, json.dumps(paused))


class Guarded:
    """Hands the world's events to ``target`` (the dialer) on the loop; an exception stops
    the run through ``clock.fail`` instead of killing the adapter's task. After a failure
    further events are dropped (the store keeps the attempts PENDING: trapped, recovered
    by the next run)."""

    def __init__(self, target: Any, clock: LoopClock):
        self._target = target
        self._clock = clock

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self._target, name)
        if not callable(fn) or not name.startswith("on_"):
            return fn

        def guarded(*args: Any) -> None:
            if self._clock.failure is not None:
                return
            try:
                fn(*args)
            except InvalidTransition:
                raise  # the feed's view and the engine's differ: the adapter retries it
            except Exception as e:
                self._clock.fail(e)
        return guarded


def _is_store_error(e: BaseException | None) -> bool:
    from engine.store_schema import StoreError
    return isinstance(e, StoreError)

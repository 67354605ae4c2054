"""The dialing loop: every tick, gather agent and call state, ask the pacer, launch attempts.

The dialer is the engine's hub. It owns the call slots the pacer reads (job, status, start
time per slot), takes each attempt's contact, address and step from the job's
``ContactFlow`` (strategy and rules), connects live answers to ready agents, drops those
no agent took within the connect window (the abandons), and folds every result back into
the pacer's estimators, the store and the flow. Every attempt is recorded in the store
before it is launched, so a crash leaves a trapped record, never a silent loss. It reaches
the world only through ``engine.interfaces``.
"""

from __future__ import annotations

import logging
import math
import re
from array import array
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np

from engine.agents import AgentManager, AgentState, index_arg
from engine.attempt import Attempt, Channel, Code
from engine.columns import shared_column
from engine.events import EventPublisher
from engine.flow import ContactFlow, Planned
from engine.interfaces import AgentFeed, Clock, EventSink, Store, Telephony
from engine.job import Job
from engine.ports import PortLicensing, PortPool
from engine.skill_pacing import SkillPacer
from engine.staffing import Licenses, Staffing
from engine.vocab import step_channel
from pacer import Pacer
from pacer.constants import DEFAULT_TICK_S
from pacer.modes import AgentStatus, CallStatus, Pacing
from pacer.ratio import int_rows

__all__ = ["Dialer", "Job", "TickObserver"]

TickObserver = Callable[[float, np.ndarray], None]
"""Called after every tick with the run-clock time (s) and the dials decided per job."""

# Plain-int aliases for the hot paths: IntEnum member access goes through the enum
# metaclass on Python 3.11, a measurable cost at a few hundred thousand calls per run.
_VOICE_AGENT = int(Channel.VOICE_AGENT)
_RINGING, _WAITING, _CONNECTED, _FREE = (int(CallStatus.RINGING), int(CallStatus.WAITING),
                                         int(CallStatus.CONNECTED), int(CallStatus.FREE))
_PENDING = int(Code.PENDING)
_MACHINE, _ABANDONED, _HANGUP, _CONNECTED_CODE = (int(Code.MACHINE), int(Code.ABANDONED),
                                                  int(Code.CUSTOMER_HANGUP),
                                                  int(Code.LIVE_CONNECTED))
_DELIVERED, _UNDELIVERED = int(Code.DELIVERED), int(Code.UNDELIVERED)
_BLOCKED = int(Code.BLOCKED)
_READY, _LOGGED_OUT = int(AgentState.READY), int(AgentState.LOGGED_OUT)
_NOT_READY = int(AgentState.NOT_READY)
_PAUSED_STATUS = int(AgentStatus.PAUSED)  # the pacer's code of an idle agent leaving its job
# The pacer is told a talk or wrap-up time only where it saw the agent in it (talking or
# in wrap-up, not leaving afterwards): its estimators count the time agents spent in each
# (pacer.holdtime), and an end without that exposure would bias them short.
_WRAP_STATE = int(AgentState.WORK_NOT_READY)
_PACER_ROW = re.compile(r"campaign (\d+):")  # how the pacer's warnings name a campaign
# The pacings whose ticks with nothing to dial change nothing but the pacer's scheduled
# upkeep (``Dialer`` docstring, sleep)
_SLEEPY = (Pacing.PREDICTIVE, Pacing.PROGRESSIVE, Pacing.PREVIEW, Pacing.TIMED)

log = logging.getLogger(__name__)

_AGENT_EVENTS = {
    int(AgentState.LOGGED_IN): "login",
    int(AgentState.READY): "ready",
    int(AgentState.NOT_READY): "not_ready",
    int(AgentState.LOGGED_OUT): "logout",
}


def _round_robin(need: np.ndarray, free: int) -> np.ndarray:
    """``free`` lines dealt one per job per round, in order, to jobs needing ``need``: every
    job gets ``min(need, L)`` for the most whole rounds L the lines cover, and the first
    jobs (in order) still needing one get one more each. Computed, not dealt (one round
    per line took 90 ms per tick for a 100,000-agent campaign's 40,000 lines)."""
    if int(need.sum()) <= free:
        return need.copy()
    lo, hi = 0, int(need.max())  # sum(min(need, lo)) <= free < sum(min(need, hi))
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if int(np.minimum(need, mid).sum()) <= free:
            lo = mid
        else:
            hi = mid
    give = np.minimum(need, lo)
    more = np.flatnonzero(need > lo)[:free - int(give.sum())]
    give[more] += 1
    return give


def _grown(buf: array, typecode: str, fill: float) -> tuple[array, np.ndarray]:
    """``shared_column`` of twice ``buf``'s length: ``buf``'s items, then ``fill``."""
    new, view = shared_column(typecode, 2 * len(buf), fill)
    new[:len(buf)] = buf
    return new, view


class Dialer:
    """Runs jobs on a clock, through a telephony, with agents from an agent feed.

    Every part is handed over here: the dialer subscribes itself to ``telephony`` and
    ``feed`` (it is their listener), builds its staffing from ``licenses`` (None: agents
    are put on jobs by ``assign`` only) and its event publisher from ``sink`` unless
    ``events`` is given. ``on_tick`` observes every tick's decision.

    With ``sleep`` (the simulator's), the dialer skips the ticks at which no job can have
    anything to dial (``_quiet_until``): no call in flight, no agent in talk or wrap-up,
    every job paced predictive, progressive, preview or timed, and every running one
    either with a contact flow that hands out nothing before a later time (a synthetic list
    whose calling windows are closed, a list whose every contact waits for its window:
    ``ContactFlow.quiet_until``) or, for an agent-based job, without a ready agent. It
    ticks again at the first tick of the grid at or after that time, or at the first one
    after news (a job resumed, an agent's state changed or an agent was put on a job,
    contacts joined a list).
    The skipped ticks would have launched nothing and left the pacer as it was, but for
    the clock: the dialer also ticks whenever the pacer's clock-driven upkeep is due
    (``Pacer.upkeep_due_s``), and at waking tells the pacer the ticks it skipped
    (``Pacer.idle_ticks``: a timed job's credit moves tick by tick, launched or not), so a
    run's results are the same, tick for tick, as without the sleep. A week of 2 agents
    calling 09:00-17:00 on weekdays ran 43 s, ticking through every night. A dialer with a
    fixed-ratio or VICIdial-style job keeps every tick (their launch phase and sampled
    averages move with the clock, running or not), as does one with a port pool or a
    skill pacer.
    """

    def __init__(
        self,
        jobs: Sequence[Job],
        agents: AgentManager,
        clock: Clock,
        telephony: Telephony,
        feed: AgentFeed,
        store: Store,
        flows: Sequence[ContactFlow],
        *,
        licenses: Licenses | None = None,
        ports: PortPool | None = None,
        skill_pacer: SkillPacer | None = None,
        sink: EventSink | None = None,
        events: EventPublisher | None = None,
        tick_s: float = DEFAULT_TICK_S,
        org: str = "Default",
        seed: int = 0,
        first_attempt_id: int = 0,
        on_tick: TickObserver | None = None,
        sleep: bool = False,
    ):
        if tick_s <= 0:
            raise ValueError(f"tick_s must be > 0 seconds, got {tick_s}")
        if len(flows) != len(jobs):
            raise ValueError(f"dialer: {len(jobs)} jobs but {len(flows)} contact flows")
        self.jobs = list(jobs)
        self.flows = list(flows)
        self.agents = agents
        self.clock = clock
        self.telephony = telephony
        self.store = store
        # A durable store groups each record with its events in one transaction; one that
        # commits behind the loop (``SqlStore.write_behind``) says when a record is on disk
        # (``after_commit``): an attempt is launched, and a live answer put through, only
        # then, so a crash never leaves a call the store does not know.
        self._txn = store.transaction if getattr(store, "durable", False) else None
        self._after = getattr(store, "after_commit", None) if self._txn else None
        self.events = events if events is not None else EventPublisher(sink, org)
        self.tick_s = tick_s
        self.on_tick = on_tick
        self.pacer = Pacer([j.pacing for j in self.jobs], seed=seed)
        n_jobs = len(self.jobs)
        cap = 1024
        # The call slots: public numpy columns the pacer reads each tick, each a view of
        # an ``array.array`` written item by item per attempt (``shared_column``).
        self._slot_job, self.call_job = shared_column("q", cap, -1)
        self._slot_status, self.call_status = shared_column("q", cap, _FREE)
        self._slot_t0, self.call_t0 = shared_column("d", cap, 0.0)
        self._free_slots = list(range(cap - 1, -1, -1))
        self._slots_used = 0  # slots [0, this) have held a call (the rest never did)
        self.waiting: list[deque[Attempt]] = [deque() for _ in range(n_jobs)]
        self.in_flight: dict[int, Attempt] = {}
        self.exhausted = np.zeros(n_jobs, dtype=bool)
        self.running = np.ones(n_jobs, dtype=bool)
        self._next_id = first_attempt_id
        self._any_stopped = False  # some job paused, stopped or out of contacts
        self._voice = np.array([j.channel in (Channel.VOICE_AGENT, Channel.VOICE_AGENTLESS)
                                for j in self.jobs], dtype=bool)
        self._voice_int = self._voice.astype(np.int64)
        self._step_channel = [step_channel(j.channel) for j in self.jobs]
        self._attempt_job = [(int(j.channel), j.name) for j in self.jobs]  # per attempt
        self._rr = 0
        self._timed = np.array([j.pacing.pacing == Pacing.TIMED for j in self.jobs], dtype=bool)
        self._timed_any = bool(self._timed.any())
        self._stopped = False
        self.forced_out: set[int] = set()  # agents logged off by force (see force_logout)
        # Callbacks on an attempt's end, by attempt id (``engine.dispositions``: a
        # disposition given while its call is in flight, a callback's result).
        self.watch: dict[int, Callable[[Attempt], None]] = {}
        # Agents held for the personal callback each dials (``launch_held``): agent ->
        # attempt id, and the attempt's agent by attempt id.
        self._held: dict[int, int] = {}
        self._holds: dict[int, int] = {}
        # Asked first when an agent reports ready: True when it took the agent for a call
        # of its own (``engine.dispositions``: a personal callback due for that agent).
        self.on_ready: Callable[[int], bool] | None = None
        self.staffing = Staffing(self, licenses) if licenses is not None else None
        # the outbound-port pool (None: voice dials share the free ports round-robin)
        self.ports = PortLicensing(self.jobs, ports) if ports is not None else None
        self.skill_pacer = skill_pacer  # thins skill-paced agentless jobs (None: none)
        # sleeping through ticks where nothing can be dialled (class docstring)
        self.sleep = (bool(sleep) and ports is None and skill_pacer is None
                      and all(j.pacing.pacing in _SLEEPY for j in self.jobs))
        self._asleep = False
        self._sleep_gen = 0  # a wake-up scheduled under an older number is void
        self._dozed_at: float | None = None  # the last tick before a sleep (run seconds)
        self._t0 = 0.0  # the tick grid's origin (run seconds): ticks at t0 + k * tick_s
        self.ticks_skipped = 0  # ticks slept through
        if self.sleep:
            for f in self.flows:  # contacts joining a list: something to dial, maybe
                f.on_extend = self.wake
        telephony.subscribe(self)
        feed.subscribe(self)

    @property
    def next_attempt_id(self) -> int:
        """The id the next attempt will get (ids count up from ``first_attempt_id``)."""
        return self._next_id

    # ------------------------------------------------------------------ the loop

    def start(self) -> None:
        """Staff the jobs (when licensed) and schedule the first tick now."""
        if self.staffing is not None:
            self.staffing.start()
        for w in self.warning_records():
            self.events.job_warning(w["campaign"], w["code"], w["mode"], w["limit"],
                                    w["estimated_floor"], w["message"])
        self._t0 = self.clock.now()
        self.clock.call_later(0.0, self._tick)

    def warnings(self) -> list[str]:
        """The pacer's compliance warnings so far, each naming its job (``campaign sales:
        ...``; the pacer knows its campaigns by row)."""
        return sorted(self._named(w) for w in self.pacer.warnings())

    def warning_records(self) -> list[dict]:
        """The pacer's warning records (``Pacer.warning_records``: ``campaign`` is the job's
        row), their messages naming the job."""
        return [{**w, "message": self._named(w["message"])}
                for w in self.pacer.warning_records()]

    def _named(self, text: str) -> str:
        m = _PACER_ROW.match(text)
        if m is None or int(m[1]) >= len(self.jobs):
            return text
        return f"campaign {self.jobs[int(m[1])].name}:{text[m.end():]}"

    def stop(self) -> None:
        """No further ticks; attempts in flight still complete."""
        self._stopped = True

    def pause(self, job: int) -> None:
        """No new attempts for ``job`` until ``resume``; its calls in flight go on."""
        job = index_arg("job", job, len(self.jobs))
        self.running[job] = False
        self._any_stopped = True

    def resume(self, job: int) -> None:
        """New attempts for ``job`` again (unless its contacts are exhausted)."""
        job = index_arg("job", job, len(self.jobs))
        self.running[job] = True
        self._any_stopped = bool((~self.running | self.exhausted).any())
        self.wake()

    def wake(self) -> None:
        """A sleeping dialer (``sleep``) ticks again from the first tick of its grid at or
        after now (the tick a dialer that never slept has at now runs after the news, which
        was scheduled before it): news that may give a job something to dial before the
        sleep would end."""
        if not self._asleep:
            return
        self._asleep = False
        self._sleep_gen += 1
        now = self.clock.now()
        k = math.ceil((now - self._t0) / self.tick_s - 1e-9)
        self.clock.call_later(max(self._t0 + k * self.tick_s - now, 0.0), self._tick)

    def _tick(self) -> None:
        if self._stopped:
            return
        now = self.clock.now()
        if self._dozed_at is not None:  # the first tick after a sleep
            self._skipped(self._dozed_at, now)
        # The call slots up to the highest ever used (free ones say nothing to the pacer;
        # slots are reused last-freed first, so this is about the peak of calls in flight,
        # not the arrays' doubled capacity): views, in slot order.
        used = self._slots_used
        agents = self.agents
        dials = self.pacer.decide(
            now, agents.job, agents.status, agents.since_s,
            self.call_job[:used], self.call_status[:used], self.call_t0[:used],
        )
        # What the pacer decided: ``dials`` itself until the first cut (most ticks cut
        # nothing: no copy, and no comparison at the end), then a copy taken before it.
        decided = dials
        if self._any_stopped or self.skill_pacer is not None:
            decided = dials.copy()
            if self._any_stopped:
                self._refill()
                dials[~self.running | self.exhausted] = 0
            if self.skill_pacer is not None:
                self.skill_pacer.thin(dials)
        rows = dials.nonzero()[0]
        if self.ports is not None or rows.size:
            if self.ports is not None:
                offered = dials.copy()
                self.ports.fit(dials, self.in_flight_by_job(), self.telephony.capacity(True))
            else:
                offered = self._fit_capacity(dials, rows)
            if offered is not None:
                if decided is dials:
                    decided = offered
                if self._timed_any:
                    # A time-based attempt offered to a full port pool is blocked (a loss, as
                    # in Erlang B): recorded, unlike agent-based dials the pacer re-decides
                    # next tick.
                    cut = np.flatnonzero(self._timed & (offered > dials))
                    for j in cut.tolist():
                        self._block(j, int(offered[j] - dials[j]), now)
                rows = dials.nonzero()[0]
            for j, n in zip(rows.tolist(), dials[rows].tolist(), strict=True):
                k = self._launch(j, n, now)
                if k < n:
                    if decided is dials:
                        decided = dials.copy()
                    dials[j] = k
        if decided is not dials and (dials < decided).any():
            self.pacer.launched(dials)  # fewer went out than decided: tell the pacer
        if self.on_tick is not None:
            self.on_tick(now, dials)
        if self.sleep and not self.in_flight:
            until = self._quiet_until(now)
            if until >= now + 2.0 * self.tick_s:  # a tick or more with nothing to dial
                self._doze(now, until)
                return
        self.clock.call_later(self.tick_s, self._tick)

    def _quiet_until(self, now: float) -> float:
        """Run seconds before which no job can have anything to dial (``now`` when one may,
        ``inf`` when none is running and the pacer has no upkeep due): no agent in talk or
        wrap-up (the pacer's estimators follow them tick by tick), the pacer's next upkeep
        (``Pacer.upkeep_due_s``), and every running job not out of contacts one whose flow
        hands out nothing before then (``ContactFlow.quiet_until``) or one with no ready
        agent (the pacer dials for ready agents; an agent state change or an assignment
        wakes the dialer)."""
        if any(self.waiting) or self.agents.handling().any():
            return now
        until = self.pacer.upkeep_due_s(now)
        if until <= now:
            return now
        ready = None
        for j in np.flatnonzero(self.running & ~self.exhausted).tolist():
            t = self.flows[j].quiet_until(now)
            if t <= now:
                if self._timed[j]:
                    return now  # an agentless job with something to send
                if ready is None:
                    ready = self.agents.ready_count(len(self.jobs))
                if ready[j]:
                    return now
                continue  # no agent to dial for: one logging in, or put on it, wakes us
            until = min(until, t)
        return until

    def _doze(self, now: float, until: float) -> None:
        """No tick before the first of the grid at or after ``until`` (none at all for an
        infinite one: ``wake`` ends it)."""
        self._asleep = True
        self._sleep_gen += 1
        self._dozed_at = now
        if not math.isfinite(until):
            return
        k = math.ceil((until - self._t0) / self.tick_s - 1e-9)
        at = self._t0 + k * self.tick_s
        self.ticks_skipped += max(round((at - now) / self.tick_s) - 1, 0)
        gen = self._sleep_gen
        self.clock.call_later(at - now, lambda: self._woken(gen))

    def _skipped(self, last: float, now: float) -> None:
        """Tell the pacer the ticks of the grid slept through between the tick at ``last``
        and this one at ``now`` (``Pacer.idle_ticks``), each at the clock reading a dialer
        that never slept would have had (the previous one plus ``tick_s``)."""
        self._dozed_at = None
        n = max(round((now - last) / self.tick_s) - 1, 0)  # both on the grid (``_doze``)
        if n:
            self.pacer.idle_ticks(last, n, self.tick_s)

    def _woken(self, gen: int) -> None:
        if gen == self._sleep_gen and self._asleep:
            self._asleep = False
            self._tick()

    def _refill(self) -> None:
        """A job marked out of contacts whose list has grown since (``ContactFlow.extend``:
        new leads imported, contacts arriving) dials again."""
        ex = self.exhausted
        if not ex.any():
            return
        for j in np.flatnonzero(ex).tolist():
            if not self.flows[j].exhausted:
                ex[j] = False
        self._any_stopped = bool((~self.running | ex).any())

    def answers_due(self, job: int) -> int:
        """Idle agents ``job``'s calls in flight may still need: its live answers waiting
        for an agent, and those its ringing calls may bring (their count x the pacer's hit
        rate, plus one standard deviation). Blending lends only the idle agents beyond it."""
        job = index_arg("job", job, len(self.jobs))
        used = self._slots_used
        ringing = int(np.count_nonzero((self.call_job[:used] == job)
                                       & (self.call_status[:used] == _RINGING)))
        p = min(max(float(self.pacer.last_hit_rate[job]), 0.0), 1.0)
        mean = ringing * p
        return len(self.waiting[job]) + math.ceil(mean + math.sqrt(mean * (1.0 - p)) - 1e-9)

    def work_due(self, job: int, cap: int) -> int:
        """Contacts job ``job`` could dial now, counted up to ``cap`` (``ContactFlow.work_due``):
        what the staffing weighs a job's agent demand by."""
        job = index_arg("job", job, len(self.jobs))
        return self.flows[job].work_due(self.clock.now(), cap)

    def in_flight_by_job(self) -> np.ndarray:
        """Calls in flight (ringing, waiting or connected) per job, int64."""
        active = self.call_status != _FREE
        return np.bincount(self.call_job[active], minlength=len(self.jobs))

    def _fit_capacity(self, dials: np.ndarray, rows: np.ndarray) -> np.ndarray | None:
        """Cut voice dials to the telephony's capacity (free ports, carrier setups), sharing
        it round-robin across jobs; returns the dials as offered when some were cut.
        ``rows``: the jobs with dials.

        Dialling into a full port pool would only produce blocked attempts, tick after tick.
        """
        want = int(dials.dot(self._voice_int))
        if want == 0:
            return None
        free = self.telephony.capacity(True)
        if want <= free:
            return None
        offered = dials.copy()
        rows = rows[self._voice[rows]]
        start = self._rr % rows.size
        self._rr += 1
        order = np.concatenate([rows[start:], rows[:start]])
        dials[order] = _round_robin(dials[order], max(free, 0))
        return offered

    def _new_attempts(self, j: int, n: int, now: float) -> list[Attempt]:
        """Up to ``n`` next attempts of job ``j``, recorded as started (a durable store: in
        one transaction), fewer when fewer are due now (the job is marked exhausted when its
        flow has nothing left at all). One flow pass for the tick's attempts of the job."""
        flow = self.flows[j]
        plans = flow.take(now, self._step_channel[j], n)
        if len(plans) < n:
            if flow.exhausted:
                self.exhausted[j] = True
                self._any_stopped = True
            elif (until := flow.idle_until(now)) > now:  # nothing to dial before then
                self.pacer.nothing_to_dial(j, until)
        if not plans:
            return []
        if self._txn is not None:  # a durable store: the records and their events commit
            with self._txn():      # together (outbox)
                return self._record(j, plans, now)
        return self._record(j, plans, now)

    def _record(self, j: int, plans: list[Planned], now: float) -> list[Attempt]:
        """The attempts of job ``j``'s ``plans``, numbered, counted and recorded as started,
        each made and recorded in one pass (once per attempt)."""
        flow, store, events = self.flows[j], self.store, self.events
        channel, name = self._attempt_job[j]
        i = self._next_id
        self._next_id = i + len(plans)
        made = []
        for c, cid, address, step in plans:
            a = Attempt(i, j, c, channel, now, cid, address, step, name)
            i += 1
            made.append(a)
            flow.launched(a)
            store.attempt_started(a)
            if events.enabled:
                events.attempt_created(a)
        return made

    def _block(self, j: int, n: int, now: float) -> None:
        for a in self._new_attempts(j, n, now):
            self._complete(a, _BLOCKED)

    def _launch(self, j: int, n: int, now: float) -> int:
        """Launch up to ``n`` attempts of job ``j``; returns how many went out (fewer when
        its list has no contact due). Each is recorded before any goes out."""
        made = self._new_attempts(j, n, now)
        in_flight, dial = self.in_flight, self.telephony.dial
        slot_job, slot_status, slot_t0 = self._slot_job, self._slot_status, self._slot_t0
        for a in made:
            free = self._free_slots
            if not free:
                self._grow_slots()
                free = self._free_slots
                slot_job, slot_status, slot_t0 = (self._slot_job, self._slot_status,
                                                  self._slot_t0)
            s = free.pop()  # ``_take_slot``, inlined: once per attempt
            if s >= self._slots_used:
                self._slots_used = s + 1
            slot_job[s] = j
            slot_status[s] = _RINGING
            slot_t0[s] = now
            a.slot = s
            in_flight[a.id] = a
            if self._after is None:
                dial(a)
            else:
                self._after(partial(self._dial_pending, a))
        return len(made)

    def _dial_pending(self, a: Attempt) -> None:
        """Launch ``a`` now its record is on disk, unless it ended meanwhile (a stop)."""
        if a.code == _PENDING:
            self.telephony.dial(a)

    def _connect_pending(self, a: Attempt, agent: int) -> None:
        """Put ``a`` through to ``agent`` now the connect is on disk, unless it ended."""
        if a.code == _PENDING:
            self.telephony.connect(a, agent)

    # ------------------------------------------------------------------ call slots

    def _grow_slots(self) -> None:
        """Twice the call slots (all in use)."""
        old = len(self._slot_job)
        self._slot_job, self.call_job = _grown(self._slot_job, "q", -1)
        self._slot_status, self.call_status = _grown(self._slot_status, "q", _FREE)
        self._slot_t0, self.call_t0 = _grown(self._slot_t0, "d", 0.0)
        self._free_slots = list(range(2 * old - 1, old - 1, -1))

    def _release_slot(self, a: Attempt) -> None:
        if a.slot >= 0:
            self._slot_status[a.slot] = _FREE
            self._slot_job[a.slot] = -1
            self._free_slots.append(a.slot)
            a.slot = -1

    def _complete(self, a: Attempt, code: int, now: float | None = None) -> None:
        """Record ``a``'s end with ``code`` at ``now`` (default: the clock's time)."""
        a.code = code if code.__class__ is int else int(code)
        a.t_end = self.clock.now() if now is None else now
        s = a.slot
        if s >= 0:  # ``_release_slot``, inlined: once per attempt
            self._slot_status[s] = _FREE
            self._slot_job[s] = -1
            self._free_slots.append(s)
            a.slot = -1
        self.in_flight.pop(a.id, None)
        if self._holds and (held := self._unhold(a.id)) >= 0:
            job = int(self.agents.job[held])
            if job >= 0 and self.waiting[job]:
                self._serve_waiting(job, a.t_end)
        if self._txn is None:
            self.store.save_attempt(a)
            if self.events.enabled:
                self.events.attempt_completed(a)
        else:
            with self._txn():
                self.store.save_attempt(a)
                self.events.attempt_completed(a)
        self.flows[a.job].finished(a, a.t_end)
        if self.watch:
            then = self.watch.pop(a.id, None)
            if then is not None:
                then(a)

    def end_in_flight(self, code: int, connected_code: int) -> int:
        """At a stop: give every attempt still in flight its end now, ``connected_code``
        for one talking to an agent (its outcome is known); a live answer waiting for an
        agent is dropped, an abandon (as at its connect window's end); a voice call still
        ringing is hung up (no one answers it into silence) and gets ``code`` (outcome
        unknown), as do messages under way. Returns how many were ended."""
        left = sorted(self.in_flight.values(), key=lambda a: a.id)
        for a in left:
            if a.t_connect >= 0:
                self._complete(a, connected_code)
            elif a in self.waiting[a.job]:
                self._abandon(a, _ABANDONED, drop=True)
            else:
                if a.t_answer < 0 and self._voice[a.job]:
                    self.telephony.drop(a)
                self._complete(a, code)
        return len(left)

    # ------------------------------------------------------------------ telephony events

    def on_failed(self, a: Attempt, code: int) -> None:
        now = self.clock.now()
        if a.channel == _VOICE_AGENT:
            self.pacer.observe_dial(a.job, False, now - a.t_created)
        self._complete(a, code, now)

    def on_answered(self, a: Attempt, human: bool) -> None:
        now = self.clock.now()
        a.t_answer = now
        if self.events.enabled:
            self.events.attempt_updated(a, "answered")
        if a.channel != _VOICE_AGENT:
            self._slot_status[a.slot] = _CONNECTED  # the message is playing
            return
        self.pacer.observe_dial(a.job, human, now - a.t_created)
        if not human:
            self.pacer.observe_machine(a.job, now)
            self.telephony.drop(a)
            self._complete(a, _MACHINE, now)
            return
        agent = self._unhold(a.id) if self._holds else -1
        if agent < 0:
            agent = self.agents.pop_ready(a.job)
        if agent >= 0:
            self._connect(a, agent, now)
            return
        self._slot_status[a.slot] = _WAITING
        self._slot_t0[a.slot] = now  # from now on: when the live answer came
        self.waiting[a.job].append(a)
        if self._txn is not None:  # recorded waiting too: a crash now is its abandon
            with self._txn():
                self.store.save_attempt(a)
                self.events.attempt_updated(a, "waiting")
        elif self.events.enabled:
            self.events.attempt_updated(a, "waiting")
        self.clock.call_later(self.jobs[a.job].connect_window_s, lambda: self._window_end(a))

    def _connect(self, a: Attempt, agent: int, now: float) -> None:
        self.agents.transition(agent, "connect", now)
        a.agent = agent
        a.t_connect = now
        self._slot_status[a.slot] = _CONNECTED
        self.pacer.observe_live(a.job, now, False)
        if a.t_answer >= 0.0 and now > a.t_answer:  # it waited for its agent
            self.pacer.observe_wait(a.job, now - a.t_answer, False)
        if self._txn is not None:  # a durable store keeps the connect with its event: a
            with self._txn():      # crash mid-talk recovers it connected, not re-dialled
                self.store.save_attempt(a)
                self.events.attempt_updated(a, "connected")
        elif self.events.enabled:
            self.events.attempt_updated(a, "connected")
        if self._after is None:
            self.telephony.connect(a, agent)
        else:
            self._after(partial(self._connect_pending, a, agent))

    def _window_end(self, a: Attempt) -> None:
        """Connect window over: a live answer still waiting is dropped (an abandon)."""
        self._abandon(a, _ABANDONED, drop=True)

    def on_customer_hangup(self, a: Attempt) -> None:
        self._abandon(a, _HANGUP, drop=False)

    def _abandon(self, a: Attempt, code: int, drop: bool) -> None:
        """End a live answer no agent took (no-op if it was connected or ended already)."""
        if a.code != _PENDING or a.t_connect >= 0:
            return
        try:
            self.waiting[a.job].remove(a)
        except ValueError:
            pass
        a.abandoned = True
        now = self.clock.now()
        self.pacer.observe_live(a.job, now, True)
        if a.t_answer >= 0.0:
            self.pacer.observe_wait(a.job, max(now - a.t_answer, 0.0), code == _HANGUP)
        if drop:
            self.telephony.drop(a)
        self._complete(a, code)

    def on_call_ended(self, a: Attempt, machine: bool = False) -> None:
        now = self.clock.now()
        a.t_talk_end = now
        if self.events.enabled:
            self.events.attempt_updated(a, "talk_ended")
        ag = a.agent
        if ag >= 0:
            # Wrap-up next only for an agent seen talking (BUSY) to the end; one leaving
            # afterwards (PENDING_*) stays as it is. The agent took this call on the
            # attempt's job and cannot change jobs on a call: the talk is the job's, timed
            # from the connect.
            if self.agents.transition(ag, "call_end", now) == _WRAP_STATE:
                self.pacer.observe_talk(a.job, now - a.t_connect)
        if machine:  # its agent found an answering machine: not a live answer after all
            self.pacer.observe_machine_connected(a.job, a.t_connect)
            self._complete(a, _MACHINE, now)
        else:
            self._complete(a, _CONNECTED_CODE, now)

    def on_delivered(self, a: Attempt, ok: bool) -> None:
        self._complete(a, _DELIVERED if ok else _UNDELIVERED)

    # ------------------------------------------------------------------ agent feed

    def on_agent_state(self, agent: int, state: int) -> None:
        """The agent feed's report: ``agent`` (index in [0, n)) is now in ``state`` (an
        ``AgentState`` value). A bad agent, state or transition is a ValueError, before
        anything changes."""
        now = self.clock.now()
        if not (type(agent) is int and 0 <= agent < self.agents.n):  # the feed's case first
            agent = index_arg("agent", agent, self.agents.n)
        event = _AGENT_EVENTS.get(state) if type(state) is int else None
        if event is None:
            if isinstance(state, bool) or not isinstance(state, int | np.integer) or \
                    int(state) not in _AGENT_EVENTS:
                raise ValueError(f"state: expected an AgentState value, got {state!r:.40}")
            event = _AGENT_EVENTS[int(state)]
        if self._held:  # the agent's own change: its hold (``launch_held``) ends
            self._held.pop(agent, None)
        was = self.agents.state[agent]
        if agent in self.forced_out:
            if was == _LOGGED_OUT:
                if event != "login":
                    log.info("agent %d was logged off by force; feed event %r skipped", agent,
                             event)
                    return
                self.forced_out.discard(agent)  # a new login: the feed is followed again
        new = self.agents.transition(agent, event, now)
        if self._asleep:
            self.wake()
        if event in ("login", "logout") and self.staffing is not None:
            self.staffing.mark()
        job = int(self.agents.job[agent])
        if event == "ready" and was == _WRAP_STATE and job >= 0:  # the wrap-up ended
            self.pacer.observe_wrap(job, now - self.agents.since_s[agent])
        if new == _READY and self.staffing is not None:
            want = self.staffing.wanted_job(agent, job)  # off a job over its share
            if want != job:
                self.agents.set_job(agent, want, now)
                job = want
        if new == _READY and self.on_ready is not None:
            if self.events.enabled:
                self.events.agent_state(agent, new, job)
            if not self.on_ready(agent) and job >= 0 and self.waiting[job]:
                self._serve_waiting(job, now)  # (not taken for a call of its own)
            return
        if new == _READY and job >= 0 and self.waiting[job]:
            self._serve_waiting(job, now)
        if self.events.enabled:
            self.events.agent_state(agent, new, job)

    def force_logout(self, agent: int) -> int:
        """Forced logoff by a supervisor: out now, or after its call and wrap-up
        (PENDING_LOGOUT). Later feed events for the agent are skipped until it logs in
        again. Returns the new ``AgentState`` value."""
        now = self.clock.now()
        agent = index_arg("agent", agent, self.agents.n)
        new = self.agents.transition(agent, "logout", now)
        self.forced_out.add(agent)
        self.wake()
        if self.staffing is not None:
            self.staffing.mark()
        self.events.agent_state(agent, new, int(self.agents.job[agent]))
        return new

    # ------------------------------------------------------------------ held agents

    def launch_held(self, j: int, plan: Planned, agent: int) -> Attempt:
        """Launch ``plan`` (job ``j``'s, e.g. a personal callback) for ``agent``, who must
        be READY: the agent is held (not ready to the pacer and to other calls) while it
        rings, put through to its answer, and ready again if no one answers. A report
        from the agent feed meanwhile (a break, a logout) ends the hold: its answer then
        goes to any ready agent of the job."""
        j = index_arg("job", j, len(self.jobs))
        agent = index_arg("agent", agent, self.agents.n)
        if self.agents.state[agent] != _READY:
            raise ValueError(f"agent {agent} is not ready")
        now = self.clock.now()
        new = self.agents.transition(agent, "not_ready", now)
        if self.events.enabled:
            self.events.agent_state(agent, new, int(self.agents.job[agent]))
        if self._txn is not None:
            with self._txn():
                (a,) = self._record(j, [plan], now)
        else:
            (a,) = self._record(j, [plan], now)
        self._held[agent] = a.id
        self._holds[a.id] = agent
        s = self._take_slot()
        self._slot_job[s] = j
        self._slot_status[s] = _RINGING
        self._slot_t0[s] = now
        a.slot = s
        self.in_flight[a.id] = a
        if self._after is None:
            self.telephony.dial(a)
        else:
            self._after(partial(self._dial_pending, a))
        return a

    def held(self, agent: int) -> int:
        """The attempt ``agent`` is held for (``launch_held``), or -1."""
        return self._held.get(agent, -1)

    def _take_slot(self) -> int:
        if not self._free_slots:
            self._grow_slots()
        s = self._free_slots.pop()
        if s >= self._slots_used:
            self._slots_used = s + 1
        return s

    def _unhold(self, attempt_id: int) -> int:
        """End the hold of attempt ``attempt_id``'s agent, ready again; returns the agent,
        or -1 when no agent is held for it (none was, or the feed ended the hold)."""
        agent = self._holds.pop(attempt_id, -1)
        if agent < 0 or self._held.get(agent) != attempt_id:
            return -1
        del self._held[agent]
        if self.agents.state[agent] != _NOT_READY:  # (a supervisor's logoff meanwhile)
            return -1
        now = self.clock.now()
        new = self.agents.transition(agent, "ready", now)
        if self.events.enabled:
            self.events.agent_state(agent, new, int(self.agents.job[agent]))
        return agent

    def _serve_waiting(self, job: int, now: float) -> None:
        q = self.waiting[job]
        while q:
            agent = self.agents.pop_ready(job)
            if agent < 0:
                return
            self._connect(q.popleft(), agent, now)

    # ------------------------------------------------------------------ staffing

    def assign(self, agent_job: np.ndarray) -> None:
        """Put agents on jobs (-1 = none); agents on a call keep their job until it ends.
        ``agent_job``: one int per agent in [-1, jobs); a ValueError before any change
        otherwise."""
        now = self.clock.now()
        agent_job = int_rows("agent_job", agent_job, self.agents.n, lo=-1,
                             hi=len(self.jobs) - 1)
        self.wake()
        am = self.agents
        keep = self._idle_to_keep(agent_job)
        for a in range(am.n):
            j = int(agent_job[a])
            cur = int(am.job[a])
            if j == cur:
                if am.leaving(a):
                    am.set_leaving(a, False)  # wanted where it is after all
                continue
            if am.on_call[a]:
                continue
            if cur >= 0 and keep[cur] > 0 and am.state[a] == _READY:
                # an idle agent its job's calls in flight may still need: it leaves once
                # they no longer do (the staffing's next rebalance), the pacer no longer
                # dialling for it meanwhile
                keep[cur] -= 1
                am.set_leaving(a, True)
                continue
            am.set_job(a, j, now)
            if j >= 0 and am.state[a] == _READY:
                self._serve_waiting(j, now)

    def _idle_to_keep(self, agent_job: np.ndarray) -> dict[int, int]:
        """Per job losing idle agents to ``agent_job``: how many of them stay for now, the
        live answers its calls in flight may bring (``answers_due``) less the idle agents
        staying on it anyway (the leaving ones not counted). Moving them at once dropped
        the answers the pacer had dialled for them: 23 of the 50 live answers of the minute
        a scenario's 20 later jobs started took agents from 40 predictive ones."""
        am = self.agents
        ready = (am.state == _READY) & (am.job >= 0)
        losing = np.unique(am.job[ready & (agent_job != am.job)])
        keep: dict[int, int] = {}
        for j in losing.tolist():
            staying = int(np.count_nonzero(ready & (am.job == j) & (agent_job == j)
                                           & (am.status != _PAUSED_STATUS)))
            keep[j] = max(self.answers_due(j) - staying, 0)
        return defaultdict(int, keep)

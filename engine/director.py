"""The campaign director: jobs' lifecycle, schedules, finish criteria and job statistics.

A job is SCHEDULED until its start time, then RUNNING; an operator may PAUSE and RESUME
it or STOP it; it FINISHES by itself when a finish criterion is met (its end time, its
contacts exhausted, a number of successes). Transitions not in ``TRANSITIONS`` raise
``JobTransitionError`` naming the job, its state and the action. Every transition is
recorded in the store and published as a JOB event; JOBSTATISTICS events follow every
``stats_s`` seconds while a sink listens.

The director drives the dialer only through ``Dialer.pause`` / ``Dialer.resume`` and reads
the jobs' ``ContactFlow`` counters, so the same code runs live and in the simulator.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, Protocol

import numpy as np

from engine.agents import AgentManager
from engine.events import EventPublisher
from engine.flow import ContactFlow
from engine.interfaces import Clock, Store
from engine.job import Job
from engine.kpi import agent_times_each
from engine.staffing import Staffing
from pacer.rates import fcc_abandon_rate

CHECK_S = 1.0  # how often schedules and finish criteria are checked (run-clock seconds)
STATS_S = 60.0  # JOBSTATISTICS period while a sink listens


class JobState(StrEnum):
    SCHEDULED = "SCHEDULED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    STOPPED = "STOPPED"  # by an operator; final
    FINISHED = "FINISHED"  # by a finish criterion; final


TRANSITIONS: dict[str, dict[JobState, JobState]] = {
    "start": {JobState.SCHEDULED: JobState.RUNNING},
    "pause": {JobState.RUNNING: JobState.PAUSED},
    "resume": {JobState.PAUSED: JobState.RUNNING},
    "stop": {JobState.SCHEDULED: JobState.STOPPED, JobState.RUNNING: JobState.STOPPED,
             JobState.PAUSED: JobState.STOPPED},
    "finish": {JobState.RUNNING: JobState.FINISHED, JobState.PAUSED: JobState.FINISHED},
}


class JobTransitionError(ValueError):
    """An action not allowed in a job's current state."""


class DirectedDialer(Protocol):
    """What the director reads from and does to the dialer (rows of ``jobs`` are the jobs)."""

    @property
    def jobs(self) -> Sequence[Job]: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def store(self) -> Store: ...

    @property
    def events(self) -> EventPublisher: ...

    @property
    def agents(self) -> AgentManager: ...

    @property
    def staffing(self) -> Staffing | None: ...

    def pause(self, job: int) -> None:
        """No new attempts for ``job``; its calls in flight go on."""

    def resume(self, job: int) -> None:
        """New attempts for ``job`` again."""


@dataclass(frozen=True)
class JobPlan:
    """When a job runs and when it is done (run-clock seconds; None: no such criterion).

    ``finish_when_exhausted``: finish when no contact is fresh, queued or in flight.
    ``finish_after_successes``: finish after this many contacts reached a success code.
    """

    start_s: float = 0.0
    end_s: float | None = None
    finish_when_exhausted: bool = True
    finish_after_successes: int | None = None

    def __post_init__(self) -> None:
        if not self.start_s >= 0:
            raise ValueError(f"start_s: expected seconds >= 0, got {self.start_s!r}")
        if self.end_s is not None and not self.end_s > self.start_s:
            raise ValueError(f"end_s: expected a time after start_s ({self.start_s:g} s), "
                             f"got {self.end_s!r}")
        n = self.finish_after_successes
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise ValueError(f"finish_after_successes: expected an integer >= 1, got {n!r}")


@dataclass(frozen=True)
class JobStats:
    """One job's statistics (the JOBSTATISTICS event body). Rates are fractions 0..1."""

    job_id: int
    job_name: str
    state: str
    total_contacts: int
    processed: int  # contacts with nothing more to do
    attempted: int  # attempts launched (capacity blocks excluded)
    connects: int  # live connects to an agent, delivered messages
    pending_retries: int  # contacts waiting for a retry, a window or a rule to lapse
    in_flight: int
    successes: int
    nuisance_rate_today: float  # abandons / live answers since the day began (UTC day)
    nuisance_rate: float  # abandons / live answers since the job started
    percent_complete: float  # 0..100 of the selected contacts processed
    estimated_end_s: float | None  # run-clock estimate at the recent processing rate
    restrictions: dict[str, int]  # rule engine refusals by rule name, plus checked/allowed

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (``restrictions`` copied): what ``asdict`` gives,
        without its deep copy of every value (one per job per run and per event)."""
        d = {f.name: getattr(self, f.name) for f in _JOB_STATS_FIELDS}
        d["restrictions"] = dict(self.restrictions)
        return d


_JOB_STATS_FIELDS = fields(JobStats)


_AGENT_STAT_KEYS = ("logged_in_s", "ready_s", "talk_s", "wrap_s", "not_ready_s")


def all_agent_stats(am: AgentManager, now: float) -> dict[str, np.ndarray]:
    """Every agent's time per state so far (seconds, ``engine.kpi.agent_times_each``) and
    calls, for AGENTSTATISTICS: arrays with one entry per agent, from one pass over the time
    matrix."""
    t = agent_times_each(am.times_so_far(now))
    return {**{k: t[k] for k in _AGENT_STAT_KEYS}, "calls": am.connects}


class CampaignDirector:
    """Runs jobs ``plans[j]`` on ``dialer`` (whose rows are the jobs) with ``flows[j]``."""

    def __init__(self, dialer: DirectedDialer, flows: Sequence[ContactFlow],
                 plans: Sequence[JobPlan],
                 check_s: float = CHECK_S, stats_s: float = STATS_S):
        if len(flows) != len(dialer.jobs) or len(plans) != len(dialer.jobs):
            raise ValueError(f"director: {len(dialer.jobs)} jobs, {len(flows)} flows, "
                             f"{len(plans)} plans; expected one of each per job")
        self.dialer = dialer
        self.flows = list(flows)
        self.plans = list(plans)
        self.check_s = check_s
        self.stats_s = stats_s
        self.states = [JobState.SCHEDULED] * len(plans)
        self.reasons = [""] * len(plans)
        self.started_s = [math.nan] * len(plans)
        self._last_stats_s = -math.inf
        self._watch: list[int] = []
        for j in range(len(plans)):
            dialer.pause(j)

    # ------------------------------------------------------------------ running

    def start(self) -> None:
        """Start the jobs due now and set timers for later starts and end times; contacts
        exhausted and success counts are checked every ``check_s``."""
        clock = self.dialer.clock
        now = clock.now()
        for j, plan in enumerate(self.plans):
            if self.states[j] != JobState.SCHEDULED:  # restored after a restart
                if self.states[j] == JobState.RUNNING:
                    self.dialer.resume(j)
                else:
                    self._staff(j)
                continue
            if plan.start_s <= now:
                self.start_job(j)
            else:
                self._staff(j)  # no agents before its start
                clock.call_later(plan.start_s - now, lambda j=j: self._due(j))
            if plan.end_s is not None:
                clock.call_later(max(plan.end_s - now, 0.0), lambda j=j: self._end(j))
        self._watch = [j for j, p in enumerate(self.plans)
                       if p.finish_after_successes is not None
                       or (p.finish_when_exhausted and self.flows[j].can_exhaust)]
        self._check()

    def restore(self, states: dict[str, str]) -> None:
        """Take the jobs' states recorded before a restart (by job name), before ``start``."""
        for j, job in enumerate(self.dialer.jobs):
            st = states.get(job.name)
            if st is not None:
                self.states[j] = JobState(st)

    def _due(self, j: int) -> None:
        if self.states[j] == JobState.SCHEDULED:
            self.start_job(j)

    def _end(self, j: int) -> None:
        if self.states[j] in (JobState.RUNNING, JobState.PAUSED):
            self._apply(j, "finish", "end_time")
        elif self.states[j] == JobState.SCHEDULED:
            self._apply(j, "stop", "end_time")

    def _check(self) -> None:
        now = self.dialer.clock.now()
        for j in self._watch:
            if self.states[j] in (JobState.RUNNING, JobState.PAUSED):
                why = self._finish_reason(j, now)
                if why:
                    self._apply(j, "finish", why)
        if self.dialer.events.enabled and now - self._last_stats_s >= self.stats_s:
            self._last_stats_s = now
            for j in range(len(self.plans)):
                self.dialer.events.job_statistics(j, self.stats(j).as_dict())
            am = self.dialer.agents
            self.dialer.events.agents_statistics(all_agent_stats(am, now), am.job)
        if self.dialer.events.enabled or any(
                self.states[j] not in (JobState.STOPPED, JobState.FINISHED)
                for j in self._watch):
            self.dialer.clock.call_later(self.check_s, self._check)

    def _finish_reason(self, j: int, now: float) -> str:
        plan, flow = self.plans[j], self.flows[j]
        if plan.end_s is not None and now >= plan.end_s:
            return "end_time"
        if plan.finish_after_successes is not None and (
                flow.successes >= plan.finish_after_successes):
            return "successes"
        if plan.finish_when_exhausted and flow.exhausted:
            return "exhausted"
        return ""

    # ------------------------------------------------------------------ operator actions

    def start_job(self, j: int) -> None:
        self._apply(j, "start")

    def pause(self, j: int) -> None:
        self._apply(j, "pause")

    def resume(self, j: int) -> None:
        self._apply(j, "resume")

    def stop(self, j: int) -> None:
        """No new attempts, for good; attempts in flight complete normally."""
        self._apply(j, "stop", "operator")

    def set_limits(self, j: int, min_agents: int | None = None, max_agents: int | None = None,
                   priority: int | None = None) -> None:
        """Runtime change of a job's minimum / maximum agents or priority (its licenses and
        agents follow at the staffing's next period)."""
        staffing = self.dialer.staffing
        if staffing is None:
            raise ValueError(f"job {self.dialer.jobs[j].name!r}: no staffing (jobs are not "
                             "staffed by licenses in this run)")
        staffing.set_limits(j, min_agents, max_agents, priority)

    def _apply(self, j: int, action: str, reason: str = "") -> None:
        cur = self.states[j]
        new = TRANSITIONS[action].get(cur)
        if new is None:
            allowed = sorted(a for a, m in TRANSITIONS.items() if cur in m)
            raise JobTransitionError(
                f"job {self.dialer.jobs[j].name!r}: cannot {action} a {cur.value} job "
                f"(allowed now: {', '.join(allowed) or 'nothing, the job is over'})")
        now = self.dialer.clock.now()
        self.states[j] = new
        self.reasons[j] = reason
        if new == JobState.RUNNING:
            if math.isnan(self.started_s[j]):
                self.started_s[j] = now
            self.dialer.resume(j)
        else:
            self.dialer.pause(j)
        self._staff(j)
        self.dialer.store.set_job_state(self.dialer.jobs[j].name, new.value, now)
        self.dialer.events.job(j, new.value, reason)

    def _staff(self, j: int) -> None:
        """Tell the staffing whether job ``j`` runs (running or paused): a job scheduled,
        finished or stopped holds no agents (POM's agent manager staffs running jobs)."""
        staffing = self.dialer.staffing
        if staffing is not None:
            staffing.set_running(j, self.states[j] in (JobState.RUNNING, JobState.PAUSED))

    def state(self, j: int) -> JobState:
        return self.states[j]

    # ------------------------------------------------------------------ statistics

    def stats(self, j: int) -> JobStats:
        now = self.dialer.clock.now()
        flow = self.flows[j]
        c = flow.counts(now)
        processed = c.done
        pct = 100.0 * processed / c.total if c.total else 100.0
        eta = None
        started = self.started_s[j]
        if processed and not math.isnan(started) and now > started and c.total:
            rate = processed / (now - started)
            eta = now + (c.total - processed) / rate
        return JobStats(
            job_id=j, job_name=self.dialer.jobs[j].name, state=self.states[j].value,
            total_contacts=c.total, processed=processed, attempted=c.attempts,
            connects=c.connects, pending_retries=c.queued, in_flight=c.in_flight,
            successes=c.successes,
            nuisance_rate_today=fcc_abandon_rate(c.abandons_today, c.live_today),
            nuisance_rate=fcc_abandon_rate(c.abandons, c.live),
            percent_complete=pct, estimated_end_s=eta,
            restrictions=flow.rules.counts(j))

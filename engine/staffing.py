"""Staffing: licenses per job from the pools, then agents onto jobs by skill, fewest moves.

The agent manager's job, on the pacer's license distribution and assignment kernels. It
runs at start, and again (every ``period_s``) after agents logged in or out, or when a job's
minimum, maximum or priority changed at runtime; in dynamic mode on every period.

Agent licenses come by type, one pool each, as the Avaya Proactive Outreach Manager agent
manager distributes them ("Manual", "Preview" and "Predictive" agent licenses; its License
Summary shows each job's use of each): an agent attached to a job holds one license of the
job's type (``LICENSE_TYPES``: a job's ``license``, or by its pacing: preview jobs hold
preview licenses, progressive jobs progressive ones, every other agent-based pacing
predictive ones). A license is *in use* while a logged-in agent is attached to the job.
A job's demand is its maximum, capped by the agents who hold its skill (a job few agents
can work does not hold licenses another job of the pool could use; minimums are held
whatever the demand; nor does a job whose agents work a job of another pool sharing its
skill, while a job of its pool has agents idle for want of licenses: its demand is then
held at the agents it got, ``_unusable``, until an agent it could take is free again).
Where the agents do not go round the jobs' shares, they are split in equal shares, each
job up to what its work can use (``_work_demand``: a job with little to dial does not hold
agents idle another job could keep busy). An agent on a call keeps its
job until the call ends, so when a job's share shrinks its busy agents still hold their
licenses: the other jobs of the pool get places only from what those leave
(``_fit_pools``), and the licenses in use never exceed a pool. Such an agent leaves the
job the moment it frees, for a job short of its share or none (``wanted_job``), not at the
next rebalance: idle there meanwhile, the pacer would dial for it.

``usage`` keeps each job's licenses allocated and in use, and its *starvation*: the
logged-in agents who hold the job's skill and are on no job, up to its maximum, that its
license share leaves out (``max(0, min(max_agents, in use + such agents) - allocated)``),
sampled every ``period_s`` over the measured window.

The dialer builds its staffing from a ``Licenses`` setting and hands itself over as the
``StaffedDialer`` the staffing reads and drives: nothing is wired after construction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from engine.agents import AgentManager
from engine.attempt import Channel
from engine.interfaces import Clock
from engine.job import Job
from engine.vocab import channel_name
from pacer.assignment import assign_agents
from pacer.constants import LICENSE_MAX_UNITS
from pacer.licenses import DistributionMode, LicenseDistributor
from pacer.modes import AgentStatus, LicenseKind, Pacing

POOL_OF_PACING = {
    Pacing.PREVIEW: LicenseKind.PREVIEW_AGENT,
    Pacing.PROGRESSIVE: LicenseKind.PROGRESSIVE_AGENT,
}
MIN_WORK_HIT = 0.05  # the hit rate a job's work demand assumes at least
POOL_KEYS = {"manual_agents": LicenseKind.MANUAL_AGENT,
             "preview_agents": LicenseKind.PREVIEW_AGENT,
             "progressive_agents": LicenseKind.PROGRESSIVE_AGENT,
             "predictive_agents": LicenseKind.PREDICTIVE_AGENT}
# A job's ``license`` -> its pool; manual and preview jobs are placed by their agent, one
# call at a time: they dial with preview pacing.
LICENSE_TYPES = {"manual": LicenseKind.MANUAL_AGENT, "preview": LicenseKind.PREVIEW_AGENT,
                 "progressive": LicenseKind.PROGRESSIVE_AGENT,
                 "predictive": LicenseKind.PREDICTIVE_AGENT}
AGENT_PLACED = ("manual", "preview")  # license types whose jobs dial with preview pacing
POOL_NAMES = {kind: name for name, kind in POOL_KEYS.items()}


def license_type(job: Job) -> str:
    """The agent license type ``job`` holds (``LICENSE_TYPES`` key): its ``license``, else
    by its pacing. Raises ``ValueError`` naming the job for an unknown type."""
    if job.license:
        if job.license not in LICENSE_TYPES:
            raise ValueError(f"job {job.name!r}: license {job.license!r}; expected one of "
                             f"{', '.join(LICENSE_TYPES)}")
        return job.license
    kind = POOL_OF_PACING.get(job.pacing.pacing, LicenseKind.PREDICTIVE_AGENT)
    return next(t for t, k in LICENSE_TYPES.items() if k == kind)


def license_kind(job: Job) -> LicenseKind:
    """The pool ``job`` draws its agent licenses from (see ``license_type``)."""
    return LICENSE_TYPES[license_type(job)]


REBALANCE_S = 30.0
MODES = ("reserved", "dynamic")


@dataclass(frozen=True)
class Licenses:
    """Agent license pools (``POOL_KEYS`` names -> licenses), the distribution mode
    (``reserved``: kept until a recalculation event; ``dynamic``: every period) and the
    rebalancing period in seconds."""

    pools: Mapping[str, int] = field(default_factory=dict)
    mode: str = "reserved"
    period_s: float = REBALANCE_S

    def __post_init__(self) -> None:
        unknown = set(self.pools) - set(POOL_KEYS)
        if unknown:
            raise ValueError(f"license pools: unknown {sorted(unknown)}; expected "
                             f"{sorted(POOL_KEYS)}")
        if self.mode not in MODES:
            raise ValueError(f"license mode: {self.mode!r}; expected one of {', '.join(MODES)}")
        if not self.period_s > 0:
            raise ValueError(f"license period_s: expected seconds > 0, got {self.period_s!r}")


class StaffedDialer(Protocol):
    """What the staffing reads from and does to the dialer."""

    @property
    def jobs(self) -> Sequence[Job]: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def agents(self) -> AgentManager: ...

    def assign(self, agent_job: np.ndarray) -> None:
        """Put agents on jobs (-1 = none); agents on a call move when it ends."""

    def answers_due(self, job: int) -> int:
        """Idle agents the job's calls in flight may still need."""

    def work_due(self, job: int, cap: int) -> int:
        """Contacts the job could dial now, counted up to ``cap``."""

    @property
    def pacer(self) -> Any: ...


class LicenseUsage:
    """Per job, time integrals over the measured ``window`` (agent-license seconds) of the
    licenses allocated, in use and short (starvation), and the seconds starved; sampled
    by the staffing every period (a left-point rule: each sample holds until the next)."""

    def __init__(self, n_jobs: int, window: tuple[float, float]):
        self.window = window
        self.allocated_s = np.zeros(n_jobs)
        self.in_use_s = np.zeros(n_jobs)
        self.short_s = np.zeros(n_jobs)
        self.starved_s = np.zeros(n_jobs)
        self.peak_in_use = np.zeros(n_jobs, dtype=np.int64)
        self._t: float | None = None
        self._last = (np.zeros(n_jobs, dtype=np.int64),) * 3

    def sample(self, now: float, allocated: np.ndarray, in_use: np.ndarray,
               short: np.ndarray) -> None:
        """Close the span since the last sample with its values, then hold these."""
        self._close(now)
        self._t = now
        self._last = (allocated.copy(), in_use.copy(), short.copy())
        lo, hi = self.window
        if lo <= now < hi:
            np.maximum(self.peak_in_use, in_use, out=self.peak_in_use)

    def _close(self, now: float) -> None:
        if self._t is None:
            return
        lo, hi = self.window
        dt = max(min(now, hi) - max(self._t, lo), 0.0)
        if dt > 0:
            a, u, sh = self._last
            self.allocated_s += a * dt
            self.in_use_s += u * dt
            self.short_s += sh * dt
            self.starved_s += (sh > 0) * dt

    def close(self, now: float) -> None:
        """Account the last span up to ``now`` (run end)."""
        self._close(now)
        self._t = now

    def job_figures(self, j: int) -> dict[str, float]:
        """Job ``j``'s means over the window: licenses allocated, in use, short, the share
        of time starved (short > 0), and the peak in use."""
        lo, hi = self.window
        span = hi - lo if np.isfinite(hi - lo) and hi > lo else 0.0
        mean = (lambda x: float(x[j]) / span) if span > 0 else (lambda x: 0.0)
        return {"licenses_allocated_mean": mean(self.allocated_s),
                "licenses_in_use_mean": mean(self.in_use_s),
                "licenses_in_use_peak": int(self.peak_in_use[j]),
                "licenses_short_mean": mean(self.short_s),
                "license_starved_share": mean(self.starved_s)}


class Staffing:
    """Keeps every agent-based job of ``dialer`` staffed within ``licenses``."""

    def __init__(self, dialer: StaffedDialer, licenses: Licenses):
        self.dialer = dialer
        self.period_s = licenses.period_s
        sizes = {POOL_KEYS[k]: int(v) for k, v in licenses.pools.items()}
        self.licenses = LicenseDistributor(
            sizes, DistributionMode.DYNAMIC if licenses.mode == "dynamic"
            else DistributionMode.RESERVED)
        self.agent_jobs = [j for j, job in enumerate(dialer.jobs)
                           if job.channel == Channel.VOICE_AGENT]
        n = len(dialer.jobs)
        self.pool_of_job = np.full(n, -1, dtype=np.int64)
        am = dialer.agents
        # a job's demand: its maximum, but never more agents than hold its skill (a job no
        # agent could work holds no license another job of the pool could use)
        self.qualified = np.zeros(n, dtype=np.int64)
        for j in self.agent_jobs:
            job = dialer.jobs[j]
            kind = license_kind(job)
            self.pool_of_job[j] = int(kind)
            m = int(job.skill_mask)
            self.qualified[j] = int(((am.skills & m) == m).sum())
            self.licenses.add_job(j, kind, job.priority, job.min_agents, job.max_agents,
                                  min(job.max_agents, int(self.qualified[j])))
        self.job_skills = np.array([job.skill_mask for job in dialer.jobs], dtype=np.int64)
        self._pools = np.unique(self.pool_of_job[self.pool_of_job >= 0])  # pools in use
        self.dirty = True
        self._targets: np.ndarray | None = None  # agents per job, the last rebalance's
        self._targets_before_fit: np.ndarray | None = None
        self._demand: np.ndarray | None = None  # the work demand the last split weighed
        self.moves = 0
        self.allocated = np.zeros(n, dtype=np.int64)
        self.usage = LicenseUsage(n, dialer.agents.window)
        self._agent_rows = np.array(self.agent_jobs, dtype=np.int64)
        self._max_agents = np.array([dialer.jobs[j].max_agents for j in self.agent_jobs],
                                    dtype=np.int64)
        # Jobs not running (not started yet, finished, stopped: ``set_running``) -> the
        # minimum they hold when they run; the distributor sees them at minimum and demand 0.
        self._idle: dict[int, int] = {}
        self._limits = {j: (dialer.jobs[j].min_agents, dialer.jobs[j].max_agents)
                        for j in self.agent_jobs}
        self._priority = {j: dialer.jobs[j].priority for j in self.agent_jobs}
        # Jobs whose license demand is held at the agents they could get (``_unusable``).
        self._caps: dict[int, int] = {}
        # The floor: the pools' shares together may ask for more agents than there are
        # (jobs of different pools, each pool as large as the staff): then the agents are
        # split by the same distributor, one pool of the agents who could work an
        # agent-based job, each job's pool share its demand and its minimum held
        # (``_fit_agents``), in equal shares: the split the assignment made when every
        # job started at once, now also for a job starting later, each job up to what
        # its work can use (``_work_demand``). (Weighing the jobs' priorities here gave a
        # priority job with little work most of the floor, idle.)
        self.floor = LicenseDistributor({LicenseKind.PREDICTIVE_AGENT: 0},
                                        DistributionMode.DYNAMIC)
        for j in self.agent_jobs:
            self.floor.add_job(j, LicenseKind.PREDICTIVE_AGENT, 1, 0, LICENSE_MAX_UNITS, 0)
        mask = np.zeros(am.n, dtype=bool)
        for j in self.agent_jobs:
            m = int(self.job_skills[j])
            mask |= (am.skills & m) == m
        # agents qualified for some agent-based job, logged in or not: the assignment places
        # both (an agent logging in finds its job), and at the first rebalance none is yet
        self._n_can_work = int(mask.sum())

    def pool_name(self, job: int) -> str | None:
        """The ``POOL_KEYS`` name of the pool job ``job`` draws from (None: not agent-based)."""
        k = int(self.pool_of_job[job])
        return POOL_NAMES[LicenseKind(k)] if k >= 0 else None

    def wanted_job(self, agent: int, job: int) -> int:
        """Where agent ``agent``, just free on ``job``, goes: ``job`` unless the last
        rebalance left the job more agents than its share (agents on a call stay until it
        ends); then a job short of its share that the agent can work (the first such), or
        none (-1). Without it the agent waited for the next rebalance (up to ``period_s``)
        idle on a job with no place for it, the pacer dialling for it meanwhile."""
        if job < 0 or not self.dirty or self._targets is None:
            return job
        staffed = self.in_use()
        if staffed[job] <= self._targets[job]:
            return job
        skills = int(self.dialer.agents.skills[agent])
        for j in self.agent_jobs:
            m = int(self.job_skills[j])
            if staffed[j] < self._targets[j] and (skills & m) == m:
                return j
        return -1

    def mark(self) -> None:
        """Something changed (login, logout, a job's limits): rebalance at the next period.

        An agent logging in again keeps the job it had; if its pool has no license left
        for it, it is detached at once (``_release_over_pool``), so the licenses in use
        never exceed a pool between rebalances either."""
        self.dirty = True
        self._release_over_pool()

    def _release_over_pool(self) -> None:
        """Detach logged-in agents not on a call from the jobs of any pool whose licenses in
        use exceed its size: lowest priority job (then highest index) first, the agent
        attached last (highest index) first."""
        am = self.dialer.agents
        sizes = self.licenses.pool_sizes
        pools = self._pools
        if (sizes[pools] >= am.n).all():  # no pool can be over (every login used to count
            return  # every agent: quadratic as 100,000 agents logged in)
        in_use = self.in_use()
        jobs = self.dialer.jobs
        new = None
        for k in pools.tolist():
            rows = np.flatnonzero(self.pool_of_job == k)
            over = int(in_use[rows].sum()) - int(sizes[k])
            if over <= 0:
                continue
            for j in sorted(rows.tolist(), key=lambda j: (jobs[j].priority, -j)):
                free = np.flatnonzero((am.job == j) & (am.status != AgentStatus.OFF)
                                      & ~am.on_call & ~am.handling())
                drop = free[::-1][:over]
                if drop.size:
                    new = am.job.copy() if new is None else new
                    new[drop] = -1
                    over -= drop.size
                if over <= 0:
                    break
        if new is not None:
            self.dialer.assign(new)

    def set_limits(self, job: int, minimum: int | None = None, maximum: int | None = None,
                   priority: int | None = None) -> None:
        """Runtime change of a job's minimum agents, maximum or priority (next period; a job
        not running holds them from its start)."""
        if job not in self._limits:  # a notification job: no agent, no agent license
            raise ValueError(f"job {self.dialer.jobs[job].name!r} is "
                             f"{channel_name(self.dialer.jobs[job].channel)}: no agent "
                             "staffs it, so it has no agent minimum, maximum or priority to "
                             "set (set changes agent-based jobs)")
        lo, hi = self._limits[job]
        lo = lo if minimum is None else minimum
        hi = hi if maximum is None else maximum
        if lo > hi:
            raise ValueError(f"job {self.dialer.jobs[job].name!r}: minimum {lo} exceeds "
                             f"maximum {hi}; expected minimum <= maximum")
        if job in self._idle:
            if maximum is not None:
                self.licenses.set_maximum(job, maximum)  # its minimum there is 0
            self._idle[job] = lo
        else:
            if minimum is not None:
                self.licenses.set_minimum(job, minimum)
            if maximum is not None:
                self.licenses.set_maximum(job, maximum)
                self.licenses.set_demand(job, min(maximum, int(self.qualified[job])))
        if priority is not None:
            self.licenses.set_priority(job, priority)
            self._priority[job] = priority
        self._limits[job] = (lo, hi)
        self._max_agents[self._agent_rows == job] = hi  # what ``_sample`` counts short up to
        self.mark()

    def limits(self, job: int) -> tuple[int, int, int]:
        """Agent-based job ``job``'s minimum agents, maximum and priority now (its settings,
        as changed at runtime by ``set_limits``)."""
        lo, hi = self._limits[job]
        return lo, hi, self._priority[job]

    def set_running(self, job: int, running: bool) -> None:
        """Job ``job`` starts running (its minimum and demand back) or stops running: not
        started yet, finished or stopped (a pause is running: the job keeps its agents for
        the resume). A job not running holds no license and no agent, so the pool's and the
        floor's running jobs get them at the next rebalance (a recalculation event)."""
        if job not in self._limits or running == (job not in self._idle):
            return  # not agent-based, or no change
        lo = self._limits[job][0]
        if running:
            del self._idle[job]
            self.licenses.set_minimum(job, lo)
            self.licenses.set_demand(job, self._full_demand(job))
        else:
            self._idle[job] = lo
            self.licenses.set_minimum(job, 0)
            self.licenses.set_demand(job, 0)
        self.licenses.request_recalculation(LicenseKind(int(self.pool_of_job[job])))
        self.mark()

    def start(self) -> None:
        """Staff the jobs now and keep them staffed every ``period_s``."""
        self.rebalance()
        self.dialer.clock.call_later(self.period_s, self._periodic)

    def _periodic(self) -> None:
        if self.dirty or self.licenses.mode == DistributionMode.DYNAMIC or self._work_moved():
            self.rebalance()
        else:
            self._sample()
        self.dialer.clock.call_later(self.period_s, self._periodic)

    def in_use(self) -> np.ndarray:
        """Licenses in use per job: logged-in agents attached to it, int64 (n_jobs,)."""
        am = self.dialer.agents
        on = (am.job >= 0) & (am.status != AgentStatus.OFF)
        return np.bincount(am.job[on], minlength=len(self.dialer.jobs)).astype(np.int64)

    def _stuck(self) -> np.ndarray:
        """Agents per job that cannot leave it now (on a call or in wrap-up)."""
        am = self.dialer.agents
        stuck = (am.handling() | am.on_call) & (am.job >= 0)
        return np.bincount(am.job[stuck], minlength=len(self.dialer.jobs)).astype(np.int64)

    def _fit_pools(self, targets: np.ndarray) -> np.ndarray:
        """Targets lowered so that, per pool, the licenses held after the assignment
        (``max(target, agents stuck on the job)`` per job) fit in the pool: the places the
        stuck agents overrun are taken from the pool's other jobs, lowest priority (then
        highest index) first."""
        stuck = self._stuck()
        out = targets.copy()
        sizes = self.licenses.pool_sizes
        jobs = self.dialer.jobs
        for k in np.unique(self.pool_of_job[self.pool_of_job >= 0]).tolist():
            rows = np.flatnonzero(self.pool_of_job == k)
            over = int((np.maximum(out[rows], stuck[rows]).sum()) - sizes[k])
            if over <= 0:
                continue
            for j in sorted(rows.tolist(), key=lambda j: (jobs[j].priority, -j)):
                give = min(over, max(int(out[j] - stuck[j]), 0))
                out[j] -= give
                over -= give
                if over <= 0:
                    break
        return out

    def _fit_agents(self, targets: np.ndarray) -> np.ndarray:
        """Targets lowered so that together they fit the agents who could work an
        agent-based job: unchanged when they do, else split by ``floor`` (minimums first,
        the rest in equal shares by water-filling, each job up to its pool share and its
        work demand, ``_work_demand``). Without it the assignment (fewest moves) kept the
        agents where they were: a job started later got none."""
        rows = self._agent_rows
        n_on = self._n_can_work
        if int(targets[rows].sum()) <= n_on:
            return targets
        floor = self.floor
        floor.set_pool_size(LicenseKind.PREDICTIVE_AGENT, n_on)
        demand = self._work_demand(targets)
        self._demand = demand
        for j in self.agent_jobs:
            t = int(targets[j])
            floor.set_demand(j, int(demand[j]))
            floor.set_minimum(j, min(self._limits[j][0], t) if j not in self._idle else 0)
        alloc = floor.allocate()
        out = targets.copy()
        for row, j in enumerate(floor.jobs):
            out[j] = alloc[row]
        return out

    def _work_demand(self, targets: np.ndarray) -> np.ndarray:
        """Per job, the agents its work can use, at most its target: where the agents do
        not go round (``_fit_agents``), a job with little to dial (a trickle of new leads)
        holds its minimum, the agents on its calls, those its calls in flight may need
        (``answers_due``) and those the answers of its contacts due now may need (one more
        for the next); one with plenty to dial, its target. Shared in equal shares by
        target alone, such a job held half a floor idle (day-profile's leads: 14.7 agents,
        ~6 busy) while another could use them."""
        d = self.dialer
        stuck = self._stuck()
        out = targets.copy()
        for j in self.agent_jobs:
            t = int(targets[j])
            if t <= 0 or j in self._idle:
                continue
            hit = min(max(float(d.pacer.last_hit_rate[j]), MIN_WORK_HIT), 1.0)
            cap = math.ceil(t / hit) + 1  # contacts enough to keep t agents on calls
            due = d.work_due(j, cap)
            if due >= cap:
                continue
            need = int(stuck[j]) + d.answers_due(j) + math.ceil(due * hit) + 1
            out[j] = min(t, max(need, self._limits[j][0]))
        return out

    def _work_moved(self) -> bool:
        """Whether a job's work demand moved since the last rebalance that weighed it."""
        if self._demand is None or self._targets is None:
            return False
        return bool((self._work_demand(self._targets_before_fit) != self._demand).any())

    def rebalance(self) -> None:
        """Licenses per job, then agents to jobs (agents on a call stay until it ends).

        Licenses a job's assignment leaves unused because its agents work other jobs (of
        another pool: two jobs sharing a skill), while a job of the same pool leaves agents
        of its own skill idle for want of licenses, go to that job: the first job's demand
        is held at the agents it got (``_unusable``) until an agent it could take is free
        again (``_release_caps``), and the allocation made again."""
        self.dirty = False
        if self._caps:
            self._release_caps()
        targets, res = self._place(self.licenses.tick())
        capped = self._unusable(targets, res.job)
        if capped:
            self._caps.update(capped)
            for j, n in capped.items():
                self.licenses.set_demand(j, n)
            targets, res = self._place(self.licenses.allocate())
        am = self.dialer.agents
        self.moves += int(res.moves)
        self.dialer.assign(res.job)
        self._targets = targets  # what each job holds: ``wanted_job`` reads it
        staffed = np.bincount(am.job[am.job >= 0], minlength=targets.size)
        if (am.job != res.job).any() or (staffed[self.agent_jobs] > targets[self.agent_jobs]
                                         ).any():
            self.dirty = True  # agents on a call move only when it ends: try again
        self._sample()

    def _place(self, alloc: np.ndarray) -> tuple[np.ndarray, Any]:
        """Targets per job from the license allocation ``alloc`` (the distributor's rows),
        fitted to the pools and the agents, and the assignment meeting them."""
        targets = np.zeros(len(self.dialer.jobs), dtype=np.int64)
        for row, j in enumerate(self.licenses.jobs):
            targets[j] = alloc[row]
        self.allocated = targets.copy()
        targets = self._fit_pools(targets)
        self._targets_before_fit = targets
        self._demand = None  # set by _fit_agents when the agents do not go round
        targets = self._fit_agents(targets)
        am = self.dialer.agents
        off = am.status == AgentStatus.OFF
        if not off.any():
            return targets, assign_agents(am.skills, am.job, am.handling(), self.job_skills,
                                          targets)
        # The agents logged in take the places first (the logged-out ones shown as on a
        # call without a job: they take none and hold none); the places left go to the
        # logged-out agents, who are on their job when they log in. In one pass, in agent
        # order, a shift starting later held the licenses while the agents logged in sat
        # idle (an evening group listed first: no attempt for 45 minutes)
        first = assign_agents(am.skills, np.where(off, -1, am.job), am.handling() | off,
                              self.job_skills, targets)
        res = assign_agents(am.skills, np.where(off, am.job, first.job), ~off,
                            self.job_skills, targets)
        return targets, res._replace(moves=first.moves + res.moves)

    def _release_caps(self) -> None:
        """Give back their demand to the jobs ``_unusable`` held that are not running, or
        that a free logged-in agent could work again (a recalculation of their pool)."""
        am = self.dialer.agents
        free_for = self._qualified_among(am.skills[(am.status != AgentStatus.OFF)
                                                   & (am.job < 0)])
        for j in list(self._caps):
            if j in self._idle:
                del self._caps[j]  # set_running gives the demand back when it runs
            elif free_for[j]:
                del self._caps[j]
                self.licenses.set_demand(j, self._full_demand(j))
                self.licenses.request_recalculation(LicenseKind(int(self.pool_of_job[j])))

    def _full_demand(self, job: int) -> int:
        """The most agents agent-based job ``job`` can use: its maximum, at most the agents
        qualified for it."""
        return min(self._limits[job][1], int(self.qualified[job]))

    def _qualified_among(self, skills: np.ndarray) -> np.ndarray:
        """Per job, how many of the agents with these skill masks qualify for it (int64,
        agent-based jobs; 0 for the others)."""
        out = np.zeros(len(self.dialer.jobs), dtype=np.int64)
        rows = self._agent_rows
        m = self.job_skills[rows]
        out[rows] = ((skills[:, None] & m[None, :]) == m[None, :]).sum(axis=0)
        return out

    def _unusable(self, targets: np.ndarray, placed: np.ndarray) -> dict[int, int]:
        """Running jobs whose licenses the assignment ``placed`` leaves unused although no
        logged-in agent holding their skill is free, in a pool where another running job
        has used all of its licenses and leaves such agents free: job -> the agents it got
        (at least its minimum). Empty when no pool is so split (one skill for all jobs)."""
        am = self.dialer.agents
        on = am.status != AgentStatus.OFF
        free = am.skills[on & (placed < 0)]
        if not free.size:
            return {}
        got = np.bincount(placed[on & (placed >= 0)], minlength=targets.size)
        rows = self._agent_rows
        free_for = self._qualified_among(free)
        out: dict[int, int] = {}
        for k in self._pools.tolist():
            pool = [j for j in rows[self.pool_of_job[rows] == k].tolist() if j not in self._idle]
            if not any(free_for[i] and got[i] >= targets[i] and targets[i] < self._full_demand(i)
                       for i in pool):
                continue
            for j in pool:
                if got[j] < targets[j] and not free_for[j]:
                    out[j] = max(int(got[j]), self._limits[j][0])
        return out

    def _sample(self) -> None:
        """Record licenses allocated, in use and short per job (``LicenseUsage``): a running
        job is short of the logged-in agents holding its skill and free of any job, up to
        its maximum, that its license share leaves out."""
        am = self.dialer.agents
        in_use = self.in_use()
        free = am.skills[(am.status != AgentStatus.OFF) & (am.job < 0)]
        short = np.zeros(len(self.dialer.jobs), dtype=np.int64)
        rows = self._agent_rows
        if rows.size:
            could = in_use[rows] + self._qualified_among(free)[rows]
            want = np.minimum(self._max_agents, could)
            short[rows] = np.maximum(want - self.allocated[rows], 0)
            if self._idle:  # a job not running wants no agent: it is never short
                short[list(self._idle)] = 0
        self.usage.sample(self.dialer.clock.now(), self.allocated, in_use, short)

    def close(self, now: float) -> None:
        """Account the license usage up to ``now`` (run end)."""
        self.usage.close(now)

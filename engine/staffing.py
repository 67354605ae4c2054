"""Staffing: licenses per job from the pools, then agents onto jobs by skill, fewest moves.

The agent manager's job, on the pacer's license distribution and assignment kernels. It
runs at start, and again (every ``period_s``) after agents logged in or out, or when a job's
minimum, maximum or priority changed at runtime; in dynamic mode on every period.

The dialer builds its staffing from a ``Licenses`` setting and hands itself over as the
``StaffedDialer`` the staffing reads and drives: nothing is wired after construction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from engine.agents import AgentManager
from engine.attempt import Channel
from engine.interfaces import Clock
from engine.job import Job
from pacer.assignment import assign_agents
from pacer.licenses import DistributionMode, LicenseDistributor
from pacer.modes import AgentStatus, LicenseKind, Pacing

POOL_OF_PACING = {
    Pacing.PREVIEW: LicenseKind.PREVIEW_AGENT,
    Pacing.PROGRESSIVE: LicenseKind.PROGRESSIVE_AGENT,
}
POOL_KEYS = {"predictive_agents": LicenseKind.PREDICTIVE_AGENT,
             "progressive_agents": LicenseKind.PROGRESSIVE_AGENT,
             "preview_agents": LicenseKind.PREVIEW_AGENT}
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
        for j in self.agent_jobs:
            job = dialer.jobs[j]
            kind = POOL_OF_PACING.get(job.pacing.pacing, LicenseKind.PREDICTIVE_AGENT)
            self.licenses.add_job(j, kind, job.priority, job.min_agents, job.max_agents,
                                  job.max_agents)
        self.job_skills = np.array([job.skill_mask for job in dialer.jobs], dtype=np.int64)
        self.dirty = True
        self.moves = 0

    def mark(self) -> None:
        """Something changed (login, logout, a job's limits): rebalance at the next period."""
        self.dirty = True

    def set_limits(self, job: int, minimum: int | None = None, maximum: int | None = None,
                   priority: int | None = None) -> None:
        """Runtime change of a job's minimum agents, maximum or priority (next period)."""
        if minimum is not None:
            self.licenses.set_minimum(job, minimum)
        if maximum is not None:
            self.licenses.set_maximum(job, maximum)
            self.licenses.set_demand(job, maximum)
        if priority is not None:
            self.licenses.set_priority(job, priority)
        self.mark()

    def start(self) -> None:
        """Staff the jobs now and keep them staffed every ``period_s``."""
        self.rebalance()
        self.dialer.clock.call_later(self.period_s, self._periodic)

    def _periodic(self) -> None:
        if self.dirty or self.licenses.mode == DistributionMode.DYNAMIC:
            self.rebalance()
        self.dialer.clock.call_later(self.period_s, self._periodic)

    def rebalance(self) -> None:
        """Licenses per job, then agents to jobs (agents on a call stay until it ends)."""
        self.dirty = False
        alloc = self.licenses.tick()
        targets = np.zeros(len(self.dialer.jobs), dtype=np.int64)
        for row, j in enumerate(self.licenses.jobs):
            targets[j] = alloc[row]
        am = self.dialer.agents
        on_call = (am.status == AgentStatus.BUSY) | (am.status == AgentStatus.BUSY_LEAVING)
        res = assign_agents(am.skills, am.job, on_call, self.job_skills, targets)
        self.moves += int(res.moves)
        self.dialer.assign(res.job)
        staffed = np.bincount(am.job[am.job >= 0], minlength=targets.size)
        if (am.job != res.job).any() or (staffed[self.agent_jobs] > targets[self.agent_jobs]
                                         ).any():
            self.dirty = True  # agents on a call move only when it ends: try again

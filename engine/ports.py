"""Port licenses: the outbound-port pool split among notification jobs, the rest to agents.

The agent manager distributes the outbound-port pool (``pacer.modes.LicenseKind.
OUTBOUND_PORT``) among the running agentless voice (notification) jobs through the license
distributor (``pacer.licenses``): minimums first in priority order (``min_ports``), the rest
by priority-weighted water-filling up to ``min(max_ports, demand)``. In *reserved* mode a
job's ports are held for it until a recalculation event (a job's limits change, the pool
changes), whether it uses them or not; in *dynamic* mode the split follows the jobs' demand
(ports in flight plus attempts wanted now) every tick.

Every tick, with ``free`` = the telephony's capacity now (free voice-portal ports, carrier
setups) and the free ports = the portal's ports less the calls in flight:

1. a notification job may launch ``min(wanted, allocation - in flight)`` attempts, in
   priority order, within ``free``; the rest are *blocked* for want of a port (a time-based
   attempt offered to a full pool is a loss, recorded as BLOCKED);
2. the ports a notification job holds but does not use (``allocation - in flight -
   launched``) stay reserved for it: agent-based jobs' calls take their ports from what is
   left, ``min(free - launched, free ports - launched - reserved)``, shared round-robin one
   line per job per round;
   dials cut there are *delayed* (the pacer decides again next tick).

So notification jobs never hold more ports than the pool (nor, in reserved mode, more than
their allocation; in dynamic mode a share that shrank is reached as calls end, never by
cutting one), reservations are honoured at every tick, and the voice portal's port count
caps both kinds of job (``free`` comes from it). Per job the counters ``blocked`` and
``delayed`` say which job starved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.attempt import Channel
from engine.job import Job
from pacer.licenses import DistributionMode, LicenseDistributor
from pacer.modes import LicenseKind

MODES = ("reserved", "dynamic")


@dataclass(frozen=True)
class PortPool:
    """The outbound ports licensed for notification jobs, the distribution mode, and the
    voice portal's telephony ports (None: only the telephony's capacity is known)."""

    size: int
    mode: str = "reserved"
    portal_ports: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise ValueError(f"outbound_ports: expected a whole number >= 0, got {self.size!r}")
        if self.portal_ports is not None and (isinstance(self.portal_ports, bool) or not
                                              isinstance(self.portal_ports, int)
                                              or self.portal_ports < 0):
            raise ValueError(f"portal_ports: expected a whole number >= 0, got "
                             f"{self.portal_ports!r}")
        if self.mode not in MODES:
            raise ValueError(f"license mode: {self.mode!r}; expected one of {', '.join(MODES)}")


class PortLicensing:
    """Fits each tick's decided attempts to the port pool and the free ports (module doc)."""

    def __init__(self, jobs: Sequence[Job], pool: PortPool):
        self.pool = pool
        n = len(jobs)
        self.notif = np.array([j for j, job in enumerate(jobs)
                               if job.channel == Channel.VOICE_AGENTLESS], dtype=np.int64)
        self.agent = np.array([j for j, job in enumerate(jobs)
                               if job.channel == Channel.VOICE_AGENT], dtype=np.int64)
        self.dist = LicenseDistributor(
            {LicenseKind.OUTBOUND_PORT: pool.size},
            DistributionMode.DYNAMIC if pool.mode == "dynamic" else DistributionMode.RESERVED)
        for j in self.notif.tolist():
            p = jobs[j].pacing
            hi = int(min(p.max_ports, max(pool.size, p.min_ports)))
            self.dist.add_job(j, LicenseKind.OUTBOUND_PORT, int(jobs[j].priority),
                              int(min(p.min_ports, hi)), hi, hi)
        order = sorted(self.notif.tolist(), key=lambda j: (-jobs[j].priority, j))
        self._order = np.array(order, dtype=np.int64)
        self.alloc = np.zeros(n, dtype=np.int64)  # per job (0 for other jobs)
        self.blocked = np.zeros(n, dtype=np.int64)
        self.delayed = np.zeros(n, dtype=np.int64)
        self.reserved_idle = 0  # ports held unused by notification jobs after the last fit
        self._rr = 0

    def fit(self, dials: np.ndarray, in_flight: np.ndarray, free: int) -> np.ndarray:
        """Cut ``dials`` (int64 per job, in place) to the pool and ``free`` ports; returns
        the notification attempts blocked per job this tick (agent-based cuts are only
        counted as delayed)."""
        free = max(int(free), 0)
        notif = self.notif
        if self.pool.mode == "dynamic":
            for j in notif.tolist():
                self.dist.set_demand(j, int(in_flight[j] + dials[j]))
        alloc = self.dist.tick()
        for row, j in enumerate(self.dist.jobs):
            self.alloc[j] = alloc[row]
        cut = np.zeros(dials.size, dtype=np.int64)
        left = free
        # in dynamic mode a job's share can fall below the calls it still has in flight
        # (calls are never cut): the pool as a whole is the bound that always holds
        pool_left = self.pool.size - (int(in_flight[notif].sum()) if notif.size else 0)
        for j in self._order.tolist():
            want = int(dials[j])
            room = max(int(self.alloc[j] - in_flight[j]), 0)
            give = max(min(want, room, left, pool_left), 0)
            left -= give
            pool_left -= give
            cut[j] = want - give
            dials[j] = give
        self.blocked += cut
        held = self.alloc[notif] - in_flight[notif] - dials[notif] if notif.size else notif
        self.reserved_idle = int(np.maximum(held, 0).sum()) if notif.size else 0
        # the telephony's capacity also counts carrier setups: reservations are ports, so
        # they come off the free ports (known from the portal's count), not off the setups
        ports_left = free if self.pool.portal_ports is None else \
            self.pool.portal_ports - int(in_flight.sum())
        launched = free - left
        agent_room = min(left, ports_left - launched - self.reserved_idle)
        self._share(dials, max(agent_room, 0))
        return cut

    def _share(self, dials: np.ndarray, free: int) -> None:
        """Agent-based dials within ``free`` ports, one line per job per round, the first
        job in the round rotating from tick to tick."""
        rows = self.agent[dials[self.agent] > 0] if self.agent.size else self.agent
        want = int(dials[rows].sum()) if rows.size else 0
        if want <= free:
            return
        start = self._rr % rows.size
        self._rr += 1
        order = np.concatenate([rows[start:], rows[:start]])
        give = np.zeros(order.size, dtype=np.int64)
        left = free
        while left > 0:
            more = np.flatnonzero(dials[order] - give > 0)
            if more.size == 0:
                break
            take = more[:left]
            give[take] += 1
            left -= take.size
        self.delayed[order] += dials[order] - give
        dials[order] = give

    def set_limits(self, job: int, minimum: int | None = None, maximum: int | None = None,
                   priority: int | None = None) -> None:
        """Runtime change of a notification job's port minimum, maximum or priority
        (a recalculation event: effective at the next tick in either mode)."""
        if maximum is not None:
            self.dist.set_maximum(job, maximum)
            self.dist.set_demand(job, maximum)
        if minimum is not None:
            self.dist.set_minimum(job, minimum)
        if priority is not None:
            self.dist.set_priority(job, priority)

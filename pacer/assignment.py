"""Agent-to-job assignment: staff each job up to its target with as few moves as possible.

Inputs are structure-of-arrays, one row per agent and one per job:

- ``agent_skills`` int64 (n,): skill bitmask of each agent;
- ``agent_job`` int64 (n,): the job each agent is on now, or -1 for none;
- ``agent_on_call`` (n,): nonzero when the agent is on a call (talk or wrap-up);
- ``job_skills`` int64 (m,): skill bitmask a job requires; an agent *qualifies* for job j
  when it has every required skill, ``agent_skills & job_skills[j] == job_skills[j]``
  (a job requiring no skill takes anyone);
- ``job_target`` int64 (m,): how many agents the job should have (from the license split).

Rules, in order of precedence:

1. **An agent on a call never moves.** It keeps its job (even one it no longer qualifies
   for, or one staffed over target) and counts towards that job's staffing; it becomes
   movable when its call ends and the assignment is run again. Idle agents fill the rest:
   job j takes at most ``max(0, target_j - agents on a call at j)`` of them, so a job ends
   over its target only through agents on calls.
2. **Staff as many places as possible** (a maximum flow of idle agents into those places).
3. **Among those, move as few agents as possible.** A move is any agent whose job changes,
   joining from -1 and leaving to -1 included. So an idle agent stays on its job whenever
   the job still has room for it and keeping it costs no staffing; surplus idle agents
   leave over-staffed jobs and, when qualified, fill under-staffed ones (a released agent
   fills a place before an agent without a job, because it moves anyway). An agent moves
   away from a job that still needs it only when that lets one more place be staffed.
4. **Ties are broken deterministically, to preserve flexibility:** among equally cheap
   choices, agents qualified for fewer jobs (with a place) are placed or kept first, then
   agents with fewer skill bits, then lower agent index; so generalists are the ones left
   free. An agent placed without displacing anyone goes to the qualifying job with the most
   free places left (then the lowest index), which spreads a shortage across jobs.

Rules 2 and 3 make a min-cost max-flow problem (idle agent -> qualified job -> sink with
the job's free places as capacity; cost 0 to stay, 1 for an agent that had a job, 2 for one
without, which counts moves exactly when the flow is maximum). The kernel solves it with the
primal-dual method: a Dijkstra over the residual graph with potentials finds the cheapest
augmenting cost, then Kuhn's augmenting-path search saturates every path of that cost (each
idle agent tried once per phase in the preference order of rule 4; jobs proven to lead
nowhere are skipped for the rest of the phase). The number of phases is the number of
distinct path costs, a handful in practice. The tests compare staffing and moves with an
exhaustive enumeration and with scipy's linear_sum_assignment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numba
import numpy as np

_INF = 1 << 60


@numba.njit(cache=True)
def _popcount(x):
    c = 0
    for b in range(64):
        c += (x >> b) & 1
    return c


@numba.njit(cache=True)
def _cost(init, j):
    """Cost of placing an agent whose job was ``init`` at job ``j`` (see module doc)."""
    if j == init:
        return 0
    if init >= 0:
        return 1
    return 2


@numba.njit(cache=True)
def _unlink(b, j, head, nxt, prv):
    if prv[b] >= 0:
        nxt[prv[b]] = nxt[b]
    else:
        head[j] = nxt[b]
    if nxt[b] >= 0:
        prv[nxt[b]] = prv[b]
    nxt[b] = -1
    prv[b] = -1


@numba.njit(cache=True)
def _link(b, j, head, nxt, prv):
    nxt[b] = head[j]
    prv[b] = -1
    if head[j] >= 0:
        prv[head[j]] = b
    head[j] = b


@numba.njit(cache=True)
def _assign(agent_skills, agent_job, agent_on_call, job_skills, job_target):
    """Assign agents to jobs (module docstring: the rules).

    agent_skills, agent_job, agent_on_call: int64 (n,); job_skills, job_target: int64 (m,).
    agent_job values in [-1, m). Returns (new_job int64 (n,), moves int64).
    """
    n = agent_skills.shape[0]
    m = job_skills.shape[0]
    new_job = agent_job.copy()

    # Places left for idle agents.
    cap = job_target.copy()
    for a in range(n):
        if agent_on_call[a] != 0 and agent_job[a] >= 0:
            cap[agent_job[a]] -= 1
    for j in range(m):
        if cap[j] < 0:
            cap[j] = 0

    # Idle agents, in local numbering 0..ni-1.
    ni = 0
    for a in range(n):
        if agent_on_call[a] == 0:
            ni += 1
    ag = np.empty(ni, np.int64)
    init = np.empty(ni, np.int64)
    i = 0
    for a in range(n):
        if agent_on_call[a] == 0:
            ag[i] = a
            init[i] = agent_job[a]
            i += 1

    qual = np.zeros((ni, m), np.bool_)
    flex = np.zeros(ni, np.int64)
    for i in range(ni):
        s = agent_skills[ag[i]]
        for j in range(m):
            if cap[j] > 0 and (s & job_skills[j]) == job_skills[j]:
                qual[i, j] = True
                flex[i] += 1
    # Preference order (rule 4): fewer qualifying jobs, fewer skill bits, lower index.
    pref_key = np.empty(ni, np.int64)
    for i in range(ni):
        pref_key[i] = (flex[i] * 65 + _popcount(agent_skills[ag[i]])) * (ni + 1) + i
    order = np.argsort(pref_key)

    assign = np.full(ni, -1, np.int64)
    load = np.zeros(m, np.int64)
    head = np.full(m, -1, np.int64)
    nxt = np.full(ni, -1, np.int64)
    prv = np.full(ni, -1, np.int64)
    pi_a = np.zeros(ni, np.int64)
    pi_j = np.zeros(m, np.int64)
    pi_t = 0
    da = np.empty(ni, np.int64)
    dj = np.empty(m, np.int64)
    settled = np.zeros(m, np.bool_)
    vis = np.zeros(m, np.int64)  # search stamp of the last visit
    dead = np.zeros(m, np.int64)  # phase stamp: no augmenting path from this job
    touched = np.empty(m, np.int64)
    # DFS stack, one frame per agent on the path.
    st_agent = np.empty(m + 1, np.int64)
    st_jcur = np.empty(m + 1, np.int64)
    st_job = np.empty(m + 1, np.int64)
    st_bcur = np.empty(m + 1, np.int64)
    stamp = 0
    phase = 0

    # Cost-0 paths first, directly: every idle agent stays on its job while the job has
    # room for it, in preference order (what the first primal-dual phase would do). With
    # zero potentials every residual edge keeps a reduced cost >= 0, so the phases below
    # start from a valid state.
    for r in range(ni):
        i = order[r]
        j = init[i]
        if j >= 0 and qual[i, j] and load[j] < cap[j]:
            _link(i, j, head, nxt, prv)
            load[j] += 1
            assign[i] = j

    while True:
        # ---- Dijkstra from the source with reduced costs (all >= 0) ----
        phase += 1
        for j in range(m):
            dj[j] = _INF
            settled[j] = False
        dt = _INF
        for i in range(ni):
            da[i] = _INF
            if assign[i] < 0:
                da[i] = -pi_a[i]
                for j in range(m):
                    if qual[i, j]:
                        nd = da[i] + _cost(init[i], j) + pi_a[i] - pi_j[j]
                        if nd < dj[j]:
                            dj[j] = nd
        while True:
            best = -1
            bd = _INF
            for j in range(m):
                if not settled[j] and dj[j] < bd:
                    bd = dj[j]
                    best = j
            if best < 0 or bd >= dt:
                break
            settled[best] = True
            if load[best] < cap[best]:
                nd = bd + pi_j[best] - pi_t
                if nd < dt:
                    dt = nd
            b = head[best]
            while b >= 0:
                db = bd - _cost(init[b], best) + pi_j[best] - pi_a[b]
                da[b] = db
                for k in range(m):
                    if qual[b, k] and not settled[k] and k != best:
                        nd = db + _cost(init[b], k) + pi_a[b] - pi_j[k]
                        if nd < dj[k]:
                            dj[k] = nd
                b = nxt[b]
        if dt >= _INF:
            break
        for j in range(m):
            pi_j[j] += min(dj[j], dt)
        for i in range(ni):
            pi_a[i] += min(da[i], dt)
        pi_t += dt

        # ---- Kuhn: saturate the admissible (zero reduced cost) graph ----
        for r in range(ni):
            i0 = order[r]
            if assign[i0] >= 0 or pi_a[i0] != 0:
                continue
            stamp += 1
            nt = 0
            sp = 1
            st_agent[0] = i0
            st_jcur[0] = 0
            st_job[0] = -1
            st_bcur[0] = -1
            found = False
            while sp > 0:
                f = sp - 1
                x = st_agent[f]
                if st_job[f] < 0:
                    if st_jcur[f] == 0:
                        # Direct placement first: the admissible job with the most room.
                        best = -1
                        room = 0
                        for k in range(m):
                            if (
                                qual[x, k]
                                and k != assign[x]
                                and vis[k] != stamp
                                and dead[k] != phase
                                and load[k] < cap[k]
                                and pi_j[k] == pi_t
                                and _cost(init[x], k) + pi_a[x] - pi_j[k] == 0
                                and cap[k] - load[k] > room
                            ):
                                best = k
                                room = cap[k] - load[k]
                        if best >= 0:
                            st_job[f] = best
                            found = True
                            break
                    k = st_jcur[f]
                    while k < m:
                        if (
                            qual[x, k]
                            and k != assign[x]
                            and vis[k] != stamp
                            and dead[k] != phase
                            and _cost(init[x], k) + pi_a[x] - pi_j[k] == 0
                        ):
                            break
                        k += 1
                    if k >= m:
                        sp -= 1
                        continue
                    st_jcur[f] = k + 1
                    vis[k] = stamp
                    touched[nt] = k
                    nt += 1
                    st_job[f] = k
                    st_bcur[f] = head[k]
                # Every agent on job k can be displaced along a zero reduced cost edge: an
                # agent's only way in is from its job, so Dijkstra gives it its job's
                # distance plus that edge's reduced cost, and the potential updates keep
                # the cost at the 0 it had when the agent was placed.
                b = st_bcur[f]
                if b < 0:
                    st_job[f] = -1  # job exhausted: try the agent's next job
                    continue
                st_bcur[f] = nxt[b]
                st_agent[sp] = b
                st_jcur[sp] = 0
                st_job[sp] = -1
                st_bcur[sp] = -1
                sp += 1
            if found:
                for f in range(sp - 1, -1, -1):  # last first: leave, then fill
                    x = st_agent[f]
                    k = st_job[f]
                    if assign[x] >= 0:
                        _unlink(x, assign[x], head, nxt, prv)
                        load[assign[x]] -= 1
                    _link(x, k, head, nxt, prv)
                    load[k] += 1
                    assign[x] = k
            else:
                for t in range(nt):
                    dead[touched[t]] = phase

    moves = 0
    for i in range(ni):
        new_job[ag[i]] = assign[i]
    for a in range(n):
        if new_job[a] != agent_job[a]:
            moves += 1
    return new_job, moves


class Assignment(NamedTuple):
    """Result of :func:`assign_agents`."""

    job: np.ndarray  # int64 (n_agents,): new job per agent, -1 for none
    moves: int  # agents whose job changed (to or from -1 included)
    staffing: np.ndarray  # int64 (n_jobs,): agents per job afterwards, on-call ones included


def _as_int64(name: str, values: object, n: int | None = None) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if arr.size and not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} must have length {n}, got {arr.shape[0]}")
    if arr.dtype == np.uint64:
        return arr.view(np.int64).copy()  # bitmasks: keep the 64 bits
    return np.array(arr, dtype=np.int64)


def assign_agents(
    agent_skills: Sequence[int] | np.ndarray,
    agent_job: Sequence[int] | np.ndarray,
    agent_on_call: Sequence[bool] | np.ndarray,
    job_skills: Sequence[int] | np.ndarray,
    job_target: Sequence[int] | np.ndarray,
) -> Assignment:
    """Assign agents to jobs by skill with as few moves as possible (module doc: rules).

    Args:
        agent_skills: (n,) skill bitmasks (int64; uint64 bit patterns are accepted).
        agent_job: (n,) current job per agent, in [-1, m); -1 for none.
        agent_on_call: (n,) truthy for an agent on a call (it will not move).
        job_skills: (m,) required skill bitmasks.
        job_target: (m,) agents wanted per job, >= 0.

    Returns:
        Assignment(job, moves, staffing).

    Raises:
        ValueError: naming the argument and the first bad row.
    """
    skills = _as_int64("agent_skills", agent_skills)
    n = skills.shape[0]
    job = _as_int64("agent_job", agent_job, n)
    on_call = (_as_int64("agent_on_call", agent_on_call, n) != 0).astype(np.int64)
    req = _as_int64("job_skills", job_skills)
    m = req.shape[0]
    target = _as_int64("job_target", job_target, m)
    bad = np.nonzero((job < -1) | (job >= m))[0]
    if bad.size:
        a = int(bad[0])
        raise ValueError(
            f"agent_job[{a}] (agent {a}) must be -1 or a job index in [0, {m}), got {int(job[a])}"
        )
    bad = np.nonzero(target < 0)[0]
    if bad.size:
        j = int(bad[0])
        raise ValueError(f"job_target[{j}] (job {j}) must be >= 0, got {int(target[j])}")
    new_job, moves = _assign(skills, job, on_call, req, target)
    staffing = np.bincount(new_job[new_job >= 0], minlength=m).astype(np.int64)
    return Assignment(new_job, int(moves), staffing)


def warmup() -> None:
    """Compile this module's kernel (cached on disk) so no live decision waits on a JIT."""
    _assign(
        np.array([1, 3, 2], np.int64),
        np.array([0, -1, 1], np.int64),
        np.array([0, 0, 1], np.int64),
        np.array([1, 2], np.int64),
        np.array([1, 2], np.int64),
    )

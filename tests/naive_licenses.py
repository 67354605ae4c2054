"""Plain-Python oracles for pacer.licenses and pacer.assignment.

Slow and obvious on purpose: the license split hands out one unit at a time, exactly as
the rule is stated; the assignment optimum comes from an exhaustive enumeration (tiny
instances) or scipy's linear_sum_assignment over agent x slot costs (small instances).
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
from scipy.optimize import linear_sum_assignment

# --------------------------------------------------------------------------------------
# Licenses
# --------------------------------------------------------------------------------------


def allocate_pool(pool_size, priority, minimum, maximum, demand):
    """One pool, unit by unit: minimums by priority, then the divisor (Webster) rule."""
    n = len(priority)
    order = sorted(range(n), key=lambda j: (-priority[j], j))
    rank = {j: r for r, j in enumerate(order)}
    alloc = [0] * n
    left = pool_size
    for j in order:
        give = min(minimum[j], maximum[j], left)
        alloc[j] = give
        left -= give
    if left == 0:
        return alloc
    cap = [max(alloc[j], min(maximum[j], demand[j])) for j in range(n)]
    while left > 0:
        best = None
        best_key = None
        for j in range(n):
            if alloc[j] >= cap[j]:
                continue
            # the next unit (alloc + 1) arrives at level (alloc + 1/2) / priority
            key = (Fraction(2 * alloc[j] + 1, 2 * priority[j]), rank[j])
            if best is None or key < best_key:
                best, best_key = j, key
        if best is None:
            break
        alloc[best] += 1
        left -= 1
    return alloc


def allocate(pool_sizes, kind, priority, minimum, maximum, demand):
    """Every pool: job j draws from pool kind[j]; each pool split by allocate_pool."""
    n = len(kind)
    out = [0] * n
    for p, size in enumerate(pool_sizes):
        idx = [j for j in range(n) if kind[j] == p]
        part = allocate_pool(
            int(size),
            [int(priority[j]) for j in idx],
            [int(minimum[j]) for j in idx],
            [int(maximum[j]) for j in idx],
            [int(demand[j]) for j in idx],
        )
        for j, a in zip(idx, part, strict=True):
            out[j] = a
    return out


def water_level_shares(pool_size, priority, minimum, maximum, demand):
    """Continuous (real-valued) shares of the water-fill, minimums covered by the pool."""
    n = len(priority)
    base = allocate_pool(pool_size, priority, minimum, maximum, [0] * n)
    extra = pool_size - sum(base)
    cap = [max(base[j], min(maximum[j], demand[j])) for j in range(n)]

    def filled(level):
        return [min(max(level * priority[j], base[j]), cap[j]) for j in range(n)]

    if extra <= 0 or sum(cap) <= pool_size:
        return [float(c) if extra > 0 else float(b) for b, c in zip(base, cap, strict=True)]
    lo, hi = 0.0, max((cap[j] + 1) / priority[j] for j in range(n))
    for _ in range(200):
        mid = (lo + hi) / 2
        if sum(filled(mid)) <= pool_size:
            lo = mid
        else:
            hi = mid
    return filled(lo)


def largest_remainder(pool_size, weight):
    """Hamilton's largest-remainder apportionment (the rule with the Alabama paradox)."""
    total = sum(weight)
    quotas = [Fraction(pool_size * w, total) for w in weight]
    alloc = [int(q) for q in quotas]
    left = pool_size - sum(alloc)
    by_remainder = sorted(range(len(weight)), key=lambda j: (-(quotas[j] - alloc[j]), j))
    for j in by_remainder[:left]:
        alloc[j] += 1
    return alloc


# --------------------------------------------------------------------------------------
# Assignment
# --------------------------------------------------------------------------------------


def qualified(agent_skill, job_skill):
    """An agent serves a job when it has every skill the job requires."""
    return (int(agent_skill) & int(job_skill)) == int(job_skill)


def idle_capacity(agent_job, agent_on_call, job_target):
    """Places left for idle agents per job: target minus the agents on a call there."""
    cap = [int(t) for t in job_target]
    for j, busy in zip(agent_job, agent_on_call, strict=True):
        if busy and j >= 0:
            cap[j] -= 1
    return [max(0, c) for c in cap]


def moves_of(agent_job, new_job):
    """Agents whose job changed (joining from -1 and leaving to -1 count)."""
    return sum(int(a != b) for a, b in zip(agent_job, new_job, strict=True))


def assign_optimum_enumerate(agent_skills, agent_job, agent_on_call, job_skills, job_target):
    """(most idle agents placed, fewest moves among those) by trying every assignment."""
    m = len(job_skills)
    cap = idle_capacity(agent_job, agent_on_call, job_target)
    idle = [a for a in range(len(agent_job)) if not agent_on_call[a]]
    options = []
    for a in idle:
        opts = [-1] + [
            j for j in range(m) if cap[j] > 0 and qualified(agent_skills[a], job_skills[j])
        ]
        options.append(opts)
    best = None
    for choice in itertools.product(*options):
        load = [0] * m
        for j in choice:
            if j >= 0:
                load[j] += 1
        if any(load[j] > cap[j] for j in range(m)):
            continue
        placed = sum(1 for j in choice if j >= 0)
        moves = sum(int(j != agent_job[a]) for a, j in zip(idle, choice, strict=True))
        key = (-placed, moves)
        if best is None or key < best:
            best = key
    return -best[0], best[1]


def assign_optimum(agent_skills, agent_job, agent_on_call, job_skills, job_target):
    """(most idle agents placed, fewest moves among those), by linear_sum_assignment.

    Rows are idle agents; columns are one slot per free place of every job plus one
    "unassigned" slot per agent. A job slot costs -big + [job != current job] when the
    agent is qualified (infeasible otherwise); an unassigned slot costs [agent had a job].
    """
    m = len(job_skills)
    cap = idle_capacity(agent_job, agent_on_call, job_target)
    idle = [a for a in range(len(agent_job)) if not agent_on_call[a]]
    if not idle:
        return 0, 0
    slots = [j for j in range(m) for _ in range(cap[j])]
    big = len(idle) + 1
    infeasible = 10 * big * big
    cost = np.full((len(idle), len(slots) + len(idle)), float(infeasible))
    for r, a in enumerate(idle):
        for c, j in enumerate(slots):
            if qualified(agent_skills[a], job_skills[j]):
                cost[r, c] = -big + int(j != agent_job[a])
        cost[r, len(slots) :] = int(agent_job[a] != -1)
    rows, cols = linear_sum_assignment(cost)
    placed = sum(1 for c in cols if c < len(slots))
    total = cost[rows, cols].sum()
    return placed, round(float(total) + big * placed)


def min_moves_for_staffing(agent_skills, agent_job, agent_on_call, job_skills, new_job):
    """Fewest moves reaching the same number of idle agents per job as ``new_job``.

    linear_sum_assignment over idle agents x (one slot per idle agent placed at each job in
    ``new_job``, plus the unassigned slots), cost [slot job != current job]; returns None
    when no assignment reaches that staffing (cannot happen for a valid ``new_job``).
    """
    m = len(job_skills)
    idle = [a for a in range(len(agent_job)) if not agent_on_call[a]]
    if not idle:
        return 0
    slots = [int(new_job[a]) for a in idle]  # same multiset of destinations, -1 included
    slots.sort()
    infeasible = 10.0 * (len(idle) + 1)
    cost = np.full((len(idle), len(slots)), infeasible)
    for r, a in enumerate(idle):
        for c, j in enumerate(slots):
            if j == -1 or (0 <= j < m and qualified(agent_skills[a], job_skills[j])):
                cost[r, c] = int(j != agent_job[a])
    rows, cols = linear_sum_assignment(cost)
    total = cost[rows, cols].sum()
    if total >= infeasible:
        return None
    return round(float(total))

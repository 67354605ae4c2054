"""The look-ahead's first-come-first-served count when callers hang up
(``pacer.lookahead._fcfs_pass``) against a brute force of its rule and against an ACD's
queue played event by event, and the closed case where serving by arrival loses a call
that serving by deadline would not."""

from __future__ import annotations

import heapq

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pacer.lookahead import ORDER_SLOTS, _fcfs_pass
from tests.naive_lookahead import fcfs_lost_and_marginal

M = ORDER_SLOTS


def _pass(avail, cnt, n_steps, n_sh, p):
    """``_fcfs_pass`` on the kernel's layout: d[e, 0] = -agents free by step e; cnt[0,
    cell, j]; p[s, j] a new answer's chance of step s, shift j (each place of the step a
    quarter of it), eff_cdf[e] its chance of a deadline by step e."""
    d = -np.asarray(avail, dtype=np.float64).reshape(n_steps, 1)
    c = np.asarray(cnt, dtype=np.float64).reshape(1, n_steps * M, n_sh)
    n_in = c.reshape(1, n_steps, M * n_sh).sum(axis=2)
    n_in[0, 0] = max([s for s in range(1, n_steps) if n_in[0, s] > 0], default=0)
    p_tab = np.asarray(p, dtype=np.float64).reshape(n_steps, n_sh)
    eff = np.array([sum(p_tab[s, j] for s in range(1, n_steps) for j in range(n_sh)
                        if max(s - j, 0) <= e) for e in range(n_steps)])
    before = np.r_[0.0, np.cumsum(p_tab.sum(axis=1))[:-1]]
    return _fcfs_pass(d, c, n_in, p_tab, before, eff, n_steps, n_sh, 0)


def _brute(avail, cnt, n_steps, n_sh, p):
    cells = [[(max(cc // M - j, 0), cnt[cc, j]) for j in range(n_sh - 1, -1, -1)]
             for cc in range(M, n_steps * M)]
    probs = [[p[cc // M, j] / M for j in range(n_sh - 1, -1, -1)]
             for cc in range(M, n_steps * M)]
    return fcfs_lost_and_marginal(np.asarray(avail, dtype=float), cells, probs)


@st.composite
def grids(draw):
    n_steps = draw(st.integers(2, 6))
    n_sh = draw(st.integers(2, 3))
    steps = draw(st.lists(st.integers(0, 3), min_size=n_steps, max_size=n_steps))
    avail = np.cumsum(steps)  # agents free by step e: never fewer later
    cnt = np.zeros((n_steps * M, n_sh))
    for c in range(M, n_steps * M):
        for j in range(n_sh):
            cnt[c, j] = draw(st.sampled_from([0, 0, 0, 1, 2]))
    n_p = n_steps * n_sh
    p = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=n_p, max_size=n_p)))
    p = p.reshape(n_steps, n_sh)
    p[0] = 0.0  # a new dial answers at step 1 or later
    return n_steps, n_sh, avail, cnt, p


@settings(max_examples=80, deadline=None)
@given(grids())
def test_fcfs_pass_matches_adding_the_answer_and_counting_again(g):
    """The pass's lost answers, and its marginal read backwards (a cell after the new
    answer with no agent to spare), equal the brute force: add one answer to each cell in
    turn, replay first come first served, see whether the lost count rose."""
    n_steps, n_sh, avail, cnt, p = g
    lost, m = _pass(avail, cnt, n_steps, n_sh, p)
    b_lost, b_m = _brute(avail, cnt, n_steps, n_sh, p)
    assert lost == b_lost
    assert m == pytest.approx(b_m, rel=1e-9, abs=1e-12)


def _acd(avail, cnt, n_steps, n_sh, w=3.0):
    """An ACD's queue event by event: an agent counted at step t frees at t - 1/2 + w
    (the idle ones, step 0, are free from the start), an answer of cell c = s M + place
    arrives at s - 1 + (place + 1/2) / M (earliest deadline first within a cell: a
    hundredth apart) and hangs up at the deadline of its step e = max(s - j, 0), a quarter
    second after the agents of step e free. An agent freeing takes the oldest caller still
    waiting; a caller arriving takes an idle agent. Returns the callers lost."""
    ev = []
    for t in range(n_steps):
        for _ in range(int(avail[t] - (avail[t - 1] if t else 0))):
            ev.append((0.0 if t == 0 else t - 0.5 + w, 0, -1))
    caller = 0
    for c in range(M, n_steps * M):
        s = c // M
        for order, j in enumerate(range(n_sh - 1, -1, -1)):
            for _ in range(int(cnt[c, j])):
                arrive = s - 1 + (c % M + 0.5) / M + 0.01 * order
                deadline = max(s - j, 0) - 0.5 + w + 0.25
                ev.append((arrive, 1, caller))
                ev.append((deadline, 2, caller))
                caller += 1
    heapq.heapify(ev)
    idle, queue, lost = 0, [], 0
    while ev:
        _, kind, who = heapq.heappop(ev)
        if kind == 0:
            if queue:
                queue.pop(0)
            else:
                idle += 1
        elif kind == 1:
            if idle:
                idle -= 1
            else:
                queue.append(who)
        elif who in queue:
            queue.remove(who)
            lost += 1
    return lost


@settings(max_examples=80, deadline=None)
@given(grids())
def test_fcfs_pass_counts_what_an_acd_queue_loses(g):
    n_steps, n_sh, avail, cnt, p = g
    assert _pass(avail, cnt, n_steps, n_sh, p)[0] == _acd(avail, cnt, n_steps, n_sh)


def test_an_older_caller_takes_the_agent_a_hastier_one_needed():
    """Two agents: one idle, one free by step 1. Caller A answers at step 1 and would wait
    its whole window (deadline step 1); caller B answers at step 2 but hangs up so soon
    that its deadline is step 0. Served by deadline, B takes the idle agent and A the
    later one: none lost. An ACD serves A first (it came first), so B is lost: 1."""
    n_steps, n_sh = 3, 3
    avail = np.array([1.0, 2.0, 2.0])
    cnt = np.zeros((n_steps * M, n_sh))
    cnt[1 * M, 0] = 1  # A: step 1, no shift
    cnt[2 * M, 2] = 1  # B: step 2, two steps forward
    assert _pass(avail, cnt, n_steps, n_sh, np.zeros((n_steps, n_sh)))[0] == 1.0
    assert _acd(avail, cnt, n_steps, n_sh) == 1
    # a new answer at step 1, no hang-up, first or last of the step: it takes an agent
    # (the idle one before A, or the step-1 one after A) and B is lost anyway: it adds no
    # abandon. One whose deadline is step 0 (step 2, two shifts) finds the idle agent
    # taken by A: one abandon more.
    p = np.zeros((n_steps, n_sh))
    p[1, 0] = 1.0
    lost, m = _pass(avail, cnt, n_steps, n_sh, p)
    assert (lost, m) == (1.0, 0.0)
    p = np.zeros((n_steps, n_sh))
    p[2, 2] = 1.0
    assert _pass(avail, cnt, n_steps, n_sh, p) == (1.0, 1.0)
    assert _brute(avail, cnt, n_steps, n_sh, p) == (1.0, 1.0)


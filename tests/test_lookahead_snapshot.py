"""The look-ahead's expected abandons of the calls in flight against an ACD played many
times over from the same moment (Monte Carlo of the model's own assumptions: each busy
agent's end drawn from the handling-time histogram given its time so far, each ringing
call's live answer and its time from the ring histogram given it still rings, each
caller's patience exponential, first come first served up to the connect window, and
each answer served holding its agent for a handling time drawn afresh: a short one hands
the agent back for a later answer).

With callers who hang up, serving the oldest caller first (as an ACD does) loses more
than serving the one about to hang up first. The look-ahead counts the second (``max_s
D(s)``, Hall's theorem over the deadlines): here 5 % under the ACD at a 6 s mean patience
while 7.5 % over it without hang-ups (the one-second grid), a known bias this file pins
down (bench/pacing_family.md, "callers who hang up"). A kernel serving in order of arrival
was measured to pass (1.586 against 1.553, when the ACD held each agent for good); it cost
80 % more decision time on the 60k hour's replay and is not in this kernel.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from pacer.histogram import StreamingHistogram
from pacer.lookahead import _lookahead_curve, dial_life

WINDOW = 2.0
PI = 0.5
K = 512  # samples per kernel call
SEEDS = range(1, 13)  # kernel calls (salts): their mean and its spread


def _state(short=False):
    """100 busy agents, 2 idle, 50 calls ringing; handling exponential 60 s, or (``short``)
    two answers in five answering machines put through to agents, each held 3-6 s, the
    others 180 s on average: 20 busy agents, 3 idle, 12 calls ringing."""
    rng = np.random.default_rng(5)
    ring = StreamingHistogram(1, 0.5, 40.0)
    ring.seed(0, 8.0, 0.5, 20.0)
    if not short:
        hold = StreamingHistogram(1, 5.0, 600.0)
        hold.seed(0, 60.0, 1.0, 20.0)
        agents = np.r_[rng.uniform(0, 60, 100), [-1.0, -1.0]]  # 100 busy, 2 idle
        calls = rng.uniform(0, 12, 50)  # seconds rung
        return hold, ring, agents, calls
    hold = StreamingHistogram(1, 1.0, 1200.0)
    n = 20000
    machine = rng.random(n) < 0.4
    hold.add_many(np.zeros(n, dtype=np.int64),
                  np.where(machine, rng.uniform(3.0, 6.0, n), rng.exponential(180.0, n)))
    agents = np.r_[rng.uniform(0, 100, 20), [-1.0] * 3]
    calls = rng.uniform(0, 12, 12)
    return hold, ring, agents, calls


def _kernel(rate, seed, short=False):
    hold, ring, ae, ce = _state(short)
    end = StreamingHistogram(1, 0.5, 40.0)  # no ring ends seen: non-live calls ring on
    wrap = StreamingHistogram(1, 2.0, 120.0)
    life = np.zeros(1)
    dial_life(ring.counts, ring.totals, ring.bin_width_s, np.full(1, 20.0), np.arange(1),
              life)
    z = np.zeros(K)
    out = [np.zeros(1, dtype=np.int64), np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1)]
    _lookahead_curve(np.array([0, ae.size]), ae, np.arange(ae.size, dtype=np.int64) + 1000 * seed,
                     np.zeros(ae.size, dtype=np.int64), np.array([0, ce.size]), ce,
                     np.arange(ce.size, dtype=np.int64) + 5000 + 1000 * seed,
                     hold.counts, hold.totals, hold.bin_width_s, hold.counts, hold.totals,
                     hold.bin_width_s, wrap.counts, wrap.totals, wrap.bin_width_s,
                     ring.counts, ring.totals, ring.bin_width_s, end.counts, end.totals,
                     end.bin_width_s, np.array([PI]), np.array([0.0]), z, z, life,
                     np.array([WINDOW]), np.array([rate]), np.array([1e9]),
                     np.array([1], dtype=np.int64), np.array([1], dtype=np.int64), 1.0,
                     1000.0, np.uint64(seed), np.array([seed * 7 + 1], dtype=np.uint64), *out,
                     np.empty((1, 0)))
    assert out[0][0] == 1  # one dial at any price: the deciding stage ran (its count)
    return out[1][0], life[0]


def _inverse(row, bw, lo, hi, u):
    """Seconds where the histogram row's weight (uniform within a bin) reaches lo + u (hi -
    lo), for arrays lo, hi, u."""
    cum = np.r_[0.0, np.cumsum(row)]
    t = lo + u * (hi - lo)
    b = np.clip(np.searchsorted(cum, t, side="right") - 1, 0, row.size - 1)
    return (b + (t - cum[b]) / np.where(row[b] > 0, row[b], 1.0)) * bw


def _below(row, bw, x):
    cum = np.r_[0.0, np.cumsum(row)]
    u = np.asarray(x, dtype=float) / bw
    k = np.clip(u.astype(int), 0, row.size - 1)
    return np.where(u >= row.size, cum[-1], cum[k] + row[k] * (u - k))


def _acd(rate, t_out, reps, seed=0, short=False, recycle=True):
    """Callers lost per replication: first come first served, each caller taking the
    agent free earliest if it frees by the caller's deadline (an agent freeing takes the
    oldest caller still waiting: the same count), and holding it from max(answer, free)
    for a handling time drawn afresh (not ``recycle``: for good)."""
    hold, ring, ae, ce = _state(short)
    rng = np.random.default_rng(seed)
    h, hb = hold.counts[0], hold.bin_width_s
    r, rb = ring.counts[0], ring.bin_width_s
    busy = ae[ae >= 0]
    lo = _below(h, hb, busy)
    ends = _inverse(h, hb, lo, h.sum(), rng.random((reps, busy.size))) - busy
    free = np.c_[np.full((reps, int((ae < 0).sum())), -1.0), ends]
    g_t = float(_below(r, rb, t_out))
    g_r = _below(r, rb, ce)
    p_live = PI * (g_t - g_r) / np.maximum(r.sum() - PI * g_r, PI * (g_t - g_r))
    live = rng.random((reps, ce.size)) < p_live
    answer = _inverse(r, rb, g_r, g_t, rng.random((reps, ce.size))) - ce
    patience = rng.exponential(1.0 / rate, (reps, ce.size)) if rate > 0 else np.inf
    deadline = answer + np.minimum(WINDOW, patience)
    answer = np.where(live, answer, np.inf)  # not live: never comes
    order = np.argsort(answer, axis=1)
    answer = np.take_along_axis(answer, order, axis=1)
    deadline = np.take_along_axis(deadline, order, axis=1)
    fresh = _inverse(h, hb, np.zeros((reps, ce.size)), h.sum(), rng.random((reps, ce.size)))
    if not recycle:
        fresh[:] = np.inf
    lost = np.zeros(reps)
    rows = np.arange(reps)
    for i in range(ce.size):
        comes = np.isfinite(answer[:, i])
        j = np.argmin(free, axis=1)
        f = free[rows, j]
        served = comes & (f <= deadline[:, i])
        free[rows, j] = np.where(served, np.maximum(answer[:, i], f) + fresh[:, i], f)
        lost += comes & ~served
    return lost


def _compare(rate, short=False, recycle=True):
    kern = np.array([_kernel(rate, s, short)[0] for s in SEEDS])
    t_out = _kernel(rate, 1, short)[1]
    lost = _acd(rate, t_out, 40000, short=short, recycle=recycle)
    se = math.sqrt(kern.var(ddof=1) / kern.size + lost.var() / lost.size)
    return kern.mean(), lost.mean(), se


# The tolerance: 3 standard deviations of the difference (the kernel's spread over its
# salts, the replications' over theirs) and, above the ACD, 8 % for the one-second grid
# (measured +4 to +7 % without hang-ups).
GRID = 0.08


def test_expected_abandons_of_calls_in_flight_match_an_acd_without_hang_ups():
    kern, acd, se = _compare(0.0)
    assert acd > 0.5  # something to forecast
    assert acd - 3 * se <= kern <= acd * (1 + GRID) + 3 * se, (kern, acd, se)


@pytest.mark.xfail(strict=True, reason="the look-ahead serves the answers to come by "
                   "deadline when callers hang up: 1.443 against the ACD's 1.520 (4 sigma)")
def test_expected_abandons_of_calls_in_flight_match_an_acd_when_callers_hang_up():
    """Patience 6 s on average: the forecast must not fall under what an ACD loses."""
    kern, acd, se = _compare(1 / 6)
    assert acd - 3 * se <= kern <= acd * (1 + GRID) + 3 * se, (kern, acd, se)


# With answers that hand their agent back: the look-ahead counts an answer served (its
# agent back) where it raises no new excess at its step, taken in the order answered, and
# its hold from its answer (the ACD's from its connect); measured +7 to +21 % over the ACD
# on states of 10-60 calls ringing and 23-46 agents, the one-second grid's bias included.
SHORT_GRID = 0.25


def test_answers_whose_agent_is_back_within_the_look_ahead_are_counted_as_the_acd_does():
    """Two in five answers are answering machines their agents find and drop within 3-6 s
    (AMD off): each agent is back for a later answer within the look-ahead, and the forecast
    follows the ACD that hands it back, not one where every answer holds its agent for
    good (which loses about twice as many here: the look-ahead did, 0.81 against 0.38)."""
    kern, acd, se = _compare(0.0, short=True)
    held = _acd(0.0, _kernel(0.0, 1, True)[1], 40000, short=True, recycle=False).mean()
    assert acd > 0.2 and held > 1.5 * acd  # the hand-back matters in this state
    assert acd - 3 * se <= kern <= acd * (1 + SHORT_GRID) + 3 * se, (kern, acd, se)

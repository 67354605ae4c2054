"""The per-tick bookkeeping kernels against plain NumPy references: launch cohorts folded
into the hit rate (pacer.cohorts), the two-window hit-rate posterior, the wait tally."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pacer.cohorts import PendingDials, _tie_key
from pacer.gather import _tally_waits
from pacer.hitrate import (
    HitRateParams,
    HitRateState,
    _hitrate_window,
    _posterior_two_windows,
)

N = 3
TIMEOUT = np.array([20.0, 15.0, 30.0])


def _states(windows=(7, 3)):
    init = np.array([0.25, 0.3, 0.1])
    return [HitRateState(HitRateParams(window=w, alpha=0.1, initial=init,
                                       prior_weight=np.full(N, 5.0))) for w in windows]


class _Reference:
    """The NumPy bookkeeping the kernels replaced: held arrays, a mask, a lexsort."""

    def __init__(self, seed_bits):
        self.seed = seed_bits
        self.row = np.empty(0, dtype=np.int64)
        self.live = np.empty(0, dtype=np.int64)
        self.t0 = np.empty(0)
        self.ring = np.empty(0)
        self.tie = np.empty(0, dtype=np.uint64)
        self.seq = 0
        self.folded = (np.empty(0, dtype=np.int64), np.empty(0), np.empty(0, dtype=np.int64))

    def add(self, rows, live, t0, ring):
        ties = np.array([_tie_key(self.seed, self.seq + i) for i in range(rows.size)],
                        dtype=np.uint64)
        self.seq += rows.size
        self.row = np.concatenate([self.row, rows])
        self.live = np.concatenate([self.live, live])
        self.t0 = np.concatenate([self.t0, t0])
        self.ring = np.concatenate([self.ring, ring])
        self.tie = np.concatenate([self.tie, ties])

    def fold(self, now, states, recent, decay):
        done = self.t0 + TIMEOUT[self.row] <= now
        if not done.any():
            return 0
        idx = np.flatnonzero(done)
        idx = idx[np.lexsort((self.tie[idx], self.t0[idx]))]
        for h in states:
            h.record(self.row[idx], self.live[idx])
        recent *= decay
        recent += np.bincount(self.row[idx], minlength=N)
        self.folded = (self.row[idx], self.ring[idx], self.live[idx])
        keep = ~done
        self.row, self.live, self.t0, self.ring, self.tie = (
            a[keep] for a in (self.row, self.live, self.t0, self.ring, self.tie))
        return int(done.sum())


batch = st.lists(st.tuples(st.integers(0, N - 1), st.booleans(),
                           st.floats(0.0, 40.0, allow_nan=False)), max_size=12)


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.tuples(batch, st.floats(0.0, 30.0, allow_nan=False)), max_size=10),
       seed=st.integers(0, 2**32))
def test_cohorts_fold_as_the_numpy_reference(steps, seed):
    pend = PendingDials(seed, capacity=4)  # small: the buffer must grow
    ref = _Reference(pend.seed)
    got, want = _states(), _states()
    recent_got, recent_want = np.zeros(N), np.zeros(N)
    now = 0.0
    for outcomes, advance in steps:
        rows = np.array([o[0] for o in outcomes], dtype=np.int64)
        live = np.array([int(o[1]) for o in outcomes], dtype=np.int64)
        t0 = np.array([now - o[2] for o in outcomes])
        ring = np.array([o[2] for o in outcomes])
        pend.add(rows, live, t0, ring)
        ref.add(rows, live, t0, ring)
        now += advance
        n_got = pend.fold(now, TIMEOUT, got[0], got[1], recent_got, 0.9)
        n_want = ref.fold(now, want, recent_want, 0.9)
        assert n_got == n_want
        if n_got:  # the folded dials handed back, in launch order
            np.testing.assert_array_equal(pend.out_row[:n_got], ref.folded[0])
            np.testing.assert_array_equal(pend.out_ring[:n_got], ref.folded[1])
            np.testing.assert_array_equal(pend.out_live[:n_got], ref.folded[2])
        assert pend.n == ref.row.size
        np.testing.assert_array_equal(pend.row[:pend.n], ref.row)
        np.testing.assert_array_equal(pend.t0[:pend.n], ref.t0)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a.buf, b.buf)
            np.testing.assert_array_equal(a.live_count, b.live_count)
            np.testing.assert_allclose(a.smoothed, b.smoothed, rtol=1e-12)
        np.testing.assert_allclose(recent_got, recent_want, rtol=1e-12)


def test_ties_of_one_launch_are_folded_in_a_seeded_order_not_the_order_added():
    """Twenty dials launched together (one tick), the last ten live: the window of 7 keeps a
    seeded mix of them, the same for the same seed, not the ten live ones added last."""
    rows = np.zeros(20, dtype=np.int64)
    live = np.r_[np.zeros(10), np.ones(10)].astype(np.int64)
    kept = []
    for seed in (1, 1, 2):
        pend = PendingDials(seed)
        pend.add(rows, live, np.zeros(20), np.full(20, 5.0))
        long, short = _states()
        assert pend.fold(100.0, TIMEOUT, long, short, np.zeros(N), 1.0) == 20
        kept.append(long.live_count[0])
    assert kept[0] == kept[1]
    assert min(kept) < 7  # not the ten live outcomes last


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 3)), min_size=N,
                       max_size=N),
       live_share=st.floats(0.0, 1.0), rate=st.lists(st.floats(0.0, 5.0), min_size=N,
                                                      max_size=N))
def test_two_window_posterior_as_the_numpy_reference(counts, live_share, rate):
    long, short = _states()
    long.count[:] = [c[0] for c in counts]
    short.count[:] = [c[1] for c in counts]
    long.live_count[:] = np.floor(long.count * live_share).astype(np.int64)
    short.live_count[:] = np.floor(short.count * live_share).astype(np.int64)
    rate = np.array(rate)
    mean, sd = np.empty(N), np.empty(N)
    p, q = long.params, short.params
    _posterior_two_windows(p.window, p.initial, p.prior_weight, long.count, long.live_count,
                           q.window, q.initial, q.prior_weight, short.count,
                           short.live_count, rate, 2.0, mean, sd)
    est = []
    for h in (long, short):  # the NumPy version the kernel replaced
        hp = h.params
        m = np.empty(N)
        _hitrate_window(hp.window, hp.initial, hp.prior_weight, h.count, h.live_count, m)
        w = hp.prior_weight * (hp.window - h.count) / hp.window
        est.append((m, np.sqrt(m * (1.0 - m) / (h.count + w + 1.0))))
    use_short = rate < 2.0
    np.testing.assert_allclose(mean, np.where(use_short, est[1][0], est[0][0]), rtol=1e-12)
    np.testing.assert_allclose(sd, np.where(use_short, est[1][1], est[0][1]), rtol=1e-12)


def test_wait_tally_as_bincount():
    rng = np.random.default_rng(3)
    rows = rng.integers(0, N, 50)
    waited = rng.exponential(3.0, 50)
    hung = rng.integers(0, 2, 50)
    wait_s, hangups, rate = np.full(N, 20.0), np.zeros(N), np.zeros(N)
    _tally_waits(rows, waited, hung, wait_s, hangups, rate)
    want_wait = 20.0 + np.bincount(rows, waited, minlength=N)
    want_hang = np.bincount(rows, hung, minlength=N).astype(float)
    np.testing.assert_allclose(wait_s, want_wait, rtol=1e-12)
    np.testing.assert_allclose(hangups, want_hang)
    np.testing.assert_allclose(rate, want_hang / want_wait, rtol=1e-12)

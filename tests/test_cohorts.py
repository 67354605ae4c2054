"""The per-tick bookkeeping kernels against plain NumPy references: launch cohorts folded
into the hit rate (pacer.cohorts), the hit-rate posterior and its change test, the wait
tally."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pacer.cohorts import TIE_S, PendingDials, _tie_key
from pacer.gather import _oldest_ringing, _tally_waits
from pacer.hitrate import (
    HitRateParams,
    HitRateState,
    _change_point,
    _posterior_recent,
    _recent_live,
)

N = 3
TIMEOUT = np.array([20.0, 15.0, 30.0])


def _state(window=7):
    init = np.array([0.25, 0.3, 0.1])
    return HitRateState(HitRateParams(window=window, alpha=0.1, initial=init,
                                      prior_weight=np.full(N, 5.0)))


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

    def fold(self, now, state, recent, decay, ringing_t0):
        life = TIMEOUT[self.row]
        done = (self.t0 + life <= now) & ((self.t0 < ringing_t0[self.row] - TIE_S)
                                          | (self.t0 + 2.0 * life <= now))
        if not done.any():
            return 0
        idx = np.flatnonzero(done)
        idx = idx[np.argsort(self.tie[idx], kind="stable")]
        state.record(self.row[idx], self.live[idx])
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
@given(steps=st.lists(st.tuples(batch, st.floats(0.0, 30.0, allow_nan=False),
                               st.lists(st.one_of(st.just(np.inf), st.floats(0.0, 60.0)),
                                        min_size=N, max_size=N)), max_size=10),
       seed=st.integers(0, 2**32))
def test_cohorts_fold_as_the_numpy_reference(steps, seed):
    """Including the dials still ringing: a cohort waits for the campaign's oldest one
    (``ringing_t0``, seconds before now; inf: none), at most one more life."""
    pend = PendingDials(seed, capacity=4)  # small: the buffer must grow
    ref = _Reference(pend.seed)
    got, want = _state(), _state()
    recent_got, recent_want = np.zeros(N), np.zeros(N)
    now = 0.0
    for outcomes, advance, ringing_ago in steps:
        rows = np.array([o[0] for o in outcomes], dtype=np.int64)
        live = np.array([int(o[1]) for o in outcomes], dtype=np.int64)
        t0 = np.array([now - o[2] for o in outcomes])
        ring = np.array([o[2] for o in outcomes])
        pend.add(rows, live, t0, ring)
        ref.add(rows, live, t0, ring)
        now += advance
        ago = np.array(ringing_ago)
        ringing_t0 = np.where(np.isinf(ago), np.inf, now - ago)
        n_got = pend.fold(now, TIMEOUT, got, recent_got, 0.9, ringing_t0)
        n_want = ref.fold(now, want, recent_want, 0.9, ringing_t0)
        assert n_got == n_want
        if n_got:  # the folded dials handed back, in the seeded order
            np.testing.assert_array_equal(pend.out_row[:n_got], ref.folded[0])
            np.testing.assert_array_equal(pend.out_ring[:n_got], ref.folded[1])
            np.testing.assert_array_equal(pend.out_live[:n_got], ref.folded[2])
        assert pend.n == ref.row.size
        np.testing.assert_array_equal(pend.row[:pend.n], ref.row)
        np.testing.assert_array_equal(pend.t0[:pend.n], ref.t0)
        for name in ("buf", "pos", "count", "live_count", "since"):
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
        np.testing.assert_allclose(got.smoothed, want.smoothed, rtol=1e-12)
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
        hit = _state()
        assert pend.fold(100.0, TIMEOUT, hit, np.zeros(N), 1.0) == 20
        kept.append(hit.live_count[0])
    assert kept[0] == kept[1]
    assert min(kept) < 7  # not the ten live outcomes last


def test_a_fold_larger_than_the_window_leaves_it_a_fair_sample():
    """4,000 dials complete in one fold, a quarter live, the launch times the caller's ring
    times imply running later for the others (they ended just after a decision: a shift
    that follows the outcome). The window of 400 keeps a fair sample of the fold (within
    3 sigma of the binomial), not the late-looking no-answers."""
    n, share = 4000, 0.25
    live = (np.arange(n) % 4 == 0).astype(np.int64)
    t0 = np.where(live == 1, 0.0, 0.2)
    hit = _state(400)
    pend = PendingDials(11)
    pend.add(np.zeros(n, dtype=np.int64), live, t0, np.full(n, 5.0))
    assert pend.fold(100.0, TIMEOUT, hit, np.zeros(N), 1.0) == n
    sigma = np.sqrt(400 * share * (1 - share))
    assert abs(hit.live_count[0] - 400 * share) <= 3 * sigma


@settings(max_examples=60, deadline=None)
@given(outcomes=st.lists(st.lists(st.booleans(), max_size=20), min_size=N, max_size=N),
       span=st.lists(st.integers(0, 9), min_size=N, max_size=N),
       since=st.lists(st.integers(0, 7), min_size=N, max_size=N))
def test_recent_posterior_without_a_change_as_the_numpy_reference(outcomes, span, since):
    """With no change found (thresholds out of reach) and no doubt of the prior: the plain
    Beta posterior of each row's newest min(held, span within [3, 7], since) outcomes, the
    prior fading over the span."""
    hit = _state()
    for r, xs in enumerate(outcomes):
        hit.record(np.full(len(xs), r), np.array(xs, dtype=np.int64))
    hit.since[:] = np.minimum(hit.since, since)
    p = hit.params
    mean, sd = np.empty(N), np.empty(N)
    _posterior_recent(p.window, p.initial, p.prior_weight, hit.buf, hit.pos, hit.count,
                      hit.since, np.array(span), 3, 2, np.inf, np.inf, 1.25, 0.0,
                      np.zeros(8, dtype=np.int64), np.ones(N, dtype=np.bool_), mean, sd)
    for r, xs in enumerate(outcomes):
        big = min(max(span[r], 3), 7)
        k = min(len(xs), 7)
        n = min(k, big, hit.since[r])
        lv = sum(xs[len(xs) - n:])
        w = p.prior_weight[r] * (big - min(k, big)) / big
        m = (lv + w * p.initial[r]) / (n + w) if n + w > 0 else p.initial[r]
        assert mean[r] == pytest.approx(m, rel=1e-12)
        assert sd[r] == pytest.approx(np.sqrt(m * (1 - m) / (n + w + 1)), rel=1e-12)


def _split_excess_ref(x, j, up, down):
    """The change test's statistic at one split, by NumPy: x the outcomes newest first."""
    def loglik(v):
        k, n = v.sum(), v.size
        return sum(c * np.log(c / n) for c in (k, n - k) if c > 0)
    new, old = x[:j], x[j:]
    llr = loglik(new) + loglik(old) - loglik(x)
    return llr - (up if new.mean() > old.mean() else down)


@settings(max_examples=100, deadline=None)
@given(x=st.lists(st.booleans(), min_size=0, max_size=120), m_min=st.integers(1, 15),
       up=st.floats(0.0, 20.0), down=st.floats(0.0, 20.0))
def test_change_point_as_the_numpy_reference(x, m_min, up, down):
    """The split it returns carries the excess the reference computes there, and no split
    it was to try (the grid m_min, m_min x 1.25, ...) exceeds it."""
    xs = np.array(x, dtype=np.int64)
    n = xs.size
    cum = np.concatenate(([0], np.cumsum(xs))).astype(np.int64)  # x newest first
    excess, j = _change_point(cum, n, m_min, 1.25, up, down)
    if n < 2 * m_min:
        assert (excess, j) == (-1.0, 0)
        return
    assert m_min <= j <= n - m_min
    assert excess == pytest.approx(_split_excess_ref(xs, j, up, down), abs=1e-9)
    g = m_min
    while g <= n - m_min:
        assert _split_excess_ref(xs, g, up, down) <= excess + 1e-9
        g = max(g + 1, int(g * 1.25))


def test_change_point_finds_a_clean_step_exactly():
    """Newest 37 outcomes all live after 300 none: the split is at 37, off the grid."""
    xs = np.r_[np.ones(37), np.zeros(300)].astype(np.int64)
    ring = xs[::-1].copy()  # oldest first, as a ring that has not wrapped
    cum = np.zeros(xs.size + 1, dtype=np.int64)
    _recent_live(ring, ring.size, 0, xs.size, cum)
    np.testing.assert_array_equal(cum, np.concatenate(([0], np.cumsum(xs))))
    assert _change_point(cum, xs.size, 20, 1.25, 10.0, 20.0)[1] == 37


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


def test_a_cohort_waits_for_its_dials_still_ringing():
    """A burst's busy numbers have ended and its no-answers still ring a second past the
    modelled life (the carrier set them up late): nothing is folded until they end, or one
    more life has passed, so the window never sees the burst's fast outcomes alone."""
    pend = PendingDials(3)
    hit = _state()
    rows = np.zeros(5, dtype=np.int64)
    pend.add(rows, np.zeros(5, dtype=np.int64), np.zeros(5), np.full(5, 2.0))
    ringing = np.array([0.0, np.inf, np.inf])  # row 0: a dial launched at 0 still rings
    assert pend.fold(20.5, TIMEOUT, hit, np.zeros(N), 1.0, ringing) == 0
    assert pend.fold(20.5, TIMEOUT, hit, np.zeros(N), 1.0, ringing + 1.0) == 5
    pend.add(rows, np.zeros(5, dtype=np.int64), np.full(5, 30.0), np.full(5, 2.0))
    assert pend.fold(69.0, TIMEOUT, hit, np.zeros(N), 1.0, ringing + 30.0) == 0
    assert pend.fold(70.0, TIMEOUT, hit, np.zeros(N), 1.0, ringing + 30.0) == 5


def test_oldest_ringing_as_numpy():
    rng = np.random.default_rng(5)
    for _ in range(50):
        counts = rng.integers(0, 4, size=N)
        offsets = np.r_[0, np.cumsum(counts)].astype(np.int64)
        elapsed = np.where(rng.random(offsets[-1]) < 0.3, -1.0,
                           rng.uniform(0, 30, offsets[-1]))
        out = np.empty(N)
        _oldest_ringing(100.0, offsets, elapsed, out)
        for c in range(N):
            ring = elapsed[offsets[c]:offsets[c + 1]]
            ring = ring[ring >= 0]
            assert out[c] == (100.0 - ring.max() if ring.size else np.inf)


def test_fold_rejects_bad_ringing_times():
    pend = PendingDials(3)
    hit = _state()
    for bad in (np.full(N, np.nan), np.full(N - 1, 1.0), np.full(N, -np.inf),
                np.array(["a"] * N)):
        with pytest.raises(ValueError, match="ringing_t0"):
            pend.fold(1.0, TIMEOUT, hit, np.zeros(N), 1.0, bad)


def test_dials_ended_now_are_held_and_counted_as_add_and_tally_do():
    """The pacer's per-tick path (``_add_ended``: launch times from the end and ring times,
    held and counted in one kernel call) leaves what ``_add`` then ``_tally_dials`` leave,
    growing the buffers past their capacity."""
    from pacer.gather import _tally_dials

    rng = np.random.default_rng(5)
    a, b = PendingDials(seed=3, capacity=4), PendingDials(seed=3, capacity=4)
    calls_a, calls_b = np.zeros((3, 60), dtype=np.int64), np.zeros((3, 60), dtype=np.int64)
    today_a, today_b = np.zeros(3, dtype=np.int64), np.zeros(3, dtype=np.int64)
    for k in range(5):
        m = int(rng.integers(0, 5))
        rows = rng.integers(0, 3, m)
        live = rng.integers(0, 2, m)
        ring = rng.uniform(0.0, 30.0, m)
        now = 100.0 + 7.3 * k
        a._add(rows, live, now - ring, ring)
        _tally_dials(rows, k, calls_a, today_a)
        b._add_ended(rows, live, ring, now, k, calls_b, today_b)
    assert a.n == b.n > 4
    for name in ("row", "live", "t0", "ring", "tie"):
        np.testing.assert_array_equal(getattr(a, name)[:a.n], getattr(b, name)[:b.n])
    np.testing.assert_array_equal(calls_a, calls_b)
    np.testing.assert_array_equal(today_a, today_b)

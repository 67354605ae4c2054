"""pacer.lookahead against its plain reference (tests/naive_lookahead.py), and the model's
matching rule against a brute-force first-come-first-served count."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pacer.histogram import StreamingHistogram
from pacer.lookahead import _lookahead_curve, dial_life, launched_abandons
from tests import naive_lookahead as nv

K, K_FINE = 8, 12  # a fine set not a power of two: the permutation's cycle-walking
Z = np.array([NormalDist().inv_cdf((i + 0.5) / K) for i in range(K)])
Z_FINE = np.array([NormalDist().inv_cdf((i + 0.5) / K_FINE) for i in range(K_FINE)])


def _hists(c_n, seed, talk_wrap=False):
    rng = np.random.default_rng(seed)
    hold = StreamingHistogram(c_n, 10.0, 600.0)
    ring = StreamingHistogram(c_n, 0.5, 40.0)
    end = StreamingHistogram(c_n, 0.5, 40.0)
    talk = StreamingHistogram(c_n, 10.0, 600.0)
    wrap = StreamingHistogram(c_n, 2.0, 120.0)
    for c in range(c_n):
        hold.seed(c, rng.uniform(60, 250), 1.0, 20.0)
        ring.seed(c, rng.uniform(5, 12), 0.5, 20.0)
        if rng.random() < 0.5:
            end.add_many(np.full(30, c), rng.uniform(0, 20, 30))
        talk.seed(c, rng.uniform(40, 220), 1.0, 20.0)
        wrap.seed(c, rng.uniform(5, 40), 0.8, 20.0)
    if talk_wrap:
        return hold, ring, end, talk, wrap
    return hold, ring, end


@st.composite
def cases(draw):
    c_n = draw(st.integers(1, 3))
    agents = [draw(st.lists(st.one_of(st.just(-1.0), st.floats(0, 700)), max_size=6))
              for _ in range(c_n)]
    # ringing: seconds rung; waiting: -1 - seconds waited (up to past the 2 s window)
    calls = [draw(st.lists(st.one_of(st.just(-1.0), st.floats(-4.0, -1.0), st.floats(0, 30)),
                           max_size=6))
             for _ in range(c_n)]
    phases = [draw(st.lists(st.integers(0, 2), min_size=len(a), max_size=len(a)))
              for a in agents]
    return dict(c_n=c_n, agents=agents, phases=phases, calls=calls,
                seed=draw(st.integers(0, 10)),
                hit=draw(st.lists(st.floats(0.0, 1.0), min_size=c_n, max_size=c_n)),
                sd=draw(st.lists(st.floats(0.0, 0.2), min_size=c_n, max_size=c_n)),
                theta=draw(st.lists(st.floats(0.0, 0.5), min_size=c_n, max_size=c_n)),
                patience=draw(st.lists(st.one_of(st.just(0.0), st.floats(0.0, 2.0)),
                                       min_size=c_n, max_size=c_n)),
                max_new=draw(st.lists(st.integers(0, 12), min_size=c_n, max_size=c_n)),
                active=draw(st.lists(st.integers(0, 1), min_size=c_n, max_size=c_n)),
                now=draw(st.floats(0.0, 5000.0)))


def _kernel(cs, hold, ring, end, timeout=20.0, window=2.0, dt=1.0, salt=99, state=12345,
            talk=None, wrap=None, curve=None):
    c_n = cs["c_n"]
    talk = hold if talk is None else talk
    wrap = StreamingHistogram(c_n, 2.0, 120.0) if wrap is None else wrap
    phases = cs.get("phases", [[0] * len(a) for a in cs["agents"]])
    ap = np.array([x for p in phases for x in p], dtype=np.int64)
    ao = np.r_[0, np.cumsum([len(a) for a in cs["agents"]])].astype(np.int64)
    co = np.r_[0, np.cumsum([len(c) for c in cs["calls"]])].astype(np.int64)
    ae = np.array([x for a in cs["agents"] for x in a], dtype=np.float64)
    ce = np.array([x for c in cs["calls"] for x in c], dtype=np.float64)
    out = [np.zeros(c_n, dtype=np.int64), np.zeros(c_n), np.zeros(c_n), np.zeros(c_n),
           np.zeros(c_n)]
    life = np.zeros(c_n)
    dial_life(ring.counts, ring.totals, ring.bin_width_s, np.full(c_n, timeout),
              np.arange(c_n), life)
    ak = np.arange(ae.size, dtype=np.int64)[::-1].copy()  # any distinct identities
    ck = np.arange(ce.size, dtype=np.int64) + 7
    if curve is None:  # no curve of the first dials' abandons: zero points
        curve = np.empty((c_n, 0))
    _lookahead_curve(ao, ae, ak, ap, co, ce, ck, hold.counts, hold.totals, hold.bin_width_s,
                     talk.counts, talk.totals, talk.bin_width_s,
                     wrap.counts, wrap.totals, wrap.bin_width_s, ring.counts,
                     ring.totals, ring.bin_width_s, end.counts, end.totals, end.bin_width_s,
                     np.array(cs["hit"]), np.array(cs["sd"]), Z, Z_FINE, life,
                     np.full(c_n, window), np.array(cs["patience"]), np.array(cs["theta"]),
                     np.array(cs["max_new"], dtype=np.int64),
                     np.array(cs["active"], dtype=np.int64), dt, cs["now"], np.uint64(salt),
                     np.array([state], dtype=np.uint64), *out, curve)
    return out


@settings(max_examples=40, deadline=None)
@given(cases())
def test_kernel_matches_reference(cs):
    _check_against_reference(cs)


@settings(max_examples=40, deadline=None)
@given(cases())
def test_the_abandons_of_the_first_dials_are_those_of_a_decision_capped_there(cs):
    """When ports or the carrier let only the first k of n dials out, the forecast keeps
    the abandons those k add (``launched_abandons``): the same, to the last bit, as the
    forecast of the same decision capped at k dials (the forecast's draws are its own
    stream, dial by dial), and never more than k / n of the n dials' (each dial adds at
    least as much as the one before it, on average over the samples: a dial's marginal
    abandons grow with the answers already added)."""
    hold, ring, end = _hists(cs["c_n"], cs["seed"])
    points = 16  # >= max_new: every k is a point of the curve
    curve = np.full((cs["c_n"], points), np.nan)
    full = _kernel(cs, hold, ring, end, curve=curve)
    for c in range(cs["c_n"]):
        n = int(full[0][c])
        if n == 0:
            continue
        assert launched_abandons(curve[c], n, n) == full[2][c]
        for k in range(n):
            capped = dict(cs, max_new=[k if i == c else m for i, m in enumerate(cs["max_new"])])
            got = _kernel(capped, hold, ring, end)
            assert got[0][c] == k
            assert launched_abandons(curve[c], n, k) == pytest.approx(got[2][c], abs=1e-12)
            assert launched_abandons(curve[c], n, k) <= k / n * full[2][c] + 1e-12


@st.composite
def queues(draw):
    """One campaign with a queue of live answers waiting (-1 - seconds waited), callers
    who hang up, and busy agents some of whom free within the connect window: the case
    where first come first served and earliest deadline first part."""
    n_a = draw(st.integers(5, 30))  # in wrap-up (phase 2): a few free within seconds
    return dict(c_n=1, agents=[draw(st.lists(st.floats(0, 40), min_size=n_a, max_size=n_a))],
                phases=[[2] * n_a],
                calls=[draw(st.lists(st.one_of(st.floats(-2.9, -1.0), st.floats(0, 30)),
                                     min_size=2, max_size=10))],
                seed=draw(st.integers(0, 10)), hit=[draw(st.floats(0.05, 0.6))], sd=[0.0],
                theta=[draw(st.floats(0.0, 0.5))], patience=[draw(st.floats(0.3, 5.0))],
                max_new=[draw(st.integers(0, 12))], active=[1], now=draw(st.floats(0, 5000)))


@settings(max_examples=40, deadline=None)
@given(queues())
def test_kernel_matches_reference_with_a_queue_of_impatient_callers(cs):
    _check_against_reference(cs)


def _check_against_reference(cs):
    hold, ring, end, talk, wrap = _hists(cs["c_n"], cs["seed"], talk_wrap=True)
    dials, base, added, live, slack = _kernel(cs, hold, ring, end, talk=talk, wrap=wrap)
    rng = nv.Stream(12345)
    n_a = sum(len(a) for a in cs["agents"])
    akeys = list(range(n_a))[::-1]
    ckeys = [i + 7 for i in range(sum(len(x) for x in cs["calls"]))]
    a0 = c0 = 0
    for c in range(cs["c_n"]):
        ak = akeys[a0:a0 + len(cs["agents"][c])]
        ck = ckeys[c0:c0 + len(cs["calls"][c])]
        a0 += len(ak)
        c0 += len(ck)
        if not cs["active"][c]:
            assert dials[c] == 0 and base[c] == 0 and added[c] == 0
            continue
        n, b, a, lv, sl = nv.decide_one(cs["agents"][c], ak, cs["calls"][c], ck, hold.counts[c],
                                    10.0,
                                    ring.counts[c], 0.5, end.counts[c], 0.5, cs["hit"][c],
                                    cs["sd"][c], Z, Z_FINE, 20.0, 2.0, cs["patience"][c],
                                    cs["theta"][c],
                                    cs["max_new"][c], 1.0, cs["now"], 99, rng,
                                    phases=cs["phases"][c], talk_row=talk.counts[c],
                                    talk_bw=10.0, wrap_row=wrap.counts[c], wrap_bw=2.0)
        assert dials[c] == n
        assert base[c] == pytest.approx(b, rel=1e-9, abs=1e-12)
        assert added[c] == pytest.approx(a, rel=1e-9, abs=1e-12)
        assert live[c] == pytest.approx(lv, rel=1e-9, abs=1e-12)
        assert slack[c] == pytest.approx(sl, rel=1e-9, abs=1e-12)
        assert 0 <= dials[c] <= cs["max_new"][c]


def test_idle_agents_and_no_calls_dial_about_idle_over_hit_rate():
    hold, ring, end = _hists(1, 0)
    cs = dict(c_n=1, agents=[[-1.0] * 10], calls=[[]], hit=[0.3], sd=[0.0], theta=[0.025],
              patience=[0.0], max_new=[500], active=[1], now=100.0)
    n = _kernel(cs, hold, ring, end)[0][0]
    # binomial(n, 0.3) > 10 must stay rare: about 10 / 0.3 = 33 dials is the expected fill
    assert 15 <= n <= 33


def test_no_free_agent_in_sight_dials_nothing():
    hold, ring, end = _hists(1, 0)
    cs = dict(c_n=1, agents=[[0.0] * 10], calls=[[5.0] * 5], hit=[0.3], sd=[0.0],
              theta=[0.025], patience=[0.0], max_new=[30], active=[1], now=100.0)
    assert _kernel(cs, hold, ring, end)[0][0] == 0


def test_waiting_answers_without_agents_are_expected_abandons():
    hold, ring, end = _hists(1, 0)
    cs = dict(c_n=1, agents=[[-1.0] * 2], calls=[[-1.0] * 5], hit=[0.3], sd=[0.0],
              theta=[0.025], patience=[0.0], max_new=[30], active=[1], now=100.0)
    dials, base, _, live, _ = _kernel(cs, hold, ring, end)
    assert dials[0] == 0
    assert 2.0 <= base[0] <= 3.0  # 5 waiting, 2 idle, busy agents none
    assert live[0] == 5.0


def test_an_answer_past_its_window_is_an_abandon_whatever_frees():
    """A live answer that has waited its whole connect window gets no agent, whoever frees
    within the window: one certain abandon, where a fresh one with an idle agent is none."""
    hold, ring, end = _hists(1, 0)
    fresh = dict(c_n=1, agents=[[-1.0]], calls=[[-1.0]], hit=[0.3], sd=[0.0],
                 theta=[0.025], patience=[0.0], max_new=[0], active=[1], now=100.0)
    assert _kernel(fresh, hold, ring, end)[1][0] == 0.0  # the idle agent takes it
    gone = dict(fresh, agents=[[700.0] * 3], calls=[[-1.0 - 2.0]])
    assert _kernel(gone, hold, ring, end)[1][0] == 1.0


@settings(max_examples=25, deadline=None)
@given(cases(), st.floats(0.0, 2.5))
def test_answers_that_waited_longer_raise_the_expected_abandons(cs, extra):
    """The longer the live answers have waited, the less of their window is left: on the
    same samples (no dials, patience off: nothing else drawn differs) the expected
    abandons of the calls in flight only grow."""
    hold, ring, end = _hists(cs["c_n"], cs["seed"])
    cs = dict(cs, max_new=[0] * cs["c_n"], patience=[0.0] * cs["c_n"])
    longer = dict(cs, calls=[[x - extra if x < 0 else x for x in c] for c in cs["calls"]])
    assert np.all(_kernel(longer, hold, ring, end)[1] >= _kernel(cs, hold, ring, end)[1]
                  - 1e-12)


@settings(max_examples=25, deadline=None)
@given(cases(), st.floats(0.05, 5.0))
def test_impatient_callers_raise_the_expected_abandons(cs, rate):
    """A caller who hangs up while waiting needs an agent sooner: on the same samples (no
    dials, so no second stage) the expected abandons of the calls in flight only grow."""
    hold, ring, end = _hists(cs["c_n"], cs["seed"])
    cs = dict(cs, max_new=[0] * cs["c_n"])
    calm = _kernel(dict(cs, patience=[0.0] * cs["c_n"]), hold, ring, end)
    hasty = _kernel(dict(cs, patience=[rate] * cs["c_n"]), hold, ring, end)
    assert np.all(hasty[1] >= calm[1] - 1e-12)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.floats(0.0, 60.0), st.booleans()),
                max_size=40), st.sampled_from([1.0, 0.99, 0.9]))
def test_fold_dial_ends_matches_the_histograms_fed_one_by_one(obs, decay):
    """The fused fold of dial ends (numba) against the histograms' own add and
    ``dial_life``: the same counts, totals, weights and lives."""
    from pacer.lookahead import _fold_dial_ends

    def hists():
        return (StreamingHistogram(3, 0.25, 120.0, decay=decay),
                StreamingHistogram(3, 0.25, 120.0, decay=decay))

    end, ring = hists()
    ref_end, ref_ring = hists()
    for h in (end, ring, ref_end, ref_ring):
        for c in range(3):
            h.seed(c, 9.0, 0.6, 20.0)
    timeout = np.array([20.0, 25.0, 15.0])
    life, ref_life = np.zeros(3), np.zeros(3)
    dial_life(ring.counts, ring.totals, 0.25, timeout, np.arange(3), life)
    ref_life[:] = life
    rows = np.array([o[0] for o in obs], dtype=np.int64)
    secs = np.array([o[1] for o in obs], dtype=np.float64)
    live = np.array([int(o[2]) for o in obs], dtype=np.int64)
    _fold_dial_ends(rows, secs, live, end.counts, end.totals, end.weights, 0.25, end.decay,
                    ring.counts, ring.totals, ring.weights, 0.25, ring.decay, timeout, life)
    for r, x, is_live in obs:
        ref_end.add(r, x)
        if is_live:
            ref_ring.add(r, x)
    dial_life(ref_ring.counts, ref_ring.totals, 0.25, timeout, np.arange(3), ref_life)
    for a, b in ((end, ref_end), (ring, ref_ring)):
        assert np.allclose(a.counts, b.counts) and np.allclose(a.totals, b.totals)
        assert np.allclose(a.weights, b.weights)
    assert np.allclose(life, ref_life)

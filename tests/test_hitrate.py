"""Online hit rate: cold start, sliding window, smoothing, convergence and the oracle."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pacer.hitrate import HitRateParams, HitRateState
from tests import naive_baselines as naive


def test_cold_start_returns_the_initial_value():
    s = HitRateState(HitRateParams(window=[50, 1], initial=[0.2, 0.35], prior_weight=[10, 0]))
    e = s.estimates()
    assert e.window.tolist() == [0.2, 0.35]
    assert e.smoothed.tolist() == [0.2, 0.35]
    assert e.count.tolist() == [0, 0]


def test_prior_fades_as_the_window_fills():
    # W = 4, initial 0.5, prior worth 4: after 2 live answers, w = 4*(4-2)/4 = 2,
    # estimate (2 + 2*0.5)/(2 + 2) = 0.75; after 4 outcomes (2 live) the prior is gone: 0.5;
    # after 1, 1, 0, 0, 0, 0 the two live answers have left the window: 0.
    s = HitRateState(HitRateParams(window=[4], initial=[0.5], prior_weight=[4.0]))
    s.record([0, 0], [1, 1])
    assert s.estimates().window.tolist() == [0.75]
    s.record([0, 0], [0, 0])
    assert s.estimates().window.tolist() == [0.5]
    s.record([0, 0], [0, 0])
    e = s.estimates()
    assert e.window.tolist() == [0.0] and e.live.tolist() == [0] and e.count.tolist() == [4]


def test_smoothing_step():
    # s = 0.25 + 0.1*(1 - 0.25) = 0.325, then 0.325 + 0.1*(0 - 0.325) = 0.2925.
    s = HitRateState(HitRateParams(window=[10], alpha=[0.1], initial=[0.25]))
    s.record([0, 0], [True, False])
    assert s.estimates().smoothed[0] == pytest.approx(0.2925, abs=1e-15)


def test_converges_to_the_true_rate_on_a_bernoulli_stream():
    rng = np.random.default_rng(20240601)
    p = np.array([0.3, 0.08])
    window, alpha, n = 2000, 0.002, 40_000
    s = HitRateState(HitRateParams(window=[window] * 2, alpha=alpha, initial=0.5,
                                   prior_weight=50))
    rows = np.repeat(np.arange(2), n)
    live = rng.random(2 * n) < p[rows]
    order = rng.permutation(2 * n)  # interleave the two campaigns
    for chunk in np.array_split(order, 40):
        s.record(rows[chunk], live[chunk])
    e = s.estimates()
    se_window = np.sqrt(p * (1 - p) / window)
    se_smooth = np.sqrt(p * (1 - p) * alpha / (2 - alpha))  # EWMA stationary sd
    assert np.all(np.abs(e.window - p) < 4 * se_window)
    assert np.all(np.abs(e.smoothed - p) < 4 * se_smooth)
    assert e.count.tolist() == [window, window]


def test_validation():
    with pytest.raises(ValueError, match="window"):
        HitRateParams(window=[0])
    with pytest.raises(ValueError, match="alpha"):
        HitRateParams(window=[5], alpha=[0.0])
    s = HitRateState(HitRateParams(window=[5, 5]))
    with pytest.raises(ValueError, match="rows"):
        s.record([2], [1])
    with pytest.raises(ValueError, match="live"):
        s.record([0], [2])
    with pytest.raises(ValueError, match="live"):
        s.record([0, 1], [1])


@st.composite
def runs(draw):
    n = draw(st.integers(1, 6))
    window = draw(st.lists(st.integers(1, 12), min_size=n, max_size=n))
    alpha = draw(st.lists(st.floats(0.001, 1.0), min_size=n, max_size=n))
    initial = draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
    w0 = draw(st.lists(st.floats(0, 30), min_size=n, max_size=n))
    batches = draw(st.lists(st.lists(st.tuples(st.integers(0, n - 1), st.booleans()),
                                     max_size=25), min_size=1, max_size=8))
    return (window, alpha, initial, w0), batches


@settings(max_examples=80, deadline=None)
@given(runs())
def test_matches_oracle(run):
    params, batches = run
    s = HitRateState(HitRateParams(*params))
    oracles = [naive.NaiveHitRate(*p) for p in zip(*params, strict=True)]
    for batch in batches:
        s.record(np.array([r for r, _ in batch], dtype=np.int64),
                 np.array([x for _, x in batch], dtype=bool))
        for r, x in batch:
            oracles[r].record(x)
        e = s.estimates()
        for i, o in enumerate(oracles):
            assert math.isclose(e.window[i], o.window_estimate(), rel_tol=1e-12,
                                abs_tol=1e-15)
            assert e.smoothed[i] == o.smoothed
            assert e.count[i] == len(o.outcomes) and e.live[i] == sum(o.outcomes)

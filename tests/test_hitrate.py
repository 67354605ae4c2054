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


# ---------------------------------------------------------------- the doubted prior

def _robust(lv, k, ini, prior, doubt=0.1):
    from pacer.hitrate import _robust_posterior

    return _robust_posterior(float(lv), float(k), float(ini), float(prior), float(doubt))


@settings(max_examples=300, deadline=None)
@given(k=st.integers(0, 2000), share=st.floats(0.0, 1.0),
       ini=st.one_of(st.sampled_from([0.0, 1.0]), st.floats(1e-6, 1.0 - 1e-6)),
       prior=st.one_of(st.just(0.0), st.floats(1e-6, 200.0)), doubt=st.floats(0.0, 0.9))
def test_robust_posterior_as_the_numpy_reference(k, share, ini, prior, doubt):
    from tests import naive_hitrate

    lv = math.floor(k * share)
    m, sd = _robust(lv, k, ini, prior, doubt)
    want_m, want_sd = naive_hitrate.robust_posterior(lv, k, ini, prior, doubt)
    assert 0.0 <= m <= 1.0 and sd >= 0.0
    assert m == pytest.approx(float(want_m), rel=1e-9, abs=1e-12)
    assert sd == pytest.approx(float(want_sd), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize(("lv", "k", "ini", "prior"), [
    (6, 20, 0.25, 20.0),   # the data agree with the prior
    (15, 20, 0.25, 18.0),  # the cold cap lifts on a prior far too low
    (3, 50, 0.6, 19.0),    # ... or far too high
    (1, 2, 0.5, 5.0),
    (70, 200, 0.05, 16.0),
])
def test_robust_posterior_moments_by_quadrature(lv, k, ini, prior):
    """An independent oracle: the posterior's mean and sd integrated numerically."""
    from tests import naive_hitrate

    m, sd = _robust(lv, k, ini, prior)
    want_m, want_sd = naive_hitrate.robust_posterior_by_quadrature(lv, k, ini, prior, 0.1)
    assert m == pytest.approx(want_m, rel=1e-7)
    assert sd == pytest.approx(want_sd, rel=1e-6)


@settings(max_examples=300, deadline=None)
@given(k=st.integers(1, 1000), share=st.floats(0.0, 1.0), ini=st.floats(0.01, 0.99),
       prior=st.floats(0.5, 100.0))
def test_robust_posterior_invariants(k, share, ini, prior):
    """No dial yet: the prior's rate and sd. Otherwise between the posteriors of the prior
    and of the uniform part, never less for one more live answer among as many dials, and
    the plain Beta posterior with no doubt."""
    plain0 = (ini, math.sqrt(ini * (1 - ini) / (prior + 1)))
    assert _robust(0, 0, ini, prior) == pytest.approx(plain0, rel=1e-12)
    lv = math.floor(k * share)
    m = _robust(lv, k, ini, prior)[0]
    ma, mu = (lv + prior * ini) / (k + prior), (lv + 1.0) / (k + 2.0)
    assert min(ma, mu) - 1e-12 <= m <= max(ma, mu) + 1e-12
    if lv < k:
        assert _robust(lv + 1, k, ini, prior)[0] >= m - 1e-12
    assert _robust(lv, k, ini, prior, doubt=0.0) == pytest.approx(
        (ma, math.sqrt(ma * (1 - ma) / (k + prior + 1))), rel=1e-12)


@pytest.mark.parametrize(("true", "ini"), [(0.72, 0.25), (0.33, 0.05), (0.1, 0.6)])
def test_a_wrong_prior_gives_way_to_the_first_cohort(true, ini):
    """A 50-agent cold start's first folded cohort: 50 dials, the prior worth 20 x (200 -
    50) / 200 = 15 left in the short window. Averaged exactly over the binomial count of
    live answers, the plain posterior is pulled 15 / 65 of the way to a wrong prior; the
    doubted one keeps under a third of that pull (a count near the prior keeps some)."""
    from scipy import stats

    k, prior = 50, 15.0
    lv = np.arange(k + 1)
    pmf = stats.binom.pmf(lv, k, true)
    robust = pmf @ np.array([_robust(x, k, ini, prior)[0] for x in lv])
    plain = pmf @ ((lv + prior * ini) / (k + prior))
    assert plain - true == pytest.approx(prior / (k + prior) * (ini - true), rel=1e-9)
    assert abs(robust - true) <= abs(plain - true) / 3


def test_a_right_prior_is_kept():
    """The data agree with the prior (0.3 against 0.25; 50 dials, the prior worth 15):
    the doubt moves the estimate by a small part of the posterior sd (~0.05) on average."""
    rng = np.random.default_rng(8)
    k, prior, ini = 50, 15.0, 0.25
    lv = rng.binomial(k, 0.3, 4000)
    robust = np.array([_robust(x, k, ini, prior)[0] for x in lv])
    plain = (lv + prior * ini) / (k + prior)
    assert np.abs(robust - plain).mean() < 0.01


def _read_stream(rates, every, seed, span=1000):
    """One campaign's ring (the pacer's window and change test) fed a Bernoulli stream,
    ``rates[i]`` the chance that outcome i is live, read after every ``every`` outcomes.
    Returns the reads' means and sds and the outcome after which each change was found."""
    from pacer import decide as d
    from pacer.hitrate import _posterior_recent

    rng = np.random.default_rng(seed)
    live = (rng.random(len(rates)) < rates).astype(np.int64)
    s = HitRateState(HitRateParams(window=d.HIT_WINDOW, initial=0.25, prior_weight=20.0))
    p = s.params
    cum = np.zeros(d.HIT_WINDOW + 1, dtype=np.int64)
    mean, sd = np.empty(1), np.empty(1)
    means, sds, cuts = [], [], []
    for i in range(0, len(rates), every):
        s.record(np.zeros(len(live[i:i + every]), dtype=np.int64), live[i:i + every])
        before = int(s.since[0])
        _posterior_recent(p.window, p.initial, p.prior_weight, s.buf, s.pos, s.count,
                          s.since, np.array([span]), d.HIT_WINDOW_MIN, d.HIT_CHANGE_MIN,
                          d.HIT_CHANGE_LLR_UP, d.HIT_CHANGE_LLR_DOWN, d.HIT_CHANGE_GRID,
                          d.HIT_PRIOR_DOUBT, cum, np.ones(1, dtype=np.bool_), mean, sd)
        if s.since[0] < before:
            cuts.append(i + every)
        means.append(mean[0])
        sds.append(sd[0])
    return np.array(means), np.array(sds), cuts


@pytest.mark.parametrize("every", [1, 20])
def test_a_steady_rate_keeps_its_whole_window(every):
    """A steady 0.3 read after every outcome (a slow campaign) or every 20 (a fast one's
    fold), 100,000 outcomes: the change test rarely drops outcomes (one false change at
    this seed read one by one; 123 with both thresholds at 6 nats), so the reads vary as a
    1000-outcome window's, sqrt(0.3 x 0.7 / 1000) = 0.0145, not a short one's."""
    means, _, cuts = _read_stream(np.full(100_000, 0.3), every, seed=5)
    assert len(cuts) <= (6 if every == 1 else 1)
    settled = means[2000 // every:]
    assert settled.std() < 1.2 * math.sqrt(0.21 / 1000)
    assert abs(settled.mean() - 0.3) < 0.005


def test_a_step_up_is_followed_within_tens_of_outcomes():
    """0.2 for 2000 outcomes then 0.5, read after every outcome, 20 seeds: the change is
    found a median of under 50 outcomes after the step (by simulation ~38; the 1000-dial
    window would read 0.215 there), and 100 outcomes after it the estimate is within 3 of
    its sds of 0.5 in at least 18 of 20 (a 200-outcome window would read 0.35, 4 sds low)."""
    rates = np.r_[np.full(2000, 0.2), np.full(100, 0.5)]
    delays, near = [], 0
    for seed in range(20):
        means, sds, cuts = _read_stream(rates, 1, seed=100 + seed)
        after = [c - 2000 for c in cuts if c > 2000]
        delays.append(after[0] if after else 10**6)
        near += abs(means[-1] - 0.5) <= 3 * sds[-1]
    assert np.median(delays) < 50
    assert near >= 18

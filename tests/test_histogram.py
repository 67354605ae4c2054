"""Streaming histograms against np.histogram-based references."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from pacer.constants import ABS_TOL, HIST_SUPPORT_EPS, REL_TOL
from pacer.histogram import StreamingHistogram
from tests import naive_predictive as nv

SETTINGS = settings(max_examples=60, deadline=None)
bin_widths = st.sampled_from([0.25, 0.5, 1.0, 2.0, 0.1, 0.3])


@st.composite
def filled(draw, decay=False):
    """A one-row histogram fed with observations, and those observations."""
    bw = draw(bin_widths)
    n_bins = draw(st.integers(1, 40))
    support = n_bins * bw
    values = draw(st.lists(
        st.one_of(st.floats(0.0, 1.3 * support, allow_nan=False),
                  st.integers(0, int(1.3 * n_bins)).map(lambda k: k * bw)),  # bin edges
        min_size=1, max_size=60))
    d = draw(st.sampled_from([1.0, 0.9, 0.5])) if decay else 1.0
    h = StreamingHistogram(1, bw, support, decay=d)
    h.add_many(np.zeros(len(values), dtype=np.int64), np.array(values))
    return h, np.array(values)


def _xs(h):
    s = h.max_s
    return np.concatenate([np.linspace(-1.0, 1.2 * s, 97), np.arange(h.n_bins + 1) * h.bin_width_s])


@SETTINGS
@given(filled())
def test_counts_and_cdf_match_np_histogram(hv):
    h, values = hv
    ref = nv.hist_counts(values, h.n_bins, h.bin_width_s)
    assert_allclose(h.counts[0], ref, rtol=0, atol=0)  # same bins, edges included
    assert h.totals[0] == len(values)
    xs = _xs(h)
    assert_allclose(h.cdf(0, xs), nv.hist_cdf(ref, h.bin_width_s, xs), rtol=REL_TOL, atol=ABS_TOL)
    assert_allclose(h.survival(0, xs), 1.0 - nv.hist_cdf(ref, h.bin_width_s, xs),
                    rtol=REL_TOL, atol=ABS_TOL)
    assert h.mean(0) == pytest.approx(nv.hist_mean(ref, h.bin_width_s), rel=REL_TOL)


@SETTINGS
@given(filled(), st.lists(st.floats(0.0, 1.0), min_size=1, max_size=10))
def test_quantile(hv, qs):
    h, values = hv
    ref = nv.hist_counts(values, h.n_bins, h.bin_width_s)
    got = h.quantile(0, np.array(qs))
    want = [nv.hist_quantile(ref, h.bin_width_s, q) for q in qs]
    assert_allclose(got, want, rtol=REL_TOL, atol=1e-9)
    # the CDF at the quantile is q (the CDF is continuous)
    assert_allclose(h.cdf(0, got), qs, atol=1e-9)


def _survival_frac(ref, bw, x):
    return nv.hist_survival_weight(ref, bw, x) / ref.sum()


@SETTINGS
@given(filled(), st.floats(0.0, 100.0), st.floats(0.0, 30.0))
def test_finish_prob_matches_reference(hv, e, within):
    h, values = hv
    ref = nv.hist_counts(values, h.n_bins, h.bin_width_s)
    s_frac = _survival_frac(ref, h.bin_width_s, e)
    # Stay clear of the support threshold, where the exponential tail switches on.
    assume(not 0.5 * HIST_SUPPORT_EPS < s_frac < 2.0 * HIST_SUPPORT_EPS)
    got = h.finish_prob(0, e, within)
    want = nv.hist_finish_prob(ref, h.bin_width_s, e, within)
    assert got == pytest.approx(want, rel=REL_TOL, abs=ABS_TOL)
    assert 0.0 <= got <= 1.0


def test_finish_prob_exponential_tail_beyond_support():
    h = StreamingHistogram(1, 2.0, 100.0)
    h.add_many(np.zeros(3, dtype=np.int64), np.array([10.0, 20.0, 31.0]))
    m = h.mean(0)
    assert m == pytest.approx((11.0 + 21.0 + 31.0) / 3)
    # within the support: (S(e) - S(e + h)) / S(e)
    assert h.finish_prob(0, 0.0, 100.0) == 1.0
    assert h.finish_prob(0, 21.0, 1.0) == pytest.approx(0.5 / 1.5)
    # beyond the last observation: memoryless exponential with the row mean
    for e in (32.0, 50.0, 1e6):
        assert h.finish_prob(0, e, 5.0) == pytest.approx(1.0 - math.exp(-5.0 / m))
    assert h.hazard(0, 40.0) == pytest.approx(1.0 / m)
    assert h.hazard(0, 1e9) == pytest.approx(1.0 / m)


@SETTINGS
@given(filled(), st.floats(-5.0, 120.0))
def test_hazard_is_density_over_survival(hv, x):
    h, values = hv
    ref = nv.hist_counts(values, h.n_bins, h.bin_width_s)
    bw = h.bin_width_s
    s = nv.hist_survival_weight(ref, bw, x)
    got = h.hazard(0, x)
    if x < 0:
        assert got == 0.0
    elif s <= HIST_SUPPORT_EPS * ref.sum():
        assert got == pytest.approx(1.0 / nv.hist_mean(ref, bw))
    else:
        k = min(int(np.searchsorted(nv.hist_edges(h.n_bins, bw), x, side="right")) - 1,
                h.n_bins - 1)
        assert got == pytest.approx(ref[k] / (bw * s), rel=1e-9)


@pytest.mark.parametrize(("mean_s", "cv", "bw", "max_s", "shape"), [
    (180.0, 1.0, 2.0, 3600.0, "lognormal"),
    (180.0, 1.0, 2.0, 3600.0, "exponential"),
    (25.0, 0.5, 2.0, 3600.0, "lognormal"),
    (9.0, 0.5, 0.25, 60.0, "lognormal"),
    (9.0, 1.0, 0.25, 60.0, "exponential"),
])
def test_seeded_prior_has_the_requested_mean(mean_s, cv, bw, max_s, shape):
    h = StreamingHistogram(2, bw, max_s)
    h.seed(1, mean_s, cv, 20.0, shape=shape)
    assert h.totals[1] == pytest.approx(20.0, rel=1e-12)
    assert h.totals[0] == 0.0  # other rows untouched
    assert h.mean(1) == pytest.approx(mean_s, rel=0.005)
    if shape == "lognormal":
        want = 20.0 * nv.lognormal_bin_masses(h.n_bins, bw, mean_s, cv)
        assert_allclose(h.counts[1], want, rtol=1e-9, atol=1e-12)
    else:
        # exponential: the median is mean * ln 2
        assert h.quantile(1, 0.5) == pytest.approx(mean_s * math.log(2.0), rel=0.01)


def test_prior_then_data_weights():
    h = StreamingHistogram(1, 1.0, 100.0)
    h.seed(0, 10.0, 1.0, 4.0, shape="exponential")
    h.add_many(np.zeros(12, dtype=np.int64), np.full(12, 50.5))
    # 4 prior observations (mean ~10) and 12 at 50.5
    assert h.mean(0) == pytest.approx((4 * h_prior_mean() + 12 * 50.5) / 16, rel=1e-9)


def h_prior_mean():
    h = StreamingHistogram(1, 1.0, 100.0)
    h.seed(0, 10.0, 1.0, 4.0, shape="exponential")
    return h.mean(0)


@SETTINGS
@given(filled(decay=True))
def test_decay_equals_explicitly_weighted_histogram(hv):
    """Decay d per observation == np.histogram weighted by d**age (age 0 = newest)."""
    h, values = hv
    ages = np.arange(len(values))[::-1]
    ref = nv.hist_counts(values, h.n_bins, h.bin_width_s, weights=h.decay ** ages)
    assert_allclose(h.counts[0] / h.totals[0], ref / ref.sum(), rtol=1e-9, atol=1e-15)


def test_decay_forgets_and_renormalises():
    h = StreamingHistogram(2, 1.0, 200.0, decay=0.5)  # weight doubles per observation
    rows = np.zeros(2000, dtype=np.int64)
    h.add_many(rows[:1000], np.full(1000, 10.2))
    assert h.mean(0) == pytest.approx(10.5)
    h.add_many(rows[:1000], np.full(1000, 100.7))
    # 2000 doublings passed 1e100 many times: the row was rescaled and stays finite
    assert np.all(np.isfinite(h.counts[0])) and h.weights[0] <= 1e100
    assert h.mean(0) == pytest.approx(100.5)
    assert h.counts[0, 10] / h.totals[0] < 1e-250  # the old data is forgotten
    # without decay nothing is forgotten
    k = StreamingHistogram(1, 1.0, 200.0)
    k.add_many(rows[:20], np.r_[np.full(10, 10.2), np.full(10, 100.7)])
    assert k.mean(0) == pytest.approx(55.5)
    # a moderate decay keeps about 1 / (1 - d) observations of memory
    m = StreamingHistogram(1, 1.0, 200.0, decay=0.99)
    m.add_many(rows[:1000], np.full(1000, 10.2))
    m.add_many(rows[:100], np.full(100, 100.7))
    w_new = 1.0 - 0.99**100
    assert m.mean(0) == pytest.approx(w_new * 100.5 + (1 - w_new) * 10.5, rel=1e-3)


def test_add_many_equals_repeated_add():
    rng = np.random.default_rng(3)
    rows = rng.integers(0, 3, 200)
    vals = rng.exponential(20.0, 200)
    a = StreamingHistogram(3, 1.0, 60.0, decay=0.97)
    b = StreamingHistogram(3, 1.0, 60.0, decay=0.97)
    a.add_many(rows, vals)
    for r, v in zip(rows, vals, strict=True):
        b.add(int(r), float(v))
    assert_allclose(a.counts, b.counts, rtol=0, atol=0)
    assert_allclose(a.totals, b.totals, rtol=0, atol=0)


def test_empty_row_and_clear():
    h = StreamingHistogram(2, 1.0, 10.0)
    assert h.cdf(0, 5.0) == 0.0
    assert h.survival(0, 5.0) == 1.0
    assert math.isnan(h.mean(0))
    assert math.isnan(h.quantile(0, 0.5))
    assert h.finish_prob(0, 1.0, 5.0) == 0.0
    h.add(1, 3.5)
    assert h.cdf(1, 4.0) == 1.0
    h.clear(1)
    assert h.totals[1] == 0.0 and h.counts[1].sum() == 0.0


def test_shapes_and_scalars():
    h = StreamingHistogram(1, 0.25, 60.0)
    assert h.n_bins == 240 and h.max_s == 60.0
    assert h.counts.shape == (1, 240) and h.totals.shape == (1,)
    h.seed(0, 9.0, 0.5, 10.0)
    assert isinstance(h.cdf(0, 3.0), float)
    assert h.cdf(0, np.array([[1.0, 2.0], [3.0, 4.0]])).shape == (2, 2)
    assert h.finish_prob(0, np.array([1.0, 2.0, 3.0]), 2.0).shape == (3,)
    assert StreamingHistogram(1, 0.3, 1.0).n_bins == 4  # ceil


def test_validation():
    with pytest.raises(ValueError, match="n_rows"):
        StreamingHistogram(0, 1.0, 10.0)
    with pytest.raises(ValueError, match="bin_width_s"):
        StreamingHistogram(1, 0.0, 10.0)
    with pytest.raises(ValueError, match="decay"):
        StreamingHistogram(1, 1.0, 10.0, decay=0.0)
    h = StreamingHistogram(2, 1.0, 10.0)
    with pytest.raises(ValueError, match="row"):
        h.add(2, 1.0)
    with pytest.raises(ValueError, match="value_s"):
        h.add(0, -1.0)
    with pytest.raises(ValueError, match="value_s"):
        h.add(0, float("nan"))
    with pytest.raises(ValueError, match="rows"):
        h.add_many(np.array([0, 5]), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="values_s"):
        h.add_many(np.array([0, 1]), np.array([1.0]))
    with pytest.raises(ValueError, match=r"cv must be 1\.0"):
        h.seed(0, 5.0, 0.5, 10.0, shape="exponential")
    with pytest.raises(ValueError, match="shape"):
        h.seed(0, 5.0, 0.5, 10.0, shape="gamma")
    with pytest.raises(ValueError, match="mean_s"):
        h.seed(0, -5.0, 0.5, 10.0)
    with pytest.raises(ValueError, match="q must"):
        h.quantile(0, 1.5)


def test_truncate_drops_the_weight_past_the_cut_and_keeps_the_shape_before_it():
    h = StreamingHistogram(2, 0.25, 120.0)
    h.seed(0, 11.0, 0.6, 20.0)
    h.seed(1, 11.0, 0.6, 20.0)
    before = h.counts[0].copy()
    h.truncate(0, 20.0)
    cut = 80  # 20 s / 0.25 s bins
    assert h.counts[0, cut:].sum() == 0.0 and before[cut:].sum() > 0.0
    assert np.array_equal(h.counts[0, :cut], before[:cut])
    assert h.totals[0] == pytest.approx(before[:cut].sum())
    assert np.array_equal(h.counts[1], before)  # other rows untouched
    with pytest.raises(ValueError, match="max_s"):
        h.truncate(0, float("nan"))

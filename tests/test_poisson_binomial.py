"""Poisson-binomial PMF and expected excess against their references, exact enumeration and
Monte Carlo."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from pacer.constants import ABS_TOL, REL_TOL
from pacer.poisson_binomial import (
    _add_bernoulli,
    _excess_table,
    _expected_excess,
    expected_excess,
    poisson_binomial_pmf,
)
from tests import naive_predictive as nv

probs = st.floats(0.0, 1.0, allow_nan=False)
prob_lists = st.lists(probs, max_size=40)
SETTINGS = settings(max_examples=80, deadline=None)


@SETTINGS
@given(prob_lists)
def test_pmf_matches_repeated_convolution(p):
    got = poisson_binomial_pmf(np.array(p))
    assert got.shape == (len(p) + 1,)
    assert_allclose(got, nv.pb_pmf(p), rtol=REL_TOL, atol=ABS_TOL)
    assert abs(got.sum() - 1.0) < 1e-12
    assert got.min() >= 0.0


def test_pmf_edge_cases():
    assert_allclose(poisson_binomial_pmf(np.array([])), [1.0])
    assert_allclose(poisson_binomial_pmf(np.ones(5)), [0, 0, 0, 0, 0, 1.0])
    assert_allclose(poisson_binomial_pmf(np.zeros(3)), [1.0, 0, 0, 0])
    # Certain successes give exact zeros below them (the model relies on it).
    pmf = poisson_binomial_pmf(np.array([1.0, 0.3, 1.0, 0.6]))
    assert pmf[0] == 0.0 and pmf[1] == 0.0 and pmf[2] > 0.0


def test_pmf_binomial_closed_form():
    from math import comb

    n, q = 30, 0.37
    want = [comb(n, k) * q**k * (1 - q) ** (n - k) for k in range(n + 1)]
    assert_allclose(poisson_binomial_pmf(np.full(n, q)), want, rtol=1e-10, atol=ABS_TOL)


@SETTINGS
@given(prob_lists, st.integers(1, 5), probs)
def test_add_bernoulli_in_place(p, extra, q):
    buf = np.zeros(len(p) + 1 + extra)
    buf[: len(p) + 1] = nv.pb_pmf(p)
    length = len(p) + 1
    for _ in range(extra):
        length = _add_bernoulli(buf, length, q)
    assert length == len(p) + 1 + extra
    assert_allclose(buf, nv.pb_pmf(list(p) + [q] * extra), rtol=REL_TOL, atol=ABS_TOL)


pmfs = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=30).map(
    lambda w: np.array(w) / sum(w) if sum(w) > 0 else np.eye(1, len(w))[0]
)


@SETTINGS
@given(pmfs, pmfs)
def test_expected_excess_matches_double_sum(pmf_l, pmf_a):
    want = nv.expected_excess(pmf_l, pmf_a)
    assert expected_excess(pmf_l, pmf_a) == pytest.approx(want, rel=REL_TOL, abs=ABS_TOL)


@SETTINGS
@given(pmfs, st.integers(1, 40))
def test_excess_table(pmf_a, n):
    g = np.empty(n)
    _excess_table(pmf_a, pmf_a.size, n, g)
    for x in range(n):
        assert g[x] == pytest.approx(nv.expected_excess(np.eye(1, x + 1, x)[0], pmf_a),
                                     rel=REL_TOL, abs=ABS_TOL)


@settings(max_examples=60, deadline=None)
@given(st.lists(probs, max_size=6), st.lists(probs, max_size=6))
def test_expected_excess_exact_enumeration(q, p):
    """E[(L - A)+] against the sum over all 2^(n + m) outcomes of the Bernoullis."""
    want = 0.0
    for bits in itertools.product((0, 1), repeat=len(q) + len(p)):
        prob = 1.0
        for b, x in zip(bits, list(q) + list(p), strict=True):
            prob *= x if b else 1.0 - x
        live = sum(bits[: len(q)])
        free = sum(bits[len(q):])
        want += prob * max(live - free, 0)
    got = expected_excess(poisson_binomial_pmf(np.array(q)), poisson_binomial_pmf(np.array(p)))
    assert got == pytest.approx(want, rel=REL_TOL, abs=ABS_TOL)


@pytest.mark.parametrize(("n_live", "n_free"), [(400, 250), (1500, 800), (300, 120)])
def test_expected_excess_monte_carlo(n_live, n_free):
    """Large sizes: within 4 standard errors of a fixed-seed Monte Carlo estimate."""
    rng = np.random.default_rng(12345)
    q = rng.random(n_live) * 0.5
    p = rng.random(n_free)
    draws = 20_000
    live = np.zeros(draws)
    free = np.zeros(draws)
    for chunk in np.array_split(np.arange(draws), 10):
        live[chunk] = (rng.random((chunk.size, n_live)) < q).sum(axis=1)
        free[chunk] = (rng.random((chunk.size, n_free)) < p).sum(axis=1)
    x = np.maximum(live - free, 0.0)
    se = x.std(ddof=1) / np.sqrt(draws)
    got = expected_excess(poisson_binomial_pmf(q), poisson_binomial_pmf(p))
    assert abs(got - x.mean()) <= 4.0 * se + 1e-12
    # and the running-g kernel equals the double sum on the same (large) PMFs
    pmf_l, pmf_a = poisson_binomial_pmf(q), poisson_binomial_pmf(p)
    assert _expected_excess(pmf_l, pmf_l.size, pmf_a, pmf_a.size) == pytest.approx(
        nv.excess_outer(pmf_l, pmf_a), rel=1e-9, abs=ABS_TOL)


def test_the_references_sums_are_the_double_sums():
    # the NumPy reference's E[(L - A)+], E[(A - L)+] and E[min(A, L)] (from the PMF of L - A)
    # against the plain double sums over both PMFs
    rng = np.random.default_rng(5)
    for _ in range(20):
        pmf_l = poisson_binomial_pmf(rng.random(int(rng.integers(0, 12))))
        pmf_a = poisson_binomial_pmf(rng.random(int(rng.integers(0, 12))))
        pairs = [(i, j, pl * pa) for i, pl in enumerate(pmf_l) for j, pa in enumerate(pmf_a)]
        assert nv.excess_outer(pmf_l, pmf_a) == pytest.approx(
            sum(w * max(i - j, 0) for i, j, w in pairs), rel=1e-12, abs=1e-15)
        assert nv.shortfall_outer(pmf_l, pmf_a) == pytest.approx(
            sum(w * max(j - i, 0) for i, j, w in pairs), rel=1e-12, abs=1e-15)
        assert nv.matched_outer(pmf_l, pmf_a) == pytest.approx(
            sum(w * min(i, j) for i, j, w in pairs), rel=1e-12, abs=1e-15)


def test_validation():
    with pytest.raises(ValueError, match="p must"):
        poisson_binomial_pmf(np.array([0.5, 1.5]))
    with pytest.raises(ValueError, match="p must"):
        poisson_binomial_pmf(np.array([[0.5]]))
    with pytest.raises(ValueError, match="pmf_l"):
        expected_excess(np.array([]), np.array([1.0]))
    with pytest.raises(ValueError, match="pmf_a"):
        expected_excess(np.array([1.0]), np.array([-0.1, 1.1]))

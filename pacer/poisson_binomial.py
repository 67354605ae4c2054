"""Sums of independent Bernoullis (Poisson-binomial) and the expected excess of one count
over another: the exact arithmetic of the predictive model.

PMFs are float64 arrays indexed by the count: ``pmf[k] = P(X = k)``.
"""

from __future__ import annotations

import numba
import numpy as np

from pacer.ratio import real_array

__all__ = ["expected_excess", "poisson_binomial_pmf"]

# Helpers called inside other kernels' loops are compiled without numba's reference-counting
# runtime (NRT): they neither allocate nor return arrays, and with the NRT numba wraps the
# arrays handed to them in atomic incref/decref pairs wherever a call sits in a branch, about
# half of the predictive decision's time. (``_nrt`` is a numba target option.)
_helper_njit = numba.njit(cache=True, _nrt=False)

# --------------------------------------------------------------------------- kernels


@_helper_njit
def _pb_pmf(p, n, out):
    """PMF of the sum of Bernoulli(p[0..n-1]) into out[0..n] (O(n^2) convolution)."""
    out[0] = 1.0
    for j in range(n):
        pj = p[j]
        qj = 1.0 - pj
        out[j + 1] = out[j] * pj
        for i in range(j, 0, -1):
            out[i] = out[i] * qj + out[i - 1] * pj
        out[0] *= qj


@_helper_njit
def _add_bernoulli(pmf, length, q):
    """Convolve pmf[0..length-1] with Bernoulli(q) in place; returns the new length.

    pmf must have room for ``length + 1`` entries (O(length)).
    """
    r = 1.0 - q
    pmf[length] = pmf[length - 1] * q
    for i in range(length - 1, 0, -1):
        pmf[i] = pmf[i] * r + pmf[i - 1] * q
    pmf[0] *= r
    return length + 1


@_helper_njit
def _excess_table(pmf_a, len_a, n, g):
    """g[l] = E[(l - A)+] for l = 0..n-1, with A ~ pmf_a[0..len_a-1].

    g(0) = 0 and g(l + 1) = g(l) + P(A <= l): O(n), every term non-negative.
    """
    acc = 0.0
    cdf = 0.0
    # Two loops rather than a branch on x < len_a: an array read inside a conditional arm
    # costs an atomic incref/decref per pass in numba.
    for x in range(min(n, len_a)):
        g[x] = acc
        cdf += pmf_a[x]
        acc += cdf
    for x in range(min(n, len_a), n):
        g[x] = acc
        acc += cdf


@_helper_njit
def _expected_excess(pmf_l, len_l, pmf_a, len_a):
    """E[(L - A)+] for independent L ~ pmf_l[0..len_l-1] and A ~ pmf_a[0..len_a-1],
    in O(len_l + len_a) through the running g(l) = E[(l - A)+]."""
    total = 0.0
    g = 0.0
    cdf = 0.0
    for x in range(min(len_l, len_a)):
        total += pmf_l[x] * g
        cdf += pmf_a[x]
        g += cdf
    for x in range(min(len_l, len_a), len_l):
        total += pmf_l[x] * g
        g += cdf
    return total


# --------------------------------------------------------------------------- public layer


def _pmf_arg(name, x):
    a = real_array(name, x)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {a.shape}")
    if not np.all(np.isfinite(a)) or np.any(a < 0.0):
        raise ValueError(f"{name} must hold finite probabilities >= 0")
    return a


def poisson_binomial_pmf(p):
    """Exact PMF of the number of successes among independent Bernoulli(p[i]) trials.

    Args:
        p: 1-D array of probabilities (fractions 0..1), possibly empty.

    Returns:
        float64[len(p) + 1], entry k = P(k successes).

    Raises:
        ValueError: p is not 1-D or holds values outside [0, 1].
    """
    a = real_array("p", p)
    if a.ndim != 1:
        raise ValueError(f"p must be a 1-D array, got shape {a.shape}")
    if not np.all((a >= 0.0) & (a <= 1.0)):
        raise ValueError("p must hold probabilities in [0, 1]")
    out = np.empty(a.size + 1)
    _pb_pmf(a, a.size, out)
    return out


def expected_excess(pmf_l, pmf_a):
    """E[(L - A)+] for independent counts L and A given their PMFs.

    Args:
        pmf_l, pmf_a: 1-D arrays, entry k = P(count = k), non-negative. The result is linear
            in each, so sub-probability (truncated) PMFs are allowed.

    Raises:
        ValueError: not 1-D, empty, negative or non-finite entries.
    """
    a = _pmf_arg("pmf_l", pmf_l)
    b = _pmf_arg("pmf_a", pmf_a)
    return float(_expected_excess(a, a.size, b, b.size))


def warmup():
    """Compile (or load from the on-disk cache) every kernel of this module."""
    pmf = poisson_binomial_pmf(np.array([0.5, 0.25]))
    expected_excess(pmf, pmf)
    g = np.empty(4)
    _excess_table(pmf, pmf.size, 4, g)
    buf = np.zeros(4)
    buf[0] = 1.0
    _add_bernoulli(buf, 1, 0.5)

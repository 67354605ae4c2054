"""Streaming histograms: online estimates of duration distributions, one row per campaign.

Two uses: agent handling time (talk + wrap, seconds; 2 s bins up to 3600 s) and ring
time-to-answer of live answers (seconds; 0.25 s bins up to 60 s).

Layout (read directly by other kernels, e.g. ``pacer.predictive``):

- ``counts`` float64[C, B]: weight per bin; bin ``k`` covers ``[k * w, (k + 1) * w)`` seconds,
  ``w = bin_width_s``. Values at or beyond ``B * w`` count in the last bin, values are >= 0.
- ``totals`` float64[C]: ``totals[c] == counts[c].sum()`` (kept alongside, up to rounding).
- ``weights`` float64[C]: the weight the row's next observation gets.

Only ratios within a row mean anything: the scale of a row is arbitrary.

**Forgetting.** With ``decay < 1`` every observation makes older ones worth ``decay`` times
less. Rather than rescaling a whole row per observation, each row's observation weight grows
by ``1 / decay`` per observation; when it passes ``HIST_RENORM_WEIGHT`` the row is divided by
it once (so forgetting costs O(1) per observation, O(B) rarely).

**Shape within a bin** is uniform: the CDF is the linear interpolation of the cumulative
counts at the bin edges, the density is constant per bin, the mean uses bin midpoints.

**Beyond the support** (survival at most ``HIST_SUPPORT_EPS`` of the row's weight) the
conditional finishing probability and the hazard fall back to an exponential tail with the
row's mean ``m``: P(finish within h | elapsed e) = 1 - exp(-h / m), hazard = 1 / m.
An empty row (no weight) has CDF 0 everywhere (it never finishes) and NaN mean and
quantiles; seed it with a prior first.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from pacer.constants import HIST_RENORM_WEIGHT, HIST_SUPPORT_EPS
from pacer.ratio import real_array, real_number

__all__ = ["SHAPE_EXPONENTIAL", "SHAPE_LOGNORMAL", "StreamingHistogram"]

SHAPE_EXPONENTIAL = 0  # prior shape codes for ``_hist_seed``
SHAPE_LOGNORMAL = 1
_SHAPES = {"exponential": SHAPE_EXPONENTIAL, "lognormal": SHAPE_LOGNORMAL}

# Helpers called inside other kernels' loops are compiled without numba's reference-counting
# runtime (NRT): they neither allocate nor return arrays, and with the NRT numba wraps the
# arrays handed to them in atomic incref/decref pairs wherever a call sits in a branch, about
# half of the predictive decision's time. (``_nrt`` is a numba target option.)
_helper_njit = numba.njit(cache=True, _nrt=False)

# --------------------------------------------------------------------------- kernels


@_helper_njit
def _bin_index(n_bins, bin_width_s, x):
    """Bin holding value x >= 0 (edges ``k * bin_width_s``; x beyond the support: last bin)."""
    if x >= n_bins * bin_width_s:
        return n_bins - 1
    k = int(x / bin_width_s)
    # The quotient may round across an edge; settle on the edges k * w exactly.
    if k > 0 and x < k * bin_width_s:
        k -= 1
    elif x >= (k + 1) * bin_width_s:
        k += 1
    if k >= n_bins:
        k = n_bins - 1
    return k


@numba.njit(cache=True)
def _hist_add(counts, totals, weights, bin_width_s, decay, rows, values):
    """Add observations ``values[i]`` (seconds, >= 0) to rows ``rows[i]``, in order.

    counts float64[C, B], totals float64[C], weights float64[C] mutated in place; decay in
    (0, 1] per observation (1.0 = none).
    """
    n_bins = counts.shape[1]
    for i in range(rows.shape[0]):
        r = rows[i]
        k = _bin_index(n_bins, bin_width_s, values[i])
        w = weights[r]
        counts[r, k] += w
        totals[r] += w
        if decay < 1.0:
            w /= decay
            if w > HIST_RENORM_WEIGHT:
                # Rare rescale: the next observation weighs 1 again, ratios are unchanged.
                acc = 0.0
                for j in range(n_bins):
                    counts[r, j] /= w
                    acc += counts[r, j]
                totals[r] = acc
                w = 1.0
            weights[r] = w


@_helper_njit
def _lognormal_sf(x, mu, sigma):
    """Survival of a lognormal at x > 0."""
    return 0.5 * math.erfc((math.log(x) - mu) / (sigma * math.sqrt(2.0)))


@numba.njit(cache=True)
def _hist_seed(counts, totals, weights, bin_width_s, row, mean_s, cv, weight, shape):
    """Add a parametric prior worth ``weight`` observations to ``row``.

    shape: SHAPE_EXPONENTIAL (cv ignored, it is 1) or SHAPE_LOGNORMAL (mean_s and cv > 0).
    Bin k gets S(k w) - S((k + 1) w), the last bin also the tail beyond the support.
    """
    n_bins = counts.shape[1]
    scale = weight * weights[row]
    mu = 0.0
    sigma = 1.0
    if shape == SHAPE_LOGNORMAL:
        sigma = math.sqrt(math.log1p(cv * cv))
        mu = math.log(mean_s) - 0.5 * sigma * sigma
    s_lo = 1.0
    added = 0.0
    for k in range(n_bins):
        if k == n_bins - 1:
            s_hi = 0.0
        else:
            x = (k + 1) * bin_width_s
            if shape == SHAPE_EXPONENTIAL:
                s_hi = math.exp(-x / mean_s)
            else:
                s_hi = _lognormal_sf(x, mu, sigma)
        m = (s_lo - s_hi) * scale
        if m > 0.0:
            counts[row, k] += m
            added += m
        s_lo = s_hi
    totals[row] += added


# The evaluation helpers below read every array element they may need before branching
# (clamped indices, results chosen afterwards): straight-line loads keep the callers'
# loops cheap (and vectorisable in the per-row kernels further down).


@_helper_njit
def _row_prefix(counts, row, n, prefix):
    """prefix[k] = sum of counts[row, :k] for k = 0..n (n <= B bins)."""
    acc = 0.0
    prefix[0] = 0.0
    half = n // 2
    for i in range(half):  # two bins per step halves the dependency chain of the sum
        k = 2 * i
        a = counts[row, k]
        prefix[k + 1] = acc + a
        acc += a + counts[row, k + 1]
        prefix[k + 2] = acc
    for k in range(2 * half, n):
        acc += counts[row, k]
        prefix[k + 1] = acc


@_helper_njit
def _prefix_needed(n_bins, bin_width_s, x):
    """Bins of prefix ``_mass_below`` needs to evaluate any value up to x seconds."""
    if not x > 0.0:
        return 0
    if x >= n_bins * bin_width_s:
        return n_bins
    return min(int(x / bin_width_s) + 2, n_bins)


@_helper_njit
def _clamped_bin(n_bins, u):
    """int(u) clamped to a bin index, for reads made before the range checks."""
    return int(min(max(u, 0.0), n_bins - 1.0))


@_helper_njit
def _mass_below(counts, totals, row, prefix, bin_width_s, x):
    """Weight of ``row`` below x seconds (uniform within a bin); prefix from ``_row_prefix``.

    prefix must hold at least ``_prefix_needed(B, bin_width_s, x)`` bins (all of them, and
    the result is their sum, when x is beyond the support). x finite.
    """
    n_bins = counts.shape[1]
    u = x / bin_width_s
    k = _clamped_bin(n_bins, u)  # no edge correction: the interpolation is continuous
    inside = prefix[k] + counts[row, k] * (u - k)
    top = prefix[n_bins]
    if not u > 0.0:
        return 0.0
    if u >= n_bins:
        return top
    return inside


@_helper_njit
def _weight_between(counts, row, prefix, bin_width_s, a, b):
    """Weight of ``row`` in [a, b) seconds, 0 <= a, summed directly (no difference of two
    cumulative weights), so an empty stretch gives exactly 0; prefix as ``_mass_below``
    at b."""
    n_bins = counts.shape[1]
    ua = a / bin_width_s
    ub = min(b / bin_width_s, float(n_bins))
    ka = _clamped_bin(n_bins, ua)
    kb = int(min(max(ub, 0.0), float(n_bins)))
    c_a = counts[row, ka]
    c_b = counts[row, min(kb, n_bins - 1)]
    middle = prefix[kb] - prefix[ka + 1]
    if not ua < ub:
        return 0.0
    if ka == kb:
        return c_a * (ub - ua)
    w = c_a * ((ka + 1) - ua) + middle
    if kb < n_bins:
        w += c_b * (ub - kb)
    return w if w > 0.0 else 0.0


@_helper_njit
def _mass_above(counts, totals, row, prefix, bin_width_s, x):
    """Weight of ``row`` at or above x seconds (clamped at 0); prefix as ``_mass_below``.

    Taken as (weight above x's bin) + (part of x's bin above x), the first term as
    ``totals - prefix``: exact for whole-number counts, otherwise an absolute error of a few
    ulps of the total, so callers re-sum small survivals with ``_tail_weight``.
    """
    n_bins = counts.shape[1]
    u = x / bin_width_s
    k = _clamped_bin(n_bins, u)
    total = totals[row]
    s = (total - prefix[k + 1]) + counts[row, k] * ((k + 1) - u)
    if not u > 0.0:
        return total
    if u >= n_bins:
        return 0.0
    return s if s > 0.0 else 0.0


@_helper_njit
def _row_suffix(counts, row, suffix):
    """suffix[k] = sum of counts[row, k:] for k = 0..B (suffix[B] = 0)."""
    n_bins = counts.shape[1]
    acc = 0.0
    suffix[n_bins] = 0.0
    for k in range(n_bins - 1, -1, -1):
        acc += counts[row, k]
        suffix[k] = acc


@_helper_njit
def _tail_weight(counts, row, suffix, bin_width_s, x):
    """Weight of ``row`` at or above x seconds from ``_row_suffix``: a sum of non-negative
    terms, accurate however small (``_mass_above`` loses relative precision there)."""
    n_bins = counts.shape[1]
    u = x / bin_width_s
    k = _clamped_bin(n_bins, u)
    inside = suffix[k + 1] + counts[row, k] * ((k + 1) - u)
    top = suffix[0]
    if not u > 0.0:
        return top
    if u >= n_bins:
        return 0.0
    return inside


@_helper_njit
def _row_mean(counts, totals, row, bin_width_s):
    """Mean of ``row`` in seconds (bin midpoints); NaN for an empty row."""
    total = totals[row]
    if not total > 0.0:
        return np.nan
    acc = 0.0
    for k in range(counts.shape[1]):
        acc += counts[row, k] * (k + 0.5)
    return acc * bin_width_s / total


@_helper_njit
def _cond_finish(s_e, s_eh, total, within_s, mean_s):
    """P(finish within ``within_s`` | not finished at e) from the survival weights at e
    and e + within_s of a row of weight ``total``; exponential tail with mean ``mean_s``
    beyond the support. 0 for an empty row."""
    if not total > 0.0 or not within_s > 0.0:
        return 0.0
    if s_e <= HIST_SUPPORT_EPS * total:
        if mean_s > 0.0:
            return -math.expm1(-within_s / mean_s)
        return 1.0
    p = (s_e - s_eh) / s_e
    if p < 0.0:
        return 0.0
    if p > 1.0:
        return 1.0
    return p


@numba.njit(cache=True)
def _hist_cdf(counts, totals, bin_width_s, row, xs, out):
    """CDF of ``row`` at xs (seconds) into out."""
    n_bins = counts.shape[1]
    prefix = np.empty(n_bins + 1)
    _row_prefix(counts, row, n_bins, prefix)
    total = totals[row]
    for i in range(xs.shape[0]):
        if total > 0.0:
            f = _mass_below(counts, totals, row, prefix, bin_width_s, xs[i]) / total
            out[i] = min(max(f, 0.0), 1.0)
        else:
            out[i] = 0.0


@numba.njit(cache=True)
def _hist_survival(counts, totals, bin_width_s, row, xs, out):
    """Survival 1 - CDF of ``row`` at xs (seconds) into out (1 for an empty row)."""
    n_bins = counts.shape[1]
    suffix = np.empty(n_bins + 1)
    _row_suffix(counts, row, suffix)
    total = totals[row]
    for i in range(xs.shape[0]):
        if total > 0.0:
            s = _tail_weight(counts, row, suffix, bin_width_s, xs[i]) / total
            out[i] = min(s, 1.0)
        else:
            out[i] = 1.0


@numba.njit(cache=True)
def _hist_hazard(counts, totals, bin_width_s, row, xs, out):
    """Hazard f(x) / S(x) of ``row`` at xs into out (1/s); 1/mean beyond the support,
    0 at x < 0 and for an empty row."""
    n_bins = counts.shape[1]
    suffix = np.empty(n_bins + 1)
    _row_suffix(counts, row, suffix)
    total = totals[row]
    mean_s = _row_mean(counts, totals, row, bin_width_s)
    for i in range(xs.shape[0]):
        x = xs[i]
        if not total > 0.0 or x < 0.0:
            out[i] = 0.0
            continue
        s = _tail_weight(counts, row, suffix, bin_width_s, x)
        if s <= HIST_SUPPORT_EPS * total:
            out[i] = 1.0 / mean_s
        else:
            k = _bin_index(n_bins, bin_width_s, x)
            out[i] = counts[row, k] / (bin_width_s * s)


@numba.njit(cache=True)
def _hist_quantile(counts, totals, bin_width_s, row, qs, out):
    """Smallest x (seconds) with CDF(x) >= q, for q in qs (0..1), into out; NaN if empty."""
    n_bins = counts.shape[1]
    total = totals[row]
    for i in range(qs.shape[0]):
        if not total > 0.0:
            out[i] = np.nan
            continue
        target = qs[i] * total
        cum = 0.0
        x = np.nan
        last = -1
        for k in range(n_bins):
            c = counts[row, k]
            if c > 0.0:
                last = k
                if cum + c >= target:
                    frac = (target - cum) / c
                    frac = min(max(frac, 0.0), 1.0)
                    x = (k + frac) * bin_width_s
                    break
                cum += c
        if x != x and last >= 0:  # rounding left target above the sum: top of support
            x = (last + 1) * bin_width_s
        out[i] = x


@numba.njit(cache=True)
def _hist_finish_prob(counts, totals, bin_width_s, row, elapsed_s, within_s, out):
    """P(finish within within_s[i] | elapsed_s[i] already elapsed) for ``row`` into out."""
    n_bins = counts.shape[1]
    suffix = np.empty(n_bins + 1)
    _row_suffix(counts, row, suffix)
    total = totals[row]
    mean_s = _row_mean(counts, totals, row, bin_width_s)
    for i in range(elapsed_s.shape[0]):
        e = elapsed_s[i]
        s_e = _tail_weight(counts, row, suffix, bin_width_s, e)
        s_eh = _tail_weight(counts, row, suffix, bin_width_s, e + within_s[i])
        out[i] = _cond_finish(s_e, s_eh, total, within_s[i], mean_s)


# --------------------------------------------------------------------------- public layer


def _check_row(row, n_rows):
    if isinstance(row, bool) or not isinstance(row, (int, np.integer)):
        raise ValueError(f"row must be an int, got {row!r}")
    if not 0 <= int(row) < n_rows:
        raise ValueError(f"row must be in [0, {n_rows}), got {row}")
    return int(row)


def _as_float_array(name, x, *, nonneg=False, unit=False):
    a = real_array(name, x)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite, got {x!r}")
    if nonneg and np.any(a < 0.0):
        raise ValueError(f"{name} must be >= 0 (seconds), got {x!r}")
    if unit and np.any((a < 0.0) | (a > 1.0)):
        raise ValueError(f"{name} must be a fraction in [0, 1], got {x!r}")
    return a


def _positive_finite(name, x):
    return real_number(name, x, 0.0, lo_open=True)


class StreamingHistogram:
    """Per-campaign histograms of a duration (seconds), with optional forgetting.

    Args:
        n_rows: number of rows (campaigns), >= 1.
        bin_width_s: bin width in seconds, > 0.
        max_s: support in seconds; ``n_bins = ceil(max_s / bin_width_s)`` bins cover
            ``[0, n_bins * bin_width_s)``, values beyond count in the last bin.
        decay: weight kept by older observations per new observation in the same row,
            in (0, 1]; 1.0 keeps everything (memory about ``1 / (1 - decay)`` observations).

    Attributes ``counts`` float64[n_rows, n_bins], ``totals`` float64[n_rows], ``weights``
    float64[n_rows] and ``bin_width_s`` are the raw state other kernels read (module
    docstring). Raises ValueError on bad arguments.
    """

    def __init__(self, n_rows, bin_width_s, max_s, decay=1.0):
        if isinstance(n_rows, bool) or not isinstance(n_rows, (int, np.integer)) or n_rows < 1:
            raise ValueError(f"n_rows must be an int >= 1, got {n_rows!r}")
        self.bin_width_s = _positive_finite("bin_width_s", bin_width_s)
        max_s = _positive_finite("max_s", max_s)
        decay = real_number("decay", decay, 0.0, 1.0, lo_open=True)
        self.decay = decay
        self.n_rows = int(n_rows)
        # The 1e-9 guards ceil against a quotient that rounds just above an integer.
        self.n_bins = max(1, math.ceil(max_s / self.bin_width_s - 1e-9))
        self.max_s = self.n_bins * self.bin_width_s
        self.counts = np.zeros((self.n_rows, self.n_bins))
        self.totals = np.zeros(self.n_rows)
        self.weights = np.ones(self.n_rows)

    # -- updates

    def seed(self, row, mean_s, cv, weight, shape="lognormal"):
        """Add a parametric prior to ``row`` so a cold start has a distribution.

        Args:
            row: campaign row.
            mean_s: mean of the prior, seconds (> 0).
            cv: coefficient of variation (> 0); must be 1.0 for ``shape="exponential"``.
            weight: the prior is worth this many observations (> 0); with forgetting it
                fades like observations made now.
            shape: ``"lognormal"`` or ``"exponential"``.
        """
        row = _check_row(row, self.n_rows)
        mean_s = _positive_finite("mean_s", mean_s)
        cv = _positive_finite("cv", cv)
        weight = _positive_finite("weight", weight)
        if shape not in _SHAPES:
            raise ValueError(f"shape must be 'lognormal' or 'exponential', got {shape!r}")
        if shape == "exponential" and cv != 1.0:
            raise ValueError(f"cv must be 1.0 for shape='exponential', got {cv!r}")
        _hist_seed(self.counts, self.totals, self.weights, self.bin_width_s, row,
                   mean_s, cv, weight, _SHAPES[shape])

    def truncate(self, row, max_s):
        """Drop the weight of ``row`` at or past ``max_s`` seconds (the bins starting there),
        e.g. a prior's tail past a timeout no observation can exceed."""
        row = _check_row(row, self.n_rows)
        max_s = _positive_finite("max_s", max_s)
        k = min(math.ceil(max_s / self.bin_width_s - 1e-9), self.counts.shape[1])
        self.counts[row, k:] = 0.0
        self.totals[row] = float(self.counts[row].sum())

    def clear(self, row):
        """Forget everything in ``row`` (including any prior)."""
        row = _check_row(row, self.n_rows)
        self.counts[row] = 0.0
        self.totals[row] = 0.0
        self.weights[row] = 1.0

    def add(self, row, value_s):
        """Add one observation ``value_s`` (seconds, >= 0) to ``row``."""
        row = _check_row(row, self.n_rows)
        v = _as_float_array("value_s", value_s, nonneg=True)
        if v.ndim != 0:
            raise ValueError(f"value_s must be a scalar, got shape {v.shape}")
        _hist_add(self.counts, self.totals, self.weights, self.bin_width_s, self.decay,
                  np.array([row], dtype=np.int64), v.reshape(1))

    def add_many(self, rows, values_s):
        """Add observations ``values_s[i]`` (seconds, >= 0) to ``rows[i]``, in order."""
        r = np.asarray(rows)
        if r.ndim != 1 or not (r.size == 0 or np.issubdtype(r.dtype, np.integer)):
            raise ValueError(f"rows must be a 1-D integer array, got {rows!r}")
        r = r.astype(np.int64)
        if r.size and (r.min() < 0 or r.max() >= self.n_rows):
            raise ValueError(f"rows must be in [0, {self.n_rows})")
        v = _as_float_array("values_s", values_s, nonneg=True)
        if v.shape != r.shape:
            raise ValueError(f"values_s must have the shape of rows {r.shape}, got {v.shape}")
        _hist_add(self.counts, self.totals, self.weights, self.bin_width_s, self.decay,
                  r, np.ascontiguousarray(v))

    # -- queries (x may be a scalar or an array; the result has its shape)

    def _eval(self, kernel, row, x, name, *, unit=False):
        row = _check_row(row, self.n_rows)
        a = _as_float_array(name, x, unit=unit)
        flat = np.ascontiguousarray(a.reshape(-1))
        out = np.empty_like(flat)
        kernel(self.counts, self.totals, self.bin_width_s, row, flat, out)
        return float(out[0]) if a.ndim == 0 else out.reshape(a.shape)

    def cdf(self, row, x_s):
        """P(duration <= x_s) for ``row``; 0 for an empty row."""
        return self._eval(_hist_cdf, row, x_s, "x_s")

    def survival(self, row, x_s):
        """P(duration > x_s) for ``row``; 1 for an empty row."""
        return self._eval(_hist_survival, row, x_s, "x_s")

    def hazard(self, row, x_s):
        """Hazard density / survival at x_s, per second; 1/mean beyond the support."""
        return self._eval(_hist_hazard, row, x_s, "x_s")

    def quantile(self, row, q):
        """Smallest duration (seconds) with CDF >= q (fraction 0..1); NaN for an empty row."""
        return self._eval(_hist_quantile, row, q, "q", unit=True)

    def mean(self, row):
        """Mean duration of ``row`` in seconds; NaN for an empty row."""
        row = _check_row(row, self.n_rows)
        return float(_row_mean(self.counts, self.totals, row, self.bin_width_s))

    def finish_prob(self, row, elapsed_s, within_s):
        """P(finish within ``within_s`` | ``elapsed_s`` already elapsed), both in seconds.

        Exponential tail with the row's mean beyond the support (module docstring);
        arrays broadcast against each other.
        """
        row = _check_row(row, self.n_rows)
        e = _as_float_array("elapsed_s", elapsed_s, nonneg=True)
        h = _as_float_array("within_s", within_s, nonneg=True)
        e, h = np.broadcast_arrays(e, h)
        shape = e.shape
        e = np.ascontiguousarray(e.reshape(-1))
        h = np.ascontiguousarray(h.reshape(-1))
        out = np.empty_like(e)
        _hist_finish_prob(self.counts, self.totals, self.bin_width_s, row, e, h, out)
        return float(out[0]) if len(shape) == 0 else out.reshape(shape)


def warmup():
    """Compile (or load from the on-disk cache) every histogram kernel."""
    h = StreamingHistogram(2, 1.0, 10.0, decay=0.5)
    h.seed(0, 3.0, 1.0, 5.0, shape="exponential")
    h.seed(1, 3.0, 0.5, 5.0)
    h.add_many(np.array([0, 1, 0]), np.array([1.5, 2.5, 30.0]))
    x = np.array([0.5, 20.0])
    h.cdf(0, x)
    h.survival(0, x)
    h.hazard(0, x)
    h.quantile(0, np.array([0.1, 0.9]))
    h.mean(0)
    h.finish_prob(0, x, x)

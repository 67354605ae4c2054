"""Online hit rate per campaign: live answers / completed dials.

Two estimates, updated outcome by outcome:

- **window**: live answers among the last ``window`` completed dials (a ring buffer per
  campaign), with the cold-start ``initial`` value blended in as a prior. The prior is worth
  ``prior_weight`` observations at cold start and fades linearly as the window fills, to
  nothing once it is full: with ``k`` outcomes held (``k <= W``) and ``L`` of them live,
  ``w = prior_weight * (W - k) / W`` and the estimate is ``(L + w * initial) / (k + w)``
  (``initial`` when ``k + w = 0``). Fading avoids a jump when the window fills.
- **smoothed**: an exponentially smoothed value started at ``initial``:
  ``s += alpha * (x - s)`` per outcome, ``x`` = 1 for a live answer, else 0; its memory is
  about ``1 / alpha`` outcomes.

Both return ``initial`` before the first outcome. Values are fractions 0..1.

**The pacer's posterior** (``_posterior_recent``: mean and standard deviation, for the
look-ahead's samples) reads the newest outcomes of the ring: as many as the campaign's dial
rate makes in a span of minutes (the caller's ``span``, within ``[span_min, W]``), and only
those since the last change of rate. A change is found by the generalised likelihood ratio
test of one rate before and one after a split of those outcomes against one rate
throughout (``_change_point``: the split that exceeds its direction's threshold the most,
a rise and a fall each with its own, at least ``m_min`` outcomes on each side); where one
is found the older outcomes are dropped (``HitRateState.since``), and the window grows back
from the newer ones as outcomes come. A stationary rate keeps the whole span (a steady
estimate at any dial volume); a step is followed within tens of outcomes, not half a
window. Its prior fades over the first ``span_min`` outcomes and is *doubted*: the prior is a
mixture, Beta(w initial, w (1 - initial)) with weight ``1 - doubt`` and the uniform Beta(1,
1) with weight ``doubt`` (``pacer.decide.HIT_PRIOR_DOUBT``, 0.1: the chance that
``initial_hit_rate`` is no guide at all), and each part's posterior is weighted by how
likely it made the dials seen (its Beta-binomial marginal likelihood). Where the dials
agree with the prior the estimate is the plain Beta posterior's, to a small part of its
sd; where they contradict it, the prior gives way at once instead of weighing ``w``
observations until the window fills. A 50-agent campaign's first folded cohort is about
50 dials against a prior still worth 15: at a true 0.72 against a prior of 0.25 the plain
posterior averaged 0.61 and the doubted one 0.70 (``tests/test_hitrate.py``). Before any
dial, and with no prior left (a full window), it is the plain posterior: the prior's rate
with the prior's uncertainty at a cold start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from pacer.constants import DEFAULT_INITIAL_HIT_RATE, DEFAULT_PRIOR_WEIGHT
from pacer.ratio import _frozen, _row_count, float_rows, int_rows

__all__ = ["HitRateEstimates", "HitRateParams", "HitRateState"]


@numba.njit(cache=True)
def _hitrate_record(rows, live, window, alpha, buf, pos, count, live_count, smoothed, since):
    """Fold outcomes, in order, into the rows' rings and smoothed values.

    rows int64[m] (campaign row per outcome), live int64[m] (1 live answer, 0 other);
    window int64[n] (W per row, <= buf.shape[1]), alpha float64[n]; buf int64[n, Wmax];
    pos, count, live_count int64[n]; smoothed float64[n]; since int64[n] (outcomes since
    the row's last change of rate, at most W). All state mutated in place.
    """
    for e in range(rows.shape[0]):
        r = rows[e]
        x = live[e]
        p = pos[r]
        if count[r] == window[r]:
            live_count[r] -= buf[r, p]
        else:
            count[r] += 1
        if since[r] < window[r]:
            since[r] += 1
        buf[r, p] = x
        live_count[r] += x
        p += 1
        if p == window[r]:
            p = 0
        pos[r] = p
        smoothed[r] += alpha[r] * (x - smoothed[r])


@numba.njit(cache=True)
def _hitrate_window(window, initial, prior_weight, count, live_count, out):
    """Window estimate with the fading prior (module docstring) into out float64[n]."""
    for i in range(out.shape[0]):
        k = count[i]
        w = prior_weight[i] * (window[i] - k) / window[i]
        den = k + w
        if den > 0.0:
            out[i] = (live_count[i] + w * initial[i]) / den
        else:
            out[i] = initial[i]


@numba.njit(cache=True)
def _log_beta(a, b):
    """log B(a, b) for a, b > 0."""
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


@numba.njit(cache=True)
def _robust_posterior(lv, k, ini, prior, doubt):
    """Posterior mean and standard deviation of a hit rate from ``lv`` live answers among
    ``k`` dials, the prior ``ini`` worth ``prior`` observations, doubted (module
    docstring): a mixture of Beta(prior ini, prior (1 - ini)) (weight 1 - doubt) and the
    uniform Beta(1, 1) (weight doubt), each updated by the data and weighted by its
    marginal likelihood of them. The plain Beta posterior (mean ``(lv + prior ini) / (k +
    prior)``, sd ``sqrt(m (1 - m) / (k + prior + 1))``) where there is nothing to doubt it
    with or nothing to doubt: no dial yet, ``doubt`` 0, no prior left, or ``ini`` 0 or 1."""
    den = k + prior
    if not (k > 0.0 and doubt > 0.0 and prior > 0.0 and 0.0 < ini < 1.0):
        m = (lv + prior * ini) / den if den > 0.0 else ini
        return m, math.sqrt(m * (1.0 - m) / (den + 1.0))
    a0, b0 = prior * ini, prior * (1.0 - ini)
    f = k - lv
    # log of each part's weight times its marginal likelihood of the data (the binomial
    # coefficient is common to both and cancels; B(1, 1) = 1)
    log_a = math.log1p(-doubt) + _log_beta(a0 + lv, b0 + f) - _log_beta(a0, b0)
    log_u = math.log(doubt) + _log_beta(1.0 + lv, 1.0 + f)
    top = max(log_a, log_u)
    wa, wu = math.exp(log_a - top), math.exp(log_u - top)
    pa = wa / (wa + wu)
    ma, mu = (a0 + lv) / den, (1.0 + lv) / (2.0 + k)
    va = ma * (1.0 - ma) / (den + 1.0)
    vu = mu * (1.0 - mu) / (k + 3.0)
    m = pa * ma + (1.0 - pa) * mu
    var = pa * (va + ma * ma) + (1.0 - pa) * (vu + mu * mu) - m * m
    return min(max(m, 0.0), 1.0), math.sqrt(max(var, 0.0))


@numba.njit(cache=True)
def _max_loglik(k, n):
    """Largest log-likelihood of ``k`` successes in ``n`` Bernoulli trials (at p = k / n;
    0 log 0 = 0)."""
    out = 0.0
    if k > 0.0:
        out += k * math.log(k / n)
    if k < n:
        out += (n - k) * math.log((n - k) / n)
    return out


@numba.njit(cache=True)
def _recent_live(ring, w, pos, n, cum):
    """Live answers among the newest j outcomes of one ring (``ring[:w]``, next slot
    ``pos``), into ``cum[j]`` for j = 0..n (int64[>= n + 1])."""
    cum[0] = 0
    p = pos
    for j in range(1, n + 1):
        p -= 1
        if p < 0:
            p = w - 1
        cum[j] = cum[j - 1] + ring[p]


@numba.njit(cache=True)
def _split_excess(cum, n, j, tot, base, llr_up, llr_down):
    """The generalised likelihood ratio (nats) of a change after the newest ``j`` of ``n``
    outcomes, ``log L(newest j) + log L(older n - j) - log L(all n)`` (each at its own
    rate), less the ratio a change in its direction must exceed: ``llr_up`` where the
    newest rate is the higher, else ``llr_down``."""
    s = float(cum[j])
    llr = _max_loglik(s, float(j)) + _max_loglik(tot - s, float(n - j)) - base
    up = s * (n - j) > (tot - s) * j
    return llr - (llr_up if up else llr_down)


@numba.njit(cache=True)
def _change_point(cum, n, m_min, grid, llr_up, llr_down):
    """The change of hit rate that the newest ``n`` outcomes support best (``cum``:
    ``_recent_live``'s counts): the split whose likelihood ratio exceeds its direction's
    threshold the most (``_split_excess``), over splits with at least ``m_min`` outcomes
    on each side, tried at j = m_min, m_min x grid, m_min x grid^2, ... newest outcomes
    and, where one of those exceeds its threshold (a change), at every j between the best
    one's neighbours. Returns (excess, j); (-1.0, 0) where n < 2 m_min. A change is
    supported where the excess is positive."""
    if n < 2 * m_min:
        return -1.0, 0
    tot = float(cum[n])
    base = _max_loglik(tot, float(n))
    best, best_j, prev_j, lo, hi = -np.inf, 0, m_min, m_min, m_min
    just_best = False
    j = m_min
    while j <= n - m_min:
        x = _split_excess(cum, n, j, tot, base, llr_up, llr_down)
        if x > best:
            best, best_j, lo, hi = x, j, prev_j, n - m_min
            just_best = True
        elif just_best:  # the point after the best so far
            hi = j
            just_best = False
        prev_j = j
        j = max(j + 1, int(j * grid))
    if best > 0.0:  # a change: placed at the best split between the grid's neighbours
        for j in range(lo, hi + 1):
            x = _split_excess(cum, n, j, tot, base, llr_up, llr_down)
            if x > best:
                best, best_j = x, j
    return best, best_j


@numba.njit(cache=True)
def _posterior_recent(window, initial, prior_weight, buf, pos, count, since, span,
                      span_min, m_min, llr_up, llr_down, grid, doubt, cum, fresh, mean, sd):
    """Posterior mean and standard deviation of each row's hit rate from its newest
    outcomes, as many as ``span`` (the outcomes of the last minutes, int64[n]; at least
    ``span_min``, at most the ring's ``window``) and since the row's last change
    (``since``, int64[n], mutated): where the newest of those outcomes disagree with the
    older beyond chance (``_change_point``'s ratio over ``llr_up`` nats for a rise,
    ``llr_down`` for a fall, at least ``m_min`` outcomes each side) the older are
    dropped and ``since`` set to the newer's count. The prior (``initial``, worth
    ``prior_weight`` outcomes) fades over the first ``span_min`` outcomes, ``w =
    prior_weight (S - k) / S`` for S = span_min and k <= S the outcomes held, whatever the
    span (a span of a cold start's burst of dials kept a wrong prior worth 14 outcomes
    after 300), and is doubted with ``doubt`` (``_robust_posterior``). ``cum``: scratch
    int64[>= max window + 1]. Into mean and sd (float64[n]), for the rows with new
    outcomes (``fresh``, bool[n], cleared); the others keep theirs."""
    for i in range(mean.shape[0]):
        if not fresh[i]:
            continue
        fresh[i] = False
        w = window[i]
        k = count[i]
        big = min(max(span[i], span_min), w)
        n = min(k, big, since[i])
        _recent_live(buf[i], w, pos[i], n, cum)
        excess, j = _change_point(cum, n, m_min, grid, llr_up, llr_down)
        if excess > 0.0:
            since[i] = j
            n = j
        prior = prior_weight[i] * (span_min - min(k, span_min)) / span_min
        mean[i], sd[i] = _robust_posterior(float(cum[n]), float(n), initial[i], prior, doubt)


@dataclass(frozen=True)
class HitRateParams:
    """Per-campaign estimator settings (scalars broadcast; arrays read-only).

    Attributes:
        window: int64[n], outcomes in the sliding window (>= 1).
        alpha: float64[n], smoothing weight of each new outcome (0 < alpha <= 1).
        initial: float64[n], cold-start hit rate (0..1).
        prior_weight: float64[n], the cold-start prior's worth in observations (>= 0).
    """

    window: np.ndarray
    alpha: np.ndarray = 0.01  # type: ignore[assignment]
    initial: np.ndarray = DEFAULT_INITIAL_HIT_RATE  # type: ignore[assignment]
    prior_weight: np.ndarray = DEFAULT_PRIOR_WEIGHT  # type: ignore[assignment]

    def __post_init__(self) -> None:
        names = ("window", "alpha", "initial", "prior_weight")
        n = _row_count({k: getattr(self, k) for k in names})
        conv = {
            "window": int_rows("window", self.window, n, lo=1),
            "alpha": float_rows("alpha", self.alpha, n, lo=0.0, hi=1.0, lo_open=True),
            "initial": float_rows("initial", self.initial, n, lo=0.0, hi=1.0),
            "prior_weight": float_rows("prior_weight", self.prior_weight, n, lo=0.0),
        }
        for k, v in conv.items():
            _frozen(v)
            object.__setattr__(self, k, v)

    @property
    def n(self) -> int:
        """Number of campaigns (rows)."""
        return int(self.window.shape[0])


@dataclass(frozen=True)
class HitRateEstimates:
    """A snapshot of the estimates (fresh arrays, one row per campaign).

    Attributes:
        window: float64[n], the sliding-window estimate with the fading prior.
        smoothed: float64[n], the exponentially smoothed estimate.
        count: int64[n], outcomes in the window (``window`` once full).
        live: int64[n], live answers in the window.
    """

    window: np.ndarray
    smoothed: np.ndarray
    count: np.ndarray
    live: np.ndarray


class HitRateState:
    """Rings and smoothed values of a batch of campaigns.

    Attributes (mutated in place by :meth:`record`):
        buf: int64[n, max(window)], the last outcomes (1 live, 0 other), ring per row.
        pos: int64[n], next slot; count: int64[n], outcomes held; live_count: int64[n].
        smoothed: float64[n], starts at ``initial``.
        since: int64[n], outcomes since the last change of rate found (``_posterior_recent``
        sets it; the window's length until one is).
    """

    def __init__(self, params: HitRateParams):
        self.params = params
        n = params.n
        self.buf = np.zeros((n, int(params.window.max())), dtype=np.int64)
        self.pos = np.zeros(n, dtype=np.int64)
        self.count = np.zeros(n, dtype=np.int64)
        self.live_count = np.zeros(n, dtype=np.int64)
        self.smoothed = params.initial.copy()
        self.since = params.window.copy()  # no change seen: the whole window

    @property
    def n(self) -> int:
        return self.params.n

    def record(self, rows, live) -> None:
        """Fold a batch of completed dials, in order.

        Args:
            rows: campaign row of each outcome (ints in ``[0, n)``).
            live: whether each outcome was a live answer (bools or 0/1), same length.

        Raises:
            ValueError: a row is out of range, ``live`` is not 0/1, or lengths differ.
        """
        r = int_rows("rows", rows, None, lo=0, hi=self.n - 1)
        x = int_rows("live", live, len(r), lo=0, hi=1)
        p = self.params
        _hitrate_record(r, x, p.window, p.alpha, self.buf, self.pos, self.count,
                        self.live_count, self.smoothed, self.since)

    def estimates(self) -> HitRateEstimates:
        """The current estimates for every campaign (see the module docstring)."""
        p = self.params
        out = np.empty(self.n, dtype=np.float64)
        _hitrate_window(p.window, p.initial, p.prior_weight, self.count, self.live_count,
                        out)
        return HitRateEstimates(out, self.smoothed.copy(), self.count.copy(),
                                self.live_count.copy())

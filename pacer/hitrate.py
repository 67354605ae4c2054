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
def _hitrate_record(rows, live, window, alpha, buf, pos, count, live_count, smoothed):
    """Fold outcomes, in order, into the rows' rings and smoothed values.

    rows int64[m] (campaign row per outcome), live int64[m] (1 live answer, 0 other);
    window int64[n] (W per row, <= buf.shape[1]), alpha float64[n]; buf int64[n, Wmax];
    pos, count, live_count int64[n]; smoothed float64[n]. All state mutated in place.
    """
    for e in range(rows.shape[0]):
        r = rows[e]
        x = live[e]
        p = pos[r]
        if count[r] == window[r]:
            live_count[r] -= buf[r, p]
        else:
            count[r] += 1
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
def _posterior_two_windows(w1, i1, pw1, c1, l1, w2, i2, pw2, c2, l2, rate, short_below,
                           mean, sd):
    """Posterior mean and standard deviation of each row's hit rate from the long window
    (1) or, where the row's dial rate (``rate``, dials per second) is under ``short_below``,
    the short one (2): the window estimate with its fading prior (``_hitrate_window``) and
    sd ``sqrt(m (1 - m) / (k + w + 1))`` (Beta, k outcomes held, w the prior's worth left).
    Into mean and sd (float64[n])."""
    for i in range(mean.shape[0]):
        if rate[i] < short_below:
            w, ini, pw, k, lv = w2[i], i2[i], pw2[i], c2[i], l2[i]
        else:
            w, ini, pw, k, lv = w1[i], i1[i], pw1[i], c1[i], l1[i]
        prior = pw * (w - k) / w
        den = k + prior
        m = (lv + prior * ini) / den if den > 0.0 else ini
        mean[i] = m
        sd[i] = math.sqrt(m * (1.0 - m) / (k + prior + 1.0))


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
    """

    def __init__(self, params: HitRateParams):
        self.params = params
        n = params.n
        self.buf = np.zeros((n, int(params.window.max())), dtype=np.int64)
        self.pos = np.zeros(n, dtype=np.int64)
        self.count = np.zeros(n, dtype=np.int64)
        self.live_count = np.zeros(n, dtype=np.int64)
        self.smoothed = params.initial.copy()

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
                        self.live_count, self.smoothed)

    def estimates(self) -> HitRateEstimates:
        """The current estimates for every campaign (see the module docstring)."""
        p = self.params
        out = np.empty(self.n, dtype=np.float64)
        _hitrate_window(p.window, p.initial, p.prior_weight, self.count, self.live_count,
                        out)
        return HitRateEstimates(out, self.smoothed.copy(), self.count.copy(),
                                self.live_count.copy())

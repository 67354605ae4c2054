"""Skill-based blending: outbound agents released to, and taken back from, inbound skills.

Each outbound campaign is linked to one inbound skill, whose state a CMS real-time feed
reports: calls queued, age of the oldest queued call (s) and service level (fraction 0..1).
At each decision (the caller's period, e.g. every CMS update) and per campaign:

- **take** (release more agents to inbound) when the skill is in trouble:
  ``queued > q_high`` or ``oldest_s > age_high_s`` or ``service_level < sl_low``:
  ``released += step``;
- **give back** when the skill is comfortable on every count:
  ``queued <= q_low`` and ``oldest_s <= age_low_s`` and ``service_level >= sl_high``:
  ``released -= step``;
- otherwise (inside the hysteresis band) hold.

Then ``released`` is clamped to ``[0, min(max_released, max(0, assigned - min_outbound))]``
so the campaign always keeps ``min_outbound`` of its ``assigned`` agents (when it has that
many). With ``q_low <= q_high``, ``age_low_s <= age_high_s`` and ``sl_low <= sl_high``
(checked) take and give back never both hold, so nothing flaps inside the band.
A campaign with no linked skill can pass ``queued=0, oldest_s=0, service_level=1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from pacer.ratio import _frozen, _row_count, float_rows, int_rows

__all__ = ["BlendingParams", "BlendingState"]


@numba.njit(cache=True)
def _blending_decide(q_high, q_low, age_high, age_low, sl_low, sl_high, step,
                     min_outbound, max_released, queued, oldest, service_level, assigned,
                     released):
    """One hysteresis decision per row, updating ``released`` (int64[n]) in place.

    q_high, q_low, step, min_outbound, max_released, queued, assigned: int64[n];
    age_high, age_low (s), sl_low, sl_high (fractions), oldest (s), service_level: float64[n].
    """
    for i in range(released.shape[0]):
        r = released[i]
        if queued[i] > q_high[i] or oldest[i] > age_high[i] or service_level[i] < sl_low[i]:
            r += step[i]
        elif (queued[i] <= q_low[i] and oldest[i] <= age_low[i]
              and service_level[i] >= sl_high[i]):
            r -= step[i]
        hi = assigned[i] - min_outbound[i]
        if hi < 0:
            hi = 0
        if hi > max_released[i]:
            hi = max_released[i]
        if r > hi:
            r = hi
        if r < 0:
            r = 0
        released[i] = r


@dataclass(frozen=True)
class BlendingParams:
    """Per-campaign blending thresholds (scalars broadcast; arrays read-only).

    Attributes:
        q_high, q_low: int64[n], calls queued: take above ``q_high``, give back at or
            below ``q_low`` (``q_low <= q_high``).
        age_high_s, age_low_s: float64[n], oldest call age in seconds, same roles.
        sl_low, sl_high: float64[n], service level fractions 0..1: take below ``sl_low``,
            give back at or above ``sl_high`` (``sl_low <= sl_high``).
        step: int64[n], agents moved per decision (>= 1).
        min_outbound: int64[n], agents the outbound campaign always keeps.
        max_released: int64[n], most agents released to inbound at once.
    """

    q_high: np.ndarray
    q_low: np.ndarray
    age_high_s: np.ndarray
    age_low_s: np.ndarray
    sl_low: np.ndarray
    sl_high: np.ndarray
    step: np.ndarray = 1  # type: ignore[assignment]
    min_outbound: np.ndarray = 0  # type: ignore[assignment]
    max_released: np.ndarray = np.iinfo(np.int64).max // 2  # type: ignore[assignment]

    def __post_init__(self) -> None:
        names = ("q_high", "q_low", "age_high_s", "age_low_s", "sl_low", "sl_high", "step",
                 "min_outbound", "max_released")
        n = _row_count({k: getattr(self, k) for k in names})
        conv = {
            "q_high": int_rows("q_high", self.q_high, n),
            "q_low": int_rows("q_low", self.q_low, n),
            "age_high_s": float_rows("age_high_s", self.age_high_s, n, lo=0.0),
            "age_low_s": float_rows("age_low_s", self.age_low_s, n, lo=0.0),
            "sl_low": float_rows("sl_low", self.sl_low, n, lo=0.0, hi=1.0),
            "sl_high": float_rows("sl_high", self.sl_high, n, lo=0.0, hi=1.0),
            "step": int_rows("step", self.step, n, lo=1),
            "min_outbound": int_rows("min_outbound", self.min_outbound, n),
            "max_released": int_rows("max_released", self.max_released, n),
        }
        for low, high in (("q_low", "q_high"), ("age_low_s", "age_high_s"),
                          ("sl_low", "sl_high")):
            bad = conv[low] > conv[high]
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise ValueError(f"{low}: expected <= {high} (the hysteresis band), got "
                                 f"{conv[low][i]} > {conv[high][i]} at row {i}")
        for k, v in conv.items():
            _frozen(v)
            object.__setattr__(self, k, v)

    @property
    def n(self) -> int:
        """Number of campaigns (rows)."""
        return int(self.q_high.shape[0])


class BlendingState:
    """Agents currently released to inbound, per outbound campaign.

    Attributes:
        released: int64[n], mutated in place by :meth:`decide`; starts at 0.
    """

    def __init__(self, params: BlendingParams):
        self.params = params
        self.released = np.zeros(params.n, dtype=np.int64)

    @property
    def n(self) -> int:
        return self.params.n

    def decide(self, queued, oldest_s, service_level, assigned) -> np.ndarray:
        """One blending decision for every campaign (call at the caller's decision period).

        Args:
            queued: calls queued in the linked inbound skill, per campaign.
            oldest_s: age of the oldest queued call, seconds (0 when none), per campaign.
            service_level: the skill's service level, fraction 0..1, per campaign.
            assigned: agents assigned to the outbound campaign, those currently released to
                inbound included, per campaign.

        Returns:
            A copy of ``released``: int64[n], outbound agents lent to inbound now.

        Raises:
            ValueError: an argument is of the wrong kind, shape or range.
        """
        n = self.n
        p = self.params
        _blending_decide(p.q_high, p.q_low, p.age_high_s, p.age_low_s, p.sl_low, p.sl_high,
                         p.step, p.min_outbound, p.max_released,
                         int_rows("queued", queued, n),
                         float_rows("oldest_s", oldest_s, n, lo=0.0),
                         float_rows("service_level", service_level, n, lo=0.0, hi=1.0),
                         int_rows("assigned", assigned, n), self.released)
        return self.released.copy()

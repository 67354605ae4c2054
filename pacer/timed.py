"""Time-based pacing for agentless voice, SMS and email: attempts per second per campaign.

A token bucket per campaign, on whatever clock the caller runs:

- each call adds ``rate * dt`` credit (``dt`` = seconds since the previous call);
- credit is capped at ``rate * dt + 1`` (one tick's worth plus one), so a period blocked by
  the port limit does not end in a burst;
- the campaign launches ``min(floor(credit), max(0, max_ports - in_flight))`` attempts and
  spends that much credit;
- a rate of 0 launches nothing and clears the credit.

Without a port limit in the way the credit never reaches the cap (what is left after a
launch is below 1), so over any run the attempts launched are ``floor(rate * elapsed)``
give or take floating point: exactly the rate.

Ports: ``max_ports`` bounds attempts in flight (for SMS and email, the channel's concurrent
sessions; pass a large number when unbounded). ``min_ports`` is a reservation, not a
launch floor: the state reports ``reserved`` = ``max(min_ports, in_flight + launched)``
per campaign after each call, the ports the campaign holds; a shared port pool (the agent
manager's license distribution) must not hand those to other jobs even while idle.
For a per-minute rate, pass ``attempts_per_minute / 60``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from pacer.constants import MAX_COUNT
from pacer.ratio import _frozen, _row_count, float_rows, int_rows, real_number

__all__ = ["TimedParams", "TimedState"]


@numba.njit(cache=True)
def _timed_launch(rate, min_ports, max_ports, in_flight, dt, credit, out, reserved):
    """Token-bucket step for every row.

    rate float64[n] (attempts/s), min_ports, max_ports, in_flight int64[n], dt float64
    (s, >= 0), credit float64[n] (mutated), out int64[n] (launches), reserved int64[n]
    (ports held after the launches).
    """
    for i in range(rate.shape[0]):
        r = rate[i]
        if r <= 0.0:
            credit[i] = 0.0
            n = np.int64(0)
        else:
            c = credit[i] + r * dt
            cap = r * dt + 1.0
            if c > cap:
                c = cap
            n = np.int64(np.floor(c))
            free = max_ports[i] - in_flight[i]
            if free < 0:
                free = 0
            if n > free:
                n = free
            credit[i] = c - n
        out[i] = n
        held = in_flight[i] + n
        reserved[i] = held if held > min_ports[i] else min_ports[i]


@numba.njit(cache=True)
def _timed_idle(rate, min_ports, max_ports, dts, credit, reserved):
    """``_timed_launch`` once per dt of ``dts`` (float64, seconds) with nothing in flight
    and nothing launched whatever it decides (ticks a caller skipped: no record to send):
    the credit and the ports reserved it leaves."""
    idle = np.zeros(rate.shape[0], dtype=np.int64)
    out = np.empty(rate.shape[0], dtype=np.int64)
    for k in range(dts.shape[0]):
        _timed_launch(rate, min_ports, max_ports, idle, dts[k], credit, out, reserved)


@dataclass(frozen=True)
class TimedParams:
    """Per-campaign rates and ports (scalars broadcast; arrays read-only).

    Attributes:
        rate_per_s: float64[n], attempts per second (>= 0).
        min_ports: int64[n], ports reserved for the campaign (>= 0, <= max_ports).
        max_ports: int64[n], most attempts in flight (>= 0).
    """

    rate_per_s: np.ndarray
    min_ports: np.ndarray = 0  # type: ignore[assignment]
    max_ports: np.ndarray = np.iinfo(np.int64).max // 2  # type: ignore[assignment]

    def __post_init__(self) -> None:
        n = _row_count({"rate_per_s": self.rate_per_s, "min_ports": self.min_ports,
                        "max_ports": self.max_ports})
        rate = float_rows("rate_per_s", self.rate_per_s, n, lo=0.0)
        lo = int_rows("min_ports", self.min_ports, n)
        hi = int_rows("max_ports", self.max_ports, n)
        bad = lo > hi
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"min_ports: expected <= max_ports, got {lo[i]} > {hi[i]} at "
                             f"row {i}")
        _frozen(rate, lo, hi)
        object.__setattr__(self, "rate_per_s", rate)
        object.__setattr__(self, "min_ports", lo)
        object.__setattr__(self, "max_ports", hi)

    @property
    def n(self) -> int:
        """Number of campaigns (rows)."""
        return int(self.rate_per_s.shape[0])


class TimedState:
    """Token-bucket credit of a batch of time-based campaigns.

    Attributes:
        credit: float64[n], unspent attempts (fractional), mutated by :meth:`launch`.
        reserved: int64[n], ports held after the last :meth:`launch` (``min_ports`` before
            the first call).
    """

    def __init__(self, params: TimedParams):
        self.params = params
        self.credit = np.zeros(params.n, dtype=np.float64)
        self.reserved = params.min_ports.copy()

    @property
    def n(self) -> int:
        return self.params.n

    def launch(self, in_flight, dt_s: float) -> np.ndarray:
        """Attempts to launch now per campaign; call on every tick of any period.

        Args:
            in_flight: attempts in flight (holding a port) per campaign.
            dt_s: seconds since the previous call (>= 0; the first call's credit starts
                from zero, so pass the tick period or 0).

        Returns:
            int64[n]; never more than ``max_ports - in_flight``.

        Raises:
            ValueError: ``in_flight`` is not a non-negative integer array of ``n`` rows, or
                ``dt_s`` is negative or not finite.
        """
        dt = real_number("dt_s", dt_s, 0.0)
        n = self.n
        p = self.params
        out = np.empty(n, dtype=np.int64)
        _timed_launch(p.rate_per_s, p.min_ports, p.max_ports,
                      int_rows("in_flight", in_flight, n, hi=MAX_COUNT), dt, self.credit, out,
                      self.reserved)
        return out

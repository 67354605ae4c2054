"""VICIdial-style adaptive dial level: ADAPT_HARD_LIMIT, ADAPT_TAPERED, ADAPT_AVERAGE.

A baseline for side-by-side comparison, faithful to the arithmetic and order of
VICIdial's adaptive dial-level script (``bin/AST_VDadapt.pl``, GPL, vicidial.org). Three
kernels, each called by the caller's clock at its own period:

- every 1 s (``VICIDIAL_SAMPLE_S``): :meth:`VicidialState.sample` records ready agents
  (ready or done), answered calls waiting for an agent and all logged-in agents (paused
  ones too) into a ring of the last 15 samples (``VICIDIAL_SAMPLES``);
- every 15 s (``VICIDIAL_RECALC_S``): :meth:`VicidialState.recalculate` updates the dial
  level from the sample averages and the caller's drop counts (steps 1-7 below);
- every 2.5 s (``VICIDIAL_LAUNCH_S``): :meth:`VicidialState.launch` returns
  ``max(0, round(level * (ready + in_call)) - calls_in_flight)``.

Recalculation, per campaign, all comparisons strict:

1. ``t = ready_avg - waiting_avg + dl_diff_target``; ``a = t / total_avg``, 0 when ``t`` or
   ``total_avg`` is 0 (averages over the samples held, up to 15; all 0 before any sample);
2. ``I = intensity / 100``: ``a *= 1 + I`` when ``a >= 0``, else ``a *= |I - 1|``;
3. ``level = sprintf("%.3f", level * (1 + a))`` (Perl: the binary value rounded, ``_sprintf3``);
4. ``level = max_level`` if ``level > max_level``; then ``level = 1.0`` if ``level < 1.0``;
5. ``calls_minute > 20`` and ``drops_minute / calls_minute > 50 %``: ``level /= 2``;
6. ``calls_today > 50`` (all calls) and ``drops_today / answered_today > dropped_percentage %``
   (compared exactly as ``drops * 100 > pct * answered``):
   HARD_LIMIT: ``level = 1.0``; AVERAGE: ``level /= 2`` (at every recalculation while over);
   TAPERED: ``left = latest_hhmm - now_hhmm`` (both HHMM numbers subtracted as integers,
   VICIdial's quirk: 2100 - 1959 = 141), ``left > 1000``: unchanged, ``left < 0``:
   ``level = 1.0``, otherwise ``level *= left / 1000``;
7. ``level = 1.0`` if ``level < 1.0``.

``round`` is PHP's (half away from zero, see :mod:`pacer.ratio`); only step 3 rounds, so
the halvings and the taper may leave more than three decimals, as in the original.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from pacer.constants import (
    MAX_COUNT,
    MAX_RATIO,
    VICIDIAL_DROPPED_PERCENTAGE,
    VICIDIAL_MAX_LEVEL,
    VICIDIAL_SAMPLES,
)
from pacer.modes import Pacing
from pacer.ratio import (
    _fixed_ratio_launch,
    _frozen,
    _row_count,
    float_rows,
    int_rows,
    real_number,
)

__all__ = ["VicidialParams", "VicidialState", "clock_hhmm"]

_HARD = np.int64(Pacing.VICIDIAL_HARD_LIMIT)
_TAPERED = np.int64(Pacing.VICIDIAL_TAPERED)
_AVERAGE = np.int64(Pacing.VICIDIAL_AVERAGE)

# --------------------------------------------------------------------------- kernels


@numba.njit(cache=True)
def _vicidial_sample(ready, waiting, total, buf_ready, buf_waiting, buf_total, pos, count):
    """Push one sample per row into the rings (int64[n, S]); pos, count int64[n]."""
    s = buf_ready.shape[1]
    for i in range(ready.shape[0]):
        p = pos[i]
        buf_ready[i, p] = ready[i]
        buf_waiting[i, p] = waiting[i]
        buf_total[i, p] = total[i]
        pos[i] = (p + 1) % s
        if count[i] < s:
            count[i] += 1


@numba.njit(cache=True)
def _sprintf3(x):
    """Perl ``sprintf("%.3f", x)`` read back as a number: the *binary* value of x rounded to
    three decimals, exact ties to even (glibc). 1.69 x 1.25 is stored as 2.11249999...,
    so it gives 2.112 where PHP-style rounding of the decimal 2.1125 gives 2.113.

    Exact: x = hi + lo (Veltkamp split, 26 + 27 bits), so hi x 1000 and lo x 1000 are exact
    products and the fraction of 1000 x is judged without rounding. Finite x,
    |x| < 2**40."""
    if x != x or not abs(x) < 1099511627776.0:
        return x
    neg = x < 0.0
    y = -x if neg else x
    c = 134217729.0 * y
    hi = c - (c - y)
    lo = y - hi
    a = hi * 1000.0
    b = lo * 1000.0
    n = math.floor(a + b)
    frac = (a - n) + b
    if frac < 0.0:
        n -= 1.0
        frac += 1.0
    elif frac >= 1.0:
        n += 1.0
        frac -= 1.0
    if frac > 0.5 or (frac == 0.5 and n % 2.0 == 1.0):
        n += 1.0
    r = n / 1000.0
    return -r if neg else r


@numba.njit(cache=True)
def _vicidial_recalc(mode, intensity, dl_diff_target, max_level, dropped_percentage,
                     latest_hhmm, buf_ready, buf_waiting, buf_total, count,
                     calls_minute, drops_minute, calls_today, answered_today, drops_today,
                     now_hhmm, level):
    """Steps 1-7 (module docstring) for every row, updating ``level`` (float64[n]) in place.

    mode, latest_hhmm, count, calls_minute, drops_minute, calls_today, answered_today,
    drops_today, now_hhmm: int64[n]; intensity (percent), dl_diff_target (agents), max_level,
    dropped_percentage (percent): float64[n]; rings int64[n, S].
    """
    for i in range(level.shape[0]):
        c = count[i]
        ready_avg = 0.0
        waiting_avg = 0.0
        total_avg = 0.0
        if c > 0:
            sr = np.int64(0)
            sw = np.int64(0)
            st = np.int64(0)
            for j in range(c):  # a partly filled ring holds its samples in slots 0..c-1
                sr += buf_ready[i, j]
                sw += buf_waiting[i, j]
                st += buf_total[i, j]
            ready_avg = sr / c
            waiting_avg = sw / c
            total_avg = st / c
        # 1. differential over logged-in agents
        t = ready_avg - waiting_avg + dl_diff_target[i]
        a = 0.0
        if t != 0.0 and total_avg != 0.0:
            a = t / total_avg
        # 2. intensity
        inten = intensity[i] / 100.0
        if a >= 0.0:
            a = a * (1.0 + inten)
        else:
            a = a * abs(inten - 1.0)
        # 3. new level, three decimals
        lv = _sprintf3(level[i] * (1.0 + a))
        # 4. cap, then floor
        if lv > max_level[i]:
            lv = max_level[i]
        if lv < 1.0:
            lv = 1.0
        # 5. more than half of the last minute's calls dropped
        if calls_minute[i] > 20 and drops_minute[i] * 2 > calls_minute[i]:
            lv = lv / 2.0
        # 6. over the dropped percentage of today's answered calls
        if calls_today[i] > 50 and drops_today[i] * 100.0 > (
                dropped_percentage[i] * answered_today[i]):
            m = mode[i]
            if m == _HARD:
                lv = 1.0
            elif m == _AVERAGE:
                lv = lv / 2.0
            elif m == _TAPERED:
                left = latest_hhmm[i] - now_hhmm[i]
                if left < 0:
                    lv = 1.0
                elif left <= 1000:
                    lv = lv * (left / 1000.0)
        # 7. floor
        if lv < 1.0:
            lv = 1.0
        level[i] = lv


# --------------------------------------------------------------------------- public API


def clock_hhmm(start_hhmm: int, elapsed_s: float) -> int:
    """The wall clock as an HHMM number ``elapsed_s`` seconds after ``start_hhmm``.

    For callers on a simulated clock: pass the result as ``now_hhmm`` to
    :meth:`VicidialState.recalculate`. Wraps at midnight (2350 + 20 min is 10).

    Raises:
        ValueError: ``start_hhmm`` is not a valid HHMM time, or ``elapsed_s`` is negative or
            not finite.
    """
    hhmm = real_number("start_hhmm", start_hhmm, 0, 2359)
    if int(hhmm) != hhmm or hhmm % 100 >= 60:
        raise ValueError(f"start_hhmm: expected an HHMM time 0000..2359, got {start_hhmm!r}")
    elapsed_s = real_number("elapsed_s", elapsed_s, 0.0)
    start = int(hhmm)
    minutes = (start // 100 * 60 + start % 100 + int(elapsed_s // 60)) % 1440
    return minutes // 60 * 100 + minutes % 60



@dataclass(frozen=True)
class VicidialParams:
    """Per-campaign VICIdial adaptive settings (scalars broadcast; arrays are read-only).

    Attributes:
        mode: int64[n], ``Pacing.VICIDIAL_HARD_LIMIT``, ``VICIDIAL_TAPERED`` or
            ``VICIDIAL_AVERAGE``.
        intensity: float64[n], ``adaptive_intensity`` in percent (VICIdial offers -40..40).
        dl_diff_target: float64[n], ``adaptive_dl_diff_target`` in agents (positive dials
            more, negative keeps agents waiting).
        max_level: float64[n], ``adaptive_maximum_level`` (lines per agent, >= 1; VICIdial
            default 3.0).
        dropped_percentage: float64[n], ``adaptive_dropped_percentage`` in percent
            (0..100; VICIdial default 3).
        latest_hhmm: int64[n], ``adaptive_latest_server_time`` as HHMM (0..2400), used by
            TAPERED only.
    """

    mode: np.ndarray
    intensity: np.ndarray = 0.0  # type: ignore[assignment]
    dl_diff_target: np.ndarray = 0.0  # type: ignore[assignment]
    max_level: np.ndarray = VICIDIAL_MAX_LEVEL  # type: ignore[assignment]
    dropped_percentage: np.ndarray = VICIDIAL_DROPPED_PERCENTAGE  # type: ignore[assignment]
    latest_hhmm: np.ndarray = 2100  # type: ignore[assignment]  # VICIdial's default

    def __post_init__(self) -> None:
        fields = {k: getattr(self, k) for k in ("mode", "intensity", "dl_diff_target",
                                                "max_level", "dropped_percentage",
                                                "latest_hhmm")}
        n = _row_count(fields)
        mode = int_rows("mode", fields["mode"], n)
        bad = ~np.isin(mode, [_HARD, _TAPERED, _AVERAGE])
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"mode: expected Pacing.VICIDIAL_HARD_LIMIT/TAPERED/AVERAGE "
                             f"({int(_HARD)}, {int(_TAPERED)}, {int(_AVERAGE)}), got "
                             f"{mode[i]} at row {i}")
        conv = {
            "mode": mode,
            "intensity": float_rows("intensity", fields["intensity"], n, lo=-100.0,
                                    hi=100.0),
            "dl_diff_target": float_rows("dl_diff_target", fields["dl_diff_target"], n),
            "max_level": float_rows("max_level", fields["max_level"], n, lo=1.0,
                                    hi=MAX_RATIO),
            "dropped_percentage": float_rows("dropped_percentage",
                                             fields["dropped_percentage"], n, lo=0.0,
                                             hi=100.0),
            "latest_hhmm": int_rows("latest_hhmm", fields["latest_hhmm"], n, lo=0, hi=2400),
        }
        for k, v in conv.items():
            _frozen(v)
            object.__setattr__(self, k, v)

    @property
    def n(self) -> int:
        """Number of campaigns (rows)."""
        return int(self.mode.shape[0])


class VicidialState:
    """Dial levels and sample rings of a batch of VICIdial adaptive campaigns.

    Attributes (mutated in place by the kernels; read them freely):
        level: float64[n], the current dial level (lines per agent).
        buf_ready, buf_waiting, buf_total: int64[n, 15], the sample rings.
        pos: int64[n], next ring slot; count: int64[n], samples held (0..15).

    Args:
        params: the campaigns' settings.
        initial_level: starting dial level per campaign (``auto_dial_level``, >= 0),
            default 1.0. Used as is until the first recalculation floors it at 1.0.
    """

    def __init__(self, params: VicidialParams, initial_level=1.0):
        self.params = params
        n = params.n
        self.level = float_rows("initial_level", initial_level, n, lo=0.0, hi=MAX_RATIO)
        self.buf_ready = np.zeros((n, VICIDIAL_SAMPLES), dtype=np.int64)
        self.buf_waiting = np.zeros((n, VICIDIAL_SAMPLES), dtype=np.int64)
        self.buf_total = np.zeros((n, VICIDIAL_SAMPLES), dtype=np.int64)
        self.pos = np.zeros(n, dtype=np.int64)
        self.count = np.zeros(n, dtype=np.int64)

    @property
    def n(self) -> int:
        return self.params.n

    def reset(self, rows, level=1.0) -> None:
        """Forget the samples of ``rows`` (int indices) and set their level (a restart)."""
        r = int_rows("rows", rows, None, lo=0, hi=self.n - 1)
        self.level[r] = float_rows("level", level, len(r), lo=0.0, hi=MAX_RATIO)
        self.buf_ready[r] = 0
        self.buf_waiting[r] = 0
        self.buf_total[r] = 0
        self.pos[r] = 0
        self.count[r] = 0

    def sample(self, ready, waiting, logged_in) -> None:
        """Record one sample per campaign; call every ``VICIDIAL_SAMPLE_S`` (1 s).

        Args:
            ready: agents ready or done (waiting for a call), int per campaign.
            waiting: answered calls waiting for an agent, int per campaign.
            logged_in: all logged-in agents, paused ones included, int per campaign.

        Raises:
            ValueError: an argument is not a non-negative integer array of ``n`` rows.
        """
        n = self.n
        _vicidial_sample(int_rows("ready", ready, n, hi=MAX_COUNT),
                         int_rows("waiting", waiting, n, hi=MAX_COUNT),
                         int_rows("logged_in", logged_in, n, hi=MAX_COUNT), self.buf_ready,
                         self.buf_waiting, self.buf_total, self.pos, self.count)

    def recalculate(self, calls_minute, drops_minute, answered_today, drops_today,
                    now_hhmm, calls_today=None) -> np.ndarray:
        """Update the dial levels (steps 1-7); call every ``VICIDIAL_RECALC_S`` (15 s).

        Args:
            calls_minute: calls placed in the last minute, per campaign.
            drops_minute: of those, calls dropped, per campaign.
            answered_today: answered calls today, per campaign.
            drops_today: dropped calls today, per campaign.
            now_hhmm: the server time as HHMM (0..2400), scalar or per campaign.
            calls_today: all calls placed today, per campaign: step 6 applies once it is
                over 50 (VICIdial gates on calls, not answered calls). None: the answered
                calls (a lower bound, for callers that do not count calls).

        Returns:
            A copy of the new levels, float64[n].

        Raises:
            ValueError: an argument is of the wrong kind, shape or range.
        """
        n = self.n
        p = self.params
        _vicidial_recalc(p.mode, p.intensity, p.dl_diff_target, p.max_level,
                         p.dropped_percentage, p.latest_hhmm, self.buf_ready,
                         self.buf_waiting, self.buf_total, self.count,
                         int_rows("calls_minute", calls_minute, n, hi=MAX_COUNT),
                         int_rows("drops_minute", drops_minute, n, hi=MAX_COUNT),
                         int_rows("calls_today", answered_today if calls_today is None
                                  else calls_today, n, hi=MAX_COUNT),
                         int_rows("answered_today", answered_today, n, hi=MAX_COUNT),
                         int_rows("drops_today", drops_today, n, hi=MAX_COUNT),
                         int_rows("now_hhmm", now_hhmm, n, lo=0, hi=2400), self.level)
        return self.level.copy()

    def launch(self, ready, in_call, in_flight) -> np.ndarray:
        """New attempts per campaign; call every ``VICIDIAL_LAUNCH_S`` (2.5 s).

        ``max(0, round(level * (ready + in_call)) - in_flight)`` with PHP rounding.

        Args:
            ready: agents ready, per campaign.
            in_call: agents talking on a call, per campaign.
            in_flight: calls in flight (ringing, waiting and connected), per campaign.

        Returns:
            int64[n].
        """
        n = self.n
        out = np.empty(n, dtype=np.int64)
        _fixed_ratio_launch(self.level, int_rows("ready", ready, n, hi=MAX_COUNT),
                            int_rows("in_call", in_call, n, hi=MAX_COUNT),
                            int_rows("in_flight", in_flight, n, hi=MAX_COUNT), out)
        return out

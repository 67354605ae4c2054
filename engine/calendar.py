"""One clock: run-clock seconds, and the local-time facts the engine needs as run-clock spans.

The engine decides in run-clock seconds (seconds since the run's epoch, a UTC instant).
Calling windows and local calendar days are wall-clock notions of a contact's time zone;
``RunCalendar`` converts them once per (windows, zone) and per zone into sorted run-clock
instants, so a decision is a binary search, not a date-time conversion:

- ``OpenSpans``: when a weekly set of calling windows is open on one zone's wall clock,
  as half-open ``[start_s, end_s)`` spans. Exact across DST changes: between two changes
  of the zone's UTC offset the wall clock is the instant plus that offset, so each span is
  the wall-clock range moved by the offset in force and cut at the changes (a window
  starting inside a skipped hour opens when the clock jumps; a repeated hour is inside a
  window twice).
- ``LocalDays``: the instants local days begin (midnight by the zone's rules, 23 or 25 h
  apart across DST changes).

Both cover the run clock lazily, a week at a time, as far as the queries reach (a live
engine runs for months). Date-times appear only at the edges (``seconds``, ``at``).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from datetime import UTC, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from engine.contacts import zone

DAY_S = 86_400
WEEK_S = 7 * DAY_S
_PROBE_S = 3_600  # offset changes are found by probing hourly, then bisecting to the second

WeekRanges = tuple[tuple[tuple[int, int], ...], ...]
"""Per weekday (Monday = 0), sorted ``(start_s, end_s)`` ranges of the local day."""


class WeeklyWindows(Protocol):
    """Weekly calling windows (``engine.strategy.CallingWindows``): hashable, with ``days``."""

    @property
    def days(self) -> WeekRanges: ...

    def __hash__(self) -> int: ...


def _offset(tz: ZoneInfo, ts: float) -> float:
    off = datetime.fromtimestamp(ts, tz).utcoffset()
    return 0.0 if off is None else off.total_seconds()


def offset_segments(tz: ZoneInfo, t0: float, t1: float) -> list[tuple[float, float, float]]:
    """``(from_ts, to_ts, utc_offset_s)`` pieces of ``[t0, t1)`` (Unix seconds) with one UTC
    offset each. Changes are located to the second (tz database changes fall on whole
    seconds); two changes less than an hour apart would be missed (no zone has them)."""
    out = []
    start, off = t0, _offset(tz, t0)
    p = math.floor(t0)
    while p < t1:
        q = min(p + _PROBE_S, math.ceil(t1))
        if _offset(tz, q) != off:
            lo, hi = p, q  # offset at lo is `off`, at hi it is not
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset(tz, mid) == off:
                    lo = mid
                else:
                    hi = mid
            if hi >= t1:
                break
            out.append((start, float(hi), off))
            start, off = float(hi), _offset(tz, hi)
        p = q
    out.append((start, t1, off))
    return out


class OpenSpans:
    """When weekly calling windows are open on a zone's wall clock, in run-clock seconds.

    Built by ``RunCalendar.windows``. ``is_open(t)`` and ``next_open(t)`` give the same
    answers as reading the wall clock at the instant, to the microsecond.
    """

    def __init__(self, days: WeekRanges, tz: ZoneInfo, epoch_ts: float):
        if not any(days):
            raise ValueError("calling windows with no open time in the week")
        self._days = days
        self._tz = tz
        self._epoch_ts = epoch_ts
        self._starts: list[float] = []
        self._ends: list[float] = []
        self._lo = self._hi = 0.0  # the run-clock range covered so far: [lo, hi)

    def is_open(self, t_s: float) -> bool:
        """Is run-clock instant ``t_s`` inside a window?"""
        if not self._lo <= t_s < self._hi:
            self._cover(t_s)
        i = bisect_right(self._starts, t_s) - 1
        return i >= 0 and t_s < self._ends[i]

    def span_at(self, t_s: float) -> tuple[float, float] | None:
        """The open span ``[start, end)`` holding run-clock instant ``t_s`` (as far as it is
        computed: the window may go on past ``end``), or None when ``t_s`` is outside every
        window. Every instant of the span is open: a caller may keep it and ask again only
        once its clock leaves it."""
        if not self._lo <= t_s < self._hi:
            self._cover(t_s)
        i = bisect_right(self._starts, t_s) - 1
        if i >= 0 and t_s < self._ends[i]:
            return self._starts[i], self._ends[i]
        return None

    def next_open(self, t_s: float) -> float:
        """The earliest run-clock instant at or after ``t_s`` inside a window."""
        for _ in range(4):  # every week has open time: at most two weeks ahead
            if not self._lo <= t_s < self._hi:
                self._cover(t_s)
            i = bisect_right(self._starts, t_s) - 1
            if i >= 0 and t_s < self._ends[i]:
                return t_s
            if i + 1 < len(self._starts):
                return self._starts[i + 1]
            self._extend(self._hi + WEEK_S)
        raise AssertionError("calling windows never open")  # unreachable: checked in __init__

    def spans(self, t0_s: float, t1_s: float) -> list[tuple[float, float]]:
        """The open spans meeting ``[t0_s, t1_s)``, clipped to it (for inspection)."""
        self._cover(t0_s)
        self._extend(t1_s)
        return [(max(a, t0_s), min(b, t1_s)) for a, b in zip(self._starts, self._ends,
                                                              strict=True)
                if b > t0_s and a < t1_s]

    # ------------------------------------------------------------------ coverage

    def _cover(self, t_s: float) -> None:
        if self._lo == self._hi:  # nothing yet: the week around t
            a = math.floor(t_s / WEEK_S) * WEEK_S
            self._lo = self._hi = a
        if t_s < self._lo:
            a = math.floor(t_s / WEEK_S) * WEEK_S
            starts, ends = self._compute(a, self._lo)
            self._join(starts, ends, self._starts, self._ends)
            self._starts, self._ends = starts, ends
            self._lo = a
        self._extend(t_s + 1.0)

    def _extend(self, to_s: float) -> None:
        while self._hi < to_s:
            b = self._hi + WEEK_S
            starts, ends = self._compute(self._hi, b)
            self._join(self._starts, self._ends, starts, ends)
            self._hi = b

    @staticmethod
    def _join(starts: list[float], ends: list[float], more_starts: list[float],
              more_ends: list[float]) -> None:
        """Append the later spans to the earlier ones (in place), merging where they meet."""
        if starts and more_starts and ends[-1] >= more_starts[0]:
            ends[-1] = more_ends[0]
            more_starts, more_ends = more_starts[1:], more_ends[1:]
        starts.extend(more_starts)
        ends.extend(more_ends)

    def _compute(self, a_s: float, b_s: float) -> tuple[list[float], list[float]]:
        """Open spans in run-clock ``[a_s, b_s)``, merged."""
        e = self._epoch_ts
        starts: list[float] = []
        ends: list[float] = []
        for t0, t1, off in offset_segments(self._tz, e + a_s, e + b_s):
            day = math.floor((t0 + off) / DAY_S)
            while day * DAY_S < t1 + off:
                base = day * DAY_S - off  # the instant the wall clock reads 00:00 of `day`
                for rs, re in self._days[(day + 3) % 7]:  # 1970-01-01 was a Thursday
                    u0, u1 = max(base + rs, t0), min(base + re, t1)
                    if u1 > u0:
                        s0, s1 = u0 - e, u1 - e
                        if starts and ends[-1] >= s0:
                            ends[-1] = max(ends[-1], s1)
                        else:
                            starts.append(s0)
                            ends.append(s1)
                day += 1
        return starts, ends


class LocalDays:
    """The instants a zone's local calendar days begin, in run-clock seconds.

    ``bounds(t)`` is the local day holding ``t``: ``[start_s, end_s)``, the day starting at
    local midnight by the zone's rules (where midnight is skipped, the instant the clock
    jumps past it).
    """

    def __init__(self, tz: ZoneInfo, epoch: datetime):
        self._tz = tz
        self._epoch = epoch
        self._epoch_ts = epoch.timestamp()
        self._mid: list[float] = []

    def bounds(self, t_s: float) -> tuple[float, float]:
        mid = self._mid
        if not mid or not mid[0] <= t_s < mid[-1]:
            self._cover(t_s)
            mid = self._mid
        i = bisect_right(mid, t_s) - 1
        return mid[i], mid[i + 1]

    def _cover(self, t_s: float) -> None:
        d = datetime.fromtimestamp(self._epoch_ts + t_s, self._tz).date()
        days = {d + timedelta(days=k) for k in range(-1, 9)}
        have = set(self._mid)
        for day in days:
            u = datetime.combine(day, time(0), tzinfo=self._tz).astimezone(UTC)
            have.add((u - self._epoch).total_seconds())
        self._mid = sorted(have)


class RunCalendar:
    """Run-clock seconds since ``epoch`` (an aware UTC instant), with calling windows and
    local days per zone converted once into run-clock spans (see the module docstring).

    One calendar serves every job of a run, so the copies of a campaign share their spans.
    Zone names are IANA names; an unknown one raises ``ValueError`` naming it.
    """

    def __init__(self, epoch: datetime):
        if not isinstance(epoch, datetime) or epoch.utcoffset() is None:
            raise ValueError(f"epoch must be an aware UTC datetime, got {epoch!r}")
        self.epoch = epoch.astimezone(UTC)
        self.epoch_ts = self.epoch.timestamp()
        self._windows: dict[tuple[WeeklyWindows, str], OpenSpans] = {}
        self._days: dict[str, LocalDays] = {}

    def seconds(self, t: datetime) -> float:
        """Run-clock seconds of the aware instant ``t``."""
        return (t - self.epoch).total_seconds()

    def at(self, t_s: float) -> datetime:
        """The UTC instant of run-clock ``t_s``."""
        return self.epoch + timedelta(seconds=t_s)

    def utc_day(self, t_s: float) -> int:
        """The UTC calendar day (days since 1970-01-01) holding run-clock ``t_s``."""
        return int((self.epoch_ts + t_s) // DAY_S)

    def windows(self, windows: WeeklyWindows, tz: str) -> OpenSpans:
        """The open spans of weekly ``windows`` on the wall clock of zone ``tz``."""
        key = (windows, tz)
        spans = self._windows.get(key)
        if spans is None:
            spans = self._windows[key] = OpenSpans(windows.days, zone(tz), self.epoch_ts)
        return spans

    def days(self, tz: str) -> LocalDays:
        """The local days of zone ``tz``."""
        d = self._days.get(tz)
        if d is None:
            d = self._days[tz] = LocalDays(zone(tz), self.epoch)
        return d


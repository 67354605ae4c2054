"""Windowed abandon accounting per campaign, in both regulatory modes.

Counters (see :class:`Outcome` for what each recorded outcome adds):

- ``LIVE``: live answers as the dialer saw them (connected + abandoned; answering machines
  taken for humans included, unless an agent they reached said it was a machine);
- ``ABANDONS``: live answers dropped or not connected to an agent within the connect window;
- ``CONNECTED``: live answers connected to an agent (VICIdial's "agent answered");
- ``MACHINES``: answering machines detected (real machines), by AMD or by the agent a
  missed one reached;
- ``FALSE_POSITIVES``: humans that AMD classified as machines (hung up on or played a
  message: Ofcom counts them as drops). A simulator knows them; a live system usually does
  not and records none, estimating the rate from the AMD accuracy instead.

Rates over sliding windows, every denominator 0 giving rate 0 (the formulas themselves are
defined once, in :mod:`pacer.rates`):

- FCC/TSR: ``ABANDONS / LIVE`` over ``fcc_window_s`` (30 days by default; a campaign younger
  than the window is counted whole, which is "the campaign, or each 30 days");
- Ofcom, as the regulator counts it: ``(ABANDONS + FALSE_POSITIVES) / (LIVE +
  FALSE_POSITIVES)`` over ``ofcom_window_s`` (24 h by default); VICIdial's
  answering-machine-adjusted variant (``pacer.rates.vicidial_ofcom_abandon_rate``) is not
  used;
- AMD false-positive share ``f = FALSE_POSITIVES / (LIVE + FALSE_POSITIVES)`` over the Ofcom
  window: the part of the Ofcom rate no pacing can remove, so the dialer's own abandons may
  reach ``(limit - f) / (1 - f)`` of its live answers.

Resolution: each window is kept as a ring of time buckets per campaign, one ring per
regulatory mode, ``bucket_s = max(window) / buckets_per_window`` (default 1440 buckets:
1 min for 24 h, 30 min for 30 days). An event at time ``t`` falls in bucket
``floor(t / bucket_s)`` and counts at time ``now`` while
``bucket(now) - bucket(t) < K``, ``K = ceil(window / bucket_s)``: it stays between
``K * bucket_s - bucket_s`` and ``K * bucket_s`` seconds. Window sums are kept incrementally,
so reading the rates costs O(buckets crossed since the last read), not O(window).

Events may be recorded out of time order by less than the ring's span; an event older than
that, relative to the newest event of its campaign, is ignored (it is outside every window
anyway). Memory: ``2 * n * buckets * 6`` int64 (about 27 MB for 200 campaigns).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numba
import numpy as np

from pacer.constants import (
    ABANDON_BUCKETS_PER_WINDOW,
    DEFAULT_ABANDON_LIMIT,
    FCC_WINDOW_S,
    OFCOM_WINDOW_S,
)
from pacer.modes import Regulation
from pacer.rates import _fcc_abandon_rate, _ofcom_abandon_rate, human_drop_budget
from pacer.ratio import _frozen, _row_count, float_rows, int_rows, real_number

__all__ = [
    "ABANDONS",
    "CONNECTED",
    "FALSE_POSITIVES",
    "LIVE",
    "MACHINES",
    "AbandonParams",
    "AbandonRates",
    "AbandonState",
    "Outcome",
]


class Outcome(IntEnum):
    """What a recorded attempt outcome adds to the counters (stable codes)."""

    CONNECTED = 0  # LIVE + 1, CONNECTED + 1: live answer reached an agent in time
    ABANDONED = 1  # LIVE + 1, ABANDONS + 1: live answer dropped / not connected in time
    MACHINE = 2  # MACHINES + 1: answering machine detected
    AMD_FALSE_POSITIVE = 3  # FALSE_POSITIVES + 1: a human classified as a machine
    # LIVE - 1, CONNECTED - 1, MACHINES + 1: a connected live answer whose agent found an
    # answering machine (AMD missed it); recorded at the time of its connect, which it undoes
    MACHINE_CONNECTED = 4


# Counter columns of the rings.
LIVE, ABANDONS, CONNECTED, MACHINES, FALSE_POSITIVES = 0, 1, 2, 3, 4
_NC = 5
_EMPTY = -(2**62)  # bucket id of an unused slot / a ring never read

# --------------------------------------------------------------------------- kernels


@numba.njit(cache=True)
def _ring_add(r, b, k, d, ids, cnt, sums, cur, kw):
    """Add ``d`` to counter ``k`` of row ``r`` at bucket ``b``, keeping the window sum true.

    Invariant: ``sums[r]`` is the total of slots whose id is in ``(cur[r] - kw[r], cur[r]]``.
    """
    nb = ids.shape[1]
    s = b % nb
    old = ids[r, s]
    if old != b:
        if old > b:  # the slot already holds newer data: this event is too old to keep
            return
        if cur[r] - kw[r] < old <= cur[r]:
            for c in range(_NC):
                sums[r, c] -= cnt[r, s, c]
        for c in range(_NC):
            cnt[r, s, c] = 0
        ids[r, s] = b
    cnt[r, s, k] += d
    if cur[r] - kw[r] < b <= cur[r]:
        sums[r, k] += d


@numba.njit(cache=True)
def _ring_advance(r, b_now, ids, cnt, sums, cur, kw):
    """Move row ``r``'s window sum to end at bucket ``b_now``."""
    c0 = cur[r]
    if b_now == c0:
        return
    k = kw[r]
    nb = ids.shape[1]
    if b_now < c0 or b_now - c0 >= k:
        for c in range(_NC):
            sums[r, c] = 0
        for s in range(nb):
            bid = ids[r, s]
            if b_now - k < bid <= b_now:
                for c in range(_NC):
                    sums[r, c] += cnt[r, s, c]
    else:
        for bid in range(c0 - k + 1, b_now - k + 1):  # leaving the window
            s = bid % nb
            if ids[r, s] == bid:
                for c in range(_NC):
                    sums[r, c] -= cnt[r, s, c]
        for bid in range(c0 + 1, b_now + 1):  # entering it
            s = bid % nb
            if ids[r, s] == bid:
                for c in range(_NC):
                    sums[r, c] += cnt[r, s, c]
    cur[r] = b_now


@numba.njit(cache=True)
def _abandon_record(rows, t, outcome, f_bucket_s, f_ids, f_cnt, f_sums, f_cur, f_k,
                    o_bucket_s, o_ids, o_cnt, o_sums, o_cur, o_k):
    """Record outcomes (rows int64[m], t float64[m] seconds, outcome int64[m] codes).

    ``f_*`` is the FCC ring, ``o_*`` the Ofcom ring: ids int64[n, nb], cnt int64[n, nb, 5],
    sums int64[n, 5], cur int64[n], k int64[n] (window in buckets), bucket_s float64.
    """
    for e in range(rows.shape[0]):
        r = rows[e]
        bf = np.int64(np.floor(t[e] / f_bucket_s))
        bo = np.int64(np.floor(t[e] / o_bucket_s))
        code = outcome[e]
        if code == 4:  # a connect undone: it was a machine
            _ring_add(r, bf, LIVE, -1, f_ids, f_cnt, f_sums, f_cur, f_k)
            _ring_add(r, bo, LIVE, -1, o_ids, o_cnt, o_sums, o_cur, o_k)
            _ring_add(r, bf, CONNECTED, -1, f_ids, f_cnt, f_sums, f_cur, f_k)
            _ring_add(r, bo, CONNECTED, -1, o_ids, o_cnt, o_sums, o_cur, o_k)
            _ring_add(r, bf, MACHINES, 1, f_ids, f_cnt, f_sums, f_cur, f_k)
            _ring_add(r, bo, MACHINES, 1, o_ids, o_cnt, o_sums, o_cur, o_k)
            continue
        if code == 0:
            k1 = LIVE
            k2 = CONNECTED
        elif code == 1:
            k1 = LIVE
            k2 = ABANDONS
        elif code == 2:
            k1 = MACHINES
            k2 = -1
        else:
            k1 = FALSE_POSITIVES
            k2 = -1
        _ring_add(r, bf, k1, 1, f_ids, f_cnt, f_sums, f_cur, f_k)
        _ring_add(r, bo, k1, 1, o_ids, o_cnt, o_sums, o_cur, o_k)
        if k2 >= 0:
            _ring_add(r, bf, k2, 1, f_ids, f_cnt, f_sums, f_cur, f_k)
            _ring_add(r, bo, k2, 1, o_ids, o_cnt, o_sums, o_cur, o_k)


@numba.njit(cache=True)
def _abandon_rates(now, f_bucket_s, f_ids, f_cnt, f_sums, f_cur, f_k, o_bucket_s, o_ids,
                   o_cnt, o_sums, o_cur, o_k, out_fcc, out_ofcom, out_fp, out_live_fcc,
                   out_live_ofcom):
    """Rates of every row at time ``now`` (s) into the float64[n] / int64[n] outputs."""
    bf = np.int64(np.floor(now / f_bucket_s))
    bo = np.int64(np.floor(now / o_bucket_s))
    for r in range(out_fcc.shape[0]):
        _ring_advance(r, bf, f_ids, f_cnt, f_sums, f_cur, f_k)
        _ring_advance(r, bo, o_ids, o_cnt, o_sums, o_cur, o_k)
        live_f = f_sums[r, LIVE]
        live_o = o_sums[r, LIVE]
        out_live_fcc[r] = live_f
        out_live_ofcom[r] = live_o
        out_fcc[r] = _fcc_abandon_rate(float(f_sums[r, ABANDONS]), float(live_f))
        out_ofcom[r] = _ofcom_abandon_rate(float(o_sums[r, ABANDONS]),
                                            float(o_sums[r, FALSE_POSITIVES]), float(live_o))
        all_live = live_o + o_sums[r, FALSE_POSITIVES]
        out_fp[r] = o_sums[r, FALSE_POSITIVES] / all_live if all_live > 0 else 0.0


# --------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class AbandonParams:
    """Per-campaign regulation settings (scalars broadcast; arrays read-only).

    Attributes:
        regulation: int64[n], ``Regulation.FCC`` or ``Regulation.OFCOM``: which rate is the
            campaign's own (``AbandonRates.rate``).
        limit: float64[n], the abandon-rate limit, fraction 0..1 (default 0.03).
        fcc_window_s: float64[n], FCC window, seconds (default 30 days).
        ofcom_window_s: float64[n], Ofcom window, seconds (default 24 h).
    """

    regulation: np.ndarray
    limit: np.ndarray = DEFAULT_ABANDON_LIMIT  # type: ignore[assignment]
    fcc_window_s: np.ndarray = FCC_WINDOW_S  # type: ignore[assignment]
    ofcom_window_s: np.ndarray = OFCOM_WINDOW_S  # type: ignore[assignment]

    def __post_init__(self) -> None:
        names = ("regulation", "limit", "fcc_window_s", "ofcom_window_s")
        n = _row_count({k: getattr(self, k) for k in names})
        conv = {
            "regulation": int_rows("regulation", self.regulation, n, lo=int(Regulation.FCC),
                                   hi=int(Regulation.OFCOM)),
            "limit": float_rows("limit", self.limit, n, lo=0.0, hi=1.0),
            "fcc_window_s": float_rows("fcc_window_s", self.fcc_window_s, n, lo=0.0,
                                       lo_open=True),
            "ofcom_window_s": float_rows("ofcom_window_s", self.ofcom_window_s, n, lo=0.0,
                                         lo_open=True),
        }
        for k, v in conv.items():
            _frozen(v)
            object.__setattr__(self, k, v)

    @property
    def n(self) -> int:
        """Number of campaigns (rows)."""
        return int(self.regulation.shape[0])


@dataclass(frozen=True)
class AbandonRates:
    """Windowed rates at one instant, one row per campaign (fractions 0..1, counts int64).

    Attributes:
        fcc: FCC/TSR rate over the FCC window.
        ofcom: Ofcom rate over the Ofcom window (``pacer.rates.ofcom_abandon_rate``).
        fp_rate: AMD false positives / all live calls (false positives included) over the
            Ofcom window.
        live_fcc, live_ofcom: live answers in each window.
        rate: the campaign's own rate (``fcc`` or ``ofcom`` by its regulation).
        live: live answers in the campaign's own window.
        budget: abandons per live answer left to the dialer: ``(limit - fp_rate) / (1 -
            fp_rate)`` for Ofcom campaigns (false positives count there), ``limit`` for FCC
            ones.
        over: ``rate > limit``.
    """

    fcc: np.ndarray
    ofcom: np.ndarray
    fp_rate: np.ndarray
    live_fcc: np.ndarray
    live_ofcom: np.ndarray
    rate: np.ndarray
    live: np.ndarray
    budget: np.ndarray
    over: np.ndarray


class _Ring:
    """One mode's bucket ring for every campaign (arrays mutated by the kernels)."""

    def __init__(self, windows: np.ndarray, buckets_per_window: int):
        self.bucket_s = float(windows.max()) / buckets_per_window
        k = np.ceil(windows / self.bucket_s - 1e-9).astype(np.int64)
        self.k = np.maximum(k, 1)
        n, nb = windows.shape[0], int(self.k.max())
        self.ids = np.full((n, nb), _EMPTY, dtype=np.int64)
        self.cnt = np.zeros((n, nb, _NC), dtype=np.int64)
        self.sums = np.zeros((n, _NC), dtype=np.int64)
        self.cur = np.full(n, _EMPTY, dtype=np.int64)

    def args(self):
        return self.bucket_s, self.ids, self.cnt, self.sums, self.cur, self.k

    def reset(self, rows: np.ndarray) -> None:
        self.ids[rows] = _EMPTY
        self.cnt[rows] = 0
        self.sums[rows] = 0
        self.cur[rows] = _EMPTY


class AbandonState:
    """Abandon counters of a batch of campaigns, FCC and Ofcom windows side by side.

    Args:
        params: the campaigns' regulation settings.
        buckets_per_window: ring resolution, buckets in the longest window of each mode
            (default ``ABANDON_BUCKETS_PER_WINDOW`` = 1440).

    Attributes:
        fcc_bucket_s, ofcom_bucket_s: bucket widths, seconds.

    Raises:
        ValueError: ``buckets_per_window`` is not a positive integer.
    """

    def __init__(self, params: AbandonParams,
                 buckets_per_window: int = ABANDON_BUCKETS_PER_WINDOW):
        if isinstance(buckets_per_window, bool) or \
                not isinstance(buckets_per_window, int | np.integer) or \
                not 1 <= buckets_per_window <= 1 << 24:
            raise ValueError(f"buckets_per_window: expected an integer >= 1, got "
                             f"{buckets_per_window!r}")
        if not isinstance(params, AbandonParams) or params.n == 0:
            raise ValueError("params: expected AbandonParams of at least one campaign row")
        self.params = params
        self._fcc = _Ring(params.fcc_window_s, int(buckets_per_window))
        self._ofcom = _Ring(params.ofcom_window_s, int(buckets_per_window))

    @property
    def n(self) -> int:
        return self.params.n

    @property
    def fcc_bucket_s(self) -> float:
        return self._fcc.bucket_s

    @property
    def ofcom_bucket_s(self) -> float:
        return self._ofcom.bucket_s

    def reset(self, rows) -> None:
        """Forget every event of ``rows`` (int indices): a new campaign in those rows."""
        r = int_rows("rows", rows, None, lo=0, hi=self.n - 1)
        self._fcc.reset(r)
        self._ofcom.reset(r)

    def record(self, rows, t_s, outcome) -> None:
        """Record a batch of outcomes.

        Args:
            rows: campaign row of each outcome (ints in ``[0, n)``).
            t_s: time of each outcome, seconds on the caller's clock (the answer, or the
                end of the connect window for an abandon), scalar or per outcome.
            outcome: :class:`Outcome` code of each outcome, scalar or per outcome.

        Raises:
            ValueError: a row or code is out of range, a time is not finite, or lengths
                differ.
        """
        r = int_rows("rows", rows, None, lo=0, hi=self.n - 1)
        m = len(r)
        t = float_rows("t_s", t_s, m)
        code = int_rows("outcome", outcome, m, lo=0, hi=len(Outcome) - 1)
        _abandon_record(r, t, code, *self._fcc.args(), *self._ofcom.args())

    def rates(self, now_s: float) -> AbandonRates:
        """Rates of every campaign over the windows ending at ``now_s`` (seconds).

        Raises:
            ValueError: ``now_s`` is not finite.
        """
        now = real_number("now_s", now_s)
        n = self.n
        fcc = np.empty(n, dtype=np.float64)
        ofcom = np.empty(n, dtype=np.float64)
        fp = np.empty(n, dtype=np.float64)
        live_f = np.empty(n, dtype=np.int64)
        live_o = np.empty(n, dtype=np.int64)
        _abandon_rates(now, *self._fcc.args(), *self._ofcom.args(), fcc, ofcom, fp, live_f,
                       live_o)
        p = self.params
        is_ofcom = p.regulation == int(Regulation.OFCOM)
        rate = np.where(is_ofcom, ofcom, fcc)
        return AbandonRates(
            fcc=fcc, ofcom=ofcom, fp_rate=fp, live_fcc=live_f, live_ofcom=live_o,
            rate=rate, live=np.where(is_ofcom, live_o, live_f),
            budget=np.where(is_ofcom, human_drop_budget(p.limit, fp), p.limit),
            over=rate > p.limit,
        )

"""Dial outcomes held until their launch cohort has ended, then folded into the hit rate
and handed back, one fold's dials in a seeded pseudo-random order, for the ring-time
histograms.

The hit rate counts a dial once every dial launched with it has ended (launch + the dial's
modelled life): counting outcomes as they come would over-weight the fast ones (busy,
invalid) while slower live answers still ring, which swung the estimate from 0.01 to 0.58
at a 400-agent cold start. The ring-time histograms (time to a live answer, time to any
end) have the same bias whenever the dial rate moves: the ends seen in a minute come from
the launches one ring time before, so after a cold start's burst of dials the recent ends
were the burst's slow ones (22 % of the weight past the ring timeout a minute into a
1000-agent start, against 2 % in steady state), and the model, reading calls still
ringing as likely dead, under-forecast its abandons 3-4x for two minutes. The dials of
one fold (the cohorts completed since the last, about a second of launches) go in a seeded
pseudo-random order: in the order they ended, a window shorter than the batch would keep
its slow outcomes only. Not sorted by launch time either: the caller reports a dial's ring
time, and the launch time it implies (the decision's clock less the ring time) runs late by
the part of a tick between its end and the decision, a shift that follows the outcome
(busy, no-answer and invalid numbers end a fixed time after set-up); sorted by it, the last
thousand dials of a 100,000-agent start's 40,000-dial folds read 0.10 to 0.35 for a true
0.28.

A cohort has ended when none of its dials still rings, not merely when its modelled life
has passed: a carrier that sets calls up at a fixed rate delays a burst's last dials, whose
no-answers then end a second past the ring timeout. Folded on the clock alone, a 10,000-agent
cold start's windows (a few seconds of dials) read 0.48 while the no-answers were still
ringing and 0.12 once they came in, and the pacer dialled 8,800 calls on the low reading.
The caller passes the launch time of each campaign's oldest dial still ringing; a cohort
waits for it, at most one more modelled life (a call the caller never reports ended must
not stop the hit rate).

One numba call per batch of outcomes and per fold (``PendingDials.add`` / ``fold``): the
decision runs every engine tick, and the NumPy version of this bookkeeping (concatenations,
masks, a lexsort) cost about as much as the rest of the tick's Python.
"""

from __future__ import annotations

import numba
import numpy as np

from pacer.constants import MAX_CAMPAIGNS
from pacer.gather import MAX_TIME_S, _tally_dials
from pacer.hitrate import HitRateState, _hitrate_record
from pacer.lookahead import _splitmix64
from pacer.ratio import as_array, float_rows, int_rows, real_number

__all__ = ["PendingDials"]

TIE_S = 1e-3  # launch times closer than this are one launch (a tick), seconds


@numba.njit(cache=True)
def _tie_key(seed, seq):
    """64 pseudo-random bits for the seq-th dial added (splitmix64 of seed and seq)."""
    return _splitmix64(seed + np.uint64(seq) * np.uint64(0x9E3779B97F4A7C15))


@numba.njit(cache=True)
def _append(rows, live, t0, ring_s, p_row, p_live, p_t0, p_ring, p_tie, meta, seed):
    """Append outcomes (capacity checked by the caller); meta = [held, added so far]."""
    k = meta[0]
    for i in range(rows.shape[0]):
        p_row[k] = rows[i]
        p_live[k] = live[i]
        p_t0[k] = t0[i]
        p_ring[k] = ring_s[i]
        p_tie[k] = _tie_key(seed, meta[1])
        meta[1] += 1
        k += 1
    meta[0] = k


@numba.njit(cache=True)
def _append_ended(rows, live, ring_s, now, p_row, p_live, p_t0, p_ring, p_tie, meta, seed,
                  slot, minute_calls, calls_today):
    """``_append`` of dials that ended at ``now`` after ``ring_s`` seconds (launched at
    ``now - ring_s``), each also counted into the caller's per-campaign ring of the current
    second (``minute_calls[row, slot]``) and today's count: the pacer's per-tick path, one
    call."""
    _append(rows, live, now - ring_s, ring_s, p_row, p_live, p_t0, p_ring, p_tie, meta, seed)
    _tally_dials(rows, slot, minute_calls, calls_today)


@numba.njit(cache=True)
def _fold(now, p_row, p_live, p_t0, p_ring, p_tie, meta, life_s, ringing_t0, w, a, b, pos,
          cnt, lc, s, since, dials_recent, decay, out_row, out_ring, out_live):
    """Fold the held dials whose cohort has ended (t0 + the campaign's dial life <= now,
    and no dial of the campaign launched with it or before still rings: t0 before
    ``ringing_t0`` of its row by more than TIE_S, or t0 + 2 x life <= now) into the
    hit-rate ring (``_hitrate_record``'s state), in the seeded order of their tie keys;
    fade ``dials_recent`` by ``decay`` and count them in; copy them, in that order, into
    ``out_*`` (capacity: the dials held). Compacts the buffer; returns the number folded."""
    k = meta[0]
    done_at = np.empty(k, dtype=np.bool_)
    done = 0
    for i in range(k):
        r = p_row[i]
        t0 = p_t0[i]
        done_at[i] = t0 + life_s[r] <= now and (t0 < ringing_t0[r] - TIE_S
                                                 or t0 + 2.0 * life_s[r] <= now)
        done += done_at[i]
    if done == 0:
        return 0
    idx = np.flatnonzero(done_at)
    tie = p_tie[idx]
    idx = idx[np.argsort(tie, kind="mergesort")]  # a seeded shuffle of the fold
    rows = p_row[idx]
    live = p_live[idx]
    for i in range(done):
        out_row[i] = rows[i]
        out_live[i] = live[i]
        out_ring[i] = p_ring[idx[i]]
    _hitrate_record(rows, live, w, a, b, pos, cnt, lc, s, since)
    for c in range(dials_recent.shape[0]):
        dials_recent[c] *= decay
    for i in range(done):
        dials_recent[rows[i]] += 1.0
    j = 0
    for i in range(k):  # keep the rest, in order
        if not done_at[i]:
            p_row[j] = p_row[i]
            p_live[j] = p_live[i]
            p_t0[j] = p_t0[i]
            p_ring[j] = p_ring[i]
            p_tie[j] = p_tie[i]
            j += 1
    meta[0] = j
    return done


class PendingDials:
    """Completed dials (campaign row, live 0/1, launch time and ring time in seconds) held
    until their launch cohort has ended. ``seed`` fixes the order of ties."""

    _ARRAYS = ("row", "live", "t0", "ring", "tie", "out_row", "out_live", "out_ring")

    def __init__(self, seed: int, capacity: int = 1024):
        self.row = np.empty(capacity, dtype=np.int64)
        self.live = np.empty(capacity, dtype=np.int64)
        self.t0 = np.empty(capacity)
        self.ring = np.empty(capacity)
        self.tie = np.empty(capacity, dtype=np.uint64)
        # the last fold's dials, in the fold's seeded order (``fold`` returns how many)
        self.out_row = np.empty(capacity, dtype=np.int64)
        self.out_live = np.empty(capacity, dtype=np.int64)
        self.out_ring = np.empty(capacity)
        self.meta = np.zeros(2, dtype=np.int64)  # held, added so far
        self.seed = np.random.SeedSequence(seed).generate_state(1, np.uint64)[0]

    @property
    def n(self) -> int:
        """Dials held."""
        return int(self.meta[0])

    def add(self, rows, live, t0, ring_s) -> None:
        """Hold outcomes: campaign rows (ints >= 0), live (0/1), launch times and ring times
        (finite seconds, ring times >= 0), one each per outcome; a ValueError naming the
        argument otherwise (``Pacer`` calls ``_add`` with arrays it checked)."""
        r = int_rows("rows", rows, None, lo=0, hi=MAX_CAMPAIGNS - 1)
        m = r.shape[0]
        self._add(r, int_rows("live", live, m, lo=0, hi=1),
                  float_rows("t0", t0, m, lo=-MAX_TIME_S, hi=MAX_TIME_S),
                  float_rows("ring_s", ring_s, m, lo=0.0, hi=MAX_TIME_S))

    def _add(self, rows: np.ndarray, live: np.ndarray, t0: np.ndarray,
             ring_s: np.ndarray) -> None:
        self._reserve(rows.shape[0])
        _append(rows, live, t0, ring_s, self.row, self.live, self.t0, self.ring, self.tie,
                self.meta, self.seed)

    def _add_ended(self, rows: np.ndarray, live: np.ndarray, ring_s: np.ndarray, now: float,
                   slot: int, minute_calls: np.ndarray, calls_today: np.ndarray) -> None:
        """``_add`` of dials that ended at ``now`` (``_append_ended``: arrays the pacer
        checked; the counters are its own)."""
        self._reserve(rows.shape[0])
        _append_ended(rows, live, ring_s, now, self.row, self.live, self.t0, self.ring,
                      self.tie, self.meta, self.seed, slot, minute_calls, calls_today)

    def _reserve(self, m: int) -> None:
        """Room for ``m`` more dials (the buffers at least double when they grow)."""
        held = int(self.meta[0])
        if held + m > self.row.shape[0]:
            cap = max(held + m, 2 * self.row.shape[0])
            for name in self._ARRAYS:
                old = getattr(self, name)
                new = np.empty(cap, dtype=old.dtype)
                new[:held] = old[:held]
                setattr(self, name, new)

    def fold(self, now: float, life_s: np.ndarray, hit: HitRateState,
             dials_recent: np.ndarray, decay: float,
             ringing_t0: np.ndarray | None = None) -> int:
        """Fold the dials whose cohort ended by ``now`` (launch + ``life_s`` of their
        campaign, seconds, and none of its dials still ringing) into the hit rate ``hit``
        (``_fold``); returns how many, which are then ``out_row``, ``out_ring`` and
        ``out_live`` up to that count, in the fold's seeded order. ``life_s``,
        ``dials_recent`` and ``ringing_t0`` (launch time of the campaign's oldest dial still
        ringing, seconds; +inf or None: none rings): float64 per campaign; ``hit`` covering
        every row held; a ValueError naming the argument otherwise."""
        now = real_number("now", now, -MAX_TIME_S, MAX_TIME_S)
        if not isinstance(hit, HitRateState):
            raise ValueError(f"hit: expected a HitRateState, got {type(hit).__name__}")
        c_n = hit.n
        held = self.row[:self.n]
        if held.size and int(held.max()) >= c_n:
            raise ValueError(f"hit: expected campaigns covering the rows held (up to "
                             f"{int(held.max())}), got {c_n}")
        life = float_rows("life_s", life_s, c_n, lo=0.0, hi=MAX_TIME_S)
        if not (isinstance(dials_recent, np.ndarray) and dials_recent.dtype == np.float64
                and dials_recent.shape == (c_n,) and dials_recent.flags.writeable):
            raise ValueError(f"dials_recent: expected a writable float64[{c_n}] array")
        decay = real_number("decay", decay, 0.0, 1.0)
        if ringing_t0 is None:
            ringing = np.full(c_n, np.inf)
        else:
            arr = as_array("ringing_t0", ringing_t0)
            if arr.dtype.kind not in "biuf":
                raise ValueError(f"ringing_t0: expected real numbers, got dtype {arr.dtype}")
            none = np.isposinf(arr)  # no dial ringing: the row's +inf, checked apart
            ringing = float_rows("ringing_t0", np.where(none, 0.0, arr), c_n,
                                 lo=-MAX_TIME_S, hi=MAX_TIME_S)
            ringing[none] = np.inf
        return self._fold_dials(now, life, hit, dials_recent, decay, ringing)

    def _fold_dials(self, now: float, life_s: np.ndarray, hit: HitRateState,
                    dials_recent: np.ndarray, decay: float, ringing_t0: np.ndarray) -> int:
        p = hit.params
        return int(_fold(float(now), self.row, self.live, self.t0, self.ring, self.tie,
                         self.meta, life_s, ringing_t0, p.window, p.alpha, hit.buf, hit.pos,
                         hit.count, hit.live_count, hit.smoothed, hit.since, dials_recent,
                         float(decay), self.out_row, self.out_ring, self.out_live))

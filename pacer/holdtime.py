"""Handling, talk or wrap-up time per campaign, estimated without the early-completion bias.

A histogram of the handling times that have *ended* is biased short for a long while:
after one minute of a cold start only the calls shorter than a minute have ended (a
400-agent campaign had learnt a 102 s mean for 205 s calls and over-dialled). The
piecewise-constant hazard estimator counts the calls still in progress too:

    hazard_k = events_k / exposure_k      (per second, bin k = [k w, (k + 1) w))

``events_k``: handling times that ended in bin k; ``exposure_k``: agent-seconds spent at an
elapsed time within bin k (every busy agent adds the tick's length to the bin of its elapsed
time), both decaying with time constant ``memory_s``. The survival is
``S((k + 1) w) = S(k w) exp(-hazard_k w)``. A prior worth ``prior_weight`` calls of the
configured distribution is in both sums from the start: its events ``W (F(k+1) - F(k))`` and
exposure ``W x integral of S over the bin``.

``to_histogram`` writes the estimate as a histogram row of weight 1 (bin k holds
``S(k w) - S((k + 1) w)``), the form the pacing kernels read.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from scipy.special import erfc

from pacer.constants import MAX_CAMPAIGNS
from pacer.gather import MAX_TIME_S
from pacer.histogram import _check_row
from pacer.ratio import float_rows, int_rows, real_number

MAX_BINS = 1 << 20  # most bins of an estimator
MAX_CV = 1e3  # largest coefficient of variation of a prior

__all__ = ["HoldTime", "ended_phases", "expose_phases"]


@numba.njit(cache=True)
def _expose(agent_offsets, agent_elapsed_s, agent_phase, phase, rows, dt_s, bin_width_s,
            exposure):
    """Add dt_s of exposure at the elapsed bin of each busy agent in ``phase``
    (``pacer.gather.PHASE_*``), for the given campaign rows."""
    n_bins = exposure.shape[1]
    for i in range(rows.shape[0]):
        c = rows[i]
        for j in range(agent_offsets[c], agent_offsets[c + 1]):
            e = agent_elapsed_s[j]
            if e < 0.0 or agent_phase[j] != phase:
                continue
            k = min(int(e / bin_width_s), n_bins - 1)
            exposure[c, k] += dt_s


@numba.njit(cache=True)
def _expose_phases(agent_offsets, agent_elapsed_s, agent_phase, rows, dt_s, bw0, exposure0,
                   bw1, exposure1, bw2, exposure2):
    """``_expose`` for the three estimators at once: each busy agent's dt_s goes to its
    phase's (``pacer.gather.PHASE_*``: 0 handling, 1 talk, 2 wrap-up) exposure array, at the
    bin of its elapsed time (bin widths bw0..bw2), for the given campaign rows."""
    for i in range(rows.shape[0]):
        c = rows[i]
        for j in range(agent_offsets[c], agent_offsets[c + 1]):
            e = agent_elapsed_s[j]
            if e < 0.0:
                continue
            ph = agent_phase[j]
            if ph == 0:
                exposure0[c, min(int(e / bw0), exposure0.shape[1] - 1)] += dt_s
            elif ph == 1:
                exposure1[c, min(int(e / bw1), exposure1.shape[1] - 1)] += dt_s
            else:
                exposure2[c, min(int(e / bw2), exposure2.shape[1] - 1)] += dt_s


@numba.njit(cache=True)
def _events_phases(rows, seconds, codes, bw1, events1, bw2, events2):
    """Ended talks (code 1) and wrap-ups (code 2), seconds, into their estimators' events."""
    for i in range(rows.shape[0]):
        x = max(seconds[i], 0.0)
        if codes[i] == 1:
            events1[rows[i], int(min(x / bw1, events1.shape[1] - 1.0))] += 1.0
        else:
            events2[rows[i], int(min(x / bw2, events2.shape[1] - 1.0))] += 1.0


@numba.njit(cache=True)
def _events(rows, seconds, bin_width_s, events):
    n_bins = events.shape[1]
    for i in range(rows.shape[0]):
        k = int(min(max(seconds[i], 0.0) / bin_width_s, n_bins - 1.0))
        events[rows[i], k] += 1.0


@numba.njit(cache=True)
def _to_histogram(events, exposure, bin_width_s, rows, counts, totals):
    """Survival from the hazards into histogram rows (bin k: S(k w) - S((k + 1) w)); the
    last bin is open-ended and takes the rest of the mass."""
    n_bins = events.shape[1]
    for i in range(rows.shape[0]):
        c = rows[i]
        s = 1.0
        for k in range(n_bins):
            if k == n_bins - 1:
                counts[c, k] = s
                s = 0.0
                continue
            h = events[c, k] / exposure[c, k] if exposure[c, k] > 0.0 else 0.0
            s_next = s * math.exp(-h * bin_width_s)
            counts[c, k] = s - s_next
            s = s_next
        totals[c] = 1.0


class HoldTime:
    """Per-campaign hazard estimate of the handling time, written into a histogram.

    ``n_rows`` campaigns (int >= 1), bins of ``bin_width_s`` seconds over ``max_s``
    seconds (at most MAX_BINS bins), evidence fading with time constant ``memory_s``
    seconds. Every public method checks its arguments (a ValueError naming the argument);
    ``pacer.decide`` calls the ``_``-methods with arrays it has checked itself.
    """

    def __init__(self, n_rows: int, bin_width_s: float, max_s: float, memory_s: float):
        if isinstance(n_rows, bool) or not isinstance(n_rows, int | np.integer) or \
                not 1 <= n_rows <= MAX_CAMPAIGNS:
            raise ValueError(f"n_rows: expected an int in [1, {MAX_CAMPAIGNS}], got {n_rows!r:.40}")
        self.bin_width_s = real_number("bin_width_s", bin_width_s, 0.0, lo_open=True)
        max_s = real_number("max_s", max_s, 0.0, lo_open=True)
        if max_s / self.bin_width_s > MAX_BINS:
            raise ValueError(f"max_s: {max_s} s is more than {MAX_BINS} bins of "
                             f"{self.bin_width_s} s")
        self.n_bins = max(1, math.ceil(max_s / self.bin_width_s - 1e-9))
        self.events = np.zeros((int(n_rows), self.n_bins))
        self.exposure = np.zeros((int(n_rows), self.n_bins))
        self.memory_s = real_number("memory_s", memory_s, 0.0, lo_open=True)
        self._priors: dict[tuple[float, float, float], tuple[np.ndarray, np.ndarray]] = {}

    @property
    def n_rows(self) -> int:
        return self.events.shape[0]

    def seed(self, row: int, mean_s: float, cv: float, weight: float) -> None:
        """A lognormal prior (mean seconds > 0, coefficient of variation > 0) worth
        ``weight`` (>= 0) calls in both sums."""
        row = _check_row(row, self.n_rows)
        mean_s = real_number("mean_s", mean_s, 0.0, MAX_TIME_S, lo_open=True)
        cv = real_number("cv", cv, 0.0, MAX_CV, lo_open=True)
        weight = real_number("weight", weight, 0.0, MAX_TIME_S)
        key = (mean_s, cv, weight)
        prior = self._priors.get(key)
        if prior is None:  # campaigns alike (copies of one) share the computation
            prior = self._priors[key] = self._prior(mean_s, cv, weight)
        self.events[row] += prior[0]
        self.exposure[row] += prior[1]

    def _prior(self, mean_s: float, cv: float, weight: float) -> tuple[np.ndarray, np.ndarray]:
        """A lognormal prior's events and exposure per bin (``seed``)."""
        sigma = math.sqrt(math.log1p(cv * cv))
        mu = math.log(mean_s) - 0.5 * sigma * sigma
        w = self.bin_width_s
        # survival at every bin's 4 trapezoid panels' nodes (5 per bin, shared edges)
        x = np.linspace(0.0, self.n_bins * w, 4 * self.n_bins + 1)
        sf = np.ones_like(x)
        pos = x > 0
        sf[pos] = 0.5 * erfc((np.log(x[pos]) - mu) / (sigma * math.sqrt(2.0)))
        edges = sf[::4]
        panels = (sf[1:] + sf[:-1]) * 0.5 * (w / 4)  # the integral of S, trapezoid rule
        return (weight * (edges[:-1] - edges[1:]),
                weight * panels.reshape(self.n_bins, 4).sum(axis=1))

    def expose(self, agent_offsets, agent_elapsed_s, rows, dt_s: float,
               agent_phase: np.ndarray | None = None, phase: int = 0) -> None:
        """Busy agents of ``rows`` in ``phase`` (all when ``agent_phase`` is None) spent
        ``dt_s`` more seconds at their elapsed times.

        ``agent_offsets``: int[n_rows + 1] CSR offsets into ``agent_elapsed_s`` (seconds,
        negative = idle); ``rows``: campaign rows; ``agent_phase``: int per agent."""
        ao, ae, r = _agents(agent_offsets, agent_elapsed_s, rows, self.n_rows)
        dt = real_number("dt_s", dt_s, 0.0, MAX_TIME_S)
        if isinstance(phase, bool) or not isinstance(phase, int | np.integer):
            raise ValueError(f"phase: expected an int, got {phase!r:.40}")
        ap = np.full(ae.shape[0], phase, dtype=np.int64) if agent_phase is None else \
            int_rows("agent_phase", agent_phase, ae.shape[0], lo=None)
        if dt > 0.0:
            _expose(ao, ae, ap, int(phase), r, dt, self.bin_width_s, self.exposure)

    def ended(self, rows, seconds) -> None:
        """Handling times that ended (seconds >= 0), one per campaign row given."""
        r, x = _ended_args(rows, seconds, self.n_rows)
        self._ended(r, x)

    def _ended(self, rows: np.ndarray, seconds: np.ndarray) -> None:
        _events(rows, seconds, self.bin_width_s, self.events)

    def forget(self, dt_s: float) -> None:
        """Let old evidence fade (time constant ``memory_s``) over ``dt_s`` seconds (>= 0)."""
        f = math.exp(-real_number("dt_s", dt_s, 0.0) / self.memory_s)
        self.events *= f
        self.exposure *= f

    def to_histogram(self, rows, counts: np.ndarray, totals: np.ndarray) -> None:
        """The estimate of each campaign row in ``rows`` written into ``counts`` (a
        writable float64[n_rows, n_bins]) and ``totals`` (float64[n_rows]), as
        ``pacer.histogram.StreamingHistogram`` keeps them."""
        r = int_rows("rows", rows, None, lo=0, hi=self.n_rows - 1)
        for name, a, shape in (("counts", counts, self.events.shape),
                               ("totals", totals, (self.n_rows,))):
            if not (isinstance(a, np.ndarray) and a.dtype == np.float64 and a.shape == shape
                    and a.flags.writeable):
                raise ValueError(f"{name}: expected a writable float64{list(shape)} array")
        self._write(r, counts, totals)

    def _write(self, rows: np.ndarray, counts: np.ndarray, totals: np.ndarray) -> None:
        _to_histogram(self.events, self.exposure, self.bin_width_s, rows, counts, totals)


def _agents(agent_offsets, agent_elapsed_s, rows, n_rows):
    """The CSR agent arguments checked: offsets int[n_rows + 1], non-decreasing from 0 to
    at most the agents given; elapsed times finite, at most MAX_TIME_S; rows in range."""
    ao = int_rows("agent_offsets", agent_offsets, n_rows + 1)
    ae = float_rows("agent_elapsed_s", agent_elapsed_s, None, hi=MAX_TIME_S)
    if ao[0] != 0 or (np.diff(ao) < 0).any() or ao[-1] > ae.shape[0]:
        raise ValueError(f"agent_offsets: expected non-decreasing offsets from 0 to at most "
                         f"{ae.shape[0]} (the agents given), got {ao.tolist()[:8]}")
    r = int_rows("rows", rows, None, lo=0, hi=n_rows - 1)
    return ao, ae, r


def _ended_args(rows, seconds, n_rows):
    r = int_rows("rows", rows, None, lo=0, hi=n_rows - 1)
    return r, float_rows("seconds", seconds, r.shape[0], lo=0.0, hi=MAX_TIME_S)


def _same_rows(*estimators: HoldTime) -> int:
    for name, e in zip(("hold", "talk", "wrap"), estimators, strict=False):
        if not isinstance(e, HoldTime):
            raise ValueError(f"{name}: expected a HoldTime, got {type(e).__name__}")
    n = {e.n_rows for e in estimators}
    if len(n) != 1:
        raise ValueError(f"the estimators must have the same rows, got {sorted(n)}")
    return n.pop()


def expose_phases(hold: HoldTime, talk: HoldTime, wrap: HoldTime, agent_offsets,
                  agent_elapsed_s, agent_phase, rows, dt_s: float) -> None:
    """Busy agents of ``rows`` spent ``dt_s`` more seconds at their elapsed times, each in
    its phase's estimator (handling, talk or wrap-up: ``agent_phase`` 0, 1, 2): one pass
    over the agents. Arguments as ``HoldTime.expose``; a ValueError naming a bad one."""
    n = _same_rows(hold, talk, wrap)
    ao, ae, r = _agents(agent_offsets, agent_elapsed_s, rows, n)
    ap = int_rows("agent_phase", agent_phase, ae.shape[0], lo=0, hi=2)
    _expose_phases_of(hold, talk, wrap, ao, ae, ap, r, real_number("dt_s", dt_s, 0.0,
                                                                   MAX_TIME_S))


def _expose_phases_of(hold: HoldTime, talk: HoldTime, wrap: HoldTime, agent_offsets,
                      agent_elapsed_s, agent_phase, rows, dt_s: float) -> None:
    """``expose_phases`` on checked arrays (``pacer.decide``'s per-tick path)."""
    if dt_s > 0.0:
        _expose_phases(agent_offsets, agent_elapsed_s, agent_phase, rows, float(dt_s),
                       hold.bin_width_s, hold.exposure, talk.bin_width_s, talk.exposure,
                       wrap.bin_width_s, wrap.exposure)


def ended_phases(talk: HoldTime, wrap: HoldTime, rows, seconds, codes) -> None:
    """Talks (code 1) and wrap-ups (code 2) that ended (seconds >= 0), one per row given;
    a ValueError naming a bad argument."""
    n = _same_rows(talk, wrap)
    r, x = _ended_args(rows, seconds, n)
    _ended_phases_of(talk, wrap, r, x, int_rows("codes", codes, r.shape[0], lo=1, hi=2))


def _ended_phases_of(talk: HoldTime, wrap: HoldTime, rows, seconds, codes) -> None:
    """``ended_phases`` on checked arrays (``pacer.decide``'s per-tick path)."""
    _events_phases(rows, seconds, codes, talk.bin_width_s, talk.events, wrap.bin_width_s,
                   wrap.events)

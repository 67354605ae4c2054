"""The regulatory abandon-rate formulas, defined once for kernels and KPIs alike.

The ``_``-prefixed ``numba.njit`` scalar functions are what the windowed accounting kernels
call per campaign; the public functions (``engine.kpi`` calls them on the totals of an
attempt table) check their arguments first: counts are finite numbers >= 0, else a
ValueError naming the argument.
"""

from __future__ import annotations

import numba
import numpy as np

from pacer.ratio import real_number


@numba.njit(cache=True)
def _fcc_abandon_rate(abandons: float, live_answers: float) -> float:
    """FTC TSR / FCC: abandons / live answers (0 when there is no live answer)."""
    if live_answers <= 0:
        return 0.0
    return abandons / live_answers


@numba.njit(cache=True)
def _ofcom_abandon_rate(abandons: float, false_positives: float, live_answers: float) -> float:
    """Ofcom's rate (see ``ofcom_abandon_rate``)."""
    den = live_answers + false_positives
    if den <= 0:
        return 0.0
    return (abandons + false_positives) / den


@numba.njit(cache=True)
def _vicidial_ofcom_abandon_rate(drops: float, connects: float, machines: float) -> float:
    """VICIdial's answering-machine-adjusted rate (see ``vicidial_ofcom_abandon_rate``)."""
    adj = drops
    if connects + machines > 0:
        adj = drops - drops * machines / (connects + machines)
    den = connects + adj
    if den <= 0:
        return 0.0
    return adj / den


def human_drop_budget(limit, fp_share):
    """Abandons of live answers allowed per live answer once AMD false positives (share
    ``fp_share`` of all live calls, false positives included) are counted: the rate
    (drops + FP) / (live + FP) <= limit gives drops / live <= (limit - f) / (1 - f).
    Fractions 0..1; <= 0 means no human may be dropped."""
    f = np.asarray(fp_share, dtype=np.float64)
    return (np.asarray(limit, dtype=np.float64) - f) / np.maximum(1.0 - f, 1e-12)


def _count(name: str, value) -> float:
    return real_number(name, value, 0.0)


def fcc_abandon_rate(abandons: float, live_answers: float) -> float:
    """FTC TSR / FCC: abandons / live answers (0 when there is no live answer).

    Raises:
        ValueError: a count is not a finite number >= 0.
    """
    return _fcc_abandon_rate(_count("abandons", abandons), _count("live_answers", live_answers))


def ofcom_abandon_rate(abandons: float, false_positives: float, live_answers: float) -> float:
    """Ofcom, as the regulator defines it: (abandoned live calls + AMD false positives) /
    (all live calls, false positives included).

    ``abandons``: live answers no agent took in time (dropped or hung up on while waiting);
    ``false_positives``: people the answering-machine detection took for machines (Ofcom
    counts a call to a person that the dialer hangs up on or plays a message to as
    abandoned); ``live_answers``: live answers as the dialer saw them (connected +
    abandoned). Ofcom, *Revised statement of policy on the persistent misuse of an
    electronic communications network or service* (2016): at most 3 % of live calls per
    campaign per 24 hours, AMD false positives counted as abandoned calls. 0 when there is
    no live call.

    Raises:
        ValueError: a count is not a finite number >= 0.
    """
    return _ofcom_abandon_rate(_count("abandons", abandons),
                               _count("false_positives", false_positives),
                               _count("live_answers", live_answers))


def vicidial_ofcom_abandon_rate(drops: float, connects: float, machines: float) -> float:
    """VICIdial's answering-machine-adjusted Ofcom rate: a named alternative to
    ``ofcom_abandon_rate``, not the regulator's definition (it lowers the rate by the
    answering machines' share, so a campaign can read under 3 % by it and over by Ofcom's).

    ``drops`` counts abandons *and* AMD false positives; ``connects`` are live answers an
    agent took; ``machines`` are answering machines detected. ``drops' = drops -
    drops*AM/(connects + AM)``; the rate is ``drops' / (connects + drops')``, 0 when that
    denominator is 0.

    Raises:
        ValueError: a count is not a finite number >= 0.
    """
    return _vicidial_ofcom_abandon_rate(_count("drops", drops), _count("connects", connects),
                                        _count("machines", machines))

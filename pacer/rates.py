"""The regulatory abandon-rate formulas, defined once for kernels and KPIs alike.

The ``_``-prefixed ``numba.njit`` scalar functions are what the windowed accounting kernels
call per campaign; the public functions (``engine.kpi`` calls them on the totals of an
attempt table) check their arguments first: counts are finite numbers >= 0, else a
ValueError naming the argument.
"""

from __future__ import annotations

import numba

from pacer.ratio import real_number


@numba.njit(cache=True)
def _fcc_abandon_rate(abandons: float, live_answers: float) -> float:
    """FTC TSR / FCC: abandons / live answers (0 when there is no live answer)."""
    if live_answers <= 0:
        return 0.0
    return abandons / live_answers


@numba.njit(cache=True)
def _ofcom_abandon_rate(drops: float, connects: float, machines: float) -> float:
    """Ofcom, answering-machine adjusted (VICIdial's formula); see ``ofcom_abandon_rate``."""
    adj = drops
    if connects + machines > 0:
        adj = drops - drops * machines / (connects + machines)
    den = connects + adj
    if den <= 0:
        return 0.0
    return adj / den


def fcc_abandon_rate(abandons: float, live_answers: float) -> float:
    """FTC TSR / FCC: abandons / live answers (0 when there is no live answer).

    Raises:
        ValueError: a count is not a finite number >= 0.
    """
    return _fcc_abandon_rate(real_number("abandons", abandons, 0.0),
                             real_number("live_answers", live_answers, 0.0))


def ofcom_abandon_rate(drops: float, connects: float, machines: float) -> float:
    """Ofcom, answering-machine adjusted (VICIdial's formula).

    ``drops`` counts abandons *and* AMD false positives; ``connects`` are live answers an
    agent took; ``machines`` are answering machines detected. ``drops' = drops -
    drops*AM/(connects + AM)`` estimates the drops that hit people; the rate is
    ``drops' / (connects + drops')``, 0 when that denominator is 0.

    Raises:
        ValueError: a count is not a finite number >= 0.
    """
    return _ofcom_abandon_rate(real_number("drops", drops, 0.0),
                               real_number("connects", connects, 0.0),
                               real_number("machines", machines, 0.0))

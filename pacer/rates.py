"""The regulatory abandon-rate formulas, defined once for kernels and KPIs alike.

Both are ``numba.njit`` scalar functions: the windowed accounting kernels call them per
campaign, and ``engine.kpi`` calls them on the totals of an attempt table.
"""

from __future__ import annotations

import numba


@numba.njit(cache=True)
def fcc_abandon_rate(abandons: float, live_answers: float) -> float:
    """FTC TSR / FCC: abandons / live answers (0 when there is no live answer)."""
    if live_answers <= 0:
        return 0.0
    return abandons / live_answers


@numba.njit(cache=True)
def ofcom_abandon_rate(drops: float, connects: float, machines: float) -> float:
    """Ofcom, answering-machine adjusted (VICIdial's formula).

    ``drops`` counts abandons *and* AMD false positives; ``connects`` are live answers an
    agent took; ``machines`` are answering machines detected. ``drops' = drops -
    drops*AM/(connects + AM)`` estimates the drops that hit people; the rate is
    ``drops' / (connects + drops')``, 0 when that denominator is 0.
    """
    adj = drops
    if connects + machines > 0:
        adj = drops - drops * machines / (connects + machines)
    den = connects + adj
    if den <= 0:
        return 0.0
    return adj / den

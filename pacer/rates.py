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
    """
    den = live_answers + false_positives
    if den <= 0:
        return 0.0
    return (abandons + false_positives) / den


@numba.njit(cache=True)
def vicidial_ofcom_abandon_rate(drops: float, connects: float, machines: float) -> float:
    """VICIdial's answering-machine-adjusted Ofcom rate: a named alternative to
    ``ofcom_abandon_rate``, not the regulator's definition (it lowers the rate by the
    answering machines' share, so a campaign can read under 3 % by it and over by Ofcom's).

    ``drops`` counts abandons *and* AMD false positives; ``connects`` are live answers an
    agent took; ``machines`` are answering machines detected. ``drops' = drops -
    drops*AM/(connects + AM)``; the rate is ``drops' / (connects + drops')``, 0 when that
    denominator is 0.
    """
    adj = drops
    if connects + machines > 0:
        adj = drops - drops * machines / (connects + machines)
    den = connects + adj
    if den <= 0:
        return 0.0
    return adj / den

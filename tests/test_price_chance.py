"""The price loop keeps its margin for chance over a calling day and pays back realised
abandons only beyond chance (pacer.decide: CALLING_DAY_S, AIM_Z, WINDOW_Z, ``_refresh``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pacer import CampaignPacing, Pacer
from pacer import decide as dmod


def _steady(p: Pacer, live_per_s: np.ndarray, memory_s: float = 600.0) -> None:
    """The forecast's live answers as a steady stream of live_per_s over a memory."""
    p._fc_memory = np.full(live_per_s.size, memory_s)
    p._fc_live = live_per_s * memory_s


def test_the_aim_keeps_a_margin_for_the_live_answers_of_a_calling_day():
    # an 8-agent, a 50-agent and a 400-agent campaign (live answers per second)
    rates = np.array([0.036, 0.45, 3.6])
    p = Pacer([CampaignPacing(window_s=30 * 86_400.0) for _ in rates])
    _steady(p, rates)
    budget = p._budget
    full = budget * p._abandon_aim
    margin = dmod.AIM_Z * np.sqrt(budget / (rates * dmod.CALLING_DAY_S))
    want = np.maximum(np.minimum(full, budget - margin), 0.5 * budget)
    assert p._aim() == pytest.approx(want)
    assert p._aim()[0] < full[0] - 0.003  # a small campaign keeps a wider margin ...
    assert p._aim()[2] == pytest.approx(full[2])  # ... a large one its usual aim


def test_the_margin_is_over_the_live_answers_the_rate_counts_not_machines_put_through():
    """With AMD off (or missing machines) the forecast's live answers include the machines
    put through to agents, which leave the count the limit judges once their agent finds
    them: the margin is over the humans. A 21-agent team whose answers were two thirds
    machines read an aim of 2.4 % (its margin over all answers) and abandoned 3.27 % of its
    live answers over six hours; over the humans it aims at ~2.05 %."""
    rate = np.array([0.15, 0.15])
    p = Pacer([CampaignPacing(window_s=30 * 86_400.0) for _ in rate])
    _steady(p, rate)
    p._run_live[:] = [100.0, 100.0]
    p._run_machines[:] = [0.0, 200.0]
    share = np.array([1.0, 101.0 / 301.0])
    budget = p._budget
    margin = dmod.AIM_Z * np.sqrt(budget / (rate * share * dmod.CALLING_DAY_S))
    want = np.maximum(np.minimum(budget * p._abandon_aim, budget - margin), 0.5 * budget)
    aim = p._aim()
    assert aim == pytest.approx(want)
    assert aim[1] < aim[0] - 0.002


def test_the_ofcom_margin_covers_the_false_positives_it_counts():
    """Ofcom counts AMD false positives (share f of live calls) with the drops: the
    margin is AIM_Z standard deviations of drops + (1 - limit) x false positives, Poisson,
    over a calling day's live answers; FCC's (f = 0) is the drops' alone. A 10-agent team
    (0.04 live answers a second) at f = 0.01: the budget is (0.03 - 0.01) / 0.99."""
    from pacer.modes import Regulation

    rate = np.array([0.04, 0.04])
    f, lim = 0.01, 0.03
    p = Pacer([CampaignPacing(regulation=Regulation.OFCOM, amd_false_positive_rate=f,
                              abandon_limit=lim),
               CampaignPacing(regulation=Regulation.FCC, abandon_limit=lim)])
    _steady(p, rate)
    live = rate * dmod.CALLING_DAY_S
    b = (lim - f) / (1 - f)
    var = b + (1 - lim) ** 2 * f / (1 - f)
    want_ofcom = max(min(b * p._abandon_aim[0], b - dmod.AIM_Z * math.sqrt(var / live[0])),
                     0.5 * b)
    want_fcc = max(min(lim * p._abandon_aim[1],
                       lim - dmod.AIM_Z * math.sqrt(lim / live[1])), 0.5 * lim)
    aim = p._aim()
    assert aim[0] == pytest.approx(want_ofcom)
    assert aim[1] == pytest.approx(want_fcc)
    # the false positives' variance is what moved it: the drops' alone would allow more
    assert aim[0] < b - dmod.AIM_Z * math.sqrt(b / live[0]) - 1e-3


def test_a_window_shorter_than_a_day_is_the_span_and_none_given_is_a_day():
    rates = np.array([0.45, 0.45])
    short = Pacer([CampaignPacing(window_s=3600.0), CampaignPacing(window_s=0.0)])
    _steady(short, rates)
    budget = short._budget[0]
    hour = budget - dmod.AIM_Z * math.sqrt(budget / (0.45 * 3600.0))
    day = budget - dmod.AIM_Z * math.sqrt(budget / (0.45 * dmod.CALLING_DAY_S))
    aim = short._aim()
    assert aim[0] == pytest.approx(min(budget * short._abandon_aim[0], hour))
    assert aim[1] == pytest.approx(min(budget * short._abandon_aim[1], day))
    assert aim[0] < aim[1]


def _after_refresh(run_ab: float, forecast_ab: float, run_live: float) -> float:
    """theta after one refresh of a warm 8-agent campaign whose forecast meets its target
    when nothing is owed, with run_ab abandons realised over run_live live answers."""
    p = Pacer([CampaignPacing(window_s=30 * 86_400.0)])
    now = 5000.0
    p._t_start = now - dmod.LIVE_RATE_MEMORY_S
    p._last_refresh = now
    rate = np.array([0.036])
    p._slow_live = rate * dmod.LIVE_RATE_MEMORY_S
    # the forecast's memory as the loop sizes it: one expected abandon at the budget
    _steady(p, rate, float(np.clip(1.0 / (p._budget[0] * rate[0]), dmod.FORECAST_MEMORY_S,
                                   dmod.FORECAST_MEMORY_MAX_S)))
    p._fc_ab = p._fc_live * p._aim()  # the forecast on target: theta stays unless owed
    p._n_bound[:] = 10.0
    p._n_decided[:] = 10.0
    p._run_ab[:] = run_ab
    p._run_live[:] = run_live
    p.added_abandons[:] = forecast_ab
    p._seen_added_ab = p.added_abandons.copy()
    p.theta[:] = 0.05
    p._refresh(now)
    return float(p.theta[0])


def test_an_abandon_within_chance_is_not_paid_back():
    """One abandon, as the model forecast, where a third was expected at the aim (15 live
    answers at about 2 %): chance, not paid back with a lower price."""
    calm = _after_refresh(0.0, 1.0, 15.0)
    assert calm == pytest.approx(0.05)
    assert _after_refresh(1.0, 1.0, 15.0) == pytest.approx(calm, rel=1e-9)


def test_an_excess_beyond_chance_lowers_the_price():
    """Eight abandons where one was forecast and two expected at the aim: the model
    under-forecasts and the campaign owes; the price falls."""
    calm = _after_refresh(0.0, 1.0, 100.0)
    assert calm == pytest.approx(0.05)  # on target, nothing owed: the price stays
    assert _after_refresh(8.0, 1.0, 100.0) < 0.99 * calm


def test_a_pessimistic_model_is_trusted_only_as_far_as_the_evidence_says():
    """The target is divided by the model's bias where it under-forecasts, and where it
    over-forecasts by the upper 95 % bound of realised / forecast abandons: 7 realised
    against 23.6 forecast (P(<= 7 | 23.6) ~ 1e-4) lets the target rise ~1.8x; 2 against
    3.4 (P ~ 0.34) does not move it; an optimistic model's bias is kept as it is."""
    from scipy.stats import poisson

    p = Pacer([CampaignPacing(window_s=30 * 86_400.0) for _ in range(3)])
    p._run_ab[:] = [7.0, 2.0, 12.0]
    p.added_abandons[:] = [23.6, 3.4, 6.0]
    p.model_bias = (p._run_ab + dmod.BIAS_PRIOR) / (p.added_abandons + dmod.BIAS_PRIOR)
    guard = p._bias_guard()
    # the bound: the mean under which 7 or fewer come 5 % of the time
    mean = 23.6 * guard[0]
    assert poisson.cdf(7, mean) == pytest.approx(0.05, abs=1e-6)
    assert 0.5 < guard[0] < 0.6
    assert guard[1] == pytest.approx(1.0)
    assert guard[2] == pytest.approx(p.model_bias[2]) and guard[2] > 1.0

"""The price loop reads the model's forecast over a memory that holds one expected abandon
at the campaign's budget (pacer.decide: FORECAST_MEMORY_S .. FORECAST_MEMORY_MAX_S), its
gain scaled to match, so a small campaign's theta follows a rate, not a minute's noise."""

from __future__ import annotations

import numpy as np
import pytest

from pacer import CampaignPacing, Pacer
from pacer import decide as dmod


def test_the_memory_holds_one_expected_abandon_at_the_budget():
    p = Pacer([CampaignPacing(), CampaignPacing(), CampaignPacing()])
    # expected live answers per second: a 400-agent, a 50-agent and an 8-agent campaign
    rates = np.array([2.0, 0.25, 0.03])
    for k in range(2000):  # 10,000 s of a steady stream: the rate's memory is full
        p.added_live += rates * dmod.REFRESH_S
        p._refresh(dmod.REFRESH_S * k)
    want = np.clip(1.0 / (p._budget * rates), dmod.FORECAST_MEMORY_S,
                   dmod.FORECAST_MEMORY_MAX_S)
    assert p._fc_memory == pytest.approx(want, rel=0.01)
    assert p._fc_memory[0] == dmod.FORECAST_MEMORY_S  # a large campaign keeps a minute
    assert p._fc_memory[2] == dmod.FORECAST_MEMORY_MAX_S  # a small one, the longest


def test_a_longer_memory_moves_the_price_more_slowly():
    """The same gap between target and forecast moves log theta by THETA_GAIN x
    FORECAST_MEMORY_S / memory per refresh (a loop reading a slow average must step
    gently, or it overshoots)."""
    p = Pacer([CampaignPacing(), CampaignPacing()])
    now = 5000.0
    p._t_start = now - dmod.LIVE_RATE_MEMORY_S  # past the cold start, the rate's span full
    p._last_refresh = now
    p._run_live[:] = 1e4
    p._n_bound[:] = 10.0
    p._n_decided[:] = 10.0
    # live answers per second giving memories of one minute and of four
    memory = np.array([1.0, 4.0]) * dmod.FORECAST_MEMORY_S
    p._slow_live = dmod.LIVE_RATE_MEMORY_S / (p._budget * memory)
    p._fc_live = np.array([1000.0, 1000.0])
    p._fc_memory = memory
    aim = p._aim()  # (its margin for chance depends on the live answers the memory holds)
    p._fc_ab = p._fc_live * aim * 0.9  # the forecast under the target: theta rises
    before = p.theta.copy()
    p._refresh(now)
    assert p._fc_memory == pytest.approx(memory)
    up = np.log(p.theta / before)
    assert up == pytest.approx(dmod.THETA_GAIN * -np.log(0.9) * np.array([1.0, 0.25]),
                               rel=1e-6)

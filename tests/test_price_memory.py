"""The price loop reads the model's forecast over a memory holding a few expected abandons
(pacer.decide: FORECAST_ABANDONS), so a small campaign's theta follows a rate, not noise."""

from __future__ import annotations

import numpy as np
import pytest

from pacer import CampaignPacing, Pacer
from pacer import decide as dmod


def _refresh_with(p: Pacer, live_per_s: np.ndarray, now: float) -> None:
    """One refresh after REFRESH_S seconds of forecast live answers at ``live_per_s``."""
    p._fc_live = live_per_s * p._fc_memory_s  # a steady stream, as the memory holds it
    p._refresh(now)


def test_the_memory_holds_the_expected_abandons_it_needs():
    p = Pacer([CampaignPacing(), CampaignPacing(), CampaignPacing()])
    aim = p._aim()
    # live answers per second: a 400-agent, a 50-agent and an 8-agent campaign
    rates = np.array([2.0, 0.25, 0.04])
    for k in range(40):  # the memory settles where it holds FORECAST_ABANDONS abandons
        _refresh_with(p, rates, 5.0 * (k + 1))
    want = np.clip(dmod.FORECAST_ABANDONS / (rates * aim), dmod.FORECAST_MEMORY_S,
                   dmod.FORECAST_MEMORY_MAX_S)
    assert p._fc_memory_s == pytest.approx(want, rel=1e-6)
    assert p._fc_memory_s[0] == dmod.FORECAST_MEMORY_S  # a large campaign keeps a minute
    assert p._fc_memory_s[2] == dmod.FORECAST_MEMORY_MAX_S  # a small one, the longest


def test_a_longer_memory_moves_the_price_more_slowly():
    """The same gap between target and forecast moves theta by THETA_GAIN x
    FORECAST_MEMORY_S / memory of its log per refresh (a loop reading a slow average must
    step gently, or it overshoots)."""
    p = Pacer([CampaignPacing(), CampaignPacing()])
    p._t_start = -1e6  # past the cold start
    p._run_live[:] = 1e4
    p._n_bound[:] = 10.0
    p._n_decided[:] = 10.0
    aim = p._aim()
    p._fc_memory_s = np.array([dmod.FORECAST_MEMORY_S, 4 * dmod.FORECAST_MEMORY_S])
    # forecast live answers: the first campaign's minute holds more than FORECAST_ABANDONS
    # expected abandons (its memory stays a minute), the second's four minutes hold them
    p._fc_live = np.array([2.0, 1.0]) * dmod.FORECAST_ABANDONS / aim
    before = p.theta.copy()
    p._fc_ab = p._fc_live * aim * 0.9  # the forecast under the target: theta rises
    p._seen_added_ab = p.added_abandons.copy()
    p._seen_added_live = p.added_live.copy()
    p._last_refresh = 0.0
    p._refresh(1e-9)
    assert p._fc_memory_s == pytest.approx([dmod.FORECAST_MEMORY_S, 4 * dmod.FORECAST_MEMORY_S])
    up = np.log(p.theta / before)
    gap = -np.log(0.9)
    assert up == pytest.approx(dmod.THETA_GAIN * gap * np.array([1.0, 0.25]), rel=1e-6)

"""amd.machine_talk_s: a missed answering machine holds its agent for a scenario parameter."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.scenario import load

SCN = Path(__file__).resolve().parent.parent / "scenarios" / "pacing-amd80-50.toml"


def test_machine_talk_is_a_scenario_parameter_with_a_default():
    assert load(SCN).campaigns[0].amd.machine_talk_s == 8.0
    scn = load(SCN, overrides={"campaigns.sales.amd.machine_talk_s": 30.0})
    assert scn.campaigns[0].amd.machine_talk_s == 30.0


def test_a_negative_machine_talk_is_named():
    with pytest.raises(Exception, match="machine_talk_s"):
        load(SCN, overrides={"campaigns.sales.amd.machine_talk_s": -1.0})

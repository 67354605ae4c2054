"""Durations of mean 0 s: accepted where they mean something (no wrap-up, an aux break or an
inbound caller's patience of 0 s), refused with the reason where they do not, and a
predictive campaign without wrap-up simulated end to end."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import engine.dialer
from sim.distributions import Deterministic
from sim.run import campaign_pacing
from sim.scenario import build, load
from tests.cli_helpers import SCENARIOS, cli_json
from tests.test_scenario import MINIMAL, _problems


@pytest.mark.parametrize("dist", ["exponential", "lognormal", "gamma", "deterministic"])
def test_a_zero_mean_is_zero_seconds_in_every_family(dist):
    raw = copy.deepcopy(MINIMAL)
    raw["campaigns"][0]["wrap"] = {"dist": dist, "mean_s": 0, "cv": 2.0} \
        if dist in ("lognormal", "gamma") else {"dist": dist, "mean_s": 0}
    wrap = build(raw).campaigns[0].wrap
    assert wrap == Deterministic(0.0) and wrap.mean == 0 and wrap.variance == 0
    assert not wrap.sample(np.random.default_rng(1), 100).any()


def test_zero_is_accepted_where_it_means_something():
    raw = copy.deepcopy(MINIMAL)
    raw["agents"][0].update(aux_probability=0.5, aux_mean_s=0)
    assert build(raw).agents[0].aux_mean_s == 0.0
    raw = load(SCENARIOS / "blended-centre.toml").raw  # inbound patience 0: Erlang B's loss
    raw = copy.deepcopy(dict(raw))
    raw["inbound"][0]["patience"] = {"dist": "exponential", "mean_s": 0}
    assert build(raw, "x.toml", SCENARIOS).inbound[0].patience == Deterministic(0.0)


def test_zero_is_refused_with_its_reason_where_it_is_nonsense():
    """Patience 0 (everyone hangs up before an agent), no handling at all, a profile
    scaling 0 s, no carrier, a constant given a shape: each names the key and why."""
    raw = copy.deepcopy(MINIMAL)
    raw["campaigns"][0]["customer"] = {"patience_mean_s": 0}
    [p] = _problems(raw)
    assert p.startswith("campaigns.c.customer.patience_mean_s: expected a value > 0 s")
    assert "hang up before an agent is connected" in p and "1 / patience" in p
    raw = copy.deepcopy(MINIMAL)
    raw["campaigns"][0]["talk"] = {"dist": "lognormal", "mean_s": 0}
    raw["campaigns"][0]["wrap"] = {"dist": "exponential", "mean_s": 0}
    assert any("more than 0 s together" in p for p in _problems(raw))
    raw = copy.deepcopy(MINIMAL)
    raw["campaigns"][0]["wrap"] = {"mean_s": 0}
    raw["campaigns"][0]["profile"] = {"at": [0, 600], "wrap_mean_s": [10, 20]}
    assert any("a profile scales it" in p for p in _problems(raw))
    raw["campaigns"][0]["wrap"] = {"mean_s": -1}
    assert any("expected a value >= 0 s" in p for p in _problems(raw))
    raw = copy.deepcopy(MINIMAL)
    raw["telephony"]["carrier_cps"] = 0
    raw["campaigns"][0].update(talk={"dist": "gamma", "mean_s": 100, "cv": 0},
                               outcomes={"ring_median_s": 0, "ring_sigma": 0})
    why = {"telephony.carrier_cps": "the carrier would set up no call",
           "campaigns.c.talk.cv": 'a constant: use dist = "deterministic"',
           "campaigns.c.outcomes.ring_median_s": "the median of a log-normal",
           "campaigns.c.outcomes.ring_sigma": "a small value for a near-constant"}
    got = {p.split(":")[0]: p for p in _problems(raw)}
    assert all(k in got and "expected a value > 0" in got[k] and w in got[k]
               for k, w in why.items()), got


def test_a_predictive_campaign_without_wrap_up_runs_and_its_pacer_sees_none(monkeypatch,
                                                                             tmp_path):
    seen: list[float] = []
    observe = engine.dialer.Pacer.observe_wrap

    def spy(self, row, seconds):
        seen.append(seconds)
        return observe(self, row, seconds)

    monkeypatch.setattr(engine.dialer.Pacer, "observe_wrap", spy)
    scenario = SCENARIOS / "single-50-predictive.toml"
    sets = ("--set", "campaigns.wrap.mean_s=0", "--set", "scenario.warmup_s=60")
    out = cli_json("-q", "simulate", scenario, *sets, "--hours", "0.1", "--no-cache")
    scn = load(scenario, {"campaigns.wrap.mean_s": 0})
    camp = scn.campaigns[0]
    assert camp.wrap == Deterministic(0.0)
    assert campaign_pacing(camp, scn).handling_mean_s == camp.talk.mean  # talk + 0 s
    assert len(seen) >= 50 and set(seen) == {0.0}  # every wrap-up the pacer learnt: 0 s
    t = out["total"]
    assert t["connects"] >= 50 and t["abandon_rate"] < 0.1
    # an agent's cycle is a wait and a call (no wrap-up): occupancy = talk / (talk + wait)
    talk = camp.talk.mean
    assert 0.5 < t["occupancy"] <= 1.0
    assert t["occupancy"] == pytest.approx(talk / (talk + t["agent_wait_mean_s"]), abs=0.05)

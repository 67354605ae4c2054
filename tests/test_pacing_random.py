"""bench.pacing_random draws only valid scenarios (a load error there is a finding, so the
generator must not make its own), reproducibly, with the dimensions it says it covers."""

from __future__ import annotations

from bench.pacing_random import draw
from sim.scenario import load


def test_every_drawn_scenario_loads_and_the_same_index_draws_the_same(tmp_path):
    seen = {"fcc": 0, "ofcom": 0, "amd_off": 0, "patience": 0, "wrap": 0}
    for i in range(60):
        for large, targets in ((False, False), (True, True)):
            text, drawn = draw(i, large, targets)
            assert draw(i, large, targets) == (text, drawn)
            p = tmp_path / f"r{i}-{large}.toml"
            p.write_text(text)
            scn = load(str(p))
            (c,) = scn.campaigns
            assert scn.dialer_agents == drawn["agents"]
            assert (300 <= drawn["agents"] <= 1500) if large else (5 <= drawn["agents"] <= 600)
            assert c.outcomes.live == drawn["live"]
            seen[drawn["mode"]] += 1
            seen["amd_off"] += not c.amd.enabled
            seen["patience"] += drawn["patience_s"] is not None
            seen["wrap"] += drawn["wrap_s"] > 0
    assert min(seen.values()) >= 20  # each case drawn often

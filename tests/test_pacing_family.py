"""bench.pacing_family's hold-out judgement: the ratios tuned on one seed set, run again
with predictive on another."""

from __future__ import annotations

from pathlib import Path

from bench import pacing_family as pf
from sim.plan.compare import RatioSearch, evaluate
from sim.scenario import load

SCN = Path(__file__).resolve().parent.parent / "scenarios" / "pacing-small-8.toml"
HOURS, REPS = 0.05, 2


def test_the_tuned_ratios_are_judged_again_on_the_holdout_seeds(monkeypatch):
    scn = load(SCN, overrides={"scenario.sim_hours": HOURS})
    # the search itself is compare's (tested there): here it "finds" 1.49 and 1.1
    found = {"progressive": 1.49, "ratio": 1.1}

    def fake_best(scn_, kind, seed, reps):
        (r,) = evaluate(scn_, [f"{kind}:{found[kind]}"], seed, reps)
        return RatioSearch(kind, r, [r], 1.0, 3.0, 0.01)

    monkeypatch.setattr(pf, "widened_best", fake_best)
    res = pf.run_scenario(str(SCN), REPS, HOURS, 11, holdout=31)
    assert [r["policy"] for r in res["rows"]] == [
        "predictive", "best progressive 1.49", "best ratio 1.1"]
    held = res["holdout"]
    assert held["seed"] == 31
    assert [r["policy"] for r in held["rows"]] == [
        "predictive", "progressive 1.49 (tuned on 11)", "ratio 1.1 (tuned on 11)"]
    # the hold-out rows are those policies' own runs on the hold-out seeds
    want = evaluate(scn, ["predictive", "progressive:1.49"], 31, REPS)
    assert held["rows"][0]["occupancy"] == want[0].kpis["occupancy"]
    assert held["rows"][1]["occupancy"] == want[1].kpis["occupancy"]
    assert held["rows"][0]["occupancy"] != res["rows"][0]["occupancy"]  # other traffic
    assert held["occupancy_points_vs_best_progressive"] == (
        (want[0].kpis["occupancy"] - want[1].kpis["occupancy"]) * 100)


def test_no_gain_is_read_off_a_row_that_is_not_progressive():
    rows = [{"policy": "predictive", "occupancy": 0.9},
            {"policy": "best progressive", "note": "none meets"},
            {"policy": "best ratio 1.2", "occupancy": 0.8}]
    assert pf._gain(rows) is None
    assert pf._gain([rows[0], {"policy": "ratio 1.2 (tuned on 11)", "occupancy": 0.8}]) is None
    assert pf._gain([rows[0], {"policy": "progressive 2 (tuned on 11)", "occupancy": 0.85}]) \
        == (0.9 - 0.85) * 100

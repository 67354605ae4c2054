"""``outdial compare`` and the ratio search, on short runs of the 50-agent scenario."""

import json
from pathlib import Path

from click.testing import CliRunner

from outdial.cli import outdial
from sim.policies import best_ratio, evaluate
from sim.scenario import load

SCN = Path(__file__).resolve().parent.parent / "scenarios" / "single-50-predictive.toml"
KEYS = {"policy", "occupancy", "abandon_rate", "abandon_rate_ofcom", "agent_wait_mean_s",
        "service_level", "bhcc", "meets_limit", "ci95"}


def test_compare_json_shape_and_verdicts():
    res = CliRunner().invoke(outdial, ["compare", str(SCN), "--policies",
                                       "predictive,progressive,ratio:1.5", "-r", "2",
                                       "--hours", "0.3", "--no-search", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert {"scenario", "seed", "replications", "policies", "best_fixed_ratio",
            "best_progressive_ratio"} <= set(out)
    by = {p["policy"]: p for p in out["policies"]}
    assert set(by) == {"predictive", "progressive", "ratio:1.5"}
    assert all(KEYS <= set(p) for p in by.values())
    assert by["progressive"]["meets_limit"] and by["progressive"]["abandon_rate"] == 0.0
    assert not by["ratio:1.5"]["meets_limit"]


def test_best_fixed_ratio_meets_the_limit_and_a_bit_more_does_not():
    scn = load(SCN, {"scenario.sim_hours": 0.3})
    seen = []
    best = best_ratio(scn, "ratio", scn.seed, 2, step=0.1, on_step=seen.append)
    assert best is not None and best.meets_limit and 1.0 <= best.ratio <= 3.0
    failing = [r.ratio for r in seen if not r.meets_limit]
    assert failing and min(failing) > best.ratio  # the bracket closed around the answer
    assert min(failing) - best.ratio <= 0.1 + 1e-9


def test_policies_share_the_same_traffic():
    scn = load(SCN, {"scenario.sim_hours": 0.2})
    a = evaluate(scn, "progressive", 5, 1)
    b = evaluate(scn, "progressive", 5, 1)
    assert a.kpis == b.kpis


def test_unknown_policy_is_a_clear_error():
    res = CliRunner().invoke(outdial, ["compare", str(SCN), "--policies", "magic"])
    assert res.exit_code == 2 and "--policies" in res.stderr

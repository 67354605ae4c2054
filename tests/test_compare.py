"""``outdial compare`` and the ratio search, on short runs of the 50-agent scenario."""

import json
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest

from sim.plan.compare import COMPARE_KEYS, best_ratio, evaluate, limit_kpi
from sim.scenario import load
from tests.cli_helpers import cli, cli_json

SCN = Path(__file__).resolve().parent.parent / "scenarios" / "single-50-predictive.toml"
KEYS = {"policy", *COMPARE_KEYS, "meets_limit", "ci95"}


def test_compare_json_outputs_and_ratio_rows(tmp_path):
    out = cli_json("compare", SCN, "--policies", "predictive,progressive,ratio:1.5", "-r", "2",
                   "--hours", "0.2", "--ratio-step", "0.25", "--out", tmp_path, "--plots")
    assert {"scenario", "seed", "replications", "policies", "best_fixed_ratio",
            "best_progressive_ratio"} <= set(out)
    assert out["seed"] == 7 and out["replications"] == 2
    by = {p["policy"]: p for p in out["policies"]}
    assert list(by) == ["predictive", "progressive", "ratio:1.5"]
    assert all(KEYS <= set(p) and set(p["ci95"]) == set(COMPARE_KEYS) for p in by.values())
    for p in by.values():  # fractions 0..1, bounds too; verdict on the upper bound
        assert 0 <= p["abandon_rate"] <= 1 and 0 <= p["occupancy"] <= 1
        for k in ("occupancy", "abandon_rate", "abandon_rate_ofcom", "service_level"):
            lo, hi = p["ci95"][k]
            assert 0 <= lo <= p[k] <= hi <= 1
        lo, hi = p["ci95"]["abandon_rate"]
        assert p["meets_limit"] == (True if hi <= 0.03 else False if lo > 0.03 else None)
        assert p["verdict"]["replications"] == 2
    assert by["progressive"]["meets_limit"] and by["progressive"]["abandon_rate"] == 0.0
    assert not by["ratio:1.5"]["meets_limit"]
    for key in ("best_fixed_ratio", "best_progressive_ratio"):
        best = out[key]
        assert KEYS - {"policy"} <= set(best) and best["meets_limit"]
        assert 1.0 <= best["ratio"] <= 48.0  # the bracket widens past --ratio-max
    # the fixed ratio of 1.5 breaks the limit, so the best one is below it
    assert out["best_fixed_ratio"]["ratio"] < 1.5
    table = pl.read_parquet(tmp_path / "compare.parquet")
    assert table["policy"].to_list()[:3] == ["predictive", "progressive", "ratio:1.5"]
    assert table.height == 5
    runs = pl.read_parquet(tmp_path / "compare_runs.parquet")
    assert runs.height == 10 and set(runs["seed"].to_list()) == {7, 8}
    assert json.loads((tmp_path / "compare.json").read_text()) == out
    assert (tmp_path / "compare.png").read_bytes()[:4] == b"\x89PNG"


def test_best_fixed_ratio_closes_the_bracket_one_step_apart():
    scn = load(SCN, {"scenario.sim_hours": 0.2})
    search = best_ratio(scn, "ratio", scn.seed, 2, step=0.1)
    best = search.best
    assert best is not None and best.meets_limit and 1.0 <= best.ratio <= 3.0
    failing = [r.ratio for r in search.steps if not r.meets_limit]
    assert failing and min(failing) == pytest.approx(best.ratio + 0.1)
    # bisection, not a scan: 2 end points + log2(20 steps) probes
    assert len(search.steps) <= 2 + 5
    assert all(r.meets_limit == (r.ratio <= best.ratio) for r in search.steps)


def test_policies_share_the_same_traffic():
    scn = load(SCN, {"scenario.sim_hours": 0.1})
    a, b = evaluate(scn, ["progressive", "progressive:1"], 5, 1)
    assert a.kpis == b.kpis and a.runs[0]["seed"] == 5


def test_the_limit_follows_the_regulatory_mode():
    scn = load(SCN, {"scenario.sim_hours": 0.1, "regulation.mode": "ofcom"})
    assert limit_kpi(scn) == "abandon_rate_ofcom"
    (r,) = evaluate(scn, ["progressive"], 7, 2)
    assert r.limit_bound == r.ci95["abandon_rate_ofcom"][1]
    assert r.meets_limit == (r.limit_bound <= 0.03)


def test_unknown_policy_is_a_clear_error():
    res = cli("compare", SCN, "--policies", "magic")
    assert res.exit_code == 2 and "--policies" in res.stderr and "magic" in res.stderr
    res = cli("compare", SCN, "--workers", "2", "--dask-local", "2")
    assert res.exit_code == 2 and "choose one executor" in res.stderr


def test_the_ratio_search_widens_its_bracket_until_the_limit_is_crossed(monkeypatch):
    """The top of the bracket doubles while it still meets the limit (3 -> 6 -> 12 here),
    then bisection closes on the highest meeting ratio (7.3 in this fake world)."""
    from sim.plan import compare as cmp

    def fake(scn, names, seed, reps, *a, **k):
        out = []
        for name in names:
            r = float(name.split(":")[1])
            out.append(cmp.PolicyResult(name, {"occupancy": r / 10, "abandon_rate": 0.0,
                                               "abandon_rate_ofcom": 0.0}, {},
                                        SimpleNamespace(met=r <= 7.3), r))
        return out

    monkeypatch.setattr(cmp, "evaluate", fake)
    scn = load(SCN, {"scenario.sim_hours": 0.1})
    search = cmp.best_ratio(scn, "progressive", 7, 3, hi=3.0, step=0.1)
    assert search.best.ratio == pytest.approx(7.3) and search.hi == 12.0
    assert [r.ratio for r in search.steps][:4] == [1.0, 3.0, 6.0, 12.0]
    assert len(search.steps) <= 4 + 7  # bisection over 60 steps after the widening
    top = cmp.best_ratio(scn, "progressive", 7, 3, hi=3.0, step=0.1, widen_to=6.0)
    assert top.best.ratio == 6.0 and "may be higher" in top.note


def test_a_tapered_row_that_cannot_taper_carries_a_note():
    args = ["compare", str(SCN), "--policies", "vicidial-tapered,progressive", "-r", "2",
            "--hours", "0.05", "--no-search", "--no-cache"]
    assert "never tapers" in cli_json(*args)["notes"]["vicidial-tapered"]
    assert cli_json(*args, "--set", "campaigns.sales.vicidial_start_hhmm=1130")["notes"] == {}


def test_ratio_search_note_tells_too_few_answers_from_a_breach():
    """No ratio meets: at the bottom ratio the mean under the limit with a wide interval is
    'not shown to meet' (more replications decide), a mean over it 'breaks it'."""
    from types import SimpleNamespace

    from sim.plan.compare import RatioSearch
    from sim.plan.stats import judge

    def search(mean, ci):
        v = judge("abandon_rate", "<=", 0.03, mean, ci, 3)
        return RatioSearch("progressive", None, [SimpleNamespace(ratio=1.0, verdict=v)],
                           1.0, 3.0, 0.01)

    quiet = search(0.0, [0.0, 0.0418]).note
    assert "is shown to meet" in quiet and "0.00 % on average" in quiet
    assert "4.18 %" in quiet and "3 replication(s)" in quiet and "breaks" not in quiet
    loud = search(0.05, [0.04, 0.06]).note
    assert loud == ("no progressive ratio meets the limit: even 1 breaks it (5.00 %, upper "
                    "bound 6.00 %)")


def test_the_regulatory_window_reads_as_a_reader_writes_it():
    """Ofcom's 24 h window was printed '1 days' in the compare table's caption."""
    from outdial.cli.compare import _span

    assert [_span(s) for s in (30 * 86_400, 86_400, 3600, 90)] == [
        "30 days", "24 h", "1 h", "90 s"]

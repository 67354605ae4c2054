"""``outdial simulate`` and ``outdial validate`` end to end, through click, on short runs."""

import json
from pathlib import Path

import polars as pl
import pytest

from tests.cli_helpers import ROOT, SCENARIOS, cli, cli_json

SCN = str(Path(__file__).resolve().parent.parent / "scenarios" / "single-50-predictive.toml")
SHORT = ["--hours", "0.1", "--warmup-s", "120"]
KPIS = {"attempts", "bhcc", "attempts_by_channel", "live_answers", "abandons", "abandon_rate",
        "abandon_rate_ofcom", "occupancy", "agent_wait_mean_s", "service_level", "ports_peak",
        "ports_mean"}


def test_simulate_json_has_the_documented_shape():
    out = cli_json("simulate", SCN, *SHORT, "--seed", "3", "--replications", "2")
    assert {"scenario", "seed", "replications", "sim_hours", "wall_s", "total", "campaigns",
            "ci95"} <= set(out)
    assert out["replications"] == 2 and out["seed"] == 3 and out["sim_hours"] == 0.1
    assert KPIS <= set(out["total"])
    assert set(out["total"]["attempts_by_channel"]) == {"voice_agent", "voice_agentless", "sms",
                                                         "email"}
    camp = out["campaigns"][0]
    assert camp["name"] == "sales" and camp["pacing"] == "predictive"
    assert KPIS <= set(camp)
    for key in ("abandon_rate", "occupancy", "service_level"):
        assert 0.0 <= out["total"][key] <= 1.0
    lo, hi = out["ci95"]["occupancy"]
    assert lo <= out["total"]["occupancy"] <= hi


def test_same_seed_same_result_and_policy_override():
    a = cli_json("simulate", SCN, *SHORT, "--seed", "5")
    b = cli_json("simulate", SCN, *SHORT, "--seed", "5")
    assert a["total"] == b["total"]
    c = cli_json("simulate", SCN, *SHORT, "--seed", "5", "--policy", "progressive")
    assert c["campaigns"][0]["pacing"] == "progressive"
    assert c["total"]["abandons"] == 0 or c["total"]["abandons"] < a["total"]["abandons"]


def test_simulate_writes_tables_kpis_and_plots(tmp_path):
    res = cli("simulate", SCN, *SHORT, "--out", str(tmp_path), "--plots")
    assert res.exit_code == 0, res.output
    att = pl.read_parquet(tmp_path / "attempts.parquet")
    iv = pl.read_parquet(tmp_path / "intervals.parquet")
    kpis = json.loads((tmp_path / "kpis.json").read_text())
    assert att.height > 100 and {"campaign", "code", "t_end_s", "replication"} <= set(att.columns)
    assert {"interval", "campaign", "attempts", "abandons", "dial_level"} <= set(iv.columns)
    assert kpis["total"]["attempts"] >= 1
    # the tables describe the KPIs' window: no warm-up row, names not integers, no -1
    assert not att["in_warmup"].any() and not iv["in_warmup"].any()
    reps = kpis["replications"]
    done = att.filter(~pl.col("code").cast(pl.String).is_in(["PENDING", "BLOCKED"]))
    assert done.height == round(kpis["total"]["attempts"] * reps)
    assert set(att["channel"].cast(pl.String)) == {"voice_agent"}
    times = [c for c in att.columns if c.startswith("t_")]
    assert all(c.endswith("_s") for c in times)
    assert all(att[c].drop_nulls().min() >= 0 for c in times)
    assert iv["t_start_s"].min() >= 120.0  # SHORT's warm-up
    for name in ("abandon_rate.png", "occupancy.png", "ports.png", "dial_level.png",
                 "attempts.png"):
        png = tmp_path / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_keep_warmup_keeps_the_rows_flagged(tmp_path):
    res = cli("simulate", SCN, *SHORT, "--out", str(tmp_path), "--keep-warmup")
    assert res.exit_code == 0, res.output
    att = pl.read_parquet(tmp_path / "attempts.parquet")
    early = att.filter(pl.col("in_warmup"))
    assert early.height > 0 and early["t_end_s"].max() < att.filter(
        ~pl.col("in_warmup"))["t_end_s"].min()


def test_simulate_user_errors_are_one_clear_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[scenario]\nname = "x"\n[telephony]\nports = -1\n'
                   '[[campaigns]]\nname = "c"\nchannel = "fax"\n')
    res = cli("simulate", str(bad))
    assert res.exit_code == 2
    assert "telephony.ports: expected a value >= 1 ports, got -1" in res.stderr
    assert "campaigns.c.channel: expected one of" in res.stderr
    assert "Traceback" not in res.output + res.stderr
    res = cli("simulate", SCN, "--policy", "magic")
    assert res.exit_code == 2 and "--policy" in res.stderr


@pytest.mark.parametrize("name", ["pom-60k-bhcc.toml", "notifications-2200-ports.toml"])
def test_validate_accepts_shipped_scenarios(name):
    path = str(Path(SCN).parent / name)
    assert cli_json("validate", path)["valid"] is True


def test_validate_lists_every_problem(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[scenario]\nname = "x"\ntick = 1\n[telephony]\nports = 5\n'
                   '[[campaigns]]\nname = "c"\nskill = "s"\n')
    res = cli("validate", str(bad), "--json")
    assert res.exit_code == 2
    probs = json.loads(res.stdout)["problems"]
    assert any("scenario.tick: unknown key (did you mean 'tick_s'?)" in p for p in probs)
    assert any("campaigns.c.skill: no agent group has skill 's'" in p for p in probs)


def test_simulate_runs_through_the_shared_executors_cache_and_set(tmp_path):
    from sim.plan.cache import ResultCache

    cache = tmp_path / "cache"
    args = ["simulate", SCN, "--hours", "0.05", "--warmup-s", "60", "--seed", "4", "-r", "2"]
    a = cli_json(*args, "--cache", cache)
    assert len(ResultCache(cache)) == 2  # one record per replication
    assert cli_json(*args, "--cache", cache)["total"] == a["total"]
    assert len(ResultCache(cache)) == 2  # read back, not run again
    pooled = cli_json(*args, "--workers", "2", "--no-cache")
    assert pooled["total"] == a["total"] and pooled["ci95"] == a["ci95"]
    low = cli_json(*args, "--no-cache", "--set", "campaigns.outcomes.live=0.1")
    def hit(out):
        return out["total"]["live_answers"] / out["total"]["attempts_voice_agent"]

    assert hit(low) < 0.2 < hit(a)
    res = cli(*args, "--set", "scenario.nonsense")
    assert res.exit_code == 2 and "--set 'scenario.nonsense': expected KEY=VALUE" in res.stderr


def test_the_campaign_table_shows_the_abandon_rate_the_regulation_counts(tmp_path):
    """Under Ofcom the campaign table's abandon column is the Ofcom rate (AMD false positives
    counted): it showed the FCC rate, 0.6 % beside a warning of the same campaign at 4 %."""
    text = (ROOT / "scenarios" / "single-50-predictive.toml").read_text()
    p = tmp_path / "ofcom.toml"
    p.write_text(text.replace('mode = "fcc"', 'mode = "ofcom"'))
    j = cli_json("simulate", p, "--hours", "0.25", "--no-cache")
    c = j["campaigns"][0]
    assert c["amd_false_positives"] > 0 and c["abandon_rate_ofcom"] > c["abandon_rate"]
    out = cli("simulate", p, "--hours", "0.25", "--no-cache", env={"COLUMNS": "250"}).stdout
    row = next(line for line in out.splitlines() if line.lstrip("│ ").startswith("sales"))
    assert "abandon (ofcom)" in out.lower()
    assert f"{100 * c['abandon_rate_ofcom']:.2f} %" in row, row


def test_the_pacer_s_warnings_name_the_campaign():
    """The pacer names a campaign by its row ('campaign 0: abandon limit ... is used up');
    a run's warnings and warning objects name it as the scenario does."""
    j = cli_json("simulate", SCENARIOS / "pacing-amd80-50.toml", "--hours", "0.25",
                 "--no-cache")
    texts = [w for w in j["warnings"] if isinstance(w, str)]
    objs = [w for w in j["warnings"] if isinstance(w, dict)]
    assert any(w.startswith("campaign sales: abandon limit") for w in texts), texts
    assert not any(w.startswith("campaign 0:") for w in texts), texts
    assert objs and all(o["message"].startswith("campaign sales:") for o in objs), objs


def test_simulate_out_with_inbound_skills_caches_and_writes_the_inbound_tables(tmp_path):
    """`simulate --out` on a scenario with [[inbound]] skills crashed storing its run in
    the cache (the inbound tables are DataFrames, which the cache wrote into the record's
    JSON: 'Object of type DataFrame is not JSON serializable'). The run is stored, read
    back with its inbound tables by the next command, and both write the same files."""
    scn = str(SCENARIOS / "blended-centre.toml")
    args = ("simulate", scn, "--hours", "0.02", "--warmup-s", "30", "-r", "1", "--json")
    for k in range(2):
        out = tmp_path / f"out{k}"
        res = cli(*args, "--out", str(out), "--cache", str(tmp_path / "cache"))
        assert res.exit_code == 0, res.output
        calls = pl.read_parquet(out / "inbound_calls.parquet")
        offered = sum(s["offered"] for s in json.loads(res.stdout)["inbound"].values())
        assert calls.height == offered > 0
    assert "reused from the cache" in res.stderr
    for name in ("attempts", "intervals", "inbound_calls", "inbound_intervals"):
        a, b = (pl.read_parquet(tmp_path / f"out{k}" / f"{name}.parquet") for k in (0, 1))
        assert a.equals(b), name

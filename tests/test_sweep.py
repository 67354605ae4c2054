"""``outdial sweep``: grid parsing, key checks, outcome rebalancing, one row per point,
tidy Parquet tables, curves, and errors naming the key."""

from pathlib import Path

import polars as pl
import pytest

from sim.plan.stats import KPI_KEYS
from sim.plan.sweep import check_key, parse_vary
from sim.scenario import load
from tests.cli_helpers import cli, cli_json

SCN = str(Path(__file__).resolve().parent.parent / "scenarios" / "single-50-predictive.toml")


def test_parse_vary():
    assert parse_vary("agents.count=40:60:10").values == (40, 50, 60)
    assert parse_vary("campaigns.outcomes.live=0.2:0.4:0.1").values == pytest.approx(
        (0.2, 0.3, 0.4))
    assert parse_vary("telephony.ports=5,10").values == (5, 10)
    for bad in ("agents.count", "agents.count=1:0:1", "x=a:b:c", "x=1:2:0"):
        with pytest.raises(ValueError, match="--vary"):
            parse_vary(bad)


def test_check_key_accepts_generic_and_named_paths_and_lists_the_valid_ones():
    raw = load(SCN).raw
    for ok in ("agents.count", "agents.team.count", "campaigns.outcomes.live",
               "campaigns.sales.talk.mean_s", "telephony.ports"):
        check_key(ok, raw)
    with pytest.raises(ValueError) as err:
        check_key("hit_rate", raw)
    msg = str(err.value)
    assert "did you mean campaigns.outcomes.live or campaigns.initial_hit_rate" in msg
    assert "telephony.ports" in msg and "agents.count" in msg and "NAME in sales" in msg
    for bad in ("campaigns.pacing", "campaigns.amd.enabled", "scenario.seed", "ports"):
        with pytest.raises(ValueError, match="not a numeric scenario key"):
            check_key(bad, raw)


def test_setting_an_outcome_share_rescales_the_others():
    base = load(SCN).campaigns[0].outcomes
    o = load(SCN, {"campaigns.outcomes.live": 0.2}).campaigns[0].outcomes
    assert o.live == 0.2
    rest = ("machine", "busy", "no_answer", "invalid")
    assert sum(getattr(o, k) for k in rest) == pytest.approx(0.8)
    scale = 0.8 / (1 - base.live)
    for k in rest:
        assert getattr(o, k) == pytest.approx(getattr(base, k) * scale)
    o = load(SCN, {"campaigns.sales.outcomes.live": 0.3,
                        "campaigns.outcomes.machine": 0.3}).campaigns[0].outcomes
    assert (o.live, o.machine) == (0.3, 0.3)
    assert o.busy + o.no_answer + o.invalid == pytest.approx(0.4)


def test_sweep_rows_tables_plots(tmp_path):
    out = cli_json("sweep", SCN, "--vary", "agents.count=30,60", "--vary",
                   "campaigns.outcomes.live=0.25,0.35", "--hours", "0.1", "-r", "2", "--out",
                   tmp_path, "--plots")
    assert out["axes"] == {"agents.count": [30, 60], "campaigns.outcomes.live": [0.25, 0.35]}
    rows = out["points"]
    assert [(r["agents.count"], r["campaigns.outcomes.live"]) for r in rows] == [
        (30, 0.25), (30, 0.35), (60, 0.25), (60, 0.35)]
    for r in rows:
        assert set(KPI_KEYS) <= set(r) and r["replications"] == 2
        assert r["occupancy_lo"] <= r["occupancy"] <= r["occupancy_hi"]
    table = pl.read_parquet(tmp_path / "sweep.parquet")
    assert table.height == 4
    runs = pl.read_parquet(tmp_path / "sweep_runs.parquet")
    assert runs.height == 8 and runs["seed"].to_list() == [7, 8] * 4
    mean = runs.filter(pl.col("agents.count") == 60, pl.col("campaigns.outcomes.live") == 0.25)
    assert mean["attempts"].mean() == pytest.approx(rows[2]["attempts"])
    for name in ("sweep_agents_count.png", "sweep_campaigns_outcomes_live.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    # twice the agents on the same traffic model dial more; a higher hit rate needs fewer dials
    assert rows[2]["attempts"] > rows[0]["attempts"]
    assert rows[3]["attempts"] < rows[2]["attempts"]
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 8


def test_sweep_errors_name_the_key():
    res = cli("sweep", SCN, "--vary", "telephony.ports=0,5")
    assert res.exit_code == 2
    assert "telephony.ports=0" in res.stderr and "expected a value >= 1" in res.stderr
    res = cli("sweep", SCN, "--vary", "agents.hit_rate=0.1,0.2")
    assert res.exit_code == 2 and "agents.hit_rate: not a numeric scenario key" in res.stderr
    res = cli("sweep", SCN, "--vary", "agents.count=1,2", "--set", "nonsense")
    assert res.exit_code == 2 and "--set 'nonsense': expected KEY=VALUE" in res.stderr


def test_short_names_vary_their_key(tmp_path):
    out = cli_json("sweep", SCN, "--vary", "agents=30,40", "--vary", "hit_rate=0.25,0.35",
                   "--hours", "0.05", "-r", "1", "--set", "regulation.abandon_limit=0.05",
                   "--out", tmp_path)
    assert out["axes"] == {"agents.count": [30, 40], "campaigns.outcomes.live": [0.25, 0.35]}
    assert [(r["agents.count"], r["campaigns.outcomes.live"]) for r in out["points"]] == [
        (30, 0.25), (30, 0.35), (40, 0.25), (40, 0.35)]
    assert pl.read_parquet(tmp_path / "sweep.parquet").columns[:2] == [
        "agents.count", "campaigns.outcomes.live"]
    res = cli("sweep", SCN, "--vary", "agents=30", "--vary", "agents.count=40")
    assert res.exit_code == 2 and "a key is varied twice" in res.stderr


def test_runs_are_kept_in_the_default_cache_and_reused(tmp_path):
    env = {"OUTDIAL_CACHE_DIR": str(tmp_path / "runs")}
    args = ["sweep", SCN, "--vary", "agents=30", "--hours", "0.05", "-r", "2", "--json"]
    first = cli(*args, env=env)
    assert first.exit_code == 0, first.output
    assert len(list((tmp_path / "runs").rglob("*.json"))) == 2
    again = cli(*args, env=env)
    assert again.exit_code == 0 and again.stdout == first.stdout
    assert "2 of 2 run(s) reused from the cache" in again.stderr
    cli(*args, "--no-cache", env={"OUTDIAL_CACHE_DIR": str(tmp_path / "unused")})
    assert not (tmp_path / "unused").exists()
    blocker = tmp_path / "file"
    blocker.write_text("")
    res = cli(*args, "--cache", blocker / "sub")
    assert res.exit_code == 2 and f"--cache: cannot keep finished runs in {blocker}" in res.stderr
    res = cli(*args, env={"OUTDIAL_CACHE_DIR": str(blocker / "sub")})
    assert res.exit_code == 0 and "running without a cache" in res.stderr


def test_the_sweep_table_says_undecided_for_an_undecided_target(tmp_path):
    """A point whose target the interval cannot decide reads 'undecided' in the table (it
    read '-', the mark of a scenario without targets), as compare's table says."""
    p = tmp_path / "tiny.toml"
    p.write_text('[scenario]\nname = "tiny"\nsim_hours = 0.5\nwarmup_s = 60.0\nseed = 2\n'
                 '[telephony]\nports = 20\n[[agents]]\ngroup = "t"\ncount = 2\n'
                 'skills = ["s"]\n[[campaigns]]\nname = "s"\nskill = "s"\n'
                 '[targets]\nmax_abandon_rate = 0.03\n')
    point = cli_json("sweep", p, "--vary", "agents=2", "-r", "2", "--no-cache")["points"][0]
    assert point["targets_met"] is None and point["targets_verdict"].startswith("UNDECIDED")
    table = cli("sweep", p, "--vary", "agents=2", "-r", "2", "--no-cache",
                env={"COLUMNS": "250"}).stdout
    row = next(line for line in table.splitlines() if line.lstrip("│ ").startswith("2 "))
    assert row.rstrip(" │").endswith("undecided"), row


def test_a_sweep_of_an_inbound_desk_shows_no_outbound_rates(tmp_path):
    """An inbound-only centre has no agent-based live answer: its abandon and service-level
    cells read '-', not '0.00 [0.00, 100.00] %' (the interval of no evidence at all)."""
    scn = tmp_path / "desk.toml"
    scn.write_text("""
[scenario]
name = "desk"
sim_hours = 0.1
warmup_s = 0.0
seed = 5
[telephony]
ports = 50
[[agents]]
group = "desk"
count = 6
skills = ["help"]
direction = "inbound"
[[inbound]]
skill = "help"
calls_per_hour = 60
talk = { dist = "exponential", mean_s = 120 }
[[campaigns]]
name = "tick"
channel = "email"
attempts_per_hour = 10
""")
    r = cli("sweep", scn, "--vary", "agents.desk.count=5:6:1", "-r", "2", "--no-cache",
            env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.stderr
    rows = [[c.strip() for c in ln.split("│")[1:-1]] for ln in r.stdout.splitlines()
            if ln.strip().startswith(("│ 5 ", "│ 6 "))]
    assert len(rows) == 2, r.stdout
    for cells in rows:  # count | occupancy | abandon FCC | abandon Ofcom | wait | SL | BHCC
        assert cells[2] == cells[3] == cells[5] == "-", cells
        assert "[" in cells[1]  # the desk's occupancy is measured


def test_a_rate_shows_its_own_interval_bounds_not_a_half_width(tmp_path):
    """A pooled abandon rate's interval is asymmetric (Wilson's, clipped to [0, 1]): the
    row printed '65.93 ± 50.00 %' for 65.93 % in [0, 100 %], a bound of 115.93 % to the
    eye. Each cell now shows the bounds the JSON holds."""
    out = cli_json("sweep", SCN, "--vary", "agents=30", "--hours", "0.05", "-r", "2",
                   "--set", "campaigns.pacing=\"ratio:2.5\"", "--no-cache")
    (p,) = out["points"]
    r = cli("sweep", SCN, "--vary", "agents=30", "--hours", "0.05", "-r", "2",
            "--set", "campaigns.pacing=\"ratio:2.5\"", "--no-cache", env={"COLUMNS": "250"})
    (row,) = [ln for ln in r.stdout.splitlines() if ln.startswith("│ 30 ")]
    cells = [c.strip() for c in row.strip("│").split("│")]
    want = (f"{100 * p['abandon_rate']:,.2f} [{100 * p['abandon_rate_lo']:,.2f}, "
            f"{100 * p['abandon_rate_hi']:,.2f}] %")
    assert cells[2] == want, (cells, want)
    assert p["abandon_rate_hi"] - p["abandon_rate"] != p["abandon_rate"] - p["abandon_rate_lo"]

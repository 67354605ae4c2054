"""``outdial sweep``: grid parsing, one row per point, curves, and errors naming the key."""

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from outdial.cli import outdial
from sim.sweep import parse_vary

SCN = str(Path(__file__).resolve().parent.parent / "scenarios" / "single-50-predictive.toml")


def test_parse_vary():
    assert parse_vary("agents.count=40:60:10").values == (40, 50, 60)
    assert parse_vary("campaigns.outcomes.live=0.2:0.4:0.1").values == pytest.approx(
        (0.2, 0.3, 0.4))
    assert parse_vary("telephony.ports=5,10").values == (5, 10)
    for bad in ("agents.count", "agents.count=1:0:1", "x=a:b:c", "x=1:2:0"):
        with pytest.raises(ValueError, match="--vary"):
            parse_vary(bad)


def test_sweep_rows_plots_and_monotone_occupancy(tmp_path):
    res = CliRunner().invoke(outdial, ["sweep", SCN, "--vary", "agents.count=30,60",
                                       "--hours", "0.25", "-r", "2", "--out", str(tmp_path),
                                       "--plots", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [r["agents.count"] for r in rows] == [30, 60]
    assert all(r["occupancy_lo"] <= r["occupancy"] <= r["occupancy_hi"] for r in rows)
    table = pl.read_parquet(tmp_path / "sweep.parquet")
    assert table.height == 2
    assert (tmp_path / "sweep_agents_count.png").read_bytes()[:4] == b"\x89PNG"
    # same traffic offered by the campaign's pacing to twice the agents: more attempts
    assert rows[1]["attempts"] > rows[0]["attempts"]


def test_sweep_errors_name_the_key():
    res = CliRunner().invoke(outdial, ["sweep", SCN, "--vary", "telephony.ports=0,5"])
    assert res.exit_code == 2
    assert "telephony.ports" in res.stderr and "expected a value >= 1" in res.stderr
    res = CliRunner().invoke(outdial, ["sweep", SCN, "--vary", "agents.hit_rate=0.1,0.2"])
    assert res.exit_code == 2 and "hit_rate: unknown key" in res.stderr

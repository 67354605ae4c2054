"""The Parquet-facing attempt and interval tables: names, nulls, ``_s`` and the warm-up flag."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from engine import kpi
from engine.attempt import CHANNEL_NAMES, Code
from sim.plan.tables import attempts_table, clock_label, intervals_table
from sim.run import simulate
from sim.scenario import load
from tests.cli_helpers import cli_json

SCN = Path(__file__).resolve().parent.parent / "scenarios" / "single-50-predictive.toml"
WARMUP = 120.0


@pytest.fixture(scope="module")
def run():
    scn = load(SCN, {"scenario.sim_hours": 0.1, "scenario.warmup_s": WARMUP})
    return scn, simulate(scn, 5)


def test_attempts_use_names_nulls_and_seconds(run):
    scn, r = run
    raw = r.attempts
    out = attempts_table(raw, scn, keep_warmup=True)
    assert out.height == raw.height
    assert out.schema["channel"] == pl.Enum(list(CHANNEL_NAMES))
    assert list(out.schema["code"].categories) == [c.name for c in Code]  # the events' names
    assert set(out["pacing"].cast(pl.String)) == {"predictive"}
    # every time column ends in _s; -1 became null, nothing else changed
    times = [c for c in out.columns if c.startswith("t_")]
    assert times and all(c.endswith("_s") for c in times)
    for t in ("t_answer", "t_connect", "t_end"):
        missing = (raw[t] < 0).to_list()
        assert out[f"{t}_s"].is_null().to_list() == missing
        kept = raw.filter(pl.col(t) >= 0)[t].to_list()
        assert out[f"{t}_s"].drop_nulls().to_list() == kept
    assert out["agent"].is_null().to_list() == (raw["agent"] < 0).to_list()
    assert out["code"].cast(pl.String).to_list() == [Code(c).name for c in raw["code"]]


def test_warmup_rows_are_flagged_and_dropped_by_default(run):
    scn, r = run
    raw = r.attempts
    flagged = attempts_table(raw, scn, keep_warmup=True)
    expect = [(0 <= t < WARMUP) for t in raw["t_end"].to_list()]
    assert flagged["in_warmup"].to_list() == expect
    default = attempts_table(raw, scn)
    assert default.height == raw.height - sum(expect) and not default["in_warmup"].any()
    # the rows left are the KPI's attempts plus those still in flight at the end
    measured = kpi.in_window(raw, WARMUP, WARMUP + scn.sim_s).height
    assert default.height == measured + int((raw["t_end"] < 0).sum())


def test_intervals_on_the_scenario_clock(run):
    scn, r = run
    out = intervals_table(r.intervals, scn)
    assert out["t_start_s"].min() == WARMUP and not out["in_warmup"].any()
    assert (out["t_end_s"] - out["t_start_s"]).unique().to_list() == [scn.interval_s]
    first = out.row(0, named=True)
    assert first["time"] == scn.start + timedelta(seconds=first["t_start_s"])
    assert set(out["channel"].cast(pl.String)) == {"voice_agent"}
    everything = intervals_table(r.intervals, scn, keep_warmup=True)
    assert everything.height == r.intervals.height
    assert everything.filter(pl.col("in_warmup"))["t_start_s"].max() < WARMUP
    assert clock_label(scn, 0.0) == scn.start.strftime("%H:%M")
    assert clock_label(scn, 3600.0) == (scn.start + timedelta(hours=1)).strftime("%H:%M")


def test_intervals_tile_a_window_that_is_not_whole_intervals():
    # 360 s measured after 13 s in rows of 7 s: the last row ended at 377 s, past the run
    scn = load(SCN, {"scenario.sim_hours": 0.1, "scenario.warmup_s": 13.0,
                     "scenario.interval_s": 7.0})
    out = intervals_table(simulate(scn, 5).intervals, scn).sort("t_start_s")
    assert out["t_start_s"].min() == 13.0 and out["t_end_s"].max() == scn.end_s
    assert (out["t_start_s"].shift(-1).drop_nulls() == out["t_end_s"].head(-1)).all()
    assert (out["t_end_s"] - out["t_start_s"]).sum() == pytest.approx(scn.sim_s)


DOCS = Path(__file__).resolve().parent.parent / "docs"


def _documented(path: Path) -> set[str]:
    return set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", path.read_text()))


def test_outputs_doc_names_every_column_kpi_and_platform_key(run):
    from sim.plan.platform import PlatformLoad, size_platform
    from sim.plan.stats import KPI_KEYS

    scn, r = run
    doc = _documented(DOCS / "outputs.md")
    att = attempts_table(r.attempts, scn).with_columns(pl.lit(0).alias("replication"))
    iv = intervals_table(r.intervals, scn).with_columns(pl.lit(0).alias("replication"))
    plat = size_platform(PlatformLoad(1, 1, 0, 1, 1, {"sms": 1.0})).as_dict()
    missing = {k for k in [*att.columns, *iv.columns, *KPI_KEYS, *plat] if k not in doc}
    assert not missing, f"docs/outputs.md does not document {sorted(missing)}"


# ------------------------------------------------- docs/outputs.md against a real short run

_TAG = re.compile(r"`([A-Za-z_][A-Za-z0-9_.]*)`")


def _doc_tables(path: Path) -> dict[str, set[str]]:
    """The names in the first column of each table, by the first backticked name of the
    heading above it (``## KPIs`` has none: ``KPIs``)."""
    out: dict[str, set[str]] = {}
    head = ""
    in_table = False
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            tags = re.findall(r"`([^`]+)`", line)
            head = tags[0] if tags else line.lstrip("# ").strip()
            in_table = False
        elif line.startswith("| key") or line.startswith("| column"):
            in_table = True
        elif in_table and line.startswith("|") and not line.startswith("|---"):
            first = line.strip("|").split("|")[0]
            out.setdefault(head, set()).update(_TAG.findall(first))
        elif not line.startswith("|"):
            in_table = False
    return out


SHORT = ("-r", "2", "--hours", "0.01", "--set", "scenario.warmup_s=30", "--no-cache")


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """``outdial simulate --json --out`` of a short blended run: inbound skills, targets,
    agent licenses, two replications."""
    out = tmp_path_factory.mktemp("simulate")
    return cli_json("simulate", SCN.parent / "blended-centre.toml", *SHORT, "--out", out), out


def test_outputs_doc_lists_every_json_key_of_simulate(cli_run):
    d, out = cli_run
    doc = _doc_tables(DOCS / "outputs.md")
    assert set(d) == doc["outdial simulate"]
    assert set(d["total"]) - {"attempts_by_channel"} == doc["KPIs"]
    assert set(d["ci95"]) <= doc["KPIs"]
    assert {k for c in d["campaigns"] for k in c} == doc["campaigns"]
    assert any("license_pool" in c for c in d["campaigns"])  # the agent-based keys were seen
    assert d["inbound"] and all(set(v) == doc["inbound"] for v in d["inbound"].values())
    assert all(set(v["ci95"]) <= doc["inbound"] for v in d["inbound"].values())
    assert d["targets"] and {k for t in d["targets"] for k in t} == doc["targets"]
    assert d["intervals"] and {k for r in d["intervals"] for k in r} == doc["intervals"]
    assert set(d["platform"]) == doc["platform"]
    resources = re.search(r"\| `resources` \|(.*)", (DOCS / "outputs.md").read_text())
    assert resources and set(d["resources"]) <= set(_TAG.findall(resources.group(1)))
    kpis = json.loads((out / "kpis.json").read_text())
    assert set(kpis) == set(d)


def test_outputs_doc_lists_every_parquet_column(cli_run):
    _, out = cli_run
    doc = _doc_tables(DOCS / "outputs.md")
    files = sorted(out.glob("*.parquet"))
    assert {f.name for f in files} >= {"attempts.parquet", "intervals.parquet",
                                       "inbound_calls.parquet", "inbound_intervals.parquet"}
    for f in files:
        assert f.name in doc, f"docs/outputs.md has no table for {f.name}"
        assert set(pl.read_parquet_schema(f)) == doc[f.name], f.name
        # one vocabulary: every time column carries its unit, as the attempts' t_end_s does
        times = [c for c in pl.read_parquet_schema(f) if c.startswith("t_")]
        assert all(c.endswith("_s") for c in times), (f.name, times)


def test_inbound_tables_leave_the_warm_up_out_like_the_others(cli_run):
    """warm-up 30 s, intervals of the scenario's width: no inbound interval starting and no
    inbound call decided before 30 s in the measured tables (the flag says so, all false)."""
    _, out = cli_run
    iv = pl.read_parquet(out / "inbound_intervals.parquet")
    calls = pl.read_parquet(out / "inbound_calls.parquet")
    att = pl.read_parquet(out / "intervals.parquet")
    assert iv.height and calls.height
    assert iv["t_start_s"].min() == att["t_start_s"].min() >= 30.0 - 1e-9
    assert calls["t_decided_s"].min() >= 30.0 and not calls["in_warmup"].any()
    assert not iv["in_warmup"].any()


def _cli_json(*args: str) -> dict:
    return cli_json(*args, SCN, *SHORT)


def _row_names(section: str, key: str) -> set[str]:
    """The backticked names in the row of ``key`` of the table under ``section``."""
    text = (DOCS / "outputs.md").read_text()
    part = text[text.index(section):]
    row = re.search(rf"^\| `{re.escape(key)}`[^\n]*", part, re.M)
    assert row, f"docs/outputs.md: no `{key}` row under {section}"
    return set(_TAG.findall(row.group(0)))


def test_outputs_doc_lists_the_json_keys_of_compare_sweep_and_size():
    from sim.plan.stats import KPI_KEYS

    doc = _doc_tables(DOCS / "outputs.md")
    c = _cli_json("compare", "--policies", "predictive,progressive", "--no-search")
    assert set(c) == doc["compare --json"]
    assert {k for p in c["policies"] for k in p} - {"skills"} <= _row_names(
        "### `compare --json`", "policies")
    assert {k for p in c["policies"] for k in p["verdict"]} <= _row_names(
        "### `compare --json`", "policies")
    w = _cli_json("sweep", "--vary", "agents=40")
    text = (DOCS / "outputs.md").read_text()
    para = text[text.index("### `sweep --json`"):text.index("### `size --json`")]
    named = set(_TAG.findall(para))
    assert set(w) <= named
    bounds = {f"{k}{b}" for k in KPI_KEYS for b in ("", "_lo", "_hi")}
    assert {k for p in w["points"] for k in p} - bounds - set(w["axes"]) <= named
    z = _cli_json("size", "--find", "agents", "--target", "occupancy>=0.5", "--min", "45",
                  "--max", "50")
    assert set(z) - {"groups"} <= doc["size --json"] and "groups" in doc["size --json"]
    assert {k for p in z["evaluated"] for k in p} <= _row_names("### `size --json`",
                                                                "evaluated")

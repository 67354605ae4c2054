"""compare --out's Parquet says what its JSON says: a policy met, missed or undecided."""

from __future__ import annotations

from types import SimpleNamespace

import polars as pl

from outdial.cli.compare import _write
from outdial.html_report import _compare_section
from sim.plan.stats import KPI_KEYS


def _row(met):
    kpis = dict.fromkeys(KPI_KEYS, 0.5)
    return SimpleNamespace(ratio=None, verdict=SimpleNamespace(met=met), assessment=None,
                           ci95={}, kpis=kpis, runs=[])


def test_an_undecided_policy_reads_null_in_the_parquet_and_undecided_in_the_report(tmp_path):
    rows = [("predictive", _row(None)), ("progressive:2", _row(True)), ("ratio:3", _row(False))]
    _write(tmp_path, {"policies": []}, rows)
    table = pl.read_parquet(tmp_path / "compare.parquet")
    assert table["meets_limit"].to_list() == [None, True, False]
    (table,) = _compare_section(tmp_path).tables
    col = table.columns.index("meets_limit")
    assert [r[col] for r in table.rows] == ["undecided", "yes", "no"]

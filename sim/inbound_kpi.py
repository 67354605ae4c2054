"""Inbound KPIs, each defined once, over the inbound call table of ``sim.inbound``.

A call counts in the window when its outcome was decided there (answered or abandoned,
``t_decided_s`` in ``[start_s, end_s)``), as attempts count by their end. With ``offered`` =
calls decided, ``answered``, ``abandoned`` = offered - answered, and a call's wait from
arrival to answer or hang-up:

- service level at T = calls answered within T / offered (abandons count as not answered,
  the Erlang A convention; with infinite patience it is Erlang C's P(wait <= T));
- abandon rate = abandoned / offered;
- ASA (average speed of answer) = mean wait of the answered calls, seconds;
- mean wait = mean wait of every call offered (abandoned ones until they hung up), seconds;
- inbound occupancy = inbound handling (talk + wrap) / inbound staffed time.

Zero denominators give 0 (service level: 1, nothing was missed).
"""

from __future__ import annotations

import polars as pl

COUNT_KEYS = ("offered", "answered", "abandoned", "answered_in_threshold", "wait_answered_s",
              "wait_all_s", "answered_by_lent")


def in_window(calls: pl.DataFrame, start_s: float, end_s: float) -> pl.DataFrame:
    """Calls decided in ``[start_s, end_s)``."""
    return calls.filter((pl.col("t_decided_s") >= start_s) & (pl.col("t_decided_s") < end_s))


def counts(calls: pl.DataFrame, threshold_s: float | pl.Expr) -> dict[str, float]:
    """The counts behind every inbound KPI (``COUNT_KEYS``); ``threshold_s`` is T (a
    number, or an expression giving each call's skill threshold)."""
    ans = pl.col("answered")
    row = calls.select(
        pl.len().alias("offered"),
        ans.sum().alias("answered"),
        (~ans).sum().alias("abandoned"),
        (ans & (pl.col("wait_s") <= threshold_s + 1e-9)).sum().alias("answered_in_threshold"),
        pl.when(ans).then(pl.col("wait_s")).otherwise(0.0).sum().alias("wait_answered_s"),
        pl.col("wait_s").sum().alias("wait_all_s"),
        (ans & pl.col("lent")).sum().alias("answered_by_lent"),
    ).row(0, named=True)
    return {k: float(row[k] or 0) for k in COUNT_KEYS}


def service_level(c: dict[str, float]) -> float:
    return c["answered_in_threshold"] / c["offered"] if c["offered"] > 0 else 1.0


def abandon_rate(c: dict[str, float]) -> float:
    return c["abandoned"] / c["offered"] if c["offered"] > 0 else 0.0


def asa_s(c: dict[str, float]) -> float:
    return c["wait_answered_s"] / c["answered"] if c["answered"] > 0 else 0.0


def mean_wait_s(c: dict[str, float]) -> float:
    return c["wait_all_s"] / c["offered"] if c["offered"] > 0 else 0.0


def occupancy(handling_s: float, staffed_s: float) -> float:
    return handling_s / staffed_s if staffed_s > 0 else 0.0


def block(c: dict[str, float], window_s: float) -> dict[str, float]:
    """The KPIs of one group of calls from its counts (per skill or in total)."""
    return {
        **c,
        "calls_per_hour": c["offered"] * 3600.0 / window_s if window_s > 0 else 0.0,
        "service_level": service_level(c),
        "abandon_rate": abandon_rate(c),
        "asa_s": asa_s(c),
        "mean_wait_s": mean_wait_s(c),
    }

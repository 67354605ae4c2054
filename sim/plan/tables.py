"""The attempt and interval tables as written to Parquet: names, not integers; nulls, not -1.

A run keeps its attempts in the engine's compact form (channel and completion code as
integers, ``-1`` for a time that did not happen, seconds without a suffix). At the edge, on
the way to a file, this module turns them into the documented schema (``docs/outputs.md``):

- ``channel``, ``code`` and ``pacing`` are polars Enums whose categories are the names the
  engine's events use (``voice_agent``, ``LIVE_CONNECTED``, ``predictive``);
- every time is in seconds on the run clock with a ``_s`` suffix, null when it did not
  happen (``t_answer_s`` of an unanswered call); ``agent`` is null when no agent took it;
- ``in_warmup`` flags the rows before the measured window (``t_end_s < warmup_s`` for
  attempts, ``t_start_s < warmup_s`` for intervals); by default those rows are dropped, so a
  table and the KPIs describe the same window;
- intervals gain ``t_end_s`` (the last cut at the run's end) and ``time`` (the interval's
  start as a UTC date-time on the scenario's clock).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl

from engine.vocab import CHANNEL_NAMES, Code

CHANNEL = pl.Enum(list(CHANNEL_NAMES))
CODE = pl.Enum([c.name for c in Code])
_TIMES = ("t_created", "t_answer", "t_connect", "t_talk_end", "t_end")


def pacing_enum(scenario: Any) -> pl.Enum:
    """The pacing names of a scenario's campaigns as one Enum (sorted, stable)."""
    return pl.Enum(sorted({c.pacing for c in scenario.campaigns}))


def attempts_table(attempts: pl.DataFrame, scenario: Any,
                   keep_warmup: bool = False) -> pl.DataFrame:
    """The attempts of one run in the output schema (module docstring).

    Args:
        attempts: the run's attempts as the engine's store keeps them.
        scenario: the ``sim.scenario.Scenario`` run (campaign pacings, warm-up).
        keep_warmup: keep the rows completed during the warm-up (flagged ``in_warmup``).
    """
    warmup = float(scenario.warmup_s)
    pacing = {c.name: c.pacing for c in scenario.campaigns}
    times = [pl.when(pl.col(t) >= 0).then(pl.col(t)).otherwise(None).cast(pl.Float64)
             .alias(f"{t}_s") for t in _TIMES if t in attempts.columns]
    out = attempts.with_columns(
        pl.col("channel").replace_strict(list(range(len(CHANNEL_NAMES))), list(CHANNEL_NAMES),
                                         return_dtype=CHANNEL),
        pl.col("code").replace_strict([int(c) for c in Code], [c.name for c in Code],
                                      return_dtype=CODE),
        pl.col("campaign").replace_strict(pacing, default=None,
                                          return_dtype=pacing_enum(scenario)).alias("pacing"),
        pl.when(pl.col("agent") >= 0).then(pl.col("agent")).otherwise(None).alias("agent"),
        *times,
    ).drop([t for t in _TIMES if t in attempts.columns] + ["job_name"], strict=False)
    end = pl.col("t_end_s")
    out = out.with_columns((end.is_not_null() & (end < warmup)).alias("in_warmup"))
    if not keep_warmup:
        out = out.filter(~pl.col("in_warmup"))
    first = ["attempt_id", "campaign", "job", "channel", "pacing", "code"]
    return out.select([c for c in first if c in out.columns]
                      + [c for c in out.columns if c not in first])


def intervals_table(intervals: pl.DataFrame, scenario: Any,
                    keep_warmup: bool = False) -> pl.DataFrame:
    """The interval rows of one run in the output schema (module docstring)."""
    warmup = float(scenario.warmup_s)
    width = float(scenario.interval_s)
    channel = {c.name: c.channel for c in scenario.campaigns}
    pacing = {c.name: c.pacing for c in scenario.campaigns}
    start = scenario.start
    out = intervals.with_columns(
        # the last interval is cut at the run's end (a run of 360 s in intervals of 7 s)
        pl.min_horizontal(float(scenario.interval_origin_s) + (pl.col("interval") + 1)
                          * width, pl.lit(float(scenario.end_s))).alias("t_end_s"),
        pl.col("campaign").replace_strict(channel, default=None,
                                          return_dtype=CHANNEL).alias("channel"),
        pl.col("campaign").replace_strict(pacing, default=None,
                                          return_dtype=pacing_enum(scenario)).alias("pacing"),
        (pl.lit(start).dt.replace_time_zone(None).cast(pl.Datetime("us"))
         + pl.duration(microseconds=(pl.col("t_start_s") * 1e6).cast(pl.Int64)))
        .dt.replace_time_zone("UTC").alias("time"),
        (pl.col("t_start_s") < warmup - 1e-9).alias("in_warmup"),
    )
    if not keep_warmup:
        out = out.filter(~pl.col("in_warmup"))
    first = ["interval", "t_start_s", "t_end_s", "time", "campaign", "job", "channel",
             "pacing"]
    return out.select([c for c in first if c in out.columns]
                      + [c for c in out.columns if c not in first])


def clock_label(scenario: Any, t_s: float) -> str:
    """``HH:MM`` on the scenario's clock (its ``start`` offset) at run-clock ``t_s``."""
    return (scenario.start + timedelta(seconds=float(t_s))).strftime("%H:%M")

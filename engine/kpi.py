"""Key performance indicators, each defined once, as pure functions.

Inputs are the flat attempt table (one row per completed attempt, columns of
``engine.attempt.ATTEMPT_FIELDS``) and agent time totals. The simulator, the engine's
statistics, the benchmarks and the CLI all call these; none re-derives a formula.
Rates are fractions 0..1; a zero denominator gives 0.
"""

from __future__ import annotations

import polars as pl

from engine.attempt import ATTEMPT_COLUMNS, CHANNEL_NAMES, Code
from pacer.rates import fcc_abandon_rate, ofcom_abandon_rate

LIVE_CODES = (int(Code.LIVE_CONNECTED), int(Code.ABANDONED), int(Code.CUSTOMER_HANGUP))
ABANDON_CODES = (int(Code.ABANDONED), int(Code.CUSTOMER_HANGUP))


_POLARS_TYPES = {"INTEGER": pl.Int64, "TEXT": pl.String, "BOOLEAN": pl.Boolean,
                 "REAL": pl.Float64}
ATTEMPT_SCHEMA = {name: _POLARS_TYPES[sql] for name, sql, _ in ATTEMPT_COLUMNS}


def attempt_table(rows: list[tuple]) -> pl.DataFrame:
    """The attempt table from records in ``ATTEMPT_FIELDS`` order (``Attempt.row``)."""
    return pl.DataFrame(rows, schema=ATTEMPT_SCHEMA, orient="row")


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den > 0 else 0.0


def in_window(att: pl.DataFrame, start_s: float, end_s: float) -> pl.DataFrame:
    """Attempts completed in ``[start_s, end_s)`` (the measurement window after warm-up)."""
    return att.filter((pl.col("t_end") >= start_s) & (pl.col("t_end") < end_s))


def _count_exprs(threshold_s: float | pl.Expr) -> list[pl.Expr]:
    """The outcome counts, as polars aggregations (one definition for totals and groups).

    live answers = connected + abandoned + hung up waiting (what the dialer saw as human,
    answering machines misclassified as human included); abandons = abandoned + hung up
    waiting; amd_false_positives = humans classified as machines (known to a simulator only);
    connected_in_threshold = live answers connected within ``threshold_s`` of the answer.
    """
    code = pl.col("code")
    machine = code == int(Code.MACHINE)
    fp = pl.col("amd_false_positive")
    wait = pl.col("t_connect") - pl.col("t_answer")
    in_sl = code.is_in(LIVE_CODES) & (pl.col("t_connect") >= 0) & (wait <= threshold_s + 1e-9)
    exprs = [
        pl.len().alias("attempts"),
        code.is_in(LIVE_CODES).sum().alias("live_answers"),
        code.is_in(ABANDON_CODES).sum().alias("abandons"),
        (code == int(Code.LIVE_CONNECTED)).sum().alias("connects"),
        (machine & ~fp).sum().alias("machines"),
        (machine & fp).sum().alias("amd_false_positives"),
        in_sl.sum().alias("connected_in_threshold"),
    ]
    exprs += [(pl.col("channel") == i).sum().alias(f"ch_{name}")
              for i, name in enumerate(CHANNEL_NAMES)]
    return exprs


def counts(att: pl.DataFrame, threshold_s: float = 0.0) -> dict[str, int]:
    """Outcome counts of a whole table (see ``_count_exprs``)."""
    row = att.select(_count_exprs(threshold_s)).row(0, named=True)
    return {k: int(v or 0) for k, v in row.items()}


def counts_by(att: pl.DataFrame, by: str, threshold_s: pl.Expr | float = 0.0) -> pl.DataFrame:
    """Outcome counts per group of ``by`` (one row per group; see ``_count_exprs``)."""
    return att.group_by(by).agg(_count_exprs(threshold_s))


def rate_fcc(c: dict) -> float:
    """FCC/TSR abandon rate from counts: abandons / live answers."""
    return fcc_abandon_rate(c["abandons"], c["live_answers"])


def rate_ofcom(c: dict) -> float:
    """Ofcom abandon rate from counts, AMD false positives counted as drops, AM adjusted.

    ``drops = abandons + AMD false positives``; ``drops' = drops - drops*AM/(connects + AM)``;
    rate ``= drops' / (connects + drops')`` (VICIdial's formula, see ``pacer.rates``).
    """
    return ofcom_abandon_rate(c["abandons"] + c["amd_false_positives"], c["connects"],
                              c["machines"])


def service_level_from(c: dict) -> float:
    """Share of live answers connected within the threshold the counts were taken with."""
    return _ratio(c["connected_in_threshold"], c["live_answers"])


def by_channel(c: dict) -> dict[str, int]:
    """Completed attempts per channel name, from counts (every channel, zeros included)."""
    return {name: int(c[f"ch_{name}"]) for name in CHANNEL_NAMES}


def abandon_rate(att: pl.DataFrame) -> float:
    """FCC/TSR abandon rate of an attempt table."""
    return rate_fcc(counts(att))


def abandon_rate_ofcom(att: pl.DataFrame) -> float:
    """Ofcom abandon rate of an attempt table (see ``rate_ofcom``)."""
    return rate_ofcom(counts(att))


def service_level(att: pl.DataFrame, threshold_s: float) -> float:
    """Share of live answers connected to an agent within ``threshold_s`` of the answer."""
    return service_level_from(counts(att, threshold_s))


def attempts_by_channel(att: pl.DataFrame) -> dict[str, int]:
    """Completed attempts per channel name (every channel present, zeros included)."""
    return by_channel(counts(att))


def bhcc(attempts: int, window_s: float) -> float:
    """Busy-hour call completions: attempts completed (all outcomes, channels) per hour."""
    return _ratio(attempts * 3600.0, window_s)


def occupancy(handling_s: float, logged_in_s: float) -> float:
    """Agent occupancy: time in talk + wrap over logged-in time."""
    return _ratio(handling_s, logged_in_s)


def agent_wait_mean_s(ready_s: float, connects: int) -> float:
    """Mean agent wait: idle (ready) agent-seconds per connected call."""
    return _ratio(ready_s, connects)

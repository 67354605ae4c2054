"""Key performance indicators, each defined once, as pure functions.

Inputs are the flat attempt table (one row per completed attempt, columns of
``engine.store_memory.ATTEMPT_FIELDS``) and agent time totals. The simulator, the engine's
statistics, the benchmarks and the CLI all call these; none re-derives a formula.
Rates are fractions 0..1; a zero denominator gives 0.
"""

from __future__ import annotations

import polars as pl

from engine.attempt import CHANNEL_NAMES, Code
from pacer.rates import fcc_abandon_rate, ofcom_abandon_rate

LIVE_CODES = (int(Code.LIVE_CONNECTED), int(Code.ABANDONED), int(Code.CUSTOMER_HANGUP))
ABANDON_CODES = (int(Code.ABANDONED), int(Code.CUSTOMER_HANGUP))


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den > 0 else 0.0


def in_window(att: pl.DataFrame, start_s: float, end_s: float) -> pl.DataFrame:
    """Attempts completed in ``[start_s, end_s)`` (the measurement window after warm-up)."""
    return att.filter((pl.col("t_end") >= start_s) & (pl.col("t_end") < end_s))


def counts(att: pl.DataFrame) -> dict[str, int]:
    """Outcome counts: attempts, live answers, abandons, connects, machines, AMD false positives.

    live answers = connected + abandoned + hung up waiting (what the dialer saw as human,
    answering machines misclassified as human included); abandons = abandoned + hung up
    waiting; amd_false_positives = humans classified as machines (known to a simulator only).
    """
    code = pl.col("code")
    row = att.select(
        pl.len().alias("attempts"),
        code.is_in(LIVE_CODES).sum().alias("live_answers"),
        code.is_in(ABANDON_CODES).sum().alias("abandons"),
        (code == int(Code.LIVE_CONNECTED)).sum().alias("connects"),
        ((code == int(Code.MACHINE)) & ~pl.col("amd_false_positive")).sum().alias("machines"),
        ((code == int(Code.MACHINE)) & pl.col("amd_false_positive")).sum()
        .alias("amd_false_positives"),
    ).row(0, named=True)
    return {k: int(v) for k, v in row.items()}


def abandon_rate(att: pl.DataFrame) -> float:
    """FCC/TSR abandon rate: abandons / live answers."""
    c = counts(att)
    return fcc_abandon_rate(c["abandons"], c["live_answers"])


def abandon_rate_ofcom(att: pl.DataFrame) -> float:
    """Ofcom abandon rate, AMD false positives counted as drops, answering-machine adjusted.

    ``drops = abandons + AMD false positives``; ``drops' = drops - drops*AM/(connects + AM)``;
    rate ``= drops' / (connects + drops')`` (VICIdial's formula, see ``pacer.abandon``).
    """
    c = counts(att)
    return ofcom_abandon_rate(c["abandons"] + c["amd_false_positives"], c["connects"],
                              c["machines"])


def service_level(att: pl.DataFrame, threshold_s: float) -> float:
    """Share of live answers connected to an agent within ``threshold_s`` of the answer."""
    live = att.filter(pl.col("code").is_in(LIVE_CODES))
    if live.height == 0:
        return 0.0
    ok = live.filter((pl.col("t_connect") >= 0)
                     & (pl.col("t_connect") - pl.col("t_answer") <= threshold_s + 1e-9)).height
    return ok / live.height


def attempts_by_channel(att: pl.DataFrame) -> dict[str, int]:
    """Completed attempts per channel name (every channel present, zeros included)."""
    got = dict(att.group_by("channel").len().iter_rows())
    return {name: int(got.get(i, 0)) for i, name in enumerate(CHANNEL_NAMES)}


def bhcc(attempts: int, window_s: float) -> float:
    """Busy-hour call completions: attempts completed (all outcomes, channels) per hour."""
    return _ratio(attempts * 3600.0, window_s)


def occupancy(handling_s: float, logged_in_s: float) -> float:
    """Agent occupancy: time in talk + wrap over logged-in time."""
    return _ratio(handling_s, logged_in_s)


def agent_wait_mean_s(ready_s: float, connects: int) -> float:
    """Mean agent wait: idle (ready) agent-seconds per connected call."""
    return _ratio(ready_s, connects)

"""Key performance indicators, each defined once, as pure functions.

Inputs are the flat attempt table (one row per finished attempt, columns of
``engine.attempt.ATTEMPT_FIELDS``) and agent time per ``AgentState``. The simulator, the
engine's statistics, the events, the benchmarks and the CLI all call these; none re-derives
a formula. ``KPIS`` names and describes every KPI; outputs use exactly these names. Rates
are fractions 0..1; a zero denominator gives 0.

An attempt *completed* when it went out and ended (any outcome, any channel); an attempt
blocked for want of a port never went out: it is counted as ``blocked``, never completed.
Over a measured window (``window_counts``) completions count by when the attempt ended, and
the answers (live answers, abandons, connects, machines) by when the call was answered: a
rate's live calls are those of its period, as a regulator counts them, so a call answered
in the window and still up at its end is one of them (an ``ATTEMPT_FIELDS`` row coded
``PENDING`` with its connect time), and one answered before it is not.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from engine.attempt import ATTEMPT_COLUMNS
from engine.vocab import (
    ABANDON_CODES,
    CHANNEL_NAMES,
    HANDLING_STATES,
    LIVE_CODES,
    NOT_COMPLETED_CODES,
    NOT_READY_STATES,
    OFF_STATES,
    READY_STATES,
    TALK_STATES,
    WRAP_STATES,
    Channel,
    Code,
)
from pacer.rates import fcc_abandon_rate, ofcom_abandon_rate, vicidial_ofcom_abandon_rate

__all__ = ["ABANDON_CODES", "KPIS", "LIVE_CODES"]

# Every KPI by the name outputs use, with its meaning and unit. Outcome counts and rates
# of the planner's rows are over agent-based voice (their attempts per hour: bhcc_agent).
KPIS: dict[str, str] = {
    "attempts": "attempts completed in the measured window, every channel and outcome "
                "(blocked ones excluded)",
    "bhcc": "busy-hour call completions: attempts completed per hour, every channel "
            "(blocked ones excluded)",
    "blocked": "attempts blocked for want of a port: never went out, not completions",
    "attempts_by_channel": "attempts completed per channel (voice_agent, voice_agentless, "
                           "sms, email)",
    **{f"attempts_{ch}": f"attempts completed on channel {ch}" for ch in CHANNEL_NAMES},
    "bhcc_agent": "agent-based voice attempts completed per hour",
    "live_answers": "live answers answered in the measured window: connected (still up "
                    "at its end included), dropped or hung up waiting for an agent",
    "abandons": "abandons (nuisance calls): live answers answered in the measured window "
                "no agent took in time",
    "connects": "live answers answered in the measured window and connected to an agent",
    "machines": "answering machines detected (AMD false positives excluded)",
    "amd_false_positives": "people the answering-machine detection called machines "
                           "(known to a simulator)",
    "connected_in_threshold": "live answers connected within their campaign's "
                              "sl_threshold_s",
    "abandon_rate": "FCC/TSR abandon rate: abandons / live answers, fraction 0..1",
    "abandon_rate_ofcom": "Ofcom abandon rate: (abandons + AMD false positives) / (live "
                          "answers + AMD false positives), fraction 0..1",
    "service_level": "live answers connected within their campaign's sl_threshold_s, "
                     "fraction 0..1",
    "occupancy": "agent occupancy: talk + wrap time / logged-in time, fraction 0..1",
    "agent_wait_mean_s": "mean agent wait: ready (idle) agent-seconds per connected call, s",
    "ports_peak": "most voice ports in use at once",
    "ports_mean": "time-weighted mean voice ports in use",
    # a blended centre (formulas in sim/inbound_kpi.py and sim/blended.py)
    "occupancy_outbound": "occupancy of the dialer's agents on outbound: talk + wrap / "
                          "(logged-in time - time lent to inbound), fraction 0..1",
    "occupancy_inbound": "occupancy on inbound: talk + wrap / staffed time of dedicated and "
                         "lent agents, fraction 0..1",
    "inbound_offered": "inbound calls offered (answered or abandoned in the window)",
    "inbound_answered": "inbound calls answered by an agent",
    "inbound_abandoned": "inbound callers who hung up while queued",
    "inbound_answered_in_threshold": "inbound calls answered within their skill's "
                                     "sl_threshold_s",
    "inbound_service_level": "inbound service level: answered within the threshold / "
                             "offered, fraction 0..1",
    "inbound_abandon_rate": "inbound abandon rate: abandoned / offered, fraction 0..1",
    "inbound_asa_s": "inbound average speed of answer (answered calls), s",
    "port_blocked": "notification attempts blocked for want of a licensed outbound port",
    "port_delayed": "agent-based dials held back a tick for want of a port",
    "lent_agent_s": "agent-seconds the dialer's agents spent lent to inbound skills",
    "blending_lends": "agents lent to inbound skills (blending moves)",
    "blending_recalls": "agents recalled from inbound skills (blending moves)",
    "inbound": "the inbound KPIs over every skill: offered, answered, abandoned, "
               "answered_in_threshold, service_level, abandon_rate, asa_s, mean_wait_s, "
               "calls_per_hour, answered_by_lent",
}
FRACTION_KPIS = ("abandon_rate", "abandon_rate_ofcom", "occupancy", "service_level",
                 "occupancy_outbound", "occupancy_inbound", "inbound_service_level",
                 "inbound_abandon_rate")


_POLARS_TYPES = {"INTEGER": pl.Int64, "TEXT": pl.String, "BOOLEAN": pl.Boolean,
                 "REAL": pl.Float64}
ATTEMPT_SCHEMA = {name: _POLARS_TYPES[sql] for name, sql, _ in ATTEMPT_COLUMNS}


def attempt_table(rows: list[tuple]) -> pl.DataFrame:
    """The attempt table from records in ``ATTEMPT_FIELDS`` order (``Attempt.row``)."""
    if not rows:
        return pl.DataFrame(rows, schema=ATTEMPT_SCHEMA, orient="row")
    # Column by column: about twice as fast as polars' row orientation for a run's rows.
    return pl.DataFrame([pl.Series(name, col, dtype=dtype) for (name, dtype), col
                         in zip(ATTEMPT_SCHEMA.items(), zip(*rows, strict=True), strict=True)])


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den > 0 else 0.0


def in_window(att: pl.DataFrame, start_s: float, end_s: float) -> pl.DataFrame:
    """Attempts completed in ``[start_s, end_s)`` (the measurement window after warm-up)."""
    return att.filter((pl.col("t_end") >= start_s) & (pl.col("t_end") < end_s))


def answered_in(att: pl.DataFrame, start_s: float, end_s: float) -> pl.DataFrame:
    """Attempts answered in ``[start_s, end_s)``, ended or still up at the window's end."""
    return att.filter((pl.col("t_answer") >= start_s) & (pl.col("t_answer") < end_s))


# the counts taken over the attempts that ended in a window; the others over those answered
COMPLETION_COUNTS = ("attempts", "blocked", *(f"ch_{name}" for name in CHANNEL_NAMES))


def window_counts(att: pl.DataFrame, start_s: float, end_s: float,
                  threshold_s: pl.Expr | float = 0.0) -> dict[str, int]:
    """Outcome counts of ``[start_s, end_s)`` (see ``_count_exprs``): completions by the
    attempts' ends, answers by their answers (the module docstring)."""
    done = counts(in_window(att, start_s, end_s), threshold_s)
    answered = counts(answered_in(att, start_s, end_s), threshold_s)
    return {k: done[k] if k in COMPLETION_COUNTS else answered[k] for k in done}


def window_counts_by(att: pl.DataFrame, by: str, start_s: float, end_s: float,
                     threshold_s: pl.Expr | float = 0.0) -> dict[object, dict[str, int]]:
    """``window_counts`` per value of ``by`` (only values with an attempt ended or
    answered in the window)."""
    done = {r[by]: r for r in counts_by(in_window(att, start_s, end_s), by, threshold_s)
            .iter_rows(named=True)}
    answered = {r[by]: r for r in counts_by(answered_in(att, start_s, end_s), by,
                                            threshold_s).iter_rows(named=True)}
    zero = counts(att.clear(), threshold_s)
    out = {}
    for key in done.keys() | answered.keys():
        d, a = done.get(key, zero), answered.get(key, zero)
        out[key] = {k: int(d[k] if k in COMPLETION_COUNTS else a[k]) for k in zero}
    return out


def _count_exprs(threshold_s: float | pl.Expr) -> list[pl.Expr]:
    """The outcome counts, as polars aggregations (one definition for totals and groups).

    attempts = completed attempts (not blocked, not pending); blocked = blocked for want of
    a port; live answers = connected + abandoned + hung up waiting (what the dialer saw as
    human: an answering machine AMD missed counts when it was dropped or hung up unheard,
    not when its agent found it, which codes it MACHINE); abandons = abandoned + hung
    up waiting; amd_false_positives = humans classified as machines (known to a simulator only);
    connected_in_threshold = live answers connected within ``threshold_s`` of the answer. A
    call still up (``PENDING``) that was connected counts as a live answer connected.
    """
    code = pl.col("code")
    completed = ~code.is_in(list(NOT_COMPLETED_CODES))
    machine = code == int(Code.MACHINE)
    fp = pl.col("amd_false_positive")
    wait = pl.col("t_connect") - pl.col("t_answer")
    # a call still up (PENDING) that was put through to an agent: connected so far
    up = (code == int(Code.PENDING)) & (pl.col("t_connect") >= 0)
    live = code.is_in(list(LIVE_CODES)) | up
    in_sl = live & (pl.col("t_connect") >= 0) & (wait <= threshold_s + 1e-9)
    exprs = [
        completed.sum().alias("attempts"),
        (code == int(Code.BLOCKED)).sum().alias("blocked"),
        live.sum().alias("live_answers"),
        code.is_in(list(ABANDON_CODES)).sum().alias("abandons"),
        ((code == int(Code.LIVE_CONNECTED)) | up).sum().alias("connects"),
        (machine & ~fp).sum().alias("machines"),
        (machine & fp).sum().alias("amd_false_positives"),
        in_sl.sum().alias("connected_in_threshold"),
    ]
    exprs += [(completed & (pl.col("channel") == i)).sum().alias(f"ch_{name}")
              for i, name in enumerate(CHANNEL_NAMES)]
    return exprs


def counts(att: pl.DataFrame, threshold_s: pl.Expr | float = 0.0) -> dict[str, int]:
    """Outcome counts of a whole table (see ``_count_exprs``)."""
    row = att.select(_count_exprs(threshold_s)).row(0, named=True)
    return {k: int(v or 0) for k, v in row.items()}


def counts_by(att: pl.DataFrame, by: str | list[str],
              threshold_s: pl.Expr | float = 0.0) -> pl.DataFrame:
    """Outcome counts per group of ``by`` (a column or columns; one row per group; see
    ``_count_exprs``)."""
    return att.group_by(by).agg(_count_exprs(threshold_s))


def rate_fcc(c: dict) -> float:
    """FCC/TSR abandon rate from counts: abandons / live answers."""
    return fcc_abandon_rate(c["abandons"], c["live_answers"])


def ofcom_parts(c: dict) -> tuple[float, float]:
    """Ofcom's abandoned calls and live calls from counts: ``(abandons + AMD false
    positives, live answers + AMD false positives)`` (``pacer.rates.ofcom_abandon_rate``)."""
    fp = c["amd_false_positives"]
    return c["abandons"] + fp, c["live_answers"] + fp


def rate_ofcom(c: dict) -> float:
    """Ofcom abandon rate from counts, as the regulator counts it: (abandons + AMD false
    positives) / (live answers + AMD false positives) (``pacer.rates``)."""
    return ofcom_abandon_rate(c["abandons"], c["amd_false_positives"], c["live_answers"])


def rate_ofcom_vicidial(c: dict) -> float:
    """VICIdial's answering-machine-adjusted Ofcom rate from counts (a named alternative,
    not the regulator's: ``pacer.rates.vicidial_ofcom_abandon_rate``)."""
    return vicidial_ofcom_abandon_rate(c["abandons"] + c["amd_false_positives"],
                                       c["connects"], c["machines"])


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
    """Busy-hour call completions: attempts completed (all outcomes, channels; blocked ones
    are not completions) per hour, over a window of ``window_s`` seconds."""
    return _ratio(attempts * 3600.0, window_s)


def kpi_block(c: dict, window_s: float, t: dict[str, float]) -> dict:
    """The KPIs of one group of attempts (a run, a campaign) from its ``counts`` over a
    window of ``window_s`` seconds and its agents' time (``agent_times``): what ``simulate``
    reports per campaign and in total, and a live run in its summary."""
    return {
        "attempts": c["attempts"],
        "bhcc": bhcc(c["attempts"], window_s),
        "blocked": c["blocked"],
        "attempts_by_channel": by_channel(c),
        "live_answers": c["live_answers"],
        "abandons": c["abandons"],
        "amd_false_positives": c["amd_false_positives"],
        "abandon_rate": rate_fcc(c),
        "abandon_rate_ofcom": rate_ofcom(c),
        "occupancy": occupancy(t["handling_s"], t["logged_in_s"]),
        "agent_wait_mean_s": agent_wait_mean_s(t["ready_s"], c["connects"]),
        "service_level": service_level_from(c),
    }


def agent_voice(att: pl.DataFrame) -> pl.DataFrame:
    """The agent-based voice attempts of a table (what occupancy and abandons are about)."""
    return att.filter(pl.col("channel") == int(Channel.VOICE_AGENT))


def agent_times(time_in: np.ndarray) -> dict[str, float]:
    """Agent time by kind, seconds, from time per ``AgentState`` (last axis; any leading
    axes, e.g. agents, are summed): ``talk_s``, ``wrap_s`` (``engine.vocab`` split: the
    pending states are wrap), ``handling_s`` = talk + wrap, ``ready_s``, ``not_ready_s``
    and ``logged_in_s`` (every state but logged out)."""
    t = np.asarray(time_in, dtype=np.float64)
    by_state = t.reshape(-1, t.shape[-1]).sum(axis=0)
    return {k: float(v[0]) for k, v in agent_times_each(by_state[None, :]).items()}


def agent_times_each(time_in: np.ndarray) -> dict[str, np.ndarray]:
    """``agent_times`` of each row of ``time_in`` (agents x ``AgentState``): the same keys,
    float64 arrays of seconds, one entry per row."""
    t = np.asarray(time_in, dtype=np.float64)
    return {
        "talk_s": t[:, list(TALK_STATES)].sum(axis=1),
        "wrap_s": t[:, list(WRAP_STATES)].sum(axis=1),
        "handling_s": t[:, list(HANDLING_STATES)].sum(axis=1),
        "ready_s": t[:, list(READY_STATES)].sum(axis=1),
        "not_ready_s": t[:, list(NOT_READY_STATES)].sum(axis=1),
        "logged_in_s": t.sum(axis=1) - t[:, list(OFF_STATES)].sum(axis=1),
    }


def occupancy(handling_s: float, logged_in_s: float) -> float:
    """Agent occupancy: time in talk + wrap over logged-in time."""
    return _ratio(handling_s, logged_in_s)


def agent_wait_mean_s(ready_s: float, connects: int) -> float:
    """Mean agent wait: idle (ready) agent-seconds per connected call."""
    return _ratio(ready_s, connects)

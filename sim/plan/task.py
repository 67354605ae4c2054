"""What one run returns to the planner: a pure ``(scenario, seed) -> record`` call.

Every command (simulate, compare, sweep, size) runs the same ``run_task`` on any executor.
A *record* is a small JSON-able dict: the seed, the wall time, the flat KPI row
(``kpi_row``), the run's totals and per-campaign KPIs, its warnings, rule counts and job
statistics; with ``tables=True`` it also carries the attempt and interval tables (polars),
which only ``simulate --out/--plots`` needs, and always the small per-interval totals
(``interval_rows``). The KPI row carries the counts behind every
rate, so replications are pooled on counts (``sim.plan.stats``), not averaged as rates.

This module is part of the code fingerprint of cached records (``sim.plan.cache``): what it
computes is what the cache stores.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from engine import kpi
from engine.attempt import CHANNEL_NAMES, Channel, Code
from engine.event_volume import EventVolume
from sim.plan.platform import run_figures
from sim.run import RunResult, simulate
from sim.scenario import Scenario


def kpi_row(scn: Scenario, run: RunResult) -> dict[str, float]:
    """The flat KPIs of one run (keys ``sim.plan.stats.KPI_KEYS``), formulas from
    ``engine.kpi``, over the measured window: the attempts completed in it, the live
    answers answered in it (``kpi.window_counts``).

    ``attempts``/``bhcc`` count every channel; an attempt BLOCKED for want of a port never
    went out and is counted apart (``blocked``). The outcome counts and rates are over the
    agent-based voice attempts (``bhcc_agent`` is their hourly figure), each campaign's live
    answers judged against its own service-level threshold. Occupancy and agent wait come
    from the run's agent time, which only agent-based campaigns use.
    """
    lo = scn.warmup_s
    hi = lo + scn.sim_s
    window = kpi.in_window(run.attempts, lo, hi)
    blocked = window.filter(pl.col("code") == int(Code.BLOCKED)).height
    done = window.filter(pl.col("code") != int(Code.BLOCKED))
    every = kpi.by_channel(kpi.counts(done))
    sl = [c.sl_threshold_s for c in scn.campaigns]
    agent = (run.every_attempt.filter(pl.col("channel") == int(Channel.VOICE_AGENT))
             .with_columns(pl.col("job").replace_strict(list(range(len(sl))), sl,
                                                        return_dtype=pl.Float64).alias("_sl")))
    c = kpi.window_counts(agent, lo, hi, pl.col("_sl"))
    attempts = sum(every.values())
    row = {
        "attempts": float(attempts),
        "bhcc": kpi.bhcc(attempts, hi - lo),
        "blocked": float(blocked),
        **{f"attempts_{ch}": float(every[ch]) for ch in CHANNEL_NAMES},
        "bhcc_agent": kpi.bhcc(c["attempts"], hi - lo),
        "live_answers": float(c["live_answers"]),
        "abandons": float(c["abandons"]),
        "connects": float(c["connects"]),
        "machines": float(c["machines"]),
        "amd_false_positives": float(c["amd_false_positives"]),
        "connected_in_threshold": float(c["connected_in_threshold"]),
        "abandon_rate": kpi.rate_fcc(c),
        "abandon_rate_ofcom": kpi.rate_ofcom(c),
        "service_level": kpi.service_level_from(c),
        "occupancy": float(run.total["occupancy"]),
        "agent_wait_mean_s": float(run.total["agent_wait_mean_s"]),
        "ports_peak": float(run.total["ports_peak"]),
        "ports_mean": float(run.total["ports_mean"]),
        **_blended_row(run.total),
    }
    return row


def _blended_row(total: dict) -> dict[str, float]:
    """Inbound, blending and port KPIs (``sim.blended.blended_kpis``; 0 when absent)."""
    inb = total.get("inbound", {})
    return {
        "occupancy_outbound": float(total.get("occupancy_outbound", total["occupancy"])),
        "occupancy_inbound": float(total.get("occupancy_inbound", 0.0)),
        "inbound_offered": float(inb.get("offered", 0.0)),
        "inbound_answered": float(inb.get("answered", 0.0)),
        "inbound_abandoned": float(inb.get("abandoned", 0.0)),
        "inbound_answered_in_threshold": float(inb.get("answered_in_threshold", 0.0)),
        "inbound_service_level": float(inb.get("service_level", 0.0)),
        "inbound_abandon_rate": float(inb.get("abandon_rate", 0.0)),
        "inbound_asa_s": float(inb.get("asa_s", 0.0)),
        "port_blocked": float(total.get("port_blocked", 0)),
        "port_delayed": float(total.get("port_delayed", 0)),
        "lent_agent_s": float(total.get("lent_agent_s", 0.0)),
        "blending_lends": float(total.get("blending_lends", 0)),
        "blending_recalls": float(total.get("blending_recalls", 0)),
    }


INTERVAL_SUMS = ("attempts", "live_answers", "abandons", "staffed_mean", "busy_mean",
                 "in_flight_mean", "ports_mean")


def interval_rows(scn: Scenario, run: RunResult) -> list[dict[str, float]]:
    """The measured intervals over every campaign: one small row per interval (start on the
    run clock, outcome counts, mean agents staffed and busy, calls in flight, ports)."""
    iv = run.intervals.filter(pl.col("t_start_s") >= scn.warmup_s - 1e-9)
    if iv.is_empty():
        return []
    per = (iv.group_by("interval", "t_start_s")
           .agg(*(pl.col(k).sum() for k in INTERVAL_SUMS))
           .sort("interval"))
    un = run.unassigned_mean
    idle = un[per["interval"].to_numpy()] if un is not None else np.zeros(per.height)
    per = per.with_columns(pl.Series("unassigned_mean", idle, dtype=pl.Float64)
                           ).drop("interval")
    return [{k: float(v) for k, v in r.items()} for r in per.iter_rows(named=True)]


def record_of(scn: Scenario, run: RunResult, tables: bool = False,
              events: dict | None = None) -> dict:
    """The record of a finished run (module docstring); tables only when ``tables``.

    ``platform`` holds the run's peaks for sizing the platform
    (``sim.plan.platform.run_figures``); ``events`` the event volume measured during the
    run (``engine.event_volume.EventVolume.as_dict()``), when it was; ``interval_rows`` the
    measured intervals' totals (``interval_rows``).
    """
    rec = {"seed": run.seed, "wall_s": run.wall_s, "kpis": kpi_row(scn, run),
           "total": run.total, "campaigns": run.campaigns, "warnings": list(run.warnings),
           "warning_records": list(run.warning_records),
           "restrictions": run.restrictions, "jobs": run.jobs, "inbound": run.inbound,
           "platform": run_figures(scn, run.attempts, run.intervals, run.total,
                                   run.campaigns),
           "interval_rows": interval_rows(scn, run)}
    if events is not None:
        rec["events"] = events
    if tables:
        rec["attempts"] = run.every_attempt  # those still up at the end: PENDING
        rec["intervals"] = run.intervals
        if run.inbound_calls is not None:
            rec["inbound_calls"] = run.inbound_calls
            rec["inbound_intervals"] = run.inbound_intervals
    return rec


def run_task(scn: Scenario, seed: int, tables: bool = False, events: bool = False,
             progress: Callable[[float], None] | None = None) -> dict:
    """One task on a worker: simulate ``scn`` with ``seed`` and return its record.

    With ``events`` the engine's event stream is built and measured (counts and serialised
    bytes in the measured window, ``engine.event_volume``), which costs run time.
    ``progress`` (in-process runs only) receives the simulated fraction done, 0..1.
    """
    if not events:
        return record_of(scn, simulate(scn, seed, progress), tables)
    volume = EventVolume(scn.warmup_s, scn.warmup_s + scn.sim_s)
    run = simulate(scn, seed, progress, sink=volume)
    return record_of(scn, run, tables, volume.as_dict())

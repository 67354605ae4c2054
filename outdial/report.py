"""Report rendering for the planner: summary tables, JSON, Parquet outputs and PNG plots."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from engine.kpi import FRACTION_KPIS
from engine.vocab import CHANNEL_NAMES
from outdial.app import Application, json_safe
from sim.plan.assess import Assessment
from sim.plan.limits import rule_groups
from sim.plan.stats import Summary
from sim.plan.tables import attempts_table, intervals_table
from sim.scenario import Scenario

PCT_KEYS = tuple(FRACTION_KPIS)  # fractions 0..1, shown as percentages
SUMMARY_ROWS = ("bhcc", "attempts", "blocked", "bhcc_agent", "live_answers", "abandons",
                "abandon_rate", "abandon_rate_ofcom", "occupancy", "agent_wait_mean_s",
                "service_level", "ports_peak", "ports_mean")


def summary_json(s: Summary, a: Assessment | None = None,
                 scenario_file: str | None = None) -> dict[str, Any]:
    """The ``--json`` object of ``outdial simulate`` (rates are fractions 0..1): ``scenario``
    is the scenario's name, ``scenario_file`` (when given) the file it was read from.

    With an assessment: ``resources``, ``targets`` (``name``, ``target``, ``value``, ``lo``,
    ``hi``, ``met``, ``margin``, ``replications``, ``needed``, ``note``), ``verdict`` and
    ``platform`` (units in its keys); its warnings join the run's."""
    out = {
        "scenario": s.scenario,
        **({"scenario_file": scenario_file} if scenario_file is not None else {}),
        "seed": s.seed,
        "replications": s.replications,
        "sim_hours": s.sim_hours,
        "wall_s": round(s.wall_s, 3),
        "total": s.total,
        "campaigns": s.campaigns,
        "ci95": s.ci95,
        "warnings": [*s.warnings, *s.warning_records],
        "intervals": s.intervals,
    }
    if s.inbound:
        out["inbound"] = s.inbound
    if a is not None:
        d = a.as_dict()
        out.update({k: d[k] for k in ("resources", "targets", "verdict", "platform")})
        out["warnings"] = [*s.warnings, *d["warnings"], *s.warning_records]
    return out


def _gb(v: float | None) -> str:
    return "-" if v is None else f"{v:,.1f} GB"


def print_assessment(app: Application, a: Assessment) -> None:
    """The verdict block and the platform table after the KPIs."""
    r = a.resources
    lic = ", ".join(f"{k.replace('_agents', '')} {v:,}" for k, v in r["licenses"].items())
    jobs = f"{r['jobs']:,} job" + ("" if r["jobs"] == 1 else "s")
    app.out.print(f"resources: {r['agents']:,} agents, {r['ports']:,} ports, {jobs}; "
                  f"licenses ({r['license_mode']}): {lic or 'none'}")
    if a.targets:
        rows = []
        for t in a.targets:
            state = {True: "met", False: "MISSED", None: "undecided"}[t.met]
            value = fmt_kpi(t.kpi, t.value)
            if t.lo is not None:
                value += f" [{fmt_kpi(t.kpi, t.lo)}, {fmt_kpi(t.kpi, t.hi)}]"
            rows.append([t.name, f"{t.op} {fmt_kpi(t.kpi, t.limit)}", value, state,
                         "" if t.margin is None else fmt_kpi(t.kpi, t.margin)])
        app.table(f"verdict: {a.verdict}", ["target", "bound", "value [95 % interval]",
                                            "verdict", "margin"], rows,
                  caption="judged on the interval: met when it is wholly on the right side")
        for t in a.targets:
            if t.met is None:
                app.info(f"{t.name}: {t.note}")
    p = a.platform
    ev = "-" if p.events_per_hour is None else f"{p.events_per_hour:,.0f}"
    rows = [
        ["hardware tier", p.tier_description],
        ["servers", p.servers],
        ["agents / notification ports (peak) / jobs",
         f"{p.agents:,} / {p.notification_ports_peak:,} / {p.jobs:,}"],
        ["BHCC (attempts per hour)", f"{p.bhcc:,.0f}"],
        ["voice-portal ports (customer + agent legs at the peak)",
         f"{p.voice_portal_ports:,} ({p.customer_legs_peak:,} + {p.agent_legs_peak:,})"],
        ["SMS / email per hour", f"{p.sms_per_hour:,.0f} / {p.email_per_hour:,.0f}"],
        ["SMS / email peak per second", f"{p.sms_peak_per_s:,.2f} / {p.email_peak_per_s:,.2f}"],
        ["operational database (data + indexes up to 2x)",
         f"{_gb(p.db_provision_gb)} ({_gb(p.db_data_gb)} + {_gb(p.db_index_gb)})"],
        ["agent-manager memory", _gb(p.agent_manager_memory_gb)],
        ["events per hour (measured)", ev],
        [f"Kafka disk at {p.kafka_retention_h:g} h retention ({p.event_source})",
         _gb(p.kafka_disk_gb)],
        ["Kafka disk at the documented 50 GB per million attempts",
         _gb(p.kafka_disk_documented_gb)],
    ]
    app.table("platform the load needs", ["quantity", "value"], rows,
              caption="documented sizing: Implementing Avaya Proactive Outreach Manager")
    for n in p.notes:
        app.info(f"note: {n}")


def fmt_kpi(key: str, v: Any) -> str:
    """A KPI's value as the tables print it: a fraction (``PCT_KEYS``) in per cent to two
    decimals, a count with thousands separators, another number to one decimal."""
    if v is None:
        return "-"
    if key in PCT_KEYS:
        return f"{100 * v:.2f} %"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.1f}"
    return f"{int(v):,}"


def _val_ci(key: str, v: Any, ci: Any) -> str:
    """``value [lo, hi]`` (the value alone without an interval); seconds to 0.1 s."""
    f = (lambda x: f"{x:.1f}") if key.endswith("_s") else (lambda x: fmt_kpi(key, x))
    return f(v) if not ci else f"{f(v)} [{f(ci[0])}, {f(ci[1])}]"


def _ci(key: str, ci: Any) -> str:
    if not ci:
        return ""
    return f"[{fmt_kpi(key, ci[0])}, {fmt_kpi(key, ci[1])}]"


def print_summary(app: Application, s: Summary, mode: str = "fcc") -> None:
    """The KPI table and the campaigns grouped by template; the campaigns' abandon rate is
    the one their regulation counts (a campaign's own, ``regulation`` in its summary, else
    ``mode``: ``fcc`` or ``ofcom``), pooled over the group; with campaigns under several
    rules a column names each one's."""
    t = s.total
    rows = [[k, fmt_kpi(k, t[k]), _ci(k, s.ci95.get(k))] for k in SUMMARY_ROWS]
    for ch, n in t["attempts_by_channel"].items():
        rows.append([f"attempts {ch}", fmt_kpi("", n), ""])
    title = (f"{s.scenario}: {s.sim_hours:g} h x {s.replications} replication(s), "
             f"seed {s.seed}, {s.wall_s:.2f} s wall")
    app.table(title, ["KPI", "value", "95 % CI"], rows)
    by_tpl: dict[tuple[str, str, str], list[dict]] = {}
    for c in s.campaigns:
        by_tpl.setdefault((c["template"], c["channel"], c["pacing"]), []).append(c)
    rules = {(c.get("regulation", mode), c.get("abandon_limit")) for c in s.campaigns
             if c["channel"] == "voice_agent"}
    modes = {m for m, _ in rules}
    crow = []
    for (tpl, ch, pacing), cs in by_tpl.items():
        att = sum(c["attempts"] for c in cs)
        live = sum(c["live_answers"] for c in cs)
        ab = sum(c["abandons"] for c in cs)
        own = cs[0].get("regulation", mode)
        if own == "ofcom":  # AMD false positives count as abandons, of all live calls
            fp = sum(c["amd_false_positives"] for c in cs)
            ab, live_all = ab + fp, live + fp
        else:
            live_all = live
        agent = ch == "voice_agent"
        risk = [c["p_over_limit"] for c in cs if "p_over_limit" in c]
        crow.append([f"{tpl} x{len(cs)}" if len(cs) > 1 else tpl, ch, pacing, fmt_kpi("", att),
                     fmt_kpi("", live) if agent else "-",
                     fmt_kpi("abandon_rate", ab / live_all if live_all else 0.0)
                     if agent else "-",
                     fmt_kpi("occupancy", sum(c["occupancy"] for c in cs) / len(cs))
                     if agent else "-",
                     f"{100 * max(risk):.1f} %" if agent and risk else "-"])
        if len(rules) > 1:
            lim = cs[0].get("abandon_limit")
            crow[-1].append(f"{'Ofcom' if own == 'ofcom' else 'FCC/TSR'} {100 * lim:g} %"
                            if agent and lim is not None else "-")
    one = next(iter(modes)) if len(modes) == 1 else None
    app.table("campaigns (grouped by template; P(over limit): the chance, riskiest campaign "
              "of the group, that its abandon rate ends its regulatory window over the limit, "
              "read with its copies' evidence"
              + ("; each campaign's abandon rate is its own rule's" if len(rules) > 1 else "")
              + ")",
              ["campaign", "channel", "pacing", "attempts", "live",
               "abandon (Ofcom)" if (one or mode) == "ofcom" and len(modes) <= 1
               else "abandon", "occupancy", "P(over limit)",
               *(["rule"] if len(rules) > 1 else [])], crow)
    _print_blended(app, s)
    for w in s.warnings:
        app.warn(w)


def _print_blended(app: Application, s: Summary) -> None:
    """Inbound skills (service level, abandons, speed of answer), occupancy by direction,
    and the port pool's per-job use and starvation, when the scenario has them."""
    t = s.total
    if s.inbound:
        rows = []
        for name, k in s.inbound.items():
            ci = k.get("ci95", {})
            rows.append([name, fmt_kpi("", k["offered"]),
                         _val_ci("service_level", k["service_level"], ci.get("service_level")),
                         _val_ci("abandon_rate", k["abandon_rate"], ci.get("abandon_rate")),
                         _val_ci("asa_s", k["asa_s"], ci.get("asa_s")),
                         _val_ci("occupancy", k.get("occupancy_inbound", 0.0),
                                 ci.get("occupancy_inbound")),
                         fmt_kpi("", k["answered_by_lent"])])
        rows.append(["total", fmt_kpi("", t["inbound_offered"]),
                     _val_ci("service_level", t["inbound_service_level"],
                             s.ci95.get("inbound_service_level")),
                     _val_ci("abandon_rate", t["inbound_abandon_rate"],
                             s.ci95.get("inbound_abandon_rate")),
                     _val_ci("asa_s", t["inbound_asa_s"], s.ci95.get("inbound_asa_s")),
                     _val_ci("occupancy", t["occupancy_inbound"],
                             s.ci95.get("occupancy_inbound")), ""])
        out_occ = _val_ci("occupancy", t["occupancy_outbound"],
                          s.ci95.get("occupancy_outbound"))
        app.table(f"inbound skills (outbound occupancy {out_occ})",
                  ["skill", "offered", "SL", "abandoned", "ASA s", "occupancy inbound",
                   "answered by lent agents"], rows,
                  caption="value [95 % interval]; SL: answered within the skill's threshold / "
                          "offered; rates pooled over the replications")
    _print_licenses(app, s)
    ported = [c for c in s.campaigns if "ports_allocated" in c]
    if ported:
        app.table("port pool: per job", ["campaign", "channel", "ports held", "peak in use",
                                         "blocked (no port)", "delayed (no port)"],
                  [[c["name"], c["channel"], fmt_kpi("", c["ports_allocated"]),
                    fmt_kpi("", c["ports_peak"]), fmt_kpi("", c["port_blocked"]),
                    fmt_kpi("", c["port_delayed"])] for c in ported])


def _print_licenses(app: Application, s: Summary) -> None:
    """Agent licenses per pool in use (size, licenses allocated and in use, mean over the
    window) and the jobs that starved: agents who could work a job left out by its share
    (per job in ``--json``'s campaigns: ``licenses_*``, ``license_starved_share``)."""
    licensed = [c for c in s.campaigns if "license_pool" in c]
    if not licensed:
        return
    rows = []
    for pool in dict.fromkeys(c["license_pool"] for c in licensed):
        cs = [c for c in licensed if c["license_pool"] == pool]
        starved = [c for c in cs if c["license_starved_share"] > 0]
        rows.append([pool.replace("_agents", ""), fmt_kpi("", cs[0]["license_pool_size"]),
                     fmt_kpi("", len(cs)),
                     f"{sum(c['licenses_allocated_mean'] for c in cs):,.1f}",
                     f"{sum(c['licenses_in_use_mean'] for c in cs):,.1f}",
                     f"{len(starved):,}"])
    app.table("agent licenses by type", ["pool", "size", "jobs", "allocated", "in use",
                                         "jobs starved"], rows,
              caption="means over the measured window; a job starves while agents with "
                      "its skill and no job wait for want of its license")
    worst = sorted((c for c in licensed if c["license_starved_share"] > 0),
                   key=lambda c: -c["licenses_short_mean"])[:5]
    for c in worst:
        app.info(f"license-starved: {c['name']} ({c['license_pool']}): "
                 f"{c['licenses_short_mean']:.1f} licenses short on average, "
                 f"{100 * c['license_starved_share']:.0f} % of the time")


def print_intervals(app: Application, s: Summary, start: datetime) -> None:
    """The measured intervals as a table, each labelled with its time of day on the
    scenario's clock (``start`` is the run clock's 0, with the scenario's UTC offset)."""
    rows = []
    # seconds too when the rows do not start on whole minutes (intervals of 30 s, a
    # warm-up of 13 s): each row its own label, not one '15:00' after another
    fmt = "%H:%M" if all(float(r["t_start_s"]) % 60 == 0 for r in s.intervals) \
        else "%H:%M:%S"
    for r in s.intervals:
        at = start + timedelta(seconds=r["t_start_s"])
        rows.append([at.strftime(fmt), fmt_kpi("", r["attempts"]),
                     fmt_kpi("", r["live_answers"]), fmt_kpi("", r["abandons"]),
                     fmt_kpi("abandon_rate", r["abandon_rate"]),
                     f"{r['staffed_mean'] + r.get('unassigned_mean', 0.0):.1f}",
                     fmt_kpi("occupancy", r["occupancy"]),
                     f"{r['in_flight_mean'] / r['staffed_mean']:.2f}"
                     if r["staffed_mean"] > 0 else "-"])
    app.table(f"{s.scenario}: per interval (mean of {s.replications} replication(s))",
              ["start", "attempts", "live", "abandons", "abandon", "agents", "occupancy",
               "dial level"], rows)


def write_outputs(out: Path, s: Summary, records: Sequence[dict], scn: Scenario,
                  a: Assessment | None = None, keep_warmup: bool = False) -> list[Path]:
    """Attempts and intervals as Parquet (all replications), KPI summary as JSON.

    ``records`` are ``sim.plan.task.run_task`` records carrying their tables. The tables
    follow ``docs/outputs.md`` (``sim.plan.tables``): names for channel, code and pacing,
    nulls, ``_s`` seconds; warm-up rows are left out unless ``keep_warmup`` (then flagged
    ``in_warmup``)."""
    out.mkdir(parents=True, exist_ok=True)
    att = pl.concat([attempts_table(r["attempts"], scn, keep_warmup)
                     .with_columns(pl.lit(i).alias("replication"))
                     for i, r in enumerate(records)])
    iv = pl.concat([intervals_table(r["intervals"], scn, keep_warmup)
                    .with_columns(pl.lit(i).alias("replication"))
                    for i, r in enumerate(records)])
    paths = [out / "attempts.parquet", out / "intervals.parquet", out / "kpis.json"]
    att.write_parquet(paths[0])
    iv.write_parquet(paths[1])
    if records and records[0].get("inbound_calls") is not None:
        lo, hi = scn.warmup_s, scn.warmup_s + scn.sim_s
        # as the attempts and intervals: the warm-up's rows flagged ``in_warmup`` and left
        # out unless ``keep_warmup`` (a call by when it was decided, an interval by its start)
        for name, key, t in (("inbound_calls.parquet", "inbound_calls", "t_decided_s"),
                             ("inbound_intervals.parquet", "inbound_intervals", "t_start_s")):
            frame = pl.concat([r[key].with_columns(pl.lit(i).alias("replication"))
                               for i, r in enumerate(records)])
            frame = frame.filter(pl.col(t) < hi).with_columns(
                (pl.col(t) < lo - 1e-9).alias("in_warmup"))
            if not keep_warmup:
                frame = frame.filter(~pl.col("in_warmup"))
            paths.append(out / name)
            frame.write_parquet(paths[-1])
    paths[2].write_text(json.dumps(json_safe(summary_json(s, a, scn.source)), indent=2))
    return paths


def _per_interval(records: Sequence[dict], scn: Scenario) -> pl.DataFrame:
    """The measured intervals of every replication, pooled: counts summed over campaigns
    and replications, means per replication averaged, one row per interval (``width_s``:
    its measured seconds, the last cut at the run's end); with each
    replication's logged-in agents on no job (``unassigned_mean`` of its interval rows),
    which the occupancy counts as the run's KPI does."""
    reps = len(records)
    frames = [intervals_table(r["intervals"], scn).with_columns(pl.lit(i).alias("rep"))
              for i, r in enumerate(records)]
    iv = pl.concat(frames)
    by_rep = (iv.group_by("interval", "time", "t_start_s", "rep")
              .agg(pl.col("live_answers").sum(), pl.col("abandons").sum(),
                   pl.col("attempts").sum(), pl.col("busy_mean").sum(),
                   pl.col("staffed_mean").sum(), pl.col("in_flight_mean").sum(),
                   pl.col("ports_mean").sum(),  # each campaign's own ports
                   *[pl.col("attempts").filter(pl.col("channel") == ch).sum().alias(ch)
                     for ch in CHANNEL_NAMES]))
    unassigned = pl.DataFrame(
        [{"rep": i, "t_start_s": row["t_start_s"],
          "unassigned_mean": row.get("unassigned_mean", 0.0)}
         for i, r in enumerate(records) for row in r.get("interval_rows") or []],
        schema={"rep": pl.Int32, "t_start_s": pl.Float64, "unassigned_mean": pl.Float64})
    by_rep = (by_rep.with_columns(pl.col("rep").cast(pl.Int32))
              .join(unassigned, on=["rep", "t_start_s"], how="left")
              .with_columns(pl.col("unassigned_mean").fill_null(0.0)))
    counts = ["live_answers", "abandons", "attempts", *CHANNEL_NAMES]
    means = ["busy_mean", "staffed_mean", "in_flight_mean", "ports_mean", "unassigned_mean"]
    return (by_rep.group_by("interval", "time", "t_start_s")
            .agg(*[pl.col(c).sum() for c in counts], *[(pl.col(c).sum() / reps).alias(c)
                                                        for c in means])
            .sort("interval")
            # the measured seconds of each interval: the last is cut at the run's end
            .with_columns((pl.min_horizontal(pl.col("t_start_s") + scn.interval_s,
                                             pl.lit(scn.end_s)) - pl.col("t_start_s"))
                          .alias("width_s")))


def write_plots(out: Path, records: Sequence[dict], scn: Scenario) -> list[Path]:
    """PNGs over the measured window (warm-up left out), replications pooled, on the
    scenario's clock (hh:mm at its start's UTC offset, as ``--intervals`` and the
    profiles' "HH:MM" points read it): abandon rate against its limit (each rule's, when
    the campaigns follow several), occupancy, ports in use
    against the ports, dial level against the lines-per-agent cap, attempts per hour by
    channel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    per = _per_interval(records, scn)
    if per.height == 0:
        return []
    start = scn.start_local or scn.start  # the clock --intervals and "HH:MM" points use
    when = [(start + timedelta(seconds=float(t))).replace(tzinfo=None)
            for t in per["t_start_s"].to_list()]
    offset = start.strftime("%z")
    clock = "UTC" if offset in ("", "+0000") else f"UTC{offset[:3]}:{offset[3:]}"
    live = per["live_answers"].to_numpy()
    ab = per["abandons"].to_numpy()
    cum_rate = ab.cumsum() / live.cumsum().clip(min=1)
    staffed = per["staffed_mean"].to_numpy()
    per_hour = 3600.0 / per["width_s"].clip(lower_bound=1e-9).to_numpy() / len(records)
    agent = [c for c in scn.campaigns if c.agent_based]
    cap = max((c.max_lines_per_agent for c in agent), default=None)
    groups = rule_groups(scn)
    limits = [(100 * g.regulation.abandon_limit, f"{g.label} limit"
               + (f" ({', '.join(g.templates)})" if len(groups) > 1 else ""), colour)
              for g, colour in zip(groups, ("red", "darkorange", "purple", "brown") * 25,
                                   strict=False)]
    specs = [
        ("abandon_rate.png", "Abandon rate, cumulative over the measured window",
         {"abandon rate": 100 * cum_rate}, "% of live answers", limits),
        ("occupancy.png", "Agent occupancy (busy / logged in, on a job or not)",
         {"occupancy": 100 * per["busy_mean"].to_numpy()
          / (staffed + per["unassigned_mean"].to_numpy()).clip(min=1e-9)}, "%",
         [(100.0, "all agents busy", "grey")]),
        ("ports.png", "Telephony ports in use (interval mean)",
         {"ports in use": per["ports_mean"].to_numpy()}, "ports",
         [(float(scn.ports), f"ports {scn.ports:,}", "red")]),
        ("dial_level.png", "Dial level (calls in flight per staffed agent)",
         {"dial level": per["in_flight_mean"].to_numpy() / staffed.clip(min=1e-9)},
         "lines per agent",
         [] if cap is None else [(cap, f"cap {cap:g} lines per agent", "red")]),
        ("attempts.png", "Attempts completed per hour, by channel",
         {ch: per[ch].to_numpy() * per_hour for ch in CHANNEL_NAMES if per[ch].sum() > 0},
         "attempts per hour", []),
    ]
    if not agent:
        specs = [sp for sp in specs if sp[0] in ("ports.png", "attempts.png")]
    paths = []
    for name, title, curves, ylabel, lines in specs:
        fig, ax = plt.subplots(figsize=(8, 3.5))
        for label, y in curves.items():
            ax.plot(when, y, lw=1.5, label=label)
        for y, label, colour in lines:
            ax.axhline(y, color=colour, ls="--", lw=1, label=label)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
        ax.set_title(f"{scn.name}: {title}")
        ax.set_xlabel(f"scenario clock, {clock} ({len(records)} replication(s) pooled; "
                      "warm-up left out)")
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        fig.tight_layout()
        p = out / name
        fig.savefig(p, dpi=100)
        plt.close(fig)
        paths.append(p)
    return paths

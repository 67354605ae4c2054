"""A planner's answer for one scenario: resources, the verdict on its targets, the platform.

``assess`` ties together what ``simulate`` (and each row of ``compare``, ``sweep`` and
``size``) ends with: the resources the scenario gave (agents, ports, jobs, licenses), each
declared target judged on its interval (``sim.plan.verdict``), a warning for every campaign
over its abandon limit, and the platform the load needs against the documented sizing
(``sim.plan.platform``), with its warnings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.vocab import CHANNEL_NAMES
from sim.plan.limits import rule_groups
from sim.plan.platform import KAFKA_RETENTION_H, Platform, platform_load, size_platform
from sim.plan.stats import summarise, summarise_rows
from sim.plan.verdict import TargetResult, campaigns_over_limit, evaluate, verdict_line
from sim.scenario import Scenario

# The port pool is the bottleneck when this share of it is in use on average over the
# measured window: the dialler launches agent-based calls into free ports only (it holds
# the rest back), so a pool this busy caps dialling, whatever the agents could take.
PORTS_BUSY_SHARE = 0.95


@dataclass
class Assessment:
    """Everything after the KPIs: see the module docstring."""

    resources: dict[str, Any]
    targets: list[TargetResult]
    verdict: str
    platform: Platform
    warnings: list[str] = field(default_factory=list)

    @property
    def targets_met(self) -> bool | None:
        """True when every declared target is met, False when one is missed, else None
        (undecided, or no target declared)."""
        if not self.targets:
            return None
        if any(t.met is False for t in self.targets):
            return False
        return True if all(t.met for t in self.targets) else None

    def row(self) -> dict[str, Any]:
        """Flat columns for one row of ``compare``, ``sweep`` or ``size`` (scalars only)."""
        p = self.platform
        return {"targets_verdict": self.verdict, "targets_met": self.targets_met,
                "platform_tier": p.tier, "voice_portal_ports": p.voice_portal_ports,
                "db_provision_gb": p.db_provision_gb,
                "agent_manager_memory_gb": p.agent_manager_memory_gb,
                "kafka_disk_gb": p.kafka_disk_gb,
                "platform_warnings": "; ".join(p.warnings)}

    def as_dict(self) -> dict[str, Any]:
        """``resources``, ``targets`` (name, target, value, lo, hi, met, margin, ...),
        ``verdict``, ``platform`` (units in the keys) and ``warnings``."""
        return {"resources": self.resources,
                "targets": [t.as_dict() for t in self.targets],
                "verdict": self.verdict, "platform": self.platform.as_dict(),
                "warnings": list(self.warnings)}


def resources(scn: Scenario) -> dict[str, Any]:
    """What the scenario gives the load: agents, telephony ports, concurrent jobs, licenses."""
    return {"agents": scn.total_agents, "ports": scn.ports, "jobs": len(scn.campaigns),
            "licenses": dict(scn.license_pools), "license_mode": scn.license_mode}


def assess(scn: Scenario, total: Mapping[str, Any], ci95: Mapping[str, Any],
           campaigns: Sequence[Mapping[str, Any]], records: Sequence[Mapping[str, Any]],
           retention_h: float = KAFKA_RETENTION_H) -> Assessment:
    """The assessment of a scenario's replications.

    Args:
        scn: the scenario run.
        total, ci95, campaigns: the aggregated KPIs (``sim.plan.stats.Summary``).
        records: the replications' records (``sim.plan.task.run_task``), for the platform
            figures and any measured event volume.
        retention_h: Kafka retention in hours for the event disk.
    """
    reps = len(records)
    targets = evaluate(scn.targets, total, ci95, reps, scn.sim_hours)
    warnings = limit_warnings(scn, campaigns, reps)
    hours = max(scn.sim_hours, 1e-12)
    by_channel = total.get("attempts_by_channel") or {}
    per_hour = {ch: float(total.get(f"attempts_{ch}", by_channel.get(ch, 0.0))) / hours
                for ch in CHANNEL_NAMES}
    load = platform_load(scn, per_hour, [r.get("platform") or {} for r in records],
                         [r.get("events") for r in records])
    platform = size_platform(load, retention_h=retention_h)
    warnings += list(platform.warnings)
    warnings += port_warnings(scn.ports, total)
    warnings += port_license_warnings(scn, total)
    warnings += carrier_warnings(scn.ports, scn.carrier_cps, records)
    warnings += idle_agent_warnings(scn, records)
    for t in targets:
        if t.met is False:
            warnings.append(f"target {t.name} ({t.target}) missed: {t.note}")
    return Assessment(resources(scn), targets, verdict_line(targets), platform, warnings)


def limit_warnings(scn: Scenario, campaigns: Sequence[Mapping[str, Any]],
                   replications: int) -> list[str]:
    """``campaigns_over_limit`` for each rule the agent-based campaigns are held to
    (``sim.plan.limits.rule_groups``): each campaign against its own limit, in its own mode
    (``campaigns``: the aggregated per-campaign KPIs, in the scenario's order)."""
    if len(campaigns) != len(scn.campaigns):
        return []
    out: list[str] = []
    for g in rule_groups(scn):
        r = g.regulation
        out += campaigns_over_limit([campaigns[j] for j in g.jobs], r.abandon_limit, r.mode,
                                    replications)
    return out


def port_warnings(ports: int, total: Mapping[str, Any]) -> list[str]:
    """A warning when the telephony ports (``ports``, the pool's size) were in use
    ``PORTS_BUSY_SHARE`` of the time or more on average (``total["ports_mean"]``): the
    pool, not the agents, limits dialling; with the agents' occupancy it was reached at."""
    mean = total.get("ports_mean")
    if ports <= 0 or not isinstance(mean, int | float) or mean < PORTS_BUSY_SHARE * ports:
        return []
    occ = total.get("occupancy")
    at = f" (agent occupancy {100 * occ:.1f} %)" if isinstance(occ, int | float) else ""
    return [f"telephony ports: {mean:,.1f} of {ports:,} in use on average "
            f"({100 * mean / ports:.1f} %): the port pool limits dialling{at}, since the "
            f"dialler launches calls into free ports only; `outdial size --find ports` "
            f"finds the ports the load needs"]


def port_license_warnings(scn: Scenario, total: Mapping[str, Any]) -> list[str]:
    """A warning when notification attempts were blocked for want of a licensed outbound
    port (``total["port_blocked"]``, per replication): the port licenses' split
    (``licenses.outbound_ports`` in ``licenses.mode``), not the voice portal, turned them
    away; the KPIs counted them as blocked with no word of why."""
    blocked = float(total.get("port_blocked") or 0.0)
    if scn.port_pool is None or not blocked > 0:
        return []
    return [f"outbound-port licenses: {blocked:,.1f} notification attempts per replication "
            f"blocked for want of a licensed port (licenses.outbound_ports = "
            f"{scn.port_pool:,}, split {scn.license_mode}: each job launches within its "
            "share); raise it or a job's max_ports / min_ports, or split it by demand with "
            "licenses.mode = \"dynamic\""]


IDLE_SHARE = 0.10  # the share of logged-in agent time on no job that is worth a warning


def idle_agent_warnings(scn: Scenario, records: Sequence[Mapping[str, Any]]) -> list[str]:
    """A warning when the dialer's agents were logged in on no job ``IDLE_SHARE`` or more
    of their logged-in time in the measured window (the records' ``interval_rows``:
    ``unassigned_mean`` against it plus ``staffed_mean``, each interval weighted by its
    measured seconds): idle and paid, counted in the occupancy, and in no job's row."""
    idle = logged = 0.0
    for r in records:
        rows = r.get("interval_rows") or []
        if not rows:
            continue
        starts = [float(x["t_start_s"]) for x in rows]
        ends = [*starts[1:], scn.end_s]
        for x, t0, t1 in zip(rows, starts, ends, strict=True):
            w = max(t1 - t0, 0.0)
            un = float(x.get("unassigned_mean", 0.0))
            idle += w * un
            logged += w * (un + float(x.get("staffed_mean", 0.0)))
    if not logged > 0 or idle < IDLE_SHARE * logged:
        return []
    span = len(records) * scn.sim_s
    return [f"agents on no job: {idle / span:,.1f} of the {logged / span:,.1f} agents logged "
            f"in on average ({100 * idle / logged:.0f} % of their time) had no job to work: "
            "their jobs not running (not started, finished or stopped), at max_agents, "
            "short of licenses, or none holding their skill; idle, and counted in the "
            "occupancy (`--intervals` shows when)"]


def carrier_warnings(ports: int, carrier_cps: float,
                     records: Sequence[Mapping[str, Any]]) -> list[str]:
    """A warning when attempts were blocked in a replication whose telephony ports never
    all were in use and not for want of a licensed outbound port: the carrier's call-setup
    rate (``carrier_cps``) turned them away (a timed call finding no setup in the next
    second is blocked, as one finding no port), and more ports would not help."""
    blocked = peak = 0.0
    for r in records:
        k = r.get("kpis") or {}
        lost = float(k.get("blocked", 0.0)) - float(k.get("port_blocked", 0.0))
        if lost > 0 and float(k.get("ports_peak", ports)) < ports:
            blocked += lost
            peak = max(peak, float(k.get("ports_peak", 0.0)))
    if not blocked:
        return []
    return [f"carrier: {blocked / len(records):,.1f} attempts per replication blocked while "
            f"at most {peak:,.0f} of the {ports:,} telephony ports were in use: the "
            f"carrier's {carrier_cps:g} call setups per second (telephony.carrier_cps) "
            "turned them away, not the ports"]


def assess_records(scn: Scenario, records: Sequence[Mapping[str, Any]]) -> Assessment:
    """:func:`assess` straight from the replications' records (aggregated here)."""
    if all("campaigns" in r for r in records):
        s = summarise(records, scn.name, scn.sim_hours, 0.0)
        return assess(scn, s.total, s.ci95, s.campaigns, records)
    means, ci = summarise_rows([r["kpis"] for r in records])  # KPI rows only
    return assess(scn, means, ci, [], records)

"""The platform a simulated load needs, against the reference platform's documented sizing.

Pure arithmetic over a run's load figures (:class:`PlatformLoad`) and the published sizing
facts of the reference outbound platform, *Implementing Avaya Proactive Outreach Manager*
(Avaya documentation: "Database server requirements", "Hardware requirements", "Kafka
configuration", "Agent Manager" sizing). Every fact below carries that source in
:data:`SOURCE`; a warning names the limit it crosses and the source.

Units are in the names: ``_per_hour``, ``_per_s``, ``_gb`` (10^9 bytes), ``_h``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

SOURCE = "Implementing Avaya Proactive Outreach Manager (Avaya documentation)"

# The documented 60,000 busy-hour call completions (BHCC) and its mix, attempts per hour, by
# channel (database server requirements).
DOCUMENTED_BHCC = 60_000
DOCUMENTED_MIX_PER_HOUR: dict[str, int] = {
    "voice_agent": 48_000,
    "voice_agentless": 2_000,
    "sms": 5_000,
    "email": 5_000,
}
DOCUMENTED_AGENTS = 1000
DOCUMENTED_JOBS = 200
MAX_AGENTS = 2000  # the largest documented agent tier
MAX_NOTIFICATION_PORTS = 2200  # the documented notification-port tier
# Operational database: at least 5 GB for the documented load; indexes may grow to twice the
# data size.
DB_DATA_GB = 5.0
DB_INDEX_FACTOR = 2.0
# Agent manager: 3 GB of memory recommended for 1000 logged-in agents.
AGENT_MANAGER_GB_PER_1000_AGENTS = 3.0
# Event data: about 50 GB per million attempts; Kafka keeps 7 days (log.retention.hours=168).
EVENT_GB_PER_MILLION_ATTEMPTS = 50.0
KAFKA_RETENTION_H = 168.0

_SMALL_SERVER = "16 CPU, 12 GB RAM, 300 GB disk (or 24 CPU, 32 GB RAM, 500 GB disk)"
_LARGE_SERVER = "24 CPU, 32 GB RAM, 500 GB disk (application server: 16 CPU, 12 GB RAM, " \
                "300 GB disk may do)"


@dataclass(frozen=True)
class Tier:
    """One documented hardware tier (database and application server alike)."""

    tier: int
    min_agents: int
    max_agents: int
    max_notification_ports: int
    max_jobs: int
    servers: str

    def describe(self) -> str:
        who = (f"{self.min_agents}-{self.max_agents} agents, 0 notification ports"
               if self.max_agents else f"0 agents, 1-{self.max_notification_ports} "
                                       "notification ports")
        return f"tier {self.tier}: {who}, {self.max_jobs} concurrent jobs"


TIERS: tuple[Tier, ...] = (
    Tier(1, 1, 500, 0, 100, _SMALL_SERVER),
    Tier(2, 500, 1000, 0, 200, _LARGE_SERVER),
    Tier(3, 1000, 2000, 0, 200, _LARGE_SERVER),
    Tier(4, 0, 0, MAX_NOTIFICATION_PORTS, 50, _LARGE_SERVER),
)


@dataclass(frozen=True)
class PlatformLoad:
    """What a run asked of the platform (measured window only).

    Attributes:
        agents: agents logged in (the scenario's staff).
        jobs: concurrent jobs (campaigns running together).
        notification_ports_peak: ports held by agentless voice jobs at their peak.
        customer_legs_peak: telephony ports in use at the peak (every voice call's
            customer leg).
        agent_legs_peak: agent-based calls connected to an agent at the peak (each needs a
            second, agent-side leg on the voice portal).
        attempts_per_hour: attempts per hour by channel name (``voice_agent``,
            ``voice_agentless``, ``sms``, ``email``).
        peak_per_s: largest per-interval attempt rate per second by channel.
        events_per_hour: engine events per hour counted from the run's event stream
            (``None`` when the run did not measure them).
        event_bytes_per_hour: their serialised size in bytes per hour (``None`` likewise).
        measured_hours: simulated hours the rates rest on (all replications together); a
            rate counts as over a documented figure only when it is more than three Poisson
            standard deviations above it, so chance alone does not warn.
    """

    agents: int
    jobs: int
    notification_ports_peak: int
    customer_legs_peak: int
    agent_legs_peak: int
    attempts_per_hour: Mapping[str, float]
    peak_per_s: Mapping[str, float] = field(default_factory=dict)
    events_per_hour: float | None = None
    event_bytes_per_hour: float | None = None
    measured_hours: float = 1.0

    @property
    def bhcc(self) -> float:
        return float(sum(self.attempts_per_hour.values()))


@dataclass(frozen=True)
class Platform:
    """The platform a load needs. ``warnings`` name each documented limit crossed."""

    tier: int | None
    tier_description: str
    servers: str
    agents: int
    jobs: int
    notification_ports_peak: int
    voice_portal_ports: int
    customer_legs_peak: int
    agent_legs_peak: int
    bhcc: float
    attempts_per_hour: dict[str, float]
    sms_per_hour: float
    email_per_hour: float
    sms_peak_per_s: float
    email_peak_per_s: float
    db_data_gb: float
    db_index_gb: float
    db_provision_gb: float
    agent_manager_memory_gb: float
    events_per_hour: float | None
    event_bytes_per_hour: float | None
    event_source: str
    kafka_retention_h: float
    kafka_disk_gb: float
    kafka_disk_documented_gb: float
    warnings: tuple[str, ...]
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["warnings"] = list(self.warnings)
        d["notes"] = list(self.notes)
        d["source"] = SOURCE
        return d


def choose_tier(agents: int, notification_ports: int, jobs: int) -> Tier | None:
    """The smallest documented tier carrying the load, or ``None`` when none does.

    With agents, the smallest agent tier holding the agents and the jobs (its notification
    ports, none, are checked by :func:`size_platform`'s warnings); without agents but with
    notification ports, the port tier when it holds the ports and the jobs; with neither
    (SMS and email only), the first tier holding the jobs.
    """
    if agents > 0:
        candidates = [t for t in TIERS if t.max_agents >= agents]
    elif notification_ports > 0:
        candidates = [t for t in TIERS
                      if t.max_agents == 0 and t.max_notification_ports >= notification_ports]
    else:
        candidates = list(TIERS)
    return next((t for t in candidates if t.max_jobs >= jobs), None)


def size_platform(load: PlatformLoad, retention_h: float = KAFKA_RETENTION_H,
                  replication_factor: int = 1) -> Platform:
    """Size the platform for ``load`` from the documented facts.

    - **Tier**: :func:`choose_tier` on agents, notification ports at their peak and jobs;
      when the agents and notification ports are together, the agent tier is named and a
      warning says the port tier carries no agents.
    - **Operational database**: the documented 5 GB covers the documented load (1000 agents,
      200 jobs, 60,000 BHCC); a larger load scales it by its largest ratio to those figures
      (proportional growth is an assumption). Indexes may grow to twice the data size, so
      ``db_provision_gb = data + 2 x data``.
    - **Agent manager memory**: 3 GB per 1000 logged-in agents, proportional (documented at
      1000; proportional elsewhere is an assumption).
    - **Events and Kafka**: ``kafka_disk_gb = event bytes per hour x retention_h x
      replication_factor`` with the bytes measured from the run's serialised events; the
      documented rate (50 GB per million attempts) is given beside it as
      ``kafka_disk_documented_gb`` and used when the run did not measure its events.
    - **Voice-portal ports**: customer legs at the peak plus the agent legs of agent-based
      calls at the peak (the voice portal's ports must cover the dialer's ports, and
      agent-based campaigns need SIP ports for the agent's leg).

    Args:
        load: the run's load figures.
        retention_h: Kafka retention in hours (``log.retention.hours``, default 168).
        replication_factor: Kafka topic replication factor (copies on disk), >= 1.

    Raises:
        ValueError: on a negative count, a non-positive retention or replication factor.
    """
    for name in ("agents", "jobs", "notification_ports_peak", "customer_legs_peak",
                 "agent_legs_peak"):
        if getattr(load, name) < 0:
            raise ValueError(f"{name} must be >= 0, got {getattr(load, name)}")
    if not (math.isfinite(retention_h) and retention_h > 0):
        raise ValueError(f"retention_h must be > 0, got {retention_h!r}")
    if replication_factor < 1:
        raise ValueError(f"replication_factor must be >= 1, got {replication_factor!r}")
    agents, ports, jobs = load.agents, load.notification_ports_peak, load.jobs
    per_hour = {ch: float(load.attempts_per_hour.get(ch, 0.0)) for ch in DOCUMENTED_MIX_PER_HOUR}
    for ch, v in load.attempts_per_hour.items():
        per_hour.setdefault(ch, float(v))
    bhcc = load.bhcc
    warnings: list[str] = []

    def over(rate: float, limit: float) -> bool:
        hours = max(load.measured_hours, 1e-9)
        return rate > limit + 3.0 * math.sqrt(limit * hours) / hours

    src = f"({SOURCE}, hardware requirements)"
    if agents > MAX_AGENTS:
        warnings.append(f"{agents:,} agents: more than the {MAX_AGENTS:,} of the largest "
                        f"documented tier {src}")
    if ports > MAX_NOTIFICATION_PORTS:
        warnings.append(f"{ports:,} notification ports at the peak: more than the documented "
                        f"{MAX_NOTIFICATION_PORTS:,}-port tier {src}")
    notes: list[str] = []
    agentless_h = float(load.attempts_per_hour.get("voice_agentless", 0.0))
    if agents > 0 and ports > 0:
        both = (f"{agents:,} agents and {ports:,} notification ports together: the documented "
                "agent tiers carry no notification ports and the "
                f"{MAX_NOTIFICATION_PORTS:,}-port tier carries no agents {src}")
        limit = DOCUMENTED_MIX_PER_HOUR["voice_agentless"]
        if not over(agentless_h, limit):
            notes.append(both + f"; the documented 60,000 BHCC mix does include up to {limit:,} "
                         "agentless attempts per hour beside the agents (database server "
                         "requirements), so the tier is chosen by the agents")
        else:
            warnings.append(both)
    tier = choose_tier(agents, ports, jobs)
    if tier is None:
        if agents > 0:
            fits = [t for t in TIERS if t.max_agents >= agents] or [TIERS[2]]
        else:
            fits = [t for t in TIERS if t.max_agents == 0]
        limit = max(t.max_jobs for t in fits)
        if jobs > limit:
            who = f"{agents:,} agents" if agents > 0 else f"{ports:,} notification ports"
            warnings.append(f"{jobs:,} concurrent jobs: more than the {limit:,} jobs of the "
                            f"documented tier for {who} {src}")
    db_src = f"({SOURCE}, database server requirements)"
    if over(bhcc, DOCUMENTED_BHCC):
        warnings.append(f"{bhcc:,.0f} attempts per hour: more than the documented "
                        f"{DOCUMENTED_BHCC:,} BHCC {db_src}")
    for ch, limit in DOCUMENTED_MIX_PER_HOUR.items():
        if over(per_hour[ch], limit):
            warnings.append(f"{per_hour[ch]:,.0f} {ch} attempts per hour: more than the "
                            f"documented {limit:,} of the 60,000 BHCC mix {db_src}")
    scale = max(1.0, bhcc / DOCUMENTED_BHCC, agents / DOCUMENTED_AGENTS, jobs / DOCUMENTED_JOBS)
    data_gb = DB_DATA_GB * scale
    index_gb = DB_INDEX_FACTOR * data_gb
    attempts_h = bhcc
    documented_bytes_h = attempts_h * EVENT_GB_PER_MILLION_ATTEMPTS * 1e9 / 1e6
    measured = load.event_bytes_per_hour is not None
    bytes_h = load.event_bytes_per_hour if measured else documented_bytes_h
    return Platform(
        tier=None if tier is None else tier.tier,
        tier_description="no documented tier" if tier is None else tier.describe(),
        servers="-" if tier is None else tier.servers,
        agents=agents,
        jobs=jobs,
        notification_ports_peak=ports,
        voice_portal_ports=load.customer_legs_peak + load.agent_legs_peak,
        customer_legs_peak=load.customer_legs_peak,
        agent_legs_peak=load.agent_legs_peak,
        bhcc=bhcc,
        attempts_per_hour=per_hour,
        sms_per_hour=per_hour["sms"],
        email_per_hour=per_hour["email"],
        sms_peak_per_s=float(load.peak_per_s.get("sms", 0.0)),
        email_peak_per_s=float(load.peak_per_s.get("email", 0.0)),
        db_data_gb=data_gb,
        db_index_gb=index_gb,
        db_provision_gb=data_gb + index_gb,
        agent_manager_memory_gb=AGENT_MANAGER_GB_PER_1000_AGENTS * agents / 1000.0,
        events_per_hour=load.events_per_hour,
        event_bytes_per_hour=bytes_h,
        event_source="measured" if measured else "documented 50 GB per million attempts",
        kafka_retention_h=retention_h,
        kafka_disk_gb=bytes_h * retention_h * replication_factor / 1e9,
        kafka_disk_documented_gb=documented_bytes_h * retention_h * replication_factor / 1e9,
        warnings=tuple(warnings),
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------- from a run


def peak_concurrent(starts: Any, ends: Any, lo: float, hi: float) -> int:
    """Most intervals ``[start, end)`` open at once inside ``[lo, hi)`` (a sweep over ends).

    Intervals with a missing (NaN or negative) start or end are ignored; an interval open at
    ``lo`` counts from ``lo``.
    """
    import numpy as np

    s = np.asarray(starts, dtype=np.float64)
    e = np.asarray(ends, dtype=np.float64)
    ok = np.isfinite(s) & np.isfinite(e) & (s >= 0) & (e > s) & (e > lo) & (s < hi)
    s, e = np.maximum(s[ok], lo), np.minimum(e[ok], hi)
    if s.size == 0:
        return 0
    times = np.concatenate([e, s])
    steps = np.concatenate([-np.ones(e.size), np.ones(s.size)])
    order = np.lexsort((steps, times))  # at equal times an end closes before a start opens
    return int(np.cumsum(steps[order]).max())


def _column(df: Any, *names: str) -> Any:
    for n in names:
        if n in df.columns:
            return df[n].fill_null(-1.0).to_numpy()
    raise KeyError(f"none of the columns {names} in the attempts table")


def run_figures(scenario: Any, attempts: Any, intervals: Any, total: Mapping[str, Any],
                campaigns: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The platform figures of one run, small and JSON-able (a run record keeps them).

    ``customer_legs_peak`` (ports in use at the peak), ``notification_ports_peak`` (agentless
    voice calls in progress at once, from their launch and end times, never above the
    campaigns' own peaks added up),
    ``agent_legs_peak`` (agent-based calls talking to an agent at once, from the attempts'
    connect and talk-end times, exact) and ``peak_per_s`` (each channel's busiest interval,
    attempts per second), all inside the measured window.
    """
    import polars as pl

    lo = float(scenario.warmup_s)
    hi = lo + float(scenario.sim_hours) * 3600.0
    channel_of = {c.name: c.channel for c in scenario.campaigns}
    agent_legs = 0
    summed = sum(math.ceil(c.get("ports_peak", 0)) for c in campaigns
                 if c.get("channel") == "voice_agentless")
    notify = summed
    if attempts.height:
        names = [n for n, ch in channel_of.items() if ch == "voice_agent"]
        mine = attempts.filter(pl.col("campaign").is_in(names))
        agent_legs = peak_concurrent(_column(mine, "t_connect_s", "t_connect"),
                                     _column(mine, "t_talk_end_s", "t_talk_end"), lo, hi)
        names = [n for n, ch in channel_of.items() if ch == "voice_agentless"]
        if names:  # a notification call holds its port from launch to its end
            mine = attempts.filter(pl.col("campaign").is_in(names))
            joint = peak_concurrent(_column(mine, "t_created_s", "t_created"),
                                    _column(mine, "t_end_s", "t_end"), lo, hi)
            notify = min(summed, joint) if summed else joint
    peak_rate: dict[str, float] = {}
    if intervals.height and "attempts" in intervals.columns:
        start_col = "t_start_s" if "t_start_s" in intervals.columns else "t_start"
        measured = intervals.filter(pl.col(start_col) >= lo - 1e-9)
        for ch in sorted(set(channel_of.values())):
            names = [n for n, c in channel_of.items() if c == ch]
            sub = measured.filter(pl.col("campaign").is_in(names))
            if sub.height:
                top = sub.group_by("interval").agg(pl.col("attempts").sum())["attempts"].max()
                peak_rate[ch] = float(top) / float(scenario.interval_s)
    return {
        "customer_legs_peak": math.ceil(total.get("ports_peak", 0)),
        "notification_ports_peak": int(notify),
        "agent_legs_peak": int(agent_legs),
        "peak_per_s": peak_rate,
    }


def platform_load(scenario: Any, attempts_per_hour: Mapping[str, float],
                  figures: Sequence[Mapping[str, Any]],
                  events: Sequence[Mapping[str, Any] | None] = ()) -> PlatformLoad:
    """A :class:`PlatformLoad` from a scenario and its replications' figures.

    Args:
        scenario: the ``sim.scenario.Scenario`` run (agents, campaigns, hours); its
            agents are the dialer's (outbound groups): a dedicated inbound desk is the
            ACD's, neither logged in to the platform nor counted in its tiers.
        attempts_per_hour: mean attempts per hour by channel over the replications.
        figures: :func:`run_figures` of each replication (peaks: the largest is taken).
        events: each replication's ``engine.event_volume.EventVolume.as_dict()``, or None
            where a run did not measure its events (the documented rate is used then).
    """
    figures = list(figures)
    peak_rate: dict[str, float] = {}
    for f in figures:
        for ch, v in (f.get("peak_per_s") or {}).items():
            peak_rate[ch] = max(peak_rate.get(ch, 0.0), float(v))
    vols = [v for v in events if v]
    events_h = bytes_h = None
    if vols:
        events_h = sum(v["events"] / v["window_s"] * 3600.0 for v in vols) / len(vols)
        bytes_h = sum(v["bytes"] / v["window_s"] * 3600.0 for v in vols) / len(vols)

    def top(key: str) -> int:
        return max((int(f.get(key, 0)) for f in figures), default=0)

    return PlatformLoad(
        agents=int(scenario.dialer_agents),  # the platform's agents: not the ACD's desks
        jobs=len(scenario.campaigns),
        notification_ports_peak=top("notification_ports_peak"),
        customer_legs_peak=top("customer_legs_peak"),
        agent_legs_peak=top("agent_legs_peak"),
        attempts_per_hour=dict(attempts_per_hour),
        peak_per_s=peak_rate,
        events_per_hour=events_h,
        event_bytes_per_hour=bytes_h,
        measured_hours=float(scenario.sim_hours) * max(1, len(figures)),
    )

"""sim.plan.platform against the documented sizing facts, and the run's own event stream."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.event_volume import EventVolume
from engine.sinks import MemorySink, TeeSink, dump_bytes
from sim.plan.platform import (
    PlatformLoad,
    choose_tier,
    peak_concurrent,
    platform_load,
    run_figures,
    size_platform,
)
from sim.run import simulate
from sim.scenario import load

SCN = Path(__file__).resolve().parent.parent / "scenarios"
DOC_MIX = {"voice_agent": 48_000.0, "voice_agentless": 2_000.0, "sms": 5_000.0,
           "email": 5_000.0}


def documented(**changes) -> PlatformLoad:
    """The documented load: 1000 agents, 200 jobs, the 48k/2k/5k/5k mix."""
    base = dict(agents=1000, jobs=200, notification_ports_peak=0, customer_legs_peak=1300,
                agent_legs_peak=700, attempts_per_hour=DOC_MIX)
    base.update(changes)
    return PlatformLoad(**base)


@pytest.mark.parametrize("agents, ports, jobs, tier", [
    (1, 0, 1, 1), (500, 0, 100, 1), (400, 0, 150, 2), (501, 0, 10, 2), (1000, 0, 200, 2),
    (1001, 0, 200, 3), (2000, 0, 200, 3), (2001, 0, 10, None), (1000, 0, 201, None),
    (0, 1, 1, 4), (0, 2200, 50, 4), (0, 2201, 50, None), (0, 100, 51, None), (0, 0, 80, 1),
])
def test_documented_tiers(agents, ports, jobs, tier):
    t = choose_tier(agents, ports, jobs)
    assert (t.tier if t else None) == tier


def test_documented_load_fits_tier_2_without_warnings():
    p = size_platform(documented())
    assert p.tier == 2 and p.warnings == ()
    # at least 5 GB for the documented load, indexes up to twice the data
    assert (p.db_data_gb, p.db_index_gb, p.db_provision_gb) == (5.0, 10.0, 15.0)
    assert p.agent_manager_memory_gb == 3.0  # 3 GB for 1000 logged-in agents
    assert p.bhcc == 60_000
    # 50 GB per million attempts kept 168 h: 60,000 x 168 x 50e3 bytes
    assert p.kafka_disk_documented_gb == pytest.approx(60_000 * 168 * 50e3 / 1e9)
    assert p.kafka_disk_gb == p.kafka_disk_documented_gb  # nothing measured: documented
    assert p.event_source.startswith("documented")
    assert p.voice_portal_ports == 1300 + 700
    payload = json.loads(json.dumps(p.as_dict()))
    assert payload["tier"] == 2 and "Proactive Outreach Manager" in payload["source"]


def test_measured_event_bytes_drive_kafka_disk():
    p = size_platform(documented(events_per_hour=3e5, event_bytes_per_hour=2e8),
                      retention_h=72, replication_factor=3)
    assert p.kafka_disk_gb == pytest.approx(2e8 * 72 * 3 / 1e9)
    assert p.event_source == "measured" and p.events_per_hour == 3e5


@pytest.mark.parametrize("change, words", [
    (dict(agents=2500), ["2,500 agents", "2,000", "Proactive Outreach Manager"]),
    (dict(agents=0, notification_ports_peak=2500, jobs=40), ["2,500 notification ports",
                                                             "2,200"]),
    (dict(jobs=260), ["260 concurrent jobs", "200 jobs"]),
    (dict(agents=0, notification_ports_peak=100, jobs=60), ["60 concurrent jobs", "50 jobs"]),
    (dict(attempts_per_hour={**DOC_MIX, "voice_agentless": 100_000.0}),
     ["100,000 voice_agentless attempts per hour", "documented 2,000", "BHCC"]),
    (dict(attempts_per_hour={**DOC_MIX, "voice_agent": 60_000.0}),
     ["72,000 attempts per hour", "60,000 BHCC", "database server requirements"]),
    (dict(notification_ports_peak=300, attempts_per_hour={**DOC_MIX,
                                                          "voice_agentless": 9_000.0}),
     ["agents and 300 notification ports together", "carries no agents"]),
])
def test_each_documented_limit_warns_with_its_source(change, words):
    p = size_platform(documented(**change))
    text = " | ".join(p.warnings)
    for w in words:
        assert w in text, text
    assert all("Implementing Avaya Proactive Outreach Manager" in w for w in p.warnings)


def test_agentless_within_the_documented_mix_beside_agents_is_a_note():
    p = size_platform(documented(notification_ports_peak=30))
    assert p.warnings == () and p.tier == 2
    assert "together" in p.notes[0]


def test_chance_alone_does_not_warn():
    # 2,004 per hour measured over a quarter hour is Poisson noise around 2,000.
    mix = {**DOC_MIX, "voice_agentless": 2_004.0}
    assert size_platform(documented(attempts_per_hour=mix, measured_hours=0.25)).warnings == ()
    mix = {**DOC_MIX, "voice_agentless": 2_600.0}
    assert size_platform(documented(attempts_per_hour=mix, measured_hours=0.25)).warnings


def test_larger_load_scales_the_database_and_memory():
    p = size_platform(documented(agents=2000, attempts_per_hour={k: 2 * v for k, v in
                                                                 DOC_MIX.items()}))
    assert p.db_data_gb == 10.0 and p.db_provision_gb == 30.0
    assert p.agent_manager_memory_gb == 6.0


def _peak_by_grid(s, e, lo, hi):
    points = np.unique(np.concatenate([s, e, [lo]]))
    points = points[(points >= lo) & (points < hi)]
    best = 0
    for t in points:
        best = max(best, int(((s <= t) & (t < e)).sum()))
    return best


@pytest.mark.parametrize("seed", range(5))
def test_peak_concurrent_matches_a_scan(seed):
    rng = np.random.default_rng(seed)
    s = np.round(rng.uniform(0, 100, 60), 0)
    e = s + np.round(rng.exponential(10, 60), 0)
    s[:3] = -1.0  # missing
    assert peak_concurrent(s, e, 20.0, 80.0) == _peak_by_grid(s[3:], e[3:], 20.0, 80.0)


def test_platform_from_a_run_counts_its_own_events():
    scn = load(SCN / "single-50-predictive.toml",
               {"scenario.sim_hours": 0.1, "scenario.warmup_s": 120.0})
    lo, hi = 120.0, 120.0 + 360.0
    volume, memory = EventVolume(lo, hi), MemorySink()
    run = simulate(scn, 3, sink=TeeSink(volume, memory))
    inside = [e for _, e in memory.events if lo <= e["time_s"] < hi]
    assert volume.total_events == len(inside) > 0
    size = sum(len(dump_bytes(e)) for e in inside)
    assert volume.total_bytes == size
    per_hour = {ch: n / 0.1 for ch, n in run.total["attempts_by_channel"].items()}
    figures = run_figures(scn, run.attempts, run.intervals, run.total, run.campaigns)
    pl_load = platform_load(scn, per_hour, [figures], [volume.as_dict()])
    assert pl_load.events_per_hour == pytest.approx(len(inside) / 0.1)
    assert pl_load.event_bytes_per_hour == pytest.approx(size / 0.1)
    assert pl_load.agents == scn.total_agents
    assert 0 < pl_load.agent_legs_peak <= scn.total_agents
    assert pl_load.customer_legs_peak == run.total["ports_peak"]
    p = size_platform(pl_load)
    assert p.tier == 1 and p.voice_portal_ports == pl_load.customer_legs_peak + \
        pl_load.agent_legs_peak
    assert p.kafka_disk_gb == pytest.approx(size / 0.1 * 168 / 1e9)


@pytest.mark.parametrize("name", ["pom-60k-bhcc.toml", "notifications-2200-ports.toml"])
def test_shipped_scenarios_ask_for_a_documented_tier(name):
    scn = load(SCN / name)
    per_hour: dict[str, float] = {}
    for c in scn.campaigns:
        if c.channel != "voice_agent":
            per_hour[c.channel] = per_hour.get(c.channel, 0.0) + c.attempts_per_hour
    for ch, rate in per_hour.items():
        assert rate <= DOC_MIX[ch] + 1e-6, (ch, rate)
    tier = choose_tier(scn.total_agents, 0 if scn.total_agents else scn.ports,
                       len(scn.campaigns))
    assert tier is not None


def test_notification_ports_are_the_agentless_calls_in_progress_at_the_peak():
    scn = load(SCN / "notifications-2200-ports.toml",
               {"scenario.sim_hours": 0.1, "scenario.warmup_s": 60.0})
    run = simulate(scn, 4)
    fig = run_figures(scn, run.attempts, run.intervals, run.total, run.campaigns)
    # every voice call is agentless here: the joint peak is the telephony gauge's peak
    assert fig["notification_ports_peak"] == run.total["ports_peak"]
    assert fig["notification_ports_peak"] <= sum(c["ports_peak"] for c in run.campaigns
                                                 if c["channel"] == "voice_agentless")
    assert fig["agent_legs_peak"] == 0


def test_an_inbound_desk_is_not_the_platforms_agents(tmp_path):
    """Voice notifications beside a 4-agent inbound desk (the ACD's, never the dialer's):
    the platform counted the desk as its agents and chose the agent tier 1 ('4 agents and
    18 notification ports together ... the tier is chosen by the agents') where the load
    is the notification tier's. The dialer's agents are the outbound groups'."""
    from sim.scenario import build

    raw = {"scenario": {"name": "n", "sim_hours": 0.1, "warmup_s": 0.0},
           "telephony": {"ports": 100},
           "inbound": [{"skill": "callback", "calls_per_hour": 30.0}],
           "agents": [{"group": "desk", "count": 4, "skills": ["callback"],
                       "direction": "inbound"}],
           "campaigns": [{"name": "ivr", "channel": "voice_agentless",
                          "attempts_per_hour": 1500.0}]}
    scn = build(raw, "n.toml")
    run = simulate(scn, 1)
    load_ = platform_load(scn, {"voice_agentless": run.total["bhcc"]}, [{
        "notification_ports_peak": int(run.total["ports_peak"])}])
    assert load_.agents == 0
    p = size_platform(load_)
    assert p.tier == 4 and p.agent_manager_memory_gb == 0

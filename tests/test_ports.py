"""Port licenses (engine/ports.py): notification jobs draw outbound ports from the pool,
agent-based calls take what is left, the voice portal caps both."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.attempt import Channel
from engine.job import Job
from engine.ports import PortLicensing, PortPool
from pacer import CampaignPacing, Pacing


def _jobs(notif, n_agent):
    jobs = [Job(f"n{k}", Channel.VOICE_AGENTLESS,
                CampaignPacing(pacing=Pacing.TIMED, attempts_per_s=1.0, min_ports=lo,
                               max_ports=hi), priority=pr)
            for k, (lo, hi, pr) in enumerate(notif)]
    jobs += [Job(f"a{k}", Channel.VOICE_AGENT, CampaignPacing()) for k in range(n_agent)]
    return jobs


@st.composite
def setups(draw):
    k = draw(st.integers(1, 4))
    notif = []
    for _ in range(k):
        lo = draw(st.integers(0, 10))
        hi = draw(st.integers(lo, 40))
        notif.append((lo, hi, draw(st.integers(1, 5))))
    return (notif, draw(st.integers(0, 3)), draw(st.integers(0, 60)),
            draw(st.integers(1, 80)), draw(st.sampled_from(["reserved", "dynamic"])),
            draw(st.integers(0, 2**31)))


@settings(max_examples=60, deadline=None)
@given(setups())
def test_ports_never_exceed_the_pool_and_reservations_hold_every_tick(setup):
    notif, n_agent, pool, portal, mode, seed = setup
    jobs = _jobs(notif, n_agent)
    n = len(jobs)
    k = len(notif)
    lic = PortLicensing(jobs, PortPool(pool, mode, portal if seed % 2 else None))
    rng = np.random.default_rng(seed)
    in_flight = np.zeros(n, dtype=np.int64)
    mins = np.array([lo for lo, _, _ in notif])
    maxs = np.array([hi for _, hi, _ in notif])
    for _ in range(40):
        dials = rng.integers(0, 15, n)
        wanted = dials.copy()
        setups = int(rng.integers(0, 100))  # the carrier's setups may bind before ports
        free = min(portal - int(in_flight.sum()), setups)
        blocked = lic.fit(dials, in_flight, free)
        assert (dials >= 0).all() and (dials <= wanted).all()
        assert (blocked[:k] == wanted[:k] - dials[:k]).all()
        alloc = lic.alloc[:k]
        launched_notif = int(dials[:k].sum())
        held = np.maximum(alloc - in_flight[:k] - dials[:k], 0).sum()
        # agent-based calls only from what is left after launches and reservations
        ports_free = portal - int(in_flight.sum())
        assert int(dials[k:].sum()) <= max(min(free, ports_free - held) - launched_notif, 0)
        in_flight += dials
        assert in_flight.sum() <= portal  # the voice portal caps both
        assert in_flight[:k].sum() <= pool  # the notification jobs' ports: the pool
        if mode == "reserved":
            assert (in_flight[:k] <= alloc).all()
        assert alloc.sum() <= pool and (alloc <= maxs).all()
        if mins.sum() <= pool:  # every job's minimum is reserved for it
            assert (alloc >= mins).all()
        ends = rng.random(n) < 0.3
        in_flight[ends] -= rng.integers(0, in_flight[ends] + 1)


def test_reserved_ports_stay_with_an_idle_notification_job():
    jobs = _jobs([(10, 20, 1)], 1)
    lic = PortLicensing(jobs, PortPool(30, "reserved"))
    dials = np.array([0, 50])
    lic.fit(dials, np.zeros(2, dtype=np.int64), free=40)
    assert lic.alloc[0] == 20  # reserved up to its maximum while the pool allows
    assert dials[1] == 20 and lic.delayed[1] == 30  # 40 free - 20 held for the job


def test_dynamic_ports_follow_demand_and_minimums():
    jobs = _jobs([(5, 20, 1)], 1)
    lic = PortLicensing(jobs, PortPool(30, "dynamic"))
    dials = np.array([0, 50])
    lic.fit(dials, np.zeros(2, dtype=np.int64), free=40)
    assert lic.alloc[0] == 5 and dials[1] == 35  # only the minimum is held


def test_priority_decides_who_starves():
    jobs = _jobs([(0, 30, 1), (0, 30, 3)], 0)
    lic = PortLicensing(jobs, PortPool(20, "dynamic"))
    dials = np.array([20, 20])
    lic.fit(dials, np.zeros(2, dtype=np.int64), free=100)
    assert dials.sum() == 20 and dials[1] > dials[0]
    assert lic.blocked.tolist() == [20 - dials[0], 20 - dials[1]]


def test_reservations_are_ports_not_carrier_setups():
    """60 setups a second and 300 free ports: 240 reserved leave 60 ports for agents,
    the setups left after the notifications' launches bound them first."""
    jobs = _jobs([(40, 80, 5), (20, 120, 2), (0, 200, 1)], 1)
    lic = PortLicensing(jobs, PortPool(240, "reserved", 300))
    dials = np.array([1, 1, 1, 100])
    lic.fit(dials, np.zeros(4, dtype=np.int64), free=60)
    assert dials[:3].tolist() == [1, 1, 1] and dials[3] == 57


def test_bad_pool_is_refused():
    with pytest.raises(ValueError, match="outbound_ports"):
        PortPool(-1)
    with pytest.raises(ValueError, match="license mode"):
        PortPool(3, "sometimes")


def test_reserved_pool_in_the_simulator():
    """The notification scenario: the fraud alerts' reservation holds, the marketing blast
    starves (blocked), the predictive team never uses a reserved port."""
    from sim.run import simulate
    from sim.scenario import load

    scn = load("scenarios/notifications-reserved-ports.toml", {"scenario.sim_hours": 0.1,
                                                               "scenario.warmup_s": 60.0})
    r = simulate(scn)
    by = {c["name"]: c for c in r.campaigns}
    assert by["fraud-alert"]["port_blocked"] == 0
    assert by["marketing"]["port_blocked"] > 0
    reserved = sum(by[n]["ports_allocated"] for n in ("fraud-alert", "appointment",
                                                      "marketing"))
    assert reserved == 240
    assert by["collections"]["ports_peak"] <= scn.ports - reserved
    assert by["collections"]["attempts"] > 0
    for n in ("fraud-alert", "appointment", "marketing"):
        assert by[n]["ports_peak"] <= by[n]["ports_allocated"]


def test_attempts_blocked_for_a_licensed_port_are_warned_of():
    """Voice notifications at 3,000 per hour held to a reserved share of 7 of 30 licensed
    outbound ports: 587 attempts per replication blocked (the KPI), and simulate said
    nothing of why (the telephony ports were not full, so no port warning). A warning
    names the port licenses and the keys to raise."""
    from sim.plan.assess import port_license_warnings
    from sim.scenario import build

    raw = {"scenario": {"name": "n"}, "telephony": {"ports": 40},
           "licenses": {"outbound_ports": 30},
           "campaigns": [{"name": "robo", "channel": "voice_agentless",
                          "attempts_per_hour": 3000.0}]}
    scn = build(raw, "n.toml")
    [w] = port_license_warnings(scn, {"port_blocked": 587.5})
    assert w.startswith("outbound-port licenses: 587.5 notification attempts per "
                        "replication blocked for want of a licensed port "
                        "(licenses.outbound_ports = 30, split reserved")
    assert port_license_warnings(scn, {"port_blocked": 0.0}) == []
    del raw["licenses"]
    assert port_license_warnings(build(raw, "n.toml"), {"port_blocked": 5.0}) == []

"""Agent licenses by type (manual, preview, progressive, predictive): each job draws from its
own pool, the licenses in use never exceed a pool, and usage and starvation reach the outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.agents import AgentManager
from engine.attempt import Channel
from engine.job import Job
from engine.staffing import (
    LICENSE_TYPES,
    POOL_KEYS,
    Licenses,
    Staffing,
    license_kind,
    license_type,
)
from pacer import CampaignPacing
from pacer.modes import AgentStatus, LicenseKind, Pacing
from sim.run import simulate
from sim.scenario import ScenarioError, load

PACING_OF = {"manual": Pacing.PREVIEW, "preview": Pacing.PREVIEW,
             "progressive": Pacing.PROGRESSIVE, "predictive": Pacing.PREDICTIVE}


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def call_later(self, delay_s, callback) -> None:  # the test drives rebalances itself
        pass


@dataclass
class _Dialer:
    """The ``StaffedDialer`` the staffing drives: jobs, a clock, the agents, ``assign``."""

    jobs: list[Job]
    agents: AgentManager
    clock: _Clock = field(default_factory=_Clock)

    def assign(self, agent_job: np.ndarray) -> None:
        for a in range(self.agents.n):
            j = int(agent_job[a])
            if j != self.agents.job[a] and not self.agents.on_call[a]:
                self.agents.set_job(a, j)


def _job(name: str, lic: str, priority: int = 1, lo: int = 0, hi: int = 1000,
         explicit: bool = True) -> Job:
    return Job(name, Channel.VOICE_AGENT, CampaignPacing(pacing=PACING_OF[lic]),
               skill_mask=1, priority=priority, min_agents=lo, max_agents=hi,
               license=lic if explicit else "")


def test_a_job_draws_from_the_pool_of_its_license_type():
    assert license_kind(_job("m", "manual")) == LicenseKind.MANUAL_AGENT
    assert license_kind(_job("p", "preview", explicit=False)) == LicenseKind.PREVIEW_AGENT
    assert license_kind(_job("g", "progressive", explicit=False)) == \
        LicenseKind.PROGRESSIVE_AGENT
    assert license_type(_job("x", "predictive", explicit=False)) == "predictive"
    assert set(POOL_KEYS.values()) == set(LICENSE_TYPES.values())
    bad = Job("odd", Channel.VOICE_AGENT, CampaignPacing(), license="gold")
    with pytest.raises(ValueError, match="job 'odd': license 'gold'; expected one of manual"):
        license_kind(bad)


def _staffing(kinds, pools, n_agents, mode="dynamic", priorities=None, limits=None):
    jobs = [_job(f"j{i}", k, (priorities or [1] * len(kinds))[i],
                 *(limits[i] if limits else (0, 1000))) for i, k in enumerate(kinds)]
    am = AgentManager(n_agents, np.ones(n_agents, dtype=np.int64), len(jobs), (0.0, 1e9))
    d = _Dialer(jobs, am)
    return d, Staffing(d, Licenses(pools, mode))


def _in_use_by_pool(d: _Dialer, s: Staffing) -> dict[int, int]:
    use = s.in_use()
    out: dict[int, int] = {}
    for j, k in enumerate(s.pool_of_job.tolist()):
        out[k] = out.get(k, 0) + int(use[j])
    return out


def test_each_type_is_held_to_its_own_pool():
    d, s = _staffing(["manual", "preview", "predictive", "predictive"],
                     {"manual_agents": 2, "preview_agents": 3, "predictive_agents": 4}, 20)
    for a in range(20):
        d.agents.transition(a, "login", 0.0)
        d.agents.transition(a, "ready", 0.0)
    s.rebalance()
    assert s.in_use().tolist() == [2, 3, 2, 2]
    assert _in_use_by_pool(d, s) == {int(LicenseKind.MANUAL_AGENT): 2,
                                     int(LicenseKind.PREVIEW_AGENT): 3,
                                     int(LicenseKind.PREDICTIVE_AGENT): 4}
    # 11 agents are free: every job could use more, so every one is short
    s._sample()
    d.clock.t = 10.0
    s.close(10.0)
    assert s.usage.allocated_s.tolist() == [20.0, 30.0, 20.0, 20.0]
    assert s.usage.short_s.tolist() == [110.0, 110.0, 110.0, 110.0]
    assert s.usage.starved_s.tolist() == [10.0] * 4


def test_a_job_few_agents_can_work_leaves_its_pool_to_the_others():
    """Demand is capped by the agents holding a job's skill: of 20 predictive licenses, a
    job only 3 agents can work takes 3, not half, and the other job gets the rest."""
    jobs = [_job("rare", "predictive"), _job("common", "predictive")]
    jobs[0] = Job("rare", Channel.VOICE_AGENT, CampaignPacing(pacing=Pacing.PREDICTIVE),
                  skill_mask=2)
    skills = np.array([3] * 3 + [1] * 27, dtype=np.int64)  # 3 hold both skills
    am = AgentManager(30, skills, 2, (0.0, 1e9))
    d = _Dialer(jobs, am)
    s = Staffing(d, Licenses({"predictive_agents": 20}, "dynamic"))
    for a in range(30):
        am.transition(a, "login", 0.0)
        am.transition(a, "ready", 0.0)
    s.rebalance()
    assert s.allocated.tolist() == [3, 17]
    assert s.in_use().tolist() == [3, 17]


def test_busy_agents_keep_their_license_and_the_pool_still_holds():
    """A job whose share shrinks keeps its agents on calls; the other job of the pool gets
    only what they leave, never a place over the pool."""
    d, s = _staffing(["predictive", "predictive"], {"predictive_agents": 6}, 10,
                     priorities=[1, 1])
    am = d.agents
    for a in range(10):
        am.transition(a, "login", 0.0)
        am.transition(a, "ready", 0.0)
    s.rebalance()
    assert s.in_use().tolist() == [3, 3]
    on_first = np.flatnonzero(am.job == 0)
    for a in on_first.tolist():
        am.transition(a, "connect", 1.0)  # all three on calls
    s.set_limits(0, maximum=0)  # the first job's share drops to 0, the second's rises to 6
    s.rebalance()
    assert s.in_use().tolist() == [3, 3]  # 3 stuck on calls: the second job waits
    for a in on_first.tolist():
        am.transition(a, "call_end", 2.0)
        am.transition(a, "ready", 2.0)
    s.rebalance()
    assert s.in_use().tolist() == [0, 6]


def test_an_agent_logging_in_again_to_a_full_pool_is_detached_at_once():
    """An agent keeps its job while logged out; if its pool has filled meanwhile, logging
    in again must not put the pool over: one of the job's free agents is detached until
    the next rebalance."""
    d, s = _staffing(["manual", "manual"], {"manual_agents": 2}, 3, priorities=[2, 1])
    am = d.agents
    for a in (0, 1):
        am.transition(a, "login", 0.0)
        am.transition(a, "ready", 0.0)
    s.rebalance()
    assert sorted(am.job[:2].tolist()) == [0, 1]
    gone = int(np.flatnonzero(am.job == 1)[0])  # the lower-priority job's agent leaves
    am.transition(gone, "logout", 1.0)
    s.mark()
    am.transition(2, "login", 1.0)
    am.transition(2, "ready", 1.0)
    am.set_job(2, 1)  # its place went to another agent meanwhile
    s.mark()
    assert s.in_use().tolist() == [1, 1]
    am.transition(gone, "login", 2.0)  # back, still attached to job 1: the pool is full
    s.mark()
    assert s.in_use().tolist() == [1, 1]  # one of the two on job 1 was detached
    assert sorted(am.job[[gone, 2]].tolist()) == [-1, 1]


_KINDS = st.sampled_from(list(LICENSE_TYPES))


@settings(max_examples=60, deadline=None)
@given(kinds=st.lists(_KINDS, min_size=1, max_size=5),
       sizes=st.lists(st.integers(0, 6), min_size=4, max_size=4),
       mode=st.sampled_from(["reserved", "dynamic"]),
       steps=st.lists(st.tuples(st.sampled_from(["login", "logout", "ready", "connect",
                                                 "call_end", "rebalance", "limits"]),
                                st.integers(0, 11), st.integers(0, 8), st.integers(1, 4)),
                      max_size=80))
def test_licenses_in_use_never_exceed_a_pool(kinds, sizes, mode, steps):
    """Whatever agents do (log in and out, take and end calls) and however jobs' limits and
    priorities change, at every moment each pool's licenses in use (logged-in agents
    attached to its jobs) stay within its size."""
    pools = dict(zip(POOL_KEYS, sizes, strict=True))
    d, s = _staffing(kinds, pools, 12, mode)
    am = d.agents
    s.start()
    for t, (what, a, n, prio) in enumerate(steps):
        d.clock.t = float(t)
        if what == "rebalance":
            s.rebalance()
        elif what == "limits":
            j = a % len(kinds)
            s.set_limits(j, minimum=min(n, 2), maximum=n, priority=prio)
        else:
            try:
                am.transition(a, what, float(t))
            except ValueError:
                continue  # not allowed in the agent's state: nothing happened
            if what in ("login", "logout"):
                s.mark()
        for k, used in _in_use_by_pool(d, s).items():
            assert used <= pools[next(n for n, v in POOL_KEYS.items() if v == k)], \
                (what, s.in_use().tolist())
        assert not ((am.job >= 0) & (am.status == AgentStatus.OFF) & am.on_call).any()


SCN = """
[scenario]
name = "types"
sim_hours = 0.1
warmup_s = 60.0
seed = 5

[telephony]
ports = 100

[licenses]
mode = "dynamic"
manual_agents = 3
preview_agents = 4
predictive_agents = 5

[[agents]]
group = "a"
count = 20
skills = ["s"]

[[campaigns]]
name = "callbacks"
pacing = "preview"
license = "manual"
skill = "s"
priority = 3

[[campaigns]]
name = "review"
pacing = "preview"
skill = "s"

[[campaigns]]
name = "sales"
pacing = "predictive"
skill = "s"
"""


def loads(text: str, tmp_path) -> object:
    p = tmp_path / "types.toml"
    p.write_text(text)
    return load(p)


def test_a_run_reports_license_use_and_starvation_per_job(tmp_path):
    scn = loads(SCN, tmp_path)
    run = simulate(scn)
    by = {c["name"]: c for c in run.campaigns}
    assert [by[n]["license_pool"] for n in ("callbacks", "review", "sales")] == \
        ["manual_agents", "preview_agents", "predictive_agents"]
    for name, size in (("callbacks", 3), ("review", 4), ("sales", 5)):
        c = by[name]
        assert c["license_pool_size"] == size
        assert c["licenses_in_use_peak"] <= size
        assert c["licenses_allocated_mean"] == pytest.approx(size)
        # 20 agents, 12 licenses: 8 agents wait for a license all the time
        assert c["licenses_short_mean"] == pytest.approx(8.0)
        assert c["license_starved_share"] == pytest.approx(1.0)
    assert by["callbacks"]["attempts"] > 0  # the manual job dials (its agents place calls)


@pytest.mark.parametrize(("extra", "message"), [
    ('license = "manual"\npacing = "predictive"', "a manual job's agent places each call"),
    ('license = "predictive"\npacing = "preview"', "a preview job holds a manual or preview"),
    ('license = "gold"', "expected one of manual, preview, progressive, predictive"),
])
def test_bad_license_types_are_refused_by_key(extra, message, tmp_path):
    text = SCN.replace('name = "sales"\npacing = "predictive"', f'name = "sales"\n{extra}')
    with pytest.raises(ScenarioError, match=message) as err:
        loads(text, tmp_path)
    assert "campaigns" in str(err.value) and "license" in str(err.value)


def test_the_shipped_license_types_scenario_loads_with_its_three_pools():
    scn = load(Path(__file__).resolve().parent.parent / "scenarios" / "license-types.toml")
    assert {c.name: c.license for c in scn.campaigns} == \
        {"callbacks": "manual", "review": "", "collections": ""}
    assert (scn.license_pools["manual_agents"], scn.license_pools["preview_agents"],
            scn.license_pools["predictive_agents"]) == (10, 15, 40)

"""Where the agents do not go round every job's maximum, a job with little to dial holds
what its work can use, not an equal share: the other job gets the rest."""

from __future__ import annotations

import numpy as np
import simpy

from engine.store_memory import MemoryStore
from sim.run import assemble
from sim.scenario import build
from tests.test_director import STRATEGY


def _campaign(name: str, pacing: str, records: int) -> dict:
    return {"name": name, "skill": "s", "pacing": pacing, "records": records,
            "initial_hit_rate": 0.3,
            "outcomes": {"live": 0.4, "machine": 0.2, "busy": 0.1, "no_answer": 0.25,
                         "invalid": 0.05},
            "talk": {"dist": "exponential", "mean_s": 120.0},
            "wrap": {"dist": "exponential", "mean_s": 10.0},
            "customer": {"patience_mean_s": 3.0}, "strategy": STRATEGY,
            "schedule": {"finish_when_exhausted": False}}  # a list waiting for new leads


def _world(small: int):
    scn = build({"scenario": {"name": "t", "sim_hours": 1.0, "warmup_s": 0.0, "seed": 3,
                              "start": "2024-06-03T09:00:00+00:00"},
                 "telephony": {"ports": 200},
                 "agents": [{"group": "g", "count": 20, "skills": ["s"]}],
                 "campaigns": [_campaign("big", "predictive", 20_000),
                               _campaign("trickle", "progressive", small)]})
    return _started(scn)


def _started(scn):
    """The scenario's world assembled and started at 0 (its env and world)."""
    env = simpy.Environment()
    w = assemble(scn, 3, env, MemoryStore(), (0.0, 7200.0))
    w.feed.start()
    w.director.start()
    w.dialer.start()
    return env, w


def test_a_job_with_little_to_dial_leaves_its_share_to_one_with_plenty():
    env, w = _world(small=6)
    am = w.dialer.agents
    on_small = []
    for t in range(300, 1200, 30):
        env.run(until=float(t))
        on_small.append(int((am.job == 1).sum()))
    # six contacts: once they are dialled, the trickle job keeps the agents on its calls
    # and one more, not half of the twenty
    assert max(on_small[-10:]) <= 3, on_small
    assert int((am.job == 0).sum()) >= 17
    assert w.flows[1].counts(env.now).fresh == 0  # its contacts were all dialled


def test_jobs_with_plenty_to_dial_still_share_equally():
    env, w = _world(small=20_000)
    env.run(until=600.0)
    on = np.bincount(w.dialer.agents.job[w.dialer.agents.job >= 0], minlength=2)
    assert on.tolist() == [10, 10]


def _shared_skill_world():
    """Two jobs of different pools share the 'b' agents: the ratio job's predictive
    licenses (priority 3) were all given although the progressive job holds some of its
    agents, while the predictive job's 'a' agents waited idle for licenses."""
    def job(name: str, skill: str, pacing: str, priority: int) -> dict:
        return {**_campaign(name, pacing, 20_000), "skill": skill, "priority": priority}
    scn = build({"scenario": {"name": "t", "sim_hours": 1.0, "warmup_s": 0.0, "seed": 3,
                              "start": "2024-06-03T09:00:00+00:00"},
                 "telephony": {"ports": 300},
                 "licenses": {"mode": "dynamic", "predictive_agents": 10},
                 "agents": [{"group": "sales", "count": 12, "skills": ["a"]},
                            {"group": "multi", "count": 6, "skills": ["b"]}],
                 "campaigns": [job("pred", "a", "predictive", 1),
                               job("ratio", "b", "ratio:1.2", 3),
                               job("prog", "b", "progressive", 1)]})
    return _started(scn)


def test_licenses_a_job_cannot_staff_go_to_a_job_of_its_pool_that_can():
    env, w = _shared_skill_world()
    am = w.dialer.agents
    seen = []
    for t in range(300, 1500, 60):
        env.run(until=float(t))
        on = np.bincount(am.job[am.job >= 0], minlength=3)
        assert on[0] + on[1] <= 10  # the predictive pool is never overrun
        seen.append(on.tolist())
    on = np.array(seen)
    # the ratio job keeps the 'b' agents the progressive one leaves it; the rest of the
    # pool staffs the predictive job (4 of its 12 agents before, the other 8 idle)
    assert (on[-10:, 0] + on[-10:, 1] >= 9).all(), seen
    assert (on[-10:, 0] >= 5).all(), seen

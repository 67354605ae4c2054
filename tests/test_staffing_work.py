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

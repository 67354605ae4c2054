"""Skill-based pacing of agentless jobs (engine/skill_pacing.py): thresholds with
hysteresis, and the exact share of attempts launched while slowed."""

from __future__ import annotations

import numpy as np
import pytest

from engine.interfaces import SkillState
from engine.skill_pacing import SkillPacer, SkillPacing
from sim.run import simulate
from sim.scenario import build


class Feed:
    def __init__(self):
        self.li = []

    def subscribe(self, li):
        self.li.append(li)

    def skills(self):
        return ["care"]

    def report(self, q=0, oldest=0.0, sl=1.0):
        for li in self.li:
            li.on_skill_state(SkillState("care", q, oldest, sl, 3, 0))


def _pacer(factor=0.25):
    feed = Feed()
    s = SkillPacing("care", queue_high=5, queue_low=1, oldest_high_s=60, oldest_low_s=20,
                    sl_low=0.7, sl_high=0.8, slow_factor=factor)
    return feed, SkillPacer([None, s], feed)


def test_hysteresis():
    feed, p = _pacer()
    feed.report(q=5)
    assert not p.slowed[1]  # at the threshold: not over it
    feed.report(q=6)
    assert p.slowed[1]
    feed.report(q=3)  # inside the band: stays slowed
    assert p.slowed[1]
    feed.report(q=1, oldest=30.0)  # queue fine, oldest call not yet
    assert p.slowed[1]
    feed.report(q=1, oldest=20.0, sl=0.8)
    assert not p.slowed[1]
    feed.report(sl=0.69)
    assert p.slowed[1] and p.slowed_changes == 3


def test_slowed_share_is_exact_and_others_untouched():
    feed, p = _pacer(0.25)
    feed.report(q=9)
    total = 0
    for _ in range(100):
        d = np.array([3, 3])
        p.thin(d)
        assert d[0] == 3
        total += d[1]
    assert total == 75 and p.held[1] == 225
    feed2, p2 = _pacer(0.0)
    feed2.report(oldest=61.0)
    d = np.array([0, 7])
    p2.thin(d)
    assert d[1] == 0  # paused


def test_bad_settings():
    with pytest.raises(ValueError, match="sl_low: expected <= sl_high"):
        SkillPacing("care", sl_low=0.9, sl_high=0.8)
    with pytest.raises(ValueError, match="slow_factor"):
        SkillPacing("care", slow_factor=2.0)


def test_notification_slows_while_its_skill_is_overloaded():
    def raw(paced):
        camp = {"name": "remind", "channel": "voice_agentless", "attempts_per_hour": 3600,
                "outcomes": {"live": 0.6, "machine": 0.2, "busy": 0.05, "no_answer": 0.1,
                             "invalid": 0.05}}
        if paced:
            camp["skill_pacing"] = {"skill": "care", "queue_high": 2, "queue_low": 0,
                                    "slow_factor": 0.0}
        return {"scenario": {"name": "sp", "sim_hours": 0.25, "warmup_s": 60.0, "seed": 2},
                "telephony": {"ports": 500},
                "inbound": [{"skill": "care", "calls_per_hour": 600,
                             "talk": {"dist": "exponential", "mean_s": 180}}],
                "agents": [{"group": "desk", "count": 25, "skills": ["care"],
                            "direction": "inbound"}],
                "campaigns": [camp]}
    free = simulate(build(raw(False), "sp"))
    paced = simulate(build(raw(True), "sp"))
    # 600 calls/h of 180 s + 30 s wrap on 25 agents: 35 erlangs, the queue grows
    assert paced.campaigns[0]["attempts"] < 0.5 * free.campaigns[0]["attempts"]
    assert paced.campaigns[0]["skill_paced_held"] > 0

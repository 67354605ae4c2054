"""Blending in the engine (engine/blending.py), told with a manual clock, a scripted ACD and a
scripted skill feed: who is lent, when, and that no agent ever moves mid-call."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

import numpy as np
import pytest

from engine.agents import AgentManager, AgentState
from engine.attempt import Channel
from engine.blending import Blending, BlendSetting
from engine.interfaces import InboundAgents, SkillFeed, SkillState
from engine.job import Job
from pacer import CampaignPacing
from pacer.modes import AgentStatus

SALES, CARE = 1, 2  # skill bits


class Clock:
    def __init__(self):
        self.t = 0.0
        self.q: list = []
        self.seq = itertools.count()

    def now(self):
        return self.t

    def call_later(self, delay_s, cb):
        heapq.heappush(self.q, (self.t + delay_s, next(self.seq), cb))

    def run(self, until):
        while self.q and self.q[0][0] <= until:
            self.t, _, cb = heapq.heappop(self.q)
            cb()
        self.t = until


class Dialer:
    """What blending needs of the dialer: jobs, clock, agents, on_agent_state."""

    def __init__(self, n_agents: int, skills: int = SALES | CARE):
        self.clock = Clock()
        self.jobs = [Job("sales", Channel.VOICE_AGENT, CampaignPacing())]
        self.agents = AgentManager(n_agents, np.full(n_agents, skills, dtype=np.int64), 1,
                                   (0.0, 1e9))
        for a in range(n_agents):
            self.agents.set_job(a, 0)
            self.on_agent_state(a, AgentState.LOGGED_IN)
            self.on_agent_state(a, AgentState.READY)

    due = 0  # idle agents the calls in flight may need (``answers_due``)

    def answers_due(self, job):
        return self.due

    def on_agent_state(self, agent, state):
        ev = {AgentState.LOGGED_IN: "login", AgentState.READY: "ready",
              AgentState.NOT_READY: "not_ready", AgentState.LOGGED_OUT: "logout"}
        self.agents.transition(agent, ev[AgentState(state)], self.clock.t)

    def talk(self, agent):  # an outbound call reaches the agent
        self.agents.transition(agent, "connect", self.clock.t)

    def hang_up_and_wrap(self, agent):
        self.agents.transition(agent, "call_end", self.clock.t)
        self.agents.transition(agent, "ready", self.clock.t)


class Feed:
    def __init__(self):
        self.listeners = []

    def subscribe(self, li):
        self.listeners.append(li)

    def skills(self):
        return ["care"]

    def report(self, queued=0, oldest=0.0, sl=1.0):
        for li in self.listeners:
            li.on_skill_state(SkillState("care", queued, oldest, sl, 5, 0))


class Acd:
    """Lent agents and their inbound calls, by hand."""

    def __init__(self, dialer: Dialer):
        self.dialer = dialer
        self.lent: dict[int, str] = {}
        self.on_call: set[int] = set()
        self.pending: dict[int, Callable[[int], None]] = {}

    def lend(self, agent, skill):
        am = self.dialer.agents
        assert am.state[agent] == AgentState.NOT_READY and not am.on_call[agent], \
            "lent while not between calls"
        self.lent[agent] = skill

    def recall(self, agent, done):
        assert agent in self.lent
        if agent in self.on_call:
            self.pending[agent] = done
        else:
            del self.lent[agent]
            done(agent)

    def end_call(self, agent):
        self.on_call.discard(agent)
        if agent in self.pending:
            del self.lent[agent]
            self.pending.pop(agent)(agent)


def _make(n=6, **kw):
    d = Dialer(n)
    feed, acd = Feed(), Acd(d)
    s = BlendSetting("care", queue_high=2, queue_low=0, oldest_high_s=30, oldest_low_s=5,
                     sl_low=0.7, sl_high=0.85, period_s=1.0, **kw)
    b = Blending(d, feed, acd, [s], {"sales": SALES, "care": CARE})
    b.start()
    return d, feed, acd, b


def test_protocols():
    _d, feed, acd, _ = _make()
    assert isinstance(feed, SkillFeed) and isinstance(acd, InboundAgents)


def test_lends_one_step_per_decision_in_trouble_and_holds_in_the_band():
    d, feed, acd, b = _make(step=1)
    feed.report(queued=5)
    d.clock.run(3.0)  # decisions at 1, 2, 3
    assert len(acd.lent) == 3
    assert all(d.agents.state[a] == AgentState.NOT_READY for a in acd.lent)
    feed.report(queued=1, oldest=10.0, sl=0.8)  # inside the band: hold
    d.clock.run(10.0)
    assert len(acd.lent) == 3 and b.recalls == 0


def test_minimum_stay_before_recall_then_back_to_ready():
    d, feed, acd, b = _make(step=2, min_stay_s=60.0)
    feed.report(sl=0.5)
    d.clock.run(1.0)
    lent = sorted(acd.lent)
    assert len(lent) == 2
    # the predictive pacer sees them leave: paused, not idle, while on inbound
    assert (d.agents.status[lent] == AgentStatus.PAUSED).all()
    assert d.agents.ready_count(1)[0] == 4
    feed.report()  # comfortable at once
    d.clock.run(60.5)
    assert b.recalls == 0, "recalled before the minimum stay"
    d.clock.run(61.5)
    assert acd.lent == {} and b.recalls == 2
    assert all(d.agents.state[a] == AgentState.READY for a in lent)
    assert (d.agents.status[lent] == AgentStatus.IDLE).all()  # the pacer counts them again
    assert b.lent_s == pytest.approx(2 * 60.0)


def test_never_lends_an_agent_on_a_call_and_recalls_only_between_inbound_calls():
    d, feed, acd, b = _make(n=3, step=3, min_stay_s=0.0)
    d.talk(0)  # agent 0 on an outbound call
    feed.report(queued=9)
    d.clock.run(1.0)
    assert sorted(acd.lent) == [1, 2]  # not agent 0
    acd.on_call.add(1)  # agent 1 takes an inbound call
    feed.report()
    d.clock.run(2.0)
    assert 1 in acd.lent and d.agents.state[1] == AgentState.NOT_READY  # waits for the end
    assert 2 not in acd.lent and d.agents.state[2] == AgentState.READY
    acd.end_call(1)
    assert d.agents.state[1] == AgentState.READY
    # agent 0 was asked to leave after its outbound call (the third agent wanted); the
    # skill no longer wants it, so once its wrap-up is over it is ready for outbound again
    assert 0 not in acd.lent and b.leaving[0][2] is False and b.lent_count()[0] == 0
    d.hang_up_and_wrap(0)
    d.clock.run(3.0)
    assert d.agents.state[0] == AgentState.READY and 0 not in acd.lent
    assert [(e[1], e[2]) for e in b.log] == [("lend", 1), ("lend", 2), ("ask", 0),
                                             ("recall", 1), ("recall", 2), ("back", 2),
                                             ("back", 1)]


def test_a_lend_leaves_the_idle_agents_the_calls_in_flight_need():
    """Two idle agents and calls in flight that may need both: the skill's two agents come
    from the two on outbound calls, asked to leave after them (the pacer stops counting
    them at once), each lent as it frees; the idle ones stay for the answers to come."""
    d, feed, acd, b = _make(n=4, step=2, min_stay_s=0.0)
    d.talk(0)
    d.talk(1)
    d.agents.transition(1, "call_end", 0.0)  # agent 1 in wrap-up: asked first
    d.due = 2
    feed.report(queued=9)
    d.clock.run(1.0)
    assert acd.lent == {} and sorted(b.leaving) == [0, 1]
    assert [(e[1], e[2]) for e in b.log] == [("ask", 1), ("ask", 0)]
    assert (d.agents.status[[0, 1]] == AgentStatus.BUSY_LEAVING).all()
    assert (d.agents.status[[2, 3]] == AgentStatus.IDLE).all()
    assert b.lent_count()[0] == 2  # asked agents count as given: no second ask
    feed.report(queued=1, oldest=10.0, sl=0.8)  # inside the band: hold
    d.agents.transition(1, "ready", 1.5)  # its wrap-up ends
    d.clock.run(2.0)
    assert list(acd.lent) == [1] and d.agents.state[1] == AgentState.NOT_READY
    d.hang_up_and_wrap(0)
    d.clock.run(3.0)
    assert sorted(acd.lent) == [0, 1] and b.leaving == {} and b.lends == 2


def test_with_nobody_on_an_outbound_call_the_skill_gets_the_idle_agents():
    d, feed, acd, _ = _make(n=3, step=2)
    d.due = 3
    feed.report(queued=9)
    d.clock.run(1.0)
    assert len(acd.lent) == 2  # the skill's trouble comes first


def test_keeps_min_outbound_and_max_released():
    d, feed, acd, _ = _make(n=6, step=10, min_outbound=2, max_released=3)
    feed.report(queued=50)
    d.clock.run(5.0)
    assert len(acd.lent) == 3
    d2, feed2, acd2, _ = _make(n=6, step=10, min_outbound=4)
    feed2.report(queued=50)
    d2.clock.run(5.0)
    assert len(acd2.lent) == 2


def test_no_skill_holder_no_lend():
    d = Dialer(3, skills=SALES)
    feed, acd = Feed(), Acd(d)
    b = Blending(d, feed, acd, [BlendSetting("care", period_s=1.0)], {"care": CARE})
    b.start()
    feed.report(queued=9)
    d.clock.run(3.0)
    assert acd.lent == {}


def test_unknown_skill_and_bad_bands_are_refused():
    d = Dialer(1)
    with pytest.raises(ValueError, match="not reported by the skill feed"):
        Blending(d, Feed(), Acd(d), [BlendSetting("orders")], {})
    with pytest.raises(ValueError, match="queue_low: expected <= queue_high"):
        BlendSetting("care", queue_high=1, queue_low=2)
    with pytest.raises(ValueError, match="period_s"):
        BlendSetting("care", period_s=0)

"""The inbound model (sim/inbound.py) against Erlang C and Erlang A, and its skill state.

Each closed-form check runs independent replications of a skill served by dedicated agents
and compares the mean of each per-replication estimate with the closed form; the tolerance
is 3 standard errors of that mean, from the replications' own spread.
"""

import math

import numpy as np
import polars as pl
import pytest
import simpy

from engine.interfaces import SkillFeed, SkillState
from sim import inbound_kpi as K
from sim.distributions import Deterministic, Exponential
from sim.erlang import erlang_a, erlang_c_metrics
from sim.inbound import InboundSkill, SimInbound

REPS = 8
LAM, AHT, N, T = 0.8, 10.0, 10, 5.0  # calls/s, s, agents, s: load 0.8 per agent
WARM, HOURS = 600.0, 1.0


def _run(seed, patience=None, agents=N, lam=LAM, hours=HOURS, wrap=0.0):
    env = simpy.Environment()
    sk = InboundSkill("s", lam * 3600, Exponential(AHT - wrap), Deterministic(wrap), patience,
                      T)
    w = (WARM, WARM + hours * 3600)
    m = SimInbound(env, [sk], [([0], 0.0, math.inf)] * agents, [],
                   np.random.SeedSequence(seed), w, 60.0, int(w[1] // 60) + 1)
    m.start()
    env.run(until=w[1])
    m.close(w[1])
    return K.block(K.counts(K.in_window(m.calls(), *w), T), w[1] - w[0]), m


def _close(values, expected, what):
    v = np.asarray(values, dtype=float)
    se = v.std(ddof=1) / math.sqrt(v.size)
    assert abs(v.mean() - expected) <= 3 * se + 1e-9, (
        f"{what}: simulated {v.mean():.4f} +- {se:.4f} (s.e.), closed form {expected:.4f}")
    return se


def test_infinite_patience_is_erlang_c():
    runs = [_run(seed)[0] for seed in range(REPS)]
    ref = erlang_c_metrics(LAM * 3600, AHT, N, T)
    se_sl = _close([r["service_level"] for r in runs], ref.service_level, "service level")
    _close([r["asa_s"] for r in runs], ref.asa_s, "ASA")
    assert all(r["abandoned"] == 0 for r in runs)
    assert se_sl < 0.02  # the check is sharp enough to catch a real error


def test_exponential_patience_is_erlang_a():
    patience = 20.0
    runs = [_run(100 + seed, Exponential(patience))[0] for seed in range(REPS)]
    ref = erlang_a(LAM, 1 / AHT, N, 1 / patience, T)
    _close([r["service_level"] for r in runs], ref.service_level, "service level")
    se_ab = _close([r["abandon_rate"] for r in runs], ref.p_abandon, "abandon rate")
    _close([r["mean_wait_s"] for r in runs], ref.mean_wait_s, "mean wait")
    assert se_ab < 0.01


def test_occupancy_is_the_carried_load():
    runs = [_run(200 + seed) for seed in range(4)]
    occ = [K.occupancy(m.handling_s, m.staffed_s) for _, m in runs]
    _close(occ, LAM * AHT / N, "occupancy")


def test_wrap_up_holds_the_agent():
    """Handle = talk + wrap: a deterministic 2 s wrap-up of the 10 s keeps the agent busy,
    so the carried load (occupancy) is still lambda * (talk + wrap) / n."""
    runs = [_run(300 + seed, wrap=2.0) for seed in range(4)]
    occ = [K.occupancy(m.handling_s, m.staffed_s) for _, m in runs]
    _close(occ, LAM * AHT / N, "occupancy with wrap-up")


class _Recorder:
    def __init__(self):
        self.states: list[tuple[float, SkillState]] = []

    def on_skill_state(self, state):
        self.states.append(state)


def test_skill_state_every_second_and_lending():
    env = simpy.Environment()
    sk = InboundSkill("s", 0.0, Exponential(30.0), Deterministic(0.0), None, T)
    m = SimInbound(env, [sk], [], [([0], 0.0, math.inf)] * 3, np.random.SeedSequence(1),
                   (0.0, 100.0), 60.0, 2)
    assert isinstance(m, SkillFeed)
    rec = _Recorder()
    m.subscribe(rec)
    m.start()
    env.run(until=10.5)
    assert len(rec.states) == 11  # t = 0, 1, ..., 10
    assert rec.states[-1] == SkillState("s", 0, 0.0, 1.0, 0, 0, 0, 3)
    m.lend(1, "s")
    with pytest.raises(ValueError, match="unknown inbound skill"):
        m.lend(2, "nope")
    with pytest.raises(ValueError, match="lent already"):
        m.lend(1, "s")
    m._arrive(0)  # one caller: goes to the lent agent at once
    env.run(until=11.5)
    st = rec.states[-1]
    assert (st.agents_staffed, st.agents_available, st.agents_on_inbound,
            st.agents_on_outbound) == (1, 0, 1, 2)
    back = []
    m.recall(1, back.append)
    assert back == []  # on the call: handed back only when it ends
    env.run(until=500)
    assert back == [1]
    calls = m.calls()
    assert calls.height == 1 and calls["lent"].to_list() == [True]
    assert calls["wait_s"][0] == pytest.approx(0.0)


def test_queue_and_oldest_call():
    env = simpy.Environment()
    sk = InboundSkill("s", 0.0, Deterministic(50.0), Deterministic(0.0), Deterministic(7.0), T)
    m = SimInbound(env, [sk], [([0], 0.0, math.inf)], [], np.random.SeedSequence(1),
                   (0.0, 100.0), 60.0, 2)
    m.start()
    env.run(until=1.0)
    for _ in range(3):
        m._arrive(0)  # one answered, two queued
    env.run(until=4.0)
    assert m.waiting[0] == 2 and m.oldest_wait_s(0) == pytest.approx(3.0)
    env.run(until=9.0)  # patience 7 s: both hung up at t = 8
    assert m.waiting[0] == 0 and m.oldest_wait_s(0) == 0.0
    c = K.block(K.counts(m.calls(), T), 100.0)
    assert (c["offered"], c["answered"], c["abandoned"]) == (3, 1, 2)
    assert c["service_level"] == pytest.approx(1 / 3)
    assert m.service_level(0) == pytest.approx(1 / 3)
    assert isinstance(m.calls(), pl.DataFrame)


class _Steps:
    """A step profile: 0 calls/h for the first 1000 s, 7200 after, 1800 from 3000 s."""

    hi = 7200.0

    def value(self, t):
        return 0.0 if t < 1000 else (7200.0 if t < 3000 else 1800.0)


def test_rate_profile_thinning_gives_the_integrated_rate():
    env = simpy.Environment()
    sk = InboundSkill("s", 0.0, Deterministic(1.0), Deterministic(0.0), None, T,
                      profile=_Steps())
    m = SimInbound(env, [sk], [([0], 0.0, math.inf)] * 5, [], np.random.SeedSequence(4),
                   (0.0, 5000.0), 60.0, 100)
    m.start()
    env.run(until=5000.0)
    t = np.array(m.cols["t_arrive_s"])
    assert (t >= 1000).all()
    for lo, hi, rate in ((1000, 3000, 2.0), (3000, 5000, 0.5)):  # calls per second
        n = ((t >= lo) & (t < hi)).sum()
        mean = rate * (hi - lo)
        assert abs(n - mean) <= 3 * math.sqrt(mean)  # Poisson: variance = mean

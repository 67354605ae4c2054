"""One vocabulary: every enum parses from and formats to one spelling; the code sets and the
agent-state split are the ones the KPIs, the flow and the events use."""

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import kpi
from engine.attempt import Attempt
from engine.vocab import (
    ABANDON_CODES,
    AGENT_PACINGS,
    CHANNEL_NAMES,
    HANDLING_STATES,
    LIVE_CODES,
    NOT_READY_STATES,
    OFF_STATES,
    PACING_NAMES,
    READY_STATES,
    AgentState,
    Channel,
    Code,
    PacingSpec,
    channel_name,
    code_name,
    parse_agent_state,
    parse_channel,
    parse_code,
    parse_pacing,
    state_name,
    step_channel,
)
from pacer.modes import Pacing


@pytest.mark.parametrize("channel", list(Channel))
def test_channels_round_trip(channel):
    assert parse_channel(channel_name(channel)) is channel
    assert step_channel(channel) == ("voice" if "voice" in channel_name(channel)
                                     else channel_name(channel))


@pytest.mark.parametrize("pacing", list(Pacing))
def test_every_pacing_has_one_name_that_round_trips(pacing):
    assert parse_pacing(PACING_NAMES[pacing]) == PacingSpec(pacing)
    assert str(PacingSpec(pacing)) == PACING_NAMES[pacing]


@given(st.sampled_from([Pacing.PROGRESSIVE, Pacing.FIXED_RATIO]),
       st.floats(0.01, 100.0, allow_nan=False))
def test_a_pacing_with_its_ratio_round_trips(pacing, ratio):
    spec = parse_pacing(str(PacingSpec(pacing, ratio)))
    assert spec.pacing == pacing and spec.ratio == pytest.approx(ratio, rel=1e-5)


@pytest.mark.parametrize(("text", "message"), [
    ("turbo", "expected one of predictive, progressive, preview, ratio"),
    ("predictive:2", "only ratio and progressive take ':R'"),
    ("ratio:x", "expected a number after ':'"),
    ("ratio:-1", "expected a ratio > 0"),
    ("ratio:inf", "expected a ratio > 0"),
    ("vicidial_hard_limit", "expected one of"),  # one spelling only
])
def test_bad_pacings_say_what_is_expected(text, message):
    with pytest.raises(ValueError, match=message):
        parse_pacing(text)


def test_timed_is_no_agent_pacing():
    assert "timed" not in AGENT_PACINGS
    with pytest.raises(ValueError, match="expected one of"):
        parse_pacing("timed", agent_only=True)


@pytest.mark.parametrize("code", list(Code))
def test_codes_round_trip_by_name_in_any_case(code):
    assert parse_code(code_name(code)) is code
    assert parse_code(code_name(code).lower()) is code
    assert parse_code(int(code)) is code


def test_code_aliases_and_errors():
    assert parse_code("wrong-number") is Code.INVALID
    assert parse_code("Answering machine") is Code.MACHINE
    for bad in ("sold", 99, True):
        with pytest.raises(ValueError, match="not a completion code"):
            parse_code(bad)


@pytest.mark.parametrize("state", list(AgentState))
def test_agent_states_round_trip(state):
    assert parse_agent_state(state_name(state).lower()) is state
    with pytest.raises(ValueError, match="unknown agent state 'ASLEEP'"):
        parse_agent_state("ASLEEP")


def test_code_sets_and_the_state_split_partition_what_they_should():
    assert ABANDON_CODES < LIVE_CODES and int(Code.BLOCKED) not in LIVE_CODES
    states = [*HANDLING_STATES, *READY_STATES, *NOT_READY_STATES, *OFF_STATES]
    assert sorted(states) == sorted(int(s) for s in AgentState)  # each state counted once
    a = Attempt(0, 0, 0, Channel.SMS, 0.0)
    for code in Code:
        a.code = int(code)
        assert a.live == (int(code) in LIVE_CODES)


def test_agent_times_split_the_state_clock():
    t = np.zeros((2, len(AgentState)))
    t[0, AgentState.BUSY] = 100.0
    t[0, AgentState.WORK_NOT_READY] = 20.0
    t[1, AgentState.PENDING_LOGOUT] = 5.0
    t[1, AgentState.READY] = 50.0
    t[1, AgentState.NOT_READY] = 7.0
    t[1, AgentState.LOGGED_OUT] = 1000.0
    got = kpi.agent_times(t)
    assert got == {"talk_s": 100.0, "wrap_s": 25.0, "handling_s": 125.0, "ready_s": 50.0,
                   "not_ready_s": 7.0, "logged_in_s": 182.0}


def _table(rows):
    recs = []
    for k, (code, channel) in enumerate(rows):
        a = Attempt(k, 0, k, channel, 0.0)
        a.code, a.t_end = int(code), 10.0
        recs.append(a.row())
    return kpi.attempt_table(recs)


def test_blocked_attempts_are_counted_apart_never_as_completions():
    att = _table([(Code.BLOCKED, Channel.VOICE_AGENTLESS)] * 3
                 + [(Code.DELIVERED, Channel.SMS), (Code.NO_ANSWER, Channel.VOICE_AGENT)])
    c = kpi.counts(att)
    assert (c["attempts"], c["blocked"]) == (2, 3)
    assert kpi.by_channel(c) == {"voice_agent": 1, "voice_agentless": 0, "sms": 1,
                                 "email": 0}
    assert kpi.bhcc(c["attempts"], 1800.0) == 4.0
    assert kpi.agent_voice(att).height == 1
    assert all(name in kpi.KPIS["attempts_by_channel"] for name in CHANNEL_NAMES)


def test_every_kpi_of_a_run_is_named_in_the_vocabulary():
    from sim.run import simulate
    from sim.scenario import load

    run = simulate(load("scenarios/single-50-predictive.toml",
                        {"scenario.sim_hours": 0.02, "scenario.warmup_s": 10.0}))
    assert set(run.total) <= set(kpi.KPIS)
    assert isinstance(run.attempts, pl.DataFrame)
    assert run.total["attempts"] == sum(run.total["attempts_by_channel"].values())


def test_total_service_level_holds_each_live_answer_to_its_campaigns_threshold():
    from sim.run import simulate
    from sim.scenario import load

    # a long connect window and patient customers: live answers wait for agents
    short = {"scenario.sim_hours": 0.1, "scenario.warmup_s": 60.0,
             "regulation.connect_window_s": 20.0, "campaigns.pacing": "ratio",
             "campaigns.ratio": 3.0}
    runs = {t: simulate(load("scenarios/single-50-predictive.toml",
                             {**short, "campaigns.sl_threshold_s": t}), 5)
            for t in (0.0, 0.5, 2.0)}
    for r in runs.values():
        assert r.total["service_level"] == r.campaigns[0]["service_level"]
    # same traffic (the threshold only paces the predictive target if it is one), so the
    # share within the threshold grows with it
    sl = [runs[t].total["service_level"] for t in (0.0, 0.5, 2.0)]
    assert sl[0] <= sl[1] <= sl[2] and sl[0] < sl[2]

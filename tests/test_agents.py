"""The agent state machine: allowed paths, refused ones, ready queue order and time accounting."""

import numpy as np
import pytest

from engine.agents import AgentManager, AgentState, InvalidTransition
from pacer.modes import AgentStatus


def _mgr(n=3):
    m = AgentManager(n, np.ones(n, dtype=np.int64), n_jobs=2, window=(10.0, 100.0))
    for a in range(n):
        m.set_job(a, 0)
    return m


def test_call_cycle_and_statuses():
    m = _mgr()
    assert m.transition(0, "login", 0.0) == AgentState.LOGGED_IN
    assert m.status[0] == AgentStatus.PAUSED
    assert m.transition(0, "ready", 0.0) == AgentState.READY
    assert m.status[0] == AgentStatus.IDLE
    assert m.pop_ready(0) == 0
    assert m.transition(0, "connect", 20.0) == AgentState.BUSY and m.since_s[0] == 20.0
    assert m.transition(0, "call_end", 50.0) == AgentState.WORK_NOT_READY
    assert m.status[0] == AgentStatus.WRAP and m.since_s[0] == 50.0  # the wrap-up's start
    assert m.handling()[0]
    assert m.transition(0, "ready", 60.0) == AgentState.READY
    assert not m.handling()[0]
    m.close(100.0)
    # window starts at 10: READY 10..20, BUSY 20..50, WRAP 50..60, READY 60..100
    assert m.time_in[0, AgentState.READY] == pytest.approx(50.0)
    assert m.time_in[0, AgentState.BUSY] == pytest.approx(30.0)
    assert m.time_in[0, AgentState.WORK_NOT_READY] == pytest.approx(10.0)


def test_pending_states_resolve_when_the_work_ends():
    m = _mgr()
    for ev in ("login", "ready", "connect"):
        m.transition(1, ev, 0.0)
    assert m.transition(1, "not_ready", 1.0) == AgentState.PENDING_NOT_READY
    assert m.status[1] == AgentStatus.BUSY_LEAVING
    assert m.transition(1, "call_end", 2.0) == AgentState.PENDING_NOT_READY
    assert m.transition(1, "ready", 3.0) == AgentState.NOT_READY
    for ev in ("ready", "connect"):
        m.transition(1, ev, 4.0)
    assert m.transition(1, "logout", 5.0) == AgentState.PENDING_LOGOUT
    m.transition(1, "call_end", 6.0)
    assert m.transition(1, "ready", 7.0) == AgentState.LOGGED_OUT


def test_invalid_transitions_are_refused_with_a_clear_message():
    m = _mgr()
    with pytest.raises(InvalidTransition, match="agent 2: event 'connect' not allowed in state "
                                                "LOGGED_OUT"):
        m.transition(2, "connect", 0.0)
    for ev in ("login", "ready", "connect"):
        m.transition(2, ev, 0.0)
    with pytest.raises(InvalidTransition, match="on a call"):
        m.set_job(2, 1)


def test_ready_queue_is_first_in_first_out_and_skips_stale_entries():
    m = _mgr()
    for a in (2, 0, 1):
        m.transition(a, "login", 0.0)
        m.transition(a, "ready", 0.0)
    m.transition(0, "not_ready", 1.0)  # 0 leaves while queued
    assert m.pop_ready(0) == 2
    assert m.pop_ready(0) == 1
    assert m.pop_ready(0) == -1


def test_ready_is_refused_while_the_agent_is_on_a_call():
    """``ready`` ends a pending agent's wrap-up; on a call (its end not reported yet) it
    is refused like ``ready`` on BUSY, so the call's end still finds the agent on it."""
    m = _mgr()
    for ev in ("login", "ready", "connect"):
        m.transition(0, ev, 0.0)
    for leave, after in (("not_ready", AgentState.NOT_READY),
                         ("logout", AgentState.LOGGED_OUT)):
        pending = m.transition(0, leave, 1.0)
        with pytest.raises(InvalidTransition, match="agent 0: event 'ready' not allowed on a "
                                                    "call"):
            m.transition(0, "ready", 2.0)
        assert m.state[0] == pending and m.on_call[0]
        assert m.transition(0, "call_end", 3.0) == pending and not m.on_call[0]
        assert m.transition(0, "ready", 4.0) == after
        if after == AgentState.NOT_READY:
            for ev in ("ready", "connect"):
                m.transition(0, ev, 5.0)

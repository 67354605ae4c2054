"""A supervisor's requests (engine.supervisor): carried out through the director and the
dialer on a running engine, and every bad request refused with its reason, nothing changed."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.agents import AgentState
from engine.director import JobState
from engine.supervisor import Supervisor, SupervisorError
from tests.test_director import scenario, world


def _started(store, job: int = 0) -> np.ndarray:
    cols = store.cols
    return np.asarray(cols["t_created"])[np.asarray(cols["job"]) == job]


def test_requests_act_through_the_director_and_the_dialer():
    env, w, store = world(scenario(agents=10))
    sup = Supervisor(w.director, w.dialer)
    env.run(until=100.0)
    (st0,) = sup.handle({"action": "status"})["jobs"]
    assert st0["job"] == "sales" and st0["state"] == "RUNNING" and st0["agents"] == 10
    assert sup.handle({"action": "pause", "job": "sales"})["state"] == "PAUSED"
    env.run(until=160.0)
    assert not (_started(store) > 100.0).any()  # nothing launched while paused
    assert sup.handle({"action": "resume", "job": "sales"})["state"] == "RUNNING"
    env.run(until=220.0)
    assert (_started(store) > 160.0).any()
    done = sup.handle({"action": "set", "job": "sales", "max_agents": 3, "priority": 2})
    assert (done["max_agents"], done["priority"], done["min_agents"]) == (3, 2, 0)
    env.run(until=900.0)
    assert int((w.dialer.agents.job == 0).sum()) == 3  # the staffing followed
    assert sup.handle({"action": "status"})["jobs"][0]["agents"] == 3
    listed = sup.handle({"action": "agents"})["agents"]
    assert [a["agent"] for a in listed] == list(range(10))
    assert {a["job"] for a in listed} <= {"sales", None}
    assert sum(a["job"] == "sales" for a in listed) == 3
    assert all(a["state"] in AgentState.__members__ and a["since_s"] <= 900.0 for a in listed)
    off = sup.handle({"action": "logoff", "agent": 9})
    assert off["agent"] == 9 and off["state"] in ("LOGGED_OUT", "PENDING_LOGOUT")
    env.run(until=1200.0)
    assert w.dialer.agents.state[9] == int(AgentState.LOGGED_OUT)
    assert 9 not in [a["agent"] for a in sup.handle({"action": "agents"})["agents"]]
    assert sup.handle({"action": "stop", "job": "sales"})["state"] == "STOPPED"


@pytest.mark.parametrize("req, says", [
    ([1, 2], "expected a JSON object"),
    ({"job": "sales"}, "action: expected one of status, agents, pause"),
    ({"action": "halt", "job": "sales"}, "got 'halt'"),
    ({"action": "pause"}, "job: expected the name of one of the run's jobs ('sales')"),
    ({"action": "pause", "job": "care"}, "got 'care'"),
    ({"action": "pause", "job": "sales", "agent": 1}, "'agent': not a key of action 'pause'"),
    ({"action": "resume", "job": "sales"}, "cannot resume a RUNNING job"),
    ({"action": "set", "job": "sales"}, "needs min_agents, max_agents or priority"),
    ({"action": "set", "job": "sales", "max_agents": -1}, "max_agents: expected an integer"),
    ({"action": "set", "job": "sales", "priority": 0}, "priority: expected an integer from 1"),
    ({"action": "set", "job": "sales", "min_agents": True}, "min_agents: expected an integer"),
    ({"action": "set", "job": "sales", "min_agents": 9, "max_agents": 4},
     "minimum 9 exceeds maximum 4"),
    ({"action": "logoff", "agent": 10}, "agent: expected an agent number from 0 to 9"),
    ({"action": "logoff", "agent": "3"}, "agent: expected an agent number"),
    ({"action": "import", "job": "sales", "file": "x.csv"}, "this run takes no contact imports"),
    ({"action": "shutdown"}, "this run cannot be shut down from here"),
])
def test_a_bad_request_is_refused_with_its_reason_and_changes_nothing(req, says):
    env, w, _ = world(scenario(agents=10))
    sup = Supervisor(w.director, w.dialer)
    env.run(until=50.0)
    before = sup.status()
    with pytest.raises(SupervisorError) as e:
        sup.handle(req)
    assert says in str(e.value)
    assert sup.status() == before and w.director.state(0) == JobState.RUNNING


@functools.cache
def _running():
    env, w, _ = world(scenario(agents=4))
    env.run(until=20.0)
    return Supervisor(w.director, w.dialer)


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                     lambda kids: st.lists(kids, max_size=3)
                     | st.dictionaries(st.text(max_size=8), kids, max_size=3), max_leaves=8)
_requests = st.one_of(_json, st.fixed_dictionaries(
    {"action": st.sampled_from(["status", "agents", "pause", "resume", "stop", "set",
                                "logoff", "import", "shutdown", "x"])},
    optional={"job": st.one_of(st.just("sales"), _json), "agent": _json, "file": _json,
              "min_agents": _json, "max_agents": _json, "priority": _json}))


@settings(max_examples=150)
@given(_requests)
def test_any_request_is_carried_out_or_refused_never_an_other_error(req):
    sup = _running()
    try:
        out = sup.handle(req)
    except SupervisorError as e:
        assert str(e)
    else:
        assert isinstance(out, dict)


@settings(max_examples=200)
@given(st.one_of(st.binary(max_size=64),
                 _requests.map(lambda r: json.dumps(r, allow_nan=True).encode())))
def test_any_line_on_the_control_socket_gets_a_reply_never_an_error(line):
    """The control server's side (outdial.live.control): any bytes a client sends as a
    line are answered with {"ok": ...}; nothing escapes to the connection's task."""
    from outdial.live.control import ControlServer

    server = ControlServer(None, _running(), lambda: {"jobs": []})
    import asyncio

    reply = asyncio.run(server.reply(line))
    assert isinstance(reply["ok"], bool) and (reply["ok"] or reply["error"])


def test_set_on_a_notification_job_is_refused_with_what_it_is():
    """`outdial control set texts ...` on an SMS job said 'refused: KeyError: 1'; and a
    staffing refusal named the job twice ("job 'sales': job 'sales': minimum ...")."""
    from sim.scenario import build
    from tests.test_director import STRATEGY

    raw = {"scenario": {"name": "t", "sim_hours": 1.0, "warmup_s": 0.0, "seed": 3},
           "telephony": {"ports": 60}, "agents": [{"group": "g", "count": 4, "skills": ["s"]}],
           "campaigns": [{"name": "sales", "skill": "s", "strategy": STRATEGY},
                         {"name": "texts", "channel": "sms", "attempts_per_hour": 100.0}]}
    env, w, _ = world(build(raw))
    sup = Supervisor(w.director, w.dialer)
    env.run(until=20.0)
    before = sup.status()
    with pytest.raises(SupervisorError) as e:
        sup.handle({"action": "set", "job": "texts", "max_agents": 3})
    assert str(e.value).startswith("job 'texts' is sms: no agent staffs it")
    with pytest.raises(SupervisorError) as e:
        sup.handle({"action": "set", "job": "sales", "min_agents": 9, "max_agents": 4})
    assert str(e.value).count("job 'sales'") == 1
    assert sup.status() == before


def test_a_restored_logoff_holds_until_the_feed_sees_the_agent_log_out_then_log_in():
    from types import SimpleNamespace

    from engine.store_memory import MemoryStore
    from engine.supervisor import LOGOFFS_KEY, ForcedLogoffs

    store = MemoryStore()
    store.set_meta(LOGOFFS_KEY, json.dumps([2, 3, 99]))  # 99: no such agent now
    heard: list[tuple[int, int]] = []
    forced: set[int] = set()

    def on_agent_state(agent, state):  # the dialer's rule: a login ends a forced logoff
        heard.append((agent, state))
        if state == int(AgentState.LOGGED_IN):
            forced.discard(agent)
    dialer = SimpleNamespace(store=store, forced_out=forced, agents=SimpleNamespace(n=5),
                             on_agent_state=on_agent_state)
    lo = ForcedLogoffs(dialer)
    assert lo.restore() == [2, 3] and forced == {2, 3}
    feed = lo.listener(dialer)
    login, ready, gone = (int(AgentState.LOGGED_IN), int(AgentState.READY),
                          int(AgentState.LOGGED_OUT))
    for agent in (1, 2, 3):  # the first reports after the restart: where the agents are
        feed.on_agent_state(agent, login)
        feed.on_agent_state(agent, ready)
    assert heard == [(1, login), (1, ready)]  # 2 and 3 held
    feed.on_agent_state(2, gone)  # logged out at the phone: held no more
    feed.on_agent_state(2, login)  # a new login: back, and forgotten
    assert heard[-1] == (2, login) and forced == {3}
    assert json.loads(store.get_meta(LOGOFFS_KEY)) == [3]

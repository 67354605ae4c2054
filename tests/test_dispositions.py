"""Agents' dispositions through the engine (``engine.dispositions``): a manual clock, a
scripted telephony and agent feed (``tests.test_dialer``), a memory or SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from engine.agents import AgentManager, AgentState
from engine.attempt import Channel, Code
from engine.contacts import ContactList, ListSpec
from engine.dialer import Dialer, Job
from engine.dispositions import DispositionError, Dispositions
from engine.dnc import DncRegistry
from engine.events import EventPublisher
from engine.flow import ContactFlow
from engine.outbox import OutboxSink
from engine.recovery import restore_flows
from engine.rules import RuleEngine
from engine.store_memory import MemoryStore
from engine.store_sqlite import SqliteStore
from engine.strategy import Step, Strategy
from pacer import CampaignPacing, Pacing
from tests.test_dialer import EPOCH, TICK_S, ManualClock, ScriptedFeed, ScriptedTelephony, login

HOUR = 3600.0


def people(ids: list[str], phones: list[str], mobiles: list[str] | None = None) -> ContactList:
    cols = {"id": ids, "phone": phones, "timezone": ["Europe/London"] * len(ids)}
    spec = {"phone": "voice"}
    if mobiles is not None:
        cols["mobile"] = mobiles
        spec["mobile"] = "voice"
    return ContactList(pl.DataFrame(cols), ListSpec(addresses=spec))


def build(n_agents: int = 1, contacts: ContactList | None = None, store=None,
          windows: str = "always", steps: tuple[str, ...] = ("phone",), **book):
    """A progressive job on ``contacts`` (one, by default) and its dispositions."""
    contacts = contacts if contacts is not None else people(["c0"], ["+442079460000"])
    clock, tel, feed = ManualClock(), ScriptedTelephony(), ScriptedFeed()
    store = store if store is not None else MemoryStore()
    strategy = Strategy(tuple(Step("voice", f, pacing="progressive",
                                   retries={"no_answer": (60, 3)}) for f in steps),
                        windows=windows)
    dnc = DncRegistry()
    flow = ContactFlow(0, "spring", contacts, strategy, RuleEngine(dnc=dnc), EPOCH)
    job = Job("spring", Channel.VOICE_AGENT, CampaignPacing(pacing=Pacing.PROGRESSIVE,
                                                           ratio=1.0),
              skill_mask=1, max_agents=n_agents)
    agents = AgentManager(n_agents, np.ones(n_agents, dtype=np.int64), 1, (0.0, 1e9))
    events = EventPublisher(OutboxSink(store)) if getattr(store, "durable", False) else None
    dialer = Dialer([job], agents, clock, tel, feed, store, [flow], tick_s=TICK_S,
                    events=events)
    dialer.assign(np.zeros(n_agents, dtype=np.int64))
    disp = Dispositions(dialer, [flow], dnc, **book)
    return clock, tel, feed, store, dialer, flow, disp


def first_call(clock, tel, feed, dialer):
    """The dialer started, agent 0 logged in: the one attempt dialled for it by 1 s."""
    dialer.start()
    login(feed, range(1))
    clock.run(1.0)
    (a,) = tel.dialled
    return a


def talk(clock, dialer, a, agent_hangs_up_at: float) -> None:
    """``a`` answered now by a person, put through, talking until ``agent_hangs_up_at``."""
    dialer.on_answered(a, True)
    clock.run(agent_hangs_up_at)
    dialer.on_call_ended(a)


def test_a_campaign_callback_is_dialled_at_its_time_and_not_before():
    clock, tel, feed, _store, dialer, _flow, disp = build()
    a = first_call(clock, tel, feed, dialer)
    talk(clock, dialer, a, 30.0)
    rec = disp.request({"attempt": a.id, "agent": 0, "code": "callback",
                        "callback_in_s": 600})
    assert rec["state"] == "callback" and rec["callback_s"] == 30.0 + 600
    feed.say(0, AgentState.READY)
    clock.run(629.0)
    assert len(tel.dialled) == 1  # the contact was done; the callback waits for its time
    clock.run(631.0)
    assert len(tel.dialled) == 2
    b = tel.dialled[1]
    assert (b.contact_id, b.address) == ("c0", a.address) and 630.0 <= b.t_created <= 631.0
    assert disp.records[a.id]["state"] == "dialling"
    talk(clock, dialer, b, 700.0)
    assert disp.records[a.id]["state"] == "reached"
    assert disp.summary()["callbacks_reached"] == 1
    feed.say(0, AgentState.READY)
    clock.run(2000.0)
    assert len(tel.dialled) == 2  # reached: done


def test_a_callback_asked_for_outside_the_calling_window_goes_at_its_next_opening():
    # 14:00 on a Monday; the window is 09:00-17:00: a callback at 18:00 goes at 09:00
    clock, tel, feed, _store, dialer, _flow, disp = build(
        windows={"mon-sun": "09:00-17:00"})
    a = first_call(clock, tel, feed, dialer)
    talk(clock, dialer, a, 60.0)
    at = (EPOCH + timedelta(hours=4)).astimezone(UTC).isoformat()  # 18:00 London
    disp.request({"attempt": a.id, "agent": 0, "code": "callback", "callback_at": at})
    feed.say(0, AgentState.READY)
    opening = 18 * HOUR  # Tuesday 09:00 London (BST: 08:00 UTC; the epoch is 14:00 UTC)
    clock.run(opening - 1.0)
    assert len(tel.dialled) == 1
    clock.run(opening + 2 * TICK_S)
    assert len(tel.dialled) == 2 and opening <= tel.dialled[1].t_created


def test_a_personal_callback_waits_for_its_agent_and_reaches_that_agent():
    # two agents; agent 1 asked for the callback: agent 0 is ready at its time, but the
    # call waits for agent 1, and its answer goes to agent 1
    two = people(["c0", "c1"], ["+442079460000", "+442079460001"])
    clock, tel, feed, _store, dialer, _flow, disp = build(n_agents=2, contacts=two)
    dialer.start()
    login(feed, range(2))
    clock.run(1.0)
    a0, a1 = tel.dialled
    talk(clock, dialer, a0, 10.0)  # agent 0 takes the first answer
    talk(clock, dialer, a1, 20.0)  # agent 1 the second
    assert (a1.agent, a1.contact_id) == (1, "c1")
    disp.request({"attempt": a1.id, "agent": 1, "code": "callback", "callback_in_s": 100,
                  "personal": True})
    feed.say(0, AgentState.READY)
    disp.start()
    clock.run(300.0)
    assert len(tel.dialled) == 2  # agent 1 still in wrap-up: the callback waits for it
    feed.say(1, AgentState.READY)
    clock.run(302.0)
    assert len(tel.dialled) == 3
    b = tel.dialled[2]
    assert b.contact_id == "c1" and dialer.held(1) == b.id
    # held for it: the pacer does not count agent 1 ready, nor does another answer take it
    assert dialer.agents.state[1] == AgentState.NOT_READY
    dialer.on_answered(b, True)
    assert tel.connected[-1] == (b.id, 1) and b.agent == 1
    assert disp.summary()["callbacks_personal"] == 1


def test_a_personal_callback_not_answered_frees_its_agent_and_is_tried_again():
    clock, tel, feed, _store, dialer, _flow, disp = build(retry_s=120.0, max_tries=2)
    a = first_call(clock, tel, feed, dialer)
    talk(clock, dialer, a, 10.0)
    disp.request({"attempt": a.id, "agent": 0, "code": "callback", "callback_in_s": 50,
                  "personal": True})
    feed.say(0, AgentState.READY)
    disp.start()
    clock.run(62.0)
    b = tel.dialled[1]
    dialer.on_failed(b, int(Code.NO_ANSWER))
    assert dialer.agents.state[0] == AgentState.READY and dialer.held(0) == -1
    clock.run(b.t_end + 119.0)
    assert len(tel.dialled) == 2
    clock.run(b.t_end + 122.0)
    c = tel.dialled[2]
    dialer.on_failed(c, int(Code.BUSY))
    clock.run(2000.0)
    assert len(tel.dialled) == 3  # two tries: expired
    assert disp.records[a.id]["state"] == "expired"


def test_a_personal_callback_whose_agent_stays_away_goes_to_the_campaign():
    two = people(["c0", "c1"], ["+442079460000", "+442079460001"])
    clock, tel, feed, _store, dialer, _flow, disp = build(n_agents=2, contacts=two,
                                                        personal_wait_s=200.0)
    dialer.start()
    login(feed, range(2))
    clock.run(1.0)
    a0, a1 = tel.dialled
    talk(clock, dialer, a0, 10.0)
    talk(clock, dialer, a1, 20.0)
    disp.request({"attempt": a1.id, "agent": 1, "code": "callback", "callback_in_s": 100,
                  "personal": True})
    feed.say(0, AgentState.READY)
    feed.say(1, AgentState.NOT_READY)  # on a break: never back
    disp.start()
    clock.run(319.0)
    assert len(tel.dialled) == 2
    clock.run(323.0)
    assert len(tel.dialled) == 3 and tel.dialled[2].contact_id == "c1"
    dialer.on_answered(tel.dialled[2], True)
    assert tel.connected[-1] == (tel.dialled[2].id, 0)  # the campaign's agent
    assert disp.summary()["callbacks_to_campaign"] == 1


def test_a_dnc_disposition_stops_every_further_attempt_to_the_address():
    # the same number twice on the list, and given while the call is still up
    two = people(["c0", "c1"], ["+442079460000", "+44 20 7946 0000"])
    clock, tel, feed, _store, dialer, flow, disp = build(contacts=two)
    a = first_call(clock, tel, feed, dialer)
    dialer.on_answered(a, True)
    disp.request({"attempt": a.id, "agent": 0, "code": "dnc"})
    assert disp.records[a.id]["state"] == "waiting_call"
    clock.run(30.0)
    dialer.on_call_ended(a)
    assert disp.records[a.id]["state"] == "applied"
    assert disp.dnc.check("+442079460000") == "global"
    feed.say(0, AgentState.READY)
    clock.run(600.0)
    assert len(tel.dialled) == 1  # c1 has the number: refused
    assert flow.counts(600.0).done == 2


def test_a_wrong_number_finishes_the_address_and_the_next_one_is_tried():
    one = people(["c0"], ["+442079460000"], ["+447700900000"])
    clock, tel, feed, _store, dialer, flow, disp = build(contacts=one,
                                                        steps=("phone", "mobile"))
    a = first_call(clock, tel, feed, dialer)
    talk(clock, dialer, a, 30.0)
    assert flow.counts(30.0).done == 1  # a live connect: the contact was done
    disp.request({"attempt": a.id, "agent": 0, "code": "wrong_number"})
    feed.say(0, AgentState.READY)
    clock.run(32.0)
    assert len(tel.dialled) == 2 and tel.dialled[1].address == "+447700900000"


@pytest.mark.parametrize("req, says", [
    ({"attempt": 99, "agent": 0, "code": "sale"}, "no such attempt"),
    ({"attempt": 0, "agent": 1, "code": "sale"}, "not agent 1"),
    ({"attempt": 0, "agent": 0, "code": "sold"}, "code: expected one of"),
    ({"attempt": 0, "agent": 0, "code": "callback"}, "needs one of callback_at"),
    ({"attempt": 0, "agent": 0, "code": "callback", "callback_at": "2024-06-04T09:00"},
     "UTC offset"),
    ({"attempt": 0, "agent": 0, "code": "callback", "callback_at": "2024-06-01T09:00Z"},
     "in the past"),
    ({"attempt": 0, "agent": 0, "code": "callback", "callback_in_s": -5}, "callback_in_s"),
    ({"attempt": 0, "agent": 0, "code": "sale", "personal": True}, "code 'callback' only"),
    ({"attempt": 0, "agent": 0, "code": "sale", "note": "x"}, "'note': not a key"),
    ({"attempt": "0", "agent": 0, "code": "sale"}, "attempt: expected an integer"),
    ({"attempt": 1, "agent": 0, "code": "sale"}, "not put through to an agent"),
])
def test_a_malformed_disposition_is_refused_saying_why_and_changes_nothing(req, says):
    two = people(["c0", "c1"], ["+442079460000", "+442079460001"])
    clock, tel, feed, store, dialer, flow, disp = build(n_agents=2, contacts=two)
    dialer.start()
    login(feed, range(2))
    clock.run(1.0)
    a, b = tel.dialled
    talk(clock, dialer, a, 30.0)
    dialer.on_failed(b, int(Code.BUSY))
    before = flow.counts(30.0)
    with pytest.raises(DispositionError, match=says):
        disp.request(req)
    assert disp.records == {} and store.dispositions() == {}
    assert flow.counts(30.0) == before and disp.summary()["dispositions_refused"] == 1


def test_a_disposition_sent_twice_is_taken_once_and_a_different_second_refused():
    clock, tel, feed, _store, dialer, _flow, disp = build()
    a = first_call(clock, tel, feed, dialer)
    talk(clock, dialer, a, 30.0)
    req = {"attempt": a.id, "agent": 0, "code": "callback", "callback_in_s": 60}
    first = disp.request(req)
    assert disp.request(dict(req)) == first
    with pytest.raises(DispositionError, match="already given disposition 'callback'"):
        disp.request({"attempt": a.id, "agent": 0, "code": "sale"})
    assert disp.summary()["dispositions"] == {"callback": 1}


def _restart(path, t0: float, contacts: ContactList | None = None):
    """A new engine on the store at ``path`` (a restart): flows restored from the recorded
    attempts, then the dispositions."""
    store = SqliteStore(path)
    clock, tel, feed, store, dialer, flow, disp = build(store=store, contacts=contacts)
    clock.t = t0
    restore_flows(store.attempts(), [flow], t0)
    n = disp.restore(t0)
    return clock, tel, feed, store, dialer, flow, disp, n


def test_dispositions_survive_a_restart_the_callback_dialled_at_its_time(tmp_path):
    path = tmp_path / "run.sqlite"
    two = people(["c0", "c1"], ["+442079460000", "+442079460001"])
    clock, tel, feed, store, dialer, _flow, disp = build(n_agents=2, contacts=two,
                                                        store=SqliteStore(path))
    dialer.start()
    login(feed, range(2))
    clock.run(1.0)
    a0, a1 = tel.dialled
    talk(clock, dialer, a0, 10.0)
    talk(clock, dialer, a1, 20.0)
    disp.request({"attempt": a0.id, "agent": 0, "code": "dnc"})
    disp.request({"attempt": a1.id, "agent": 1, "code": "callback", "callback_in_s": 500})
    events = [e for _, _, e in store.unpublished(100) if e["type"] == "ATTEMPT_DISPOSITION"]
    assert [(e["attempt_id"], e["disposition"]) for e in events] == \
        [(a0.id, "dnc"), (a1.id, "callback")]
    store.close()  # the process ends (every write was committed as it was made)
    clock, tel, feed, store, dialer, _flow, disp, n = _restart(path, 100.0, two)
    assert n == 2 and disp.dnc.check("+442079460000") == "global"
    dialer._next_id = 2
    dialer.start()
    login(feed, range(1))
    clock.run(519.0)
    assert tel.dialled == []
    clock.run(522.0)
    assert [a.contact_id for a in tel.dialled] == ["c1"]
    store.close()


def test_a_callback_in_flight_at_a_crash_is_tried_again_after_the_restart(tmp_path):
    path = tmp_path / "run.sqlite"
    clock, tel, feed, store, dialer, _flow, disp = build(store=SqliteStore(path))
    a = first_call(clock, tel, feed, dialer)
    talk(clock, dialer, a, 10.0)
    disp.request({"attempt": a.id, "agent": 0, "code": "callback", "callback_in_s": 50})
    feed.say(0, AgentState.READY)
    clock.run(61.0)
    b = tel.dialled[1]  # ringing when the process dies
    assert disp.records[a.id]["state"] == "dialling"
    store._db.close()  # killed: nothing more is written
    store._unlock()
    from engine.recovery import scan
    store = SqliteStore(path)
    scan(store)  # the ringing callback attempt is recoded TRAPPED
    assert store.attempt(b.id)["code"] == int(Code.TRAPPED)
    store.close()
    clock, tel, feed, store, dialer, _flow, disp, _ = _restart(path, 200.0)
    dialer._next_id = 2
    dialer.start()
    login(feed, range(1))
    clock.run(202.0)
    assert [x.contact_id for x in tel.dialled] == ["c0"]
    assert disp.records[a.id]["tries"] == 2
    store.close()


def test_the_callback_time_is_read_in_its_own_offset():
    clock, tel, feed, _store, dialer, _flow, disp = build()
    a = first_call(clock, tel, feed, dialer)
    talk(clock, dialer, a, 30.0)
    at = datetime(2024, 6, 3, 17, 0, tzinfo=UTC).astimezone().isoformat()
    rec = disp.request({"attempt": a.id, "agent": 0, "code": "callback", "callback_at": at})
    assert rec["callback_s"] == pytest.approx(3 * HOUR)

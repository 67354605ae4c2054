"""The dialer driven through its interfaces alone: a manual clock, a scripted telephony and
a scripted agent feed, no SimPy. Each test is a short story told by the world's parts."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from engine.agents import AgentManager, AgentState, InvalidTransition
from engine.attempt import Attempt, Channel, Code
from engine.contacts import ContactList, ListSpec
from engine.dialer import Dialer, Job
from engine.flow import ContactFlow
from engine.interfaces import AgentFeed, AgentListener, Clock, Telephony, TelephonyEvents
from engine.rules import RuleEngine
from engine.staffing import Licenses
from engine.store_memory import MemoryStore
from engine.strategy import Step, Strategy
from pacer import AgentStatus, CampaignPacing, Pacing
from pacer.modes import CallStatus

EPOCH = datetime(2024, 6, 3, 14, tzinfo=UTC)  # a Monday afternoon in London
TICK_S = 0.5


class ManualClock:
    """``Clock`` by hand: time moves only in ``run``; same-time calls in order of asking."""

    def __init__(self) -> None:
        self.t = 0.0
        self._q: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self.t

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> None:
        heapq.heappush(self._q, (self.t + delay_s, next(self._seq), callback))

    def run(self, until: float) -> None:
        while self._q and self._q[0][0] <= until:
            self.t, _, cb = heapq.heappop(self._q)
            cb()
        self.t = until


class ScriptedTelephony:
    """``Telephony`` whose calls do what the test says, when the test says so."""

    def __init__(self, ports: int = 100) -> None:
        self.ports = ports
        self.dialled: list[Attempt] = []
        self.connected: list[tuple[int, int]] = []  # (attempt id, agent)
        self.dropped: list[int] = []
        self.listener: TelephonyEvents | None = None

    def subscribe(self, listener: TelephonyEvents) -> None:
        self.listener = listener

    def capacity(self, voice: bool) -> int:
        busy = sum(1 for a in self.dialled if a.code == int(Code.PENDING))
        return max(self.ports - busy, 0)

    def dial(self, attempt: Attempt) -> None:
        self.dialled.append(attempt)

    def connect(self, attempt: Attempt, agent: int) -> None:
        self.connected.append((attempt.id, agent))

    def drop(self, attempt: Attempt) -> None:
        self.dropped.append(attempt.id)


class ScriptedFeed:
    """``AgentFeed`` reporting what the test's ACD says."""

    def __init__(self) -> None:
        self.listener: AgentListener | None = None

    def subscribe(self, listener: AgentListener) -> None:
        self.listener = listener

    def say(self, agent: int, state: AgentState) -> None:
        assert self.listener is not None
        self.listener.on_agent_state(agent, int(state))


def contacts(n: int) -> ContactList:
    return ContactList(pl.DataFrame({"id": [f"c{k}" for k in range(n)],
                                     "phone": [f"+4420794600{k:02d}" for k in range(n)],
                                     "timezone": ["Europe/London"] * n}),
                       ListSpec(addresses={"phone": "voice"}))


def build(n_agents: int = 2, n_contacts: int = 20, ports: int = 100, ratio: float = 1.0,
          licensed: bool = False):
    clock, tel, feed, store = ManualClock(), ScriptedTelephony(ports), ScriptedFeed(), MemoryStore()
    strategy = Strategy((Step("voice", "phone", pacing="progressive",
                              retries={"busy": (60, 1)}),), windows="always")
    flow = ContactFlow(0, "spring", contacts(n_contacts), strategy, RuleEngine(), EPOCH)
    job = Job("spring", Channel.VOICE_AGENT,
              CampaignPacing(pacing=Pacing.PROGRESSIVE, ratio=ratio), skill_mask=1,
              max_agents=n_agents)
    agents = AgentManager(n_agents, np.ones(n_agents, dtype=np.int64), 1, (0.0, 1e9))
    licenses = Licenses({"progressive_agents": n_agents}) if licensed else None
    dialer = Dialer([job], agents, clock, tel, feed, store, [flow], licenses=licenses,
                    tick_s=TICK_S)
    if not licensed:
        dialer.assign(np.zeros(n_agents, dtype=np.int64))
    return clock, tel, feed, store, dialer


def login(feed: ScriptedFeed, agents: range) -> None:
    for a in agents:
        feed.say(a, AgentState.LOGGED_IN)
        feed.say(a, AgentState.READY)


def test_the_parts_meet_the_protocols_and_the_dialer_subscribes_itself():
    clock, tel, feed, _, dialer = build()
    assert isinstance(clock, Clock) and isinstance(tel, Telephony)
    assert isinstance(feed, AgentFeed)
    assert tel.listener is dialer and feed.listener is dialer
    assert isinstance(dialer, TelephonyEvents) and isinstance(dialer, AgentListener)


def test_no_ready_agent_no_dial_then_one_dial_per_ready_agent():
    clock, tel, feed, _, dialer = build(n_agents=2)
    dialer.start()
    clock.run(5.0)
    assert tel.dialled == []  # nobody logged in
    login(feed, range(2))
    clock.run(5.0 + TICK_S)
    assert len(tel.dialled) == 2  # progressive 1:1
    assert [a.contact_id for a in tel.dialled] == ["c0", "c1"]
    assert dialer.next_attempt_id == 2
    clock.run(20.0)
    assert len(tel.dialled) == 2  # both lines still ring: nothing more


def test_call_slots_grow_past_their_first_capacity_and_the_pacer_sees_each_write():
    # 1,100 calls ring at once (the slots start at 1,024): the numpy columns the pacer
    # reads are views of the buffers the dialer writes, before and after they grow
    n = 1100
    clock, tel, feed, _, dialer = build(n_agents=n, n_contacts=n, ports=2 * n)
    dialer.start()
    login(feed, range(n))
    clock.run(1.0)
    assert len(tel.dialled) == n and len(dialer.call_job) >= n
    ringing = dialer.call_status == int(CallStatus.RINGING)
    assert ringing.sum() == n and (dialer.call_job[ringing] == 0).all()
    assert sorted(a.slot for a in tel.dialled) == list(range(n))
    a = tel.dialled[-1]
    dialer.on_answered(a, True)
    assert dialer.call_status[a.slot] == int(CallStatus.CONNECTED)
    b = tel.dialled[0]
    slot = b.slot
    dialer.on_failed(b, int(Code.BUSY))
    assert dialer.call_status[slot] == int(CallStatus.FREE) and dialer.call_job[slot] == -1
    assert (dialer.call_status != int(CallStatus.FREE)).sum() == n - 1
    assert dialer.in_flight_by_job().tolist() == [n - 1]


def test_a_live_answer_meets_an_agent_who_wraps_up_and_comes_back():
    clock, tel, feed, store, dialer = build(n_agents=1)
    told = []  # what the pacer is told about the agent's talk and wrap-up
    talk, wrap = dialer.pacer.observe_talk, dialer.pacer.observe_wrap
    dialer.pacer.observe_talk = lambda row, s: (told.append(("talk", row, s)), talk(row, s))
    dialer.pacer.observe_wrap = lambda row, s: (told.append(("wrap", row, s)), wrap(row, s))
    dialer.start()
    login(feed, range(1))
    clock.run(1.0)
    (a,) = tel.dialled
    clock.run(6.0)
    dialer.on_answered(a, True)
    assert tel.connected == [(a.id, 0)] and a.t_connect == 6.0
    assert dialer.agents.state[0] == AgentState.BUSY
    assert dialer.agents.status[0] == AgentStatus.BUSY
    clock.run(66.0)
    dialer.on_call_ended(a)
    assert dialer.agents.state[0] == AgentState.WORK_NOT_READY
    # the pacer sees the wrap-up apart, timed from its start
    assert dialer.agents.status[0] == AgentStatus.WRAP and dialer.agents.since_s[0] == 66.0
    assert store.cols["code"] == [int(Code.LIVE_CONNECTED)]
    assert store.cols["t_end"] == [66.0]
    clock.run(80.0)
    assert len(tel.dialled) == 1  # in wrap-up: no dial for it
    feed.say(0, AgentState.READY)  # the ACD says the wrap-up ended
    assert told == [("talk", 0, 60.0), ("wrap", 0, 14.0)]
    clock.run(81.0)
    assert len(tel.dialled) == 2 and tel.dialled[1].contact_id == "c1"


def test_a_live_answer_nobody_takes_is_dropped_at_the_connect_window():
    clock, tel, feed, store, dialer = build(n_agents=1, ratio=2.0)
    dialer.start()
    login(feed, range(1))
    clock.run(1.0)
    first, second = tel.dialled
    dialer.on_answered(first, True)
    dialer.on_answered(second, True)  # the only agent is taken
    assert tel.connected == [(first.id, 0)]
    window = dialer.jobs[0].connect_window_s
    clock.run(1.0 + window - 0.01)
    assert tel.dropped == []
    clock.run(1.0 + window + 0.01)
    assert tel.dropped == [second.id]
    assert second.code == Code.ABANDONED and second.abandoned
    assert store.cols["attempt_id"] == [second.id]


def test_a_busy_contact_is_retried_after_its_delay_by_the_strategy():
    clock, tel, feed, _, dialer = build(n_agents=1, n_contacts=1)
    dialer.start()
    login(feed, range(1))
    clock.run(1.0)
    (a,) = tel.dialled
    clock.run(3.0)
    dialer.on_failed(a, int(Code.BUSY))
    clock.run(62.0)
    assert len(tel.dialled) == 1  # busy retry after 60 s from the end at 3 s
    clock.run(63.5)
    assert len(tel.dialled) == 2 and tel.dialled[1].contact_id == "c0"
    dialer.on_failed(tel.dialled[1], int(Code.BUSY))
    clock.run(200.0)
    assert len(tel.dialled) == 2  # one busy retry only: the contact is done
    assert dialer.flows[0].exhausted


def test_a_job_out_of_contacts_dials_again_once_its_list_grows():
    """New leads imported into a running job's list (``ContactFlow.extend``) after it ran
    dry are dialled: running out of contacts marks the job, it does not end it."""
    clock, tel, feed, _, dialer = build(n_agents=1, n_contacts=1)
    dialer.start()
    login(feed, range(1))
    clock.run(1.0)
    (a,) = tel.dialled
    dialer.on_failed(a, int(Code.INVALID))  # the only contact: done
    clock.run(5.0)
    assert dialer.exhausted[0] and len(tel.dialled) == 1
    more = ContactList(pl.DataFrame({"id": ["c7"], "phone": ["+442079460077"],
                                     "timezone": ["Europe/London"]}),
                       ListSpec(addresses={"phone": "voice"}))
    assert dialer.flows[0].extend(more) == 1
    clock.run(6.0)
    assert not dialer.exhausted[0]
    assert [x.contact_id for x in tel.dialled] == ["c0", "c7"]


def test_dials_never_exceed_the_telephonys_capacity():
    clock, tel, feed, _, dialer = build(n_agents=6, ports=4)
    dialer.start()
    login(feed, range(6))
    clock.run(10.0)
    assert len(tel.dialled) == 4


def test_licensed_staffing_puts_logged_in_agents_on_the_job():
    clock, tel, feed, _, dialer = build(n_agents=3, licensed=True)
    assert dialer.staffing is not None
    dialer.start()
    assert (dialer.agents.job == 0).all()  # staffed at start, logged in or not
    clock.run(1.0)
    assert tel.dialled == []
    login(feed, range(3))
    clock.run(2.0)
    assert len(tel.dialled) == 3
    dialer.staffing.set_limits(0, maximum=1)
    clock.run(dialer.staffing.period_s + 1.0)
    # nobody on a call, but the three calls still ringing may bring live answers: the idle
    # agents they may need stay, marked leaving (the pacer no longer counts them), the
    # others move at the period
    am = dialer.agents
    leaving = [a for a in range(3) if am.leaving(a)]
    assert leaving and (am.job == 0).sum() == 1 + len(leaving)
    assert (am.status[leaving] == AgentStatus.PAUSED).all()
    for a in tel.dialled:
        dialer.on_failed(a, int(Code.INVALID))  # no live answer after all
    clock.run(3 * dialer.staffing.period_s + 2.0)
    assert (am.job == 0).sum() == 1 and not any(am.leaving(a) for a in range(3))


def test_bad_wiring_is_refused():
    clock, tel, feed, store, _ = build()
    with pytest.raises(ValueError, match="1 jobs but 0 contact flows"):
        Dialer([Job("x", Channel.VOICE_AGENT, CampaignPacing())],
               AgentManager(1, np.ones(1, dtype=np.int64), 1, (0.0, 1.0)), clock, tel, feed,
               store, [])
    with pytest.raises(ValueError, match="unknown"):
        Licenses({"gold_agents": 3})


def test_a_ready_report_before_the_calls_end_leaves_the_call_to_complete():
    """Live, the agent feed and the telephony are two polls: the feed may see an agent ready
    before the telephony reports the end of its call. An agent asked to leave after its call
    (blending's ask, a break asked at the phone) must not leave the call on that report: the
    call's end was then refused and its attempt completed only at the run's stop (`outdial
    run scenarios/live-blended-emulated.toml --emulate --speed 10`: a talk that ended at 65 s
    completed at 462 s). The report is refused, as on BUSY, and the feed retries it."""
    clock, tel, feed, store, dialer = build(n_agents=1)
    dialer.start()
    login(feed, range(1))
    clock.run(1.0)
    (a,) = tel.dialled
    clock.run(6.0)
    dialer.on_answered(a, True)
    feed.say(0, AgentState.NOT_READY)  # asked to leave after the call
    assert dialer.agents.state[0] == AgentState.PENDING_NOT_READY
    clock.run(30.0)
    with pytest.raises(InvalidTransition, match="on a call"):
        feed.say(0, AgentState.READY)  # the feed saw the end first
    assert dialer.agents.state[0] == AgentState.PENDING_NOT_READY
    dialer.on_call_ended(a)
    assert store.cols["code"] == [int(Code.LIVE_CONNECTED)] and store.cols["t_end"] == [30.0]
    feed.say(0, AgentState.READY)  # the feed's retry, after the end: the pending wins
    assert dialer.agents.state[0] == AgentState.NOT_READY


def test_the_stop_hangs_up_ringing_calls_and_drops_a_waiting_answer_as_an_abandon():
    clock, tel, feed, _, dialer = build(n_agents=3, ratio=1.0)
    dialer.start()
    login(feed, range(3))
    clock.run(1.0)
    talking, waiting, ringing = tel.dialled
    dialer.on_answered(talking, True)  # takes an agent
    for a in (1, 2):  # the other agents go on a break: the next live answer waits
        feed.say(a, AgentState.NOT_READY)
    dialer.on_answered(waiting, True)
    assert waiting in dialer.waiting[0]
    dialer.stop()
    assert dialer.end_in_flight(int(Code.TRAPPED), int(Code.LIVE_CONNECTED)) == 3
    assert (Code(talking.code), Code(waiting.code), Code(ringing.code)) == (
        Code.LIVE_CONNECTED, Code.ABANDONED, Code.TRAPPED)
    assert waiting.abandoned and not dialer.waiting[0] and not dialer.in_flight
    assert sorted(tel.dropped) == sorted([waiting.id, ringing.id])  # none left on the line


def test_a_crash_while_an_agent_talks_recovers_the_call_as_connected_not_redialled(tmp_path):
    # kill -9 while a customer talks to an agent and another waits for one: the store knew
    # only that the attempts had started, so the restart coded both TRAPPED (answer and
    # agent lost, events saying otherwise) and dialled both customers again; the waiting
    # one was an abandon nobody counted
    from engine.events import EventPublisher
    from engine.outbox import OutboxSink
    from engine.recovery import restore_flows, scan
    from engine.store_sqlite import SqliteStore

    path = tmp_path / "s.sqlite"
    clock, tel, feed, store = ManualClock(), ScriptedTelephony(), ScriptedFeed(), \
        SqliteStore(path)
    strategy = Strategy((Step("voice", "phone", pacing="progressive"),), windows="always")

    def flow():
        return ContactFlow(0, "spring", contacts(4), strategy, RuleEngine(), EPOCH)
    job = Job("spring", Channel.VOICE_AGENT, CampaignPacing(pacing=Pacing.PROGRESSIVE),
              skill_mask=1, max_agents=3)
    agents = AgentManager(3, np.ones(3, dtype=np.int64), 1, (0.0, 1e9))
    dialer = Dialer([job], agents, clock, tel, feed, store, [flow()], tick_s=TICK_S,
                    events=EventPublisher(OutboxSink(store)))
    dialer.assign(np.zeros(3, dtype=np.int64))
    dialer.start()
    login(feed, range(3))
    clock.run(1.0)
    talking, waiting, ringing = tel.dialled
    clock.run(3.0)
    dialer.on_answered(talking, True)  # agent 0 talks to c0
    for a in (1, 2):
        feed.say(a, AgentState.NOT_READY)
    dialer.on_answered(waiting, True)  # c1 waits for an agent ... and the process dies
    store.close()
    again = SqliteStore(path)
    rec = scan(again, EventPublisher(OutboxSink(again)))
    done = {r["attempt_id"]: r for r in again.attempts()}
    assert [r["attempt_id"] for r in rec.trapped] == [talking.id, waiting.id, ringing.id]
    assert (Code(done[talking.id]["code"]), done[talking.id]["agent"],
            done[talking.id]["t_connect"]) == (Code.LIVE_CONNECTED, 0, 3.0)
    assert (Code(done[waiting.id]["code"]), done[waiting.id]["abandoned"]) == (
        Code.ABANDONED, True)
    assert Code(done[ringing.id]["code"]) == Code.TRAPPED
    ends = {e["attempt_id"]: e for _, _, e in again.unpublished()
            if e["type"] == "ATTEMPT_COMPLETED"}
    assert ends[talking.id]["completion_code"] == "LIVE_CONNECTED"
    assert ends[talking.id]["t_end_s"] >= ends[talking.id]["t_connect_s"] == 3.0
    assert ends[waiting.id]["completion_code"] == "ABANDONED" and ends[waiting.id]["nuisance"]
    fresh = flow()
    restore_flows(again.attempts(), [fresh], rec.resume_s)
    assert fresh.counts(rec.resume_s).abandons == 1
    redial = [p[1] for p in fresh.take(rec.resume_s, "voice", 4)]
    assert redial == [ringing.contact_id, "c3"]  # the trapped one again, then the next
    again.close()

"""The campaign director: job lifecycle (every transition, every refused one), schedules,
finish criteria, job statistics on a small simulated run, runtime license limits, and the
dialer's forced logoff."""

import heapq
import itertools
from types import SimpleNamespace

import numpy as np
import pytest
import simpy

from engine.agents import AgentState
from engine.attempt import Code
from engine.director import TRANSITIONS, CampaignDirector, JobPlan, JobState, JobTransitionError
from engine.store_memory import MemoryStore
from sim.run import assemble
from sim.scenario import build

# ---------------------------------------------------------------------- a bare dialer


class Clock:
    def __init__(self):
        self.t = 0.0
        self.q: list = []
        self.seq = itertools.count()

    def now(self) -> float:
        return self.t

    def call_later(self, delay_s, cb):
        heapq.heappush(self.q, (self.t + delay_s, next(self.seq), cb))

    def run(self, until: float) -> None:
        while self.q and self.q[0][0] <= until:
            self.t, _, cb = heapq.heappop(self.q)
            cb()
        self.t = until


class Flow:
    can_exhaust = True
    exhausted = False
    successes = 0


class Dialer:
    def __init__(self, names):
        self.jobs = [SimpleNamespace(name=n) for n in names]
        self.clock = Clock()
        self.running = [True] * len(names)
        self.store = MemoryStore()
        self.events = SimpleNamespace(enabled=False, job=lambda *a: self.log.append(a))
        self.log: list = []
        self.staffing = None

    def pause(self, j):
        self.running[j] = False

    def resume(self, j):
        self.running[j] = True


def bare(plans, names=None):
    names = names or [f"job{k}" for k in range(len(plans))]
    d = Dialer(names)
    flows = [Flow() for _ in plans]
    return d, flows, CampaignDirector(d, flows, plans)


ACTIONS = {"start": "start_job", "pause": "pause", "resume": "resume", "stop": "stop"}
PATHS = {JobState.SCHEDULED: [], JobState.RUNNING: ["start"],
         JobState.PAUSED: ["start", "pause"], JobState.STOPPED: ["stop"]}


def reach(state: JobState):
    d, flows, director = bare([JobPlan(start_s=100.0)], ["spring"])
    director.start()
    if state == JobState.FINISHED:
        director.start_job(0)
        flows[0].exhausted = True
        d.clock.run(2.0)  # the next check finishes it
    for action in PATHS.get(state, []):
        getattr(director, ACTIONS[action])(0)
    assert director.state(0) == state
    return d, director


@pytest.mark.parametrize("state", list(JobState))
@pytest.mark.parametrize("action", list(ACTIONS))
def test_every_transition_is_applied_or_refused_naming_job_state_and_action(state, action):
    d, director = reach(state)
    want = TRANSITIONS[action].get(state)
    before = (director.state(0), d.running[0], len(d.log))
    if want is None:
        with pytest.raises(JobTransitionError,
                           match=f"job 'spring': cannot {action} a {state.value} job"):
            getattr(director, ACTIONS[action])(0)
        assert (director.state(0), d.running[0], len(d.log)) == before  # nothing changed
    else:
        getattr(director, ACTIONS[action])(0)
        assert director.state(0) == want
        assert d.running[0] == (want == JobState.RUNNING)
        assert d.store.job_states() == {"spring": want.value}


def test_final_states_say_nothing_is_allowed():
    for state in (JobState.STOPPED, JobState.FINISHED):
        _, director = reach(state)
        with pytest.raises(JobTransitionError, match="nothing, the job is over"):
            director.resume(0)
    _, director = reach(JobState.PAUSED)
    with pytest.raises(JobTransitionError, match=r"allowed now: finish, resume, stop"):
        director.pause(0)


def test_jobs_wait_paused_until_their_start_and_finish_at_their_end():
    d, flows, director = bare([JobPlan(), JobPlan(start_s=50.0, end_s=80.0)])
    for f in flows:
        f.can_exhaust = False
    assert d.running == [False, False]  # nothing dials before the director starts
    director.start()
    assert director.states == [JobState.RUNNING, JobState.SCHEDULED]
    assert d.running == [True, False]
    d.clock.run(49.9)
    assert director.state(1) == JobState.SCHEDULED and not d.running[1]
    d.clock.run(50.0)
    assert director.state(1) == JobState.RUNNING and d.running[1]
    director.pause(1)
    d.clock.run(80.0)  # the end time finishes a paused job too
    assert director.state(1) == JobState.FINISHED and director.reasons[1] == "end_time"
    assert director.state(0) == JobState.RUNNING


def test_finish_criteria_successes_and_exhausted_list():
    d, flows, director = bare([JobPlan(finish_after_successes=3),
                               JobPlan(finish_when_exhausted=False), JobPlan()])
    director.start()
    flows[0].successes = 2
    flows[1].exhausted = flows[2].exhausted = True
    d.clock.run(1.0)
    assert director.states == [JobState.RUNNING, JobState.RUNNING, JobState.FINISHED]
    assert director.reasons[2] == "exhausted"
    flows[0].successes = 3
    d.clock.run(2.0)
    assert director.state(0) == JobState.FINISHED and director.reasons[0] == "successes"
    assert director.state(1) == JobState.RUNNING  # exhausted, but told not to finish


def test_job_plan_and_limits_errors_are_clear():
    with pytest.raises(ValueError, match="end_s: expected a time after start_s"):
        JobPlan(start_s=10.0, end_s=5.0)
    with pytest.raises(ValueError, match="finish_after_successes"):
        JobPlan(finish_after_successes=0)
    _, _, director = bare([JobPlan()], ["spring"])
    with pytest.raises(ValueError, match="job 'spring': no staffing"):
        director.set_limits(0, max_agents=3)


# ---------------------------------------------------------------------- simulated runs

STRATEGY = {"steps": [{"channel": "voice", "address": "phone",
                       "retries": {"busy": [120, 1], "no_answer": [300, 1],
                                   "abandoned": [60, 1]}}],
            "windows": "always", "default_timezone": "UTC"}


def scenario(agents: int = 5, start: str = "2024-06-03T09:00:00+00:00", logout_s=None,
             **camp):
    c = {"name": "sales", "skill": "s", "records": 0, "initial_hit_rate": 0.3,
         "outcomes": {"live": 0.4, "machine": 0.2, "busy": 0.1, "no_answer": 0.25,
                      "invalid": 0.05},
         "talk": {"dist": "exponential", "mean_s": 40.0},
         "wrap": {"dist": "exponential", "mean_s": 5.0},
         "customer": {"patience_mean_s": 3.0}, "strategy": STRATEGY}
    c.update(camp)
    group = {"group": "g", "count": agents, "skills": ["s"]}
    if logout_s is not None:
        group["logout_s"] = logout_s
    return build({"scenario": {"name": "t", "sim_hours": 1.0, "warmup_s": 0.0, "seed": 3,
                               "start": start},
                  "telephony": {"ports": 60}, "agents": [group], "campaigns": [c]})


def world(scn, seed: int = 3):
    env = simpy.Environment()
    store = MemoryStore()
    w = assemble(scn, seed, env, store, (0.0, 7200.0))
    w.feed.start()
    w.director.start()
    w.dialer.start()
    return env, w, store


def rows(store: MemoryStore) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in store.cols.items()}


def test_scheduled_job_starts_at_its_start_and_finishes_at_its_end():
    env, w, store = world(scenario(schedule={"start_s": 300.0, "end_s": 900.0}))
    env.run(until=299.0)
    assert w.director.state(0) == JobState.SCHEDULED and not store.cols["attempt_id"]
    env.run(until=1200.0)
    assert w.director.state(0) == JobState.FINISHED and w.director.reasons[0] == "end_time"
    r = rows(store)
    assert r["t_created"].min() >= 300.0
    assert r["t_created"].max() <= 900.0 and r["t_created"].size > 30
    assert store.job_states() == {"sales": "FINISHED"}


def test_job_finishes_after_n_successes():
    env, w, store = world(scenario(schedule={"finish_after_successes": 8}))
    env.run(until=1800.0)
    assert w.director.state(0) == JobState.FINISHED and w.director.reasons[0] == "successes"
    r = rows(store)
    ok = r["code"] == int(Code.LIVE_CONNECTED)
    # finished within a check period of the 8th success; only calls in flight came after
    eighth = np.sort(r["t_end"][ok])[7]
    assert r["t_created"].max() <= eighth + 1.0
    assert 8 <= w.flows[0].successes <= 8 + 5 + 10


def test_job_finishes_when_its_list_is_exhausted_and_reports_it_complete():
    # no abandon retry: an abandon's 72 h nuisance wait would keep the list open
    strategy = {**STRATEGY, "steps": [{**STRATEGY["steps"][0],
                                       "retries": {"busy": [120, 1], "no_answer": [300, 1]}}]}
    env, w, store = world(scenario(records=40, strategy=strategy))
    env.run(until=3600.0)
    assert w.director.state(0) == JobState.FINISHED and w.director.reasons[0] == "exhausted"
    s = w.director.stats(0)
    assert (s.total_contacts, s.processed, s.pending_retries, s.in_flight) == (40, 40, 0, 0)
    assert s.percent_complete == 100.0
    assert len(set(rows(store)["contact"].tolist())) == 40


def test_job_statistics_match_the_attempt_records():
    # start at 23:50 UTC: the UTC day turns at run-clock 600 s; a progressive ratio of 3 on
    # 5 agents drops live answers on both days (a pacer that drops none would leave the
    # day's split of the nuisance rate untested)
    env, w, store = world(scenario(start="2024-06-03T23:50:00+00:00", records=150,
                                   pacing="progressive", ratio=3.0))
    env.run(until=1500.0)
    s = w.director.stats(0)
    flow = w.flows[0]
    r = rows(store)
    code = r["code"]
    live = np.isin(code, [int(Code.LIVE_CONNECTED), int(Code.ABANDONED),
                          int(Code.CUSTOMER_HANGUP)])
    ab = np.isin(code, [int(Code.ABANDONED), int(Code.CUSTOMER_HANGUP)])
    done_attempts = int((code != int(Code.BLOCKED)).sum())
    assert s.attempted == done_attempts + len(w.dialer.in_flight)
    assert s.connects == int((code == int(Code.LIVE_CONNECTED)).sum())
    assert s.nuisance_rate == pytest.approx(ab.sum() / live.sum())
    today = r["t_end"] >= 600.0
    assert s.nuisance_rate_today == pytest.approx(ab[today].sum() / live[today].sum())
    assert s.nuisance_rate_today != s.nuisance_rate
    states = list(flow.state)
    assert s.processed == states.count(3) and s.pending_retries == states.count(1)
    assert s.in_flight == states.count(2) == len(w.dialer.in_flight)
    assert s.total_contacts == 150 and 0 < s.processed < 150
    assert s.percent_complete == pytest.approx(100.0 * s.processed / 150)
    assert s.successes == s.connects  # a live connect is the step's done code
    rate = s.processed / 1500.0  # started at 0
    assert s.estimated_end_s == pytest.approx(1500.0 + (150 - s.processed) / rate)
    assert s.restrictions == w.rules.counts(0)
    assert s.state == "RUNNING" and s.job_name == "sales"


def _on_job(d) -> int:
    return int((d.agents.job == 0).sum())


def test_set_limits_changes_the_agents_a_job_gets_at_the_next_period():
    env, w, _ = world(scenario(agents=10))
    d = w.dialer
    env.run(until=299.0)
    assert _on_job(d) == 10
    w.director.set_limits(0, max_agents=3)
    env.run(until=299.5)
    assert _on_job(d) == 10  # not before the staffing's next period (every 30 s)
    # agents off a call leave at once (at most 3 of the job's are idle); those on a call or
    # in its wrap-up stay until it ends (how many still work at 301 s depends on the traffic:
    # the bound, not a count)
    for t in (301.0, 305.0, 320.0, 340.0, 400.0):
        env.run(until=t)
        working = d.agents.on_call | (d.agents.state == int(AgentState.WORK_NOT_READY))
        on = d.agents.job == 0
        assert int((on & ~working).sum()) <= 3
        assert _on_job(d) <= 3 + int((working & on).sum())
    env.run(until=600.0)
    assert _on_job(d) == 3  # every call the others were on has ended
    w.director.set_limits(0, max_agents=8, priority=2)
    env.run(until=631.0)
    assert _on_job(d) == 8


def test_lowered_maximum_is_reached_once_the_calls_end():
    env, w, _ = world(scenario(agents=10))
    env.run(until=299.0)
    w.director.set_limits(0, max_agents=3)
    env.run(until=900.0)
    assert _on_job(w.dialer) == 3


def _force_both(env, d):
    """Run until one agent is READY and one BUSY; log both off by force."""
    am = d.agents
    idle = busy = -1
    t = 100.0
    while idle < 0 or busy < 0:
        env.run(until=t)
        st = am.state.tolist()
        if idle < 0 and AgentState.READY in st:
            idle = st.index(AgentState.READY)
            assert d.force_logout(idle) == AgentState.LOGGED_OUT
            assert am.state[idle] == AgentState.LOGGED_OUT  # at once
        if busy < 0 and AgentState.BUSY in st:
            busy = st.index(AgentState.BUSY)
            assert d.force_logout(busy) == AgentState.PENDING_LOGOUT
        t += 0.5
        assert t < 1000.0
    return idle, busy, t


def test_forced_logoff_then_the_feeds_events_for_the_agent_are_skipped():
    env, w, _ = world(scenario(agents=6, logout_s=1500.0))
    d, am = w.dialer, w.dialer.agents
    idle, busy, _ = _force_both(env, d)
    calls = am.connects.copy()
    env.run(until=2000.0)  # wrap ends, aux, the shift's logout: skipped for them, no crash
    assert am.state[idle] == AgentState.LOGGED_OUT
    assert am.state[busy] in (AgentState.LOGGED_OUT, AgentState.PENDING_LOGOUT)
    assert am.connects[idle] == calls[idle] and am.connects[busy] == calls[busy]
    others = [a for a in range(am.n) if a not in (idle, busy)]
    assert all(am.state[a] == AgentState.LOGGED_OUT for a in others)  # shift ended normally
    # a new login is taken again
    d.on_agent_state(idle, AgentState.LOGGED_IN)
    d.on_agent_state(idle, AgentState.READY)
    assert am.state[idle] == AgentState.READY and idle not in d.forced_out


def test_forced_logoff_of_a_busy_agent_completes_after_its_call():
    env, w, _ = world(scenario(agents=6))
    _, busy, t = _force_both(env, w.dialer)
    env.run(until=t + 600.0)  # long after its call and wrap-up
    assert w.dialer.agents.state[busy] == AgentState.LOGGED_OUT


def test_run_result_carries_dnc_refusals_and_job_statistics(tmp_path):
    from sim.population import synthetic_chunk
    from sim.run import simulate

    scn = scenario(records=30, schedule={"end_s": 600.0})
    phones = synthetic_chunk(scn.campaigns[0], 0, 0, 10).frame["phone"].to_list()
    (tmp_path / "global.txt").write_text("\n".join(phones[:4]) + "\n")
    (tmp_path / "spring.txt").write_text("\n".join(phones[4:7]) + "\n")
    raw = dict(scn.raw)
    raw["dnc"] = {"files": [str(tmp_path / "global.txt")]}
    raw["campaigns"] = [{**raw["campaigns"][0],
                         "contacts": {"dnc_files": [str(tmp_path / "spring.txt")]}}]
    raw["scenario"] = {**raw["scenario"], "sim_hours": 0.25}
    r = simulate(build(raw), 3)
    n = r.restrictions["sales"]
    assert (n["dnc_global"], n["dnc_campaign"]) == (4, 3)
    job = r.jobs[0]
    assert job["job_name"] == "sales" and job["state"] == "FINISHED"
    assert job["restrictions"] == n and job["total_contacts"] == 30
    assert job["processed"] >= 7  # the refused contacts are done without an attempt
    listed = set(phones[:7])
    assert not listed & set(r.attempts["address"].to_list())
    assert job["attempted"] == r.attempts.filter(r.attempts["code"] != int(Code.BLOCKED)).height


def test_agent_statistics_of_all_agents_at_once_as_each_alone():
    """all_agent_stats (one pass over the time matrix) gives each agent what engine.kpi
    .agent_times gives for that agent's own row, its open stretch and the window included."""
    from engine.agents import AgentManager
    from engine.director import all_agent_stats
    from engine.kpi import agent_times

    rng = np.random.default_rng(4)
    am = AgentManager(6, np.ones(6, dtype=np.int64), 2, (10.0, 90.0))
    now = 0.0
    for _ in range(60):
        now += float(rng.exponential(3.0))
        a = int(rng.integers(6))
        for ev in rng.permutation(["login", "ready", "connect", "call_end", "not_ready",
                                   "logout"]):
            try:
                am.transition(a, str(ev), now)
                break
            except ValueError:
                continue
    for t in (now, 50.0, 200.0):
        got = all_agent_stats(am, t)
        for a in range(6):
            row = am.time_in[a].copy()  # the agent's own row, its open stretch added
            open_s = min(t, am.window[1]) - max(am.t_state[a], am.window[0])
            if open_s > 0:
                row[am.state[a]] += open_s
            want = agent_times(row)
            for k in ("logged_in_s", "ready_s", "talk_s", "wrap_s", "not_ready_s"):
                assert got[k][a] == pytest.approx(want[k], rel=1e-12, abs=1e-9)
            assert got["calls"][a] == am.connects[a]
    assert (all_agent_stats(am, now)["talk_s"] > 0).any()

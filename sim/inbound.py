"""Inbound traffic: the ACD's side of a blended centre, as a SimPy model.

Per inbound skill: Poisson arrivals at ``calls_per_hour``, one FIFO queue, handle (talk)
and wrap-up durations and caller patience from ``sim.distributions``. The queue is served
by the agents who hold the skill and are on inbound now: dedicated inbound agents (their
``[[agents]]`` group has ``direction = "inbound"``; they log in and out with the group's
shift and never appear in the dialer) and outbound agents the engine lends through the
``engine.interfaces.InboundAgents`` protocol (blending).

Routing, as an ACD's "most idle agent" / "oldest call" rules do it:

- a call arriving with an idle agent serving its skill goes to the agent idle longest;
- an agent becoming free takes the oldest waiting call among the skills it serves;
- a queued caller hangs up when its patience runs out (an abandon); a caller reached
  before that talks, then the agent wraps up.

Every ``report_s`` (1 s) the model publishes each skill's state, as a CMS real-time
report would (``engine.interfaces.SkillState``): calls waiting, the oldest call's wait, the
service level over the last ``sl_window_s`` (calls answered within ``sl_threshold_s``
over calls answered or abandoned in that span; 1 when there were none), and agents
staffed / available / on inbound / on outbound.

With only dedicated agents, exponential handling, no wrap-up and infinite patience a skill
is the M/M/n queue of Erlang C; with exponential patience the M/M/n+M of Erlang A
(``tests/test_inbound.py`` checks both).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np
import polars as pl
import simpy

from engine.interfaces import SkillListener, SkillState
from sim.distributions import Exponential, Sampler, UniformStream
from sim.inbound_config import InboundSkill

REPORT_S = 1.0  # how often the skill state is published (CMS real-time: 3 s or more)

CALL_COLUMNS = ("skill", "t_arrive_s", "t_decided_s", "answered", "wait_s", "handle_s", "lent",
                "agent")


class _Call:
    __slots__ = ("done", "skill", "t_arrive_s")

    def __init__(self, skill: int, t: float):
        self.skill = skill
        self.t_arrive_s = t
        self.done = False  # answered or abandoned: skipped in the queue


class _Agent:
    """An agent on the inbound side: dedicated (``key <= -2``) or lent (``key`` = agent)."""

    __slots__ = ("busy", "key", "leaving", "recall_done", "serves", "t_join", "token")

    def __init__(self, key: int, serves: list[int], now: float):
        self.key = key
        self.serves = serves
        self.busy = False
        self.token = 0
        self.leaving = False
        self.recall_done: Callable[[int], None] | None = None
        self.t_join = now


class SimInbound:
    """The inbound ACD: skills' queues and agents; a ``SkillFeed`` and ``InboundAgents``.

    Args:
        env: the SimPy environment.
        skills: the inbound skills.
        dedicated: per dedicated agent, (indices of the skills it serves, login_s, logout_s).
        outbound: per outbound (dialer) agent, (indices of the inbound skills it holds,
            login_s, logout_s): counted as "on outbound" in the skill state while logged
            in and not lent.
        seed: the model's streams (one per skill and purpose).
        window: the measured span (s) for time accounting.
        n_intervals, interval_s, origin_s: the interval table's rows per skill, their width
            and the grid's origin (``Scenario.interval_origin_s``).
    """

    def __init__(self, env: simpy.Environment, skills: Sequence[InboundSkill],
                 dedicated: Sequence[tuple[Sequence[int], float, float]],
                 outbound: Sequence[tuple[Sequence[int], float, float]],
                 seed: np.random.SeedSequence, window: tuple[float, float],
                 interval_s: float = 60.0, n_intervals: int = 1, origin_s: float = 0.0,
                 report_s: float = REPORT_S):
        self.env = env
        self.skill_cfg = list(skills)
        self.names = [s.name for s in self.skill_cfg]
        self._index = {n: i for i, n in enumerate(self.names)}
        self.window = window
        self.report_s = report_s
        ns = len(self.skill_cfg)
        self._dedicated = [(list(sk), float(a), float(b)) for sk, a, b in dedicated]
        holds = np.zeros((ns, len(outbound)), dtype=bool)
        for a, (sk, _, _) in enumerate(outbound):
            holds[list(sk), a] = True
        self._out_holds = holds
        self._out_login = np.array([o[1] for o in outbound], dtype=np.float64)
        self._out_logout = np.array([o[2] for o in outbound], dtype=np.float64)
        streams = [[np.random.default_rng(s) for s in ss.spawn(5)]
                   for ss in seed.spawn(max(ns, 1))]
        self._inter = [Sampler(Exponential(1.0), st[0]) for st in streams[:ns]]
        self._thin = [UniformStream(st[4]) for st in streams[:ns]]
        pairs = list(zip(self.skill_cfg, streams, strict=False))
        self._talk = [Sampler(c.talk, st[1]) for c, st in pairs]
        self._wrap = [Sampler(c.wrap, st[2]) for c, st in pairs]
        self._patience = [Sampler(c.patience, st[3]) if c.patience is not None else None
                          for c, st in pairs]
        self.queues: list[deque[_Call]] = [deque() for _ in range(ns)]
        self.waiting = [0] * ns
        self.idle: list[deque[tuple[int, _Agent]]] = [deque() for _ in range(ns)]
        self.n_idle = [0] * ns
        self.staffed = [0] * ns
        self.lent_on = [0] * ns
        self.lent: dict[int, _Agent] = {}
        self._joined: set[_Agent] = set()
        self._sl_events: list[deque[tuple[float, bool]]] = [deque() for _ in range(ns)]
        self._sl_in = [0] * ns
        self.listeners: list[SkillListener] = []
        self.cols: dict[str, list] = {k: [] for k in CALL_COLUMNS}
        # time accounting (clipped to the window), all inbound agents together
        self.handling_s = 0.0
        self.staffed_s = 0.0
        self.lent_handling_s = 0.0
        # ... and per skill, of the agents serving it: their handling (calls of any skill)
        # and their time serving it (an agent serving several skills counts in each)
        self.skill_handling_s = np.zeros(ns)
        self.skill_staffed_s = np.zeros(ns)
        # interval samples per skill: waiting, staffed, available, lent
        self.interval_s = interval_s
        self.origin_s = origin_s  # the interval grid's origin (``Scenario.interval_origin_s``)
        shape = (max(n_intervals, 1), ns)
        self.samples = np.zeros(shape[0])
        self.s_waiting = np.zeros(shape)
        self.s_staffed = np.zeros(shape)
        self.s_available = np.zeros(shape)
        self.s_lent = np.zeros(shape)
        self.s_outbound = np.zeros(shape)
        self.latest: list[SkillState] = []

    # ------------------------------------------------------------------ SkillFeed

    def subscribe(self, listener: SkillListener) -> None:
        """Send every skill state (every ``report_s``) to ``listener`` from now on."""
        self.listeners.append(listener)

    def skills(self) -> list[str]:
        return list(self.names)

    # ------------------------------------------------------------------ InboundAgents

    def lend(self, agent: int, skill: str) -> None:
        """Outbound ``agent`` takes calls of ``skill`` from now on (ValueError: unknown
        skill, or the agent is lent already)."""
        if skill not in self._index:
            raise ValueError(f"lend: unknown inbound skill {skill!r}; known: "
                             f"{', '.join(self.names) or 'none'}")
        if agent in self.lent:
            raise ValueError(f"lend: agent {agent} is lent already")
        s = self._index[skill]
        ag = _Agent(agent, [s], self.env.now)
        self.lent[agent] = ag
        self.lent_on[s] += 1
        self._join(ag)

    def recall(self, agent: int, done: Callable[[int], None]) -> None:
        """Take a lent agent back between calls (``done(agent)`` then); KeyError if the
        agent is not lent."""
        ag = self.lent[agent]
        if ag.leaving:
            ag.recall_done = done
            return
        ag.leaving = True
        ag.recall_done = done
        if not ag.busy:
            self._leave(ag)

    # ------------------------------------------------------------------ processes

    def start(self) -> None:
        """Start arrivals, dedicated shifts and the skill-state reports."""
        for s, cfg in enumerate(self.skill_cfg):
            if (cfg.profile.hi if cfg.profile is not None else cfg.calls_per_hour) > 0:
                self.env.process(self.arrivals(s))
        for k, (serves, login, logout) in enumerate(self._dedicated):
            self.env.process(self.dedicated_shift(-(k + 2), serves, login, logout))
        self.env.process(self.reporter())

    def arrivals(self, s: int):
        """Poisson arrivals of skill ``s``; with a rate profile, a non-homogeneous Poisson
        process by thinning (Lewis and Shedler 1979): candidates at the profile's highest
        rate, each kept with probability rate(t) / highest rate."""
        prof = self.skill_cfg[s].profile
        top = prof.hi if prof is not None else self.skill_cfg[s].calls_per_hour
        mean = 3600.0 / top
        nxt = self._inter[s]
        keep = self._thin[s]
        while True:
            yield self.env.timeout(mean * nxt())
            if prof is None or keep() * top < prof.value(self.env.now):
                self._arrive(s)

    def dedicated_shift(self, key: int, serves: list[int], login_s: float, logout_s: float):
        if login_s > 0:
            yield self.env.timeout(login_s)
        ag = _Agent(key, serves, self.env.now)
        self._join(ag)
        if math.isfinite(logout_s):
            yield self.env.timeout(logout_s - login_s)
            ag.leaving = True
            if not ag.busy:
                self._leave(ag)

    def reporter(self):
        """Publish every skill's state every ``report_s`` and sample it for the intervals."""
        while True:
            now = self.env.now
            k = min(int((now - self.origin_s) // self.interval_s), len(self.samples) - 1)
            self.samples[k] += 1
            logged = (self._out_login <= now) & (now < self._out_logout)
            out_on = self._out_holds[:, logged].sum(axis=1) if logged.any() \
                else np.zeros(len(self.names), dtype=np.int64)
            states = []
            for s, name in enumerate(self.names):
                on_out = max(int(out_on[s]) - self.lent_on[s], 0)
                st = SkillState(name, self.waiting[s], self.oldest_wait_s(s),
                                self.service_level(s), self.staffed[s], self.n_idle[s],
                                self.staffed[s], on_out)
                states.append(st)
                self.s_waiting[k, s] += st.calls_waiting
                self.s_staffed[k, s] += st.agents_staffed
                self.s_available[k, s] += st.agents_available
                self.s_lent[k, s] += self.lent_on[s]
                self.s_outbound[k, s] += on_out
            self.latest = states
            for st in states:
                for li in self.listeners:
                    li.on_skill_state(st)
            yield self.env.timeout(self.report_s)

    # ------------------------------------------------------------------ state

    def oldest_wait_s(self, s: int) -> float:
        q = self.queues[s]
        while q and q[0].done:
            q.popleft()
        return self.env.now - q[0].t_arrive_s if q else 0.0

    def service_level(self, s: int) -> float:
        ev = self._sl_events[s]
        lo = self.env.now - self.skill_cfg[s].sl_window_s
        while ev and ev[0][0] < lo:
            _, ok = ev.popleft()
            self._sl_in[s] -= ok
        return self._sl_in[s] / len(ev) if ev else 1.0

    def _decided(self, s: int, ok: bool) -> None:
        self._sl_events[s].append((self.env.now, ok))
        self._sl_in[s] += ok

    # ------------------------------------------------------------------ routing

    def _arrive(self, s: int) -> None:
        now = self.env.now
        c = _Call(s, now)
        ag = self._pop_idle(s)
        if ag is not None:
            self._serve(ag, c)
            return
        self.queues[s].append(c)
        self.waiting[s] += 1
        pat = self._patience[s]
        if pat is not None:
            self.env.timeout(pat()).callbacks.append(lambda _ev: self._give_up(c))

    def _give_up(self, c: _Call) -> None:
        if c.done:
            return
        c.done = True
        s = c.skill
        self.waiting[s] -= 1
        now = self.env.now
        self._decided(s, False)
        self._record(s, c.t_arrive_s, now, False, now - c.t_arrive_s, 0.0, False, -1)

    def _pop_idle(self, s: int) -> _Agent | None:
        q = self.idle[s]
        while q:
            token, ag = q.popleft()
            if token == ag.token and not ag.busy and not ag.leaving:
                return ag
        return None

    def _oldest_call(self, ag: _Agent) -> _Call | None:
        best: _Call | None = None
        for s in ag.serves:
            q = self.queues[s]
            while q and q[0].done:
                q.popleft()
            if q and (best is None or q[0].t_arrive_s < best.t_arrive_s):
                best = q[0]
        if best is not None:
            self.queues[best.skill].popleft()
            self.waiting[best.skill] -= 1
        return best

    def _serve(self, ag: _Agent, c: _Call) -> None:
        now = self.env.now
        s = c.skill
        c.done = True
        self._set_idle(ag, False)
        ag.busy = True
        wait = now - c.t_arrive_s
        talk = self._talk[s]()
        wrap = self._wrap[s]()
        self._decided(s, wait <= self.skill_cfg[s].sl_threshold_s + 1e-9)
        self._record(s, c.t_arrive_s, now, True, wait, talk + wrap, ag.key >= 0, ag.key)
        h = self._clip(now, now + talk + wrap)
        self.handling_s += h
        self.skill_handling_s[ag.serves] += h
        if ag.key >= 0:
            self.lent_handling_s += h
        self.env.timeout(talk + wrap).callbacks.append(lambda _ev: self._free(ag))

    def _free(self, ag: _Agent) -> None:
        ag.busy = False
        if ag.leaving:
            self._leave(ag)
            return
        c = self._oldest_call(ag)
        if c is not None:
            self._serve(ag, c)
        else:
            self._set_idle(ag, True)

    def _join(self, ag: _Agent) -> None:
        for s in ag.serves:
            self.staffed[s] += 1
        ag.t_join = self.env.now
        self._joined.add(ag)
        self._free(ag)

    def _leave(self, ag: _Agent) -> None:
        self._set_idle(ag, False)
        for s in ag.serves:
            self.staffed[s] -= 1
        served = self._clip(ag.t_join, self.env.now)
        self.staffed_s += served
        self.skill_staffed_s[ag.serves] += served
        self._joined.discard(ag)
        if ag.key >= 0:
            self.lent.pop(ag.key, None)
            self.lent_on[ag.serves[0]] -= 1
            done = ag.recall_done
            ag.recall_done = None
            if done is not None:
                done(ag.key)

    def _set_idle(self, ag: _Agent, idle: bool) -> None:
        was = ag.token % 2 == 1  # odd token: idle
        if idle == was:
            return
        ag.token += 1
        for s in ag.serves:
            self.n_idle[s] += 1 if idle else -1
            if idle:
                self.idle[s].append((ag.token, ag))

    def _clip(self, a: float, b: float) -> float:
        lo, hi = self.window
        return max(min(b, hi) - max(a, lo), 0.0)

    def _record(self, s: int, t0: float, t1: float, answered: bool, wait: float,
                handle: float, lent: bool, agent: int) -> None:
        c = self.cols
        c["skill"].append(s)
        c["t_arrive_s"].append(t0)
        c["t_decided_s"].append(t1)
        c["answered"].append(answered)
        c["wait_s"].append(wait)
        c["handle_s"].append(handle)
        c["lent"].append(lent)
        c["agent"].append(agent)

    # ------------------------------------------------------------------ outputs

    def close(self, now: float) -> None:
        """Account the staffed time of agents still on inbound at ``now`` (run end)."""
        for a in self._joined:
            served = self._clip(a.t_join, now)
            self.staffed_s += served
            self.skill_staffed_s[a.serves] += served

    def calls(self) -> pl.DataFrame:
        """One row per inbound call decided (answered or abandoned), ``CALL_COLUMNS``;
        ``skill`` is the skill's name; ``agent`` the dialer's agent index of a lent agent,
        a negative number for a dedicated one, -1 for an abandoned call (no agent)."""
        names = np.array([*self.names, ""], dtype=object)
        idx = np.array(self.cols["skill"], dtype=np.int64)
        return pl.DataFrame({
            "skill": pl.Series(names[idx].tolist() if idx.size else [], dtype=pl.Utf8),
            **{k: self.cols[k] for k in CALL_COLUMNS[1:]},
        }, schema_overrides={"answered": pl.Boolean, "lent": pl.Boolean,
                             "t_arrive_s": pl.Float64, "t_decided_s": pl.Float64,
                             "wait_s": pl.Float64, "handle_s": pl.Float64,
                             "agent": pl.Int64})

    def intervals(self) -> pl.DataFrame:
        """One row per interval and skill: means of the per-second skill state."""
        n_int, ns = self.s_waiting.shape
        k = np.repeat(np.arange(n_int), ns)
        j = np.tile(np.arange(ns), n_int)
        d = np.maximum(self.samples, 1)[:, None]
        return pl.DataFrame({
            "interval": k,
            "t_start_s": np.maximum(self.origin_s + k * self.interval_s, 0.0),
            "skill": np.array(self.names, dtype=object)[j].tolist() if ns else [],
            "waiting_mean": (self.s_waiting / d).ravel(),
            "staffed_mean": (self.s_staffed / d).ravel(),
            "available_mean": (self.s_available / d).ravel(),
            "lent_mean": (self.s_lent / d).ravel(),
            "on_outbound_mean": (self.s_outbound / d).ravel(),
        })

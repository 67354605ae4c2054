"""The SimPy world: the clock, the EPM ports and carrier, the PSTN, and the agents.

It implements the engine's Protocols (``Clock``, ``Telephony``, ``AgentFeed``) on a SimPy
environment, so the same dialer that runs live runs here.

Speed shortcut, deliberate: per-attempt steps are single callbacks on SimPy's event queue,
not generator processes (a process costs an extra event and a generator resume per step,
and the busy hour has about 200,000 steps; long-lived actors, agent shifts and the sampler,
stay processes), and not ``Timeout`` events either: ``_later`` puts a bare event on the
queue (see ``_Call``) whose callback is the method to run, and whose ``value`` is what the
method needs (the attempt, and its outcome): as in SimPy, a callback receives the event.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from heapq import heappush
from operator import attrgetter
from typing import Any

import numpy as np
import simpy

from engine.agents import AgentState
from engine.attempt import Attempt, Channel, Code
from engine.interfaces import AgentListener, TelephonyEvents
from sim.distributions import Exponential, Sampler, UniformStream
from sim.scenario import Campaign

# Plain-int aliases for the hot paths (IntEnum member access is slow on Python 3.11).
_SMS, _EMAIL, _AGENTLESS = int(Channel.SMS), int(Channel.EMAIL), int(Channel.VOICE_AGENTLESS)
_BLOCKED, _NO_ANSWER, _BUSY, _INVALID, _PENDING = (int(Code.BLOCKED), int(Code.NO_ANSWER),
                                                   int(Code.BUSY), int(Code.INVALID),
                                                   int(Code.PENDING))
_READY = int(AgentState.READY)
# SimPy's clock as a C-level read (``env.now`` is a Python property: a frame per read, and
# the world and the engine read the time a few times per attempt).
_ENV_NOW = attrgetter("_now")
_NOT_READY = int(AgentState.NOT_READY)
_NORMAL = 1  # simpy.events.NORMAL: the priority of a Timeout


class _Call:
    """A callback due at a time, as SimPy's ``Environment.step`` reads an event: its
    ``callbacks`` (called with the event) and ``_ok`` (it succeeded); ``value`` is the
    callback's argument (SimPy's event value). Speed shortcut: a ``Timeout`` runs two Python
    functions to be made (its ``__init__`` and ``Environment.schedule``) and sets five
    attributes; the world makes ~110,000 per busy hour. Only ``_later`` makes them (and
    ``SimTelephony.dial``, inlining it).

    The ``callbacks`` list of the world's frequent steps is one list per step, shared by
    all its events (``_later``'s ``callbacks``): SimPy only reads an event's list (it swaps
    it for None, then calls what it holds), and no process waits on these events, so none
    appends to it; a list and a bound method fewer per event."""

    __slots__ = ("callbacks", "value")
    _ok = True


def _later(env: simpy.Environment, delay_s: float, fn: Callable[[_Call], None],
           value: Any = None, callbacks: list[Callable[[_Call], None]] | None = None) -> None:
    """Call ``fn(event)`` in ``delay_s`` seconds, ``event.value`` being ``value``: what
    ``env.timeout(delay_s, value)`` with ``fn`` as its callback does (same queue entry,
    ``(time, priority, id, event)``, so the same order among events due at one time: first
    scheduled, first run). ``callbacks``: ``[fn]`` kept by the caller for all its events
    (see ``_Call``)."""
    if delay_s < 0:
        raise ValueError(f"negative delay {delay_s}")
    ev = _Call()
    ev.value = value
    ev.callbacks = [fn] if callbacks is None else callbacks
    heappush(env._queue, (env._now + delay_s, _NORMAL, next(env._eid), ev))


def _call_value(ev: _Call) -> None:
    """A clock callback: the event's value is the function to call (no arguments)."""
    ev.value()


_CALL_VALUE = [_call_value]  # the clock's events' shared callbacks (see ``_Call``)


class SimClock:
    """``engine.interfaces.Clock`` on a SimPy environment (seconds)."""

    def __init__(self, env: simpy.Environment):
        self.env = env
        # Speed shortcut: ``now()`` reads SimPy's clock attribute (what its ``now`` property
        # returns) with no Python frame in between: the engine asks the time a few times
        # per attempt.
        self.now: Callable[[], float] = partial(_ENV_NOW, env)

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> None:
        _later(self.env, delay_s, _call_value, callback, _CALL_VALUE)


class _CampaignWorld:
    """Per-campaign samplers: outcome draw, ring time, talk, wrap, patience.

    Each purpose has its own stream, spawned from the campaign's seed, so the k-th dial of a
    campaign meets the same outcome and ring time whatever the pacing policy: comparisons of
    policies run on common random numbers.
    """

    def __init__(self, c: Campaign, seed: np.random.SeedSequence):
        streams = [np.random.default_rng(s) for s in seed.spawn(7)]
        self.u = UniformStream(streams[0]).draw
        self.amd_u = UniformStream(streams[6]).draw
        o = c.outcomes
        self.cum = np.cumsum([o.live, o.machine, o.busy, o.no_answer, o.invalid]).tolist()
        self.ring = Sampler(o.ring, streams[1]).draw
        self.rna_s = o.ring_no_answer_s
        self.busy_s = o.busy_signal_s
        self.invalid_s = o.invalid_s
        self.machine_message_s = o.machine_message_s
        self.amd = c.amd.enabled
        self.amd_delay_s = c.amd.delay_s if c.amd.enabled else 0.0
        self.machine_talk_s = c.amd.machine_talk_s  # a missed machine holds its agent
        self.p_fp = c.amd.p_false_positive
        self.p_fn = c.amd.p_false_negative
        self.talk = Sampler(c.talk, streams[2]).draw
        self.wrap = Sampler(c.wrap, streams[3]).draw
        self.talk_scale = 1.0  # a day profile's talk / wrap mean over the campaign's
        self.wrap_scale = 1.0
        self.patience = (Sampler(Exponential(c.patience_mean_s), streams[4]).draw
                         if math.isfinite(c.patience_mean_s) else None)
        self.message_s = c.message.length_s
        self.delivery = c.message.delivery
        self.latency_s = c.message.latency_s
        self.uses_port = c.channel in ("voice_agent", "voice_agentless")


class _PortGauge:
    """Ports in use: peak and time-weighted mean, clipped to the measurement window.

    The port-seconds in the window are the sum over holds of ``clip(end) - clip(start)``
    (``clip`` to the window), so each change adds ``-delta * clip(now)`` and the holds still
    open add ``in_use * clip(now)`` when asked: two float operations per change, no state
    but the running sum (this runs twice per voice attempt).
    """

    __slots__ = ("_acc", "hi", "in_use", "lo", "peak", "total")

    def __init__(self, window: tuple[float, float], total: _PortGauge | None = None):
        self.lo, self.hi = window
        self.in_use = 0
        self.peak = 0
        self._acc = 0.0
        self.total = total  # a gauge over all ports that every change here also moves

    def change(self, delta: int, now: float) -> None:
        lo, hi = self.lo, self.hi
        inside = lo <= now < hi
        t = now if inside else (lo if now < lo else hi)
        self._acc -= delta * t
        n = self.in_use = self.in_use + delta
        if inside and n > self.peak:
            self.peak = n
        g = self.total  # then the total (same window), in this call: twice per voice attempt
        if g is not None:
            g._acc -= delta * t
            n = g.in_use = g.in_use + delta
            if inside and n > g.peak:
                g.peak = n

    def mean(self, now: float) -> float:
        lo, hi = self.lo, self.hi
        t = lo if now < lo else (hi if now > hi else now)
        span = t - lo
        return (self._acc + self.in_use * t) / span if span > 0 else 0.0


class SimTelephony:
    """EPM ports, the carrier's call-setup rate and the PSTN answer model.

    A port is held from dial to hang-up (agentless messages included); a dial finding all
    ports busy is blocked at once (a loss system, as Erlang B assumes). Call setups are
    spaced by ``1 / carrier_cps`` seconds. ``seeds`` give each campaign its streams;
    ``agents`` is the world's agent feed, told when an agent's wrap-up after a call ends.
    """

    def __init__(self, env: simpy.Environment, campaigns: Sequence[Campaign], ports: int,
                 carrier_cps: float, seeds: Sequence[np.random.SeedSequence],
                 window: tuple[float, float], agents: SimAgentFeed):
        self.env = env
        self._queue, self._eid = env._queue, env._eid  # for ``_later``, inlined in ``dial``
        self.ports = ports
        self.window = window
        self.gauge = _PortGauge(window)  # all ports
        # ports per campaign (each change moves the campaign's gauge and the total)
        self.job_gauges = [_PortGauge(window, self.gauge) for _ in campaigns]
        self.setup_gap_s = 1.0 / carrier_cps
        self._next_setup = 0.0
        self.camp = [_CampaignWorld(c, s) for c, s in zip(campaigns, seeds, strict=True)]
        self.agents = agents
        self.listener: TelephonyEvents = _NO_LISTENER
        # the frequent steps' callbacks, each list shared by the step's events (``_Call``)
        self._on_answer, self._on_fail = [self._answer], [self._fail]
        self._on_delivered, self._on_call_end = [self._delivered], [self._call_end]
        self._on_wrap_done = [agents.wrap_done]

    def subscribe(self, listener: TelephonyEvents) -> None:
        """The engine's dialer, told every attempt's results."""
        self.listener = listener

    # ---- port accounting

    def _ports(self, delta: int, job: int, _ev: _Call | None = None) -> None:
        self.job_gauges[job].change(delta, self.env._now)

    @property
    def ports_in_use(self) -> int:
        return self.gauge.in_use

    @property
    def ports_peak(self) -> int:
        return self.gauge.peak

    def ports_mean(self) -> float:
        return self.gauge.mean(self.env.now)

    # ---- Telephony protocol

    def capacity(self, voice: bool) -> int:
        """Voice: free ports, and no more setups than the carrier starts in the next second
        (dials queued behind the carrier would ring late and mislead the pacer; under one
        call per second, the next setup once it starts within the second); SMS and email
        are limited by pacing only."""
        if not voice:
            return 1 << 30
        queued_s = max(self._next_setup - self.env._now, 0.0)
        setups = int(max(1.0 - queued_s, 0.0) / self.setup_gap_s)
        if setups == 0 and queued_s < 1.0:
            setups = 1
        return max(min(self.ports - self.ports_in_use, setups), 0)

    def dial(self, a: Attempt) -> None:
        cw = self.camp[a.job]
        if a.channel == _SMS or a.channel == _EMAIL:
            ok = cw.u() < cw.delivery
            _later(self.env, cw.latency_s, self._delivered, (a, ok), self._on_delivered)
            return
        gauge = self.gauge
        if gauge.in_use >= self.ports:
            self.listener.on_failed(a, _BLOCKED)
            return
        now = self.env._now
        self.job_gauges[a.job].change(1, now)
        start = self._next_setup
        if not start > now:  # ``max(now, next setup)``
            start = now
        self._next_setup = start + self.setup_gap_s
        setup = start - now
        u = cw.u()
        cum = cw.cum
        if u < cum[1]:  # answered by a person or a machine, if before the ring timeout
            ring = cw.ring()
            if ring <= cw.rna_s:
                human = u < cum[0]
                a.truth_human = human
                ev = _Call()  # ``_later``, inlined: once per answered dial
                ev.value = (a, human)
                ev.callbacks = self._on_answer
                heappush(self._queue, (now + (setup + ring + cw.amd_delay_s), _NORMAL,
                                       next(self._eid), ev))
                return
            delay, code = cw.rna_s, _NO_ANSWER
        elif u < cum[2]:
            delay, code = cw.busy_s, _BUSY
        elif u < cum[3]:
            delay, code = cw.rna_s, _NO_ANSWER
        else:
            delay, code = cw.invalid_s, _INVALID
        ev = _Call()  # ``_later``, inlined: once per unanswered dial
        ev.value = (a, code)
        ev.callbacks = self._on_fail
        heappush(self._queue, (now + (setup + delay), _NORMAL, next(self._eid), ev))

    # The world's timed steps: each event's ``value`` is the attempt (and what the step
    # needs of its outcome).

    def _delivered(self, ev: _Call) -> None:
        a, ok = ev.value
        self.listener.on_delivered(a, ok)

    def _fail(self, ev: _Call) -> None:
        a, code = ev.value
        self.job_gauges[a.job].change(-1, self.env._now)
        self.listener.on_failed(a, code)

    def _answer(self, ev: _Call) -> None:
        a, human = ev.value
        cw = self.camp[a.job]
        if a.channel == _AGENTLESS:
            self.listener.on_answered(a, True)
            _later(self.env, cw.message_s, self._message_done, a)
            return
        if cw.amd:
            flip = cw.amd_u() < (cw.p_fp if human else cw.p_fn)
            classified_human = human != flip
            a.truth_amd_false_positive = human and flip
        else:
            classified_human = True
        self.listener.on_answered(a, classified_human)
        if a.code == _PENDING and a.t_connect < 0 and classified_human:
            if cw.patience is not None:
                _later(self.env, cw.patience(), self._patience_over, a)

    def _message_done(self, ev: _Call) -> None:
        a = ev.value
        self._ports(-1, a.job)
        self.listener.on_delivered(a, True)

    def _patience_over(self, ev: _Call) -> None:
        a = ev.value
        if a.code == _PENDING and a.t_connect < 0:
            self._ports(-1, a.job)
            self.listener.on_customer_hangup(a)

    def connect(self, a: Attempt, agent: int) -> None:
        cw = self.camp[a.job]
        talk = cw.talk() * cw.talk_scale if a.truth_human else cw.machine_talk_s
        _later(self.env, talk, self._call_end, (a, agent), self._on_call_end)

    def _call_end(self, ev: _Call) -> None:
        a, agent = ev.value
        self.job_gauges[a.job].change(-1, self.env._now)
        self.listener.on_call_ended(a, not a.truth_human)  # a machine: its agent says so
        cw = self.camp[a.job]
        _later(self.env, cw.wrap() * cw.wrap_scale, self.agents.wrap_done, agent,
               self._on_wrap_done)

    def drop(self, a: Attempt) -> None:
        cw = self.camp[a.job]
        if cw.machine_message_s > 0 and not a.truth_human and a.t_connect < 0:
            _later(self.env, cw.machine_message_s, partial(self._ports, -1, a.job))
        else:
            self._ports(-1, a.job)


class SimAgentFeed:
    """``engine.interfaces.AgentFeed``: shifts (login, ready, logout), wrap-up ends, aux breaks.

    After a call's wrap-up an agent takes an aux (not-ready) break with its group's
    ``aux_probability``, of exponential length with mean ``aux_mean_s``, then is ready again;
    not one the blending asked to leave outbound (``leaving``): its not-ready is the
    blending's, which lends it or makes it ready, and a break's end would then make ready
    an agent lent to inbound or on an outbound call.
    The feed knows only what it reported itself (shift over, on a break), as an ACD feed
    would; the engine's own agent states are the engine's.
    """

    def __init__(self, env: simpy.Environment, shifts: list[tuple[float, float]],
                 aux: list[tuple[float, float]] | None = None,
                 seed: np.random.SeedSequence | None = None):
        self.env = env
        self.shifts = shifts  # (login_s, logout_s) per agent
        self.aux = aux or [(0.0, 1.0)] * len(shifts)  # (probability, mean_s) per agent
        rng = np.random.default_rng(seed)
        self._u = UniformStream(rng).draw
        self._exp = Sampler(Exponential(1.0), rng).draw
        self.listener: AgentListener = _NO_LISTENER
        self._on_shift = bytearray(len(shifts))  # between its shift's login and logout
        self._on_break = bytearray(len(shifts))  # an aux break this feed started
        # agents whose wrap-up ends into another owner's not-ready: the blending asked them
        # to leave outbound for an inbound skill (``Blending.leaving``); they take no break
        self.leaving: Callable[[int], bool] | None = None

    def subscribe(self, listener: AgentListener) -> None:
        """The engine's dialer, told every agent state change."""
        self.listener = listener

    def start(self) -> None:
        by_shift: dict[tuple[float, float], list[int]] = {}
        for agent, sh in enumerate(self.shifts):
            by_shift.setdefault(sh, []).append(agent)
        for (login, logout), agents in by_shift.items():
            if math.isfinite(login):  # an infinite login: a day profile logs them in
                self.env.process(self.agent_shift(agents, login, logout))

    def log_in(self, agents: Sequence[int]) -> None:
        """These agents log in and are ready now (a shift starts, a break ends)."""
        for a in agents:
            if not self._on_shift[a]:
                self._on_shift[a] = 1
                self.listener.on_agent_state(a, AgentState.LOGGED_IN)
                self.listener.on_agent_state(a, AgentState.READY)

    def log_out(self, agents: Sequence[int]) -> None:
        """These agents log out now (after their call, if on one: the engine's rule)."""
        for a in agents:
            if self._on_shift[a]:
                self._on_shift[a] = 0
                self._on_break[a] = 0
                self.listener.on_agent_state(a, AgentState.LOGGED_OUT)

    def agent_shift(self, agents: list[int], login_s: float, logout_s: float):
        """A group of agents logs in and becomes ready at ``login_s``; logs out at ``logout_s``."""
        if login_s > 0:
            yield self.env.timeout(login_s)
        self.log_in(agents)
        if math.isfinite(logout_s):
            yield self.env.timeout(logout_s - login_s)
            self.log_out(agents)

    def wrap_done(self, ev: _Call) -> None:
        """A world event: agent ``ev.value``'s wrap-up finished: the agent is ready (or
        leaves, if it asked to), or takes a break."""
        agent = ev.value
        p, mean_s = self.aux[agent]
        if p > 0.0 and self._u() < p and not (self.leaving is not None
                                               and self.leaving(agent)):
            self.listener.on_agent_state(agent, _NOT_READY)  # asked during wrap: pending
            self.listener.on_agent_state(agent, _READY)  # wrap ends: now not ready
            self._on_break[agent] = self._on_shift[agent]  # after its shift: it just leaves
            _later(self.env, mean_s * self._exp(), self._back, agent)
            return
        self.listener.on_agent_state(agent, _READY)

    def _back(self, ev: _Call) -> None:
        """An aux break of agent ``ev.value`` ended (nothing to say if its shift ended
        meanwhile)."""
        agent = ev.value
        if self._on_break[agent]:
            self._on_break[agent] = 0
            self.listener.on_agent_state(agent, _READY)


class _NoListener:
    """Stands in until the engine subscribes: any report before that is a wiring error."""

    def __getattr__(self, name: str):
        raise RuntimeError(f"the world reported {name!r} before the engine subscribed")


_NO_LISTENER = _NoListener()

"""Plays a scenario's day on a running world: its profiles and its supervisor's timeline.

Profiles (``sim.profiles``) change the world, never the engine's knowledge of it: the live
share moves the outcome thresholds (each campaign's uniform draws stay the same, so policies
still meet identical traffic), talk and wrap means scale the drawn durations (their shape
kept), a group's count logs its agents in and out through the agent feed as an ACD would,
and arrivals add synthetic contacts to a campaign's list. The pacer has to notice, as it
would live. The timeline acts through the engine calls a live supervisor uses:
``CampaignDirector.pause/resume/stop/set_limits`` and ``Dialer.force_logout``. An action the
engine refuses at that moment (pausing a finished job) becomes a run warning, not a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import simpy

from engine.agents import AgentState
from engine.flow import ContactFlow
from engine.supervisor import Supervisor
from sim.population import synthetic_chunk
from sim.profiles import Action, Profile
from sim.scenario import Campaign, Scenario

LINEAR_STEP_S = 60.0  # a linear profile is followed in steps of a simulated minute
ARRIVAL_STEP_S = 60.0  # arriving contacts join the list a minute's worth at a time
RELOGIN_POLL_S = 1.0  # an agent asked back while leaving after a call: checked each second
_SHARES = ("machine", "busy", "no_answer", "invalid")


class _Outcomes(Protocol):
    """What a profile changes in one campaign's answer model (``sim.world``)."""

    cum: list[float]
    talk_scale: float
    wrap_scale: float


class _Feed(Protocol):
    def log_in(self, agents: Sequence[int]) -> None: ...

    def log_out(self, agents: Sequence[int]) -> None: ...


class _Director(Protocol):
    def pause(self, j: int) -> None: ...

    def resume(self, j: int) -> None: ...

    def stop(self, j: int) -> None: ...

    def set_limits(self, j: int, min_agents: int | None = None,
                   max_agents: int | None = None, priority: int | None = None) -> None: ...


class _Dialer(Protocol):
    def force_logout(self, agent: int) -> int: ...


class Day:
    """The scenario's changes over the run, started on ``env`` by ``start``.

    ``outcomes[j]`` is campaign ``j``'s answer model, ``flows[j]`` its contact flow;
    ``agent_state`` gives an agent's engine state (who is logged in when a supervisor
    forces logoffs). ``warnings`` collects what the engine refused.
    """

    def __init__(self, env: simpy.Environment, scn: Scenario, outcomes: Sequence[_Outcomes],
                 feed: _Feed, director: _Director, dialer: _Dialer,
                 flows: Sequence[ContactFlow], agent_state: Callable[[int], int]):
        self.env, self.scn = env, scn
        self.outcomes, self.feed, self.director, self.dialer = outcomes, feed, director, dialer
        self._supervisor = Supervisor(director, dialer)
        self.flows, self.agent_state = flows, agent_state
        self.warnings: list[str] = []

    def start(self) -> None:
        end_s = self.scn.end_s
        for j, c in enumerate(self.scn.campaigns):
            if c.profile.keys() & {"live", "talk_mean_s", "wrap_mean_s"}:
                self.env.process(self.campaign_day(j, c, end_s))
            if "new_contacts_per_hour" in c.profile:
                self.env.process(self.contact_arrivals(j, c, end_s))
        first = 0
        for g in self.scn.agents:
            if g.direction != "outbound":
                continue  # a dedicated inbound desk is the ACD's, not the dialer's
            if g.profile is not None:
                self.env.process(self.group_shifts(list(range(first, first + g.count)),
                                                   g.profile, end_s))
            first += g.count
        for a in self.scn.timeline:
            if a.at_s < end_s:
                self.env.process(self.supervisor(a))

    # ------------------------------------------------------------ the world's profiles

    def campaign_day(self, j: int, c: Campaign, end_s: float):
        """Outcome shares and talk/wrap means of campaign ``j`` follow its profile."""
        o, w = c.outcomes, self.outcomes[j]
        others = sum(getattr(o, k) for k in _SHARES)
        live, talk, wrap = (c.profile.get(k) for k in ("live", "talk_mean_s", "wrap_mean_s"))
        times = sorted({t for p in (live, talk, wrap) if p is not None
                        for t in p.changes(end_s, LINEAR_STEP_S)})
        for t in times:
            if t > self.env.now:
                yield self.env.timeout(t - self.env.now)
            if live is not None:
                share = live.value(t)
                scale = (1.0 - share) / others if others > 0 else 0.0
                cum, acc = [], share
                cum.append(acc)
                for k in _SHARES:
                    acc += getattr(o, k) * scale
                    cum.append(acc)
                w.cum = cum
            if talk is not None:
                w.talk_scale = talk.value(t) / c.talk.mean
            if wrap is not None:
                w.wrap_scale = wrap.value(t) / c.wrap.mean

    def contact_arrivals(self, j: int, c: Campaign, end_s: float):
        """New synthetic contacts join campaign ``j``'s list: at the start of each simulated
        minute, that minute's worth (whole contacts; the fraction carries over)."""
        rate = c.profile["new_contacts_per_hour"]
        flow = self.flows[j]
        carry = 0.0
        t = 0.0
        while t < end_s:
            if t > self.env.now:
                yield self.env.timeout(t - self.env.now)
            step = min(ARRIVAL_STEP_S, end_s - t)
            carry += _mean_rate(rate, t, t + step) * step / 3600.0
            n = int(carry + 1e-9)
            if n:
                carry -= n
                flow.extend(synthetic_chunk(c, j, len(flow.ids), n))
            t += ARRIVAL_STEP_S

    def group_shifts(self, agents: list[int], profile: Profile, end_s: float):
        """The group's first ``count`` agents are logged in, as its profile says. An agent
        asked back while still finishing the call it was leaving after (the engine's
        pending logout) logs in once that call and its wrap-up are over, if still wanted."""
        on = [0]
        pending = int(AgentState.PENDING_LOGOUT)
        for t in profile.changes(end_s, LINEAR_STEP_S):
            if t > self.env.now:
                yield self.env.timeout(t - self.env.now)
            want = int(profile.value(t))
            if want > on[0]:
                back = agents[on[0]:want]
                leaving = [i for i, a in enumerate(back, on[0])
                           if self.agent_state(a) == pending]
                self.feed.log_in([a for a in back if self.agent_state(a) != pending])
                for i in leaving:
                    self.env.process(self._back_after_logout(agents[i], i, on))
            elif want < on[0]:
                self.feed.log_out(agents[want:on[0]])
            on[0] = want

    def _back_after_logout(self, agent: int, i: int, on: list[int]):
        """Log ``agent`` (the group's ``i``-th) in once its pending logout is done, if the
        group's count (``on[0]``) still includes it then."""
        while self.agent_state(agent) == int(AgentState.PENDING_LOGOUT):
            yield self.env.timeout(RELOGIN_POLL_S)
        if i < on[0] and self.agent_state(agent) == int(AgentState.LOGGED_OUT):
            self.feed.log_in([agent])

    # ------------------------------------------------------------ the supervisor

    def supervisor(self, a: Action):
        yield self.env.timeout(a.at_s)
        try:
            if a.action == "logoff":
                on = [x for x in reversed(a.agents)
                      if self.agent_state(x) not in (int(AgentState.LOGGED_OUT),
                                                     int(AgentState.PENDING_LOGOUT))]
                for x in on[:a.count]:
                    self.dialer.force_logout(x)
                if len(on) < a.count:
                    self.warnings.append(f"{a.where}: logoff of {a.count} agent(s) at "
                                         f"{a.at_s:g} s found {len(on)} logged in")
                return
            for j in a.jobs:  # as a live supervisor's request (outdial control) acts
                self._supervisor.act(j, a.action, a.min_agents, a.max_agents, a.priority)
        except ValueError as exc:  # SupervisorError, or a logoff's
            self.warnings.append(f"{a.where}: {a.action} at {a.at_s:g} s refused: {exc}")


def _mean_rate(p: Profile, t0: float, t1: float) -> float:
    return p.value((t0 + t1) / 2) if p.linear else p.value(t0)

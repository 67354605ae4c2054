"""The simulator's world behind the loopback emulators (``outdial run --emulate``).

``SimulatedPlatform`` holds the SimPy world of a scenario (ports, carrier, PSTN answer
model, agents' shifts, talk and wrap) and implements the three emulators' world
Protocols: ``PortWorld`` for the outcall web service, ``AgentWorld`` and ``InboundWorld``
(work modes: an agent in auto-in is lent to the scenario's inbound ACD) for DMCC and
``SkillWorld`` for CMS. Its SimPy environment is advanced to the live run clock by
``advance`` (called from the event loop every few milliseconds); the web service calls in
from its own threads, so every entry point holds ``lock``.

This is the only place where the simulator meets the adapters, which never import it.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
import simpy

from adapters.epm.emulator import LaunchRefused, SessionStatus
from adapters.epm.framing import parse_parameters
from engine.agents import AgentState
from engine.attempt import CHANNEL_NAMES, Attempt, Channel, Code
from sim.blended import inbound_parts, outbound_groups
from sim.scenario import Scenario
from sim.world import SimAgentFeed, SimTelephony

_RESULT = {int(Code.BUSY): "busy", int(Code.NO_ANSWER): "noanswer",
           int(Code.INVALID): "invalid", int(Code.BLOCKED): "busy"}
KEEP_S = 600.0  # run seconds an ended session stays readable
_CSTA = {int(AgentState.LOGGED_OUT): "agentNull", int(AgentState.READY): "agentReady"}


def _number(text: str, default: int) -> int:
    """A client's decimal field (station, attempt id) as an int; ``default`` when it is
    none (a peer's text never raises here: ``isdigit`` also admits superscripts)."""
    text = text.strip()
    if text.isascii() and text.isdigit() and len(text) <= 18:
        return int(text)
    return default


class _Agents:
    """What ``SimAgentFeed`` reads back from its listener: the agents' states."""

    def __init__(self, n: int):
        self.state = np.zeros(n, dtype=np.int64)


class SimulatedPlatform:
    """A scenario's simulated platform from run second ``start_s`` on, seeded ``seed``.

    Agent ``i`` sits at station ``first_station + i``; skills are numbered 1.. in the
    scenario's sorted skill names.
    """

    def __init__(self, scn: Scenario, seed: int, start_s: float = 0.0,
                 first_station: int = 5000):
        self.scn = scn
        self.lock = threading.RLock()
        self.env = simpy.Environment(initial_time=start_s)
        self.first_station = first_station
        seq = np.random.SeedSequence(seed)
        camps = list(scn.campaigns)
        self.job_index = {c.name: j for j, c in enumerate(camps)}
        shifts, aux, skills = [], [], []
        groups = outbound_groups(scn)  # dedicated inbound agents are the ACD's alone
        for g in groups:
            shifts += [(g.login_s, g.logout_s)] * g.count
            aux += [(g.aux_probability, g.aux_mean_s)] * g.count
            skills += [frozenset(g.skills)] * g.count
        self.agent_skills = skills
        camp_seeds = seq.spawn(len(camps))
        feed_seq, inbound_seq = seq.spawn(2)
        window = (start_s, float("inf"))
        # the inbound ACD (scenario [[inbound]]): the skills CMS reports on
        self.desk = inbound_parts(scn, self.env, inbound_seq, window).desk
        if self.desk is not None:
            self.desk.start()
            self.skill_names = list(self.desk.skills())
        else:
            self.skill_names = sorted({s for g in groups for s in g.skills})
        self.feed = SimAgentFeed(self.env, shifts, aux, feed_seq)
        self.tel = SimTelephony(self.env, camps, scn.ports, scn.carrier_cps, camp_seeds,
                                window, self.feed)
        self.agents = _Agents(len(shifts))
        self.on_inbound: set[int] = set()  # agents in auto-in, lent to the ACD's skills
        self.busy: set[int] = set()
        self.wrap: set[int] = set()
        self.break_after_wrap: set[int] = set()
        self.sessions: dict[str, dict[str, Any]] = {}
        self._by_attempt: dict[int, str] = {}
        self._next = 0
        self._ended: list[tuple[float, int]] = []  # (run s, attempt id) of ended sessions
        self.tel.subscribe(self)
        self.feed.subscribe(self)
        self.feed.start()

    # ---- the clock

    def advance(self, now_s: float) -> None:
        """Run the world up to run second ``now_s``."""
        with self.lock:
            if now_s > self.env.now:
                self.env.run(until=now_s)
            # Ended sessions stay readable for KEEP_S (a status reply lost on the wire is
            # asked for again), then are forgotten.
            while self._ended and self._ended[0][0] < now_s - KEEP_S:
                _, aid = self._ended.pop(0)
                sid = self._by_attempt.pop(aid, None)
                if sid is not None:
                    self.sessions.pop(sid, None)

    # ---- PortWorld (the outcall web service)

    def resources(self) -> tuple[int, int, int]:
        with self.lock:
            return self.tel.ports, max(self.tel.ports - self.tel.ports_in_use, 0), 0

    def _attempt(self, sid: str, params: dict[str, str], address: str,
                 channel: int | None = None) -> Attempt:
        job = self.job_index.get(params.get("job", ""))
        if job is None:
            raise LaunchRefused(f"unknown application job {params.get('job')!r}")
        if channel is None:
            name = params.get("channel", "voice_agent")
            channel = CHANNEL_NAMES.index(name) if name in CHANNEL_NAMES else 0
        self._next += 1
        a = Attempt(self._next, job, 0, channel, self.env.now, address=address)
        self.sessions[sid] = {"a": a, "state": "ringing", "result": "", "human": False,
                              "attempt": _number(params.get("attempt", ""), -1),
                              "t_end": None}
        self._by_attempt[a.id] = sid
        return a

    def launch(self, session_id: str, op: str, fields: dict[str, Any]) -> None:
        with self.lock:
            if self.tel.ports_in_use >= self.tel.ports:
                raise LaunchRefused("no outbound resources available")
            params = parse_parameters(fields.get("parameters", ""))
            a = self._attempt(session_id, params, fields["toURI"].split(":")[-1])
            self.tel.dial(a)

    def send_message(self, session_id: str, channel: str, fields: dict[str, Any]) -> None:
        with self.lock:
            params = parse_parameters(fields.get("parameters", ""))
            ch = int(Channel.SMS) if channel == "sms" else int(Channel.EMAIL)
            a = self._attempt(session_id, params, fields["toAddr"], ch)
            self.sessions[session_id]["state"] = "launching"
            self.tel.dial(a)

    def status(self, session_id: str) -> SessionStatus | None:
        with self.lock:
            s = self.sessions.get(session_id)
            if s is None:
                return None
            return SessionStatus(s["state"], s["result"], s["human"])

    def ccxml_event(self, session_id: str, name: str, body: str) -> bool:
        with self.lock:
            s = self.sessions.get(session_id)
            if s is None or s["state"] == "ended":
                return False
            a = s["a"]
            if name == "outdial.connect":
                agent = self._agent(parse_parameters(body).get("agent", ""))
                if not 0 <= agent < len(self.agent_skills):
                    return False
                a.agent, a.t_connect = agent, self.env.now
                s["state"] = "connected"
                self.busy.add(agent)
                self.tel.connect(a, agent)
                return True
            if name == "outdial.drop":
                if s["state"] == "ringing":  # hung up before an answer: the port is
                    self._end(a, "dropped")   # freed when the world would have ended it
                    return True
                a.code = int(Code.ABANDONED)
                self.tel.drop(a)
                self._end(a, "dropped")
                return True
            return False

    # ---- the simulator's reports (TelephonyEvents and AgentListener)

    def _session(self, a: Attempt) -> dict[str, Any] | None:
        sid = self._by_attempt.get(a.id)
        return None if sid is None else self.sessions.get(sid)

    def _end(self, a: Attempt, result: str) -> None:
        s = self._session(a)
        if s is not None and s["state"] != "ended":  # a session ends once
            s["state"], s["result"], s["t_end"] = "ended", result, self.env.now
            self._ended.append((self.env.now, a.id))

    def on_failed(self, a: Attempt, code: int) -> None:
        a.code = code
        self._end(a, _RESULT.get(int(code), "noanswer"))

    def on_answered(self, a: Attempt, human: bool) -> None:
        s = self._session(a)
        if s is not None and s["state"] == "ended":  # hung up while ringing: no one there
            a.code = int(Code.ABANDONED)
            if a.channel != int(Channel.VOICE_AGENTLESS):  # (a message frees it at its end)
                self.tel.drop(a)  # its port, held since, is free
        elif s is not None:
            s["state"], s["human"] = "answered", bool(human)

    def on_customer_hangup(self, a: Attempt) -> None:
        a.code = int(Code.CUSTOMER_HANGUP)
        self._end(a, "hangup")

    def on_call_ended(self, a: Attempt, machine: bool = False) -> None:
        # an agent who found an answering machine dispositions it so: outdial's CCXML
        # application ends the session with the result ``machine`` (else ``completed``),
        # which the adapter hands to the dialer (``on_call_ended(a, machine=True)``)
        a.code = int(Code.MACHINE if machine else Code.LIVE_CONNECTED)
        self.busy.discard(a.agent)
        self.wrap.add(a.agent)
        self._end(a, "machine" if machine else "completed")

    def on_delivered(self, a: Attempt, ok: bool) -> None:
        a.code = int(Code.DELIVERED if ok else Code.UNDELIVERED)
        self._end(a, "delivered" if ok else "undelivered")

    def on_agent_state(self, agent: int, state: int) -> None:
        state = int(state)
        if agent in self.wrap:
            if state == AgentState.NOT_READY:  # asked for a break during the wrap-up
                self.break_after_wrap.add(agent)
                return
            if state == AgentState.READY:  # the wrap-up ended
                self.wrap.discard(agent)
                if agent in self.break_after_wrap:
                    self.break_after_wrap.discard(agent)
                    state = int(AgentState.NOT_READY)
        self.agents.state[agent] = state

    # ---- AgentWorld (DMCC)

    def _agent(self, station: str) -> int:
        i = _number(station, -1) - self.first_station
        return i if 0 <= i < len(self.agent_skills) else -1

    def agent_state(self, station: str) -> str:
        with self.lock:
            i = self._agent(station)
            if i < 0:
                return "agentNull"
            if i in self.on_inbound and self.agents.state[i] != AgentState.LOGGED_OUT:
                lent = self.desk.lent.get(i) if self.desk is not None else None
                return "agentBusy" if lent is not None and lent.busy else "agentReady"
            if i in self.busy:
                return "agentBusy"
            if i in self.wrap:
                return "agentWorkingAfterCall"
            return _CSTA.get(int(self.agents.state[i]), "agentNotReady")

    def set_agent_state(self, station: str, state: str) -> None:
        with self.lock:
            i = self._agent(station)
            if i >= 0 and i not in self.busy and i not in self.wrap:
                if state == "readyState" and self.agents.state[i] != AgentState.LOGGED_OUT:
                    self.agents.state[i] = int(AgentState.READY)
                elif state == "notReadyState" and self.agents.state[i] != AgentState.LOGGED_OUT:
                    self.agents.state[i] = int(AgentState.NOT_READY)

    # ---- InboundWorld (DMCC work modes: blending)

    def work_mode(self, station: str) -> str:
        with self.lock:
            return "AUTO_IN" if self._agent(station) in self.on_inbound else "MANUAL_IN"

    def set_work_mode(self, station: str, state: str, work_mode: str, pending: bool) -> None:
        """``AUTO_IN`` (ready): the agent joins the ACD's queue of the first inbound skill it
        holds; ``MANUAL_IN``: the ACD hands it back after its call and wrap-up (pending)
        or at once when idle."""
        with self.lock:
            i = self._agent(station)
            if i < 0 or self.desk is None or state != "readyState":
                return
            if work_mode == "AUTO_IN" and i not in self.on_inbound:
                skills = [n for n in self.skill_names if n in self.agent_skills[i]]
                if (skills and self.agents.state[i] != AgentState.LOGGED_OUT
                        and i not in self.busy and i not in self.wrap):
                    self.on_inbound.add(i)
                    self.desk.lend(i, skills[0])
            elif work_mode == "MANUAL_IN" and i in self.on_inbound and i in self.desk.lent:
                if pending or not self.desk.lent[i].busy:
                    self.desk.recall(i, self._back_from_inbound)

    def _back_from_inbound(self, agent: int) -> None:
        self.on_inbound.discard(agent)
        if self.agents.state[agent] != AgentState.LOGGED_OUT:
            self.agents.state[agent] = int(AgentState.READY)

    # ---- SkillWorld (CMS)

    def skill_rows(self) -> list[dict[str, Any]]:
        """Per skill, as a split/skill report: the inbound ACD's state when the scenario
        has ``[[inbound]]`` skills; else the outbound agents staffed and available per
        skill (no calls waiting)."""
        with self.lock:
            if self.desk is not None:
                return [{"skill": self.skill_names.index(st.skill) + 1,
                         "calls_waiting": st.calls_waiting,
                         "oldest_call_s": st.oldest_call_waiting_s,
                         "agents_staffed": st.agents_staffed,
                         "agents_available": st.agents_available,
                         "agents_on_acd": st.agents_on_inbound, "acd_calls": None,
                         "abandoned": None,
                         "service_level": (st.service_level
                                           if math.isfinite(st.service_level) else None),
                         "avg_speed_answer_s": None} for st in self.desk.latest]
            rows = []
            st = self.agents.state
            for k, name in enumerate(self.skill_names):
                staffed = avail = 0
                for i, sk in enumerate(self.agent_skills):
                    if name in sk and st[i] != AgentState.LOGGED_OUT:
                        staffed += 1
                        avail += (st[i] == AgentState.READY and i not in self.busy
                                  and i not in self.wrap)
                rows.append({"skill": k + 1, "calls_waiting": 0, "oldest_call_s": 0.0,
                             "agents_staffed": staffed, "agents_available": avail,
                             "agents_on_acd": 0, "acd_calls": 0, "abandoned": 0,
                             "service_level": None, "avg_speed_answer_s": None})
            return rows

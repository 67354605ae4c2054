"""Blending: outbound agents lent to inbound skills and taken back, by thresholds.

A job with a ``BlendSetting`` is linked to one inbound skill. Every ``period_s`` the
controller reads the skill's latest state from the ``SkillFeed`` and asks the pacer's
hysteresis kernel (``pacer.blending``) how many of the job's agents should be on inbound:

- more when the skill is in trouble: ``calls_waiting > queue_high`` or
  ``oldest_call_waiting_s > oldest_high_s`` or ``service_level < sl_low``;
- fewer when it is comfortable on every count: ``calls_waiting <= queue_low`` and
  ``oldest_call_waiting_s <= oldest_low_s`` and ``service_level >= sl_high``;
- otherwise (inside the band) as many as now; ``step`` agents per decision at most, never
  more than ``max_released``, and the job keeps ``min_outbound`` agents.

The agent manager moves agents only between calls: an agent is lent only when it is
READY (the dialer marks it not ready, so no outbound call reaches it and the pacer stops
counting it), and recalled through the ACD (``InboundAgents.recall``), which hands it back
when its inbound call and wrap-up are over; the dialer then sees it ready again. An agent
stays on inbound at least ``min_stay_s`` before it can be recalled, so a skill that just
got help keeps it through short lulls. A live run stopping recalls every lent agent at once
(``stop(recall=True)``), its ``min_stay_s`` waived.

Lending an idle agent the pacer has dialled for strands the live answer its calls in flight
bring: in ``scenarios/blended-centre.toml`` the blended jobs dropped 2.43 % of their live
answers against 1.72 % with no blending. So a lend takes only the idle agents no call in
flight may need (``BlendedDialer.answers_due``); for the rest it asks agents on an outbound
call to leave after it (not ready when their wrap-up ends: the pacer stops counting them at
once, ``AgentStatus.BUSY_LEAVING``) and lends each as it frees. Only when no agent is on an
outbound call either does it take the idle agents the calls in flight may need: the skill's
trouble comes first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from engine.agents import AgentManager, AgentState
from engine.interfaces import Clock, InboundAgents, SkillFeed, SkillState
from engine.job import Job
from engine.skill_thresholds import check_skill_thresholds
from pacer.blending import BlendingParams, BlendingState

_READY, _NOT_READY, _LOGGED_OUT = (int(AgentState.READY), int(AgentState.NOT_READY),
                                   int(AgentState.LOGGED_OUT))
_LEAVING = int(AgentState.PENDING_NOT_READY)
_WRAPPING = int(AgentState.WORK_NOT_READY)
_ON_OUTBOUND_CALL = (int(AgentState.BUSY), _WRAPPING)
BIG = 1_000_000


@dataclass(frozen=True)
class BlendSetting:
    """A job's blending thresholds (counts of calls, seconds, fractions 0..1).

    Raises ``ValueError`` naming the field when a value is out of range or a band is
    inverted (``queue_low <= queue_high``, ``oldest_low_s <= oldest_high_s``,
    ``sl_low <= sl_high``).
    """

    skill: str
    queue_high: int = 3
    queue_low: int = 0
    oldest_high_s: float = 30.0
    oldest_low_s: float = 5.0
    sl_low: float = 0.70
    sl_high: float = 0.85
    step: int = 1
    min_outbound: int = 0
    max_released: int = BIG
    min_stay_s: float = 60.0
    period_s: float = 2.0

    def __post_init__(self) -> None:
        check_skill_thresholds(self)
        if self.step < 1:
            raise ValueError(f"step: expected agents per decision >= 1, got {self.step}")
        if not self.period_s > 0:
            raise ValueError(f"period_s: expected seconds > 0, got {self.period_s}")


class BlendedDialer(Protocol):
    """What blending reads from and does to the dialer."""

    @property
    def jobs(self) -> Sequence[Job]: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def agents(self) -> AgentManager: ...

    def on_agent_state(self, agent: int, state: int) -> None:
        """An agent's state changed (the dialer's ``AgentListener``)."""

    def answers_due(self, job: int) -> int:
        """Idle agents ``job``'s calls in flight may still need (live answers waiting, and
        those its ringing calls may bring)."""


class Blending:
    """Lends the agents of blended jobs to their inbound skills and takes them back.

    ``settings`` has one entry per job (None: not blended); ``skill_bits`` maps a skill
    name to the bit agents' skill masks use for it (an agent is lent only to a skill it
    holds). It subscribes itself to ``feed``; ``window`` is the measured span (s) for
    the lent-time accounting.
    """

    def __init__(self, dialer: BlendedDialer, feed: SkillFeed, desk: InboundAgents,
                 settings: Sequence[BlendSetting | None], skill_bits: Mapping[str, int],
                 window: tuple[float, float] = (0.0, float("inf"))):
        if len(settings) != len(dialer.jobs):
            raise ValueError(f"blending: {len(dialer.jobs)} jobs but {len(settings)} settings")
        known = set(feed.skills())
        for j, s in enumerate(settings):
            if s is not None and s.skill not in known:
                raise ValueError(f"blending of job {dialer.jobs[j].name!r}: skill {s.skill!r} "
                                 f"is not reported by the skill feed ({', '.join(sorted(known))})")
        self.dialer = dialer
        self.desk = desk
        self.window = window
        self.rows = [j for j, s in enumerate(settings) if s is not None]
        self.settings = [settings[j] for j in self.rows]
        self.masks = np.array([skill_bits.get(s.skill, 0) for s in self.settings],
                              dtype=np.int64)
        ss = self.settings
        self.kernel = BlendingState(BlendingParams(
            q_high=[s.queue_high for s in ss], q_low=[s.queue_low for s in ss],
            age_high_s=[s.oldest_high_s for s in ss], age_low_s=[s.oldest_low_s for s in ss],
            sl_low=[s.sl_low for s in ss], sl_high=[s.sl_high for s in ss],
            step=[s.step for s in ss], min_outbound=[s.min_outbound for s in ss],
            max_released=[min(s.max_released, BIG) for s in ss])) if ss else None
        self.period_s = min((s.period_s for s in ss), default=1.0)
        self.states: dict[str, SkillState] = {}
        self.lent: dict[int, tuple[int, float]] = {}  # agent -> (row, lent at)
        # agent -> (row, asked at, still to lend): asked to leave outbound after its call
        # (``_lend_some``); lent when free, or made ready again when no longer wanted
        self.leaving: dict[int, tuple[int, float, bool]] = {}
        self.recalling: set[int] = set()
        self.lent_s = 0.0  # agent seconds on inbound within the window
        # ... of which the agent was still logged in (a shift may end while an agent is
        # lent: it finishes its inbound call after), in total and by the lending job
        self.lent_logged_in_s = 0.0
        self.lent_logged_in_by_job = np.zeros(len(dialer.jobs))
        self.logged_off_at: dict[int, float] = {}  # lent agent -> when it logged off
        self.lends = 0
        self.recalls = 0
        self.stopped = False
        self.closed = False  # ``close``: the run is over, a late return changes nothing
        # (t, "ask" / "lend" / "recall" / "back", agent, job): every move, for outputs and tests
        self.log: list[tuple[float, str, int, int]] = []
        feed.subscribe(self)

    # ---- SkillListener

    def on_skill_state(self, state: SkillState) -> None:
        self.states[state.skill] = state

    # ---- the decision

    def start(self) -> None:
        """Decide every ``period_s`` from now on (nothing to do without blended jobs)."""
        if self.rows:
            self.dialer.clock.call_later(self.period_s, self._periodic)

    def stop(self, recall: bool = False) -> int:
        """No more decisions. With ``recall`` (a live run stopping: asked, at its end or on
        an error) every agent still lent is recalled at once, ``min_stay_s`` waived: the
        ACD hands back an agent between calls now and one on an inbound call when that
        call and its wrap-up end. Returns how many were recalled (without ``recall`` none:
        the agents lent stay lent)."""
        self.stopped = True
        for a, (r, t, _) in self.leaving.items():  # no lend after the stop: back as free
            self.leaving[a] = (r, t, False)
        self._settle_leaving(self.dialer.clock.now())
        if not recall:
            return 0
        due = sorted((t, a) for a, (_, t) in self.lent.items() if a not in self.recalling)
        for _, a in due:
            self._recall(a)
        return len(due)

    def _periodic(self) -> None:
        if self.stopped:
            return
        self.decide()
        self.dialer.clock.call_later(self.period_s, self._periodic)

    def lent_count(self) -> np.ndarray:
        """Agents on inbound (not being recalled) per blended job row, and those asked to
        leave outbound for it after their call."""
        out = np.zeros(len(self.rows), dtype=np.int64)
        for a, (r, _) in self.lent.items():
            if a not in self.recalling:
                out[r] += 1
        for r, _, lend in self.leaving.values():
            out[r] += lend
        return out

    def decide(self) -> None:
        """One blending decision for every blended job (lend and recall agents)."""
        if self.kernel is None:
            return
        am = self.dialer.agents
        now = self.dialer.clock.now()
        for a in [a for a in self.lent if a not in self.logged_off_at
                  and am.state[a] == _LOGGED_OUT]:
            self.logged_off_at[a] = float(am.t_state[a])
            if a not in self.recalling:
                self._recall(a)  # logged off while lent: the ACD releases it after its call
        self._settle_leaving(now)
        n = len(self.rows)
        queued = np.zeros(n, dtype=np.int64)
        oldest = np.zeros(n)
        sl = np.ones(n)
        for r, s in enumerate(self.settings):
            st = self.states.get(s.skill)
            if st is not None:
                queued[r] = st.calls_waiting
                oldest[r] = st.oldest_call_waiting_s
                v = st.service_level  # NaN (a feed's empty cell): no trouble from SL
                sl[r] = min(max(v, 0.0), 1.0) if v == v else 1.0
        logged = am.state != _LOGGED_OUT
        assigned = np.array([int((logged & (am.job == j)).sum()) for j in self.rows],
                            dtype=np.int64)
        have = self.lent_count()
        self.kernel.released[:] = np.minimum(have, np.maximum(assigned, 0))
        want = self.kernel.decide(queued, oldest, sl, assigned)
        for r, j in enumerate(self.rows):
            if want[r] > have[r]:
                self._lend_some(r, j, int(want[r] - have[r]), now)
            elif want[r] < have[r]:
                self._recall_some(r, int(have[r] - want[r]), now)

    def _lend_some(self, r: int, j: int, k: int, now: float) -> None:
        """``k`` more of job ``j``'s agents for row ``r``'s skill (module docstring): idle
        agents the job's calls in flight do not need, agents on an outbound call after it,
        and only then idle agents those calls may need."""
        am = self.dialer.agents
        mask = int(self.masks[r])
        mine = (am.job == j) & ((am.skills & mask) == mask)
        idle = np.flatnonzero(mine & (am.state == _READY) & ~am.on_call)
        idle = idle[np.argsort(am.t_state[idle], kind="stable")].tolist()  # ready longest
        spare = min(max(len(idle) - self.dialer.answers_due(j), 0), k)
        for a in idle[:spare]:
            self._lend(a, r, now)
        k -= spare
        if k <= 0:
            return
        # agents on an outbound call: in wrap-up first (sooner free), then talking; in
        # each, the longest in it first
        busy = np.flatnonzero(mine & np.isin(am.state, _ON_OUTBOUND_CALL))
        busy = busy[np.lexsort((am.t_state[busy], am.state[busy] != _WRAPPING))]
        asked = [a for a in busy.tolist() if a not in self.leaving][:k]
        for a in asked:
            self.dialer.on_agent_state(a, _NOT_READY)  # not ready once its wrap-up ends
            self.leaving[a] = (r, now, True)
            self.log.append((now, "ask", a, j))
        for a in idle[spare:spare + k - len(asked)]:  # nobody else: the skill comes first
            self._lend(a, r, now)

    def _lend(self, a: int, r: int, now: float) -> None:
        """Agent ``a`` (between calls) to row ``r``'s skill: not ready for outbound (an
        idle one is made so here), then the desk's."""
        if self.dialer.agents.state[a] != _NOT_READY:
            self.dialer.on_agent_state(a, _NOT_READY)
        self.desk.lend(a, self.settings[r].skill)
        self.lent[a] = (r, now)
        self.lends += 1
        self.log.append((now, "lend", a, self.rows[r]))

    def _settle_leaving(self, now: float) -> None:
        """Agents asked to leave outbound after their call that are now free: lent when
        still wanted, else ready for outbound again; one that logged off is dropped."""
        if not self.leaving:
            return
        state = self.dialer.agents.state
        for a, (r, _, lend) in list(self.leaving.items()):
            s = int(state[a])
            if s == _LEAVING:
                continue  # still on its outbound call or wrap-up
            del self.leaving[a]
            if s != _NOT_READY:
                continue  # logged off (or made ready by someone else) meanwhile
            if lend and not self.stopped:
                self._lend(a, r, now)
            else:
                self.dialer.on_agent_state(a, _READY)

    def _recall_some(self, r: int, k: int, now: float) -> None:
        """``k`` fewer agents on row ``r``'s skill: agents still to leave outbound stay
        (the latest asked first), then lent ones past ``min_stay_s`` are recalled."""
        asked = sorted(((t, a) for a, (row, t, lend) in self.leaving.items()
                        if row == r and lend), reverse=True)[:k]
        for t, a in asked:
            self.leaving[a] = (r, t, False)
        k -= len(asked)
        if k <= 0:
            return
        stay = self.settings[r].min_stay_s
        due = sorted((t, a) for a, (row, t) in self.lent.items()
                     if row == r and a not in self.recalling and now - t >= stay)
        for _, a in due[:k]:
            self._recall(a)

    def _recall(self, a: int) -> None:
        self.recalling.add(a)
        self.recalls += 1
        self.log.append((self.dialer.clock.now(), "recall", a, self.rows[self.lent[a][0]]))
        self.desk.recall(a, self._returned)

    def _returned(self, a: int) -> None:
        """The ACD handed ``a`` back between calls: ready for outbound again (after
        ``close`` the run is over: nothing is recorded, the engine not told)."""
        if self.closed:
            return
        r, t = self.lent.pop(a)
        self.recalling.discard(a)
        now = self.dialer.clock.now()
        self._account(a, r, t, now)
        self.log.append((now, "back", a, self.rows[r]))
        if self.dialer.agents.state[a] == _NOT_READY:
            self.dialer.on_agent_state(a, _READY)

    def close(self, now: float) -> None:
        """Account the lent time of agents still on inbound at ``now`` (run end); returns
        that come later are not recorded."""
        self.closed = True
        for a, (r, t) in self.lent.items():
            self._account(a, r, t, now)

    def _account(self, a: int, r: int, t0: float, t1: float) -> None:
        """Agent ``a``, lent for row ``r`` from ``t0`` to ``t1`` (s): its time within the
        window into ``lent_s``, and the part before it logged off (if it did) into
        ``lent_logged_in_s`` and the job's ``lent_logged_in_by_job``."""
        lo, hi = self.window
        self.lent_s += max(min(t1, hi) - max(t0, lo), 0.0)
        off = self.logged_off_at.pop(a, t1)
        if self.dialer.agents.state[a] == _LOGGED_OUT:  # off since the last decision
            off = min(off, float(self.dialer.agents.t_state[a]))
        on = max(min(t1, off, hi) - max(t0, lo), 0.0)
        self.lent_logged_in_s += on
        self.lent_logged_in_by_job[self.rows[r]] += on

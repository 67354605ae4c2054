"""The agent manager: agent states, their job, ready queues, and time spent in each state.

States follow the reference platform's agent manager. Transitions not in ``_ALLOWED`` raise
``InvalidTransition`` naming the agent, the state and the event, so a bad feed is caught at
once. Time per state is accumulated exactly (clipped to a measurement window) for KPIs.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from engine.columns import shared_column
from engine.vocab import HANDLING_STATES, OFF_STATES, READY_STATES, AgentState
from pacer.modes import AgentStatus
from pacer.ratio import int_rows, real_number

__all__ = ["AgentManager", "AgentState", "InvalidTransition"]


# event -> {from_state: to_state}
_ALLOWED: dict[str, dict[AgentState, AgentState]] = {
    "login": {AgentState.LOGGED_OUT: AgentState.LOGGED_IN},
    "ready": {
        AgentState.LOGGED_IN: AgentState.READY,
        AgentState.NOT_READY: AgentState.READY,
        AgentState.WORK_NOT_READY: AgentState.READY,
        AgentState.READY: AgentState.READY,
        AgentState.PENDING_NOT_READY: AgentState.NOT_READY,  # wrap ended: the pending wins
        AgentState.PENDING_LOGOUT: AgentState.LOGGED_OUT,
    },
    "connect": {AgentState.READY: AgentState.BUSY},
    "call_end": {
        AgentState.BUSY: AgentState.WORK_NOT_READY,
        AgentState.PENDING_NOT_READY: AgentState.PENDING_NOT_READY,
        AgentState.PENDING_LOGOUT: AgentState.PENDING_LOGOUT,
    },
    "not_ready": {
        AgentState.LOGGED_IN: AgentState.NOT_READY,
        AgentState.READY: AgentState.NOT_READY,
        AgentState.NOT_READY: AgentState.NOT_READY,
        AgentState.WORK_NOT_READY: AgentState.PENDING_NOT_READY,
        AgentState.BUSY: AgentState.PENDING_NOT_READY,
        AgentState.PENDING_NOT_READY: AgentState.PENDING_NOT_READY,
        AgentState.PENDING_LOGOUT: AgentState.PENDING_LOGOUT,  # leaving wins over a break
    },
    "logout": {
        AgentState.LOGGED_IN: AgentState.LOGGED_OUT,
        AgentState.READY: AgentState.LOGGED_OUT,
        AgentState.NOT_READY: AgentState.LOGGED_OUT,
        AgentState.BUSY: AgentState.PENDING_LOGOUT,
        AgentState.WORK_NOT_READY: AgentState.PENDING_LOGOUT,
        AgentState.PENDING_NOT_READY: AgentState.PENDING_LOGOUT,
        AgentState.PENDING_LOGOUT: AgentState.PENDING_LOGOUT,
    },
}

# The same table keyed by plain ints (the hot path; IntEnum lookups are slow on 3.11).
_NEXT = {ev: {int(a): int(b) for a, b in m.items()} for ev, m in _ALLOWED.items()}
_BUSY, _READY = int(AgentState.BUSY), int(AgentState.READY)

# How the pacer sees each state.
_STATUS = np.array([
    AgentStatus.OFF,  # LOGGED_OUT
    AgentStatus.PAUSED,  # LOGGED_IN (not yet ready)
    AgentStatus.IDLE,  # READY
    AgentStatus.BUSY,  # BUSY (talking)
    AgentStatus.WRAP,  # WORK_NOT_READY (wrap-up; since_s = when it started)
    AgentStatus.PAUSED,  # NOT_READY
    AgentStatus.BUSY_LEAVING,  # PENDING_NOT_READY
    AgentStatus.BUSY_LEAVING,  # PENDING_LOGOUT
], dtype=np.int64)
_STATUS_OF = _STATUS.tolist()  # plain ints for the hot path
# The pacer's codes of an agent in talk or wrap-up (it cannot take a new call until done).
HANDLING_STATUSES = (int(AgentStatus.BUSY), int(AgentStatus.WRAP),
                     int(AgentStatus.BUSY_LEAVING))
# Per pacer code: is it one of HANDLING_STATUSES (``handling`` indexes it with the statuses:
# the simulator's sampler asks every 5 s, and ``np.isin`` costs ~20 times as much).
_IS_HANDLING = np.isin(np.arange(int(max(AgentStatus)) + 1), HANDLING_STATUSES)
_PAUSED_STATUS, _LEAVING_STATUS = int(AgentStatus.PAUSED), int(AgentStatus.BUSY_LEAVING)


MAX_AGENTS = 1 << 24  # most agents (and jobs) an AgentManager holds
_N_STATES = len(AgentState)


def index_arg(name: str, value, n: int, lo: int = 0) -> int:
    """``value`` as an int in ``[lo, n)`` (an agent or job index; numpy ints accepted, not
    bools, floats or negatives counting from the end), or a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or \
            not lo <= value < n:
        raise ValueError(f"{name}: expected an int in [{lo}, {n}), got {value!r:.40}")
    return int(value)


class InvalidTransition(ValueError):
    pass


class AgentManager:
    """Agents' states and jobs as arrays (the pacer reads them directly), plus ready queues.

    ``status`` (pacer codes), ``job`` (-1 = none) and ``since_s`` (when the current call
    connected, or, in wrap-up, when the wrap-up started: the pacer's ``agent_since_s``) are
    numpy arrays of length ``n``. The pacer sees talk (BUSY) and wrap-up (WRAP) apart.
    """

    def __init__(self, n: int, skills: np.ndarray, n_jobs: int, window: tuple[float, float]):
        """``n`` agents with ``skills`` (int bitmasks, length n), ``n_jobs`` jobs, and the
        ``window`` (start, end seconds) whose time is accounted; a ValueError naming the
        argument otherwise."""
        n = index_arg("n", n, MAX_AGENTS + 1)
        n_jobs = index_arg("n_jobs", n_jobs, MAX_AGENTS + 1)
        try:
            lo, hi = (float(x) for x in window)
        except (TypeError, ValueError):
            raise ValueError(f"window: expected (start, end) seconds, got {window!r:.60}"
                             ) from None
        if math.isnan(lo) or math.isnan(hi) or lo > hi:
            raise ValueError(f"window: expected start <= end seconds, got {window!r:.60}")
        window = (lo, hi)
        self.n = n
        self.skills = int_rows("skills", skills, n, lo=None)
        # Public numpy columns (the pacer and the KPIs read them), each a view of an
        # ``array.array`` the hot paths below read and write item by item (``shared_column``).
        self._state, self.state = shared_column("q", n, int(AgentState.LOGGED_OUT))
        self._status, self.status = shared_column("q", n, int(AgentStatus.OFF))
        self._job, self.job = shared_column("q", n, -1)
        self._since, self.since_s = shared_column("d", n, 0.0)
        self._t_state, self.t_state = shared_column("d", n, 0.0)
        self._on_call, self.on_call = shared_column("b", n, False)
        self.ready: list[deque[int]] = [deque() for _ in range(n_jobs)]
        self._in_ready = bytearray(n)
        # agents leaving their job once its calls in flight no longer need them
        # (``set_leaving``): the pacer stops counting them (an idle one reads PAUSED, one on
        # a call BUSY_LEAVING), while a live answer of the job still reaches one ready
        self._leaving = bytearray(n)
        # seconds per agent and state: row ``agent``, column ``AgentState`` (flat buffer)
        self._time, time_in = shared_column("d", n * _N_STATES, 0.0)
        self.time_in = time_in.reshape(n, _N_STATES)
        # seconds per job and state, of the agents while on that job (``job_time_in``: the
        # per-campaign occupancy; an agent moving between jobs splits its time)
        self._jtime, job_time = shared_column("d", max(n_jobs, 1) * _N_STATES, 0.0)
        self.job_time_in = job_time.reshape(max(n_jobs, 1), _N_STATES)[:n_jobs]
        self.window = window
        self._connects, self.connects = shared_column("q", n, 0)

    # ---- state machine

    def transition(self, agent: int, event: str, now: float) -> int:
        """Apply ``event`` to ``agent`` at ``now``; returns the new ``AgentState`` value.

        Raises ``InvalidTransition`` (naming agent, event and state) if not allowed.
        """
        if not (type(agent) is int and 0 <= agent < self.n):  # the engine's case first
            agent = index_arg("agent", agent, self.n)
        nxt = _NEXT.get(event) if type(event) is str else None
        if nxt is None:
            raise InvalidTransition(f"agent {agent}: unknown event {event!r:.40}; expected "
                                    f"one of {', '.join(_NEXT)}")
        if type(now) is not float or not math.isfinite(now):
            now = real_number("now", now)
        cur = self._state[agent]
        new = nxt.get(cur, -1)
        if new < 0:
            raise InvalidTransition(f"agent {agent}: event {event!r} not allowed in state "
                                    f"{AgentState(cur).name}")
        if event == "ready" and self._on_call[agent]:
            # ``ready`` ends a pending agent's wrap-up; on a call whose end the telephony has
            # not reported yet (a live feed polled first) it would take the agent off the
            # call and the call's end would be refused: refused here instead, as on BUSY
            raise InvalidTransition(f"agent {agent}: event 'ready' not allowed on a call "
                                    f"(state {AgentState(cur).name}): its end comes first")
        lo, hi = self.window  # ``_account``, inlined: a few times per attempt
        a = self._t_state[agent]
        a = a if a > lo else lo
        b = now if now < hi else hi
        if b > a:
            self._time[agent * _N_STATES + cur] += b - a
            j = self._job[agent]
            if j >= 0:
                self._jtime[j * _N_STATES + cur] += b - a
        self._t_state[agent] = now
        self._state[agent] = new
        lv = self._leaving[agent]
        if lv and event == "login":  # back after a logout: no move pending any more
            self._leaving[agent] = lv = 0
        self._status[agent] = _STATUS_OF[new] if not lv else self._leaving_status(new)
        if new == _BUSY:
            self._since[agent] = now
            self._on_call[agent] = True
            self._connects[agent] += 1
        elif event == "call_end":
            self._on_call[agent] = False
            self._since[agent] = now  # the wrap-up starts
        if new == _READY:
            self._push_ready(agent)
        return new

    def _account(self, agent: int, now: float) -> None:
        lo, hi = self.window
        a, b = max(self.t_state[agent], lo), min(now, hi)
        if b > a:
            self.time_in[agent, self.state[agent]] += b - a
            j = self._job[agent]
            if j >= 0:
                self.job_time_in[j, self.state[agent]] += b - a
        self.t_state[agent] = now

    def times_so_far(self, now: float) -> np.ndarray:
        """Seconds per agent and state (``AgentState`` index) within the window up to
        ``now``, each agent's open stretch in its current state included; nothing is
        changed. float64[n, states]."""
        t = self.time_in.copy()
        lo, hi = self.window
        open_s = min(now, hi) - np.maximum(self.t_state, lo)
        rows = np.flatnonzero(open_s > 0)
        t[rows, self.state[rows]] += open_s[rows]
        return t

    def close(self, now: float) -> None:
        """Account every agent's time up to ``now`` (end of a run)."""
        for a in range(self.n):
            self._account(a, now)

    # ---- ready queues (per job)

    @staticmethod
    def _leaving_status(state: int) -> int:
        """The pacer's code of an agent leaving its job in ``state``."""
        if state == _READY:
            return _PAUSED_STATUS
        code = _STATUS_OF[state]
        return _LEAVING_STATUS if code in HANDLING_STATUSES else code

    def set_leaving(self, agent: int, leaving: bool) -> None:
        """Mark ``agent`` as leaving its job once the job's calls in flight no longer need
        it (the staffing moves it then), or clear the mark; its pacer code follows."""
        agent = index_arg("agent", agent, self.n)
        self._leaving[agent] = 1 if leaving else 0
        st = self._state[agent]
        self._status[agent] = self._leaving_status(st) if leaving else _STATUS_OF[st]

    def leaving(self, agent: int) -> bool:
        return bool(self._leaving[agent])

    def _push_ready(self, agent: int) -> None:
        j = self._job[agent]
        if j >= 0 and not self._in_ready[agent]:
            self.ready[j].append(agent)
            self._in_ready[agent] = 1

    def pop_ready(self, job: int) -> int:
        """The longest-waiting READY agent of ``job`` (first in, first out), or -1."""
        queue = self.ready[job]
        while queue:
            a = queue.popleft()
            self._in_ready[a] = 0
            if self._state[a] == _READY and self._job[a] == job:
                return a
        return -1

    def set_job(self, agent: int, job: int, now: float | None = None) -> None:
        """Move an agent to ``job`` (-1 = unassigned) at ``now`` (seconds: its time so far
        is the old job's in ``job_time_in``; without it, the new job's). Agents on a call
        are not moved."""
        agent = index_arg("agent", agent, self.n)
        job = index_arg("job", job, len(self.ready), lo=-1)
        if self.on_call[agent]:
            raise InvalidTransition(f"agent {agent}: on a call; it moves only when the call ends")
        if now is not None and job != self._job[agent]:
            self._account(agent, real_number("now", now))
        if self._leaving[agent] and job != self._job[agent]:
            self.set_leaving(agent, False)  # it has left
        self.job[agent] = job
        if self.state[agent] == AgentState.READY:
            self._in_ready[agent] = 0
            self._push_ready(agent)

    def handling(self) -> np.ndarray:
        """Agents in talk or wrap-up, leaving afterwards or not (bool, length ``n``)."""
        return _IS_HANDLING[self.status]

    def ready_count(self, n_jobs: int) -> np.ndarray:
        mask = (self.status == AgentStatus.IDLE) & (self.job >= 0)
        return np.bincount(self.job[mask], minlength=n_jobs)

    # ---- KPI inputs

    def handling_s(self) -> float:
        """Agent-seconds in talk and wrap-up (``engine.vocab.HANDLING_STATES``)."""
        return float(self.time_in[:, HANDLING_STATES].sum())

    def logged_in_s(self) -> float:
        """Agent-seconds logged in (every state but LOGGED_OUT)."""
        return float(self.time_in.sum() - self.time_in[:, OFF_STATES].sum())

    def ready_s(self) -> float:
        """Agent-seconds ready (idle, waiting for a call)."""
        return float(self.time_in[:, READY_STATES].sum())

"""A supervisor's requests to a running dialer: pause, resume or stop a job, change its agent
limits or priority, force an agent's logoff, read the jobs' state.

The requests a live run's control channel receives (``outdial control``, one JSON object
each), checked here and carried out through the engine calls the simulator's timeline uses
(``CampaignDirector.pause`` / ``resume`` / ``stop`` / ``set_limits``,
``Dialer.force_logout``). A request that is not well formed, names an unknown job or agent,
or asks a transition the job's state does not allow raises ``SupervisorError`` with a
message saying what was expected; nothing is changed then.

Requests (``job``: a job's name; agents are numbered from 0 in the run's agent order)::

    {"action": "status"}
    {"action": "agents"}
    {"action": "pause" | "resume" | "stop", "job": "sales"}
    {"action": "set", "job": "sales", "min_agents": 4, "max_agents": 20, "priority": 3}
    {"action": "logoff", "agent": 17}
    {"action": "import", "job": "sales", "file": "/data/leads.csv"}
    {"action": "disposition", "attempt": 1234, "agent": 7, "code": "callback",
     "callback_at": "2026-12-03T15:30:00+01:00", "personal": true}

``disposition`` is an agent's disposition of its call, carried out by the run's
``dispositions`` (``engine.dispositions``); a run without them refuses it.

``import`` appends a contact file to a running job's list through the ``importer`` the run
gives (a live run's: ``outdial.live.imports``); ``{"action": "shutdown"}`` stops the whole
run gracefully through the run's ``shutdown`` (as SIGTERM does: calls in flight end, running
jobs pause and the next run resumes them). A run without either refuses the request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np

from engine.agents import AgentManager, AgentState
from engine.director import CampaignDirector, JobTransitionError
from engine.dispositions import KEYS as DISPOSITION_KEYS
from engine.dispositions import DispositionError, Dispositions
from engine.interfaces import Store
from engine.job import Job
from engine.recovery import transaction
from engine.staffing import Staffing

ACTIONS = ("status", "agents", "pause", "resume", "stop", "set", "logoff", "import",
           "shutdown", "disposition")
LIMITS = ("min_agents", "max_agents", "priority")
_KEYS = {"status": set(), "agents": set(), "pause": {"job"}, "resume": {"job"}, "stop": {"job"},
         "set": {"job", *LIMITS}, "logoff": {"agent"}, "import": {"job", "file"},
         "shutdown": set(), "disposition": set(DISPOSITION_KEYS)}
_FINAL = ("STOPPED", "FINISHED")  # a job in these states takes no more contacts
LIMIT_MAX = 1_000_000
LIMITS_KEY = "supervisor_limits"  # store meta: the limits a supervisor set, per job name
LOGOFFS_KEY = "supervisor_logoffs"  # store meta: the agents a supervisor logged off
log = logging.getLogger(__name__)
_LOGGED_OUT = int(AgentState.LOGGED_OUT)


class SupervisorError(ValueError):
    """A request that cannot be carried out (the message says why and what was expected)."""


class SupervisedDialer(Protocol):
    """What the supervisor reads from and does to the dialer."""

    forced_out: set[int]

    @property
    def jobs(self) -> list[Job]: ...

    @property
    def agents(self) -> AgentManager: ...

    @property
    def staffing(self) -> Staffing | None: ...

    @property
    def store(self) -> Store: ...

    def force_logout(self, agent: int) -> int:
        """Log ``agent`` off now, or after its call; returns its new ``AgentState``."""


class Supervisor:
    """Carries out supervisor requests on ``director`` and ``dialer`` (see the module)."""

    def __init__(self, director: CampaignDirector, dialer: SupervisedDialer,
                 importer: Callable[[int, str], Any] | None = None,
                 shutdown: Callable[[], None] | None = None,
                 logoffs: ForcedLogoffs | None = None):
        """``logoffs``: where forced logoffs are kept across restarts (a live run's);
        without it a logoff holds for this run only."""
        self.director = director
        self.dialer = dialer
        self.importer = importer
        self.shutdown = shutdown
        self.logoffs = logoffs
        self.dispositions: Dispositions | None = None

    def handle(self, request: Any) -> Any:
        """Check and carry out one request (a mapping, see the module); returns what it did
        (``status``: every job's state and limits), for an import with an importer that
        works off the event loop an awaitable of it. Raises ``SupervisorError``."""
        if not isinstance(request, Mapping):
            raise SupervisorError(f"expected a JSON object such as {{\"action\": \"pause\", "
                                  f"\"job\": \"sales\"}}, got {type(request).__name__}")
        action = request.get("action")
        if action not in ACTIONS:
            raise SupervisorError(f"action: expected one of {', '.join(ACTIONS)}, got "
                                  f"{action!r:.40}")
        extra = sorted(k for k in request if k != "action" and k not in _KEYS[action])
        if extra:
            allowed = ", ".join(sorted(_KEYS[action])) or "no other key"
            raise SupervisorError(f"{extra[0]!r:.40}: not a key of action {action!r} "
                                  f"(expected {allowed})")
        if action == "status":
            return {"jobs": self.status()}
        if action == "agents":
            return {"agents": self.agents()}
        if action == "shutdown":
            if self.shutdown is None:
                raise SupervisorError("this run cannot be shut down from here")
            self.shutdown()
            return {"shutdown": "requested: calls in flight end, running jobs pause"}
        if action == "logoff":
            agent = self._agent(request.get("agent"))
            state = AgentState(self.logoffs.force(agent) if self.logoffs is not None
                               else self.dialer.force_logout(agent))
            return {"agent": agent, "state": state.name}
        if action == "disposition":
            if self.dispositions is None:
                raise SupervisorError("this run takes no dispositions")
            try:
                return self.dispositions.request(request)
            except DispositionError as e:
                raise SupervisorError(str(e)) from None
        j = self._job(request.get("job"))
        if action == "import":
            return self._import(j, request.get("file"))
        limits = {k: self._limit(k, request[k]) for k in LIMITS if k in request}
        if action == "set" and not limits:
            raise SupervisorError("action 'set' needs min_agents, max_agents or priority")
        self.act(j, action, **limits)
        return self._job_status(j)

    def act(self, j: int, action: str, min_agents: int | None = None,
            max_agents: int | None = None, priority: int | None = None) -> None:
        """Job row ``j``: ``pause``, ``resume``, ``stop``, or ``set`` its limits (those not
        None), through the director. Raises ``SupervisorError`` naming the job when its state
        or its limits do not allow it (nothing changed)."""
        try:
            if action == "set":
                self.director.set_limits(j, min_agents, max_agents, priority)
                self._remember(j, min_agents, max_agents, priority)
            elif action in ("pause", "resume", "stop"):
                getattr(self.director, action)(j)
            else:
                raise SupervisorError(f"action: expected pause, resume, stop or set for a "
                                      f"job, got {action!r:.40}")
        except JobTransitionError as e:
            raise SupervisorError(str(e)) from None
        except ValueError as e:
            if isinstance(e, SupervisorError):
                raise
            name = f"job {self.dialer.jobs[j].name!r}"
            raise SupervisorError(str(e) if str(e).startswith(name)  # named once
                                  else f"{name}: {e}") from None

    def _remember(self, j: int, min_agents: int | None, max_agents: int | None,
                  priority: int | None) -> None:
        """Keep job ``j``'s limits as set in the store (``LIMITS_KEY``), so that a restart
        of the run applies them again (``restore_limits``) instead of the scenario's."""
        store = self.dialer.store
        raw = store.get_meta(LIMITS_KEY)
        kept = json.loads(raw) if raw else {}
        mine = kept.setdefault(self.dialer.jobs[j].name, {})
        for k, v in zip(LIMITS, (min_agents, max_agents, priority), strict=True):
            if v is not None:
                mine[k] = v
        store.set_meta(LIMITS_KEY, json.dumps(kept))

    def restore_limits(self) -> list[str]:
        """Apply again the limits a supervisor set in an earlier run of this store (a
        restart); returns the jobs whose limits came back. A job the scenario no longer
        has, or limits its staffing now refuses, are skipped (logged)."""
        raw = self.dialer.store.get_meta(LIMITS_KEY)
        names = [job.name for job in self.dialer.jobs]
        done = []
        for name, limits in (json.loads(raw) if raw else {}).items():
            if name not in names:
                log.warning("limits set for job %r in an earlier run: no such job now", name)
                continue
            try:
                self.director.set_limits(names.index(name), *(limits.get(k) for k in LIMITS))
            except ValueError as e:
                log.warning("limits set for job %r in an earlier run not applied: %s", name, e)
                continue
            done.append(name)
        return done

    def _import(self, j: int, path: Any) -> Any:
        """What the importer returns: its reply, or (a live run's, which reads the file
        off the event loop) an awaitable of it."""
        if self.importer is None:
            raise SupervisorError("this run takes no contact imports")
        if not isinstance(path, str) or not path.strip():
            raise SupervisorError(f"file: expected the path of a contact file (CSV or "
                                  f"Parquet) the run can read, got {path!r:.60}")
        self.check_takes_contacts(j)
        return self.importer(j, path)

    def check_takes_contacts(self, j: int) -> None:
        """``SupervisorError`` unless job row ``j`` may take more contacts (a job STOPPED
        or FINISHED takes none)."""
        state = self.director.state(j).value
        if state in _FINAL:
            raise SupervisorError(f"job {self.dialer.jobs[j].name!r} is {state}: it takes "
                                  "no more contacts")

    def status(self) -> list[dict[str, Any]]:
        """Every job's state, agent limits and priority, and agents on it now."""
        return [self._job_status(j) for j in range(len(self.dialer.jobs))]

    def agents(self) -> list[dict[str, Any]]:
        """The logged-in agents (and those logging out after their call): number, state,
        job (None: on none) and the run-clock second its state began."""
        am = self.dialer.agents
        names = [job.name for job in self.dialer.jobs]
        out = []
        for a in np.flatnonzero(am.state != _LOGGED_OUT).tolist():
            j = int(am.job[a])
            out.append({"agent": a, "state": AgentState(int(am.state[a])).name,
                        "job": names[j] if j >= 0 else None,
                        "since_s": float(am.t_state[a])})
        return out

    def _job_status(self, j: int) -> dict[str, Any]:
        job = self.dialer.jobs[j]
        staffing = self.dialer.staffing
        if staffing is not None and j in staffing.agent_jobs:
            lo, hi, priority = staffing.limits(j)
        else:  # agentless, or jobs not staffed by licenses: the settings it started with
            lo, hi, priority = job.min_agents, job.max_agents, job.priority
        am = self.dialer.agents
        on = int(((am.job == j) & (am.state != _LOGGED_OUT)).sum())
        return {"job": job.name, "state": self.director.state(j).value,
                "min_agents": lo, "max_agents": hi, "priority": priority, "agents": on}

    def _job(self, name: Any) -> int:
        names = [job.name for job in self.dialer.jobs]
        if not isinstance(name, str) or name not in names:
            shown = ", ".join(repr(n) for n in names[:12])
            more = f" and {len(names) - 12} more" if len(names) > 12 else ""
            raise SupervisorError(f"job: expected the name of one of the run's jobs "
                                  f"({shown}{more}), got {name!r:.60}")
        return names.index(name)

    def _agent(self, agent: Any) -> int:
        n = self.dialer.agents.n
        if isinstance(agent, bool) or not isinstance(agent, int) or not 0 <= agent < n:
            raise SupervisorError(f"agent: expected an agent number from 0 to {n - 1}, got "
                                  f"{agent!r:.40}")
        return agent

    @staticmethod
    def _limit(key: str, v: Any) -> int:
        lo = 1 if key == "priority" else 0
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= LIMIT_MAX:
            raise SupervisorError(f"{key}: expected an integer from {lo} to {LIMIT_MAX}, "
                                  f"got {v!r:.40}")
        return v


class ForcedLogoffs:
    """The agents a supervisor logged off (``Dialer.force_logout``), kept in the store
    (``LOGOFFS_KEY``) so that a restart keeps them off: an agent forced off stays off
    until it logs out and in again at its phone, in this run or a later one.

    ``force`` logs an agent off and records it in one transaction (with its event).
    ``restore`` (a restart) reads them back; ``listener(target)`` is the agent feed's
    listener in front of ``target`` (the dialer): an agent restored from the store is
    held out until the feed reports it logged out (the first report after a restart
    shows where the agent is now, not a new login: without the hold an agent at its
    phone came straight back), and an agent back by a new login is forgotten."""

    def __init__(self, dialer: SupervisedDialer):
        self.dialer = dialer
        self.held: set[int] = set()  # restored: out until the feed sees them logged out

    def force(self, agent: int) -> int:
        """Log ``agent`` off now (or after its call) and keep it off; its new state."""
        with transaction(self.dialer.store):
            new = self.dialer.force_logout(agent)
            self._save()
        return new

    def restore(self) -> list[int]:
        """The agents an earlier run of the store kept off, off again (held until the
        feed sees them log out); agents the run no longer has are skipped (logged)."""
        raw = self.dialer.store.get_meta(LOGOFFS_KEY)
        n = self.dialer.agents.n
        out = []
        for a in json.loads(raw) if raw else []:
            if isinstance(a, int) and 0 <= a < n:
                out.append(a)
            else:
                log.warning("agent %r logged off in an earlier run: no such agent now", a)
        self.dialer.forced_out.update(out)
        self.held.update(out)
        return sorted(out)

    def listener(self, target: Any) -> _HoldingListener:
        """The agent feed's listener: ``target``'s, with the held agents held."""
        return _HoldingListener(self, target)

    def _save(self) -> None:
        self.dialer.store.set_meta(LOGOFFS_KEY, json.dumps(sorted(self.dialer.forced_out)))


class _HoldingListener:
    """``ForcedLogoffs.listener``: feed reports pass to the target but those of held
    agents; every other attribute is the target's."""

    def __init__(self, logoffs: ForcedLogoffs, target: Any):
        self._logoffs = logoffs
        self._target = target

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)

    def on_agent_state(self, agent: int, state: int) -> None:
        lo = self._logoffs
        if agent in lo.held:
            if state == _LOGGED_OUT:  # out at the phone too: its next login is its own
                lo.held.discard(agent)
                log.info("agent %d, logged off by a supervisor, seen logged out", agent)
            return
        forced = agent in lo.dialer.forced_out
        self._target.on_agent_state(agent, state)
        if forced and agent not in lo.dialer.forced_out:  # logged in again
            lo._save()

"""The engine's only view of the world: small Protocols the simulator and adapters implement.

``engine`` imports neither ``sim`` nor ``adapters``; both plug in here, so a sizing run
drives exactly the code that runs in production.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from engine.attempt import Attempt


@runtime_checkable
class Clock(Protocol):
    """Time in seconds since the run started, and deferred calls on the same clock."""

    def now(self) -> float: ...

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> None: ...


@runtime_checkable
class Telephony(Protocol):
    """Launches attempts and acts on calls; results come back through ``TelephonyEvents``.

    The engine's dialer subscribes itself once, when it is constructed.
    """

    def subscribe(self, listener: TelephonyEvents) -> None:
        """Send every attempt's results to ``listener`` from now on."""

    def dial(self, attempt: Attempt) -> None:
        """Start an attempt on its channel (voice call, agentless message, SMS, email)."""

    def capacity(self, voice: bool) -> int:
        """Attempts the platform can start now: free ports for voice, else message slots."""

    def connect(self, attempt: Attempt, agent: int) -> None:
        """Bridge an answered call to an agent; the talk starts now."""

    def drop(self, attempt: Attempt) -> None:
        """Release an answered call no agent took in time (plays the identification message),
        or hang up a call still ringing (the engine stopping)."""


@runtime_checkable
class TelephonyEvents(Protocol):
    """What the engine hears back from ``Telephony`` (implemented by the engine's dialer)."""

    def on_failed(self, attempt: Attempt, code: int) -> None:
        """The attempt ended without an answer (busy, no answer, invalid, blocked)."""

    def on_answered(self, attempt: Attempt, human: bool) -> None:
        """Answered; ``human`` is the AMD classification (always True without AMD)."""

    def on_customer_hangup(self, attempt: Attempt) -> None:
        """The called party hung up while waiting for an agent."""

    def on_call_ended(self, attempt: Attempt, machine: bool = False) -> None:
        """A connected call's talk ended; its agent goes to wrap-up. ``machine``: the agent
        found an answering machine (AMD off, or AMD missed it): the attempt ends as
        ``Code.MACHINE`` (its strategy's ``answering_machine`` result, not a live answer)."""

    def on_delivered(self, attempt: Attempt, ok: bool) -> None:
        """An agentless attempt (message, SMS, email) finished; ``ok`` if delivered."""


@runtime_checkable
class AgentListener(Protocol):
    """What the engine hears from an ``AgentFeed`` (implemented by the engine's dialer)."""

    def on_agent_state(self, agent: int, state: int) -> None:
        """An agent's state changed at the clock's ``now`` (see ``engine.agents.AgentState``)."""


@runtime_checkable
class AgentFeed(Protocol):
    """Agent state changes from the ACD / CTI (login, ready, not ready, logout, wrap end).

    The engine's dialer subscribes itself once, when it is constructed. A feed reports
    what the ACD says and keeps no copy of the engine's agent states.
    """

    def subscribe(self, listener: AgentListener) -> None:
        """Send every agent state change to ``listener`` from now on."""


@dataclass(frozen=True)
class SkillState:
    """One inbound skill (ACD split / queue) at one moment, as a real-time feed reports it.

    Counts are whole calls or agents; times are seconds; ``service_level`` is the fraction
    0..1 of calls answered within the skill's own threshold over the feed's interval.
    ``agents_on_inbound`` counts the staffed agents serving the skill now (dedicated and
    lent by blending); ``agents_on_outbound`` the logged-in agents holding the skill who are
    on outbound work (0 when the feed cannot tell).
    """

    skill: str
    calls_waiting: int
    oldest_call_waiting_s: float
    service_level: float
    agents_staffed: int
    agents_available: int
    agents_on_inbound: int = 0
    agents_on_outbound: int = 0


@runtime_checkable
class SkillListener(Protocol):
    """What the engine hears from a ``SkillFeed``."""

    def on_skill_state(self, state: SkillState) -> None:
        """A skill's state as of the clock's ``now`` (replaces the previous one)."""


@runtime_checkable
class SkillFeed(Protocol):
    """Inbound skill state from the contact center's real-time reporting (e.g. a CMS
    real-time socket): the input of skill-based (blended) pacing."""

    def subscribe(self, listener: SkillListener) -> None:
        """Send every skill state update to ``listener`` from now on."""

    def skills(self) -> list[str]:
        """The skills this feed reports on."""


@runtime_checkable
class InboundAgents(Protocol):
    """The ACD side of blending: outbound agents lent to an inbound skill and taken back.

    The engine lends only agents between calls; the ACD routes inbound calls of the skill
    to a lent agent until the engine recalls it, and hands it back between calls.
    """

    def lend(self, agent: int, skill: str) -> None:
        """From now on ``agent`` (idle) takes inbound calls of ``skill``."""

    def recall(self, agent: int, done: Callable[[int], None]) -> None:
        """No new inbound call for ``agent``; call ``done(agent)`` once it is between
        calls (at once when idle, else after its inbound call and wrap-up end)."""


@runtime_checkable
class EventSink(Protocol):
    """Publishes engine events (JSON-able dicts) on topics ``POM.<org>.<TYPE>``.

    A sink may also have ``publish_values(topic, event_type, values)``: then the frequent
    events (attempts, agents, statistics) come there as the tuple of their values in
    ``engine.events.EVENT_KEYS[event_type]``'s order, the dict not built (the event is
    ``dict(zip(EVENT_KEYS[event_type], values))``); ``engine.event_volume`` measures so.
    """

    enabled: bool

    def publish(self, topic: str, event: dict[str, Any]) -> None: ...


@runtime_checkable
class Store(Protocol):
    """Attempt results and job state, behind one interface (memory, SQLite, PostgreSQL).

    Persistent stores make ``attempt_started`` and ``save_attempt`` durable before they
    return, so a crash loses no result: an attempt started and never saved is a *trapped
    record*, found by ``trapped()`` on restart and re-coded with ``recode``. Records are
    dicts with the ``engine.attempt.ATTEMPT_FIELDS`` keys.
    """

    def attempt_started(self, attempt: Attempt) -> None:
        """Record an attempt about to be launched (code PENDING).

        Raises ``ValueError`` if the ``attempt_id`` is already recorded.
        """

    def save_attempt(self, attempt: Attempt) -> None:
        """Record a finished attempt's result (insert or update by ``attempt_id``)."""

    def attempts(self, job: str | None = None, since_id: int = 0) -> list[dict[str, Any]]:
        """Every recorded attempt (finished and trapped), by ``attempt_id``; one job's by
        name; those from ``attempt_id`` ``since_id`` on (one run's)."""

    def trapped(self) -> list[dict[str, Any]]:
        """Attempts started and never finished (code PENDING), by ``attempt_id``."""

    def recode(self, attempt_id: int, code: int, t_end: float) -> None:
        """Give a trapped attempt its final code (``Code.TRAPPED``) and end time (s).

        Raises ``KeyError`` for an unknown ``attempt_id`` and ``ValueError`` for an attempt
        that already has a result (code not PENDING): a result is never overwritten here.
        """

    def set_job_state(self, job: str, state: str, at_s: float) -> None:
        """Remember a job's lifecycle state (``engine.director.JobState`` name)."""

    def job_states(self) -> dict[str, str]:
        """Last recorded state per job name."""

    def set_meta(self, key: str, value: str) -> None:
        """Remember one engine setting (run epoch, next attempt id, ...), durable on return."""

    def get_meta(self, key: str) -> str | None:
        """A setting stored by ``set_meta``, or None if it never was."""

    def transaction(self) -> AbstractContextManager[None]:
        """Group the calls made inside into one commit (nested calls join the outer one);
        a persistent store (``durable = True``) gets each attempt record and its events
        written together this way."""

    def add_event(self, topic: str, event: dict[str, Any]) -> None:
        """Append an event to the outbox (published later by ``engine.outbox``)."""

    def unpublished(self, limit: int = 1000) -> list[tuple[int, str, dict[str, Any]]]:
        """Up to ``limit`` outbox events not yet published: ``(seq, topic, event)``."""

    def mark_published(self, seq: int) -> None:
        """Every outbox event up to ``seq`` reached the sink."""

    def outbox_size(self) -> tuple[int, int]:
        """(events ever written to the outbox, events not yet published)."""

    def close(self) -> None:
        """Flush and release the store."""

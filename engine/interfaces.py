"""The engine's only view of the world: small Protocols the simulator and adapters implement.

``engine`` imports neither ``sim`` nor ``adapters``; both plug in here, so a sizing run
drives exactly the code that runs in production.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from engine.attempt import Attempt


@runtime_checkable
class Clock(Protocol):
    """Time in seconds since the run started, and deferred calls on the same clock."""

    def now(self) -> float: ...

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> None: ...


@runtime_checkable
class Telephony(Protocol):
    """Launches attempts and acts on calls; results come back through ``TelephonyEvents``."""

    def dial(self, attempt: Attempt) -> None:
        """Start an attempt on its channel (voice call, agentless message, SMS, email)."""

    def capacity(self, voice: bool) -> int:
        """Attempts the platform can start now: free ports for voice, else message slots."""

    def connect(self, attempt: Attempt, agent: int) -> None:
        """Bridge an answered call to an agent; the talk starts now."""

    def drop(self, attempt: Attempt) -> None:
        """Release an answered call no agent took in time (plays the identification message)."""


class TelephonyEvents(Protocol):
    """What the engine hears back from ``Telephony`` (implemented by the engine's dialer)."""

    def on_failed(self, attempt: Attempt, code: int) -> None:
        """The attempt ended without an answer (busy, no answer, invalid, blocked)."""

    def on_answered(self, attempt: Attempt, human: bool) -> None:
        """Answered; ``human`` is the AMD classification (always True without AMD)."""

    def on_customer_hangup(self, attempt: Attempt) -> None:
        """The called party hung up while waiting for an agent."""

    def on_call_ended(self, attempt: Attempt) -> None:
        """A connected call's talk ended; its agent goes to wrap-up."""

    def on_delivered(self, attempt: Attempt, ok: bool) -> None:
        """An agentless attempt (message, SMS, email) finished; ``ok`` if delivered."""


class AgentListener(Protocol):
    def on_agent_state(self, agent: int, state: int) -> None:
        """An agent's state changed at the clock's ``now`` (see ``engine.agents.AgentState``)."""


@runtime_checkable
class AgentFeed(Protocol):
    """Agent state changes from the ACD / CTI (login, ready, not ready, logout, wrap end)."""

    def subscribe(self, listener: AgentListener) -> None: ...


@runtime_checkable
class EventSink(Protocol):
    """Publishes engine events (JSON-able dicts) on topics ``POM.<org>.<TYPE>``."""

    enabled: bool

    def publish(self, topic: str, event: dict[str, Any]) -> None: ...


@runtime_checkable
class Store(Protocol):
    """Jobs' contacts and attempt results."""

    def next_contact(self, job: int) -> int | None:
        """A contact id to try for ``job``, or None when the job's list is exhausted."""

    def save_attempt(self, attempt: Attempt) -> None:
        """Persist one completed attempt result."""

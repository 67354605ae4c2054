"""Engine events on topics ``POM.<org>.<TYPE>``, built only when a sink is listening.

The simulator usually runs without a sink; building a dict per attempt would then be
wasted work, so every method returns at once when no sink is enabled.
"""

from __future__ import annotations

from typing import Any

from engine.attempt import CHANNEL_NAMES, Attempt, Code
from engine.interfaces import EventSink

EVENT_TYPES = ("JOB", "JOBSTATISTICS", "AGENT", "AGENTSTATISTICS", "ATTEMPT",
               "ENRICHEDATTEMPTRESULT")


def topic(org: str, event_type: str) -> str:
    """``POM.<org>.<TYPE>``; the default organisation is ``Default``."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}; expected one of {EVENT_TYPES}")
    return f"POM.{org or 'Default'}.{event_type}"


class EventPublisher:
    """Formats and publishes the engine's events to one sink (or to nothing)."""

    def __init__(self, sink: EventSink | None, org: str = "Default"):
        self.sink = sink
        self.org = org or "Default"
        self.enabled = bool(sink is not None and getattr(sink, "enabled", True))
        self._topics = {t: topic(self.org, t) for t in EVENT_TYPES}

    def _publish(self, event_type: str, body: dict[str, Any]) -> None:
        assert self.sink is not None
        self.sink.publish(self._topics[event_type], body)

    def attempt_created(self, a: Attempt) -> None:
        if self.enabled:
            self._publish("ATTEMPT", {"type": "ATTEMPT_CREATED", **_attempt_fields(a)})

    def attempt_completed(self, a: Attempt) -> None:
        if self.enabled:
            fields = _attempt_fields(a)
            self._publish("ATTEMPT", {"type": "ATTEMPT_COMPLETED", **fields})
            self._publish("ENRICHEDATTEMPTRESULT", fields)

    def agent_state(self, agent: int, state: int, job: int) -> None:
        if self.enabled:
            from engine.agents import AgentState

            self._publish("AGENT", {"agent_id": agent, "state": AgentState(state).name,
                                    "job_id": job})


def _attempt_fields(a: Attempt) -> dict[str, Any]:
    return {
        "attempt_id": a.id,
        "job_id": a.job,
        "contact_id": a.contact,
        "channel": CHANNEL_NAMES[a.channel],
        "completion_code": Code(a.code).name,
        "agent_id": a.agent,
        "nuisance": bool(a.abandoned),
        "t_created_s": a.t_created,
        "t_answer_s": a.t_answer,
        "t_connect_s": a.t_connect,
        "t_end_s": a.t_end,
    }

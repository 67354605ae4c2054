"""An event sink that measures the volume a run's event stream would put on a broker.

Counts every event by type and its size as the bytes ``engine.sinks.dump_bytes`` writes
(compact UTF-8 JSON, the value a Kafka sink sends), for the events whose ``time_s`` falls in
a measured window (a warm-up before it is left out). Nothing is kept but the counts, so it costs one
serialisation per event and no memory.

The publisher hands it the frequent events as their values (``publish_values``), without the
dict: an event's compact JSON object is the JSON array of its values plus, per field, the
key's ``"key":`` (the contract's keys are plain ASCII), so the size is exact without the dict
(a simulated busy hour publishes ~350,000 events; leaving their dicts unbuilt saves a fifth of
building and measuring them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.events import EVENT_KEYS, EVENT_TOPIC
from engine.sinks import dump_bytes

# What an event's keys add to its values' JSON array: `"key":` per field ("{}" for "[]").
_KEY_BYTES = {t: sum(len(k.encode()) + 3 for k in keys) for t, keys in EVENT_KEYS.items()}
(_TIME_S,) = {keys.index("time_s") for keys in EVENT_KEYS.values()}  # one place in all


@dataclass
class EventVolume:
    """Events and bytes by event type inside ``[start_s, end_s)`` of the run clock.

    Implements ``engine.interfaces.EventSink``. ``events`` and ``bytes`` map the topic's event
    type (``ATTEMPT``, ``AGENT``, ...) to the count and the summed serialised size in bytes.
    """

    start_s: float = 0.0
    end_s: float = float("inf")
    events: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    enabled: bool = True

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        t = event.get("time_s", 0.0)
        if not (self.start_s <= t < self.end_s):
            return
        kind = EVENT_TOPIC.get(event.get("type", ""))
        if kind is None:  # a type not in the contract: the topic names it
            kind = topic.rsplit(".", 1)[-1]
        size = len(dump_bytes(event))
        events, sizes = self.events, self.bytes
        events[kind] = events.get(kind, 0) + 1
        sizes[kind] = sizes.get(kind, 0) + size

    def publish_values(self, topic: str, event_type: str, values: tuple[Any, ...]) -> None:
        """``publish`` of the event ``dict(zip(EVENT_KEYS[event_type], values))``, measured
        without building it (module docstring)."""
        t = values[_TIME_S]
        if not (self.start_s <= t < self.end_s):
            return
        kind = EVENT_TOPIC[event_type]
        size = len(dump_bytes(values)) + _KEY_BYTES[event_type]
        events, sizes = self.events, self.bytes
        events[kind] = events.get(kind, 0) + 1
        sizes[kind] = sizes.get(kind, 0) + size

    @property
    def total_events(self) -> int:
        return sum(self.events.values())

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes.values())

    def as_dict(self) -> dict[str, Any]:
        """``{"window_s", "events", "bytes", "by_type": {type: {"events", "bytes"}}}``."""
        return {"window_s": self.end_s - self.start_s, "events": self.total_events,
                "bytes": self.total_bytes,
                "by_type": {k: {"events": self.events[k], "bytes": self.bytes[k]}
                            for k in sorted(self.events)}}

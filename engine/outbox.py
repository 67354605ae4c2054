"""The event outbox: events are stored with the records they describe, published after.

``OutboxSink`` is the ``EventSink`` a live engine publishes to: it appends each event to
the store's outbox, inside the store transaction the engine has open (the attempt record
and its event commit together) or in one of its own. ``OutboxRelay`` then hands the stored
events, in order, to the real sink (a JSON-lines file, Kafka) and marks them published
only once the sink has them; a crash in between publishes them again on the next start
(at least once, never lost). Consumers deduplicate by the event's ``outbox_seq``.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from engine.interfaces import EventSink

log = logging.getLogger(__name__)


class Outbox(Protocol):
    """What a store offers for the outbox (``SqlStore`` and ``MemoryStore`` do)."""

    def add_event(self, topic: str, event: dict[str, Any]) -> None: ...

    def unpublished(self, limit: int = 1000) -> list[tuple[int, str, dict[str, Any]]]: ...

    def mark_published(self, seq: int) -> None: ...

    def outbox_size(self) -> tuple[int, int]: ...


class OutboxSink:
    """``EventSink`` writing into ``store``'s outbox (enabled: the engine builds events)."""

    enabled = True

    def __init__(self, store: Outbox):
        self.store = store
        self.written = 0

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        self.store.add_event(topic, event)
        self.written += 1


class OutboxRelay:
    """Moves stored events to ``sink`` in order: ``relay()`` after each commit or on a
    timer; ``published`` counts events handed over by this relay."""

    def __init__(self, store: Outbox, sink: EventSink | None, batch: int = 500):
        self.store = store
        self.sink = sink
        self.batch = batch
        self.published = 0

    def relay(self) -> int:
        """Publish every stored event not yet published; returns how many. Raises what the
        sink raises (the events stay in the outbox for the next try)."""
        n = 0
        while True:
            rows = self.store.unpublished(self.batch)
            if not rows:
                break
            # A sink error leaves the whole batch unpublished: sent again (at least once).
            for seq, topic, event in rows:
                if self.sink is not None:
                    self.sink.publish(topic, {**event, "outbox_seq": seq})
            flush = getattr(self.sink, "flush", None)
            if flush is not None:
                flush()
            self.store.mark_published(rows[-1][0])
            n += len(rows)
            self.published += len(rows)
            if len(rows) < self.batch:
                break
        return n

    def pending(self) -> int:
        """Events stored and not yet published."""
        return self.store.outbox_size()[1]

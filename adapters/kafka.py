"""Kafka event sink: the engine's events as JSON values on ``POM.<org>.<TYPE>`` topics.

Built on ``confluent_kafka.Producer`` (the optional ``kafka`` extra, imported only when a
``KafkaSink`` is made). Messages are keyed by ``job_id`` so one job's events stay ordered
within a partition; ``acks=all`` and idempotence make delivery durable and duplicate-free.
An event is never dropped: a full local queue is drained and retried, and ``flush`` /
``close`` raise ``KafkaSinkError`` while any event is undelivered or failed.
"""

from __future__ import annotations

import logging
import time
from types import ModuleType, TracebackType
from typing import Any, Self

from engine.sinks import SinkBusy, SinkError, dump_bytes

log = logging.getLogger(__name__)

_INSTALL_HINT = "install the Kafka extra: pip install 'outdial[kafka]'"


class KafkaSinkError(SinkError):
    """The Kafka producer could not be made, or events were not delivered."""


class KafkaSinkBusy(KafkaSinkError, SinkBusy):
    """Events are not confirmed yet, or the local queue stayed full: the broker is slow or
    away; none has failed (a caller may try again later)."""


def _confluent() -> ModuleType:
    """The ``confluent_kafka`` module; ``KafkaSinkError`` with the install hint if missing."""
    try:
        import confluent_kafka
    except ImportError as exc:
        raise KafkaSinkError(f"the Kafka sink needs confluent-kafka, which is not installed; "
                             f"{_INSTALL_HINT}") from exc
    return confluent_kafka


class KafkaSink:
    """Publishes events to Kafka at ``bootstrap_servers`` (``host:port[,host:port...]``).

    ``config`` adds or overrides librdkafka settings; underscores in keyword names become
    dots (``linger_ms=20`` is ``linger.ms``), or pass dotted keys with ``**{...}``.
    ``buffer_timeout_s`` bounds how long ``publish`` waits for room in a full local queue
    before raising (seconds). Delivery failures are counted in ``failed``, logged, and
    raised by ``flush`` / ``close``.
    """

    enabled: bool = True

    def __init__(self, bootstrap_servers: str, *, buffer_timeout_s: float = 60.0,
                 **config: Any):
        ck = _confluent()
        self.bootstrap_servers = bootstrap_servers
        self.buffer_timeout_s = buffer_timeout_s
        conf: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            "client.id": "outdial",
            "acks": "all",
            "linger.ms": 20,
            # librdkafka's own lines (an unreachable broker: one every few hundred ms) go
            # to this module's logger, not to the process's stderr over the live view
            "logger": logging.getLogger(f"{__name__}.librdkafka"),
        }
        if ck.libversion()[1] >= 0x01000000:  # librdkafka >= 1.0: idempotent producer
            conf["enable.idempotence"] = True
        conf.update({k.replace("_", "."): v for k, v in config.items()})
        try:
            self._producer: Any = ck.Producer(conf)
        except ck.KafkaException as exc:
            raise KafkaSinkError(f"cannot create a Kafka producer for {bootstrap_servers}: "
                                 f"{exc}") from exc
        self.produced = 0
        self.delivered = 0
        self.failed = 0
        self.errors: list[str] = []  # the first few delivery errors, for messages
        self._closed = False

    def _on_delivery(self, err: Any, msg: Any) -> None:
        if err is None:
            self.delivered += 1
            return
        self.failed += 1
        text = f"{msg.topic()} key={msg.key()!r}: {err}"
        if len(self.errors) < 10:
            self.errors.append(text)
        log.error("Kafka delivery to %s failed: %s", self.bootstrap_servers, text)

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        """Queue ``event`` as JSON on ``topic``, keyed by its ``job_id``.

        Raises ``KafkaSinkError`` after ``close()``, or when the local queue stays full for
        ``buffer_timeout_s``; ``ValueError`` if the event is not JSON-able.
        """
        if self._closed:
            raise KafkaSinkError(f"Kafka sink for {self.bootstrap_servers} is closed")
        value = dump_bytes(event)
        key = str(event.get("job_id", -1)).encode()
        deadline = None
        while True:
            try:
                self._producer.produce(topic, value, key, on_delivery=self._on_delivery)
                break
            except BufferError:  # local queue full: serve deliveries, then retry
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.buffer_timeout_s
                elif now > deadline:
                    raise KafkaSinkBusy(
                        f"Kafka producer queue for {self.bootstrap_servers} stayed full for "
                        f"{self.buffer_timeout_s} s; is the broker reachable?") from None
                self._producer.poll(0.1)
        self.produced += 1
        self._producer.poll(0)

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait up to ``timeout_s`` seconds for every queued event to be acknowledged.

        Raises ``KafkaSinkError`` if any delivery failed, ``KafkaSinkBusy`` (a
        ``KafkaSinkError`` too) if events remain unconfirmed.
        """
        if self._producer is None:  # closed: everything was flushed then
            return
        remaining = self._producer.flush(timeout_s)
        if self.failed:
            raise KafkaSinkError(f"{self.failed} of {self.produced} events failed delivery "
                                 f"to {self.bootstrap_servers}; first: {self.errors[0]}")
        if remaining:
            raise KafkaSinkBusy(f"{remaining} of {self.produced} events still undelivered "
                                f"to {self.bootstrap_servers} after {timeout_s} s")

    def close(self, timeout_s: float = 30.0) -> None:
        """Flush (see ``flush``), refuse further events and release the producer; idempotent.

        If the flush raises, the producer is kept so a later ``flush`` can retry.
        """
        self._closed = True
        self.flush(timeout_s)
        self._producer = None  # destroys the client: its connections close now

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None:
            self.close()
            return
        try:  # already failing: report, but do not mask, a delivery problem
            self.close()
        except KafkaSinkError as err:
            log.error("%s", err)

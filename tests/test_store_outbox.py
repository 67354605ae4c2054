"""Store safety pieces: the writer lock, transactions, the outbox and its relay, the
schema 1 -> 2 migration, driver errors as one clear StoreError."""

from __future__ import annotations

import sqlite3

import pytest

from engine.attempt import Attempt, Code
from engine.outbox import OutboxRelay, OutboxSink
from engine.sinks import MemorySink, SinkError
from engine.store_memory import MemoryStore
from engine.store_schema import SCHEMA_VERSION, StoreBusy, StoreError
from engine.store_sqlite import SqliteStore


def _a(i: int) -> Attempt:
    return Attempt(i, 0, i, 0, float(i), contact_id=f"c{i}", address="555", job_name="j")


def test_one_writer_per_store_and_the_lock_dies_with_the_store(tmp_path):
    p = tmp_path / "s.sqlite"
    first = SqliteStore(p, exclusive=True)
    with pytest.raises(StoreBusy, match=r"in use by another outdial run \(pid \d+, since"):
        SqliteStore(p, exclusive=True)
    reader = SqliteStore(p)  # a non-exclusive reader is not refused
    reader.close()
    first.close()
    SqliteStore(p, exclusive=True).close()  # released on close


def test_a_transaction_commits_record_and_events_together_or_not_at_all(tmp_path):
    st = SqliteStore(tmp_path / "s.sqlite")
    sink = OutboxSink(st)
    with st.transaction():
        st.attempt_started(_a(1))
        sink.publish("POM.Default.ATTEMPT", {"n": 1})
    with pytest.raises(RuntimeError), st.transaction():
        st.attempt_started(_a(2))
        sink.publish("POM.Default.ATTEMPT", {"n": 2})
        raise RuntimeError("crash inside")
    assert [r["attempt_id"] for r in st.attempts()] == [1]
    assert [e for _, _, e in st.unpublished()] == [{"n": 1}]
    with st.transaction(), st.transaction():  # nested: one commit
        st.add_event("t", {"n": 3})
    assert st.outbox_size() == (2, 2)  # the rolled-back event never existed


@pytest.mark.parametrize("make", ["memory", "sqlite"])
def test_relay_publishes_in_order_once_and_keeps_what_the_sink_refused(tmp_path, make):
    st = MemoryStore() if make == "memory" else SqliteStore(tmp_path / "s.sqlite")
    for n in range(7):
        st.add_event("POM.Default.JOB", {"n": n})

    class Flaky(MemorySink):
        fail = True

        def publish(self, topic, event):
            if self.fail and event["n"] == 4:
                raise SinkError("disk full")
            super().publish(topic, event)
    sink = Flaky()
    relay = OutboxRelay(st, sink, batch=3)
    with pytest.raises(SinkError):
        relay.relay()
    assert relay.pending() == 4  # the batch holding n=4 stays, with the rest
    sink.fail = False
    assert relay.relay() == 4 and relay.pending() == 0
    ns = [e["n"] for _, e in sink.events]
    assert sorted(set(ns)) == list(range(7)) and ns[-4:] == [3, 4, 5, 6]  # n=3 twice
    assert [e["outbox_seq"] for _, e in sink.events][-1] == 7


def test_schema_1_store_is_migrated(tmp_path):
    p = tmp_path / "old.sqlite"
    SqliteStore(p).close()
    db = sqlite3.connect(p)
    db.execute("DROP TABLE outbox")
    db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    st = SqliteStore(p)
    st.add_event("t", {"x": 1})
    assert st.get_meta("schema_version") == str(SCHEMA_VERSION) and st.outbox_size() == (1, 1)


def test_a_full_disk_is_one_clear_store_error_and_nothing_earlier_is_lost(tmp_path):
    st = SqliteStore(tmp_path / "s.sqlite")
    st.attempt_started(_a(0))
    pages = st._db.execute("PRAGMA page_count").fetchone()[0]
    st._db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StoreError, match=r"the disk is full.*free space and run again"):
        for i in range(1, 2000):
            with st.transaction():
                st.attempt_started(_a(i))
                st.add_event("t", {"pad": "x" * 500})
    st.close()
    again = SqliteStore(tmp_path / "s.sqlite")
    assert 0 in {r["attempt_id"] for r in again.attempts()}
    assert all(r["code"] == Code.PENDING for r in again.attempts())

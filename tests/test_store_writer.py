"""The SQL stores' writes behind the event loop (``engine.store_writer``): in their order,
none lost (SQLite and PostgreSQL), the loop not held by the disk's syncs, what needs a
record on disk run only once it is, and a failed write stopping what follows."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import threading
import time

import pytest

from engine.attempt import Attempt, Channel, Code
from engine.store_postgres import PostgresStore
from engine.store_schema import StoreError
from engine.store_sqlite import SqliteStore
from tests.heartbeat import Heartbeat

_schemas = itertools.count()


class SlowDisk:
    """The store's connection with ``sync_s`` more per commit (a slow disk's sync), or a
    full disk from ``full_after`` commits on."""

    def __init__(self, db, sync_s: float = 0.0, full_after: int | None = None):
        self._db, self.sync_s, self.full_after = db, sync_s, full_after
        self.commits = 0
        self.threads: set[int] = set()

    def execute(self, sql, *a):
        if sql == "COMMIT":
            self.threads.add(threading.get_ident())
            if self.full_after is not None and self.commits >= self.full_after:
                raise sqlite3.OperationalError("database or disk is full")
            out = self._db.execute(sql, *a)
            self.commits += 1
            time.sleep(self.sync_s)
            return out
        return self._db.execute(sql, *a)

    def __getattr__(self, name):
        return getattr(self._db, name)


def _attempt(i: int) -> Attempt:
    return Attempt(i, 0, i, int(Channel.VOICE_AGENT), float(i), f"c{i}", f"+1555{i:07d}",
                   0, "sales")


def _story(store: SqliteStore, n: int) -> list[tuple[int, str]]:
    """``n`` attempts started (record and event in one transaction) and ended, the ends
    interleaved with later starts; the events in the order they were made."""
    made = []
    for i in range(n):
        a = _attempt(i)
        with store.transaction():
            store.attempt_started(a)
            store.add_event("T", {"id": i, "what": "created"})
        made.append((i, "created"))
        if i % 3 == 2:  # the attempt two before ends now
            b = _attempt(i - 2)
            b.code, b.t_end = int(Code.NO_ANSWER), float(i)
            with store.transaction():
                store.save_attempt(b)
                store.add_event("T", {"id": i - 2, "what": "completed"})
            made.append((i - 2, "completed"))
    return made


async def _with_heartbeat(fn) -> tuple[object, float]:
    """``fn()`` run on the loop beside a 5 ms heartbeat: its value and the longest gap."""
    out = None
    async with Heartbeat() as hb:
        for _ in range(40):  # in slices, as a run's ticks are
            out = fn()
            await asyncio.sleep(0)
    return out, hb.max_gap


@pytest.fixture(params=["sqlite", "postgres"])
def reopen(request, tmp_path):
    """Opens one store again and again: an SQLite file (synchronous FULL) or a PostgreSQL
    schema of its own."""
    if request.param == "sqlite":
        return lambda: SqliteStore(tmp_path / "s.sqlite", synchronous="FULL")
    conninfo = request.getfixturevalue("postgres_server")
    schema = f"wb_{next(_schemas)}_{time.time_ns() % 10**9}"
    return lambda: PostgresStore(conninfo, schema=schema)


def test_writes_behind_the_loop_keep_their_order_and_lose_nothing(reopen):
    async def go():
        store = reopen()
        loop = asyncio.get_running_loop()
        wb = store.write_behind(loop.call_soon_threadsafe, pytest.fail)
        made = _story(store, 600)
        # reads on the loop see the loop's own writes (each waits for the queue, holding
        # no lock the writer needs: they hung the run's stop before)
        assert len(store.attempts()) == 600 and store.job_states() == {}
        assert store.call_sessions() == {} and store.dispositions() == {}
        store.flush()
        assert wb.commits < wb.units  # grouped: fewer syncs than units of writes
        store.close()
        return made
    made = asyncio.run(go())
    store = reopen()
    recs = store.attempts()
    assert [r["attempt_id"] for r in recs] == list(range(600))
    ended = {i for i, what in made if what == "completed"}
    assert {r["attempt_id"] for r in recs if r["code"] == int(Code.NO_ANSWER)} == ended
    assert all(r["code"] == 0 for r in recs if r["attempt_id"] not in ended)
    events = [(e["id"], e["what"]) for _, _, e in store.unpublished(10_000)]
    assert events == made  # every event, in the order it was made
    store.close()


def test_a_slow_disk_no_longer_holds_the_event_loop(tmp_path):
    # 40 slices of 5 attempts, each commit 20 ms on a slow disk: on the loop a gap of a
    # whole slice's syncs (5 x 20 ms); behind it the loop is held no longer than a beat
    def run(write_behind: bool) -> float:
        async def go():
            store = SqliteStore(tmp_path / f"s{write_behind}.sqlite", synchronous="FULL")
            store._db = disk = SlowDisk(store._db, sync_s=0.02)
            if write_behind:
                store.write_behind(asyncio.get_running_loop().call_soon_threadsafe,
                                   pytest.fail)
            counter = iter(range(10**6))

            def five():
                for _ in range(5):
                    i = next(counter)
                    with store.transaction():
                        store.attempt_started(_attempt(i))
                        store.add_event("T", {"id": i})
            _, gap = await _with_heartbeat(five)
            store.flush()
            assert len(store.attempts()) == 200
            store._db = disk._db
            store.close()
            return gap
        return asyncio.run(go())
    on_loop, behind = run(False), run(True)
    assert on_loop >= 0.09, on_loop  # (the bug: five syncs in a row on the loop)
    assert behind < 0.06, behind


def test_a_launch_waits_for_its_record_on_disk(tmp_path):
    async def go():
        store = SqliteStore(tmp_path / "s.sqlite")
        gate = threading.Event()
        real = store.write_units

        def held(units):
            gate.wait(5)
            real(units)
        store.write_units = held
        loop = asyncio.get_running_loop()
        store.write_behind(loop.call_soon_threadsafe, pytest.fail)
        ran: list[int] = []
        with store.transaction():
            store.attempt_started(_attempt(0))
        store.after_commit(lambda: ran.append(threading.get_ident()))
        await asyncio.sleep(0.1)
        assert ran == []  # not committed: not launched
        gate.set()
        for _ in range(200):
            if ran:
                break
            await asyncio.sleep(0.01)
        assert ran == [threading.get_ident()]  # on the loop's thread, once committed
        store.close()
    asyncio.run(go())


def test_a_write_the_disk_refuses_stops_what_follows_and_keeps_what_was_committed(
        tmp_path):
    path = tmp_path / "s.sqlite"

    async def go():
        store = SqliteStore(path)
        store._db = SlowDisk(store._db)
        failed: list[BaseException] = []
        loop = asyncio.get_running_loop()
        with store.transaction():  # before write-behind: committed at once
            store.attempt_started(_attempt(0))
        store._db.full_after = store._db.commits  # the disk is full from now on
        store.write_behind(loop.call_soon_threadsafe, failed.append)
        launched: list[int] = []
        with store.transaction():
            store.attempt_started(_attempt(1))
        store.after_commit(lambda: launched.append(1))
        for _ in range(200):
            if failed:
                break
            await asyncio.sleep(0.01)
        assert failed and isinstance(failed[0], StoreError)
        assert "disk is full" in str(failed[0])
        with pytest.raises(StoreError, match="disk is full"):
            store.attempt_started(_attempt(2))
        assert launched == []  # its record never reached the disk: never launched
        store._db = store._db._db
        store.close()
    asyncio.run(go())
    store = SqliteStore(path)
    assert [r["attempt_id"] for r in store.attempts()] == [0]
    store.close()

"""One conformance suite for every ``Store``: memory, SQLite and PostgreSQL.

The PostgreSQL cases run against a throw-away server (``tests/pg_server.py``: Debian's
``postgresql`` package, or ``OUTDIAL_TEST_POSTGRES``); they are skipped, with the reason in
the summary, when psycopg or the server is missing or the server cannot start.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.attempt import ATTEMPT_FIELDS, Attempt, Code
from engine.interfaces import Store
from engine.store_memory import MemoryStore
from engine.store_schema import SCHEMA_VERSION, StoreError
from engine.store_sqlite import SqliteStore
from tests.pg_server import free_port

ROOT = Path(__file__).resolve().parent.parent


# --- stores under test -------------------------------------------------------------------

class Maker:
    """Opens stores of one kind; the same ``name`` opens the same data again (not memory)."""

    _ids = itertools.count()

    def __init__(self, kind: str, tmp: Path, conninfo: str | None):
        self.kind = kind
        self.tmp = tmp
        self.conninfo = conninfo
        self.tag = f"t{os.getpid()}_{next(self._ids)}"
        self.opened: list[Any] = []
        self.schemas: set[str] = set()

    @property
    def persistent(self) -> bool:
        return self.kind != "memory"

    def target(self, name: str) -> str:
        """The file (SQLite) or schema (PostgreSQL) that holds store ``name``."""
        if self.kind == "sqlite":
            return str(self.tmp / f"{name}.db")
        schema = f"{self.tag}_{name}"
        self.schemas.add(schema)
        return schema

    def open(self, name: str = "s") -> Any:
        if self.kind == "memory":
            store: Any = MemoryStore()
        elif self.kind == "sqlite":
            store = SqliteStore(self.target(name))
        else:
            from engine.store_postgres import PostgresStore
            store = PostgresStore(self.conninfo, schema=self.target(name))
        self.opened.append(store)
        return store

    def cleanup(self) -> None:
        for s in self.opened:
            with contextlib.suppress(Exception):
                s.close()
        if self.kind == "postgres" and self.schemas:
            import psycopg
            with psycopg.connect(self.conninfo, autocommit=True) as db:
                for schema in self.schemas:
                    db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def maker(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    conninfo = request.getfixturevalue("postgres_server") if request.param == "postgres" \
        else None
    m = Maker(request.param, tmp_path, conninfo)
    yield m
    m.cleanup()


@pytest.fixture
def store(maker: Maker) -> Any:
    return maker.open()


@pytest.fixture(params=["sqlite", "postgres"])
def persistent(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    conninfo = request.getfixturevalue("postgres_server") if request.param == "postgres" \
        else None
    m = Maker(request.param, tmp_path, conninfo)
    yield m
    m.cleanup()


def attempt(i: int, job_name: str = "a", code: int = 0, **fields: Any) -> Attempt:
    a = Attempt(i, job=ord(job_name[0]) - 97 if job_name else 0, contact=10 * i,
                channel=i % 4, t_created=float(i), contact_id=f"c{i}",
                address=f"+4420{i:07d}", step=i % 3, job_name=job_name)
    a.code = code
    for k, v in fields.items():
        setattr(a, k, v)
    return a


def pending(a: Attempt) -> dict[str, Any]:
    rec = a.record()
    rec["code"] = 0
    return rec


# --- conformance -------------------------------------------------------------------------

def test_is_a_store(store):
    assert isinstance(store, Store)


def test_started_attempts_are_trapped_until_saved(store):
    a1, a2 = attempt(1), attempt(2)
    store.attempt_started(a1)
    store.attempt_started(a2)
    assert store.trapped() == [pending(a1), pending(a2)]
    done = attempt(1, code=Code.LIVE_CONNECTED, t_answer=3.0, t_connect=3.5, t_end=60.0,
                   agent=7, truth_human=True)
    store.save_attempt(done)
    assert store.trapped() == [pending(a2)]
    assert store.attempts() == [done.record(), pending(a2)]


def test_save_attempt_upserts(store):
    store.attempt_started(attempt(5))
    store.save_attempt(attempt(5, code=Code.NO_ANSWER, t_end=30.0))
    store.save_attempt(attempt(5, code=Code.BUSY, t_end=4.0))
    store.save_attempt(attempt(6, code=Code.DELIVERED))  # never started: inserted
    assert [(r["attempt_id"], r["code"], r["t_end"]) for r in store.attempts()] == [
        (5, Code.BUSY, 4.0), (6, Code.DELIVERED, -1.0)]


def test_a_recorded_attempt_cannot_start_again(store):
    store.attempt_started(attempt(1))
    with pytest.raises(ValueError, match="attempt 1 "):
        store.attempt_started(attempt(1))
    store.save_attempt(attempt(2, code=Code.BUSY))
    with pytest.raises(ValueError, match="attempt 2 "):
        store.attempt_started(attempt(2))
    assert [r["code"] for r in store.attempts()] == [0, Code.BUSY]


def test_recode_finishes_trapped_attempts_only(store):
    store.attempt_started(attempt(1))
    store.attempt_started(attempt(2))
    store.save_attempt(attempt(2, code=Code.MACHINE, t_end=9.0))
    for rec in store.trapped():
        store.recode(rec["attempt_id"], Code.TRAPPED, 100.0)
    assert store.trapped() == []
    recs = store.attempts()
    assert [(r["code"], r["t_end"]) for r in recs] == [(Code.TRAPPED, 100.0),
                                                      (Code.MACHINE, 9.0)]
    assert recs[0] == {**pending(attempt(1)), "code": Code.TRAPPED, "t_end": 100.0}
    with pytest.raises(ValueError, match="already has result code"):
        store.recode(2, Code.TRAPPED, 101.0)  # a result is never overwritten
    with pytest.raises(KeyError):
        store.recode(3, Code.TRAPPED, 101.0)
    assert store.attempts() == recs


def test_job_states_keep_the_last_per_job(store):
    assert store.job_states() == {}
    store.set_job_state("a", "RUNNING", 0.0)
    store.set_job_state("b", "SCHEDULED", 1.0)
    store.set_job_state("a", "PAUSED", 2.5)
    assert store.job_states() == {"a": "PAUSED", "b": "SCHEDULED"}


def test_meta(store):
    assert store.get_meta("next_attempt_id") is None
    store.set_meta("next_attempt_id", "1")
    store.set_meta("epoch", "2024-05-01T09:00:00Z")
    store.set_meta("next_attempt_id", "1001")
    assert store.get_meta("next_attempt_id") == "1001"
    assert store.get_meta("epoch") == "2024-05-01T09:00:00Z"


def test_attempts_by_id_and_by_job(store):
    for i in (7, 3, 9, 1, 4):
        store.save_attempt(attempt(i, job_name="ab"[i % 2], code=Code.BUSY))
    store.attempt_started(attempt(2, job_name="b"))
    assert [r["attempt_id"] for r in store.attempts()] == [1, 2, 3, 4, 7, 9]
    assert [r["attempt_id"] for r in store.attempts("b")] == [1, 2, 3, 7, 9]
    assert [r["attempt_id"] for r in store.attempts("a")] == [4]
    assert store.attempts("zz") == []
    # one run's: from an attempt id on (the live run's summary reads its own)
    assert [r["attempt_id"] for r in store.attempts(since_id=4)] == [4, 7, 9]
    assert [r["attempt_id"] for r in store.attempts("b", since_id=3)] == [3, 7, 9]
    assert store.attempts(since_id=10) == []


def test_types_round_trip(store):
    a = attempt(2**40, job_name="Kampagne ü", code=Code.ABANDONED, agent=-1,
                abandoned=True, truth_amd_false_positive=True, truth_human=False,
                t_answer=1e-9, t_connect=-1.0, t_talk_end=1e12, t_end=12345.678901234567)
    a.contact, a.contact_id, a.address, a.step = -(2**62), "", "jo@example.org", 99
    store.save_attempt(a)
    (rec,) = store.attempts()
    assert rec == a.record()
    assert list(rec) == list(ATTEMPT_FIELDS)
    for f, v in rec.items():
        assert type(v) is type(a.record()[f]), f


# --- model-based: random sequences against a plain dict ----------------------------------

_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
_i64 = st.integers(-(2**63), 2**63 - 1)
_time = st.floats(-1e9, 1e9, allow_nan=False)


@st.composite
def _attempts(draw: Any) -> Attempt:
    a = Attempt(draw(st.integers(0, 12)), draw(_i64), draw(_i64), draw(st.integers(0, 3)),
                draw(_time), contact_id=draw(_text), address=draw(_text), step=draw(_i64),
                job_name=draw(st.sampled_from(["a", "b", "ü"])))
    a.code = draw(st.sampled_from(list(Code)))
    a.agent = draw(_i64)
    a.abandoned, a.truth_human, a.truth_amd_false_positive = (draw(st.booleans())
                                                              for _ in range(3))
    a.t_answer, a.t_connect, a.t_talk_end, a.t_end = (draw(_time) for _ in range(4))
    return a


_ops = st.lists(st.one_of(
    st.tuples(st.just("start"), _attempts()),
    st.tuples(st.just("save"), _attempts()),
    st.tuples(st.just("recode"), st.integers(0, 12), st.sampled_from(list(Code)), _time),
    st.tuples(st.just("state"), st.sampled_from(["a", "b"]), _text, _time),
    st.tuples(st.just("meta"), st.sampled_from(["k", "ü"]), _text),
), max_size=25)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=_ops)
def test_matches_a_dict_model(maker, ops):
    name = f"f{next(Maker._ids)}"
    store = maker.open(name)
    try:
        _run_against_model(maker, name, store, ops)
    finally:
        for s in maker.opened:  # one connection per example would exhaust the server
            s.close()
        maker.opened.clear()


def _run_against_model(maker: Maker, name: str, store: Any, ops: list[tuple]) -> None:
    model: dict[int, dict[str, Any]] = {}
    states: dict[str, str] = {}
    meta: dict[str, str] = {}
    for op in ops:
        kind = op[0]
        if kind == "start":
            a = op[1]
            if a.id in model:
                with pytest.raises(ValueError):
                    store.attempt_started(a)
            else:
                store.attempt_started(a)
                model[a.id] = pending(a)
        elif kind == "save":
            store.save_attempt(op[1])
            model[op[1].id] = op[1].record()
        elif kind == "recode":
            _, i, code, t_end = op
            if i not in model:
                with pytest.raises(KeyError):
                    store.recode(i, code, t_end)
            elif model[i]["code"] != 0:
                with pytest.raises(ValueError):
                    store.recode(i, code, t_end)
            else:
                store.recode(i, code, t_end)
                model[i] = {**model[i], "code": int(code), "t_end": t_end}
        elif kind == "state":
            store.set_job_state(op[1], op[2], op[3])
            states[op[1]] = op[2]
        else:
            store.set_meta(op[1], op[2])
            meta[op[1]] = op[2]
    expected = [model[i] for i in sorted(model)]
    assert store.attempts() == expected
    assert store.trapped() == [r for r in expected if r["code"] == 0]
    for job in ("a", "b", "ü"):
        assert store.attempts(job) == [r for r in expected if r["job_name"] == job]
    assert store.job_states() == states
    assert {k: store.get_meta(k) for k in ("k", "ü")} == {k: meta.get(k) for k in ("k", "ü")}
    if maker.persistent:
        store.close()
        assert maker.open(name).attempts() == expected


# --- memory specifics --------------------------------------------------------------------

def test_memory_columns_follow_finished_attempts():
    s = MemoryStore()
    s.attempt_started(attempt(1))
    assert len(s) == 0 and s.cols["attempt_id"] == []
    s.save_attempt(attempt(1, code=Code.BUSY))
    s.save_attempt(attempt(1, code=Code.NO_ANSWER))  # in place, not a second row
    s.attempt_started(attempt(2))
    s.recode(2, Code.TRAPPED, 50.0)
    assert s.cols["attempt_id"] == [1, 2] and s.cols["code"] == [Code.NO_ANSWER, Code.TRAPPED]
    assert all(len(v) == 2 for v in s.cols.values()) and len(s) == 2


# --- persistence -------------------------------------------------------------------------

def test_reopening_sees_everything(persistent):
    s = persistent.open("run")
    s.attempt_started(attempt(1))
    s.attempt_started(attempt(2))
    s.save_attempt(attempt(2, code=Code.LIVE_CONNECTED, abandoned=True))
    s.set_job_state("a", "RUNNING", 3.0)
    s.set_meta("next_attempt_id", "3")
    before = s.attempts()
    s.close()
    again = persistent.open("run")
    assert again.attempts() == before
    assert [r["attempt_id"] for r in again.trapped()] == [1]
    assert again.job_states() == {"a": "RUNNING"} and again.get_meta("next_attempt_id") == "3"
    other = persistent.open("other")  # another file / schema: empty
    assert other.attempts() == [] and other.get_meta("next_attempt_id") is None


def test_call_sessions_are_kept_until_forgotten(persistent):
    s = persistent.open("run")
    s.call_session(7, "sess-7")
    s.call_session(3, "sess-3")
    s.call_session(7, "sess-7b")  # the launch answered again: the last id is kept
    s.forget_call_sessions([9])  # not kept: nothing happens
    s.close()
    again = persistent.open("run")  # across a restart
    assert again.call_sessions() == {3: "sess-3", 7: "sess-7b"}
    again.forget_call_sessions([3])
    assert again.call_sessions() == {7: "sess-7b"}
    again.forget_call_sessions()
    assert again.call_sessions() == {}


def test_sqlite_is_in_wal_mode(tmp_path):
    path = tmp_path / "live.db"
    with SqliteStore(path) as s:
        assert s.journal_mode() == "wal"
        s.save_attempt(attempt(1, code=Code.BUSY))
        assert Path(f"{path}-wal").exists()
        other = sqlite3.connect(path)  # a reader alongside the writer
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert other.execute("SELECT count(*) FROM attempts").fetchone()[0] == 1
        other.close()
    with pytest.raises(ValueError, match="synchronous"):
        SqliteStore(path, synchronous="SOMETIMES")


def test_sqlite_refuses_what_is_not_its_store(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all " * 100)
    with pytest.raises(StoreError, match=f"{junk}.*not a database"):
        SqliteStore(junk)
    with pytest.raises(StoreError, match=str(tmp_path / "no" / "dir.db")):
        SqliteStore(tmp_path / "no" / "dir.db")
    foreign = tmp_path / "foreign.db"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE customers (id INTEGER)")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match=f"{foreign}.*not an outdial store"):
        SqliteStore(foreign)
    newer = tmp_path / "newer.db"
    SqliteStore(newer).close()
    db = sqlite3.connect(newer)
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
               (str(SCHEMA_VERSION + 1),))
    db.commit()
    db.close()
    with pytest.raises(StoreError, match=f"{newer}.*newer outdial"):
        SqliteStore(newer)
    changed = tmp_path / "changed.db"
    SqliteStore(changed).close()
    db = sqlite3.connect(changed)
    db.execute("ALTER TABLE attempts ADD COLUMN extra INTEGER")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match=f"{changed}.*different schema.*extra"):
        SqliteStore(changed)


@pytest.fixture
def pg(postgres_server: str, tmp_path: Path) -> Any:
    m = Maker("postgres", tmp_path, postgres_server)
    yield m
    m.cleanup()


def test_postgres_refuses_a_newer_schema_and_a_dead_server(pg):
    from engine.store_postgres import PostgresStore
    pg.open("v").close()
    import psycopg
    with psycopg.connect(pg.conninfo, autocommit=True) as db:
        db.execute(f'UPDATE "{pg.target("v")}".meta SET value = %s '
                   "WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(StoreError, match="newer outdial"):
        pg.open("v")
    with pytest.raises(StoreError, match="cannot connect") as err:
        PostgresStore(f"host=127.0.0.1 port={free_port()} user=x password=secret "
                      "connect_timeout=2")
    assert "secret" not in str(err.value)
    with pytest.raises(ValueError, match="identifier"):
        PostgresStore(pg.conninfo, schema='x"; DROP TABLE meta; --')


def test_postgres_names_the_extra_when_psycopg_is_missing(monkeypatch):
    from engine.store_postgres import PostgresStore
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(ImportError, match=r"pip install 'outdial\[postgres\]'"):
        PostgresStore("host=127.0.0.1")


# --- a killed writer loses nothing -------------------------------------------------------

_WRITER = textwrap.dedent("""
    import os, signal, sys
    from engine.attempt import Attempt
    kind, target, conninfo, mode = sys.argv[1:5]
    if kind == "sqlite":
        from engine.store_sqlite import SqliteStore
        store = SqliteStore(target)
    else:
        from engine.store_postgres import PostgresStore
        store = PostgresStore(conninfo, schema=target)
    def attempt(i, code):
        a = Attempt(i, 0, i, 0, float(i), contact_id=f"c{i}", job_name="j")
        a.code, a.t_end = code, i + 0.5
        return a
    if mode == "self":  # five started, four saved, killed as the fourth save returns
        store.set_meta("next_attempt_id", "6")
        store.set_job_state("j", "RUNNING", 0.0)
        for i in range(1, 6):
            store.attempt_started(attempt(i, 0))
        for i in range(1, 5):
            store.save_attempt(attempt(i, 1))
        os.kill(os.getpid(), signal.SIGKILL)
    for i in range(1, 1_000_000):  # until the parent kills it
        store.attempt_started(attempt(i, 0))
        print("s", i, flush=True)
        store.save_attempt(attempt(i, 1))
        print("f", i, flush=True)
""")


def _writer(m: Maker, mode: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _WRITER, m.kind, m.target("w"),
                             m.conninfo or "", mode], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_killed_right_after_a_save_returns(persistent):
    child = _writer(persistent, "self")
    _, err = child.communicate(timeout=120)
    assert child.returncode == -signal.SIGKILL, err
    s = persistent.open("w")
    recs = s.attempts()
    assert [(r["attempt_id"], r["code"], r["t_end"]) for r in recs] == [
        (1, 1, 1.5), (2, 1, 2.5), (3, 1, 3.5), (4, 1, 4.5), (5, 0, 5.5)]
    assert [r["attempt_id"] for r in s.trapped()] == [5]
    assert s.get_meta("next_attempt_id") == "6" and s.job_states() == {"j": "RUNNING"}


def test_killed_mid_stream_keeps_every_returned_write(persistent):
    child = _writer(persistent, "stream")
    started: set[int] = set()
    finished: set[int] = set()
    assert child.stdout is not None
    for line in child.stdout:
        what, i = line.split()
        (started if what == "s" else finished).add(int(i))
        if len(finished) == 60:
            break
    os.kill(child.pid, signal.SIGKILL)  # mid-write, most likely
    child.communicate(timeout=60)
    s = persistent.open("w")
    recs = {r["attempt_id"]: r for r in s.attempts()}
    assert started <= set(recs)
    assert all(recs[i]["code"] == 1 for i in finished)
    trapped = [r["attempt_id"] for r in s.trapped()]
    assert len(trapped) <= 1 and set(trapped) <= set(recs) - finished
    assert sorted(recs) == list(range(1, len(recs) + 1))


def test_postgres_one_writer_per_schema_and_outbox_in_the_record_transaction(pg):
    from engine.store_postgres import PostgresStore
    from engine.store_schema import StoreBusy
    schema = pg.target("w")
    first = PostgresStore(pg.conninfo, schema=schema, exclusive=True)
    try:
        with pytest.raises(StoreBusy, match="in use by another outdial run"):
            PostgresStore(pg.conninfo, schema=schema, exclusive=True)
        other = PostgresStore(pg.conninfo, schema=pg.target("w2"), exclusive=True)
        other.close()  # another schema is another store
        a = Attempt(1, 0, 1, 0, 0.0, contact_id="c1", address="5", job_name="j")
        with pytest.raises(RuntimeError), first.transaction():
            first.attempt_started(a)
            first.add_event("t", {"n": 1})
            raise RuntimeError("crash inside")
        with first.transaction():
            first.attempt_started(a)
            first.add_event("t", {"n": 2})
        assert [e for _, _, e in first.unpublished()] == [{"n": 2}]
        assert [r["attempt_id"] for r in first.attempts()] == [1]
    finally:
        first.close()
    PostgresStore(pg.conninfo, schema=schema, exclusive=True).close()  # released


def test_a_lost_postgres_connection_says_the_store_keeps_what_was_committed():
    psycopg = pytest.importorskip("psycopg")
    from engine.store_postgres import PostgresStore

    st = object.__new__(PostgresStore)  # the message only: no server needed
    st.where, st._psycopg = "PostgreSQL db at h:5432, schema current", psycopg
    st._conninfo_for_scrub = "host=h password=s3cret"
    for e in (psycopg.OperationalError("terminating connection due to administrator "
                                       "command"),
              psycopg.OperationalError("the connection is closed")):
        msg = st.explain(e)
        assert msg.startswith("PostgreSQL db at h:5432, schema current: lost the connection")
        assert "run again once the server is back to resume" in msg and "s3cret" not in msg
    other = st.explain(psycopg.errors.UniqueViolation("duplicate key s3cret"))
    assert "PostgreSQL error (duplicate key ***)" in other and "lost" not in other


def test_a_schema_2_store_is_migrated_with_its_records(persistent):
    # a store an earlier outdial wrote (schema 2: no call_sessions table) opens, keeps its
    # records and takes call sessions (PostgreSQL refused it: "tables are missing")
    s = persistent.open("old")
    s.attempt_started(attempt(1))
    s.close()
    if persistent.kind == "sqlite":
        db = sqlite3.connect(persistent.target("old"))
        db.execute("DROP TABLE call_sessions")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
        db.commit()
        db.close()
    else:
        import psycopg
        schema = persistent.target("old")
        with psycopg.connect(persistent.conninfo, autocommit=True) as db:
            db.execute(f'DROP TABLE "{schema}".call_sessions')
            db.execute(f"UPDATE \"{schema}\".meta SET value = '2' "
                       "WHERE key = 'schema_version'")
    again = persistent.open("old")
    assert [r["attempt_id"] for r in again.trapped()] == [1]
    assert again.get_meta("schema_version") == str(SCHEMA_VERSION)
    again.call_session(1, "EPM-1")
    assert again.call_sessions() == {1: "EPM-1"}

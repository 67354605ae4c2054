"""What the SQL stores share: the schema (from ``ATTEMPT_COLUMNS``), its version, row
conversion, the error raised for a store that cannot be opened or is not ours, and the
``SqlStore`` base that runs the protocol's statements on a DB-API connection.

Tables: ``attempts`` (one row per attempt, ``attempt_id`` primary key), ``job_states``
(last state per job name), ``meta`` (key/value text, holding ``schema_version``) and
``outbox`` (the engine's events, in order, written in the same transaction as the attempt
record they belong to and published after; ``meta.outbox_published`` is the last ``seq``
handed to the sink) and ``call_sessions`` (the platform's session id of each attempt whose
launch it answered, kept until the session is seen to end: a restart after a crash hangs
up, or takes the result of, what the platform still has; ``adapters.epm.orphans``) and
``dispositions`` (the agents' dispositions of their calls and what became of each, a JSON
record per attempt: ``engine.dispositions``).

Every driver error is turned into one ``StoreError`` naming the store and what to do
(disk full, damaged file, lost server), never a traceback; a transaction that failed
leaves the store as it was before it, so nothing recorded earlier is lost.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from engine.attempt import ATTEMPT_COLUMNS, ATTEMPT_FIELDS, CODE_INDEX, Attempt
from engine.store_writer import Op, WriteBehind

SCHEMA_VERSION = 4
"""Bumped whenever a table or column changes; a store refuses a newer version and
migrates an older one it knows (1 -> 2: the outbox table added; 2 -> 3: call_sessions;
3 -> 4: dispositions)."""

TABLES = ("attempts", "job_states", "meta", "outbox", "call_sessions", "dispositions")
OUTBOX_MARK = "outbox_published"
BOOL_FIELDS = frozenset(name for name, sql, _ in ATTEMPT_COLUMNS if sql == "BOOLEAN")
_BOOL_INDEX = tuple(i for i, f in enumerate(ATTEMPT_FIELDS) if f in BOOL_FIELDS)

# ATTEMPT_COLUMNS' generic SQL types per dialect.
_TYPES = {
    "sqlite": {"INTEGER": "INTEGER", "TEXT": "TEXT", "BOOLEAN": "BOOLEAN", "REAL": "REAL",
               "SERIAL": "INTEGER PRIMARY KEY AUTOINCREMENT"},
    "postgres": {"INTEGER": "BIGINT", "TEXT": "TEXT", "BOOLEAN": "BOOLEAN",
                 "REAL": "DOUBLE PRECISION", "SERIAL": "BIGSERIAL PRIMARY KEY"},
}


class StoreError(RuntimeError):
    """A store that cannot be opened, is not an outdial store, or has another schema."""


class StoreBusy(StoreError):
    """Another process holds the store (one writer per store)."""


def create_statements(dialect: str, prefix: str = "") -> list[str]:
    """``CREATE TABLE IF NOT EXISTS`` statements for the three tables (``prefix``: e.g.
    ``"myschema."``, already quoted)."""
    types = _TYPES[dialect]
    real = types["REAL"]
    cols = ", ".join(
        f"{name} {types[sql]} NOT NULL" + (" PRIMARY KEY" if name == "attempt_id" else "")
        for name, sql, _ in ATTEMPT_COLUMNS)
    return [
        f"CREATE TABLE IF NOT EXISTS {prefix}attempts ({cols})",
        # Partial: only in-flight rows, so the trapped() scan costs nothing per result.
        f"CREATE INDEX IF NOT EXISTS attempts_pending ON {prefix}attempts (attempt_id) "
        "WHERE code = 0",
        f"CREATE TABLE IF NOT EXISTS {prefix}job_states "
        f"(job TEXT PRIMARY KEY, state TEXT NOT NULL, at_s {real} NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {prefix}meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {prefix}outbox (seq {types['SERIAL']}, "
        "topic TEXT NOT NULL, event TEXT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {prefix}call_sessions "
        f"(attempt_id {types['INTEGER']} PRIMARY KEY, session_id TEXT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {prefix}dispositions "
        f"(attempt_id {types['INTEGER']} PRIMARY KEY, record TEXT NOT NULL)",
    ]


def statements(ph: str, prefix: str = "") -> dict[str, str]:
    """The DML every SQL store runs, with placeholder ``ph`` (``?`` or ``%s``)."""
    cols = ", ".join(ATTEMPT_FIELDS)
    marks = ", ".join([ph] * len(ATTEMPT_FIELDS))
    updates = ", ".join(f"{f} = excluded.{f}" for f in ATTEMPT_FIELDS if f != "attempt_id")
    t = f"{prefix}attempts"
    return {
        "started": f"INSERT INTO {t} ({cols}) VALUES ({marks})",
        "save": f"INSERT INTO {t} ({cols}) VALUES ({marks}) "
                f"ON CONFLICT (attempt_id) DO UPDATE SET {updates}",
        "all": f"SELECT {cols} FROM {t} ORDER BY attempt_id",
        "job": f"SELECT {cols} FROM {t} WHERE job_name = {ph} ORDER BY attempt_id",
        "since": f"SELECT {cols} FROM {t} WHERE attempt_id >= {ph} ORDER BY attempt_id",
        "job_since": f"SELECT {cols} FROM {t} WHERE job_name = {ph} AND attempt_id >= {ph} "
                     "ORDER BY attempt_id",
        "trapped": f"SELECT {cols} FROM {t} WHERE code = 0 ORDER BY attempt_id",
        "code_of": f"SELECT code FROM {t} WHERE attempt_id = {ph}",
        "recode": f"UPDATE {t} SET code = {ph}, t_end = {ph} "
                  f"WHERE attempt_id = {ph} AND code = 0",
        "set_state": f"INSERT INTO {prefix}job_states (job, state, at_s) "
                     f"VALUES ({ph}, {ph}, {ph}) ON CONFLICT (job) DO UPDATE "
                     f"SET state = excluded.state, at_s = excluded.at_s",
        "states": f"SELECT job, state FROM {prefix}job_states ORDER BY job",
        "set_meta": f"INSERT INTO {prefix}meta (key, value) VALUES ({ph}, {ph}) "
                    f"ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        "get_meta": f"SELECT value FROM {prefix}meta WHERE key = {ph}",
        "outbox_add": f"INSERT INTO {prefix}outbox (topic, event) VALUES ({ph}, {ph})",
        "outbox_after": f"SELECT seq, topic, event FROM {prefix}outbox WHERE seq > {ph} "
                        f"ORDER BY seq LIMIT {ph}",
        "outbox_last": f"SELECT COALESCE(MAX(seq), 0) FROM {prefix}outbox",
        "outbox_prune": f"DELETE FROM {prefix}outbox WHERE seq <= {ph}",
        "session_add": f"INSERT INTO {prefix}call_sessions (attempt_id, session_id) "
                       f"VALUES ({ph}, {ph}) ON CONFLICT (attempt_id) DO UPDATE "
                       "SET session_id = excluded.session_id",
        "sessions": f"SELECT attempt_id, session_id FROM {prefix}call_sessions "
                    "ORDER BY attempt_id",
        "session_del": f"DELETE FROM {prefix}call_sessions WHERE attempt_id = {ph}",
        "sessions_del": f"DELETE FROM {prefix}call_sessions",
        "one": f"SELECT {cols} FROM {t} WHERE attempt_id = {ph}",
        "disp_put": f"INSERT INTO {prefix}dispositions (attempt_id, record) "
                    f"VALUES ({ph}, {ph}) ON CONFLICT (attempt_id) DO UPDATE "
                    "SET record = excluded.record",
        "disp_all": f"SELECT attempt_id, record FROM {prefix}dispositions "
                    "ORDER BY attempt_id",
    }


def attempt_row(a: Attempt, code: int | None = None) -> tuple:
    """The attempt's values in ``ATTEMPT_FIELDS`` order (``code`` overrides its code)."""
    row = a.plain_row()
    return row if code is None else (*row[:CODE_INDEX], int(code), *row[CODE_INDEX + 1:])


def row_record(row: tuple) -> dict[str, Any]:
    """A stored row (``ATTEMPT_FIELDS`` order) as a record, booleans as ``bool``."""
    rec = dict(zip(ATTEMPT_FIELDS, row, strict=True))
    for i in _BOOL_INDEX:
        f = ATTEMPT_FIELDS[i]
        rec[f] = bool(rec[f])
    return rec


def check_version(found: str | None, where: str) -> int:
    """The version ``found`` if this outdial reads it (this ``SCHEMA_VERSION`` or an older
    one it migrates); else raise ``StoreError`` naming ``where``."""
    if found is None:
        raise StoreError(f"{where}: has outdial tables but no schema_version in its meta "
                         "table; not an outdial store (or a damaged one)")
    try:
        v = int(found)
    except ValueError:
        raise StoreError(f"{where}: schema_version {found!r} is not a number") from None
    if v > SCHEMA_VERSION:
        raise StoreError(f"{where}: schema version {v} was written by a newer outdial "
                         f"(this one reads version {SCHEMA_VERSION}); upgrade outdial")
    if v < 1:
        raise StoreError(f"{where}: schema version {v} is not one outdial ever wrote")
    return v


def check_columns(found: list[str], table: str, expected: list[str], where: str) -> None:
    """Raise ``StoreError`` unless ``table`` has exactly the ``expected`` columns."""
    if sorted(found) != sorted(expected):
        missing = sorted(set(expected) - set(found))
        extra = sorted(set(found) - set(expected))
        raise StoreError(f"{where}: table {table} has a different schema "
                         f"(missing columns {missing}, unexpected {extra})")


class SqlStore:
    """The ``engine.interfaces.Store`` calls as SQL statements on one DB-API connection.

    A subclass opens ``_db`` (autocommit: each statement commits before it returns), sets
    ``where`` (the store named in messages), ``_sql`` (``statements`` for its placeholder),
    ``_duplicate`` (its driver's unique-violation exception), ``_driver_error`` (its
    driver's base exception) and ``_begin`` (the statement opening a write transaction),
    and closes it. ``transaction()`` groups calls into one commit.
    """

    where: str
    _db: Any
    _sql: dict[str, str]
    _duplicate: type[Exception]
    _driver_error: type[Exception] = Exception
    _begin = "BEGIN"
    durable = True  # the dialer writes each record with its events in one transaction

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._depth = 0  # open transaction() levels
        self._published: int | None = None
        # write-behind (``write_behind``): the writer, the loop's open unit and its depth,
        # and the connection the loop reads through meanwhile
        self._wb: WriteBehind | None = None
        self._unit: list[Op] | None = None
        self._unit_depth = 0
        self._rdb: Any = None

    # ---- write-behind

    def write_behind(self, call_soon: Callable[[Callable[[], None]], Any],
                     on_error: Callable[[BaseException], None]) -> WriteBehind:
        """From now on the writes made on this thread (the event loop's) are queued and
        made by a writer thread in their order (``engine.store_writer``); reads go
        through a connection of their own. ``call_soon`` runs a callable on this thread
        (``loop.call_soon_threadsafe``); ``on_error`` gets a write's failure there."""
        if self._wb is not None:
            return self._wb
        self._rdb = self._reader()
        self._wb = WriteBehind(self, call_soon, on_error)
        return self._wb

    def _reader(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no write-behind")

    def stop_write_behind(self) -> None:
        """Commit what is queued and write on this thread again (idempotent)."""
        wb, self._wb = self._wb, None
        if wb is None:
            return
        wb.close()
        if self._rdb is not None:
            with contextlib.suppress(Exception):
                self._rdb.close()
            self._rdb = None

    def close(self) -> None:
        """Commit what write-behind has queued and close the store (idempotent)."""
        with contextlib.suppress(Exception):  # (a failed writer: what it holds is lost,
            self.stop_write_behind()           # as a crash's; the error was said)
        with self._lock:
            self._close_connection()

    def _close_connection(self) -> None:
        """Close ``_db`` (called under the lock, write-behind stopped; idempotent)."""
        raise NotImplementedError

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` once what was written so far is committed: at once without
        write-behind (every write committed before it returned), else on the loop when
        the writer has committed it."""
        if self._wb is None or not self._queued():
            fn()
        else:
            self._wb.after_commit(fn)

    def flush(self) -> None:
        """Wait until the writes queued so far are committed (no-op without write-behind)."""
        if self._wb is not None and self._queued():
            self._wb.flush()

    def _queued(self) -> bool:
        """Whether writes made on this thread are queued (write-behind, not its writer)."""
        return self._wb is not None and threading.get_ident() != self._wb.ident

    def _w(self, key: str, params: Sequence[Any] = (), many: bool = False) -> None:
        """A write: made now, or queued (write-behind) in the open unit or as one."""
        if not self._queued():
            if many:
                with self._lock, self._guard():
                    self._db.cursor().executemany(self._sql[key], params)
                return
            self._exec(key, params)
            return
        op = ("many" if many else "x", key, tuple(params) if not many else list(params))
        if self._unit is not None:
            self._unit.append(op)
        else:
            self._wb.submit([op])

    def write_units(self, units: list[list[Op]]) -> None:
        """The writer's part: ``units`` written in order in one transaction and committed;
        ``StoreError`` (nothing of them written) on a failure."""
        with self._lock:
            with self._guard():
                self._db.execute(self._begin)
            try:
                with self._guard():
                    for ops in units:
                        for kind, key, params in ops:
                            if kind == "many":
                                self._db.cursor().executemany(self._sql[key], params)
                            else:
                                self._db.execute(self._sql[key], params)
                    self._db.execute("COMMIT")
            except BaseException as e:
                with contextlib.suppress(Exception):
                    self._db.execute("ROLLBACK")
                if isinstance(e, StoreError):
                    raise
                raise StoreError(self.explain(e)) from None

    def _rlock(self) -> contextlib.AbstractContextManager[Any]:
        """What a read holds: the store's lock, or nothing on the loop under write-behind
        (its reader connection is its own; holding the lock there would wait for the
        writer's sync, and a flush inside it for the writer, which needs the lock)."""
        return contextlib.nullcontext() if self._queued() else self._lock

    def _read(self, key: str, params: Sequence[Any] = (), fresh: bool = True) -> Any:
        """A read: on the loop under write-behind, through the reader connection (after
        the queued writes are committed when ``fresh``); else as ``_exec``."""
        if not self._queued():
            return self._exec(key, params)
        if fresh:
            self._wb.flush()
        with self._guard():
            return self._rdb.execute(self._sql[key], tuple(params))

    # ---- errors and transactions

    def explain(self, e: Exception) -> str:
        """A driver error as one sentence saying what to do (no secrets)."""
        return f"{self.where}: store error ({type(e).__name__}: {str(e).strip()})"

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except StoreError:
            raise
        except self._duplicate:
            raise
        except self._driver_error as e:
            raise StoreError(self.explain(e)) from None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything written inside commits together (or not at all, if it raises).

        Nested calls join the outer transaction. Under write-behind, on the loop, the
        writes made inside are queued as one unit when the outermost one ends (none if
        it raises)."""
        if self._queued():
            if self._unit_depth:
                self._unit_depth += 1
                try:
                    yield
                finally:
                    self._unit_depth -= 1
                return
            self._unit, self._unit_depth = [], 1
            try:
                yield
            except BaseException:
                self._unit, self._unit_depth = None, 0
                raise
            unit, self._unit, self._unit_depth = self._unit, None, 0
            self._wb.submit(unit)
            return
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            with self._guard():
                self._db.execute(self._begin)
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                with contextlib.suppress(Exception):
                    self._db.execute("ROLLBACK")
                raise
            self._depth = 0
            try:
                with self._guard():
                    self._db.execute("COMMIT")
            except StoreError:
                with contextlib.suppress(Exception):
                    self._db.execute("ROLLBACK")
                raise

    def _exec(self, key: str, params: Sequence[Any] = ()) -> Any:
        with self._lock, self._guard():
            return self._db.execute(self._sql[key], tuple(params))

    # ---- attempts

    def attempt_started(self, a: Attempt) -> None:
        """Insert the attempt with code PENDING; committed on return (or with the
        enclosing ``transaction``)."""
        try:
            self._w("started", attempt_row(a, 0))
        except self._duplicate as e:
            raise ValueError(f"attempt {a.id} is already recorded in {self.where}") from e

    def save_attempt(self, a: Attempt) -> None:
        """Insert or update the attempt's result; committed on return."""
        self._w("save", attempt_row(a))

    def attempts(self, job: str | None = None, since_id: int = 0) -> list[dict[str, Any]]:
        """Every recorded attempt by ``attempt_id``; only job ``job``'s (by name) if given,
        only those from ``attempt_id`` ``since_id`` on if given (e.g. one run's)."""
        with self._rlock():
            if job is None:
                rows = (self._read("since", (since_id,)) if since_id
                        else self._read("all")).fetchall()
            else:
                rows = (self._read("job_since", (job, since_id)) if since_id
                        else self._read("job", (job,))).fetchall()
        return [row_record(r) for r in rows]

    def trapped(self) -> list[dict[str, Any]]:
        """Attempts started and never finished (code PENDING), by ``attempt_id``."""
        return [row_record(r) for r in self._read("trapped").fetchall()]

    def recode(self, attempt_id: int, code: int, t_end: float) -> None:
        """Finish a trapped attempt with ``code`` at ``t_end`` (s); committed on return."""
        self.flush()
        with self._lock:
            cur = self._exec("recode", (int(code), float(t_end), attempt_id))
            if cur.rowcount == 1:
                return
            row = self._exec("code_of", (attempt_id,)).fetchone()
        if row is None:
            raise KeyError(f"attempt {attempt_id} is not recorded in {self.where}")
        raise ValueError(f"attempt {attempt_id} already has result code {row[0]}; "
                         "only trapped attempts are recoded")

    def set_job_state(self, job: str, state: str, at_s: float) -> None:
        """Remember job ``job``'s state since ``at_s`` (run clock, s); committed on return."""
        self._w("set_state", (job, state, float(at_s)))

    def job_states(self) -> dict[str, str]:
        """Last recorded state per job name."""
        with self._rlock():
            return dict(self._read("states").fetchall())

    def set_meta(self, key: str, value: str) -> None:
        """Remember one engine setting; committed on return."""
        self._w("set_meta", (key, value))

    def get_meta(self, key: str) -> str | None:
        """A setting stored by ``set_meta``, or None."""
        row = self._read("get_meta", (key,)).fetchone()
        return None if row is None else row[0]

    # ---- the event outbox

    def add_event(self, topic: str, event: dict[str, Any]) -> None:
        """Append an event to the outbox (in the enclosing ``transaction``, if any)."""
        self._w("outbox_add", (topic, json.dumps(event, separators=(",", ":"))))

    def unpublished(self, limit: int = 1000) -> list[tuple[int, str, dict[str, Any]]]:
        """Up to ``limit`` outbox events not yet published: ``(seq, topic, event)``, in order."""
        with self._rlock():
            rows = self._read("outbox_after", (self.published_seq(), int(limit)),
                              fresh=False).fetchall()
        return [(int(seq), topic, json.loads(text)) for seq, topic, text in rows]

    def published_seq(self) -> int:
        """The last outbox ``seq`` marked published (0: none)."""
        with self._rlock():
            if self._published is None:
                v = self.get_meta(OUTBOX_MARK)
                self._published = int(v) if v is not None else 0
            return self._published

    def mark_published(self, seq: int) -> None:
        """Every outbox event up to ``seq`` reached the sink; published rows are pruned."""
        with self.transaction():
            self.set_meta(OUTBOX_MARK, str(int(seq)))
            self._w("outbox_prune", (int(seq),))
        self._published = int(seq)

    def outbox_size(self) -> tuple[int, int]:
        """(events ever written, events not yet published)."""
        last = int(self._read("outbox_last", fresh=False).fetchone()[0])
        done = self.published_seq()
        return max(last, done), max(last - done, 0)

    # ---- the platform's call sessions

    def call_session(self, attempt_id: int, session_id: str) -> None:
        """Remember attempt ``attempt_id``'s session id on the platform; committed on
        return (or with the enclosing ``transaction``)."""
        self._w("session_add", (int(attempt_id), str(session_id)))

    def call_sessions(self) -> dict[int, str]:
        """Every remembered session id by attempt id (sessions not yet seen to end)."""
        with self._rlock():
            return {int(a): s for a, s in self._read("sessions").fetchall()}

    def forget_call_sessions(self, attempt_ids: Sequence[int] | None = None) -> None:
        """Forget the sessions of ``attempt_ids`` (None: all), in one commit."""
        with self.transaction():
            if attempt_ids is None:
                self._w("sessions_del")
                return
            self._w("session_del", [(int(i),) for i in attempt_ids], many=True)

    def attempt(self, attempt_id: int) -> dict[str, Any] | None:
        """The record of attempt ``attempt_id`` (finished or trapped), or None."""
        row = self._read("one", (int(attempt_id),)).fetchone()
        return None if row is None else row_record(row)

    # ---- the agents' dispositions

    def put_disposition(self, attempt_id: int, record: dict[str, Any]) -> None:
        """Keep (insert or replace) the disposition record of attempt ``attempt_id``;
        committed on return (or with the enclosing ``transaction``)."""
        self._w("disp_put", (int(attempt_id), json.dumps(record, separators=(",", ":"))))

    def dispositions(self) -> dict[int, dict[str, Any]]:
        """Every disposition record by attempt id."""
        with self._rlock():
            rows = self._read("disp_all").fetchall()
        return {int(a): json.loads(text) for a, text in rows}

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()  # type: ignore[attr-defined]  (each subclass closes its connection)

"""What the SQL stores share: the schema (from ``ATTEMPT_COLUMNS``), its version, row
conversion, the error raised for a store that cannot be opened or is not ours, and the
``SqlStore`` base that runs the protocol's statements on a DB-API connection.

Tables: ``attempts`` (one row per attempt, ``attempt_id`` primary key), ``job_states``
(last state per job name) and ``meta`` (key/value text, holding ``schema_version``).
"""

from __future__ import annotations

import threading
from typing import Any

from engine.attempt import ATTEMPT_COLUMNS, ATTEMPT_FIELDS, CODE_INDEX, Attempt

SCHEMA_VERSION = 1
"""Bumped whenever a table or column changes; a store refuses any other version."""

TABLES = ("attempts", "job_states", "meta")
BOOL_FIELDS = frozenset(name for name, sql, _ in ATTEMPT_COLUMNS if sql == "BOOLEAN")
_BOOL_INDEX = tuple(i for i, f in enumerate(ATTEMPT_FIELDS) if f in BOOL_FIELDS)

# ATTEMPT_COLUMNS' generic SQL types per dialect.
_TYPES = {
    "sqlite": {"INTEGER": "INTEGER", "TEXT": "TEXT", "BOOLEAN": "BOOLEAN", "REAL": "REAL"},
    "postgres": {"INTEGER": "BIGINT", "TEXT": "TEXT", "BOOLEAN": "BOOLEAN",
                 "REAL": "DOUBLE PRECISION"},
}


class StoreError(RuntimeError):
    """A store that cannot be opened, is not an outdial store, or has another schema."""


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


def check_version(found: str | None, where: str) -> None:
    """Raise ``StoreError`` naming ``where`` unless ``found`` is this ``SCHEMA_VERSION``."""
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
    if v != SCHEMA_VERSION:
        raise StoreError(f"{where}: schema version {v} is older than this outdial's "
                         f"{SCHEMA_VERSION}; migrate it or start a new store")


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
    ``where`` (the store named in messages), ``_sql`` (``statements`` for its placeholder)
    and ``_duplicate`` (its driver's unique-violation exception), and closes it.
    """

    where: str
    _db: Any
    _sql: dict[str, str]
    _duplicate: type[Exception]

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def attempt_started(self, a: Attempt) -> None:
        """Insert the attempt with code PENDING; committed on return."""
        try:
            with self._lock:
                self._db.execute(self._sql["started"], attempt_row(a, 0))
        except self._duplicate as e:
            raise ValueError(f"attempt {a.id} is already recorded in {self.where}") from e

    def save_attempt(self, a: Attempt) -> None:
        """Insert or update the attempt's result; committed on return."""
        with self._lock:
            self._db.execute(self._sql["save"], attempt_row(a))

    def attempts(self, job: str | None = None) -> list[dict[str, Any]]:
        """Every recorded attempt by ``attempt_id``; only job ``job``'s (by name) if given."""
        with self._lock:
            if job is None:
                rows = self._db.execute(self._sql["all"]).fetchall()
            else:
                rows = self._db.execute(self._sql["job"], (job,)).fetchall()
        return [row_record(r) for r in rows]

    def trapped(self) -> list[dict[str, Any]]:
        """Attempts started and never finished (code PENDING), by ``attempt_id``."""
        with self._lock:
            rows = self._db.execute(self._sql["trapped"]).fetchall()
        return [row_record(r) for r in rows]

    def recode(self, attempt_id: int, code: int, t_end: float) -> None:
        """Finish a trapped attempt with ``code`` at ``t_end`` (s); committed on return."""
        with self._lock:
            cur = self._db.execute(self._sql["recode"], (int(code), float(t_end), attempt_id))
            if cur.rowcount == 1:
                return
            row = self._db.execute(self._sql["code_of"], (attempt_id,)).fetchone()
        if row is None:
            raise KeyError(f"attempt {attempt_id} is not recorded in {self.where}")
        raise ValueError(f"attempt {attempt_id} already has result code {row[0]}; "
                         "only trapped attempts are recoded")

    def set_job_state(self, job: str, state: str, at_s: float) -> None:
        """Remember job ``job``'s state since ``at_s`` (run clock, s); committed on return."""
        with self._lock:
            self._db.execute(self._sql["set_state"], (job, state, float(at_s)))

    def job_states(self) -> dict[str, str]:
        """Last recorded state per job name."""
        with self._lock:
            return dict(self._db.execute(self._sql["states"]).fetchall())

    def set_meta(self, key: str, value: str) -> None:
        """Remember one engine setting; committed on return."""
        with self._lock:
            self._db.execute(self._sql["set_meta"], (key, value))

    def get_meta(self, key: str) -> str | None:
        """A setting stored by ``set_meta``, or None."""
        with self._lock:
            row = self._db.execute(self._sql["get_meta"], (key,)).fetchone()
        return None if row is None else row[0]

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()  # type: ignore[attr-defined]  (each subclass closes its connection)

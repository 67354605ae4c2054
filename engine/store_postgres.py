"""The PostgreSQL store (psycopg 3), for sites that run one.

Same tables and behaviour as ``SqliteStore``: every call commits before it returns
(``synchronous_commit`` on, so the server has the record on disk), and a restart finds the
trapped attempts. An optional ``schema`` keeps a run's tables apart from another's in the
same database. psycopg is imported only when a store is opened; install it with
``pip install 'outdial[postgres]'``.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from engine.attempt import ATTEMPT_FIELDS, Attempt
from engine.store_schema import (
    SCHEMA_VERSION,
    TABLES,
    StoreError,
    attempt_row,
    check_columns,
    check_version,
    create_statements,
    row_record,
    statements,
)

_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}\Z")


def _import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError as e:
        raise ImportError("PostgresStore needs psycopg 3, which is not installed: "
                          "pip install 'outdial[postgres]'") from e
    return psycopg


def _safe_conninfo(conninfo: str) -> str:
    """The connection string without its password, for error messages."""
    return re.sub(r"(password\s*=\s*)('[^']*'|\S+)|(://[^:/@]+:)[^@]*@", _mask, conninfo)


def _mask(m: re.Match[str]) -> str:
    return f"{m.group(1)}***" if m.group(1) else f"{m.group(3)}***@"


class PostgresStore:
    """The ``engine.interfaces.Store`` protocol over one PostgreSQL connection.

    ``conninfo`` is a libpq connection string or URL. ``schema`` (a plain identifier:
    letters, digits, ``_``) holds the tables, created with them if absent; None uses the
    connection's current schema (usually ``public``). Safe to share between threads.

    Raises ``StoreError`` when the server cannot be reached or the tables are not an
    outdial store of this schema version, ``ImportError`` when psycopg is missing.
    """

    def __init__(self, conninfo: str, schema: str | None = None):
        psycopg = _import_psycopg()
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise ValueError(f"schema must be a plain identifier (letters, digits, _), "
                             f"not {schema!r}")
        self.schema = schema
        self._psycopg = psycopg
        self._lock = threading.Lock()
        try:
            self._db = psycopg.connect(conninfo, autocommit=True)
        except psycopg.Error as e:
            raise StoreError(f"PostgreSQL {_safe_conninfo(conninfo)!r}: cannot connect "
                             f"({str(e).strip()})") from e
        info = self._db.info
        self.where = (f"PostgreSQL {info.dbname} at {info.host}:{info.port}"
                      f", schema {schema or 'current'}")
        try:
            self._db.execute("SET synchronous_commit = on")
            prefix = self._setup(schema)
        except psycopg.Error as e:
            self._db.close()
            raise StoreError(f"{self.where}: cannot use as a store ({str(e).strip()})") from e
        except StoreError:
            self._db.close()
            raise
        self._sql = statements("%s", prefix)

    def _setup(self, schema: str | None) -> str:
        db = self._db
        sql = self._psycopg.sql
        prefix = ""
        with db.transaction():
            # One creator at a time: concurrent CREATE ... IF NOT EXISTS can still collide.
            db.execute("SELECT pg_advisory_xact_lock(hashtext('outdial.store'))")
            if schema is not None:
                db.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                    sql.Identifier(schema)))
                prefix = sql.Identifier(schema).as_string(db) + "."
            where_schema = schema or db.execute("SELECT current_schema()").fetchone()[0]
            if where_schema is None:
                raise StoreError(f"{self.where}: no current schema to create tables in "
                                 "(empty search_path); pass schema=")
            rows = db.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = ANY(%s)",
                (where_schema, list(TABLES))).fetchall()
            cols: dict[str, list[str]] = {}
            for table, col in rows:
                cols.setdefault(table, []).append(col)
            if not cols:
                for stmt in create_statements("postgres", prefix):
                    db.execute(stmt)
                db.execute(f"INSERT INTO {prefix}meta (key, value) "
                           "VALUES ('schema_version', %s)", (str(SCHEMA_VERSION),))
                return prefix
            if "meta" not in cols:
                raise StoreError(f"{self.where}: has tables {sorted(cols)} but no meta table; "
                                 "not an outdial store")
            row = db.execute(f"SELECT value FROM {prefix}meta "
                             "WHERE key = 'schema_version'").fetchone()
            check_version(None if row is None else row[0], self.where)
            missing = set(TABLES) - set(cols)
            if missing:
                raise StoreError(f"{self.where}: tables {sorted(missing)} are missing")
            check_columns(cols["attempts"], "attempts", list(ATTEMPT_FIELDS), self.where)
        return prefix

    def attempt_started(self, a: Attempt) -> None:
        """Insert the attempt with code PENDING; committed on return."""
        try:
            with self._lock:
                self._db.execute(self._sql["started"], attempt_row(a, 0))
        except self._psycopg.errors.UniqueViolation as e:
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

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresStore({self.where!r})"

"""The PostgreSQL store (psycopg 3), for sites that run one.

Same tables and behaviour as ``SqliteStore``: every call commits before it returns
(``synchronous_commit`` on, so the server has the record on disk), and a restart finds the
trapped attempts. An optional ``schema`` keeps a run's tables apart from another's in the
same database. psycopg is imported only when a store is opened; install it with
``pip install 'outdial[postgres]'``.
"""

from __future__ import annotations

import os
import re
import urllib.parse
import zlib
from typing import Any

from engine.attempt import ATTEMPT_FIELDS
from engine.store_schema import (
    SCHEMA_VERSION,
    TABLES,
    SqlStore,
    StoreBusy,
    StoreError,
    check_columns,
    check_version,
    create_statements,
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
    masked = re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)|(://[^:/@]+:)[^@]*@",
                    _mask, conninfo)
    return scrub(masked, conninfo)


def _secrets(conninfo: str) -> list[str]:
    """The password(s) a connection string carries, in every spelling a message may show
    (as given, URL-encoded, URL-decoded), longest first."""
    found: set[str] = set()
    try:
        from psycopg.conninfo import conninfo_to_dict
        pw = conninfo_to_dict(conninfo).get("password")
        if pw:
            found.add(str(pw))
    except Exception:  # an unparsable string: fall back to the patterns below
        pass
    for m in re.finditer(r"password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", conninfo):
        v = m.group(1)
        found.add(v)
        if v.startswith("'") and v.endswith("'") and len(v) > 1:
            found.add(v[1:-1])
            found.add(re.sub(r"\\(.)", r"\1", v[1:-1]))
    m = re.search(r"://[^:/@]*:([^@]*)@", conninfo)
    if m:
        found.add(m.group(1))
    for v in list(found):
        found.add(urllib.parse.unquote(v))
        found.add(urllib.parse.quote(v, safe=""))
        found.add(urllib.parse.quote_plus(v, safe=""))
    env = os.environ.get("PGPASSWORD")
    if env:
        found.add(env)
    return sorted((v for v in found if len(v) >= 1), key=len, reverse=True)


def scrub(text: str, conninfo: str) -> str:
    """``text`` with every password ``conninfo`` (or PGPASSWORD) carries replaced by ***.

    psycopg's own error messages may quote the connection string; every message leaving
    this module goes through here."""
    for secret in _secrets(conninfo):
        text = text.replace(secret, "***")
    return text


def _mask(m: re.Match[str]) -> str:
    return f"{m.group(1)}***" if m.group(1) else f"{m.group(3)}***@"


class PostgresStore(SqlStore):
    """The ``engine.interfaces.Store`` protocol over one PostgreSQL connection.

    ``conninfo`` is a libpq connection string or URL. ``schema`` (a plain identifier:
    letters, digits, ``_``) holds the tables, created with them if absent; None uses the
    connection's current schema (usually ``public``). Safe to share between threads.

    Raises ``StoreError`` when the server cannot be reached or the tables are not an
    outdial store of this schema version, ``ImportError`` when psycopg is missing.
    """

    _begin = "BEGIN"

    def __init__(self, conninfo: str, schema: str | None = None, exclusive: bool = False):
        psycopg = _import_psycopg()
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise ValueError(f"schema must be a plain identifier (letters, digits, _), "
                             f"not {schema!r}")
        self.schema = schema
        super().__init__()
        self._psycopg = psycopg
        self._duplicate = psycopg.errors.UniqueViolation
        self._driver_error = psycopg.Error
        self._conninfo_for_scrub = conninfo
        try:
            from psycopg.conninfo import conninfo_to_dict
            conninfo_to_dict(conninfo)
        except Exception:
            # libpq's parse errors quote the text around the fault, which may be the
            # password: say what to fix without echoing any of it.
            raise StoreError("PostgreSQL: the connection string cannot be parsed (write "
                             "key='value' pairs, quoting values that hold spaces, quotes or "
                             "backslashes, or a postgresql:// URL with percent-encoded "
                             "user and password)") from None
        try:
            self._db = psycopg.connect(conninfo, autocommit=True)
        except psycopg.Error as e:
            raise StoreError(scrub(f"PostgreSQL {_safe_conninfo(conninfo)!r}: cannot connect "
                                   f"({str(e).strip()})", conninfo)) from None
        info = self._db.info
        self.where = (f"PostgreSQL {info.dbname} at {info.host}:{info.port}"
                      f", schema {schema or 'current'}")
        try:
            self._db.execute("SET synchronous_commit = on")
            prefix = self._setup(schema)
            if exclusive:
                self._take_writer_lock(schema)
        except psycopg.Error as e:
            self._db.close()
            raise StoreError(scrub(f"{self.where}: cannot use as a store ({str(e).strip()})",
                                   conninfo)) from None
        except StoreError:
            self._db.close()
            raise
        self._sql = statements("%s", prefix)

    def _take_writer_lock(self, schema: str | None) -> None:
        """A session advisory lock per (database, schema): held while the connection
        lives, released by the server when it ends (the process died or closed it)."""
        key = zlib.crc32(f"outdial.writer.{schema or ''}".encode()) - (1 << 31)
        got = self._db.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]
        if not got:
            holder = self._db.execute(
                "SELECT a.pid, a.client_addr, a.backend_start FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                "AND l.objid = (%s::bigint & 4294967295) LIMIT 1", (key,)).fetchone()
            who = (f"server backend pid {holder[0]}, since {holder[2]:%Y-%m-%d %H:%M:%S}"
                   if holder else "another connection")
            raise StoreBusy(f"{self.where}: the store is in use by another outdial run "
                            f"({who}); one run per store: stop that run first, or use "
                            "another schema")

    def explain(self, e: Exception) -> str:
        """psycopg's error, its text scrubbed of the password; a lost connection (the
        server restarted, stopped or failed over) says that the store keeps what was
        committed and a new run resumes."""
        text = str(e).strip()
        state = getattr(e, "sqlstate", None) or ""
        lost = state.startswith(("08", "57P")) or any(  # connection exception, shutdown
            k in text for k in ("terminating connection", "connection is closed",
                                "server closed the connection", "connection is lost"))
        if lost:
            return scrub(f"{self.where}: lost the connection to the PostgreSQL server "
                         f"({text}); what was committed is kept: run again once the server "
                         "is back to resume", self._conninfo_for_scrub)
        return scrub(f"{self.where}: PostgreSQL error ({text})", self._conninfo_for_scrub)

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
            if check_version(None if row is None else row[0], self.where) < SCHEMA_VERSION:
                for stmt in create_statements("postgres", prefix):  # adds what it lacks
                    db.execute(stmt)
                db.execute(f"UPDATE {prefix}meta SET value = %s WHERE key = 'schema_version'",
                           (str(SCHEMA_VERSION),))
                for table in TABLES:  # created just now (1 -> 2: outbox, 2 -> 3:
                    cols.setdefault(table, [])  # call_sessions, 3 -> 4: dispositions)
            missing = set(TABLES) - set(cols)
            if missing:
                raise StoreError(f"{self.where}: tables {sorted(missing)} are missing")
            check_columns(cols["attempts"], "attempts", list(ATTEMPT_FIELDS), self.where)
        return prefix

    def _reader(self) -> Any:
        """A connection of its own for the loop's reads under write-behind: read-only, it
        sees what is committed and never waits for the writer's commits."""
        psycopg = self._psycopg
        try:
            db = psycopg.connect(self._conninfo_for_scrub, autocommit=True)
        except psycopg.Error as e:
            raise StoreError(self.explain(e)) from None
        try:
            db.execute("SET default_transaction_read_only = on")
        except psycopg.Error as e:
            db.close()
            raise StoreError(self.explain(e)) from None
        return db

    def _close_connection(self) -> None:
        self._db.close()  # psycopg: closing a closed connection is a no-op

    def __repr__(self) -> str:
        return f"PostgresStore({self.where!r})"

"""The embedded SQLite store (stdlib ``sqlite3``), the default for live runs.

The file is in WAL mode and every call commits before it returns (``synchronous=FULL`` by
default: each commit is synced to disk), so a crash of the engine, or of the machine, loses
no attempt that was started or saved; reopening the file finds the trapped ones.
"""

from __future__ import annotations

import os
import sqlite3

from engine.attempt import ATTEMPT_FIELDS
from engine.store_schema import (
    SCHEMA_VERSION,
    TABLES,
    SqlStore,
    StoreError,
    check_columns,
    check_version,
    create_statements,
    statements,
)

_SYNC = ("OFF", "NORMAL", "FULL", "EXTRA")


class SqliteStore(SqlStore):
    """The ``engine.interfaces.Store`` protocol over one SQLite file in WAL mode.

    ``path`` is created with its tables if absent. ``synchronous`` is SQLite's setting:
    ``FULL`` (default) survives power loss; ``NORMAL`` survives a crash of the process
    only, for several times the write rate. Safe to share between threads (one lock).

    Raises ``StoreError`` naming the path when the file cannot be opened, is not a
    database, is not an outdial store, or has another schema version.
    """

    def __init__(self, path: str | os.PathLike[str], synchronous: str = "FULL"):
        super().__init__()
        self.path = self.where = os.fspath(path)
        self._duplicate = sqlite3.IntegrityError
        sync = synchronous.upper()
        if sync not in _SYNC:
            raise ValueError(f"synchronous must be one of {', '.join(_SYNC)}, "
                             f"not {synchronous!r}")
        try:
            # Autocommit (isolation_level=None): each statement is its own transaction,
            # committed before execute returns; multi-statement work uses BEGIN.
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0,
                                       check_same_thread=False)
        except sqlite3.Error as e:
            raise StoreError(f"{self.path}: cannot open the SQLite store ({e})") from e
        try:
            self._setup(sync)
        except sqlite3.Error as e:
            self._db.close()
            raise StoreError(f"{self.path}: cannot use as an SQLite store ({e})") from e
        except StoreError:
            self._db.close()
            raise
        self._sql = statements("?")

    def _setup(self, sync: str) -> None:
        db = self._db
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.path}: SQLite refused WAL mode (journal_mode is {mode}); "
                             "is it on a file system without shared memory, or in memory?")
        db.execute(f"PRAGMA synchronous={sync}")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("BEGIN IMMEDIATE")  # one creator at a time across processes
        try:
            names = {r[0] for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            ours = names & set(TABLES)
            if not ours:
                if names:
                    raise StoreError(f"{self.path}: not an outdial store (it holds other "
                                     f"tables: {', '.join(sorted(names))})")
                for stmt in create_statements("sqlite"):
                    db.execute(stmt)
                db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)",
                           (str(SCHEMA_VERSION),))
            else:
                if "meta" not in ours:
                    raise StoreError(f"{self.path}: has tables {sorted(ours)} but no meta "
                                     "table; not an outdial store")
                row = db.execute(
                    "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                check_version(None if row is None else row[0], self.path)
                missing = set(TABLES) - ours
                if missing:
                    raise StoreError(f"{self.path}: tables {sorted(missing)} are missing")
                cols = [r[1] for r in db.execute("PRAGMA table_info(attempts)")]
                check_columns(cols, "attempts", list(ATTEMPT_FIELDS), self.path)
            db.execute("COMMIT")
        except BaseException:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the failed statement already ended the transaction
            raise

    def journal_mode(self) -> str:
        """SQLite's journal mode for this file (``wal``)."""
        with self._lock:
            return str(self._db.execute("PRAGMA journal_mode").fetchone()[0]).lower()

    def close(self) -> None:
        """Checkpoint the WAL into the file and close it (idempotent)."""
        with self._lock:
            if self._db is None:
                return
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass  # another connection is reading; the WAL stays valid
            self._db.close()
            self._db = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"

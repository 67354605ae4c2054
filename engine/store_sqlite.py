"""The embedded SQLite store (stdlib ``sqlite3``), the default for live runs.

The file is in WAL mode and every call commits before it returns (``synchronous=FULL`` by
default: each commit is synced to disk), so a crash of the engine, or of the machine, loses
no attempt that was started or saved; reopening the file finds the trapped ones.

A live run opens it ``exclusive``: an advisory lock (``fcntl.flock``) on ``<path>.lock``,
held for the store's life and released by the kernel when the process dies, even by
SIGKILL, so a second run on the same store is refused before it reads or writes anything.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3

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

_SYNC = ("OFF", "NORMAL", "FULL", "EXTRA")


def _lock_file(path: str) -> int:
    """Take the store's writer lock; raise ``StoreBusy`` naming the holder if taken."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover (not POSIX): no lock, as before
        return -1
    lock_path = path + ".lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise StoreError(f"{path}: cannot create the lock file {lock_path} "
                         f"({e.strerror})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "another process"
        os.close(fd)
        raise StoreBusy(f"{path}: the store is in use by another outdial run ({holder}); "
                        "one run per store: stop that run first, or use another store"
                        ) from None
    os.ftruncate(fd, 0)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    os.write(fd, f"pid {os.getpid()}, since {stamp}".encode())
    return fd


class SqliteStore(SqlStore):
    """The ``engine.interfaces.Store`` protocol over one SQLite file in WAL mode.

    ``path`` is created with its tables if absent. ``synchronous`` is SQLite's setting:
    ``FULL`` (default) survives power loss; ``NORMAL`` survives a crash of the process
    only, for several times the write rate. Safe to share between threads (one lock).

    Raises ``StoreError`` naming the path when the file cannot be opened, is not a
    database, is not an outdial store, or has another schema version.
    """

    _driver_error = sqlite3.Error
    _begin = "BEGIN IMMEDIATE"

    def __init__(self, path: str | os.PathLike[str], synchronous: str = "FULL",
                 exclusive: bool = False):
        super().__init__()
        self.path = self.where = os.fspath(path)
        self._duplicate = sqlite3.IntegrityError
        sync = synchronous.upper()
        if sync not in _SYNC:
            raise ValueError(f"synchronous must be one of {', '.join(_SYNC)}, "
                             f"not {synchronous!r}")
        self._lock_fd = _lock_file(self.path) if exclusive else -1
        try:
            self._open(sync)
        except BaseException:
            self._unlock()
            raise

    def _unlock(self) -> None:
        if self._lock_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = -1

    def explain(self, e: Exception) -> str:
        """SQLite's error as what happened and what to do."""
        text = str(e)
        low = text.lower()
        if "disk is full" in low or "database or disk is full" in low:
            return (f"{self.path}: the disk is full (SQLite: {text}); the store keeps "
                    "everything recorded so far: free space and run again to resume")
        if "malformed" in low or "not a database" in low or "corrupt" in low:
            return (f"{self.path}: the store file is damaged (SQLite: {text}); restore it "
                    "from a backup or start a new store")
        if "readonly" in low or "read-only" in low:
            return f"{self.path}: the store cannot be written (SQLite: {text})"
        if "disk i/o" in low:
            return (f"{self.path}: the disk failed a read or write (SQLite: {text}); check "
                    "the device, then run again to resume")
        return f"{self.path}: SQLite error ({text})"

    def _open(self, sync: str) -> None:
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
                if check_version(None if row is None else row[0], self.path) < SCHEMA_VERSION:
                    for stmt in create_statements("sqlite"):  # adds what the old one lacks
                        db.execute(stmt)
                    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                               (str(SCHEMA_VERSION),))
                    ours = set(TABLES)
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

    def _reader(self) -> sqlite3.Connection:
        """A connection of its own for the loop's reads under write-behind (WAL: it sees
        what is committed, never waits for the writer's sync)."""
        db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0,
                             check_same_thread=False)
        db.execute("PRAGMA query_only=ON")
        return db

    def _close_connection(self) -> None:
        """Checkpoint the WAL into the file and close it."""
        if self._db is None:
            return
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # another connection is reading; the WAL stays valid
        self._db.close()
        self._db = None  # type: ignore[assignment]
        self._unlock()

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"

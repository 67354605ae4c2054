"""A SQL store's writes on a thread of their own, in the order they were made (write-behind).

A live run's store commits several times per attempt (its start, answer, connect, end and
the portal's session id), each a disk sync with SQLite's ``synchronous = FULL``: on the
event loop those syncs held it (the 60k-BHCC load, ``python -m bench.live_load``: 39 % of
the wall time in the store, the loop's longest gap 2 s). With ``WriteBehind`` the loop
hands each write (or each ``transaction()``, whole) to a queue and goes on; one writer
thread takes everything queued, writes it in one transaction, in queue order, and commits
once (one sync for many records). Nothing is reordered: units commit in the order they
were queued, each whole or not at all.

What must not happen before a record is on disk waits for it: ``after_commit(fn)`` runs
``fn`` on the loop once everything queued so far is committed (the dialer launches an
attempt, and puts a live answer through to its agent, only then: a crash can lose a
queued record, never a call made without one). Reads that must see the loop's own writes
wait for the queue to drain first (``flush``); the outbox relay reads what is committed.
A write the writer cannot make (a full disk) fails the run through ``on_error`` and every
later write raises it: the queue behind it is not written, and what was committed stays.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Op = tuple[str, str, Any]  # ("x", statement key, params) or ("many", key, rows)
MAX_BATCH = 4096  # units in one commit at most


class WriteBehind:
    """The writer of ``store`` (a ``SqlStore``); ``call_soon`` hands a callable to the
    event loop's thread (``loop.call_soon_threadsafe``); ``on_error`` is called there with
    the first error."""

    def __init__(self, store: Any, call_soon: Callable[[Callable[[], None]], Any],
                 on_error: Callable[[BaseException], None]):
        self.store = store
        self.call_soon = call_soon
        self.on_error = on_error
        self._cv = threading.Condition()
        self._queue: deque[tuple[int, list[Op]]] = deque()
        self._issued = 0  # units queued
        self._committed = 0  # units committed
        self._afters: deque[tuple[int, Callable[[], None]]] = deque()
        self._stop = False
        self.error: BaseException | None = None
        self.commits = 0
        self.units = 0
        self.thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self.thread.start()
        self.ident = self.thread.ident

    # ---- the loop's side

    def submit(self, ops: list[Op]) -> None:
        """Queue one unit (the writes of one ``transaction()``, or one write)."""
        if not ops:
            return
        with self._cv:
            if self.error is not None:
                raise self.error
            if self._stop:
                raise RuntimeError("the store's writer is closed")
            self._issued += 1
            self._queue.append((self._issued, ops))
            self._cv.notify_all()

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the loop once every unit queued so far is committed (at once
        when it is)."""
        with self._cv:
            if self.error is not None:
                raise self.error
            if self._committed >= self._issued:
                ready = True
            else:
                self._afters.append((self._issued, fn))
                ready = False
        if ready:
            fn()

    def flush(self, timeout_s: float | None = None) -> None:
        """Wait until every unit queued so far is committed; raises the writer's error."""
        with self._cv:
            target = self._issued
            if not self._cv.wait_for(lambda: self._committed >= target
                                     or self.error is not None, timeout_s):
                raise TimeoutError(f"the store's writer did not commit within {timeout_s} s")
            if self.error is not None:
                raise self.error

    @property
    def backlog(self) -> int:
        """Units queued and not yet committed."""
        return self._issued - self._committed

    def close(self, timeout_s: float = 60.0) -> None:
        """Commit what is queued (unless the writer failed), then end the thread."""
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        self.thread.join(timeout_s)

    # ---- the writer's side

    def _run(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._queue or self._stop)
                if not self._queue:
                    return
                batch = [self._queue.popleft()
                         for _ in range(min(len(self._queue), MAX_BATCH))]
            try:
                self.store.write_units([ops for _, ops in batch])
            except BaseException as e:  # the disk, the file: said once, on the loop
                with self._cv:
                    self.error = e
                    self._queue.clear()
                    self._afters.clear()
                    self._cv.notify_all()
                log.error("store writer: %s", e)
                self.call_soon(lambda e=e: self.on_error(e))
                return
            with self._cv:
                self._committed = batch[-1][0]
                self.commits += 1
                self.units += len(batch)
                ready = []
                while self._afters and self._afters[0][0] <= self._committed:
                    ready.append(self._afters.popleft()[1])
                self._cv.notify_all()
            if ready:
                self.call_soon(lambda ready=ready: _run_all(ready))


def _run_all(fns: list[Callable[[], None]]) -> None:
    for fn in fns:
        fn()

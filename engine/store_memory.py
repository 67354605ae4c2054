"""The in-memory store: attempt results kept as flat rows, for simulation speed.

One tuple per finished attempt (``ATTEMPT_FIELDS`` order), turned into a table only at the
end (``sim.run`` builds a DataFrame from ``rows``); attempts in flight sit in a dict until
their result comes. Nothing survives the process: live runs use ``SqliteStore``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from engine.attempt import ATTEMPT_FIELDS, CODE_INDEX, Attempt
from engine.store_schema import row_record

_T_END, _JOB_NAME = ATTEMPT_FIELDS.index("t_end"), ATTEMPT_FIELDS.index("job_name")
_ID = ATTEMPT_FIELDS.index("attempt_id")


class MemoryStore:
    """The ``engine.interfaces.Store`` protocol in memory; finished attempts as rows.

    ``rows`` holds one ``ATTEMPT_FIELDS`` tuple per finished (saved or recoded) attempt, in
    the order they finished; a second save of the same attempt replaces its row.
    """

    def __init__(self) -> None:
        self.rows: list[tuple] = []
        self._row: dict[int, int] = {}  # attempt_id -> its index in rows
        self._flight: dict[int, Attempt] = {}  # started, not saved
        self._states: dict[str, str] = {}
        self._meta: dict[str, str] = {}
        self._outbox: list[tuple[int, str, dict[str, Any]]] = []
        self._seq = 0
        self._published = 0
        self._sessions: dict[int, str] = {}
        self._dispositions: dict[int, dict[str, Any]] = {}

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Nothing to group in memory (no crash survives anyway)."""
        yield

    def add_event(self, topic: str, event: dict[str, Any]) -> None:
        """Append an event to the in-memory outbox."""
        self._seq += 1
        self._outbox.append((self._seq, topic, event))

    def unpublished(self, limit: int = 1000) -> list[tuple[int, str, dict[str, Any]]]:
        """Up to ``limit`` events not yet published, in order."""
        return self._outbox[:limit]

    def published_seq(self) -> int:
        return self._published

    def mark_published(self, seq: int) -> None:
        """Events up to ``seq`` reached the sink: dropped from the outbox."""
        self._published = seq
        self._outbox = [e for e in self._outbox if e[0] > seq]

    def outbox_size(self) -> tuple[int, int]:
        """(events ever written, events not yet published)."""
        return self._seq, len(self._outbox)

    @property
    def cols(self) -> dict[str, list]:
        """The finished attempts as one list per ``ATTEMPT_FIELDS`` field (a copy)."""
        if not self.rows:
            return {f: [] for f in ATTEMPT_FIELDS}
        return {f: list(col) for f, col in zip(ATTEMPT_FIELDS, zip(*self.rows, strict=True),
                                               strict=True)}

    def attempt_started(self, a: Attempt) -> None:
        """Hold the attempt (by reference) until its result is saved. O(1)."""
        i = a.id
        if i in self._flight or i in self._row:
            raise ValueError(f"attempt {i} is already recorded")
        self._flight[i] = a

    def save_attempt(self, a: Attempt) -> None:
        """Append the attempt's result to ``rows`` (or replace its row if saved before)."""
        i = a.id
        # An attempt in flight was never saved (``attempt_started`` and ``recode`` keep the
        # two apart): its row is new, with no look-up of an earlier one (once per attempt).
        row = None if self._flight.pop(i, None) is not None else self._row.get(i)
        if row is not None:
            self.rows[row] = a.row()
            return
        self._row[i] = len(self.rows)
        self.rows.append(a.row())

    def attempts(self, job: str | None = None, since_id: int = 0) -> list[dict[str, Any]]:
        """Every recorded attempt (in-flight ones with code PENDING), by ``attempt_id``;
        only job ``job``'s (by name) if given, only those from ``attempt_id`` ``since_id``
        on if given. In-flight records show the attempts' current fields."""
        recs = [row_record(r) for r in self.rows
                if (job is None or r[_JOB_NAME] == job) and r[_ID] >= since_id]
        for a in self._flight.values():
            if (job is None or a.job_name == job) and a.id >= since_id:
                rec = a.record()
                rec["code"] = 0
                recs.append(rec)
        recs.sort(key=lambda rec: rec["attempt_id"])
        return recs

    def trapped(self) -> list[dict[str, Any]]:
        """Attempts started and never finished (code PENDING), by ``attempt_id``."""
        return [rec for rec in self.attempts() if rec["code"] == 0]

    def recode(self, attempt_id: int, code: int, t_end: float) -> None:
        """Finish a trapped attempt with ``code`` at ``t_end`` (s); it joins ``rows``."""
        a = self._flight.pop(attempt_id, None)
        if a is not None:
            self._row[attempt_id] = len(self.rows)
            self.rows.append(_with_end(a.row(), code, t_end))
            return
        row = self._row.get(attempt_id)
        if row is None:
            raise KeyError(f"attempt {attempt_id} is not recorded")
        old = self.rows[row]
        if old[CODE_INDEX] != 0:
            raise ValueError(f"attempt {attempt_id} already has result code "
                             f"{old[CODE_INDEX]}; only trapped attempts are recoded")
        self.rows[row] = _with_end(old, code, t_end)

    def set_job_state(self, job: str, state: str, at_s: float) -> None:
        """Remember job ``job``'s state (``at_s``: run clock, s; not kept in memory)."""
        self._states[job] = state

    def job_states(self) -> dict[str, str]:
        """Last recorded state per job name."""
        return dict(self._states)

    def set_meta(self, key: str, value: str) -> None:
        """Remember one engine setting."""
        self._meta[key] = value

    def get_meta(self, key: str) -> str | None:
        """A setting stored by ``set_meta``, or None."""
        return self._meta.get(key)

    def call_session(self, attempt_id: int, session_id: str) -> None:
        """Remember attempt ``attempt_id``'s session id on the platform."""
        self._sessions[int(attempt_id)] = str(session_id)

    def call_sessions(self) -> dict[int, str]:
        """Every remembered session id by attempt id."""
        return dict(sorted(self._sessions.items()))

    def forget_call_sessions(self, attempt_ids: Sequence[int] | None = None) -> None:
        """Forget the sessions of ``attempt_ids`` (None: all)."""
        if attempt_ids is None:
            self._sessions.clear()
        for i in attempt_ids or ():
            self._sessions.pop(int(i), None)

    def attempt(self, attempt_id: int) -> dict[str, Any] | None:
        """The record of attempt ``attempt_id`` (finished or trapped), or None."""
        i = self._row.get(int(attempt_id))
        if i is not None:
            return row_record(self.rows[i])
        a = self._flight.get(int(attempt_id))
        if a is None:
            return None
        rec = a.record()
        rec["code"] = 0
        return rec

    def put_disposition(self, attempt_id: int, record: dict[str, Any]) -> None:
        """Keep the disposition record of attempt ``attempt_id``."""
        self._dispositions[int(attempt_id)] = dict(record)

    def dispositions(self) -> dict[int, dict[str, Any]]:
        """Every disposition record by attempt id."""
        return {k: dict(v) for k, v in sorted(self._dispositions.items())}

    def close(self) -> None:
        """Nothing to release; the data stay readable."""

    def __len__(self) -> int:
        """Finished attempts (rows)."""
        return len(self.rows)


def _with_end(row: tuple, code: int, t_end: float) -> tuple:
    out = list(row)
    out[CODE_INDEX] = int(code)
    out[_T_END] = float(t_end)
    return tuple(out)

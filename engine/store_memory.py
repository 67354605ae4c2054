"""The in-memory store: attempt results kept as flat columns, for simulation speed.

One list append per field per finished attempt, converted to a table only at the end
(``sim.run`` builds a DataFrame from ``cols``); attempts in flight sit in a dict until
their result comes. Nothing survives the process: live runs use ``SqliteStore``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from engine.attempt import ATTEMPT_FIELDS, Attempt
from engine.store_schema import BOOL_FIELDS


class MemoryStore:
    """The ``engine.interfaces.Store`` protocol in memory; finished attempts as columns.

    ``cols`` holds one list per ``ATTEMPT_FIELDS`` field and one row per finished (saved or
    recoded) attempt, in the order they finished; a second save of the same attempt
    updates its row in place.
    """

    def __init__(self) -> None:
        self.cols: dict[str, list] = {f: [] for f in ATTEMPT_FIELDS}
        self._row: dict[int, int] = {}  # attempt_id -> its row in cols
        self._flight: dict[int, Attempt] = {}  # started, not saved
        self._states: dict[str, str] = {}
        self._meta: dict[str, str] = {}
        self._outbox: list[tuple[int, str, dict[str, Any]]] = []
        self._seq = 0
        self._published = 0

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

    def attempt_started(self, a: Attempt) -> None:
        """Hold the attempt (by reference) until its result is saved. O(1)."""
        i = a.id
        if i in self._flight or i in self._row:
            raise ValueError(f"attempt {i} is already recorded")
        self._flight[i] = a

    def save_attempt(self, a: Attempt) -> None:
        """Append the attempt's result to ``cols`` (or update its row if saved before)."""
        i = a.id
        self._flight.pop(i, None)
        row = self._row.get(i)
        if row is not None:
            self._update(row, a.record())
            return
        c = self.cols
        self._row[i] = len(c["attempt_id"])
        c["attempt_id"].append(i)
        c["job"].append(a.job)
        c["job_name"].append(a.job_name)
        c["contact"].append(a.contact)
        c["contact_id"].append(a.contact_id)
        c["address"].append(a.address)
        c["step"].append(a.step)
        c["channel"].append(int(a.channel))
        c["code"].append(int(a.code))
        c["agent"].append(a.agent)
        c["abandoned"].append(a.abandoned)
        c["amd_false_positive"].append(a.truth_amd_false_positive)
        c["human"].append(a.truth_human)
        c["t_created"].append(a.t_created)
        c["t_answer"].append(a.t_answer)
        c["t_connect"].append(a.t_connect)
        c["t_talk_end"].append(a.t_talk_end)
        c["t_end"].append(a.t_end)

    def _update(self, row: int, rec: dict[str, Any]) -> None:
        for f in ATTEMPT_FIELDS:
            self.cols[f][row] = rec[f]

    def _append(self, rec: dict[str, Any]) -> None:
        self._row[rec["attempt_id"]] = len(self.cols["attempt_id"])
        for f in ATTEMPT_FIELDS:
            self.cols[f].append(rec[f])

    def attempts(self, job: str | None = None) -> list[dict[str, Any]]:
        """Every recorded attempt (in-flight ones with code PENDING), by ``attempt_id``;
        only job ``job``'s (by name) if given. In-flight records show the attempts'
        current fields."""
        c = self.cols
        recs = []
        for r in range(len(c["attempt_id"])):
            if job is None or c["job_name"][r] == job:
                rec = {f: c[f][r] for f in ATTEMPT_FIELDS}
                for f in BOOL_FIELDS:
                    rec[f] = bool(rec[f])
                recs.append(rec)
        for a in self._flight.values():
            if job is None or a.job_name == job:
                rec = a.record()
                rec["code"] = 0
                recs.append(rec)
        recs.sort(key=lambda rec: rec["attempt_id"])
        return recs

    def trapped(self) -> list[dict[str, Any]]:
        """Attempts started and never finished (code PENDING), by ``attempt_id``."""
        return [rec for rec in self.attempts() if rec["code"] == 0]

    def recode(self, attempt_id: int, code: int, t_end: float) -> None:
        """Finish a trapped attempt with ``code`` at ``t_end`` (s); it joins ``cols``."""
        a = self._flight.pop(attempt_id, None)
        if a is not None:
            rec = a.record()
            rec["code"] = int(code)
            rec["t_end"] = float(t_end)
            self._append(rec)
            return
        row = self._row.get(attempt_id)
        if row is None:
            raise KeyError(f"attempt {attempt_id} is not recorded")
        if self.cols["code"][row] != 0:
            raise ValueError(f"attempt {attempt_id} already has result code "
                             f"{self.cols['code'][row]}; only trapped attempts are recoded")
        self.cols["code"][row] = int(code)
        self.cols["t_end"][row] = float(t_end)

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

    def close(self) -> None:
        """Nothing to release; the data stay readable."""

    def __len__(self) -> int:
        """Finished attempts (rows in ``cols``)."""
        return len(self.cols["attempt_id"])

"""Restart after a crash: find the trapped records, re-code them, rebuild the jobs' state.

An attempt recorded as started (``Store.attempt_started``) and never finished is a
*trapped record*: the engine stopped while it was in flight, so its outcome is unknown.
``survey`` finds them (nothing changed) and ``recover`` re-codes each one
``Code.TRAPPED`` (ended at the crash, i.e. at its last known time), or
``Code.LIVE_CONNECTED`` when the record shows it connected to an agent, or
``Code.ABANDONED`` (a nuisance call) when it shows a live answer waiting for one (a
durable store's dialer records both: the customer was reached, and is not dialled again
unless the strategy retries that code), or the result the platform reports for the
attempt's session when the run left one there (``results``: a live run asks the voice
portal first, ``adapters.epm.orphans``, hanging up the calls still up). Then every job's
recorded attempts are replayed into its ``ContactFlow``: finished contacts stay finished
(never dialled twice), contacts with retries pending are queued again, and the trapped
contacts are re-queued per their strategy (a ``trapped`` retry rule, else at once). The
director gets the jobs' recorded lifecycle states back, and the pacer the live answers of
each job's regulatory window (``restore_pacer``): an excess of abandons before the restart
is still paid back.

Each re-coded record's ATTEMPT_COMPLETED event (given an ``EventPublisher``) is written in
the same store transaction as the re-code, so consumers that saw the attempt start also
see it end, exactly as for an attempt that ended normally.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.attempt import Attempt, Channel, Code
from engine.interfaces import Store
from engine.vocab import ABANDON_CODES, LIVE_CODES


@dataclass(frozen=True)
class Recovery:
    """What a restart found: trapped attempts (their records before re-coding), how many
    attempts were recorded, the run-clock time to resume from and the next attempt id;
    once recovered, ``codes`` holds the code each trapped attempt was given."""

    trapped: list[dict[str, Any]] = field(default_factory=list)
    recorded: int = 0
    resume_s: float = 0.0
    next_attempt_id: int = 0
    job_states: dict[str, str] = field(default_factory=dict)
    codes: dict[int, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        codes = [self.codes.get(int(r["attempt_id"]), _code_at_crash(r)) for r in self.trapped]
        return {"recorded_attempts": self.recorded, "trapped": len(self.trapped),
                "trapped_connected": codes.count(_CONNECTED),
                "trapped_abandoned": codes.count(_ABANDONED),
                "trapped_attempts": [
                    {"attempt_id": r["attempt_id"], "job_name": r["job_name"],
                     "contact_id": r["contact_id"], "address": r["address"],
                     "t_created_s": r["t_created"], "code": Code(c).name}
                    for r, c in zip(self.trapped, codes, strict=True)],
                "resume_s": self.resume_s, "next_attempt_id": self.next_attempt_id,
                "job_states": self.job_states}


_ABANDONED, _CONNECTED = int(Code.ABANDONED), int(Code.LIVE_CONNECTED)
_TRAPPED = int(Code.TRAPPED)


def attempt_of(r: dict[str, Any]) -> Attempt:
    """An ``Attempt`` carrying a stored record's fields (to publish its events)."""
    a = Attempt(int(r["attempt_id"]), int(r["job"]), int(r["contact"]), int(r["channel"]),
                float(r["t_created"]), contact_id=r["contact_id"], address=r["address"],
                step=int(r["step"]), job_name=r["job_name"])
    a.code = int(r["code"])
    a.agent = int(r["agent"])
    a.abandoned = bool(r["abandoned"])
    a.truth_human = bool(r["human"])
    a.truth_amd_false_positive = bool(r["amd_false_positive"])
    a.t_answer, a.t_connect = float(r["t_answer"]), float(r["t_connect"])
    a.t_talk_end, a.t_end = float(r["t_talk_end"]), float(r["t_end"])
    return a


def survey(store: Store) -> Recovery:
    """What ``store`` holds, nothing changed: its trapped records, how many attempts it
    recorded, where the run stopped, the next attempt id and the jobs' states."""
    trapped = store.trapped()
    records = store.attempts()
    last = max((max(r["t_created"], r["t_connect"], r["t_end"]) for r in records),
               default=0.0)
    return Recovery(trapped=trapped, recorded=len(records), resume_s=float(last),
                    next_attempt_id=max((int(r["attempt_id"]) for r in records),
                                        default=-1) + 1,
                    job_states=store.job_states())


def recover(store: Store, rec: Recovery, events: Any = None,
            results: Mapping[int, int] | None = None) -> Recovery:
    """Re-code ``rec``'s trapped records in ``store``: what a recorded connect or wait made
    them (``_code_at_crash``), else the result the platform gave (``results``, by attempt
    id: a session that ended busy, unanswered, delivered, ...), else ``Code.TRAPPED``; with
    ``events`` (an ``engine.events.EventPublisher``) each gets its ATTEMPT_COMPLETED in the
    same transaction as its re-code. Returns ``rec`` with the codes given."""
    results = results or {}
    codes = {}
    for r in rec.trapped:
        a = attempt_of(r)
        code = _code_at_crash(r)
        if code == _TRAPPED:
            code = int(results.get(a.id, code))
        a.code, a.t_end = code, float(rec.resume_s)
        codes[a.id] = code
        with transaction(store):
            if a.code in ABANDON_CODES:  # its nuisance flag recorded too
                a.abandoned = True
                store.save_attempt(a)
            else:
                store.recode(a.id, a.code, a.t_end)
            if events is not None:
                events.attempt_completed(a)
    return dataclasses.replace(rec, codes=codes)


def scan(store: Store, events: Any = None) -> Recovery:
    """``survey`` then ``recover``: re-code the trapped records of ``store`` and say
    where the run stopped."""
    return recover(store, survey(store), events)


def _code_at_crash(r: dict[str, Any]) -> int:
    """A trapped record's code: connected to an agent, the live connect it was; a live
    answer recorded waiting for an agent (agent-based voice), the abandon the crash made
    it; else TRAPPED, its outcome unknown."""
    if r["t_connect"] >= 0:
        return int(Code.LIVE_CONNECTED)
    if r["t_answer"] >= 0 and int(r["channel"]) == int(Channel.VOICE_AGENT):
        return _ABANDONED
    return int(Code.TRAPPED)


def transaction(store: Any) -> contextlib.AbstractContextManager[Any]:
    """``store.transaction()`` (its writes commit together), or nothing for a store
    without transactions."""
    txn = getattr(store, "transaction", None)
    return txn() if txn is not None else contextlib.nullcontext()


def restore_flows(records: Sequence[Mapping[str, Any]], flows: Sequence[Any],
                  now_s: float) -> int:
    """Replay each job's recorded attempts (``records``: the store's, by job name) into
    its flow; returns contacts re-decided."""
    by_job: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        by_job.setdefault(r["job_name"], []).append(r)
    return sum(flow.restore(by_job.get(flow.name, []), now_s) for flow in flows)


def restore_pacer(records: Sequence[Mapping[str, Any]], dialer: Any, now_s: float) -> int:
    """Replay the recorded live answers (``records``: the store's attempts) of the
    dialer's jobs (by job name) into its pacer
    (``Pacer.restore_live``: those inside each job's regulatory window before ``now_s``
    count in its abandon accounting and in the excess its price pays back); returns how
    many were kept. Without it a restarted campaign started its rate afresh: an excess
    before a crash or a stop was forgotten."""
    row = {job.name: j for j, job in enumerate(dialer.jobs)}
    rows, t, abandoned = [], [], []
    for r in records:
        j = row.get(r["job_name"])
        code = int(r["code"])
        if j is None or code not in LIVE_CODES or r.get("t_end") is None:
            continue
        rows.append(j)
        t.append(float(r["t_end"]))
        abandoned.append(code in ABANDON_CODES)
    if not rows:
        return 0
    return dialer.pacer.restore_live(np.array(rows, dtype=np.int64), np.array(t),
                                     np.array(abandoned, dtype=bool), now_s)

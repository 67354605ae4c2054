"""The in-memory store: synthetic contact ids and attempt results kept as flat columns.

Built for simulation speed: one list append per field per attempt, converted to a table
only at the end (``columns``). A job with ``records = 0`` never runs out of contacts.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.attempt import ATTEMPT_FIELDS, Attempt


class MemoryStore:
    """Contacts numbered 0..records-1 per job (unlimited when 0); attempts as columns."""

    def __init__(self, records: Sequence[int]):
        self.records = list(records)
        self.next = [0] * len(self.records)
        self.cols: dict[str, list] = {f: [] for f in ATTEMPT_FIELDS}

    def next_contact(self, job: int) -> int | None:
        n = self.next[job]
        if self.records[job] and n >= self.records[job]:
            return None
        self.next[job] = n + 1
        return n

    def save_attempt(self, a: Attempt) -> None:
        c = self.cols
        c["attempt_id"].append(a.id)
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

    def __len__(self) -> int:
        return len(self.cols["attempt_id"])

"""Contacts imported into a running job (``outdial control CONFIG import JOB --file F``),
kept so that a restart dials the same list.

A file is read as the job's own list is (``engine.contacts.load_contacts`` with the
campaign's columns; malformed rows skipped and reported); contacts whose id the job's list
already holds are left out (a lead imported twice is dialled once). The rows kept are
appended to the job's flow (``ContactFlow.extend``: its filter and sort apply, a job that
had run dry dials again) and copied, as loaded, to the imports folder beside the store
(``<store>.imports/``); the store's meta records each import in order with the list's
length before it. A restart appends the same copies at the same places before the jobs'
recorded attempts are replayed, so every attempt finds its contact where it was.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from engine.contacts import ContactList, ContactListError, ListSpec, load_contacts
from engine.flow import ContactFlow
from engine.interfaces import Store
from engine.supervisor import SupervisorError

META_KEY = "contact_imports"
SHOWN_PROBLEMS = 5  # malformed rows quoted in an import's reply


class ImportReplayError(RuntimeError):
    """The store's imports do not fit the jobs' lists any more (the message says why)."""


class ContactImports:
    """Imports into the jobs of ``flows`` (row j: ``specs[j]``, the campaign's list
    columns), recorded in ``store`` and copied under ``folder``; ``now`` is the run clock."""

    def __init__(self, store: Store, folder: Path, flows: Sequence[ContactFlow],
                 specs: Sequence[ListSpec | None], now: Callable[[], float]):
        self.store = store
        self.folder = folder
        self.flows = flows
        self.specs = specs
        self.now = now

    def _records(self) -> list[dict[str, Any]]:
        raw = self.store.get_meta(META_KEY)
        return json.loads(raw) if raw else []

    def replay(self) -> int:
        """Append the recorded imports again (a restart, before the attempts are replayed);
        returns the contacts appended. Raises ``ImportReplayError`` when a copy is missing
        or a job's list no longer has the length it had at the import."""
        n = 0
        names = [f.name for f in self.flows]
        for rec in self._records():
            if rec["job"] not in names:
                raise ImportReplayError(f"the store holds contacts imported into job "
                                        f"{rec['job']!r}, which the scenario no longer has")
            j = names.index(rec["job"])
            flow, copy = self.flows[j], self.folder / rec["copy"]
            if len(flow.ids) != rec["base"]:
                raise ImportReplayError(
                    f"job {rec['job']!r}: its list has {len(flow.ids)} contacts where the "
                    f"import of {rec['source']} found {rec['base']} (was the contact file "
                    "changed?); the store's attempts would name other contacts")
            try:
                frame = pl.read_parquet(copy)
            except (OSError, pl.exceptions.PolarsError) as e:
                raise ImportReplayError(f"job {rec['job']!r}: the copy of {rec['source']} "
                                        f"imported at run second {rec['at_s']:.0f} cannot be "
                                        f"read ({copy}: {e})") from None
            flow.extend(ContactList(frame, self.specs[j], source=str(copy)))
            n += frame.height
        return n

    def add(self, j: int, path: str) -> dict[str, Any]:
        """Import the file at ``path`` into job row ``j`` now (see the module); returns
        what it did. Raises ``SupervisorError`` (nothing changed) for a file that cannot be
        read as the job's list, a job without a list of its own, or one whose list grows by
        itself."""
        flow, spec = self.flows[j], self.specs[j]
        if spec is None:
            raise SupervisorError(f"job {flow.name!r} has no contact list to import into")
        if flow.growing:
            raise SupervisorError(f"job {flow.name!r} dials a synthetic list that grows as "
                                  "it runs; imports go to jobs with a contacts file or a "
                                  "fixed number of records")
        _regular(path)  # a pipe or a device would be read on the loop: the run frozen
        try:
            loaded = load_contacts(path, spec, "skip")
        except (ContactListError, OSError) as e:
            raise SupervisorError(f"file: {e}") from None
        known = set(flow.ids)
        ids = loaded.frame[spec.id].cast(str).to_list()
        keep, seen = [], set()
        for i, cid in enumerate(ids):
            if cid not in known and cid not in seen:
                keep.append(i)
                seen.add(cid)
        fresh = loaded.subset(keep, source=str(path))
        out = {"job": flow.name, "file": str(path), "rows": len(loaded),
               "skipped": len(loaded.problems), "duplicates": len(loaded) - len(keep),
               "problems": [str(p) for p in loaded.problems[:SHOWN_PROBLEMS]],
               "imported": len(fresh), "selected": 0}
        if not len(fresh):
            return out
        records = self._records()
        base = len(flow.ids)
        name = f"{len(records):05d}-{flow.job}.parquet"
        self.folder.mkdir(parents=True, exist_ok=True)
        fresh.frame.write_parquet(self.folder / name)
        records.append({"job": flow.name, "copy": name, "source": str(path), "base": base,
                        "rows": len(fresh), "at_s": self.now()})
        self.store.set_meta(META_KEY, json.dumps(records))
        out["selected"] = flow.extend(fresh)  # those the job's filter lets through
        return out


def _regular(path: str) -> None:
    """``SupervisorError`` unless ``path`` (its link followed) is a regular file: a pipe
    waits for a writer, a device never ends, and either would hold the run's event loop."""
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        raise SupervisorError(f"file: {path}: cannot read ({e.strerror or e})") from None
    if stat.S_ISREG(mode):
        return
    kind = ("a directory" if stat.S_ISDIR(mode) else "a pipe (FIFO)" if stat.S_ISFIFO(mode)
            else "a character device" if stat.S_ISCHR(mode) else "a block device"
            if stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a file")
    raise SupervisorError(f"file: {path} is {kind}; expected a contact file (CSV or Parquet)")

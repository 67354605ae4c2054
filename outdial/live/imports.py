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

import asyncio
import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
        self._lock: asyncio.Lock | None = None  # one import at a time (``add_async``)

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
        itself. Reads the file on the caller's thread: a run uses ``add_async``."""
        return self.commit(self.prepare(j, path))

    async def add_async(self, j: int, path: str,
                        check: Callable[[int], None] | None = None) -> dict[str, Any]:
        """``add`` for a running run: the file is read, checked against the job's list
        and copied on a worker thread (``prepare``: 0.5 s for 200k rows, the event loop
        and the adapters' links running on), then appended on the loop (``commit``), one
        import at a time. ``check(j)`` (raising ``SupervisorError``) is asked again
        before the commit: a job stopped meanwhile takes nothing."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            prepared = await asyncio.to_thread(self.prepare, j, path)
            try:
                if check is not None:
                    check(j)
                return self.commit(prepared)
            finally:
                prepared.discard()

    def prepare(self, j: int, path: str) -> Prepared:
        """Read, check and copy an import (see ``add``) without changing the job: safe on
        a worker thread while the loop runs (the job's list grows only by ``commit``,
        one import at a time)."""
        flow, spec = self.flows[j], self.specs[j]
        if spec is None:
            raise SupervisorError(f"job {flow.name!r} has no contact list to import into")
        if flow.growing:
            raise SupervisorError(f"job {flow.name!r} dials a synthetic list that grows as "
                                  "it runs; imports go to jobs with a contacts file or a "
                                  "fixed number of records")
        _regular(path)  # a pipe or a device would be read for ever
        try:
            loaded = load_contacts(path, spec, "skip")
        except (ContactListError, OSError) as e:
            raise SupervisorError(f"file: {e}") from None
        base = len(flow.ids)
        known = set(flow.ids[:base])
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
        prepared = Prepared(j, str(path), fresh, base, out)
        if len(fresh):
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(".parquet.part", dir=self.folder)
            os.close(fd)
            prepared.copy = Path(tmp)
            fresh.frame.write_parquet(prepared.copy)
        return prepared

    def commit(self, p: Prepared) -> dict[str, Any]:
        """Append a ``prepare``d import to its job (on the loop): its copy kept under its
        name, the import recorded, the contacts appended; what it did."""
        flow = self.flows[p.job]
        if len(flow.ids) != p.base:  # cannot happen one import at a time: said, not hidden
            raise SupervisorError(f"job {flow.name!r}: its list changed while {p.path} was "
                                  "read; import it again")
        if p.copy is None:
            return p.out
        records = self._records()
        name = f"{len(records):05d}-{flow.job}.parquet"
        os.replace(p.copy, self.folder / name)
        p.copy = None
        records.append({"job": flow.name, "copy": name, "source": p.path, "base": p.base,
                        "rows": len(p.fresh), "at_s": self.now()})
        self.store.set_meta(META_KEY, json.dumps(records))
        p.out["selected"] = flow.extend(p.fresh)  # those the job's filter lets through
        return p.out


@dataclass
class Prepared:
    """An import read and checked (``ContactImports.prepare``), not yet in its job:
    ``fresh`` the contacts new to the job's list of ``base`` contacts, ``copy`` their
    copy under a temporary name (None: nothing to import), ``out`` the reply."""

    job: int
    path: str
    fresh: ContactList
    base: int
    out: dict[str, Any]
    copy: Path | None = None

    def discard(self) -> None:
        """Remove the temporary copy of an import not committed."""
        if self.copy is not None:
            with contextlib.suppress(OSError):
                self.copy.unlink()
            self.copy = None


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

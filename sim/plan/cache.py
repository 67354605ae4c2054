"""Finished runs on disk, keyed by what determines them, so nothing runs twice.

A record is reused only by the code that produced it: the key hashes the effective
scenario, the seed and ``code_fingerprint()``, the source of every module a run executes
(``sim.plan.task`` and the pacer, engine and world modules it imports, followed through
their imports). Plotting, reporting and the planner's search code are left out, so editing
a plot keeps the cache.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import polars as pl

from sim.scenario import Scenario

CACHE_VERSION = 2
TABLES = ("attempts", "intervals")  # every record run with tables has these
# ... and a run with inbound skills these too (``sim.plan.task.record_of``)
INBOUND_TABLES = ("inbound_calls", "inbound_intervals")
_ROOT = Path(__file__).resolve().parent.parent.parent
_TASK = "sim.plan.task"  # what a worker runs; the fingerprint follows its imports
_PROJECT = ("pacer", "engine", "sim", "adapters")
_code_hash: str | None = None


def _module_file(name: str) -> Path | None:
    """The source file of a project module (``a.b`` -> ``a/b.py`` or ``a/b/__init__.py``)."""
    base = _ROOT.joinpath(*name.split("."))
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None


def _imports(path: Path) -> set[str]:
    """Project modules ``path`` imports, anywhere in the file (functions included)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for n in names:
            if n.split(".")[0] in _PROJECT:
                parts = n.split(".")
                out |= {".".join(parts[:k]) for k in range(1, len(parts) + 1)}
    return out


def code_files() -> list[Path]:
    """The source files a run executes: ``sim.plan.task`` and every project module it
    imports, directly or not (a package's ``__init__`` included), in a fixed order.
    Plotting, reporting and the planner's searches are not among them."""
    seen: dict[str, Path] = {}
    todo = [_TASK]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        p = _module_file(name)
        if p is None:
            continue  # a name imported from a module, not a module
        seen[name] = p
        todo.extend(_imports(p) - set(seen))
    return sorted(set(seen.values()))


def code_fingerprint() -> str:
    """SHA-256 of the code a run executes (``code_files``), computed once per process."""
    global _code_hash
    if _code_hash is None:
        h = hashlib.sha256()
        for p in code_files():
            h.update(str(p.relative_to(_ROOT)).encode())
            h.update(p.read_bytes())
        _code_hash = h.hexdigest()
    return _code_hash


def data_files(scn: Scenario) -> list[Path]:
    """The files a run of ``scn`` reads besides the scenario: contact and DNC lists."""
    files = set(scn.dnc_files)
    for c in scn.campaigns:
        if c.contacts is not None:
            files.update(c.contacts.dnc_files)
            if c.contacts.file is not None:
                files.add(c.contacts.file)
    return sorted(files)


_digests: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path) -> str:
    """SHA-256 of a data file's bytes (remembered per path, size and modification time)."""
    st = path.stat()
    k = (str(path), st.st_size, st.st_mtime_ns)
    if k not in _digests:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _digests[k] = h.hexdigest()
    return _digests[k]


class ResultCache:
    """Finished records, one small JSON file per task under ``root`` (and, for a record that
    carries its attempt and interval tables, one Parquet file per table beside it).

    Writes are atomic (a temporary file renamed into place), so a run killed mid-write
    leaves no half file; an unreadable file counts as missing and is recomputed.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @staticmethod
    def key(scn: Scenario, seed: int) -> str:
        """SHA-256 of the effective scenario, the run's seed and the simulator's code.

        The effective scenario is its raw TOML after overrides (``Scenario.raw``) plus the
        validated object (which carries what ``with_policy`` changed and any empirical
        samples read from files) plus the content of the data files a run reads (contact
        lists, DNC lists: an edited list is a new run); the run seed is ``base seed +
        replication``.
        """
        material = {
            "version": CACHE_VERSION,
            "raw": scn.raw,
            "validated": repr(replace(scn, source="")),
            "data": [file_digest(p) for p in data_files(scn)],
            "seed": int(seed),
            "code": code_fingerprint(),
        }
        text = json.dumps(material, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def _path(self, key: str, suffix: str = ".json") -> Path:
        return self.root / key[:2] / f"{key}{suffix}"

    def get(self, key: str, tables: bool = False) -> dict | None:
        """The record stored under ``key`` (with its tables when ``tables``), or None."""
        try:
            rec = json.loads(self._path(key).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(rec, dict) or "kpis" not in rec:
            return None
        if tables:
            try:
                for t in (*TABLES, *(t for t in INBOUND_TABLES if rec.get("inbound"))):
                    rec[t] = pl.read_parquet(self._path(key, f".{t}.parquet"))
            except (OSError, pl.exceptions.PolarsError):
                return None
        return rec

    def put(self, key: str, record: dict) -> None:
        """Store ``record``; its tables (polars DataFrames) go to Parquet files."""
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        for t in (*TABLES, *INBOUND_TABLES):
            if isinstance(record.get(t), pl.DataFrame):
                fd, tmp = tempfile.mkstemp(dir=p.parent, suffix=".tmp")
                os.close(fd)
                record[t].write_parquet(tmp)
                os.replace(tmp, self._path(key, f".{t}.parquet"))
        plain = {k: v for k, v in record.items() if k not in (*TABLES, *INBOUND_TABLES)}
        fd, tmp = tempfile.mkstemp(dir=p.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(plain, f)
        os.replace(tmp, p)

    def __len__(self) -> int:
        return sum(1 for _ in self.root.rglob("*.json")) if self.root.exists() else 0

"""Finished runs on disk, keyed by what determines them, so nothing runs twice.

A record is reused only by the code that produced it: the key hashes the effective
scenario, the seed and ``code_fingerprint()``, the source of every module a run executes
(the pacer, the engine, the world modules of ``sim``, ``sim.plan.task`` and the
``sim.plan.platform`` figures a record carries). Plotting,
reporting and the planner's search code are left out, so editing a plot keeps the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import polars as pl

from sim.scenario import Scenario

CACHE_VERSION = 2
TABLES = ("attempts", "intervals")
_ROOT = Path(__file__).resolve().parent.parent.parent
# What a run executes: whole packages, then single modules (paths from the project root).
_CODE_PACKAGES = ("pacer", "engine")
_CODE_MODULES = ("sim/*.py", "sim/plan/task.py", "sim/plan/platform.py")
_code_hash: str | None = None


def code_files() -> list[Path]:
    """The source files ``code_fingerprint`` hashes, in a fixed order."""
    files = [p for pkg in _CODE_PACKAGES for p in sorted((_ROOT / pkg).rglob("*.py"))]
    for pattern in _CODE_MODULES:
        files += sorted(_ROOT.glob(pattern))
    return files


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
        samples read from files); the run seed is ``base seed + replication``.
        """
        material = {
            "version": CACHE_VERSION,
            "raw": scn.raw,
            "validated": repr(replace(scn, source="")),
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
                for t in TABLES:
                    rec[t] = pl.read_parquet(self._path(key, f".{t}.parquet"))
            except (OSError, pl.exceptions.PolarsError):
                return None
        return rec

    def put(self, key: str, record: dict) -> None:
        """Store ``record``; its tables (polars DataFrames) go to Parquet files."""
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        for t in TABLES:
            if isinstance(record.get(t), pl.DataFrame):
                fd, tmp = tempfile.mkstemp(dir=p.parent, suffix=".tmp")
                os.close(fd)
                record[t].write_parquet(tmp)
                os.replace(tmp, self._path(key, f".{t}.parquet"))
        plain = {k: v for k, v in record.items() if k not in TABLES}
        fd, tmp = tempfile.mkstemp(dir=p.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(plain, f)
        os.replace(tmp, p)

    def __len__(self) -> int:
        return sum(1 for _ in self.root.rglob("*.json")) if self.root.exists() else 0

"""Batches of runs for compare, sweep and size: KPI rows, an on-disk cache, any executor.

A *task* is ``(scenario, seed)``; replication ``i`` of base seed ``s`` is the task with seed
``s + i`` (as in ``sim.replicate``). Workers return one flat *KPI row* per task, not the
attempt tables, so a cluster ships kilobytes back. Finished rows are kept on disk, keyed by
a hash of what determines them (see ``ResultCache.key``), so an interrupted sweep resumes
where it stopped and a repeated search reuses every point it already ran.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import polars as pl

from engine import kpi
from sim.executors import Executor, InProcess
from sim.replicate import mean_ci95
from sim.run import RunResult, simulate
from sim.scenario import Scenario

# Over the agent-based voice campaigns (their attempts and the agents' time):
AGENT_KEYS = ("attempts_agent_voice", "bhcc_agent_voice", "live_answers", "abandons",
              "abandon_rate", "abandon_rate_ofcom", "occupancy", "agent_wait_mean_s",
              "service_level")
# Over the whole scenario (every channel; ports are shared): BHCC means every channel.
TOTAL_KEYS = ("attempts", "bhcc", "blocked", "ports_peak", "ports_mean")
KPI_KEYS = AGENT_KEYS + TOTAL_KEYS
FRACTION_KEYS = kpi.FRACTION_KPIS
_AGENT_VOICE = {"live_answers", "abandons", "abandon_rate", "abandon_rate_ofcom"}
KPI_DOC = {k: kpi.KPIS[k] + (" (agent-based voice)" if k in _AGENT_VOICE else "")
           for k in KPI_KEYS}
CACHE_VERSION = 1


def kpi_row(scn: Scenario, run: RunResult) -> dict[str, float]:
    """The flat KPIs of one run (keys ``KPI_KEYS``), every formula from ``engine.kpi``.

    Outcome KPIs count the agent-based voice attempts completed in the measured window,
    each campaign's live answers against its own service-level threshold. Occupancy and
    agent wait come from the run's agent time, which only agent-based campaigns use.
    """
    lo = scn.warmup_s
    hi = lo + scn.sim_s
    sl = [c.sl_threshold_s for c in scn.campaigns]
    att = (kpi.agent_voice(kpi.in_window(run.attempts, lo, hi))
           .with_columns(pl.col("job").replace_strict(list(range(len(sl))), sl,
                                                      return_dtype=pl.Float64).alias("_sl")))
    c = kpi.counts(att, pl.col("_sl"))
    row = {
        "attempts_agent_voice": float(c["attempts"]),
        "bhcc_agent_voice": kpi.bhcc(c["attempts"], hi - lo),
        "live_answers": float(c["live_answers"]),
        "abandons": float(c["abandons"]),
        "abandon_rate": kpi.rate_fcc(c),
        "abandon_rate_ofcom": kpi.rate_ofcom(c),
        "occupancy": float(run.total["occupancy"]),
        "agent_wait_mean_s": float(run.total["agent_wait_mean_s"]),
        "service_level": kpi.service_level_from(c),
        "attempts": float(run.total["attempts"]),
        "bhcc": float(run.total["bhcc"]),
        "blocked": float(run.total["blocked"]),
        "ports_peak": float(run.total["ports_peak"]),
        "ports_mean": float(run.total["ports_mean"]),
    }
    return row


def run_kpis(scn: Scenario, seed: int) -> dict:
    """One task on a worker: simulate, keep the KPI row, drop the tables."""
    run = simulate(scn, seed)
    return {"seed": seed, "wall_s": run.wall_s, "kpis": kpi_row(scn, run),
            "warnings": list(run.warnings)}


_CODE_PACKAGES = ("pacer", "engine", "sim")
_code_hash: str | None = None


def code_fingerprint() -> str:
    """A hash of the simulator's source (``pacer``, ``engine``, ``sim``): a cached row is
    reused only by the code that produced it, so a recalibrated pacer never reads stale rows."""
    global _code_hash
    if _code_hash is None:
        h = hashlib.sha256()
        root = Path(__file__).resolve().parent.parent
        for pkg in _CODE_PACKAGES:
            for p in sorted((root / pkg).rglob("*.py")):
                h.update(str(p.relative_to(root)).encode())
                h.update(p.read_bytes())
        _code_hash = h.hexdigest()
    return _code_hash


class ResultCache:
    """Finished KPI rows on disk, one small JSON file per task under ``root``.

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

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        try:
            rec = json.loads(self._path(key).read_text())
        except (OSError, ValueError):
            return None
        return rec if isinstance(rec, dict) and "kpis" in rec else None

    def put(self, key: str, record: dict) -> None:
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(record, f)
        os.replace(tmp, p)

    def __len__(self) -> int:
        return sum(1 for _ in self.root.rglob("*.json")) if self.root.exists() else 0


class Listener(Protocol):
    """Follows a command's batches (a progress bar, a log): ``batch`` before each batch of
    ``n`` tasks, ``done`` once per task as it finishes (``cached`` when read from disk)."""

    def batch(self, label: str, n: int) -> None: ...

    def done(self, record: dict, cached: bool) -> None: ...


def run_all(tasks: Sequence[tuple[Scenario, int]], executor: Executor | None = None,
            cache: ResultCache | None = None, listener: Listener | None = None,
            label: str = "") -> list[dict]:
    """Run every ``(scenario, seed)`` task; returns the records in task order.

    Tasks found in ``cache`` are not run; identical tasks run once. Each new record is
    stored as soon as it arrives, so an interruption loses only the runs in flight.
    """
    executor = executor or InProcess()
    if listener:
        listener.batch(label, len(tasks))
    keys = [ResultCache.key(s, seed) for s, seed in tasks]
    out: list[dict | None] = [None] * len(tasks)
    pending: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        rec = cache.get(k) if cache is not None else None
        if rec is not None:
            out[i] = rec
            if listener:
                listener.done(rec, True)
        else:
            pending.setdefault(k, []).append(i)
    order = list(pending)
    for j, rec in executor.run(run_kpis, [tasks[pending[k][0]] for k in order]):
        if cache is not None:
            cache.put(order[j], rec)
        for i in pending[order[j]]:
            out[i] = rec
            if listener:
                listener.done(rec, False)
    return out  # type: ignore[return-value]


def tasks_for(scn: Scenario, seed: int, replications: int) -> list[tuple[Scenario, int]]:
    """The replications of one scenario: seeds ``seed .. seed + replications - 1``."""
    return [(scn, seed + i) for i in range(replications)]


def summarise_rows(rows: Sequence[dict[str, float]],
                   keys: Sequence[str] = KPI_KEYS) -> tuple[dict, dict]:
    """Means and 95 % intervals of KPI rows: ``({key: mean}, {key: [lo, hi] or None})``.

    Every KPI is >= 0 and the rates and occupancy (``FRACTION_KEYS``) are <= 1, so the
    Student-t bounds are clipped to that range (a t interval around a few small rates
    reaches below 0); a bound judged against a target in the range gives the same verdict.
    """
    means, ci = {}, {}
    for k in keys:
        m, lo, hi = mean_ci95([r[k] for r in rows])
        means[k] = m
        if lo is None or hi is None:
            ci[k] = None
            continue
        top = 1.0 if k in FRACTION_KEYS else math.inf
        ci[k] = [min(max(lo, 0.0), top), min(max(hi, 0.0), top)]
    return means, ci

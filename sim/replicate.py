"""Independent replications and their 95 % confidence intervals.

Replication ``i`` of a run with base seed ``s`` uses seed ``s + i``; each seed goes through
``numpy.random.SeedSequence``, so streams are independent and any executor reproduces them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from scipy import stats

from sim.run import RunResult, simulate
from sim.scenario import Scenario

SUMMARY_KEYS = ("attempts", "bhcc", "live_answers", "abandons", "abandon_rate",
                "abandon_rate_ofcom", "occupancy", "agent_wait_mean_s", "service_level",
                "ports_peak", "ports_mean")


def replication_seeds(seed: int, replications: int) -> list[int]:
    return [seed + i for i in range(replications)]


def mean_ci95(values: Sequence[float]) -> tuple[float, float | None, float | None]:
    """Mean and the two-sided 95 % Student-t interval (None bounds with fewer than 2 values)."""
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return mean, None, None
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    half = float(stats.t.ppf(0.975, n - 1)) * math.sqrt(var / n)
    return mean, mean - half, mean + half


@dataclass
class Summary:
    """Replications averaged: ``total`` and ``campaigns`` hold means, ``ci95`` the intervals."""

    scenario: str
    seed: int
    replications: int
    sim_hours: float
    wall_s: float
    total: dict
    campaigns: list[dict]
    ci95: dict
    warnings: list[str]


def summarise(runs: Sequence[RunResult], wall_s: float) -> Summary:
    first = runs[0]
    total: dict = {}
    ci: dict = {}
    for k in first.total:
        vals = [r.total[k] for r in runs]
        if isinstance(vals[0], dict):
            total[k] = {kk: sum(v[kk] for v in vals) / len(vals) for kk in vals[0]}
            continue
        m, lo, hi = mean_ci95([float(v) for v in vals])
        total[k] = m
        if k in SUMMARY_KEYS:
            ci[k] = None if lo is None else [lo, hi]
    camps = []
    for i, c in enumerate(first.campaigns):
        row = {}
        for k, v in c.items():
            if isinstance(v, int | float) and not isinstance(v, bool):
                row[k] = sum(r.campaigns[i][k] for r in runs) / len(runs)
            elif isinstance(v, dict):
                row[k] = {kk: sum(r.campaigns[i][k][kk] for r in runs) / len(runs) for kk in v}
            else:
                row[k] = v
        camps.append(row)
    warnings = sorted({w for r in runs for w in r.warnings})
    return Summary(first.scenario, first.seed, len(runs), first.sim_hours, wall_s, total,
                   camps, ci, warnings)


def _run(args: tuple[Scenario, int]) -> RunResult:
    scn, seed = args
    return simulate(scn, seed)


def replicate(scn: Scenario, seed: int, replications: int, workers: int = 1,
              on_done: Callable[[RunResult], None] | None = None,
              progress: Callable[[float], None] | None = None) -> list[RunResult]:
    """Run ``replications`` independent runs (local processes when ``workers > 1``).

    Results come back in seed order whatever the executor. ``progress`` receives the
    simulated fraction of each in-process run (not for process pools).
    """
    seeds = replication_seeds(seed, replications)
    if workers <= 1 or replications == 1:
        out = []
        for s in seeds:
            r = simulate(scn, s, progress)
            if on_done:
                on_done(r)
            out.append(r)
        return out
    with ProcessPoolExecutor(max_workers=workers) as ex:
        out = []
        for r in ex.map(_run, [(scn, s) for s in seeds]):
            if on_done:
                on_done(r)
            out.append(r)
        return out

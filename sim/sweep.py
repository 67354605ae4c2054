"""Parameter sweeps: a grid over dotted scenario keys, replications per point, a tidy table.

``agents.count=40:60:10`` varies every agent group's count over 40, 50, 60;
``campaigns.outcomes.live=0.2:0.4:0.1`` every campaign's live-answer share (see
``sim.scenario.apply_overrides`` for the key paths). Every point runs the same seeds.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from sim.replicate import SUMMARY_KEYS, mean_ci95, replicate
from sim.scenario import ScenarioError, load


@dataclass(frozen=True)
class Axis:
    """One varied key and its values."""

    key: str
    values: tuple[float, ...]


def parse_vary(text: str) -> Axis:
    """``key=start:stop:step`` (inclusive stop) or ``key=v1,v2,...``; ValueError if malformed."""
    key, eq, spec = text.partition("=")
    if not eq or not key or not spec:
        raise ValueError(f"--vary {text!r}: expected key=start:stop:step or key=v1,v2,...")
    try:
        if ":" in spec:
            start, stop, step = (float(x) for x in spec.split(":"))
            if step <= 0 or stop < start:
                raise ValueError
            n = int(np.floor((stop - start) / step + 1e-9)) + 1
            values = tuple(round(start + i * step, 12) for i in range(n))
        else:
            values = tuple(float(x) for x in spec.split(","))
    except ValueError:
        raise ValueError(f"--vary {text!r}: expected numbers as start:stop:step (step > 0, "
                         "stop >= start) or a comma-separated list") from None
    if all(v.is_integer() for v in values) and "." not in spec:
        values = tuple(int(v) for v in values)
    return Axis(key.strip(), values)


def sweep(path: str | Path, axes: Sequence[Axis], seed: int | None, replications: int,
          workers: int = 1, base: Mapping | None = None,
          on_point: Callable[[dict], None] | None = None) -> pl.DataFrame:
    """Run the grid; one row per point with the varied values, KPI means and 95 % bounds.

    Raises ``ScenarioError`` (naming the key) when a point's scenario is invalid, before any
    simulation of that point runs.
    """
    rows = []
    grid = list(itertools.product(*[a.values for a in axes]))
    scenarios = []
    for point in grid:
        overrides = {**(base or {}), **{a.key: v for a, v in zip(axes, point, strict=True)}}
        try:
            scenarios.append(load(path, overrides))
        except ScenarioError as exc:
            at = ", ".join(f"{a.key}={v}" for a, v in zip(axes, point, strict=True))
            raise ScenarioError(exc.source, [f"at {at}: {p}" for p in exc.problems]) from None
    for point, scn in zip(grid, scenarios, strict=True):
        runs = replicate(scn, scn.seed if seed is None else seed, replications, workers)
        row: dict = {a.key: v for a, v in zip(axes, point, strict=True)}
        for k in SUMMARY_KEYS:
            m, lo, hi = mean_ci95([float(r.total[k]) for r in runs])
            row[k] = m
            row[f"{k}_lo"] = lo
            row[f"{k}_hi"] = hi
        rows.append(row)
        if on_point:
            on_point(row)
    return pl.DataFrame(rows)


def plot_curves(table: pl.DataFrame, axes: Sequence[Axis], out: Path,
                kpis: Sequence[str] = ("occupancy", "abandon_rate", "bhcc")) -> list[Path]:
    """One PNG per varied key: each KPI's mean against it (other keys at their first value)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for axis in axes:
        sub = table
        for other in axes:
            if other.key != axis.key:
                sub = sub.filter(pl.col(other.key) == other.values[0])
        sub = sub.sort(axis.key)
        fig, plots = plt.subplots(1, len(kpis), figsize=(4 * len(kpis), 3.5))
        for ax, k in zip(np.atleast_1d(plots), kpis, strict=True):
            ax.plot(sub[axis.key].to_numpy(), sub[k].to_numpy(), marker="o")
            if sub[f"{k}_lo"].null_count() == 0:
                ax.fill_between(sub[axis.key].to_numpy(), sub[f"{k}_lo"].to_numpy(),
                                sub[f"{k}_hi"].to_numpy(), alpha=0.2)
            ax.set_xlabel(axis.key)
            ax.set_title(k)
            ax.grid(alpha=0.3)
        fig.tight_layout()
        p = out / f"sweep_{axis.key.replace('.', '_')}.png"
        fig.savefig(p, dpi=100)
        plt.close(fig)
        paths.append(p)
    return paths

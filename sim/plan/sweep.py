"""Parameter sweeps: a grid over dotted scenario keys, replications per point, tidy tables.

``agents.count=40:60:10`` varies every agent group's count over 40, 50, 60 (``agents.GROUP.
count`` one group's); ``campaigns.outcomes.live=0.2:0.4:0.1`` every campaign's live-answer
share (``campaigns.NAME.outcomes.live`` one campaign's); see
``sim.scenario.apply_overrides`` for the key paths. ``agents``, ``ports`` and ``hit_rate``
are short for ``agents.count``, ``telephony.ports`` and ``campaigns.outcomes.live``.
Setting some of the five outcome shares (live, machine, busy, no_answer, invalid) rescales
the others in proportion so they still sum to 1. Every point runs the same seeds (common
random numbers), through any executor, and finished runs are reused from the cache.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from sim.plan.assess import assess_records
from sim.plan.batch import Listener, run_all, tasks_for
from sim.plan.cache import ResultCache
from sim.plan.executors import Executor
from sim.plan.stats import KPI_KEYS, summarise_rows
from sim.scenario import (
    _AGENTS,
    _BLENDING,
    _CAMPAIGN,
    _CAMPAIGN_TABLES,
    _INBOUND,
    _SECTIONS,
    _SKILL_PACING,
    ScenarioError,
    load,
    read_raw,
)

MAX_POINTS = 10_000  # values of one axis, and points of a whole grid
_TOO_MANY = "each point runs every replication: split a larger sweep"
_NOT_VARIED = ("scenario.seed", "scenario.replications")  # commands take --seed and -r
# Words planners use for a quantity that has another key here.
SYNONYMS = {
    "hit_rate": ("campaigns.outcomes.live", "campaigns.initial_hit_rate"),
    "live": ("campaigns.outcomes.live",),
    "agents": ("agents.count",),
    "ports": ("telephony.ports",),
    "talk": ("campaigns.talk.mean_s",),
    "aht": ("campaigns.talk.mean_s", "campaigns.wrap.mean_s"),
}

# Short names a sweep accepts for one key each (the tables name the full key).
ALIASES = {
    "agents": "agents.count",
    "ports": "telephony.ports",
    "hit_rate": "campaigns.outcomes.live",  # the live-answer share of attempts
}


@dataclass(frozen=True)
class Axis:
    """One varied key and its values."""

    key: str
    values: tuple[float, ...]


MAX_MAGNITUDE = 1e15  # past every scenario bound, and below 2**53: a count stays exact


def _tidy(v: float, step: float) -> float:
    """A grid value after the start without the float noise of ``start + i * step``
    (0.1 * 3 is 0.30000000000000004): 12 significant digits, and 0 within a billionth of a
    step of it. Relative, not 12 decimal places, so 1e-300 stays 1e-300."""
    return 0.0 if abs(v) < abs(step) * 1e-9 else float(f"{v:.12g}")


def parse_vary(text: str) -> Axis:
    """``key=start:stop:step`` (inclusive stop) or ``key=v1,v2,...``; ValueError if malformed."""
    key, eq, spec = text.partition("=")
    if not eq or not key or not spec:
        raise ValueError(f"--vary {text!r}: expected key=start:stop:step or key=v1,v2,...")
    try:
        if ":" in spec:
            start, stop, step = (float(x) for x in spec.split(":"))
            if not (step > 0 and stop >= start and np.isfinite([start, stop, step]).all()):
                raise ValueError
            n = (stop - start) / step + 1e-9
            if n >= MAX_POINTS:
                raise ValueError(f"--vary {text!r}: {n:.3g} values; expected at most "
                                 f"{MAX_POINTS} ({_TOO_MANY}): raise the step")
            n = int(np.floor(n)) + 1
            values = (start, *(_tidy(start + i * step, step) for i in range(1, n)))
        else:
            values = tuple(float(x) for x in spec.split(","))
            if not np.isfinite(values).all():
                raise ValueError
            if len(values) > MAX_POINTS:
                raise ValueError(f"--vary {text!r}: {len(values)} values; expected at most "
                                 f"{MAX_POINTS} ({_TOO_MANY})")
    except ValueError as exc:
        if str(exc).startswith("--vary"):
            raise
        raise ValueError(f"--vary {text!r}: expected finite numbers as start:stop:step "
                         "(step > 0, stop >= start) or a comma-separated list") from None
    if max(abs(v) for v in values) > MAX_MAGNITUDE:  # 1e308 printed as a 309-digit count
        raise ValueError(f"--vary {text!r}: expected values within +-{MAX_MAGNITUDE:g} (no "
                         "scenario key takes more)")
    if all(v.is_integer() for v in values) and "." not in spec:
        values = tuple(int(v) for v in values)
    return Axis(key.strip(), values)


def resolve(axis: Axis) -> Axis:
    """``axis`` with a short name (``ALIASES``: agents, ports, hit_rate) replaced by its key."""
    return Axis(ALIASES[axis.key], axis.values) if axis.key in ALIASES else axis


def _numeric(spec: Mapping) -> list[str]:
    return [k for k, f in spec.items()
            if isinstance(f.kind, tuple) or f.kind in (int, float)]


def numeric_keys(raw: Mapping[str, Any]) -> list[str]:
    """Every dotted key a sweep can vary in this scenario (numbers only), generic forms:
    ``agents.count`` sets every group, ``campaigns.outcomes.live`` every campaign."""
    keys = [f"{sec}.{k}" for sec, spec in _SECTIONS.items() for k in _numeric(spec)
            if f"{sec}.{k}" not in _NOT_VARIED]
    keys += [f"agents.{k}" for k in _numeric(_AGENTS)]
    keys += [f"campaigns.{k}" for k in _numeric(_CAMPAIGN) if k != "copies"]
    keys += [f"campaigns.{t}.{k}" for t, spec in _CAMPAIGN_TABLES.items()
             for k in _numeric(spec)]
    keys += [f"campaigns.{t}.{k}" for t, spec in (("blending", _BLENDING),
                                                  ("skill_pacing", _SKILL_PACING))
             for k in _numeric(spec)]
    keys += [f"inbound.{k}" for k in _numeric(_INBOUND)]
    keys += [f"inbound.{t}.{k}" for t in ("talk", "wrap", "patience") for k in ("mean_s", "cv")]
    return keys


def _generic(key: str, raw: Mapping[str, Any]) -> str:
    """``agents.team.count`` -> ``agents.count``, ``campaigns.sales.talk.mean_s`` ->
    ``campaigns.talk.mean_s`` (names of existing entries removed)."""
    parts = key.split(".")
    if parts[0] in ("agents", "campaigns", "inbound") and len(parts) > 2:
        field = {"agents": "group", "campaigns": "name", "inbound": "skill"}[parts[0]]
        names = {e.get(field) for e in raw.get(parts[0], []) if isinstance(e, dict)}
        if parts[1] in names:
            return ".".join([parts[0], *parts[2:]])
    return key


def check_key(key: str, raw: Mapping[str, Any]) -> None:
    """Raise ValueError unless ``key`` is a numeric scenario key; the message suggests the
    closest keys and lists every key that can be varied."""
    valid = numeric_keys(raw)
    if _generic(key, raw) in valid:
        return
    leaf = key.split(".")[-1]
    hints = list(SYNONYMS.get(leaf, ())) + list(SYNONYMS.get(key, ()))
    hints += difflib.get_close_matches(_generic(key, raw), valid, n=2, cutoff=0.6)
    hints += [k for k in valid if k.endswith(f".{leaf}")]
    hints = list(dict.fromkeys(hints))[:4]
    groups = sorted({str(e.get("group")) for e in raw.get("agents", []) if isinstance(e, dict)})
    camps = sorted({str(e.get("name")) for e in raw.get("campaigns", []) if isinstance(e, dict)})
    more = f"did you mean {' or '.join(hints)}? " if hints else ""
    raise ValueError(
        f"--vary {key}: not a numeric scenario key. {more}Keys that can be varied: "
        f"{', '.join(valid)} (one entry only: agents.GROUP.KEY with GROUP in "
        f"{', '.join(groups) or '-'}; campaigns.NAME.KEY with NAME in {', '.join(camps) or '-'})")


@dataclass
class SweepResult:
    """``table``: one row per grid point (varied values, KPI means, 95 % bounds ``_lo`` and
    ``_hi``); ``runs``: one row per point and replication (seed and every KPI)."""

    table: pl.DataFrame
    runs: pl.DataFrame
    axes: list[Axis]
    seed: int
    replications: int
    scenario: str  # the scenario's name (``scenario.name``, overrides applied)


def sweep(path: str | Path, axes: Sequence[Axis], seed: int | None, replications: int,
          executor: Executor | None = None, cache: ResultCache | None = None,
          base: Mapping[str, Any] | None = None,
          listener: Listener | None = None) -> SweepResult:
    """Run the grid, every point with seeds ``seed .. seed + replications - 1``.

    Raises:
        ValueError: when a varied key is not a numeric scenario key (before anything runs).
        ScenarioError: when a point's scenario is invalid, naming the key and the point,
            before anything runs.
    """
    raw = read_raw(path)
    axes = [resolve(a) for a in axes]
    for a in axes:
        check_key(a.key, raw)
    keys = [a.key for a in axes]
    if len(set(keys)) != len(keys):
        raise ValueError(f"--vary: a key is varied twice ({', '.join(keys)})")
    size = int(np.prod([len(a.values) for a in axes], dtype=float))
    if size > MAX_POINTS:
        raise ValueError(f"--vary: the grid has {size:,} points; expected at most "
                         f"{MAX_POINTS:,} ({_TOO_MANY})")
    grid = list(itertools.product(*[a.values for a in axes]))
    scenarios = []
    for point in grid:
        at = dict(zip(keys, point, strict=True))
        try:
            scenarios.append(load(path, {**(base or {}), **at}, raw))
        except ScenarioError as exc:
            where = ", ".join(f"{k}={v}" for k, v in at.items())
            raise ScenarioError(exc.source, [f"at {where}: {p}" for p in exc.problems]) from None
    seed = scenarios[0].seed if seed is None else seed
    tasks = [t for s in scenarios for t in tasks_for(s, seed, replications)]
    recs = run_all(tasks, executor, cache, listener, label=f"{len(grid)} point(s)")
    rows, runs = [], []
    for p, point in enumerate(grid):
        at = dict(zip(keys, point, strict=True))
        mine = recs[p * replications:(p + 1) * replications]
        means, ci = summarise_rows([r["kpis"] for r in mine])
        row: dict = {**at, "replications": replications}
        for k in KPI_KEYS:
            row[k] = means[k]
            row[f"{k}_lo"] = ci[k][0] if ci[k] else None
            row[f"{k}_hi"] = ci[k][1] if ci[k] else None
        row.update(assess_records(scenarios[p], mine).row())
        rows.append(row)
        runs += [{**at, "replication": i, "seed": r["seed"], **r["kpis"]}
                 for i, r in enumerate(mine)]
    schema = {f"{k}_{b}": pl.Float64 for k in KPI_KEYS for b in ("lo", "hi")}
    table = pl.DataFrame(rows, schema_overrides=schema, infer_schema_length=None)
    return SweepResult(table, pl.DataFrame(runs, infer_schema_length=None), list(axes), seed,
                       replications, scenarios[0].name)


PLOT_KPIS = ("occupancy", "abandon_rate", "agent_wait_mean_s", "bhcc")


def plot_curves(result: SweepResult, out: Path, kpis: Sequence[str] = PLOT_KPIS,
                abandon_limit: float | Sequence[float] | None = None) -> list[Path]:
    """One PNG per varied key: each KPI's mean and 95 % band against it, the abandon rate
    against ``abandon_limit`` (one, or each rule's when the campaigns follow several).

    With two varied keys, one line per value of the other; with more, the others sit at
    their first value (said in the title).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    table, axes = result.table, result.axes
    paths = []
    for axis in axes:
        others = [a for a in axes if a.key != axis.key]
        series_axis = others[0] if len(others) == 1 else None
        sub = table
        fixed = []
        for o in others:
            if o is not series_axis:
                sub = sub.filter(pl.col(o.key) == o.values[0])
                fixed.append(f"{o.key}={o.values[0]:g}")
        series = series_axis.values if series_axis else [None]
        fig, plots = plt.subplots(1, len(kpis), figsize=(4 * len(kpis), 3.6), squeeze=False)
        for ax, k in zip(plots[0], kpis, strict=True):
            for v in series:
                part = sub if v is None else sub.filter(pl.col(series_axis.key) == v)
                part = part.sort(axis.key)
                x = part[axis.key].to_numpy()
                label = None if v is None else f"{series_axis.key}={v:g}"
                ax.plot(x, part[k].to_numpy(), marker="o", label=label)
                if part[f"{k}_lo"].null_count() == 0:
                    ax.fill_between(x, part[f"{k}_lo"].to_numpy(), part[f"{k}_hi"].to_numpy(),
                                    alpha=0.2)
            if k == "abandon_rate" and abandon_limit is not None:
                for lim in sorted({float(x) for x in np.atleast_1d(abandon_limit)}):
                    ax.axhline(lim, color="red", ls="--", lw=1)
            ax.set_xlabel(axis.key)
            ax.set_title(k)
            ax.grid(alpha=0.3)
            if series_axis is not None:
                ax.legend(fontsize=7)
        title = f"sweep of {axis.key}" + (f" ({', '.join(fixed)})" if fixed else "")
        fig.suptitle(title)
        fig.tight_layout()
        p = out / f"sweep_{axis.key.replace('.', '_')}.png"
        fig.savefig(p, dpi=100)
        plt.close(fig)
        paths.append(p)
    return paths

"""``outdial size``: the minimum agents, ports or licenses meeting every target."""

from __future__ import annotations

import json
from pathlib import Path

import click

from outdial.app import Application
from outdial.cli._batch import (
    MAX_REPLICATIONS,
    ProgressListener,
    batch_options,
    open_cache,
    open_executor,
    overrides_from,
    scenario_options,
    warn_scenario,
)


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--find", type=click.Choice(["agents", "ports", "licenses"]), required=True,
              help="The resource to size: agents (agents.count; with several groups, all of "
                   "them in the scenario's mix), ports (telephony.ports) or licenses (the "
                   "pool the agent-based campaigns draw from).")
@click.option("--target", "target_text", required=True, metavar="KPI<=X,KPI>=Y",
              help="Every target to meet at the 95 % bound, e.g. "
                   "\"abandon_rate<=0.03,occupancy>=0.85\" (rates as fractions 0..1).")
@click.option("--key", default=None, help="Resize this dotted key instead (e.g. "
              "agents.team.count when there are several agent groups).")
@click.option("--min", "lower", type=click.IntRange(min=0), default=None,
              help="Smallest value searched (default 1).")
@click.option("--max", "upper", type=click.IntRange(min=1), default=None,
              help="Largest value searched (default 8x the scenario's; licenses: the agents).")
@click.option("--replications", "-r", type=click.IntRange(min=2, max=MAX_REPLICATIONS),
              default=5, show_default=True,
              help="Replications per value (the same seeds at every value).")
@click.option("--max-replications", type=click.IntRange(min=2, max=MAX_REPLICATIONS),
              default=None, help="Replications a value grows to, doubling, while a target "
              "is undecided there (its mean on the right side, its 95 % interval across the "
              "limit) [default: 4x --replications; equal to it: never more].")
@scenario_options
@batch_options
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write size.json, size.parquet (one row per value) and size_runs.parquet.")
@click.option("--plots", is_flag=True, help="The targets' KPIs against the resource.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.pass_obj
def size(app: Application, scenario: Path, find: str, target_text: str, key: str | None,
         lower: int | None, upper: int | None, replications: int,
         max_replications: int | None, seed: int | None,
         hours: float | None, sets: tuple[str, ...], workers: int, scheduler: str | None,
         dask_local: int | None, cache_dir: Path | None, no_cache: bool, out: Path | None,
         plots: bool, as_json: bool) -> None:
    """Find the minimum resource of SCENARIO meeting every target with confidence.

    A <= target is judged on the upper 95 % bound, a >= target on the lower bound (KPIs over
    the agent-based campaigns). The search brackets the answer by doubling or halving, then
    bisects; the report shows the values around the answer. A value with a target
    undecided (the interval across the limit) gets more replications before it is judged.
    """
    from sim.plan import size as sz

    try:
        targets = sz.parse_targets(target_text)
    except ValueError as exc:
        app.fail(str(exc))
    base = overrides_from(app, hours, sets)
    warn_scenario(app, scenario, base)
    cache = open_cache(app, out, cache_dir, no_cache)
    try:
        with open_executor(app, workers, scheduler, dask_local) as ex, \
                ProgressListener(app, f"size {find}", quiet=as_json) as listener:
            res = sz.size(scenario, find, targets, seed, replications, ex, cache, base, key,
                          lower, upper, listener=listener, max_replications=max_replications)
    except ValueError as exc:  # ScenarioError included
        app.fail(" ".join(str(exc).split()))
    payload = _payload(scenario, res)
    app.write_outputs(out, plots, lambda d: _write(d, payload, res),
                      lambda d: [_plot(d / "size.png", res)])
    if as_json:
        app.print_json(payload)
        return
    _print(app, res)
    for w in res.warnings:
        app.warn(w)


def _payload(scenario: Path, res) -> dict:
    def point(p) -> dict:
        d = {"value": p.value, "meets": p.meets, "verdicts": p.verdicts,
             "replications": p.replications, "kpis": p.kpis, "ci95": p.ci95}
        if p.assessment is not None:
            a = p.assessment.as_dict()
            d.update({"targets": a["targets"], "targets_verdict": a["verdict"],
                      "platform": a["platform"]})
        return d

    return {"scenario": res.scenario, "scenario_file": str(scenario), "find": res.find,
            "key": res.key,
            "targets": [str(t) for t in res.targets], "seed": res.seed,
            "replications": res.replications, "max_replications": res.max_replications,
            "answer": res.answer,
            "search_range": [res.lower, res.upper],
            "neighbours": [point(p) for p in res.neighbours()],
            "evaluated": [point(p) for p in res.points], "warnings": res.warnings,
            **({"groups": res.groups} if res.groups else {})}


def _cell(k: str, p, t=None) -> str:
    from engine.kpi import FRACTION_KPIS  # fractions 0..1, shown as %

    mean, ci = p.kpis[k], p.ci95[k]
    scale, unit = (100.0, " %") if k in FRACTION_KPIS else (1.0, "")
    text = f"{scale * mean:,.2f}{unit}"
    if t is not None and ci is not None:
        text += f" ({'upper' if t.op == '<=' else 'lower'} {scale * t.bound(mean, ci):,.2f})"
    return text


def _mark(t, p) -> str:
    """A cell's verdict mark: none where ``t`` is met at ``p``, `` ?`` where it is undecided
    (the mean on the right side, the judged bound not: more replications may meet it),
    `` ✗`` where it is missed (the mean itself on the wrong side)."""
    if p.verdicts[str(t)]:
        return ""
    return " ?" if t.holds(p.kpis[t.kpi]) else " ✗"


def _print(app: Application, res) -> None:
    cols = [res.key, *[str(t) for t in res.targets], "meets all", "platform tier"]
    grown = any(p.replications > res.replications for p in res.points)
    if grown:
        cols.append("replications")
    rows = []
    for p in res.points:
        mark = " ◀ minimum" if p.value == res.answer else ""
        cells = [f"{p.value}{mark}"]
        for t in res.targets:
            cells.append(_cell(t.kpi, p, t) + _mark(t, p))
        cells.append("yes" if p.meets else "no")
        tier = p.assessment.platform.tier if p.assessment is not None else None
        cells.append("-" if tier is None else str(tier))
        if grown:
            cells.append(str(p.replications))
        rows.append(cells)
    title = (f"minimum {res.key} = {res.answer}" if res.answer is not None
             else f"no {res.key} found meeting every target")
    reps = f"{res.replications} replications" + (
        f", up to {res.max_replications} where undecided" if grown else "")
    app.table(f"{title} ({reps}, seed {res.seed})", cols, rows,
              caption="every value evaluated; each cell: mean (the 95 % bound judged), ✗ "
                      "where the target is missed (its mean on the wrong side), ? where it "
                      "is undecided (the mean on the right side, the bound not)")
    if res.groups:
        app.info("agents by group at the minimum (the scenario's mix): " + ", ".join(
            f"{g} {n:,}" for g, n in res.groups.items()))


def _write(out: Path, payload: dict, res) -> list[Path]:
    import polars as pl

    from sim.plan.stats import KPI_KEYS

    rows, runs = [], []
    for p in res.points:
        row = {res.key: p.value, "meets": p.meets, **{f"meets[{k}]": v
                                                        for k, v in p.verdicts.items()},
               **(p.assessment.row() if p.assessment is not None else {})}
        for k in KPI_KEYS:
            row[k] = p.kpis[k]
            row[f"{k}_lo"], row[f"{k}_hi"] = p.ci95[k] or (None, None)
        rows.append(row)
        runs += [{res.key: p.value, "replication": i, **r} for i, r in enumerate(p.runs)]
    paths = [out / "size.json", out / "size.parquet", out / "size_runs.parquet"]
    paths[0].write_text(json.dumps(payload, indent=2))
    pl.DataFrame(rows, infer_schema_length=None).write_parquet(paths[1])
    pl.DataFrame(runs, infer_schema_length=None).write_parquet(paths[2])
    return paths


def _plot(path: Path, res) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kpis = list(dict.fromkeys(t.kpi for t in res.targets))
    fig, axes = plt.subplots(1, len(kpis), figsize=(4.5 * len(kpis), 3.6), squeeze=False)
    x = [p.value for p in res.points]
    for ax, k in zip(axes[0], kpis, strict=True):
        y = [p.kpis[k] for p in res.points]
        lo = [p.ci95[k][0] for p in res.points]
        hi = [p.ci95[k][1] for p in res.points]
        ax.plot(x, y, marker="o")
        ax.fill_between(x, lo, hi, alpha=0.2, label="95 % interval")
        for t in res.targets:
            if t.kpi == k:
                ax.axhline(t.value, color="red", ls="--", lw=1, label=str(t))
        if res.answer is not None:
            ax.axvline(res.answer, color="green", lw=1, label=f"minimum {res.answer}")
        ax.set_xlabel(res.key)
        ax.set_title(k)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

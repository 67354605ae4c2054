"""``outdial sweep``: a grid over scenario parameters, replications per point."""

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

TABLE_KPIS = {"occupancy": "occupancy", "abandon_rate": "abandon FCC",
              "abandon_rate_ofcom": "abandon Ofcom", "agent_wait_mean_s": "wait s",
              "service_level": "SL", "bhcc": "BHCC"}
PER_LIVE_ANSWER = ("abandon_rate", "abandon_rate_ofcom", "service_level")  # shares of them


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--vary", "varies", multiple=True, required=True, metavar="KEY=START:STOP:STEP",
              help="A dotted scenario key and its values (stop included), or KEY=V1,V2,...; "
                   "repeat for a grid, e.g. --vary agents.count=40:60:10 "
                   "--vary campaigns.outcomes.live=0.2:0.4:0.1 (agents, ports and hit_rate "
                   "are short for agents.count, telephony.ports, campaigns.outcomes.live).")
@click.option("--replications", "-r", type=click.IntRange(min=1, max=MAX_REPLICATIONS),
              default=3, show_default=True,
              help="Replications per point (the same seeds at every point).")
@scenario_options
@batch_options
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write sweep.parquet (one row per point), sweep_runs.parquet (one row per "
                   "run) and sweep.json here; finished runs are kept in OUT/cache.")
@click.option("--plots", is_flag=True, help="KPI curves against each varied key (into --out, "
              "or ./out).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.pass_obj
def sweep(app: Application, scenario: Path, varies: tuple[str, ...], replications: int,
          seed: int | None, hours: float | None, sets: tuple[str, ...], workers: int,
          scheduler: str | None, dask_local: int | None, cache_dir: Path | None,
          no_cache: bool, out: Path | None, plots: bool, as_json: bool) -> None:
    """Simulate SCENARIO at every point of the grid and tabulate the KPIs.

    Outcome KPIs are over the agent-based voice campaigns (bhcc_agent is their attempts per
    hour); attempts, bhcc (every channel), blocked and ports are over the whole scenario;
    means with 95 % intervals. Setting some outcome shares
    (campaigns.outcomes.live...) rescales the others to keep their sum 1. An interrupted
    sweep resumes from the cache.
    """
    from sim.plan import sweep as sw
    from sim.scenario import ScenarioError

    try:
        axes = [sw.parse_vary(v) for v in varies]
    except ValueError as exc:
        app.fail(str(exc))
    base = overrides_from(app, hours, sets)
    warn_scenario(app, scenario, base)
    cache = open_cache(app, out, cache_dir, no_cache)
    try:
        with open_executor(app, workers, scheduler, dask_local) as ex, \
                ProgressListener(app, "sweep", quiet=as_json) as listener:
            res = sw.sweep(scenario, axes, seed, replications, ex, cache, base, listener)
    except ValueError as exc:  # ScenarioError is a ValueError
        app.fail(str(exc) if not isinstance(exc, ScenarioError) else _one_line(exc))
    payload = {"scenario": res.scenario, "scenario_file": str(scenario), "seed": res.seed,
               "replications": replications, "axes": {a.key: list(a.values) for a in res.axes},
               "points": res.table.to_dicts()}

    def tables(d: Path) -> list[Path]:
        files = [d / "sweep.parquet", d / "sweep_runs.parquet", d / "sweep.json"]
        res.table.write_parquet(files[0])
        res.runs.write_parquet(files[1])
        files[2].write_text(json.dumps(payload, indent=2))
        return files

    def figures(d: Path) -> list[Path]:
        from sim.plan.limits import rule_groups
        from sim.scenario import load

        scn = load(scenario, base)
        limits = [g.regulation.abandon_limit for g in rule_groups(scn)] \
            or [scn.regulation.abandon_limit]
        return sw.plot_curves(res, d, abandon_limit=limits)

    app.write_outputs(out, plots, tables, figures)
    if as_json:
        app.print_json(payload)
        return
    keys = [a.key for a in res.axes]
    rows = []
    for r in res.table.to_dicts():
        cells = [f"{r[k]:g}" for k in keys]
        for k in TABLE_KPIS:
            if k in PER_LIVE_ANSWER and not r.get("live_answers"):
                cells.append("-")  # no agent-based live answer (an inbound-only centre)
                continue
            cells.append(_cell(k, r[k], r[f"{k}_lo"], r[f"{k}_hi"]))
        cells.append("-" if r.get("platform_tier") is None else str(r["platform_tier"]))
        cells.append({True: "met", False: "MISSED", None: "undecided"}[r.get("targets_met")]
                     if r.get("targets_verdict") != "no targets declared" else "-")
        rows.append(cells)
    app.table(f"sweep of {res.scenario}: {replications} replication(s) per point, "
              f"seed {res.seed}", [*keys, *TABLE_KPIS.values(), "tier", "targets"], rows,
              caption="agent-based campaigns: mean [95 % interval]")


def _cell(key: str, mean: float, lo: float | None, hi: float | None) -> str:
    """``mean [lo, hi]``: the 95 % interval's own bounds, not a half-width (a rate's
    interval is asymmetric, and any is clipped to the KPI's range: ``65.93 ± 50.00 %`` was
    printed for 65.93 % in [0, 100 %])."""
    pct = key in ("occupancy", "abandon_rate", "abandon_rate_ofcom", "service_level")
    scale, unit, digits = (100.0, " %", 2) if pct else (1.0, "", 1)
    text = f"{scale * mean:,.{digits}f}"
    if lo is not None and hi is not None:
        text += f" [{scale * lo:,.{digits}f}, {scale * hi:,.{digits}f}]"
    return text + unit


def _one_line(exc) -> str:
    return f"{exc.source}: " + "; ".join(exc.problems)

"""``outdial simulate``: run a scenario's busy hour(s) and report KPIs with confidence intervals.

Replications run like every other command's: through ``sim.plan.batch.run_all`` on the
executor the options ask for (this process, ``--workers`` local processes, or Dask), reusing
finished runs from the cache.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from outdial.app import Application
from outdial.cli._batch import (
    MAX_REPLICATIONS,
    FiniteFloatRange,
    ProgressListener,
    batch_options,
    open_cache,
    open_executor,
    overrides_from,
    scenario_options,
)


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--replications", "-r", type=click.IntRange(min=1, max=MAX_REPLICATIONS),
              default=None,
              help="Independent replications, seeds SEED .. SEED+R-1 (default: the "
                   "scenario's).")
@scenario_options
@click.option("--warmup-s", type=FiniteFloatRange(min=0), default=None,
              help="Warm-up seconds deleted before measuring (default: the scenario's).")
@click.option("--policy", default=None,
              help="Pacing for every agent-based campaign: predictive, progressive[:R], "
                   "preview, ratio:R, vicidial-hard, vicidial-tapered, vicidial-average.")
@batch_options
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write attempts/intervals Parquet and kpis.json here.")
@click.option("--plots", is_flag=True, help="Write PNG plots (into --out, or ./out).")
@click.option("--intervals", "show_intervals", is_flag=True,
              help="Also print one row per measured interval (time of day on the scenario's "
                   "clock): attempts, live answers, abandons, agents, occupancy, dial level.")
@click.option("--no-events", is_flag=True,
              help="Do not build and measure the engine's event stream (faster); the Kafka "
                   "disk then uses the documented 50 GB per million attempts.")
@click.option("--keep-warmup", is_flag=True,
              help="Keep the warm-up's rows in the Parquet tables (flagged in_warmup).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.pass_obj
def simulate(app: Application, scenario: Path, replications: int | None, seed: int | None,
             hours: float | None, sets: tuple[str, ...], warmup_s: float | None,
             policy: str | None, workers: int, scheduler: str | None, dask_local: int | None,
             cache_dir: Path | None, no_cache: bool, out: Path | None, plots: bool,
             show_intervals: bool, no_events: bool, keep_warmup: bool,
             as_json: bool) -> None:
    """Simulate SCENARIO (a TOML file) and print its KPIs."""
    from outdial import report
    from sim.plan.assess import assess
    from sim.plan.batch import run_all, tasks_for
    from sim.plan.stats import summarise
    from sim.scenario import ScenarioError, load, with_policy

    overrides = overrides_from(app, hours, sets)
    if warmup_s is not None:
        overrides["scenario.warmup_s"] = warmup_s
    try:
        scn = load(scenario, overrides)
        if policy is not None:
            scn = with_policy(scn, policy)
    except ScenarioError as exc:
        app.fail(str(exc))
    except ValueError as exc:
        app.fail(f"--policy: {exc}")
    seed = scn.seed if seed is None else seed
    reps = replications or scn.replications
    tables = out is not None or plots
    cache = open_cache(app, out, cache_dir, no_cache)
    t0 = time.perf_counter()
    with open_executor(app, workers, scheduler, dask_local) as ex, \
            ProgressListener(app, f"simulating {scn.name}", quiet=as_json) as listener:
        records = run_all(tasks_for(scn, seed, reps), ex, cache, listener,
                          label=f"{reps} replication(s)", tables=tables,
                          events=not no_events)
    s = summarise(records, scn.name, scn.sim_hours, time.perf_counter() - t0,
                  scn.warnings, regulation=scn.regulations)
    a = assess(scn, s.total, s.ci95, s.campaigns, records)
    app.write_outputs(out, plots,
                      lambda d: report.write_outputs(d, s, records, scn, a, keep_warmup),
                      lambda d: report.write_plots(d, records, scn))
    if as_json:
        app.print_json(report.summary_json(s, a, scn.source))
        return
    report.print_summary(app, s, scn.regulation.mode)
    if show_intervals:
        report.print_intervals(app, s, scn.start_local or scn.start)
    report.print_assessment(app, a)
    for w in a.warnings:
        app.warn(w)

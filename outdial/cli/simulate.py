"""``outdial simulate``: run a scenario's busy hour(s) and report KPIs with confidence intervals."""

from __future__ import annotations

import time
from pathlib import Path

import click

from outdial.app import Application


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--seed", type=int, default=None, help="Base seed (default: the scenario's).")
@click.option("--replications", "-r", type=click.IntRange(min=1), default=None,
              help="Independent replications (default: the scenario's).")
@click.option("--hours", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Measured hours after the warm-up (default: the scenario's sim_hours).")
@click.option("--warmup-s", type=click.FloatRange(min=0), default=None,
              help="Warm-up seconds deleted before measuring (default: the scenario's).")
@click.option("--policy", default=None,
              help="Pacing for every agent-based campaign: predictive, progressive[:R], "
                   "preview, ratio:R, vicidial-hard, vicidial-tapered, vicidial-average.")
@click.option("--workers", type=click.IntRange(min=1), default=1,
              help="Local processes for replications.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write attempts/intervals Parquet and kpis.json here.")
@click.option("--plots", is_flag=True, help="Write PNG plots (into --out, or ./out).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.pass_obj
def simulate(app: Application, scenario: Path, seed: int | None, replications: int | None,
             hours: float | None, warmup_s: float | None, policy: str | None, workers: int,
             out: Path | None, plots: bool, as_json: bool) -> None:
    """Simulate SCENARIO (a TOML file) and print its KPIs."""
    from outdial import report
    from sim.replicate import summarise
    from sim.scenario import ScenarioError, load, with_policy

    overrides = {}
    if hours is not None:
        overrides["scenario.sim_hours"] = hours
    if warmup_s is not None:
        overrides["scenario.warmup_s"] = warmup_s
    try:
        scn = load(scenario, overrides)
        if policy:
            scn = with_policy(scn, policy)
    except ScenarioError as exc:
        app.fail(str(exc))
    except ValueError as exc:
        app.fail(f"--policy: {exc}")
    seed = scn.seed if seed is None else seed
    reps = replications or scn.replications
    t0 = time.perf_counter()
    runs = _run_with_progress(app, scn, seed, reps, workers, quiet=as_json)
    s = summarise(runs, time.perf_counter() - t0)
    app.write_outputs(out, plots, lambda d: report.write_outputs(d, s, runs),
                      lambda d: report.write_plots(d, runs, scn.regulation.abandon_limit))
    if as_json:
        app.print_json(report.summary_json(s))
    else:
        report.print_summary(app, s)


def _run_with_progress(app: Application, scn, seed: int, reps: int, workers: int,
                       quiet: bool):
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from sim.replicate import replicate

    if quiet or not app.interactive:
        return replicate(scn, seed, reps, workers)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("{task.percentage:>3.0f} %"), TimeElapsedColumn(),
                  console=app.err, transient=True) as prog:
        task = prog.add_task(f"simulating {scn.name}", total=float(reps))
        done = [0]

        def finished(_r) -> None:
            done[0] += 1
            prog.update(task, completed=float(done[0]))

        def step(fraction: float) -> None:  # within the current in-process replication
            prog.update(task, completed=done[0] + fraction)

        return replicate(scn, seed, reps, workers, on_done=finished,
                         progress=step if workers <= 1 or reps == 1 else None)

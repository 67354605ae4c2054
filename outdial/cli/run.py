"""``outdial run``: the engine live against the emulated platform, on a persistent store."""

from __future__ import annotations

from pathlib import Path

import click

from outdial.app import Application


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--store", "store_path", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="SQLite store (WAL); an existing one is resumed after recovery.")
@click.option("--factor", type=float, default=1.0, show_default=True,
              help="Wall seconds per run second (0.01: a hundred times faster).")
@click.option("--events", "events_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Append the engine's events to this JSON-lines file.")
@click.option("--seed", type=int, default=None, help="Random seed (default: the scenario's).")
@click.option("--hours", type=float, default=None, help="Override scenario.sim_hours.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
def run(app: Application, scenario: Path, store_path: Path, factor: float,
        events_path: Path | None, seed: int | None, hours: float | None,
        as_json: bool) -> None:
    """Run SCENARIO's jobs in real time on the store; after a crash, run it again: trapped
    attempts are reported and re-queued, finished contacts are not dialled again."""
    from engine.sinks import JsonlSink, SinkError
    from engine.store_schema import StoreError
    from sim.live import run_live
    from sim.scenario import ScenarioError, load

    if not factor > 0:
        app.fail(f"--factor: expected wall seconds per run second > 0, got {factor}")
    try:
        scn = load(scenario, {"scenario.sim_hours": hours} if hours is not None else None)
    except ScenarioError as exc:
        app.fail(str(exc))
    sink = None
    try:
        if events_path is not None:
            sink = JsonlSink(events_path, append=True)

        def started(summary: dict) -> None:
            if summary["recorded_attempts"]:
                app.err.print(f"{store_path}: resumed at run second {summary['resume_s']:.1f}: "
                              f"{summary['recorded_attempts']} attempts recorded, "
                              f"{summary['trapped']} trapped (re-queued), "
                              f"{summary['requeued_contacts']} contacts re-decided")

        summary = run_live(scn, store_path, factor, seed, sink, on_start=started)
    except (StoreError, SinkError) as exc:
        app.fail(str(exc))
    finally:
        if sink is not None:
            sink.close()
    if as_json:
        app.print_json(summary)
    else:
        app.out.print(f"{scn.name}: {summary['attempts_this_run']} attempts this run, "
                      f"{summary['trapped']} trapped records recovered; jobs: "
                      + ", ".join(f"{k} {v}" for k, v in summary["job_states"].items()))

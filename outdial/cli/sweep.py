"""``outdial sweep``: a grid over scenario parameters, replications per point."""

from __future__ import annotations

from pathlib import Path

import click

from outdial.app import Application


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--vary", "varies", multiple=True, required=True,
              help="key=start:stop:step or key=v1,v2 (dotted scenario key, e.g. agents.count).")
@click.option("--replications", "-r", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--seed", type=int, default=None, help="Base seed (default: the scenario's).")
@click.option("--hours", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Measured hours per run (default: the scenario's).")
@click.option("--workers", type=click.IntRange(min=1), default=1, help="Local processes.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write sweep.parquet (and curves with --plots) here.")
@click.option("--plots", is_flag=True, help="KPI curves against each varied key.")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON rows.")
@click.pass_obj
def sweep(app: Application, scenario: Path, varies: tuple[str, ...], replications: int,
          seed: int | None, hours: float | None, workers: int, out: Path | None, plots: bool,
          as_json: bool) -> None:
    """Simulate SCENARIO at every point of the grid and tabulate the KPIs."""
    from sim import sweep as sw
    from sim.scenario import ScenarioError

    try:
        axes = [sw.parse_vary(v) for v in varies]
    except ValueError as exc:
        app.fail(str(exc))
    base = {"scenario.sim_hours": hours} if hours else None
    try:
        table = sw.sweep(scenario, axes, seed, replications, workers, base,
                         on_point=lambda row: app.info(f"done {row}"[:100]))
    except ScenarioError as exc:
        app.fail(str(exc))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        table.write_parquet(out / "sweep.parquet")
        if plots:
            for p in sw.plot_curves(table, axes, out):
                app.info(f"wrote {p}")
    if as_json:
        app.print_json(table.to_dicts())
        return
    keys = [a.key for a in axes]
    cols = [*keys, "occupancy", "abandon_rate", "agent_wait_mean_s", "bhcc"]
    app.table(f"sweep of {scenario.name}", cols,
              [[f"{row[c]:.4g}" if isinstance(row[c], float) else row[c] for c in cols]
               for row in table.select(cols).to_dicts()])

"""``outdial report``: one self-contained HTML page from a results folder."""

from __future__ import annotations

from pathlib import Path

import click

from outdial.app import Application, write_error


@click.command()
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="HTML file to write (default: RESULTS_DIR/report.html).")
@click.pass_obj
def report(app: Application, results_dir: Path, output: Path | None) -> None:
    """Write an HTML report of RESULTS_DIR (the --out folder of simulate, compare, sweep or
    size): scenario, verdict, platform, KPI tables with intervals, plots and the policy
    comparison, in one file that needs no network."""
    from outdial.html_report import ReportError, render

    try:
        html = render(results_dir)
    except ReportError as exc:
        app.fail(str(exc))
    target = output or results_dir / "report.html"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(html, encoding="utf-8")
    except OSError as exc:
        app.fail(f"{target}: cannot write the report ({write_error(exc, target)})")
    app.info(f"wrote {target} ({len(html.encode()) / 1024:,.0f} KiB)")

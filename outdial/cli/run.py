"""``outdial run CONFIG``: the production engine live on the wall clock.

CONFIG (TOML) names the jobs (a scenario file), the store, the events file and the three
live systems with their credentials (from the environment or files). ``--emulate`` starts
loopback emulators of the voice portal's web service, AES DMCC and CMS, driven by the
scenario's simulated platform, so the whole live path runs on one machine. SIGINT,
SIGTERM or SIGHUP (its terminal closed) stops gracefully (attempts in flight end or are
recorded; nothing left PENDING); run the same command again to resume.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from outdial.app import Application

if TYPE_CHECKING:
    from outdial.live.config import LiveConfig

LOG_BYTES = 64 << 20  # a run's log file, rotated at this size
LOG_FILES = 4  # rotated files kept beside it
# Control characters in a logged message, written escaped (a tab stays a tab)
_ESCAPED = {c: f"\\x{c:02x}" for c in (*range(32), 127) if c != 9} | {10: "\\n", 13: "\\r"}


def one_line_formatter():
    """The run log's formatter: each record's message on one line. A far end's text (a
    SOAP fault string, a CSTA error, a CMS row) holding line breaks or other control
    characters is written escaped, so it cannot forge lines of the log."""
    import logging

    class OneLine(logging.Formatter):
        def formatMessage(self, record: logging.LogRecord) -> str:
            record.message = record.message.translate(_ESCAPED)
            return super().formatMessage(record)

    return OneLine("%(asctime)s %(levelname)s %(name)s: %(message)s")


def _log_to_file(cfg) -> None:
    """The adapters' and engine's log lines go to ``<store>.log`` (or outdial-run.log),
    not over the live view, rotated at ``LOG_BYTES`` with ``LOG_FILES`` kept; they never
    hold a credential."""
    import logging
    import logging.handlers
    target = (Path(f"{cfg.store_sqlite}.log") if cfg.store_sqlite is not None
              else Path("outdial-run.log"))
    try:  # rotated: a far end sending garbage for hours cannot fill the disk with lines
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            target, maxBytes=LOG_BYTES, backupCount=LOG_FILES, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(one_line_formatter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


@click.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--emulate", is_flag=True,
              help="Start loopback emulators of EPM, AES and CMS driven by the simulator.")
@click.option("--hours", type=float, default=None, help="Override run.hours.")
@click.option("--speed", type=float, default=None,
              help="Override run.speed (run seconds per wall second; emulated runs only).")
@click.option("--store", "store_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Override store.sqlite.")
@click.option("--events", "events_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Override events.jsonl.")
@click.option("--json", "as_json", is_flag=True, help="Print the final summary as JSON.")
@click.option("--no-view", is_flag=True, help="No live terminal view.")
@click.pass_obj
def run(app: Application, config: Path, emulate: bool, hours: float | None,
        speed: float | None, store_path: Path | None, events_path: Path | None,
        as_json: bool, no_view: bool) -> None:
    """Run CONFIG's jobs live; after a crash or a stop, run it again to resume."""
    import dataclasses

    from outdial.live.config import (
        HOURS_WHAT,
        SPEED_WHAT,
        ConfigError,
        hours_ok,
        load_config,
        speed_ok,
    )
    from outdial.live.session import RunError, run_live

    try:
        cfg = load_config(config, emulate=emulate)
    except ConfigError as exc:
        app.fail(str(exc))
    if hours is not None and not hours_ok(hours):
        app.fail(f"--hours: expected {HOURS_WHAT.replace('omit it', 'omit --hours')}, "
                 f"got {hours}")
    if speed is not None and not speed_ok(speed):
        app.fail(f"--speed: expected {SPEED_WHAT}, got {speed}")
    if speed not in (None, 1.0) and not emulate:
        app.fail("--speed: only an emulated run (--emulate) may run faster than real time")
    over = {k: v for k, v in (("hours", hours), ("speed", speed), ("store_sqlite", store_path),
                              ("events_jsonl", events_path)) if v is not None}
    if store_path is not None:
        over["store_postgres"] = None
    cfg = dataclasses.replace(cfg, **over)
    _log_to_file(cfg)
    live = None
    if not no_view and app.err.is_terminal:
        from rich.live import Live

        from outdial.live.view import render, snapshot
        live = Live(console=app.err, auto_refresh=False)

        def second(session) -> None:
            live.update(render(snapshot(session), session.scn.regulation.mode), refresh=True)
    else:
        second = None

    def started(summary: dict) -> None:
        if summary["recorded_attempts"]:
            app.err.print(f"{summary['store']}: resumed at run second {summary['start_s']:.1f}: "
                          f"{summary['recorded_attempts']} attempts recorded, "
                          f"{summary['trapped']} in flight at its end "
                          f"({summary['trapped_connected']} talking to an agent, "
                          f"{summary['trapped_abandoned']} waiting for one: recorded so; "
                          "the others TRAPPED, re-queued), "
                          f"{summary['events_left_by_last_run']} stored events published",
                          markup=False)
        if summary.get("timeline_not_run"):
            app.warn(f"the scenario's [[timeline]] ({summary['timeline_not_run']} actions) "
                     "scripts a simulated supervisor; a live run does not carry it out "
                     "(outdial control pauses, resumes, stops, sets limits and logs off "
                     "live)")
        if "control_socket" in summary:
            where = f" --store {store_path}" if store_path is not None else ""
            app.err.print(f"supervise it from another terminal: outdial control {config} "
                          "status | pause JOB | resume JOB | stop JOB | set JOB ... | logoff "
                          f"--agent N{where}", markup=False)
        if live is not None:
            live.start()

    try:
        summary = run_live(cfg, emulate, on_start=started, on_second=second)
    except RunError as exc:
        app.fail(str(exc), code=1)
    finally:
        if live is not None:
            live.stop()
    if as_json:
        app.print_json(summary)
    else:
        app.out.print(f"{summary['attempts']} attempts this run ({summary['reason']}), "
                      f"{summary['left_pending']} left pending, {summary['lost_events']} "
                      "events unpublished; jobs: "
                      + ", ".join(f"{k} {v}" for k, v in summary["job_states"].items()),
                      markup=False)
        if "kpis" in summary:
            _print_kpis(app, summary, cfg)
        for w in summary.get("warnings", []):
            app.warn(w)


def _print_kpis(app: Application, summary: dict, cfg: LiveConfig) -> None:
    """This run's KPIs per campaign and in total (``summary["kpis"]``, ``["campaigns"]``):
    the abandon rate each campaign's regulation counts (its own ``[campaigns.regulation]``,
    else the scenario's; the total in the scenario's), occupancy, agent wait."""
    from outdial.report import fmt_kpi
    from sim.scenario import load

    scn = load(cfg.scenario)  # loaded by the run already
    mode = {c.name: scn.regulation_of(c).mode for c in scn.campaigns}
    ofcom = scn.regulation.mode == "ofcom"
    rows = []
    for name, k in [*((c["name"], c) for c in summary["campaigns"]),
                    ("total", summary["kpis"])]:
        own = mode.get(name, scn.regulation.mode) == "ofcom"
        key = "abandon_rate_ofcom" if own else "abandon_rate"
        rows.append([name, fmt_kpi("", k["attempts"]), fmt_kpi("", k["live_answers"]),
                     fmt_kpi("", k["abandons"]),
                     fmt_kpi("abandon_rate", k[key])
                     + ("" if own == ofcom else " (Ofcom)" if own else " (FCC)"),
                     fmt_kpi("occupancy", k["occupancy"]), f"{k['agent_wait_mean_s']:.1f}"])
    app.table("this run", ["campaign", "attempts", "live", "abandons",
                           "abandon (Ofcom)" if ofcom else "abandon", "occupancy",
                           "agent wait s"], rows)

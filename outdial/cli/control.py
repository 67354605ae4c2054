"""``outdial control CONFIG ACTION [JOB]``: a supervisor's request to the running
``outdial run CONFIG`` (its control socket, ``outdial.live.control``).

    outdial control site.toml status
    outdial control site.toml agents
    outdial control site.toml pause sales
    outdial control site.toml set sales --min-agents 4 --max-agents 20 --priority 3
    outdial control site.toml logoff --agent 17
    outdial control site.toml import sales --file new-leads.csv
    outdial control site.toml shutdown
    outdial control site.toml disposition --attempt 1234 --agent 7 --code callback \
        --callback-at 2026-12-03T15:30:00+01:00 --personal
"""

from __future__ import annotations

from pathlib import Path

import click

from outdial.app import Application

IMPORT_WAIT_S = 600.0  # seconds an import's reply is waited for (others: 10)
ACTIONS = ("status", "agents", "pause", "resume", "stop", "set", "logoff", "import",
           "shutdown", "disposition")


@click.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("action", type=click.Choice(ACTIONS))
@click.argument("job", required=False)
@click.option("--min-agents", type=int, default=None, help="set: the job's minimum agents.")
@click.option("--max-agents", type=int, default=None, help="set: the job's maximum agents.")
@click.option("--priority", type=int, default=None, help="set: the job's priority (>= 1).")
@click.option("--agent", type=int, default=None,
              help="logoff, disposition: the agent's number (from 0, in the run's agent "
              "order).")
@click.option("--attempt", type=int, default=None,
              help="disposition: the attempt the agent's call was.")
@click.option("--code", default=None,
              help="disposition: sale, complete, not_interested, callback, dnc, "
              "wrong_number.")
@click.option("--callback-at", default=None,
              help="disposition callback: ISO 8601 time with its UTC offset.")
@click.option("--callback-in-s", type=float, default=None,
              help="disposition callback: seconds from now.")
@click.option("--personal", is_flag=True,
              help="disposition callback: put through to the same agent.")
@click.option("--file", "contacts_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="import: a contact file (CSV or Parquet) with the job's "
              "list columns.")
@click.option("--store", "store_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The store the run was given with --store (its socket is beside it).")
@click.option("--socket", "socket_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The control socket (default: the configuration's).")
@click.option("--json", "as_json", is_flag=True, help="Print the run's reply as JSON.")
@click.pass_obj
def control(app: Application, config: Path, action: str, job: str | None,
            min_agents: int | None, max_agents: int | None, priority: int | None,
            agent: int | None, attempt: int | None, code: str | None,
            callback_at: str | None, callback_in_s: float | None, personal: bool,
            contacts_file: Path | None, store_path: Path | None,
            socket_path: Path | None, as_json: bool) -> None:
    """Ask the running `outdial run CONFIG` to pause, resume or stop JOB, change its agent
    limits or priority (set), log an agent off, import contacts into JOB, say its jobs'
    state (status) or its agents' (agents), stop the whole run gracefully (shutdown), or
    give an agent's disposition of its call (disposition, as the agent desktop does)."""
    import dataclasses

    from outdial.live.config import ConfigError, load_config
    from outdial.live.control import ControlError, request

    try:  # credentials are the run's business: not needed to reach its socket
        cfg = load_config(config, emulate=True)
    except ConfigError as exc:
        app.fail(str(exc))
    if not cfg.control and socket_path is None:
        app.fail(f"{config}: control.enabled is false: the run takes no requests")
    if store_path is not None:
        cfg = dataclasses.replace(cfg, store_sqlite=store_path, store_postgres=None)
    path = socket_path if socket_path is not None else cfg.control_path()
    req: dict = {"action": action}
    if action in ("pause", "resume", "stop", "set", "import"):
        if job is None:
            app.fail(f"{action}: name the job (outdial control CONFIG {action} JOB)")
        req["job"] = job
    elif job is not None:
        app.fail(f"{action}: takes no job, got {job!r}")
    limits = {"min_agents": min_agents, "max_agents": max_agents, "priority": priority}
    if action == "set":
        req.update({k: v for k, v in limits.items() if v is not None})
    elif any(v is not None for v in limits.values()):
        app.fail(f"{action}: --min-agents, --max-agents and --priority go with set")
    if action in ("logoff", "disposition"):
        if agent is None:
            app.fail(f"{action}: name the agent (--agent N)")
        req["agent"] = agent
    elif agent is not None:
        app.fail(f"{action}: --agent goes with logoff or disposition")
    extra = {"attempt": attempt, "code": code, "callback_at": callback_at,
             "callback_in_s": callback_in_s, "personal": personal or None}
    if action == "disposition":
        if attempt is None or code is None:
            app.fail("disposition: name the attempt and the code (--attempt N --code CODE)")
        req.update({k: v for k, v in extra.items() if v is not None})
    elif any(v is not None for v in extra.values()):
        app.fail(f"{action}: --attempt, --code, --callback-at, --callback-in-s and "
                 "--personal go with disposition")
    if action == "import":
        if contacts_file is None:
            app.fail("import: name the contact file (--file PATH)")
        req["file"] = str(contacts_file.resolve())  # the run may work in another folder
    elif contacts_file is not None:
        app.fail(f"{action}: --file goes with import")
    try:  # an import reads its whole file before it answers (5M rows: about 15 s)
        reply = request(path, req, timeout_s=IMPORT_WAIT_S if action == "import" else 10.0)
    except ControlError as exc:
        app.fail(str(exc), code=1)
    if as_json:
        app.print_json(reply)
    if not reply["ok"]:
        app.fail(f"refused: {reply.get('error')}", code=1)
    if as_json:
        return
    result = reply.get("result") or {}
    if action == "status":
        _print_status(app, result)
    elif action == "shutdown":
        app.out.print(f"the run: shutdown {result.get('shutdown')}", markup=False)
    elif action == "agents":
        app.table("agents logged in", ["agent", "state", "job", "since (run s)"],
                  [[str(a["agent"]), a["state"], a["job"] or "-", f"{a['since_s']:.0f}"]
                   for a in result.get("agents", [])])
    elif action == "logoff":
        app.out.print(f"agent {result.get('agent')}: {result.get('state')}", markup=False)
    elif action == "disposition":
        app.out.print(f"attempt {result.get('attempt')} (contact {result.get('contact_id')}, "
                      f"job {result.get('job')}): {result.get('code')}, "
                      f"{result.get('state')}", markup=False)
    elif action == "import":
        app.out.print(f"{result.get('job')}: {result.get('imported')} of {result.get('rows')} "
                      f"contacts imported ({result.get('selected')} selected by the job's "
                      f"filter), {result.get('duplicates')} already in its list, "
                      f"{result.get('skipped')} malformed rows skipped", markup=False)
        for p in result.get("problems") or []:
            app.warn(f"{result.get('file')}: {p}")
    else:
        app.out.print(f"{result.get('job')}: {result.get('state')} (agents "
                      f"{result.get('agents')}, min {result.get('min_agents')}, max "
                      f"{_most(result)}, priority {result.get('priority')})", markup=False)


def _most(job: dict) -> str:
    """A job's maximum agents as shown: "any" for the default (no maximum set)."""
    from engine.supervisor import LIMIT_MAX

    m = job.get("max_agents")
    return "any" if isinstance(m, int) and m >= LIMIT_MAX else str(m)


def _print_status(app: Application, snap: dict) -> None:
    from outdial.report import fmt_kpi

    rows = [[j["job"], j["state"], fmt_kpi("", j["attempts"]), fmt_kpi("", j["live"]),
             fmt_kpi("", j["abandons"]), fmt_kpi("abandon_rate", j["abandon_window"]),
             str(j["in_flight"]), str(j["agents"]), f"{j['min_agents']}-{_most(j)}",
             str(j["priority"])] for j in snap.get("jobs", [])]
    app.table(f"outdial run at run second {snap.get('run_s', 0):.0f}",
              ["job", "state", "attempts", "live", "abandons", "abandon", "in flight",
               "agents", "min-max", "priority"], rows)
    occ = snap.get("occupancy")
    app.out.print(f"agents logged in {snap.get('agents_logged_in')}, occupancy "
                  f"{'-' if occ is None else fmt_kpi('occupancy', occ)}", markup=False)
    skills = snap.get("skills") or {}
    if skills:  # the inbound skills CMS reports, and the agents blending lent them
        lent = snap.get("agents_on_inbound")
        app.out.print("inbound skills (CMS): " + ", ".join(
            f"{k} {w} waiting, {a}/{n} available" for k, (w, a, n) in sorted(skills.items()))
            + ("" if lent is None else f"; blending: {lent} agents lent to inbound"),
            markup=False)

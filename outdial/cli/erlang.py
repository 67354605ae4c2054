"""``outdial erlang``: Erlang B, C and A calculators that compute forward and solve for staff.

Each subcommand validates its options here (so errors name the option) and calls the closed
forms and solvers of ``sim.erlang``. Three shapes of answer:

- forward (``--agents 14``, ``--servers 15``): the figures of one staffing level;
- solve (no ``--agents``, a goal such as ``--service-level 0.8``; ``erlang b`` with
  ``--blocking``): the fewest agents or servers meeting every goal, with the forward figures
  at that count (the same numbers ``--agents N`` prints);
- staffing table (``--agents 10:20`` or ``10:20:2``): one row per count.

``--json`` prints one object (inputs under ``"inputs"``); ``--plot FILE.png`` draws the
curve. ``sim.erlang`` (numpy, scipy) and matplotlib are imported inside the command bodies
to keep ``outdial --help`` instant.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from outdial.app import Application, write_error

_json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object instead of a table."
)
_plot_option = click.option(
    "--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Draw the curve over the agents/servers (the table's range, else around the answer) "
         "into this PNG file.",
)
_calls_option = click.option(
    "--calls-per-hour", type=float, default=None,
    help="Offered calls per hour (>= 0); leave out with --agents N and a goal to solve for "
         "the most calls the agents take.",
)
_aht_option = click.option(
    "--aht-s", type=float, required=True,
    help="Average handling time, talk + wrap, in seconds (> 0).",
)
_agents_option = click.option(
    "--agents", default=None,
    help="Agents on the phones: N for one level, FROM:TO[:STEP] for a staffing table; "
         "leave out to solve for the fewest agents meeting the goals.",
)
_target_option = click.option(
    "--target-s", type=float, default=20.0, show_default=True,
    help="Service-level threshold in seconds (>= 0).",
)
_sl_option = click.option(
    "--service-level", type=float, default=None,
    help="Goal: least share answered within --target-s, a fraction in (0, 1) (0.8 = 80 %).",
)
_occ_option = click.option(
    "--max-occupancy", type=float, default=None,
    help="Goal: largest agent occupancy, a fraction in (0, 1].",
)
_asa_option = click.option(
    "--max-asa-s", type=float, default=None,
    help="Goal: largest mean wait in seconds (> 0).",
)
_shrinkage_option = click.option(
    "--shrinkage", type=float, default=0.0, show_default=True,
    help="Share of paid time off the phones, in [0, 1): scheduled = ceil(agents / (1 - s)).",
)

_LABELS = {
    "p_wait": "P(wait)",
    "p_abandon": "P(abandon)",
    "asa_s": "ASA",
    "mean_wait_s": "Mean wait (all calls)",
    "service_level": "Service level",
    "occupancy": "Occupancy",
}


def _check(app: Application, checks: list[tuple[str, Any, Callable[[Any], bool], str]]) -> None:
    """Fail on the first ``(option, value, predicate, expected)`` whose predicate is false."""
    for option, value, ok, expected in checks:
        if value is not None and not ok(value):
            app.fail(f"{option} must be {expected}, got {value}")


def _finite_positive(v: float) -> bool:
    return math.isfinite(v) and v > 0.0


def _finite_non_negative(v: float) -> bool:
    return math.isfinite(v) and v >= 0.0


def _fraction_open(v: float) -> bool:
    return math.isfinite(v) and 0.0 < v < 1.0


def _percent_hint(option: str, v: float) -> str:
    if v == 1.0:  # as likely 100 % as 1 %: "1 % is 0.01" alone read as if 1 meant 1 %
        return " (1 is 100 %; 1 % is 0.01)"
    return f" ({v:g} % is {v / 100:g})" if 1.0 < v <= 100.0 else ""


def _check_fraction(app: Application, option: str, value: float | None,
                    ok: Callable[[float], bool], bound: str) -> None:
    if value is not None and not ok(value):
        app.fail(f"{option} must be a fraction in {bound}, got {value:g}"
                 f"{_percent_hint(option, value)}")


def _counts(app: Application, option: str, text: str | None) -> list[int] | None:
    """``N`` -> ``[N]``; ``FROM:TO[:STEP]`` -> that inclusive range; ``None`` stays ``None``."""
    if text is None:
        return None
    from sim.erlang import MAX_COUNT  # the solvers' range: one evaluation costs O(count)

    parts = text.split(":")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(parts) == 1 and values:
        if values[0] < 1:
            app.fail(f"{option} must be a whole number >= 1, got {text}")
        if values[0] > MAX_COUNT:
            app.fail(f"{option} must be a whole number >= 1 (at most {MAX_COUNT:,}), got {text}")
        return values
    if len(values) in (2, 3) and len(values) == len(parts):
        start, stop = values[0], values[1]
        step = values[2] if len(values) == 3 else 1
        if start >= 1 and stop >= start and step >= 1 and (stop - start) // step < 10_000 \
                and stop <= MAX_COUNT:
            return list(range(start, stop + 1, step))
    app.fail(f"{option} must be a whole number >= 1 or FROM:TO[:STEP] with 1 <= FROM <= TO "
             f"<= {MAX_COUNT:,} (at most 10,000 rows), got {text}")


def _percent(p: float) -> str:
    if 0.0 < p < 5e-5:
        return "< 0.01 %"
    if 1.0 - 5e-5 < p < 1.0:
        return "> 99.99 %"
    return f"{100.0 * p:.2f} %"


def _seconds(s: float) -> str:
    return f"{s:.2f} s" if math.isfinite(s) else "inf (unstable)"


def _show(key: str, v: float) -> str:
    return _seconds(v) if key.endswith("_s") else _percent(v)


def _call(app: Application, fn: Callable[..., Any], *args: Any) -> Any:
    """Run a library call; a ValueError it raises becomes a one-line error."""
    try:
        return fn(*args)
    except ValueError as exc:
        app.fail(str(exc))


def _around(n: int) -> list[int]:
    """Counts to plot around a solved ``n`` when no range was given."""
    span = max(5, n // 4)
    return list(range(max(1, n - span), n + span + 1))


def _plot(path: Path, x: list[int], curves: dict[str, list[float]], xlabel: str, title: str,
          goals: dict[str, float], answer: int | None, log_y: bool = False) -> Path:
    """One PNG: each curve in percent against the counts, goal lines dashed, answer dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for label, ys in curves.items():
        line, = ax.plot(x, [100.0 * y for y in ys], marker=".", label=label)
        if label in goals:
            ax.axhline(100.0 * goals[label], color=line.get_color(), linestyle="--",
                       linewidth=1, label=f"{label} goal {100.0 * goals[label]:g} %")
    if answer is not None:
        ax.axvline(answer, color="black", linestyle=":", linewidth=1, label=f"answer: {answer}")
    if log_y:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # counts are whole numbers
    ax.set_xlabel(xlabel)
    ax.set_ylabel("%")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    except (OSError, ValueError) as exc:  # an unwritable place, or a suffix matplotlib lacks
        why = write_error(exc, path) if isinstance(exc, OSError) else str(exc)
        raise click.BadParameter(f"cannot write {path}: {why}", param_hint="--plot") from None
    finally:
        plt.close(fig)
    return path


@click.group()
def erlang() -> None:
    """Erlang B, C and A calculators: forward, solve for staff, staffing tables."""


# --------------------------------------------------------------------------- Erlang B


@erlang.command("b")
@click.option("--traffic-erlangs", type=float, default=None,
              help="Offered traffic in erlangs (>= 0).")
@click.option("--servers", default=None,
              help="Trunks or ports: N, or FROM:TO[:STEP] for a table; leave out to solve "
                   "for the fewest meeting --blocking.")
@click.option("--blocking", type=float, default=None,
              help="Goal: largest blocking probability, a fraction in (0, 1).")
@_plot_option
@_json_option
@click.pass_obj
def erlang_b_command(app: Application, traffic_erlangs: float | None, servers: str | None,
                     blocking: float | None, plot: Path | None, as_json: bool) -> None:
    """Loss system (M/M/n/n): blocking of ports or trunks with no queue.

    Give two of --traffic-erlangs, --servers and --blocking and the third is computed:
    traffic and servers give the blocking; traffic and blocking the fewest servers;
    servers and blocking the largest traffic they carry at that blocking.
    """
    _check(app, [("--traffic-erlangs", traffic_erlangs, _finite_non_negative,
                  "a number >= 0")])
    counts = _counts(app, "--servers", servers)
    _check_fraction(app, "--blocking", blocking, _fraction_open, "(0, 1)")
    from sim.erlang import erlang_b, erlang_b_capacity, servers_for_blocking

    if traffic_erlangs is None:
        if counts is None or blocking is None or len(counts) != 1:
            app.fail("give two of --traffic-erlangs, --servers N and --blocking")
        n = counts[0]
        a = _call(app, erlang_b_capacity, n, blocking)
        if as_json:
            app.print_json({"inputs": {"servers": n, "blocking": blocking},
                            "traffic_erlangs": a, "carried_erlangs": a * (1.0 - blocking)})
            return
        app.table("Erlang B: traffic capacity", ["quantity", "value"],
                  [["Offered traffic", f"{a:.3f} E"],
                   ["Carried traffic", f"{a * (1.0 - blocking):.3f} E"]],
                  caption=f"{n} servers at {_percent(blocking)} blocking")
        return
    a = traffic_erlangs
    answer = _call(app, servers_for_blocking, a, blocking) if blocking is not None else None
    if counts is None:
        if answer is None:
            app.fail("give --servers N (or FROM:TO) or --blocking with --traffic-erlangs")
        counts_shown, single = [answer], answer
    else:
        counts_shown, single = counts, (counts[0] if len(counts) == 1 else None)
    rows = [{"servers": n, "blocking": erlang_b(a, n), "carried_erlangs": 0.0}
            for n in (_around(answer) if counts is None and plot else counts_shown)]
    for r in rows:
        r["carried_erlangs"] = a * (1.0 - r["blocking"])
    if plot is not None:
        written = _plot(plot, [r["servers"] for r in rows], {"blocking": [r["blocking"]
                        for r in rows]}, "servers", f"Erlang B: {a:g} E offered",
                        {"blocking": blocking} if blocking is not None else {}, answer)
        app.info(f"wrote {written}")
    inputs: dict[str, Any] = {"traffic_erlangs": a}
    if single is not None:
        b = erlang_b(a, single)
        if counts is not None:
            inputs["servers"] = single
        if blocking is not None:
            inputs["blocking"] = blocking
        if as_json:
            payload: dict[str, Any] = {"inputs": inputs}
            if counts is None:
                payload["servers"] = single
            payload["blocking"] = b
            payload["carried_erlangs"] = a * (1.0 - b)
            app.print_json(payload)
            return
        table = [["Blocking", _percent(b)], ["Carried traffic", f"{a * (1.0 - b):.3f} E"]]
        if counts is None:
            table.insert(0, ["Servers needed", f"{single}"])
        app.table("Erlang B" if counts is not None else "Erlang B: servers needed",
                  ["quantity", "value"], table,
                  caption=f"{a:g} E offered to {single} servers")
        return
    if blocking is not None:
        inputs["blocking"] = blocking
        for r in rows:
            r["meets"] = r["blocking"] <= blocking
    if as_json:
        app.print_json({"inputs": inputs, "rows": rows, "servers_needed": answer})
        return
    columns = ["servers", "blocking", "carried"] + (["meets"] if blocking is not None else [])
    table = [[r["servers"], _percent(r["blocking"]), f"{r['carried_erlangs']:.3f} E"]
             + (["yes" if r["meets"] else "no"] if blocking is not None else []) for r in rows]
    app.table("Erlang B staffing table", columns, table,
              caption=f"{a:g} E offered" + (f"; fewest servers at {_percent(blocking)}: {answer}"
                                            if answer is not None else ""))


# --------------------------------------------------------------------------- Erlang C / A


def _warn_if_overloaded(
    app: Application, calls_per_hour: float, aht_s: float, agents: int, patient: bool
) -> float:
    load = calls_per_hour * aht_s / 3600.0
    if load >= agents if patient else load > agents:  # at load = agents, A's bound is 0
        if patient:
            app.warn(
                f"offered load {load:.2f} E >= {agents} agents: with no abandonment the queue "
                "grows without bound (try `outdial erlang a` with --patience-s)"
            )
        else:
            app.warn(
                f"offered load {load:.2f} E >= {agents} agents: at least "
                f"{1.0 - agents / load:.1%} of calls abandon"
            )
    return load


def _capacity(app: Application, *, aht_s: float, n: int, patience_s: float | None,
              goals: Any, as_json: bool, name: str) -> None:
    """Solve for the most calls per hour ``n`` agents take within the goals."""
    from dataclasses import asdict

    from sim.erlang import erlang_a_metrics, erlang_c_metrics, max_calls_for_goals

    cph = _call(app, max_calls_for_goals, aht_s, n, goals, patience_s)
    m = (erlang_c_metrics(cph, aht_s, n, goals.target_s) if patience_s is None
         else erlang_a_metrics(cph, aht_s, n, patience_s, goals.target_s))
    inputs: dict[str, Any] = {"aht_s": aht_s, "agents": n}
    if patience_s is not None:
        inputs["patience_s"] = patience_s
    inputs["target_s"] = goals.target_s
    inputs.update({f"goal_{k}": v for k, v in asdict(goals).items()
                   if v is not None and k != "target_s"})
    if as_json:
        app.print_json({"inputs": inputs, "calls_per_hour": cph,
                        "traffic_erlangs": cph * aht_s / 3600.0, **asdict(m)})
        return
    rows = [["Most calls per hour", f"{cph:,.1f}"],
            ["Offered traffic", f"{cph * aht_s / 3600.0:.3f} E"]]
    rows += [[_LABELS[k], _show(k, v)] for k, v in asdict(m).items()]
    app.table(f"{name}: calls the agents can take", ["quantity", "value"], rows,
              caption=f"{n} agents, AHT {aht_s:g} s, SL within {goals.target_s:g} s")


def _queue(app: Application, *, calls_per_hour: float | None, aht_s: float, agents: str | None,
           target_s: float, patience_s: float | None, service_level: float | None,
           max_abandon: float | None, max_occupancy: float | None, max_asa_s: float | None,
           shrinkage: float, plot: Path | None, as_json: bool) -> None:
    """The body of ``erlang c`` (``patience_s`` None) and ``erlang a``."""
    patient = patience_s is None
    name = "Erlang C" if patient else "Erlang A"
    if calls_per_hour is None:
        counts = _counts(app, "--agents", agents)
        if counts is None or len(counts) != 1:
            app.fail("give --calls-per-hour, or --agents N with a goal to solve for the most "
                     "calls per hour the agents take")
    _check(app, [
        ("--calls-per-hour", calls_per_hour, _finite_non_negative, "a number >= 0"),
        ("--aht-s", aht_s, _finite_positive, "a number of seconds > 0"),
    ])
    counts = _counts(app, "--agents", agents)
    _check(app, [
        ("--target-s", target_s, _finite_non_negative, "a number of seconds >= 0"),
        ("--patience-s", patience_s, _finite_positive, "a number of seconds > 0"),
        ("--max-asa-s", max_asa_s, _finite_positive, "a number of seconds > 0"),
    ])
    _check_fraction(app, "--service-level", service_level, _fraction_open, "(0, 1)")
    _check_fraction(app, "--max-abandon", max_abandon, _fraction_open, "(0, 1)")
    _check_fraction(app, "--max-occupancy", max_occupancy,
                    lambda v: math.isfinite(v) and 0.0 < v <= 1.0, "(0, 1]")
    _check_fraction(app, "--shrinkage", shrinkage, lambda v: math.isfinite(v) and 0 <= v < 1,
                    "[0, 1)")
    from sim.erlang import (
        StaffingGoals,
        agents_for_goals,
        erlang_a_metrics,
        erlang_c_metrics,
        meets_goals,
        scheduled_agents,
    )

    goals = StaffingGoals(service_level=service_level, target_s=target_s,
                          max_abandon=max_abandon, max_occupancy=max_occupancy,
                          max_asa_s=max_asa_s)
    if calls_per_hour is None:
        if goals.empty:
            app.fail("give a goal (--service-level, --max-occupancy, --max-asa-s"
                     + ("" if patient else ", --max-abandon") + ") to solve for the calls "
                     "per hour")
        _capacity(app, aht_s=aht_s, n=counts[0], patience_s=patience_s, goals=goals,
                  as_json=as_json, name=name)
        return
    if counts is None and goals.empty:
        app.fail("give --agents N, --agents FROM:TO, or a goal to solve for agents "
                 "(--service-level, --max-occupancy, --max-asa-s"
                 + ("" if patient else ", --max-abandon") + ")")

    def metrics(n: int) -> Any:
        if patient:
            return erlang_c_metrics(calls_per_hour, aht_s, n, target_s)
        return erlang_a_metrics(calls_per_hour, aht_s, n, patience_s, target_s)

    def forward(n: int) -> dict[str, float]:
        return asdict(metrics(n))

    answer = None if goals.empty else _call(app, agents_for_goals, calls_per_hour, aht_s,
                                             goals, patience_s)
    inputs: dict[str, Any] = {"calls_per_hour": calls_per_hour, "aht_s": aht_s}
    if counts is not None and len(counts) == 1:
        inputs["agents"] = counts[0]
    if not patient:
        inputs["patience_s"] = patience_s
    inputs["target_s"] = target_s
    goal_inputs = {k: v for k, v in (("service_level", service_level),
                                     ("max_abandon", max_abandon),
                                     ("max_occupancy", max_occupancy),
                                     ("max_asa_s", max_asa_s)) if v is not None}
    inputs.update({f"goal_{k}": v for k, v in goal_inputs.items()})
    if shrinkage:
        inputs["shrinkage"] = shrinkage
    load = calls_per_hour * aht_s / 3600.0
    shown = counts if counts is not None else [answer]
    plotted = shown if counts is not None and len(counts) > 1 else _around(shown[0])
    if plot is not None:
        keys = ["service_level", "occupancy", "p_wait" if patient else "p_abandon"]
        figures = [forward(n) for n in plotted]
        curves = {_LABELS[k]: [f[k] for f in figures] for k in keys}
        goal_lines = {_LABELS[k]: v for k, v in (("service_level", service_level),
                                                 ("occupancy", max_occupancy),
                                                 ("p_abandon", max_abandon)) if v is not None}
        patience = "" if patient else f", patience {patience_s:g} s"
        written = _plot(plot, plotted, curves, "agents on the phones",
                        f"{name}: {calls_per_hour:g} calls/h, AHT {aht_s:g} s{patience}, "
                        f"SL within {target_s:g} s", goal_lines, answer)
        app.info(f"wrote {written}")
    if len(shown) == 1:
        n = shown[0]
        _warn_if_overloaded(app, calls_per_hour, aht_s, n, patient)
        m = forward(n)
        extra: dict[str, Any] = {}
        if counts is None:
            extra["agents"] = n
        if shrinkage or counts is None:
            extra["scheduled_agents"] = scheduled_agents(n, shrinkage)
        if as_json:
            payload = {"inputs": inputs, **extra, **m}
            if counts is not None and not goals.empty:
                payload["meets_goals"] = meets_goals(metrics(n), goals)
                payload["agents_needed"] = answer
            app.print_json(payload)
            return
        rows = []
        if counts is None:
            rows.append(["Agents needed (on the phones)", f"{n}"])
        if "scheduled_agents" in extra:
            rows.append([f"Scheduled agents (shrinkage {_percent(shrinkage)})",
                         f"{extra['scheduled_agents']}"])
        for key, value in m.items():
            label = _LABELS[key]
            if key == "service_level":
                label = f"Service level (answered within {target_s:g} s)"
            rows.append([label, _show(key, value)])
        if counts is not None and answer is not None:
            rows.append(["Fewest agents meeting the goals", f"{answer}"])
        patience = "" if patient else f", patience {patience_s:g} s"
        app.table(name if counts is not None else f"{name}: agents needed",
                  ["quantity", "value"], rows,
                  caption=(f"{calls_per_hour:g} calls/h, AHT {aht_s:g} s, {n} agents"
                           f"{patience}, load {load:.2f} E"))
        return
    table_rows = []
    for n in shown:
        row: dict[str, Any] = {"agents": n}
        if shrinkage:
            row["scheduled_agents"] = scheduled_agents(n, shrinkage)
        row.update(forward(n))
        if not goals.empty:
            row["meets"] = answer is not None and n >= answer
        table_rows.append(row)
    if as_json:
        app.print_json({"inputs": inputs, "rows": table_rows, "agents_needed": answer})
        return
    metric_keys = [k for k in table_rows[0] if k in _LABELS]
    columns = (["agents"] + (["scheduled"] if shrinkage else [])
               + [_LABELS[k] for k in metric_keys] + (["meets"] if not goals.empty else []))
    lines = []
    for r in table_rows:
        line = [r["agents"]] + ([r["scheduled_agents"]] if shrinkage else [])
        line += [_show(k, r[k]) for k in metric_keys]
        if not goals.empty:
            line.append("yes" if r["meets"] else "no")
        lines.append(line)
    caption = f"{calls_per_hour:g} calls/h, AHT {aht_s:g} s, load {load:.2f} E, " \
              f"SL within {target_s:g} s"
    if answer is not None:
        caption += f"; fewest agents meeting the goals: {answer}"
    app.table(f"{name} staffing table", columns, lines, caption=caption)


@erlang.command("c")
@_calls_option
@_aht_option
@_agents_option
@_target_option
@_sl_option
@_occ_option
@_asa_option
@_shrinkage_option
@_plot_option
@_json_option
@click.pass_obj
def erlang_c_command(app: Application, calls_per_hour: float | None, aht_s: float,
                     agents: str | None,
                     target_s: float, service_level: float | None,
                     max_occupancy: float | None, max_asa_s: float | None, shrinkage: float,
                     plot: Path | None, as_json: bool) -> None:
    """Patient callers (M/M/n): P(wait), ASA, service level, occupancy.

    Without --agents, solves for the fewest agents meeting the goals. The queue has no
    steady state when the load reaches the agents: then P(wait) is 1, the service level 0
    and ASA infinite (null in JSON).
    """
    _queue(app, calls_per_hour=calls_per_hour, aht_s=aht_s, agents=agents, target_s=target_s,
           patience_s=None, service_level=service_level, max_abandon=None,
           max_occupancy=max_occupancy, max_asa_s=max_asa_s, shrinkage=shrinkage, plot=plot,
           as_json=as_json)


@erlang.command("a")
@_calls_option
@_aht_option
@_agents_option
@click.option("--patience-s", type=float, required=True,
              help="Mean caller patience in seconds, exponential (> 0).")
@_target_option
@_sl_option
@click.option("--max-abandon", type=float, default=None,
              help="Goal: largest share of calls abandoning, a fraction in (0, 1).")
@_occ_option
@_asa_option
@_shrinkage_option
@_plot_option
@_json_option
@click.pass_obj
def erlang_a_command(app: Application, calls_per_hour: float | None, aht_s: float,
                     agents: str | None,
                     patience_s: float, target_s: float, service_level: float | None,
                     max_abandon: float | None, max_occupancy: float | None,
                     max_asa_s: float | None, shrinkage: float, plot: Path | None,
                     as_json: bool) -> None:
    """Impatient callers (M/M/n+M): P(wait), abandons, wait, service level.

    Patience is exponential with mean --patience-s. Abandoned calls count as not answered
    in the service level; the mean wait covers all calls, abandoned ones included. Stable
    at any load. Without --agents, solves for the fewest agents meeting the goals.
    """
    _queue(app, calls_per_hour=calls_per_hour, aht_s=aht_s, agents=agents, target_s=target_s,
           patience_s=patience_s, service_level=service_level, max_abandon=max_abandon,
           max_occupancy=max_occupancy, max_asa_s=max_asa_s, shrinkage=shrinkage, plot=plot,
           as_json=as_json)

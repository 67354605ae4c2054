"""``outdial erlang``: Erlang B, C and A calculators over the closed forms in ``sim.erlang``.

Each subcommand validates its options here (so errors name the option), calls one library
function and prints a table, or with ``--json`` one JSON object: the results under their
library names plus the inputs under ``"inputs"``. ``sim.erlang`` (numpy, scipy) is imported
inside the command bodies to keep ``outdial --help`` instant.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import click

from outdial.app import Application

_json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object instead of a table."
)
_calls_option = click.option(
    "--calls-per-hour", type=float, required=True, help="Offered calls per hour (>= 0)."
)
_aht_option = click.option(
    "--aht-s",
    type=float,
    required=True,
    help="Average handling time, talk + wrap, in seconds (> 0).",
)
_agents_option = click.option(
    "--agents", type=int, required=True, help="Agents staffed (whole number >= 1)."
)
_target_option = click.option(
    "--target-s",
    type=float,
    default=20.0,
    show_default=True,
    help="Service-level threshold in seconds (>= 0).",
)


def _check(app: Application, checks: list[tuple[str, Any, Callable[[Any], bool], str]]) -> None:
    """Fail on the first ``(option, value, predicate, expected)`` whose predicate is false."""
    for option, value, ok, expected in checks:
        if not ok(value):
            app.fail(f"{option} must be {expected}, got {value}")


def _finite_positive(v: float) -> bool:
    return math.isfinite(v) and v > 0.0


def _finite_non_negative(v: float) -> bool:
    return math.isfinite(v) and v >= 0.0


def _queue_checks(calls_per_hour: float, aht_s: float, agents: int, target_s: float) -> list:
    return [
        ("--calls-per-hour", calls_per_hour, _finite_non_negative, "a number >= 0"),
        ("--aht-s", aht_s, _finite_positive, "a number of seconds > 0"),
        ("--agents", agents, lambda v: v >= 1, "a whole number >= 1"),
        ("--target-s", target_s, _finite_non_negative, "a number of seconds >= 0"),
    ]


def _percent(p: float) -> str:
    if 0.0 < p < 5e-5:
        return "< 0.01 %"
    if 1.0 - 5e-5 < p < 1.0:
        return "> 99.99 %"
    return f"{100.0 * p:.2f} %"


def _seconds(s: float) -> str:
    return f"{s:.2f} s" if math.isfinite(s) else "inf (unstable)"


def _call(app: Application, fn: Callable[..., Any], *args: Any) -> Any:
    """Run a library call; a ValueError it raises becomes a one-line error."""
    try:
        return fn(*args)
    except ValueError as exc:
        app.fail(str(exc))


@click.group()
def erlang() -> None:
    """Erlang B, C and A calculators (steady-state closed forms)."""


@erlang.command("b")
@click.option(
    "--traffic-erlangs", type=float, required=True, help="Offered traffic in erlangs (>= 0)."
)
@click.option("--servers", type=int, required=True, help="Trunks or ports (whole number >= 1).")
@_json_option
@click.pass_obj
def erlang_b_command(app: Application, traffic_erlangs: float, servers: int, as_json: bool) -> None:
    """Loss system (M/M/n/n): blocking of ports or trunks with no queue."""
    _check(
        app,
        [
            ("--traffic-erlangs", traffic_erlangs, _finite_non_negative, "a number >= 0"),
            ("--servers", servers, lambda v: v >= 1, "a whole number >= 1"),
        ],
    )
    from sim.erlang import erlang_b

    blocking = _call(app, erlang_b, traffic_erlangs, servers)
    if as_json:
        inputs = {"traffic_erlangs": traffic_erlangs, "servers": servers}
        app.print_json({"inputs": inputs, "blocking": blocking})
        return
    app.table(
        "Erlang B",
        ["quantity", "value"],
        [
            ["Blocking", _percent(blocking)],
            ["Carried traffic", f"{traffic_erlangs * (1.0 - blocking):.3f} E"],
        ],
        caption=f"{traffic_erlangs:g} E offered to {servers} servers",
    )


def _warn_if_overloaded(
    app: Application, calls_per_hour: float, aht_s: float, agents: int, patient: bool
) -> float:
    load = calls_per_hour * aht_s / 3600.0
    if load >= agents:
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


@erlang.command("c")
@_calls_option
@_aht_option
@_agents_option
@_target_option
@_json_option
@click.pass_obj
def erlang_c_command(
    app: Application,
    calls_per_hour: float,
    aht_s: float,
    agents: int,
    target_s: float,
    as_json: bool,
) -> None:
    """Patient callers (M/M/n): P(wait), ASA, service level, occupancy.

    The queue has no steady state when the load reaches the agents: then P(wait) is 1,
    the service level 0 and ASA infinite (null in JSON).
    """
    _check(app, _queue_checks(calls_per_hour, aht_s, agents, target_s))
    from sim.erlang import erlang_c_metrics

    load = _warn_if_overloaded(app, calls_per_hour, aht_s, agents, patient=True)
    m = _call(app, erlang_c_metrics, calls_per_hour, aht_s, agents, target_s)
    if as_json:
        inputs = {
            "calls_per_hour": calls_per_hour,
            "aht_s": aht_s,
            "agents": agents,
            "target_s": target_s,
        }
        app.print_json(
            {
                "inputs": inputs,
                "p_wait": m.p_wait,
                "asa_s": m.asa_s,
                "service_level": m.service_level,
                "occupancy": m.occupancy,
            }
        )
        return
    app.table(
        "Erlang C",
        ["quantity", "value"],
        [
            ["P(wait)", _percent(m.p_wait)],
            ["ASA", _seconds(m.asa_s)],
            [f"Service level (answered within {target_s:g} s)", _percent(m.service_level)],
            ["Occupancy", _percent(m.occupancy)],
        ],
        caption=(
            f"{calls_per_hour:g} calls/h, AHT {aht_s:g} s, {agents} agents, load {load:.2f} E"
        ),
    )


@erlang.command("a")
@_calls_option
@_aht_option
@_agents_option
@click.option(
    "--patience-s",
    type=float,
    required=True,
    help="Mean caller patience in seconds, exponential (> 0).",
)
@_target_option
@_json_option
@click.pass_obj
def erlang_a_command(
    app: Application,
    calls_per_hour: float,
    aht_s: float,
    agents: int,
    patience_s: float,
    target_s: float,
    as_json: bool,
) -> None:
    """Impatient callers (M/M/n+M): P(wait), abandons, wait, service level.

    Patience is exponential with mean --patience-s. Abandoned calls count as not answered
    in the service level; the mean wait covers all calls, abandoned ones included. Stable
    at any load.
    """
    _check(
        app,
        [
            *_queue_checks(calls_per_hour, aht_s, agents, target_s),
            ("--patience-s", patience_s, _finite_positive, "a number of seconds > 0"),
        ],
    )
    from sim.erlang import erlang_a_metrics

    load = _warn_if_overloaded(app, calls_per_hour, aht_s, agents, patient=False)
    m = _call(app, erlang_a_metrics, calls_per_hour, aht_s, agents, patience_s, target_s)
    if as_json:
        inputs = {
            "calls_per_hour": calls_per_hour,
            "aht_s": aht_s,
            "agents": agents,
            "patience_s": patience_s,
            "target_s": target_s,
        }
        app.print_json(
            {
                "inputs": inputs,
                "p_wait": m.p_wait,
                "p_abandon": m.p_abandon,
                "mean_wait_s": m.mean_wait_s,
                "service_level": m.service_level,
                "occupancy": m.occupancy,
            }
        )
        return
    app.table(
        "Erlang A",
        ["quantity", "value"],
        [
            ["P(wait)", _percent(m.p_wait)],
            ["P(abandon)", _percent(m.p_abandon)],
            ["Mean wait (all calls)", _seconds(m.mean_wait_s)],
            [f"Service level (answered within {target_s:g} s)", _percent(m.service_level)],
            ["Occupancy", _percent(m.occupancy)],
        ],
        caption=(
            f"{calls_per_hour:g} calls/h, AHT {aht_s:g} s, {agents} agents, "
            f"patience {patience_s:g} s, load {load:.2f} E"
        ),
    )

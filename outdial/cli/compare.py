"""``outdial compare``: pacing policies on identical traffic, and the best simple ratios."""

from __future__ import annotations

import json
from pathlib import Path

import click

from outdial.app import Application
from outdial.cli._batch import (
    MAX_REPLICATIONS,
    RATIO_MAX_TOP,
    FiniteFloatRange,
    ProgressListener,
    batch_options,
    open_cache,
    open_executor,
    overrides_from,
    scenario_options,
)

DEFAULT_POLICIES = "predictive,vicidial-tapered,vicidial-hard,progressive,ratio:1.5"


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--policies", default=DEFAULT_POLICIES, show_default=True,
              help="Comma-separated: predictive, progressive[:R], preview, ratio:R, "
                   "vicidial-hard, vicidial-tapered, vicidial-average.")
@click.option("--variant", "variants", multiple=True, metavar="LABEL[:KEY=VALUE,...]",
              help="Compare scenario variants instead of pacing policies (repeatable), e.g. "
                   "--variant on --variant off:campaigns.blending.enabled=false: outbound "
                   "occupancy and abandons beside inbound service level, on the same seeds.")
@click.option("--replications", "-r", type=click.IntRange(min=1, max=MAX_REPLICATIONS),
              default=3, show_default=True,
              help="Replications per policy (seeds SEED .. SEED+R-1, the same for all).")
@scenario_options
@click.option("--no-search", is_flag=True, help="Skip the best fixed / progressive ratio search.")
@click.option("--ratio-max", type=FiniteFloatRange(min=1, min_open=True, max=RATIO_MAX_TOP),
              default=3.0, show_default=True,
              help="First top of the ratio search bracket (its bottom is 1); while the top "
                   "still meets the limit it doubles, up to 48.")
@click.option("--ratio-step", type=FiniteFloatRange(min=0.001, max=RATIO_MAX_TOP), default=None,
              help="Resolution of the ratio search (default 0.01 for campaigns up to 100 "
                   "agents, else 0.02).")
@batch_options
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write compare.json, compare.parquet and compare_runs.parquet here.")
@click.option("--plots", is_flag=True, help="Occupancy against abandon rate, one point a policy "
              "(into --out, or ./out).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.pass_obj
def compare(app: Application, scenario: Path, policies: str, variants: tuple[str, ...],
            replications: int,
            seed: int | None, hours: float | None, sets: tuple[str, ...], no_search: bool,
            ratio_max: float, ratio_step: float | None, workers: int, scheduler: str | None,
            dask_local: int | None, cache_dir: Path | None, no_cache: bool, out: Path | None,
            plots: bool, as_json: bool) -> None:
    """Run every policy on SCENARIO's traffic (common random numbers) and compare KPIs.

    KPIs are over the agent-based campaigns, with 95 % intervals; a policy meets the abandon
    limit when the upper bound of its abandon rate (the scenario's regulatory mode) does.
    """
    from sim.plan.compare import best_ratio, evaluate, limit_kpi
    from sim.plan.limits import rule_groups
    from sim.scenario import ScenarioError, load, with_policy

    try:
        scn = load(scenario, overrides_from(app, hours, sets))
    except ScenarioError as exc:
        app.fail(str(exc))
    for w in scn.warnings:
        app.warn(w)
    if variants:
        from outdial.cli._variants import compare_variants

        ctx = click.get_current_context()
        unused = [f"--{name.replace('_', '-')}" for name in
                  ("policies", "no_search", "ratio_max", "ratio_step", "plots")
                  if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT]
        if unused:
            app.fail(f"{', '.join(unused)}: not used with --variant (each variant runs with "
                     "the scenario's own pacing, over the same seeds); drop "
                     f"{'it' if len(unused) == 1 else 'them'} or the variants")

        compare_variants(app, scenario, scn, variants, replications, seed,
                         overrides_from(app, hours, sets), workers, scheduler, dask_local,
                         cache_dir, no_cache, out, as_json)
        return
    names = [p.strip() for p in policies.split(",") if p.strip()]
    if not names:
        app.fail("--policies: expected at least one policy")
    twice = sorted({p for p in names if names.count(p) > 1})
    if twice:  # the same runs twice: two identical rows, one of them pointless
        app.fail(f"--policies: {', '.join(twice)} given twice; expected each policy once")
    for p in names:
        try:
            with_policy(scn, p)  # as the runs will: the pacer's own checks included
        except ValueError as exc:
            app.fail(f"--policies: {exc}")
    if not any(c.agent_based for c in scn.campaigns):
        app.fail(f"{scenario}: no agent-based campaign to compare policies on")
    if replications < 2:
        app.warn("one replication: the abandon-limit verdicts stay undecided (they need 2 "
                 "or more, -r 2) and the ratio search is skipped")
        no_search = True
    seed = scn.seed if seed is None else seed
    cache = open_cache(app, out, cache_dir, no_cache)
    searches = []
    with open_executor(app, workers, scheduler, dask_local) as ex, \
            ProgressListener(app, "compare", quiet=as_json) as listener:
        results = evaluate(scn, names, seed, replications, ex, cache, listener)
        if not no_search:
            for kind in ("ratio", "progressive"):
                searches.append(best_ratio(scn, kind, seed, replications, ex, cache,
                                           hi=ratio_max, step=ratio_step, listener=listener))
    best = {s.kind: s.best for s in searches}
    groups = rule_groups(scn)
    first = groups[0].regulation if groups else scn.regulation
    payload = {
        "scenario": scn.name, "scenario_file": scn.source, "seed": seed,
        "replications": replications,
        "sim_hours": scn.sim_hours, "abandon_limit": first.abandon_limit,
        "window_s": first.judged_window_s,
        "limit_kpi": limit_kpi(scn),
        "regulations": [g.as_dict() for g in groups],
        "policies": [r.as_dict() for r in results],
        "best_fixed_ratio": best["ratio"].as_dict() if best.get("ratio") else None,
        "best_progressive_ratio": best["progressive"].as_dict()
        if best.get("progressive") else None,
        "search": {s.kind: s.as_dict() for s in searches},
        "notes": _policy_notes(scn, names),
    }
    extra = [("best fixed ratio", best.get("ratio")),
             ("best progressive", best.get("progressive"))]
    rows = [(r.policy, r) for r in results] + [(lbl, r) for lbl, r in extra if r is not None]
    app.write_outputs(out, plots, lambda d: _write(d, payload, rows),
                      lambda d: [_plot(d / "compare.png", payload)])
    if as_json:
        app.print_json(payload)
        return
    _print(app, scn, payload, rows)
    from outdial.cli._variants import print_skills

    print_skills(app, "per inbound skill", [(r.policy, r.skills) for r in results])
    for s in searches:
        app.info(s.note)
    for policy, note in payload["notes"].items():
        app.info(f"{policy} (*): {note}")
    _warn_records(app, results)


def _warn_records(app: Application, results) -> None:
    """The policies' warning objects (the pacer's ``abandon_limit_infeasible``, the
    planner's ``abandon_limit_at_risk``), each message once, naming the policies it holds
    for: the JSON carries them per policy, the table has no room for them."""
    by_message: dict[str, list[str]] = {}
    for r in results:
        for w in r.warning_records:
            by_message.setdefault(w["message"], []).append(r.policy)
    for message, policies in by_message.items():
        app.warn(f"{', '.join(policies)}: {message}")


def _policy_notes(scn, policies) -> dict[str, str]:
    """Notes on rows a planner could misread: VICIdial's tapered mode never tapers while
    ``latest - HHMM > 1000`` (its HHMM arithmetic), which the default day (09:00 start,
    21:00 latest) keeps for the first hours of a run."""
    from pacer.vicidial import clock_hhmm

    notes = {}
    if "vicidial-tapered" in policies:
        run_s = scn.warmup_s + scn.sim_hours * 3600.0
        never = [c.name for c in scn.campaigns if c.agent_based
                 and c.vicidial_latest_hhmm - clock_hhmm(c.vicidial_start_hhmm, run_s) > 1000]
        if never:
            notes["vicidial-tapered"] = (
                f"never tapers in this run for {', '.join(never)}: VICIdial tapers only once "
                "latest_server_time - HHMM <= 1000, and the run ends before that (set "
                "campaigns.vicidial_start_hhmm closer to vicidial_latest_hhmm for the taper "
                "to engage); faithful to VICIdial, not a fair baseline here")
    return notes


def _print(app: Application, scn, payload: dict, rows) -> None:
    key = payload["limit_kpi"]
    table = []
    for label, r in rows:
        name = f"{label} {r.ratio:g}" if label.startswith("best") else label
        if label in payload["notes"]:
            name += " (*)"
        k = r.kpis
        table.append([name, _pct_ci(r, "occupancy", 1), _pct_ci(r, "abandon_rate", 2),
                      _pct_ci(r, "abandon_rate_ofcom", 2), f"{k['agent_wait_mean_s']:.1f}",
                      f"{100 * k['service_level']:.1f} %", f"{k['bhcc']:,.0f}",
                      _verdict(r.verdict), _risk(r), _targets_cell(r)])
    mode = "Ofcom" if key.endswith("ofcom") else "FCC"
    regs = payload["regulations"]
    if len(regs) > 1:  # each rule's campaigns pooled, judged against their own limit
        limit = "limits " + "; ".join(
            f"{', '.join(g['campaigns'])}: {'Ofcom' if g['mode'] == 'ofcom' else 'FCC'} "
            f"{100 * g['abandon_limit']:g} %" for g in regs) + " (upper 95 % bounds; the " \
            "verdict is the worst)"
    else:
        limit = f"{mode} limit {100 * payload['abandon_limit']:g} % (upper 95 % bound)"
    app.table(f"{scn.name}: {payload['replications']} replication(s), seed {payload['seed']}, "
              f"{payload['sim_hours']:g} h, {limit}",
              ["policy", "occupancy", "abandon FCC", "abandon Ofcom", "wait s", "SL", "BHCC",
               "meets limit", "P(over)", "targets"], table,
              caption="KPIs over the agent-based campaigns: value [95 % interval]; rates pooled "
                      "over the replications; '?' = undecided, with the replications that "
                      "would decide; P(over): the riskiest campaign's chance of ending its "
                      + (f"regulatory window ({_span(payload['window_s'])}) over the limit"
                         if len(regs) <= 1 else "own regulatory window over its own limit"))


def _span(seconds: float) -> str:
    """A regulatory window for the reader: ``30 days``, ``24 h``, ``90 s``."""
    if seconds >= 2 * 86_400:
        return f"{seconds / 86_400:g} days"
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds:g} s"


def _risk(r) -> str:
    p = r.p_over_limit
    return "-" if p is None else f"{100 * p:.1f} %"


def _verdict(v) -> str:
    """yes / NO / ? (undecided: too few replications, or the interval straddles the limit)."""
    if v.met is not None:
        return "yes" if v.met else "NO"
    return f"? ~{v.needed} reps" if v.needed else "? on the limit"


def _targets_cell(r) -> str:
    """The declared targets' verdict of one row: met / MISSED / undecided / - (none)."""
    a = r.assessment
    if a is None or not a.targets:
        return "-"
    return {True: "met", False: "MISSED", None: "undecided"}[a.targets_met]


def _pct_ci(r, key: str, digits: int) -> str:
    """``value [lo, hi] %``: the 95 % interval, often asymmetric for a rate (the value alone
    when there is none)."""
    ci = r.ci95.get(key)
    mean = 100 * r.kpis[key]
    if not ci:
        return f"{mean:.{digits}f} %"
    return f"{mean:.{digits}f} [{100 * ci[0]:.{digits}f}, {100 * ci[1]:.{digits}f}] %"


def _write(out: Path, payload: dict, rows) -> list[Path]:
    """compare.json; compare.parquet (one row per policy: means, 95 % bounds, verdict);
    compare_runs.parquet (one row per policy and replication)."""
    import polars as pl

    from sim.plan.stats import KPI_KEYS

    summary, runs = [], []
    for label, r in rows:
        # as compare.json: True met, False missed, None undecided (the verdict's met)
        row = {"policy": label, "ratio": r.ratio, "meets_limit": r.verdict.met,
               **(r.assessment.row() if r.assessment is not None else {})}
        for k in KPI_KEYS:
            ci = r.ci95.get(k)
            row[k] = r.kpis[k]
            row[f"{k}_lo"] = ci[0] if ci else None
            row[f"{k}_hi"] = ci[1] if ci else None
        summary.append(row)
        for i, run in enumerate(r.runs):
            runs.append({"policy": label, "ratio": r.ratio, "replication": i, **run})
    paths = [out / "compare.json", out / "compare.parquet", out / "compare_runs.parquet"]
    paths[0].write_text(json.dumps(payload, indent=2))
    pl.DataFrame(summary, infer_schema_length=None).write_parquet(paths[1])
    pl.DataFrame(runs, infer_schema_length=None).write_parquet(paths[2])
    return paths


def _plot(path: Path, payload: dict) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key = payload["limit_kpi"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    points = list(payload["policies"])
    for k in ("best_fixed_ratio", "best_progressive_ratio"):
        if payload[k]:
            points.append({**payload[k], "policy": f"{k.replace('_', ' ')} "
                                                   f"{payload[k]['ratio']:g}"})
    for p in points:
        x, y = 100 * p[key], 100 * p["occupancy"]
        ci = p["ci95"].get(key)
        err = None if not ci else [[x - 100 * ci[0]], [100 * ci[1] - x]]
        ax.errorbar([x], [y], xerr=err, fmt="o", capsize=3)
        ax.annotate(p["policy"], (x, y), fontsize=8, xytext=(4, 4), textcoords="offset points")
    ax.axvline(100 * payload["abandon_limit"], color="red", ls="--", lw=1, label="limit")
    ax.set_xlabel(f"{key.replace('_', ' ')}, % of live answers (95 % interval)")
    ax.set_ylabel("occupancy, %")
    ax.set_title(f"{payload['scenario']}: policies on identical traffic")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

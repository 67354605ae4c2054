"""``outdial compare``: pacing policies on identical traffic, and the best simple ratios."""

from __future__ import annotations

import json
from pathlib import Path

import click

from outdial.app import Application

DEFAULT_POLICIES = "predictive,vicidial-tapered,vicidial-hard,progressive,ratio:1.5"


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--policies", default=DEFAULT_POLICIES, show_default=True,
              help="Comma-separated: predictive, progressive[:R], preview, ratio:R, "
                   "vicidial-hard, vicidial-tapered, vicidial-average.")
@click.option("--replications", "-r", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--seed", type=int, default=None, help="Base seed (default: the scenario's).")
@click.option("--hours", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Measured hours after the warm-up (default: the scenario's).")
@click.option("--workers", type=click.IntRange(min=1), default=1, help="Local processes.")
@click.option("--no-search", is_flag=True, help="Skip the best fixed / progressive ratio search.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write compare.json (and compare.png with --plots) here.")
@click.option("--plots", is_flag=True, help="Occupancy against abandon rate, one point a policy.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.pass_obj
def compare(app: Application, scenario: Path, policies: str, replications: int,
            seed: int | None, hours: float | None, workers: int, no_search: bool,
            out: Path | None, plots: bool, as_json: bool) -> None:
    """Run every policy on SCENARIO's traffic (common random numbers) and compare KPIs."""
    from sim.policies import best_ratio, evaluate
    from sim.scenario import ScenarioError, load, parse_policy

    try:
        scn = load(scenario, {"scenario.sim_hours": hours} if hours else None)
    except ScenarioError as exc:
        app.fail(str(exc))
    names = [p.strip() for p in policies.split(",") if p.strip()]
    for p in names:
        try:
            parse_policy(p)
        except ValueError as exc:
            app.fail(f"--policies: {exc}")
    if not any(c.agent_based for c in scn.campaigns):
        app.fail(f"{scenario}: no agent-based campaign to compare policies on")
    seed = scn.seed if seed is None else seed
    results = []
    for p in names:
        app.info(f"running {p} ...")
        results.append(evaluate(scn, p, seed, replications, workers))
    best_fixed = best_prog = None
    if not no_search:
        app.info("searching the best fixed ratio meeting the limit ...")
        best_fixed = best_ratio(scn, "ratio", seed, replications, workers)
        app.info("searching the best progressive ratio meeting the limit ...")
        best_prog = best_ratio(scn, "progressive", seed, replications, workers)
    payload = {
        "scenario": scn.name, "seed": seed, "replications": replications,
        "abandon_limit": scn.regulation.abandon_limit,
        "policies": [r.as_dict() for r in results],
        "best_fixed_ratio": best_fixed.as_dict() if best_fixed else None,
        "best_progressive_ratio": best_prog.as_dict() if best_prog else None,
    }
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "compare.json").write_text(json.dumps(payload, indent=2))
        if plots:
            _plot(out / "compare.png", payload)
    if as_json:
        app.print_json(payload)
        return
    rows = []
    extra = [("best fixed ratio", best_fixed), ("best progressive", best_prog)]
    for label, r in [(r.policy, r) for r in results] + extra:
        if r is None:
            continue
        name = f"{label} ({r.ratio:g})" if r.ratio is not None else label
        k = r.kpis
        rows.append([name, f"{100 * k['occupancy']:.1f} %", _pct_ci(r, "abandon_rate"),
                     f"{100 * k['abandon_rate_ofcom']:.2f} %", f"{k['agent_wait_mean_s']:.1f}",
                     f"{100 * k['service_level']:.1f} %", f"{k['bhcc']:,.0f}",
                     "yes" if r.meets_limit else "NO"])
    app.table(f"{scn.name}: {replications} replication(s), seed {seed}, "
              f"limit {100 * scn.regulation.abandon_limit:g} %",
              ["policy", "occupancy", "abandon (95 % CI)", "Ofcom", "wait s", "SL", "BHCC",
               "meets limit"], rows)


def _pct_ci(r, key: str) -> str:
    ci = r.ci95.get(key)
    mean = f"{100 * r.kpis[key]:.2f} %"
    return mean if not ci else f"{mean} [{100 * ci[0]:.2f}, {100 * ci[1]:.2f}]"


def _plot(path: Path, payload: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    points = list(payload["policies"])
    for key in ("best_fixed_ratio", "best_progressive_ratio"):
        if payload[key]:
            points.append({**payload[key], "policy": f"{key.replace('_', ' ')} "
                                                     f"{payload[key]['ratio']:g}"})
    for p in points:
        ax.scatter(100 * p["abandon_rate"], 100 * p["occupancy"])
        ax.annotate(p["policy"], (100 * p["abandon_rate"], 100 * p["occupancy"]), fontsize=8)
    ax.axvline(100 * payload["abandon_limit"], color="red", ls="--", lw=1, label="limit")
    ax.set_xlabel("abandon rate, % of live answers")
    ax.set_ylabel("occupancy, %")
    ax.set_title(f"{payload['scenario']}: policies on identical traffic")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

"""``outdial compare --variant``: scenario variants side by side (blending on / off,
threshold settings), the blended centre's outbound and inbound KPIs together."""

from __future__ import annotations

from pathlib import Path

from outdial.app import Application
from outdial.cli._batch import ProgressListener, open_cache, open_executor


def compare_variants(app: Application, path: Path, scn, variants: tuple[str, ...],
                     replications: int, seed: int | None, base: dict, workers: int,
                     scheduler: str | None, dask_local: int | None, cache_dir: Path | None,
                     no_cache: bool, out: Path | None, as_json: bool) -> None:
    from sim.plan.compare import limit_kpi
    from sim.plan.limits import rule_groups
    from sim.plan.variants import evaluate_variants, parse_variant
    from sim.scenario import ScenarioError

    parsed = []
    for v in variants:
        try:
            parsed.append(parse_variant(v))
        except ValueError as exc:
            app.fail(str(exc))
    labels = [p[0] for p in parsed]
    if len(set(labels)) != len(labels):
        app.fail(f"--variant: labels must differ, got {', '.join(labels)}")
    if replications < 2:
        app.warn("one replication: no confidence interval, verdicts use the mean")
    seed = scn.seed if seed is None else seed
    cache = open_cache(app, out, cache_dir, no_cache)
    with open_executor(app, workers, scheduler, dask_local) as ex, \
            ProgressListener(app, "compare", quiet=as_json) as listener:
        try:
            results = evaluate_variants(path, parsed, seed, replications, base, ex, cache,
                                        listener)
        except ScenarioError as exc:
            app.fail(str(exc))
    groups = rule_groups(scn)
    first = groups[0].regulation if groups else scn.regulation
    payload = {"scenario": scn.name, "scenario_file": scn.source, "seed": seed,
               "replications": replications,
               "sim_hours": scn.sim_hours, "abandon_limit": first.abandon_limit,
               "limit_kpi": limit_kpi(scn), "regulations": [g.as_dict() for g in groups],
               "variants": [r.as_dict() for r in results]}
    if out is not None:
        import json

        out.mkdir(parents=True, exist_ok=True)
        (out / "compare_variants.json").write_text(json.dumps(payload, indent=2, default=str))
    if as_json:
        app.print_json(payload)
        return
    rows = []
    for r in results:
        rows.append([r.label, _pct(r, "occupancy_outbound", 1), _pct(r, "abandon_rate", 2),
                     _pct(r, "inbound_service_level", 1), _pct(r, "inbound_abandon_rate", 1),
                     f"{r.kpis['inbound_asa_s']:.1f}", _pct(r, "occupancy_inbound", 1),
                     _pct(r, "occupancy", 1), f"{r.kpis['bhcc_agent']:,.0f}",
                     "yes" if r.verdict.met else ("NO" if r.verdict.met is False else "?")])
    app.table(f"{scn.name}: {replications} replication(s), seed {seed}, {scn.sim_hours:g} h",
              ["variant", "occ. outbound", "abandon", "inbound SL", "inbound aband.",
               "ASA s", "occ. inbound", "occ. all", "BHCC agent", "meets limit"], rows,
              caption="mean [95 % interval]; abandon: outbound, the campaigns' regulatory "
                      "mode; inbound SL: answered within each skill's threshold / offered")
    print_skills(app, "per inbound skill", [(r.label, r.skills) for r in results])


def print_skills(app: Application, title: str, rows_of: list[tuple[str, dict]]) -> None:
    """One row per (variant or policy, inbound skill): service level, abandon rate, speed
    of answer and the occupancy of the agents serving the skill, each ``mean [95 %
    interval]`` (``sim.plan.stats.skill_summary``); nothing without inbound skills."""
    rows = []
    for label, skills in rows_of:
        for name, k in skills.items():
            ci = k.get("ci95", {})
            rows.append([label, name, f"{k['offered']:,.0f}",
                         _pm(k["service_level"], ci.get("service_level"), 100, 1, " %"),
                         _pm(k["abandon_rate"], ci.get("abandon_rate"), 100, 1, " %"),
                         _pm(k["asa_s"], ci.get("asa_s"), 1, 1, ""),
                         _pm(k.get("occupancy_inbound", 0.0), ci.get("occupancy_inbound"),
                             100, 1, " %"),
                         f"{k.get('answered_by_lent', 0.0):,.0f}"])
    if rows:
        app.table(title, ["", "skill", "offered", "SL", "abandoned", "ASA s",
                          "occ. inbound", "answered by lent"], rows,
                  caption="mean [95 % interval], per replication; occ. inbound: "
                          "talk + wrap / staffed time of the agents serving the skill")


def _pm(v: float, ci, scale: float, digits: int, unit: str) -> str:
    """``v [lo, hi]`` scaled: the interval's own bounds (a rate's is asymmetric, any is
    clipped to the KPI's range, so a half-width misstates one bound)."""
    if not ci:
        return f"{scale * v:.{digits}f}{unit}"
    return (f"{scale * v:.{digits}f} [{scale * ci[0]:.{digits}f}, "
            f"{scale * ci[1]:.{digits}f}]{unit}")


def _pct(r, key: str, digits: int) -> str:
    return _pm(r.kpis[key], r.ci95.get(key), 100.0, digits, " %")

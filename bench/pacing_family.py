"""Predictive pacing against the best tuned simple dialers, on the pacing scenario family.

    python -m bench.pacing_family                       # every scenarios/pacing-*.toml,
                                                        # 10 replications, 1 h each
    python -m bench.pacing_family -r 3 --hours 0.5 scenarios/pacing-ref-50.toml  # smoke

For each scenario: predictive, the best progressive ratio and the best fixed (VICIdial
RATIO) ratio on the same seeds (common random numbers), each best ratio being the highest
whose abandon rate (the scenario's regulatory mode) meets the limit at the upper 95 %
bound. The ratio search starts on [1, 3] and doubles the top while it still meets the
limit (up to 48), so the search never stops at an arbitrary ceiling. Progressive dials
``round(r x idle agents) - unanswered calls`` each tick (``pacer.ratio``): with few agents
a ratio step changes the lines only at the rounding points, which the 0.01 resolution of
small campaigns reaches.

Prints one table (occupancy, FCC and Ofcom abandon rates with their 95 % upper bounds,
agent wait) and, with ``--json``, the figures as one JSON object.

A ratio tuned this way is tuned on the runs it is judged on: the highest that meets the
limit on these seeds is the one whose runs happened to abandon little. ``--holdout SEED``
runs predictive and the two tuned ratios again on the replications from ``SEED`` (traffic
none of them was tuned on), as a planner's next hours would be, and tables them too:

    python -m bench.pacing_family -r 10 --seed 11 --holdout 31 scenarios/pacing-ref-50.toml
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
import time

from sim.plan.compare import best_ratio, evaluate, limit_kpi
from sim.scenario import load

MAX_RATIO = 48.0


def widened_best(scn, kind: str, seed: int, reps: int):
    """best_ratio on [1, hi], hi doubling from 3 while its top still meets the limit."""
    hi = 3.0
    while True:
        s = best_ratio(scn, kind, seed, reps, hi=hi)
        top = s.best is not None and s.best.ratio is not None and s.best.ratio >= s.hi
        if not top or hi >= MAX_RATIO:
            return s
        hi *= 2


def _row(name: str, r) -> dict:
    k, ci = r.kpis, r.ci95

    def up(key):
        return ci[key][1] if ci.get(key) else k[key]

    return {"policy": name, "occupancy": k["occupancy"],
            "fcc": k["abandon_rate"], "fcc_upper": up("abandon_rate"),
            "ofcom": k["abandon_rate_ofcom"], "ofcom_upper": up("abandon_rate_ofcom"),
            "wait_s": k["agent_wait_mean_s"], "meets_limit": r.meets_limit,
            "p_over_limit": r.p_over_limit}


def run_scenario(path: str, reps: int, hours: float | None, seed: int | None,
                 holdout: int | None = None) -> dict:
    over = {"scenario.sim_hours": hours} if hours else None
    scn = load(path, overrides=over)
    seed = scn.seed if seed is None else seed
    t0 = time.perf_counter()
    (pred,) = evaluate(scn, ["predictive"], seed, reps)
    rows = [_row("predictive", pred)]
    tuned = []  # the policies the tuned ratios are, for the hold-out
    for kind in ("progressive", "ratio"):
        s = widened_best(scn, kind, seed, reps)
        if s.best is None:
            rows.append({"policy": f"best {kind}", "note": s.note})
        else:
            rows.append(_row(f"best {kind} {s.best.ratio:g}", s.best))
            tuned.append((f"{kind} {s.best.ratio:g}", f"{kind}:{s.best.ratio:g}"))
    res = {"scenario": scn.name, "agents": scn.total_agents, "limit_kpi": limit_kpi(scn),
           "replications": reps, "hours": scn.sim_hours, "seed": seed, "rows": rows,
           "occupancy_points_vs_best_progressive": _gain(rows)}
    if holdout is not None:
        policies = ["predictive"] + [p for _, p in tuned]
        names = ["predictive"] + [f"{n} (tuned on {seed})" for n, _ in tuned]
        held = evaluate(scn, policies, holdout, reps)
        rows_h = [_row(n, r) for n, r in zip(names, held, strict=True)]
        res["holdout"] = {"seed": holdout, "rows": rows_h,
                          "occupancy_points_vs_best_progressive": _gain(rows_h)}
    res["wall_s"] = time.perf_counter() - t0
    return res


def _gain(rows: list[dict]) -> float | None:
    """Predictive's (rows[0]) occupancy less the progressive row's (rows[1]), points."""
    if len(rows) < 2 or "occupancy" not in rows[1] or not rows[1]["policy"].startswith(
            ("best progressive", "progressive")):
        return None
    return (rows[0]["occupancy"] - rows[1]["occupancy"]) * 100


def _print(res: dict) -> None:
    print(f"\n{res['scenario']} ({res['agents']} agents, {res['replications']} x "
          f"{res['hours']:g} h, judged on {res['limit_kpi']}; {res['wall_s']:.0f} s)")
    _print_rows(res["rows"], res["occupancy_points_vs_best_progressive"])
    if "holdout" in res:
        h = res["holdout"]
        print(f"  on hold-out seeds from {h['seed']} (the ratios as tuned above):")
        _print_rows(h["rows"], h["occupancy_points_vs_best_progressive"])


def _print_rows(rows: list[dict], gain: float | None) -> None:
    print(f"  {'policy':<30} {'occ %':>6} {'FCC % (up)':>14} {'Ofcom % (up)':>14} "
          f"{'wait s':>7} meets P(over)")
    for r in rows:
        if "note" in r:
            print(f"  {r['policy']:<30} {r['note']}")
            continue
        risk = "-" if r["p_over_limit"] is None else f"{100 * r['p_over_limit']:.1f} %"
        print(f"  {r['policy']:<30} {100 * r['occupancy']:6.1f} "
              f"{100 * r['fcc']:6.2f} ({100 * r['fcc_upper']:5.2f}) "
              f"{100 * r['ofcom']:6.2f} ({100 * r['ofcom_upper']:5.2f}) "
              f"{r['wait_s']:7.1f} {'yes' if r['meets_limit'] else 'NO':>5} "
              f"{risk}")
    if gain is not None:
        print(f"  predictive - progressive: {gain:+.2f} occupancy points")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenarios", nargs="*", help="default: scenarios/pacing-*.toml")
    ap.add_argument("-r", "--replications", type=int, default=10)
    ap.add_argument("--hours", type=float, default=None, help="default: the scenario's")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--holdout", type=int, default=None, metavar="SEED",
                    help="also judge the tuned ratios on the replications from SEED")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    paths = a.scenarios or sorted(glob.glob("scenarios/pacing-*.toml"))
    out = []
    for p in paths:
        res = run_scenario(p, a.replications, a.hours, a.seed, a.holdout)
        out.append(res)
        if not a.json:
            _print(res)
            sys.stdout.flush()
    if a.json:
        print(json.dumps({"results": out}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

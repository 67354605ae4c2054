"""CI regression gate: ratios measured in one run, each compared with its floor.

Run from the repository root::

    python -m bench.gate                 # exit 0: every ratio at or over its floor
    python -m bench.gate --json          # the same, one JSON object on stdout

Each ratio sets two measurements taken in the same process against each other, so the
machine's speed and load largely cancel:

* ``pacer_speedup``: one predictive decision for 200 campaigns / 1000 agents through the
  public ``pacer.predictive.predictive_dials``, against the plain NumPy reference of
  ``tests/naive_predictive.py`` on the same snapshot (skipped, with a note, when the
  reference is not there);
* ``busy_hour_speed``: the plain SimPy M/M/c hour (``bench.mmc.mmc_hour``) CPU time over the
  60k-BHCC hour's (``simulate(load("scenarios/pom-60k-bhcc.toml"))``, one replication);
  1.0 would mean the dialer's hour costs no more than the textbook model's; the same M/M/c
  hour in Ciw (``bench.mmc.ciw_mmc_hour``) is reported beside it, not gated;
* ``occupancy_vs_tapered`` and ``occupancy_vs_hard``: predictive occupancy over the
  VICIdial-style tapered and hard-limit baselines' on ``scenarios/single-50-predictive.toml``
  with fixed seeds (deterministic: no noise at all), and a hard check that predictive's
  abandon rate is at or under the scenario's limit.

Floors live in ``bench/floors.toml`` with the figures they came from. Exit status: 0 all
pass, 1 a ratio under its floor or the abandon check failed (one line each saying which,
by how much, and the floor's origin), 2 a broken floors file.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import timeit
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOORS = Path(__file__).resolve().parent / "floors.toml"
BUSY_HOUR = ROOT / "scenarios" / "pom-60k-bhcc.toml"
POLICY_SCENARIO = ROOT / "scenarios" / "single-50-predictive.toml"
POLICY_SEEDS = (7, 8, 9)
BUSY_HOUR_ROUNDS = 9  # interleaved rounds, the best of each: a one-off stall of a shared
# machine weighs less (measured: the same code 0.151-0.196 in best-of-2 runs; at a226033 a
# fresh clone read 0.1669 here and 0.1497 in CI, best of 3). 2026-12-02: this microVM's
# speed drifts over minutes (the M/M/c hour's best of 5 read 1.01-1.32 s within an hour,
# the 60k hour's 6.49-7.56 s, the code unchanged: 57e0a4e9 and bd8d529 both 7.55 s at
# 04:58), so best-of-5 ratios of the same code read 0.145-0.185; more rounds bring both
# minima nearer the machine's uncontended speed. ~35 s more than 5 rounds.
REFERENCE_ROUNDS = 3


@dataclass
class Check:
    """One gated figure: its value, floor and the measurements behind it."""

    name: str
    value: float | None
    floor: float | None
    detail: str
    ok: bool
    note: str = ""


CHECKS = ("pacer_speedup", "busy_hour_speed", "occupancy_vs_tapered", "occupancy_vs_hard",
          "occupancy_vs_best_progressive")
LARGE_SCENARIO = ROOT / "scenarios" / "pacing-large-400.toml"
LARGE_HOURS = 0.25  # measured hours of the 400-agent runs
LARGE_SEEDS = 3  # replications of the 400-agent runs (seeds from the scenario's)


class FloorsError(Exception):
    """The floors file cannot be used (exit status 2): unreadable, not TOML, or an entry
    without a numeric ``floor``, without its origin (``figures``), or naming no check."""


def _floors(path: Path) -> dict:
    """The floors file as ``{check: {"floor": number, "figures": text, ...}}``.

    An empty file (``--floors /dev/null``) sets no floor: every ratio is reported only.

    Raises:
        FloorsError: naming the file, the entry and what was expected.
    """
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise FloorsError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FloorsError(f"{path} is not valid TOML: {exc}") from None
    for name, entry in data.items():
        if name not in CHECKS:
            raise FloorsError(f"{path}: [{name}] is not a gated check; expected one of "
                              f"{', '.join(CHECKS)}")
        if not isinstance(entry, dict):
            raise FloorsError(f"{path}: {name} must be a table [{name}] with 'floor' and "
                              "'figures'")
        floor = entry.get("floor")
        if isinstance(floor, bool) or not isinstance(floor, int | float) \
                or not math.isfinite(floor) or floor <= 0:
            raise FloorsError(f"{path}: [{name}] needs a numeric 'floor' > 0, got "
                              f"{floor!r}")
        if not isinstance(entry.get("figures"), str) or not entry["figures"].strip():
            raise FloorsError(f"{path}: [{name}] needs 'figures', a string saying where the "
                              "floor came from (date, commit, machine, measured values)")
    return data


def _judge(name: str, value: float, floors: dict, detail: str) -> Check:
    floor = floors.get(name, {}).get("floor")
    if floor is None:
        return Check(name, value, None, detail, True, "no floor set: reported only")
    return Check(name, value, float(floor), detail, value >= floor)


def measure_pacer(floors: dict) -> Check:
    """Reference decision time over the public wrapper's, same 200 x 1000 snapshot."""
    try:
        import tests.naive_predictive as naive

        naive.predictive_dials  # noqa: B018 (the reference decision must exist)
        from bench.test_bench_predictive import _case, _reference
    except (ImportError, AttributeError) as exc:
        return Check("pacer_speedup", None, None, "", True,
                     f"skipped: no NumPy reference decision to compare with ({exc})")
    from pacer.predictive import predictive_dials, warmup

    warmup()
    case = _case(200, 5, seed=2024)
    fast = timeit.Timer(lambda: predictive_dials(**case))
    n, _ = fast.autorange()
    kernel_s = min(fast.repeat(5, n)) / n
    ref_s = min(timeit.repeat(lambda: _reference(case), number=1, repeat=REFERENCE_ROUNDS))
    detail = (f"decision {kernel_s * 1e6:.1f} us (best of 5 x {n}), NumPy reference "
              f"{ref_s * 1e3:.1f} ms (best of {REFERENCE_ROUNDS})")
    return _judge("pacer_speedup", ref_s / kernel_s, floors, detail)


def measure_busy_hour(floors: dict) -> Check:
    """Plain M/M/c hour over the 60k-BHCC hour, best of a few interleaved rounds.

    Both are timed in CPU seconds of this process (``time.process_time``): the runs are
    single-threaded, so on an idle machine this is their wall time, and on a shared one
    other processes' load does not count.
    """
    from bench.mmc import mmc_hour
    from sim.run import simulate
    from sim.scenario import load

    scn = load(BUSY_HOUR)
    simulate(load(BUSY_HOUR, {"scenario.sim_hours": 0.01, "scenario.warmup_s": 5.0}))
    mmc_hour(c=10, calls_per_hour=600.0)  # imports and numba cache loaded before timing
    sim_s, mmc_s, bhcc = [], [], 0.0
    for _ in range(BUSY_HOUR_ROUNDS):
        t0 = time.process_time()
        run = simulate(scn)
        sim_s.append(time.process_time() - t0)
        bhcc = run.total["bhcc"]
        t0 = time.process_time()
        mmc_hour()
        mmc_s.append(time.process_time() - t0)
    detail = (f"60k-BHCC hour {min(sim_s):.2f} s (BHCC {bhcc:,.0f}), plain SimPy M/M/c hour "
              f"{min(mmc_s):.2f} s (CPU s, best of {BUSY_HOUR_ROUNDS})")
    check = _judge("busy_hour_speed", min(mmc_s) / min(sim_s), floors, detail)
    check.note = _ciw_note(min(sim_s))
    return check


def _ciw_note(dialer_s: float) -> str:
    """Ciw's M/M/c hour of the same size against the dialer's hour (reported, not gated:
    one round, Ciw takes several seconds)."""
    try:
        from bench.mmc import ciw_mmc_hour
        ciw_mmc_hour(c=10, calls_per_hour=600.0)  # import before timing
    except ImportError:
        return "Ciw not installed: no Ciw comparison"
    t0 = time.process_time()
    ciw_mmc_hour()
    ciw_s = time.process_time() - t0
    return (f"Ciw M/M/c hour {ciw_s:.2f} CPU s: Ciw time / 60k-BHCC hour time = "
            f"{ciw_s / dialer_s:.3g} (reported, not gated)")


def measure_policies(floors: dict) -> list[Check]:
    """Predictive against the tapered and hard-limit baselines, same seeds (CRN)."""
    from sim.plan.batch import run_all, tasks_for
    from sim.plan.stats import summarise_rows
    from sim.scenario import load, with_policy

    scn = load(POLICY_SCENARIO)
    policies = ("predictive", "vicidial-tapered", "vicidial-hard")
    kp = {}
    for p in policies:
        recs = run_all(tasks_for(with_policy(scn, p), POLICY_SEEDS[0], len(POLICY_SEEDS)))
        kp[p] = summarise_rows([r["kpis"] for r in recs], ("occupancy", "abandon_rate"))[0]
    limit = scn.regulation.abandon_limit
    seeds = f"seeds {POLICY_SEEDS[0]}-{POLICY_SEEDS[-1]}, {scn.sim_hours:g} h"

    def line(p: str) -> str:
        return (f"{p} occupancy {kp[p]['occupancy']:.4f}, abandon "
                f"{100 * kp[p]['abandon_rate']:.2f} %")

    checks = []
    pred = kp["predictive"]
    for base, name in (("vicidial-tapered", "occupancy_vs_tapered"),
                       ("vicidial-hard", "occupancy_vs_hard")):
        note = ""
        if kp[base]["abandon_rate"] > limit:
            note = (f"{base} breaks the {100 * limit:g} % limit itself, so this ratio tracks "
                    "predictive's occupancy rather than a fair comparison")
        c = _judge(name, pred["occupancy"] / kp[base]["occupancy"], floors,
                   f"{line('predictive')}; {line(base)} ({seeds})")
        c.note = c.note or note
        checks.append(c)
    ok = pred["abandon_rate"] <= limit
    checks.append(Check("predictive_abandon_at_limit", pred["abandon_rate"], limit,
                        f"predictive abandon rate {100 * pred['abandon_rate']:.2f} % against "
                        f"the limit {100 * limit:g} % ({seeds})", ok,
                        "a ceiling: the value must be at or under it"))
    return checks


def measure_pacing(floors: dict) -> list[Check]:
    """Predictive against the best *tuned* progressive ratio (the highest, on a 0.1 grid of
    [4, 8], whose abandon rate meets the limit at the upper 95 % bound of the same seeds) on
    the 400-agent scenario after its warm-up; the same on the 50-agent reference, reported;
    and the 400-agent scenario from a cold start, whose pooled abandon rate (warm-up
    included) must stay under the limit."""
    from sim.plan.batch import run_all, tasks_for
    from sim.plan.compare import best_ratio, evaluate
    from sim.plan.stats import rate_ci95
    from sim.scenario import load, with_policy

    big = load(LARGE_SCENARIO, overrides={"scenario.sim_hours": LARGE_HOURS})
    seed, reps = big.seed, LARGE_SEEDS
    (pred,) = evaluate(big, ["predictive"], seed, reps)
    search = best_ratio(big, "progressive", seed, reps, lo=4.0, hi=8.0, step=0.1)
    checks = []
    if search.best is None or search.best.ratio >= search.hi:
        checks.append(Check("occupancy_vs_best_progressive", None, None, "", False,
                            f"the bracket [4, 8] does not hold the best ratio: {search.note}"))
    else:
        b = search.best
        checks.append(_judge(
            "occupancy_vs_best_progressive", pred.kpis["occupancy"] / b.kpis["occupancy"],
            floors,
            f"{big.total_agents} agents: predictive occupancy {pred.kpis['occupancy']:.4f} "
            f"(abandon {100 * pred.kpis['abandon_rate']:.2f} %, upper bound "
            f"{100 * pred.limit_bound:.2f} %); best progressive {b.ratio:g}: "
            f"{b.kpis['occupancy']:.4f} (abandon {100 * b.kpis['abandon_rate']:.2f} %, upper "
            f"bound {100 * b.limit_bound:.2f} %) (seeds {seed}-{seed + reps - 1}, "
            f"{big.sim_hours:g} h after a {big.warmup_s:g} s warm-up)"))
        checks[-1].note = _reference_note(evaluate, best_ratio)
    cold = load(LARGE_SCENARIO, overrides={"scenario.sim_hours": LARGE_HOURS,
                                           "scenario.warmup_s": 0.0})
    recs = run_all(tasks_for(with_policy(cold, "predictive"), cold.seed, reps))
    rate, _, hi = rate_ci95([r["kpis"]["abandons"] for r in recs],
                            [r["kpis"]["live_answers"] for r in recs])
    limit = cold.regulation.abandon_limit
    checks.append(Check("predictive_large_abandon_at_limit", rate, limit,
                        f"{cold.total_agents} agents, predictive abandon rate "
                        f"{100 * rate:.2f} % (upper bound {100 * hi:.2f} %) over the first "
                        f"{60 * LARGE_HOURS:g} min from a cold start (seeds {cold.seed}-"
                        f"{cold.seed + reps - 1}, pooled) against the limit {100 * limit:g} %",
                        rate <= limit, "a ceiling: the value must be at or under it"))
    return checks


def _reference_note(evaluate, best_ratio) -> str:
    """The same comparison on the 50-agent reference (reported, not gated)."""
    from sim.scenario import load

    scn = load(POLICY_SCENARIO)
    seed, reps = POLICY_SEEDS[0], len(POLICY_SEEDS)
    (pred,) = evaluate(scn, ["predictive"], seed, reps)
    search = best_ratio(scn, "progressive", seed, reps, lo=1.0, hi=4.0)
    if search.best is None:
        return f"50-agent reference: {search.note}"
    b = search.best
    return (f"50-agent reference (reported, not gated): predictive {pred.kpis['occupancy']:.4f} "
            f"(abandon {100 * pred.kpis['abandon_rate']:.2f} %, upper "
            f"{100 * pred.limit_bound:.2f} %) / best progressive {b.ratio:g} "
            f"{b.kpis['occupancy']:.4f} (abandon {100 * b.kpis['abandon_rate']:.2f} %, upper "
            f"{100 * b.limit_bound:.2f} %) = "
            f"{pred.kpis['occupancy'] / b.kpis['occupancy']:.4f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.gate", description=__doc__.split("\n")[0])
    ap.add_argument("--floors", type=Path, default=FLOORS)
    ap.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = ap.parse_args(argv)
    try:
        floors = _floors(args.floors)
    except FloorsError as exc:
        print(f"gate: broken floors file: {exc}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    checks = [measure_pacer(floors), measure_busy_hour(floors), *measure_policies(floors),
              *measure_pacing(floors)]
    wall = time.perf_counter() - t0
    failed = [c for c in checks if not c.ok]
    if args.json:
        print(json.dumps({"wall_s": wall, "ok": not failed,
                          "checks": [asdict(c) for c in checks]}, indent=2))
    else:
        for c in checks:
            status = "SKIP" if c.value is None else ("ok  " if c.ok else "FAIL")
            if c.value is None:
                print(f"{status} {c.name}: {c.note}")
                continue
            bound = "" if c.floor is None else (
                f" (ceiling {c.floor:g})" if c.name.endswith("_at_limit") else
                f" (floor {c.floor:g})")
            print(f"{status} {c.name} = {c.value:.4g}{bound}: {c.detail}")
            if c.note and c.value is not None:
                print(f"     note: {c.note}")
        print(f"gate: {len(checks) - len(failed)}/{len(checks)} passed in {wall:.1f} s")
    for c in failed:
        origin = floors.get(c.name, {}).get("figures", "")
        if c.name.endswith("_at_limit"):
            msg = f"{c.detail}: over the limit"
            origin = f"the abandon limit of {POLICY_SCENARIO.name}"
        else:
            msg = (f"{c.value:.4g} is under its floor {c.floor:g} "
                   f"({100 * (1 - c.value / c.floor):.1f} % short); {c.detail}")
        where = "ceiling" if c.name.endswith("_at_limit") else "floor from"
        print(f"gate FAILED: {c.name}: {msg}" + (f" [{where}: {origin}]" if origin else ""),
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The predictive model's frontier at fixed prices against the progressive ratio's.

    python -m bench.pacing_frontier SCENARIO [-r 10] [--thetas 0.02,0.035,0.05]
                                    [--ratios 2.9,3.2,3.5] [--hours H]

The closed-loop predictive pacer moves its price theta (marginal abandons allowed per
marginal live answer, ``pacer.lookahead``) so that the realised abandon rate sits at its
aim. Held fixed instead (the price loop off), each theta gives one point of the model's own
frontier on the scenario's seeds: occupancy against the FCC abandon rate; each progressive
ratio gives one point of the simple dialer's frontier on the same seeds (common random
numbers). Read at equal abandon rates, the two frontiers tell what the model can buy over
the simple dialer, and the closed-loop row (printed first) what the price loop costs
against the model's own frontier.

Prints one row per policy: occupancy mean and 95 % interval, FCC abandon rate pooled over
the replications with its 95 % interval (``sim.plan.stats.rate_ci95``), agent wait.
"""

from __future__ import annotations

import argparse
import contextlib
import sys

import numpy as np

from pacer.decide import Pacer
from sim.plan.stats import mean_ci95, rate_ci95, replication_seeds
from sim.run import simulate
from sim.scenario import load, with_policy


@contextlib.contextmanager
def fixed_price(theta: float):
    """Every pacer built inside holds its price at ``theta`` (its price loop changes
    nothing: the price is read through ``Pacer._effective_limit``), and never switches to
    one line per idle agent (``Pacer._hold_floor``: the loop's own price, which the held
    one hides, would reach its floor wherever the held price is over the aim)."""
    loop, floor = Pacer._effective_limit, Pacer._hold_floor
    Pacer._effective_limit = lambda self: np.full(self.n, float(theta))
    Pacer._hold_floor = lambda self, *args: None
    try:
        yield
    finally:
        Pacer._effective_limit, Pacer._hold_floor = loop, floor


def point(scn, seeds: list[int]) -> dict:
    """Occupancy, FCC abandon rate and agent wait of ``scn`` over ``seeds``."""
    runs = [simulate(scn, s).total for s in seeds]
    occ, occ_lo, occ_hi = mean_ci95([t["occupancy"] for t in runs])
    ab, ab_lo, ab_hi = rate_ci95([t["abandons"] for t in runs],
                                 [t["live_answers"] for t in runs])
    wait = float(np.mean([t["agent_wait_mean_s"] for t in runs]))
    return {"occupancy": occ, "occupancy_ci95": [occ_lo, occ_hi], "abandon_rate": ab,
            "abandon_rate_ci95": [ab_lo, ab_hi], "agent_wait_mean_s": wait}


def _numbers(text: str, name: str) -> list[float]:
    try:
        out = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"--{name}: expected numbers separated by commas, got {text!r}") \
            from None
    if any(not (x > 0) for x in out):
        raise SystemExit(f"--{name}: every value must be > 0, got {text!r}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario")
    ap.add_argument("-r", "--replications", type=int, default=10)
    ap.add_argument("--thetas", default="0.02,0.035,0.05",
                    help="fixed prices of the predictive model (marginal abandons per "
                         "marginal live answer)")
    ap.add_argument("--ratios", default="2.9,3.2,3.5", help="progressive ratios")
    ap.add_argument("--hours", type=float, default=None, help="measured hours per run")
    a = ap.parse_args(argv)
    if a.replications < 2:
        raise SystemExit("-r: at least 2 replications (an interval needs two)")
    over = {"scenario.sim_hours": a.hours} if a.hours else None
    scn = load(a.scenario, overrides=over)
    seeds = replication_seeds(scn.seed, a.replications)
    rows = [("predictive (price loop)", point(with_policy(scn, "predictive"), seeds))]
    for theta in _numbers(a.thetas, "thetas"):
        with fixed_price(theta):
            rows.append((f"predictive, theta {theta:g}",
                         point(with_policy(scn, "predictive"), seeds)))
    for r in _numbers(a.ratios, "ratios"):
        rows.append((f"progressive {r:g}", point(with_policy(scn, f"progressive:{r}"), seeds)))
    print(f"{scn.name}: {a.replications} replications (seeds {seeds[0]}..{seeds[-1]}), "
          f"{scn.sim_hours:g} h each")
    print(f"{'policy':<28} {'occupancy % (95 %)':>24} {'FCC abandons % (95 %)':>24} "
          f"{'wait s':>7}")
    for name, p in rows:
        lo, hi = p["occupancy_ci95"]
        alo, ahi = p["abandon_rate_ci95"]
        print(f"{name:<28} {100 * p['occupancy']:>8.2f} ({100 * lo:.2f}, {100 * hi:.2f}) "
              f"{100 * p['abandon_rate']:>8.2f} ({100 * alo:.2f}, {100 * ahi:.2f}) "
              f"{p['agent_wait_mean_s']:>7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Open-loop calibration of the predictive model: expected against realised abandons.

    python -m bench.pacing_calibration SCENARIO [--hours H] [--seeds 7,8,9] [--closed-loop]

Runs SCENARIO's predictive campaigns with the feedback off (``Pacer.open_loop``: the price
stays at the aim) and compares, summed over the run, the live answers and abandons the
model expected its launched dials to bring (``Pacer.added_live``/``added_abandons``) with
the realised ones. A calibrated model gives a ratio near 1 for both; the tolerance of one
run is about 3 / sqrt(expected abandons) (abandons are near Poisson).
"""

from __future__ import annotations

import argparse
import json
import math

import simpy

from engine.store_memory import MemoryStore
from sim.run import assemble
from sim.scenario import load, override_value


def calibration(scn, seed: int, open_loop: bool = True) -> dict:
    """One run: expected and realised live answers and abandons, summed over campaigns."""
    env = simpy.Environment()
    end_s = scn.warmup_s + scn.sim_s
    w = assemble(scn, seed, env, MemoryStore(), (scn.warmup_s, end_s), None)
    pacer = w.dialer.pacer
    pacer.open_loop = open_loop
    pacer._limit = pacer._effective_limit()
    seen = {"live": 0, "abandons": 0}
    observe = pacer.observe_live

    def counted(row, t_s, abandoned):
        seen["live"] += 1
        seen["abandons"] += int(abandoned)
        observe(row, t_s, abandoned)

    pacer.observe_live = counted
    w.feed.start()
    w.director.start()
    w.dialer.start()
    env.run(until=end_s)
    exp_ab = float(pacer.added_abandons.sum())
    exp_live = float(pacer.added_live.sum())
    return {"seed": seed, "expected_abandons": exp_ab, "realised_abandons": seen["abandons"],
            "expected_live": exp_live, "realised_live": seen["live"],
            "abandon_ratio": seen["abandons"] / exp_ab if exp_ab > 0 else math.nan,
            "live_ratio": seen["live"] / exp_live if exp_live > 0 else math.nan,
            "abandon_rate": seen["abandons"] / max(seen["live"], 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario")
    ap.add_argument("--hours", type=float, default=None)
    ap.add_argument("--seeds", default="7")
    ap.add_argument("--closed-loop", action="store_true")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    a = ap.parse_args(argv)
    over = {}
    for kv in a.set:
        k, v = kv.split("=", 1)
        over[k] = override_value(v)
    if a.hours:
        over["scenario.sim_hours"] = a.hours
    scn = load(a.scenario, overrides=over or None)
    for s in a.seeds.split(","):
        print(json.dumps(calibration(scn, int(s), not a.closed_loop)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

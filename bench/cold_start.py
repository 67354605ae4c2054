"""Predictive cold starts at any size with a wrong prior: the FCC abandon rate over the
first minutes, by answer time.

    python -m bench.cold_start                                # the default grid
    python -m bench.cold_start --agents 1000 --live 0.8 --prior 0.25 -r 3 --minutes 6
    python -m bench.cold_start --drift 0.35,0.15 --agents 400 --minutes 60 --prior 0.35

Each run starts ``scenarios/pacing-large-400.toml`` cold (no warm-up) with ``--agents``
agents (ports and carrier set-up rate scaled so that neither binds), the campaign's true
live-answer share ``--live`` (the other outcome shares rescaled to sum to 1) and
``initial_hit_rate`` ``--prior``; ``--drift A,B`` instead moves the live share linearly
from A to B over the run (the drift scenario's profile).

The rate is the FCC one (abandoned live answers / live answers, AMD-classified, as
``engine.kpi`` counts them) over the live answers *answered* in the first ``m`` minutes,
pooled over the seeds, with its 95 % upper bound (``sim.plan.stats.rate_ci95``). A run's
KPI block counts the attempts *completed* in its window, which over a few minutes misses
most connected calls (still talking at the cut) but none of the abandons (they end within
seconds): a 6-minute cold start of 1000 agents read 3.06 % that way and 2.00 % by answer
time. So the live answers here come from the engine's events (``connected`` updates and
abandoned completions), each at its answer time.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from engine.vocab import ABANDON_CODES, Code

SCENARIO = "scenarios/pacing-large-400.toml"
BASE_AGENTS, BASE_PORTS, BASE_CPS = 400, 2400, 160  # the scenario's own
CHECKPOINTS_MIN = (1.0, 2.0, 3.0, 6.0, 15.0, 30.0, 60.0)
_ABANDON_NAMES = frozenset(Code(c).name for c in ABANDON_CODES)


@dataclass
class _AnswerSink:
    """An engine event sink keeping each live answer's answer time (seconds) and attempt
    id, apart for those connected to an agent and those abandoned
    (``engine.interfaces.EventSink``)."""

    enabled: bool = True
    connected: list[float] = field(default_factory=list)
    abandoned: list[float] = field(default_factory=list)
    connected_ids: list[int] = field(default_factory=list)
    abandoned_ids: list[int] = field(default_factory=list)

    def publish(self, topic: str, event: dict) -> None:
        kind = event["type"]
        if kind == "ATTEMPT_UPDATED" and event["change"] == "connected":
            self.connected.append(event["t_answer_s"])
            self.connected_ids.append(event["attempt_id"])
        elif kind == "ATTEMPT_COMPLETED":
            code = event["completion_code"]
            if code in _ABANDON_NAMES:
                self.abandoned.append(event["t_answer_s"])
                self.abandoned_ids.append(event["attempt_id"])
            elif code == "MACHINE" and event["t_connect_s"] >= 0:
                # its agent found an answering machine: not a live answer after all
                i = self.connected_ids.index(event["attempt_id"])
                del self.connected[i], self.connected_ids[i]


def scenario(agents: int, live: float | None, prior: float, minutes: float,
             drift: tuple[float, float] | None = None):
    """The cold-start scenario (``SCENARIO`` with these settings; see the module)."""
    from sim.scenario import load

    scale = max(agents / BASE_AGENTS, 1.0)
    over = {"scenario.warmup_s": 0.0, "scenario.sim_hours": (minutes + 0.5) / 60.0,
            "agents.count": agents, "telephony.ports": math.ceil(2 * BASE_PORTS * scale),
            "telephony.carrier_cps": math.ceil(2 * BASE_CPS * scale),
            "campaigns.initial_hit_rate": prior}
    if drift is not None:
        over["campaigns.outcomes.live"] = drift[0]
        over["campaigns.profile"] = {"at": [0.0, 60.0 * minutes], "interpolate": "linear",
                                     "live": list(drift)}
    elif live is not None:
        over["campaigns.outcomes.live"] = live
    return load(SCENARIO, overrides=over)


def run_one(scn, seed: int) -> dict:
    """One replication: answer times of the live answers connected and abandoned (s), and
    the run's occupancy."""
    from sim.run import simulate

    sink = _AnswerSink()
    res = simulate(scn, seed, sink=sink)
    return {"seed": seed, "connected": np.array(sink.connected),
            "abandoned": np.array(sink.abandoned), "occupancy": res.total["occupancy"]}


def by_minute(runs: list[dict], minutes: float,
              checkpoints: tuple[float, ...] = CHECKPOINTS_MIN) -> list[dict]:
    """The pooled rate over the live answers answered before each checkpoint (minutes;
    and the whole span), its 95 % upper bound and the worst replication's rate."""
    from sim.plan.stats import rate_ci95

    out = []
    marks = sorted({m for m in checkpoints if m < minutes} | {minutes})
    for m in marks:
        t = 60.0 * m
        ab = [float((r["abandoned"] < t).sum()) for r in runs]
        lv = [float((r["connected"] < t).sum()) + a for r, a in zip(runs, ab, strict=True)]
        rate, _, hi = rate_ci95(ab, lv)
        worst = max((a / n if n else 0.0) for a, n in zip(ab, lv, strict=True))
        out.append({"minutes": m, "abandons": sum(ab), "live_answers": sum(lv), "rate": rate,
                    "upper": hi, "worst": worst})
    return out


def measure(agents: int, live: float | None, prior: float, minutes: float, seed: int,
            reps: int, drift: tuple[float, float] | None = None,
            checkpoints: tuple[float, ...] = CHECKPOINTS_MIN) -> dict:
    """``reps`` replications (seeds ``seed ..``) of one setting, summarised."""
    scn = scenario(agents, live, prior, minutes, drift)
    runs = [run_one(scn, seed + i) for i in range(reps)]
    return {"agents": agents, "live": live, "drift": drift, "prior": prior,
            "minutes": minutes, "seeds": [seed, seed + reps - 1],
            "occupancy": float(np.mean([r["occupancy"] for r in runs])),
            "checkpoints": by_minute(runs, minutes, checkpoints)}


def _line(res: dict) -> str:
    what = (f"drift {res['drift'][0]:g}->{res['drift'][1]:g}" if res["drift"]
            else f"live {res['live']:g}")
    cps = "  ".join(f"{c['minutes']:g}m {100 * c['rate']:.2f}% (<{100 * c['upper']:.2f}, "
                    f"max {100 * c['worst']:.1f})" for c in res["checkpoints"])
    return (f"{res['agents']:5d} agents {what:>16s} prior {res['prior']:g}: occ "
            f"{res['occupancy']:.4f} | {cps}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.cold_start",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--agents", type=int, nargs="+", default=[400, 1000])
    ap.add_argument("--live", type=float, nargs="+", default=[0.1, 0.3, 0.5, 0.8])
    ap.add_argument("--prior", type=float, nargs="+", default=[0.25])
    ap.add_argument("--drift", type=str, default=None,
                    help="A,B: the live share drifts from A to B over the run")
    ap.add_argument("--minutes", type=float, default=6.0)
    ap.add_argument("-r", "--replications", type=int, default=3)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--marks", type=float, nargs="+", default=list(CHECKPOINTS_MIN),
                    help="checkpoints, minutes from the start")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    drift = None
    if args.drift:
        try:
            a, b = (float(x) for x in args.drift.split(","))
        except ValueError:
            ap.error(f"--drift: expected A,B (two shares), got {args.drift!r}")
        drift = (a, b)
    results = []
    for n in args.agents:
        for prior in args.prior:
            for live in ([None] if drift else args.live):
                t0 = time.perf_counter()
                res = measure(n, live, prior, args.minutes, args.seed, args.replications,
                              drift, tuple(args.marks))
                res["wall_s"] = time.perf_counter() - t0
                results.append(res)
                if not args.json:
                    print(_line(res), flush=True)
    if args.json:
        json.dump(results, sys.stdout, default=lambda o: o.tolist() if hasattr(o, "tolist")
                  else str(o))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

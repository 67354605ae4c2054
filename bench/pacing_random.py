"""Predictive pacing on random single-campaign scenarios: does it keep the limit?

    python -m bench.pacing_random --count 40                 # 40 scenarios, 2 x 0.5 h each
    python -m bench.pacing_random --start 200 --count 60 --targets   # with SL / wait targets
    python -m bench.pacing_random --count 24 --large --hours 0.25    # 300-1500 agents

The family (``bench.pacing_family``) is seven hand-made scenarios; a dialer is judged on
traffic nobody chose for it. Scenario ``i`` is drawn from a generator seeded by ``i`` (the
same ``i`` gives the same scenario): 5-600 agents (300-1500 with ``--large``), answers by a
person 0.06-0.6 and by a machine 0-35 % of dials, talk 30-600 s (exponential, lognormal or
gamma, CV 0.3-2.5), wrap-up none or 2-120 s, callers' patience 2-40 s or none, FCC or Ofcom
at 3 %, AMD off or accuracy 0.7-0.99, ports and carrier rate ample or tight, the hit-rate
prior right or wrong; ``--targets`` adds a service-level or agent-wait target to some and
limits of 1, 3 or 5 %. Each runs predictive from a cold start (no warm-up; ``--warmup`` to
change) on ``-r`` replications (``sim.plan.compare.evaluate``), and one JSON line per
scenario gives what was drawn and what came: the rate the scenario's rule judges, the
occupancy, the service level, the agent wait, live answers and abandons per run, whether
the limit is met at the upper 95 % bound and the warnings' codes. The summary line counts
the scenarios over their limit (small teams' few abandons make single runs noisy: read
``la`` and ``ab``), those warned infeasible, and the errors (a scenario that fails to load
or run is a bug: the generator only draws valid ones).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
from pathlib import Path

from sim.plan.compare import evaluate
from sim.scenario import load


def draw(i: int, large: bool = False, targets: bool = False) -> tuple[str, dict]:
    """Scenario ``i``'s TOML text and what was drawn (a dict)."""
    r = random.Random(1000 + i)
    agents = round(math.exp(r.uniform(math.log(5), math.log(600))))
    if large:
        agents = r.randint(300, 1500)
    live = round(r.uniform(0.06, 0.6), 4)
    machine = round(r.uniform(0.0, min(0.35, 0.95 - live)), 4)
    rest = 1.0 - live - machine
    busy, invalid = round(rest * 0.2 * r.random(), 4), round(rest * 0.2 * r.random(), 4)
    no_answer = round(1.0 - live - machine - busy - invalid, 4)
    talk_dist = r.choice(["lognormal", "exponential", "gamma", "lognormal"])
    talk = math.exp(r.uniform(math.log(30), math.log(600)))
    cv = r.uniform(0.3, 2.5) if talk_dist != "exponential" else 1.0
    wrap = r.choice([0.0, r.uniform(2, 120)])
    patience = r.choice([None, r.uniform(2, 40)])
    mode = r.choice(["fcc", "fcc", "ofcom"])
    amd = r.choice([None, r.uniform(0.7, 0.99)])
    ports = r.choice([agents * 10, int(agents * r.uniform(1.3, 4)) + 2])
    cps = r.choice([1000.0, max(1.0, agents * r.uniform(0.1, 1.0))])
    prior = r.choice([0.25, r.uniform(0.05, 0.7)])
    ring = r.uniform(4, 20)
    limit, target = 0.03, ""
    drawn = dict(i=i, agents=agents, live=live, machine=machine, talk_s=round(talk),
                 talk_dist=talk_dist, cv=round(cv, 2), wrap_s=round(wrap),
                 patience_s=patience and round(patience, 1), mode=mode,
                 amd=amd and round(amd, 2), ports=ports, cps=round(cps, 1),
                 prior=round(prior, 2), ring_median_s=round(ring, 1))
    if targets:
        t = random.Random(5000 + i)
        kind = t.choice(["service_level", "agent_wait", "abandon_rate"])
        limit = t.choice([0.01, 0.03, 0.05])
        if kind == "service_level":
            v, thr = t.uniform(0.8, 0.97), t.choice([2.0, 5.0, 10.0])
            target = (f'target = "service_level"\ntarget_value = {v:.3f}\n'
                      f"sl_threshold_s = {thr}\n")
            drawn.update(target=kind, target_value=round(v, 3), sl_threshold_s=thr)
        elif kind == "agent_wait":
            v = t.uniform(3, 60)
            target = f'target = "agent_wait"\ntarget_value = {v:.1f}\n'
            drawn.update(target=kind, target_value=round(v, 1))
        drawn["limit"] = limit
    wrap_toml = (f'dist = "exponential"\nmean_s = {wrap:.1f}' if wrap > 0
                 else 'dist = "deterministic"\nmean_s = 0.0')
    customer = f"[campaigns.customer]\npatience_mean_s = {patience:.1f}\n" if patience else ""
    cv_line = f"cv = {cv:.2f}\n" if talk_dist != "exponential" else ""
    text = f"""[scenario]
name = "random-{i}"
sim_hours = 0.5
warmup_s = 0.0
seed = 11
[regulation]
mode = "{mode}"
abandon_limit = {limit}
connect_window_s = 2.0
[telephony]
ports = {ports}
carrier_cps = {cps:.2f}
[[agents]]
group = "team"
count = {agents}
skills = ["sales"]
[[campaigns]]
name = "sales"
channel = "voice_agent"
pacing = "predictive"
skill = "sales"
{target}initial_hit_rate = {prior:.3f}
[campaigns.outcomes]
live = {live}
machine = {machine}
busy = {busy}
no_answer = {no_answer}
invalid = {invalid}
ring_median_s = {ring:.2f}
[campaigns.amd]
enabled = {"true" if amd else "false"}
accuracy = {amd or 0.9:.3f}
{customer}[campaigns.talk]
dist = "{talk_dist}"
mean_s = {talk:.1f}
{cv_line}[campaigns.wrap]
{wrap_toml}
"""
    return text, drawn


def run_one(i: int, a: argparse.Namespace, folder: Path) -> dict:
    """Scenario ``i`` drawn, written, loaded and run: its JSON record."""
    text, drawn = draw(i, a.large, a.targets)
    path = folder / f"random-{i}.toml"
    path.write_text(text)
    try:
        scn = load(str(path), overrides={"scenario.sim_hours": a.hours,
                                         "scenario.warmup_s": a.warmup})
        (res,) = evaluate(scn, ["predictive"], 11, a.replications)
    except Exception as e:  # a generator draws only valid scenarios: this is a finding
        return {**drawn, "error": f"{type(e).__name__}: {e}"[:300]}
    k = res.kpis
    rate = k["abandon_rate_ofcom"] if drawn["mode"] == "ofcom" else k["abandon_rate"]
    codes = [w.get("code") for w in (res.warning_records or []) if isinstance(w, dict)]
    return {**drawn, "rate": round(rate, 4), "occupancy": round(k["occupancy"], 4),
            "service_level": round(k["service_level"], 4),
            "agent_wait_s": round(k["agent_wait_mean_s"], 1), "la": k["live_answers"],
            "ab": k["abandons"], "meets_limit": res.meets_limit, "warnings": codes}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--hours", type=float, default=0.5)
    ap.add_argument("--warmup", type=float, default=0.0, help="seconds (default: cold start)")
    ap.add_argument("-r", "--replications", type=int, default=2)
    ap.add_argument("--large", action="store_true", help="300-1500 agents")
    ap.add_argument("--targets", action="store_true",
                    help="service-level and agent-wait targets, limits of 1, 3 or 5 %%")
    a = ap.parse_args(argv)
    over = infeasible = errors = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.start, a.start + a.count):
            rec = run_one(i, a, Path(tmp))
            print(json.dumps(rec), flush=True)
            if "error" in rec:
                errors += 1
                continue
            infeasible += "abandon_limit_infeasible" in rec["warnings"]
            over += rec["rate"] > rec.get("limit", 0.03) and \
                "abandon_limit_infeasible" not in rec["warnings"]
    print(json.dumps({"scenarios": a.count, "over_limit": over, "infeasible_warned": infeasible,
                      "errors": errors}))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

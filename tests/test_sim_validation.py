"""The simulator against closed forms, in the configurations that reduce to them.

Each check runs independent replications and compares the mean of a per-replication estimate
with the closed form: the tolerance is 3 standard errors of that mean (from the replications'
own spread) plus a small allowance for the discrete tick named in each test. Replications
measure 1.5 h after a 15-minute warm-up: long against the systems' relaxation times (a few
mean holding times), short enough that the three checks take seconds.
"""

import math

import numpy as np
import polars as pl
import pytest

from engine import kpi
from engine.attempt import Code
from sim.erlang import erlang_a, erlang_b, erlang_c_metrics
from sim.run import simulate
from sim.scenario import build

pytestmark = pytest.mark.slow

REPS = 6


def _scenario(campaign: dict, agents: int = 0, ports: int = 10_000, hours: float = 1.5,
              window_s: float = 2.0, seed: int = 3):
    raw = {
        "scenario": {"name": "validation", "sim_hours": hours, "warmup_s": 900.0,
                     "seed": seed, "tick_s": 0.25},
        "regulation": {"connect_window_s": window_s},
        "telephony": {"ports": ports, "carrier_cps": 1e6},
        "campaigns": [campaign],
    }
    if agents:
        raw["agents"] = [{"group": "g", "count": agents, "skills": ["s"]}]
    return build(raw, "validation")


def _mean_se(values):
    v = np.asarray(values, dtype=float)
    return v.mean(), v.std(ddof=1) / math.sqrt(len(v))


def _window(run, scn):
    return kpi.in_window(run.attempts, scn.warmup_s, scn.warmup_s + scn.sim_s)


def test_ports_only_blocking_is_erlang_b():
    # Poisson attempts, every one answered after ~2 s and then a 30 s message: offered
    # load = rate * mean hold. Erlang B is insensitive to the hold distribution.
    rate_per_s, ports, message_s = 0.5, 15, 30.0
    camp = {"name": "notify", "channel": "voice_agentless", "attempts_per_hour": 3600 * rate_per_s,
            "arrivals": "poisson", "max_ports": 1000,
            "outcomes": {"live": 1.0, "machine": 0.0, "busy": 0.0, "no_answer": 0.0,
                         "invalid": 0.0, "ring_median_s": 2.0, "ring_sigma": 0.2},
            "message": {"length_s": message_s}}
    scn = _scenario(camp, ports=ports)
    ring_mean = 2.0 * math.exp(0.2**2 / 2)
    load = rate_per_s * (ring_mean + message_s)
    expected = erlang_b(load, ports)
    runs = [simulate(scn, scn.seed + i) for i in range(REPS)]
    est = []
    for r in runs:
        att = _window(r, scn)
        est.append((att["code"] == int(Code.BLOCKED)).sum() / att.height)
    mean, se = _mean_se(est)
    assert abs(mean - expected) <= 3 * se + 0.005, (mean, se, expected)


def _agent_campaign(rate_per_h, talk_mean_s, patience=None):
    camp = {"name": "inbound-like", "channel": "voice_agent", "pacing": "timed",
            "skill": "s", "attempts_per_hour": rate_per_h, "arrivals": "poisson",
            "outcomes": {"live": 1.0, "machine": 0.0, "busy": 0.0, "no_answer": 0.0,
                         "invalid": 0.0, "ring_median_s": 3.0, "ring_sigma": 0.3},
            "talk": {"dist": "exponential", "mean_s": talk_mean_s},
            "wrap": {"dist": "deterministic", "mean_s": 0.0}}
    if patience is not None:
        camp["customer"] = {"patience_mean_s": patience}
    return camp


def _waits(run, scn):
    att = _window(run, scn).filter(pl.col("code").is_in(kpi.LIVE_CODES))
    return att


def test_agents_with_infinite_patience_are_erlang_c():
    # Poisson live answers to n agents, exponential talk, no wrap, no abandon window.
    n, talk, rate_h = 10, 100.0, 306.0  # rho = 0.85
    scn = _scenario(_agent_campaign(rate_h, talk), agents=n, window_s=86_400.0)
    theory = erlang_c_metrics(rate_h, talk, n, 0.0)
    p_wait, mean_wait = [], []
    for r in [simulate(scn, scn.seed + i) for i in range(REPS)]:
        att = _waits(r, scn)
        w = (att["t_connect"] - att["t_answer"]).to_numpy()
        w = w[att["t_connect"].to_numpy() >= 0]
        p_wait.append(float((w > 1e-9).mean()))
        mean_wait.append(float(w.mean()))
    m, se = _mean_se(p_wait)
    # the 0.25 s tick batches arrivals: P(two in one tick) = (rate*tick)^2/2 ~ 2e-4
    assert abs(m - theory.p_wait) <= 3 * se + 0.005, (m, se, theory.p_wait)
    m, se = _mean_se(mean_wait)
    assert abs(m - theory.asa_s) <= 3 * se + 0.5, (m, se, theory.asa_s)


def test_agents_with_exponential_patience_are_erlang_a():
    n, talk, rate_h, patience = 10, 100.0, 360.0, 30.0  # rho = 1.0: Erlang A stays stable
    scn = _scenario(_agent_campaign(rate_h, talk, patience), agents=n, window_s=86_400.0)
    theory = erlang_a(rate_h / 3600.0, 1.0 / talk, n, 1.0 / patience)
    p_ab, p_wait = [], []
    for r in [simulate(scn, scn.seed + i) for i in range(REPS)]:
        att = _waits(r, scn)
        p_ab.append(float((att["code"] == int(Code.CUSTOMER_HANGUP)).mean()))
        waited = (att["t_connect"] < 0) | (att["t_connect"] - att["t_answer"] > 1e-9)
        p_wait.append(float(waited.mean()))
    m, se = _mean_se(p_ab)
    assert abs(m - theory.p_abandon) <= 3 * se + 0.005, (m, se, theory.p_abandon)
    m, se = _mean_se(p_wait)
    assert abs(m - theory.p_wait) <= 3 * se + 0.005, (m, se, theory.p_wait)


def test_progressive_one_to_one_abandons_only_by_amd_false_positives():
    camp = {"name": "prog", "channel": "voice_agent", "pacing": "progressive", "ratio": 1.0,
            "skill": "s", "amd": {"enabled": True, "accuracy": 0.8, "errors_on_humans": 0.5},
            "customer": {"patience_mean_s": 3.0}}
    raw_scn = _scenario(camp, agents=20, hours=1.0)
    scn = build({**raw_scn.raw, "regulation": {"mode": "ofcom"}}, "validation")
    run = simulate(scn, scn.seed)
    # the window's counts as the run's KPIs take them (answers by their answer time, the
    # calls still up at the end included)
    every = run.every_attempt
    lo, hi = scn.warmup_s, scn.warmup_s + scn.sim_s
    c = kpi.window_counts(every, lo, hi)
    att = kpi.answered_in(every, lo, hi)
    assert c["live_answers"] > 100
    assert c["abandons"] == 0  # every live answer had its agent waiting
    assert c["amd_false_positives"] > 0
    # the Ofcom rate is then exactly the false positives' share of all live calls, which
    # the AMD's error rate on people sets
    fp, live = c["amd_false_positives"], c["live_answers"]
    assert run.total["abandon_rate_ofcom"] == pytest.approx(fp / (live + fp))
    # (of the people who answered: binomial, p = (1 - accuracy) x errors_on_humans)
    p = 0.2 * 0.5
    n = int(att["human"].sum())
    assert abs(fp / n - p) <= 3 * (p * (1 - p) / n) ** 0.5
    assert run.total["abandon_rate"] == 0.0


def test_people_answering_after_the_ring_timeout_are_no_answers():
    """docs/scenarios.md said `live` is 'a person answers (the hit rate)'; people (and
    machines) whose time to answer passes `ring_no_answer_s` are no-answers, so the dials
    reaching a person are live x P(ring <= timeout): 0.912 x live at the defaults
    (lognormal, median 9.5 s, shape 0.55, 20 s), as the doc now says. Binomial oracle, on
    a notification job (no pacing in the way)."""
    live, rna_s = 0.4, 20.0
    camp = {"name": "notify", "channel": "voice_agentless", "attempts_per_hour": 3600.0,
            "outcomes": {"live": live, "machine": 0.0, "busy": 0.0, "no_answer": 0.6,
                         "invalid": 0.0, "ring_no_answer_s": rna_s}}
    scn = _scenario(camp, hours=0.5)
    p_in_time = 0.5 * (1 + math.erf(math.log(rna_s / 9.5) / (0.55 * math.sqrt(2))))
    assert p_in_time == pytest.approx(0.912, abs=0.001)
    n = reached = 0
    for i in range(REPS):
        att = _window(simulate(scn, scn.seed + i), scn)
        n += att.height
        reached += int(att["human"].sum())
    expected = live * p_in_time
    assert abs(reached / n - expected) <= 3 * math.sqrt(expected * (1 - expected) / n)
    assert abs(reached / n - live) > 3 * math.sqrt(live * (1 - live) / n)  # not 0.4

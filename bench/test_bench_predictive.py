"""Benchmarks: the predictive decision for 200 campaigns / 1000 agents (numba kernel, public
wrapper and NumPy reference side by side), one campaign of 1000 agents, and the first-call
compile time with a cold and a warm on-disk cache.

Run with ``pytest bench/test_bench_predictive.py --benchmark-enable --dist no``. Sizes follow the
reference platform's documented load (Implementing Avaya Proactive Outreach Manager):
1000 agents, 200 concurrent jobs.
Traffic: handling time lognormal, mean 150-240 s, CV about 1, and human time to answer
median about 9 s, ring-no-answer 20 s, hit rate 10-30 % (Sytel's published answer-time
figures; *assumptions* where it says so). No timing is asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from pacer import predictive
from pacer.histogram import StreamingHistogram
from pacer.predictive import predictive_dials, warmup
from tests import naive_predictive as naive

N_CAMPAIGNS = 200
N_AGENTS = 1000
RING_TIMEOUT_S = 20.0


def _lognormal(rng, mean, cv, size):
    sigma = np.sqrt(np.log1p(cv * cv))
    return rng.lognormal(np.log(mean) - sigma * sigma / 2, sigma, size)


def _case(n_campaigns, agents_per_campaign, seed):
    """A busy-hour snapshot: 10 % of agents idle, the others part-way through a call
    (elapsed = uniform share of a handling time), 1-2 unanswered calls in flight per agent,
    caps at 3 lines per agent; mostly ABANDON_RATE targets, some service level and wait."""
    rng = np.random.default_rng(seed)
    c_n, per = n_campaigns, agents_per_campaign
    hold = StreamingHistogram(c_n, 2.0, 3600.0)
    ring = StreamingHistogram(c_n, 0.25, 60.0)
    hold_mean = rng.uniform(150.0, 240.0, c_n)
    for c in range(c_n):
        hold.seed(c, hold_mean[c], 1.0, 20.0)
        ring.seed(c, 9.0, 0.5, 20.0)
    rows = np.repeat(np.arange(c_n), 200)
    hold.add_many(rows, _lognormal(rng, hold_mean[rows], 1.0, rows.size))
    rows = np.repeat(np.arange(c_n), 100)
    ring.add_many(rows, np.minimum(_lognormal(rng, 9.0, 0.5, rows.size), RING_TIMEOUT_S))
    n = c_n * per
    elapsed = rng.uniform(0, 1, n) * _lognormal(rng, np.repeat(hold_mean, per), 1.0, n)
    elapsed[rng.random(n) < 0.1] = -1.0
    calls = rng.integers(per, 2 * per + 1, c_n)
    kind = rng.choice([0, 1, 2], c_n, p=[0.7, 0.15, 0.15])
    return dict(
        agent_offsets=np.arange(c_n + 1) * per, agent_elapsed_s=elapsed,
        call_offsets=np.r_[0, np.cumsum(calls)],
        call_elapsed_s=rng.uniform(0.0, RING_TIMEOUT_S, calls.sum()),
        hold=hold, ring=ring, hit_rate=rng.uniform(0.1, 0.3, c_n),
        ring_timeout_s=np.full(c_n, RING_TIMEOUT_S), horizon_s=np.full(c_n, 10.0),
        connect_window_s=np.full(c_n, 2.0), abandon_limit=np.full(c_n, 0.03),
        target_kind=kind, target_value=np.where(kind == 1, 0.8, 5.0),
        sl_threshold_s=np.full(c_n, 15.0),
        max_new=np.maximum(3 * per - calls, 0).astype(np.int64),
        active=np.ones(c_n, dtype=np.int64))


def _kernel_args(s):
    """The exact arguments the public wrapper hands the kernel for case s (captured, so the
    kernel benchmark follows any change of the kernel's signature)."""
    real = predictive._predictive_dials
    captured = []

    def spy(*args):
        captured.append(args)
        return real(*args)

    predictive._predictive_dials = spy
    try:
        predictive.predictive_dials(**s)
    finally:
        predictive._predictive_dials = real
    return captured[0]


def _reference(s):
    return naive.predictive_dials(
        s["agent_offsets"], s["agent_elapsed_s"], s["call_offsets"], s["call_elapsed_s"],
        s["hold"].counts, s["hold"].bin_width_s, s["ring"].counts, s["ring"].bin_width_s,
        s["hit_rate"], s["ring_timeout_s"], s["horizon_s"], s["connect_window_s"],
        s["abandon_limit"], s["target_kind"], s["target_value"], s["sl_threshold_s"],
        s["max_new"], s["active"])


@pytest.fixture(scope="module")
def case_200():
    warmup()
    return _case(N_CAMPAIGNS, N_AGENTS // N_CAMPAIGNS, seed=2024)


@pytest.fixture(scope="module")
def case_1():
    warmup()
    return _case(1, N_AGENTS, seed=2025)


@pytest.mark.benchmark(group="predictive-200x1000")
def test_predictive_kernel_200_campaigns(benchmark, case_200):
    args = _kernel_args(case_200)
    benchmark(predictive._predictive_dials, *args)
    dials = args[-3]
    benchmark.extra_info["dials"] = int(dials.sum())
    assert np.array_equal(dials, _reference(case_200)[0])


@pytest.mark.benchmark(group="predictive-200x1000")
def test_predictive_wrapper_200_campaigns(benchmark, case_200):
    dials, _, _ = benchmark(predictive_dials, **case_200)
    assert dials.shape == (N_CAMPAIGNS,)


@pytest.mark.benchmark(group="predictive-200x1000")
def test_predictive_numpy_reference_200_campaigns(benchmark, case_200):
    dials = benchmark.pedantic(_reference, args=(case_200,), rounds=3, iterations=1)[0]
    assert dials.shape == (N_CAMPAIGNS,)


@pytest.mark.benchmark(group="predictive-1x1000")
def test_predictive_kernel_1_campaign_1000_agents(benchmark, case_1):
    args = _kernel_args(case_1)
    benchmark(predictive._predictive_dials, *args)
    benchmark.extra_info["dials"] = int(args[-3][0])
    benchmark.extra_info["max_new"] = int(case_1["max_new"][0])


@pytest.mark.benchmark(group="predictive-1x1000")
def test_predictive_wrapper_1_campaign_1000_agents(benchmark, case_1):
    benchmark(predictive_dials, **case_1)


_CHILD = """
import json, time
t0 = time.perf_counter()
from pacer import predictive
t1 = time.perf_counter()
predictive.warmup()
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "warmup_s": t2 - t1}))
"""


def _child(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    out = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True,
                         text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.benchmark(group="predictive-compile")
def test_predictive_first_call_compile_time(benchmark):
    """Import + warmup() in a fresh interpreter: cold (empty numba cache: compiles every
    kernel) versus warm (loads them from the on-disk cache). The benchmark times the warm
    child process as a whole; the in-child figures go to extra_info."""
    with tempfile.TemporaryDirectory() as cache_dir:
        cold = _child(cache_dir)  # fills the cache
        warm = benchmark.pedantic(_child, args=(cache_dir,), rounds=3, iterations=1)
    benchmark.extra_info.update({f"cold_{k}": v for k, v in cold.items()})
    benchmark.extra_info.update({f"warm_{k}": v for k, v in warm.items()})


def _lookahead_args(s, samples=32, fine=128):
    """The look-ahead kernel's arguments for a _case snapshot (the model Pacer uses: a
    32-sample screen, 128 fresh samples to decide when it would dial)."""
    from statistics import NormalDist

    from pacer.lookahead import dial_life

    c_n = s["hit_rate"].shape[0]
    end = StreamingHistogram(c_n, 0.25, 60.0)
    z = np.array([NormalDist().inv_cdf((i + 0.5) / samples) for i in range(samples)])
    z_fine = np.array([NormalDist().inv_cdf((i + 0.5) / fine) for i in range(fine)])
    ae, ce = s["agent_elapsed_s"], s["call_elapsed_s"]
    life = np.zeros(c_n)
    dial_life(s["ring"].counts, s["ring"].totals, s["ring"].bin_width_s, s["ring_timeout_s"],
              np.arange(c_n), life)
    # as the engine reports them: wrap-up apart (one busy agent in eight in wrap-up, the
    # talk read with the handling histogram of the snapshot, a 25 s wrap-up)
    phase = np.where(ae >= 0, np.where(np.arange(ae.size) % 8 == 0, 2, 1), 0).astype(np.int64)
    wrap = StreamingHistogram(c_n, 2.0, 1200.0)
    for c in range(c_n):
        wrap.seed(c, 25.0, 1.0, 50.0)
    return (s["agent_offsets"], ae, np.arange(ae.size, dtype=np.int64), phase,
            s["call_offsets"], ce, np.arange(ce.size, dtype=np.int64), s["hold"].counts,
            s["hold"].totals, s["hold"].bin_width_s, s["hold"].counts, s["hold"].totals,
            s["hold"].bin_width_s, wrap.counts, wrap.totals, wrap.bin_width_s,
            s["ring"].counts, s["ring"].totals, s["ring"].bin_width_s,
            end.counts, end.totals, end.bin_width_s, s["hit_rate"], np.full(c_n, 0.03), z,
            z_fine, life, s["connect_window_s"], np.zeros(c_n), np.full(c_n, 0.05),
            s["max_new"], s["active"], 1.0, 100.0, np.uint64(12345),
            np.array([1], dtype=np.uint64), np.zeros(c_n, dtype=np.int64), np.zeros(c_n),
            np.zeros(c_n), np.zeros(c_n), np.zeros(c_n), np.empty((c_n, 0)))


@pytest.mark.benchmark(group="lookahead-200x1000")
def test_lookahead_kernel_200_campaigns(benchmark, case_200):
    """The time-resolved look-ahead Pacer uses for predictive campaigns (64 samples), every
    campaign decided (the engine re-decides only campaigns with news between full
    decisions once a second)."""
    from pacer.lookahead import _lookahead_curve

    args = _lookahead_args(case_200)
    benchmark(_lookahead_curve, *args)
    benchmark.extra_info["dials"] = int(args[-6].sum())
    assert (args[-6] >= 0).all() and (args[-6] <= case_200["max_new"]).all()


@pytest.mark.benchmark(group="pacer-agent-wait")
@pytest.mark.parametrize("lines_per_agent", [3.0, 100.0])
def test_agent_wait_decision_with_a_wide_lines_cap(benchmark, lines_per_agent):
    """``Pacer.decide`` for an AGENT_WAIT campaign of 200 agents (10 % idle, 300 calls
    ringing), at a lines cap of 3 and of 100 per agent (a scenario's maximum): the wait
    rule is searched no further than the abandon rule's dials, so the cap does not set the
    cost (at 100 per agent a decision took seconds when it did)."""
    from pacer import CampaignPacing, Pacer, Pacing
    from pacer.modes import Target

    rng = np.random.default_rng(3)
    pacer = Pacer([CampaignPacing(pacing=Pacing.PREDICTIVE, target=Target.AGENT_WAIT,
                                  target_value=5.0, max_lines_per_agent=lines_per_agent)])
    agents = np.zeros(200, dtype=np.int64)
    status = np.where(rng.random(200) < 0.1, 0, 1).astype(np.int64)  # idle / busy
    since = 1000.0 - rng.uniform(0.0, 300.0, 200)
    calls = np.zeros(300, dtype=np.int64)
    call_status = np.zeros(300, dtype=np.int64)  # ringing
    t0 = 1000.0 - rng.uniform(0.0, 20.0, 300)
    for _ in range(40):
        pacer.observe_dial(0, bool(rng.random() < 0.3), float(rng.uniform(3.0, 20.0)))
    now = iter(np.arange(1000.0, 1e6, 0.25))

    def one():
        return pacer.decide(float(next(now)), agents, status, since, calls, call_status, t0)

    dials = benchmark(one)
    assert dials.shape == (1,) and dials[0] >= 0

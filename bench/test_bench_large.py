"""Benchmarks: one predictive decision (the look-ahead kernel, and the engine arrays grouped
by campaign) for a single campaign of 10,000 and of 100,000 agents in a busy steady state.

Run with ``pytest bench/test_bench_large.py --benchmark-enable --dist no``. Traffic as the pacing
family's large scenario (scenarios/pacing-large-400.toml): talk lognormal mean 180 s CV 1,
wrap-up exponential mean 25 s, every agent busy (a talking agent's time so far drawn from
the stationary age of a call, i.e. length-biased), 0.24 or 0.10 calls ringing per agent
(their seconds ringing uniform over the 20 s ring timeout), hit rate 0.29 (posterior sd 0.014), the
Pacer's sample counts, a 2 s connect window, callers hanging up after 6 s on average. The
cost is per draw that lands in the look-ahead (a busy agent frees within it about one time
in seven here) and per call ringing; see docs/pacer.md. No timing is asserted.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest

from pacer.decide import LOOKAHEAD_FINE_SAMPLES, LOOKAHEAD_SAMPLES
from pacer.gather import Gatherer
from pacer.histogram import StreamingHistogram
from pacer.lookahead import _lookahead_curve, dial_life
from pacer.modes import AgentStatus, CallStatus

RING_TIMEOUT_S = 20.0
NOW_S = 3600.0


def _lognormal(rng, mean, cv, size):
    sigma = np.sqrt(np.log1p(cv * cv))
    return rng.lognormal(np.log(mean) - sigma * sigma / 2, sigma, size)


def _ages(rng, n, mean, cv):
    """Time so far of n calls in progress: length-biased call lengths, a uniform share."""
    pool = _lognormal(rng, mean, cv, 8 * n)
    keep = rng.choice(pool.size, n, p=pool / pool.sum())
    return rng.uniform(0.0, 1.0, n) * pool[keep]


def _snapshot(n_agents, calls_per_agent=0.24, seed=7):
    """The engine's arrays and the pacer's histograms for one busy campaign."""
    rng = np.random.default_rng(seed)
    talk = StreamingHistogram(1, 10.0, 3600.0)
    talk.seed(0, 180.0, 1.0, 50.0)
    talk.add_many(np.zeros(1000, dtype=np.int64), _lognormal(rng, 180.0, 1.0, 1000))
    wrap = StreamingHistogram(1, 2.0, 600.0)
    wrap.seed(0, 25.0, 1.0, 50.0)
    wrap.add_many(np.zeros(1000, dtype=np.int64), rng.exponential(25.0, 1000))
    ring = StreamingHistogram(1, 0.25, 120.0)
    ring.seed(0, 10.0, 0.5, 20.0)
    ring.add_many(np.zeros(500, dtype=np.int64),
                  np.minimum(_lognormal(rng, 10.0, 0.5, 500), RING_TIMEOUT_S))
    ring.truncate(0, RING_TIMEOUT_S)
    end = StreamingHistogram(1, 0.25, 120.0)
    end.seed(0, 10.0, 0.6, 20.0)
    in_wrap = rng.random(n_agents) < 25.0 / 205.0
    since = NOW_S - np.where(in_wrap, rng.exponential(25.0, n_agents),
                             _ages(rng, n_agents, 180.0, 1.0))
    status = np.where(in_wrap, int(AgentStatus.WRAP), int(AgentStatus.BUSY)).astype(np.int64)
    n_calls = int(calls_per_agent * n_agents)
    call_t0 = NOW_S - rng.uniform(0.0, RING_TIMEOUT_S, n_calls)
    return dict(agent_job=np.zeros(n_agents, dtype=np.int64), agent_status=status,
                agent_since_s=since, call_job=np.zeros(n_calls, dtype=np.int64),
                call_status=np.full(n_calls, int(CallStatus.RINGING), dtype=np.int64),
                call_t0_s=call_t0, talk=talk, wrap=wrap, ring=ring, end=end)


def _kernel_args(s):
    """``_lookahead_curve``'s arguments for a snapshot, the arrays grouped as Pacer does."""
    gat = Gatherer(1)
    _, (ao, ae, co, ce, _) = gat.checked(
        NOW_S, s["agent_job"], s["agent_status"], s["agent_since_s"], s["call_job"],
        s["call_status"], s["call_t0_s"])
    z = np.array([NormalDist().inv_cdf((i + 0.5) / LOOKAHEAD_SAMPLES)
                  for i in range(LOOKAHEAD_SAMPLES)])
    z_fine = np.array([NormalDist().inv_cdf((i + 0.5) / LOOKAHEAD_FINE_SAMPLES)
                       for i in range(LOOKAHEAD_FINE_SAMPLES)])
    talk, wrap, ring, end = s["talk"], s["wrap"], s["ring"], s["end"]
    life = np.zeros(1)
    dial_life(ring.counts, ring.totals, ring.bin_width_s, np.full(1, RING_TIMEOUT_S),
              np.arange(1), life)
    n_agents = s["agent_job"].size
    max_new = np.array([max(3 * n_agents - int(co[1]), 0)], dtype=np.int64)
    return (ao, ae, gat.agent_key, gat.agent_phase, co, ce, gat.call_key,
            talk.counts, talk.totals, talk.bin_width_s, talk.counts, talk.totals,
            talk.bin_width_s, wrap.counts, wrap.totals, wrap.bin_width_s,
            ring.counts, ring.totals, ring.bin_width_s, end.counts, end.totals, end.bin_width_s,
            np.array([0.29]), np.array([0.014]), z, z_fine, life, np.full(1, 2.0),
            np.full(1, 1.0 / 6.0), np.full(1, 0.015), max_new, np.ones(1, dtype=np.int64),
            1.0, NOW_S, np.uint64(12345), np.array([1], dtype=np.uint64),
            np.zeros(1, dtype=np.int64), np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1),
            np.empty((1, 0)))


@pytest.mark.parametrize("calls_per_agent", [0.24, 0.10])
@pytest.mark.parametrize("n_agents", [1_000, 10_000, 100_000])
@pytest.mark.benchmark(group="lookahead-1-large-campaign")
def test_lookahead_kernel_large_campaign(benchmark, n_agents, calls_per_agent):
    """One look-ahead decision for a single campaign of n_agents: with 0.24 calls ringing
    per agent the 16-sample screen finds no dial to make; with 0.10 it dials, and the
    64-sample decision and the 16-sample forecast run too."""
    args = _kernel_args(_snapshot(n_agents, calls_per_agent))
    state = args[35]
    _lookahead_curve(*args)  # compiled (cached) before timing

    def once():
        state[0] = 1  # the same stream at every round, as Pacer does at every decision
        _lookahead_curve(*args)

    benchmark(once)
    dials = int(args[-6][0])
    benchmark.extra_info.update(agents=n_agents, calls_ringing=int(args[4][1]), dials=dials)
    assert 0 <= dials <= int(args[30][0])


@pytest.mark.parametrize("n_agents", [10_000, 100_000])
@pytest.mark.benchmark(group="gather-1-large-campaign")
def test_gather_large_campaign(benchmark, n_agents):
    """The engine's flat arrays checked and grouped by campaign (every tick)."""
    s = _snapshot(n_agents)
    gat = Gatherer(1)
    arrays = (NOW_S, s["agent_job"], s["agent_status"], s["agent_since_s"], s["call_job"],
              s["call_status"], s["call_t0_s"])
    gat.checked(*arrays)
    benchmark(gat.checked, *arrays)
    _, (ao, _, co, _, _) = gat.checked(*arrays)
    assert int(ao[1]) == n_agents and int(co[1]) == s["call_job"].size

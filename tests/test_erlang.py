"""sim.erlang against published values, direct formulas and the M/M/n+M birth-death chain."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pytest
from scipy import special
from scipy.sparse.linalg import expm_multiply

from sim.erlang import (
    ErlangAMetrics,
    ErlangCMetrics,
    StaffingGoals,
    agents_for_goals,
    agents_for_service_level,
    erlang_a,
    erlang_a_metrics,
    erlang_b,
    erlang_b_capacity,
    erlang_c,
    erlang_c_metrics,
    max_calls_for_goals,
    meets_goals,
    scheduled_agents,
    servers_for_blocking,
)

# --------------------------------------------------------------------------- oracles


def erlang_b_direct(a: float, n: int) -> float:
    """``(A^n / n!) / sum_{k<=n} A^k / k!`` term by term (small n only)."""
    terms = [a**k / math.factorial(k) for k in range(n + 1)]
    return terms[-1] / sum(terms)


def erlang_b_log_space(a: float, n: int) -> float:
    """``B = pmf(n) / cdf(n)`` of Poisson(A), in logs with scipy (large n)."""
    log_pmf = n * math.log(a) - a - special.gammaln(n + 1)
    log_cdf = math.log(special.gammaincc(n + 1, a))
    return math.exp(log_pmf - log_cdf)


def erlang_c_direct(a: float, n: int) -> float:
    top = a**n / math.factorial(n) * n / (n - a)
    return top / (sum(a**k / math.factorial(k) for k in range(n)) + top)


@dataclass
class ChainResult:
    p_wait: float
    p_abandon: float
    mean_wait_s: float
    occupancy: float
    tail: float  # stationary mass at the truncation level
    pi: np.ndarray


def mmn_m_chain(n: int, lam: float, mu: float, theta: float, queue_cap: int) -> ChainResult:
    """Stationary M/M/n+M birth-death chain truncated at ``n + queue_cap`` calls.

    Birth rate ``lam``; death rate ``min(j, n) mu + max(j - n, 0) theta``. By PASTA
    ``P(wait) = P(J >= n)``; abandons ``theta E[Q] / lam``; ``E[W] = E[Q] / lam`` (Little).
    """
    j = np.arange(n + queue_cap + 1, dtype=np.float64)
    death = np.minimum(j, n) * mu + np.maximum(j - n, 0.0) * theta
    log_pi = np.concatenate([[0.0], np.cumsum(np.log(lam / death[1:]))])
    pi = np.exp(log_pi - log_pi.max())
    pi /= pi.sum()
    queue = np.maximum(j - n, 0.0)
    eq = float((queue * pi).sum())
    busy = float((np.minimum(j, n) * pi).sum())
    return ChainResult(
        p_wait=float(pi[n:].sum()),
        p_abandon=theta * eq / lam,
        mean_wait_s=eq / lam,
        occupancy=busy / n,
        tail=float(pi[-1]),
        pi=pi,
    )


def chain_service_level(
    n: int, mu: float, theta: float, chain: ChainResult, target_s: float
) -> float:
    """P(answered within ``target_s``) from the tagged-call Markov chain, by matrix exponential.

    A call arriving to ``n + k`` calls has ``k`` queued ahead; with ``i`` ahead it moves up
    at rate ``n mu + i theta`` (a service ends or one ahead abandons), reaches an agent from
    ``i = 0`` at rate ``n mu`` and abandons at rate ``theta``.
    """
    stages = len(chain.pi) - n
    served, abandoned = stages, stages + 1
    q = np.zeros((stages + 2, stages + 2))
    for i in range(stages):
        if i == 0:
            q[i, served] = n * mu
        else:
            q[i, i - 1] = n * mu + i * theta
        q[i, abandoned] = theta
        q[i, i] = -(n * mu + (i + 1) * theta)
    # the column of exp(Q t) into "served": exp(Q t) applied to its unit vector (the whole
    # matrix exponential is ~10x dearer and gives the same column)
    unit = np.zeros(stages + 2)
    unit[served] = 1.0
    reached = expm_multiply(q * target_s, unit)[:stages]
    return float(chain.pi[:n].sum() + (chain.pi[n:] * reached).sum())


# --------------------------------------------------------------------------- Erlang B


def test_erlang_b_published_15_lines_at_1_percent():
    # Standard Erlang B tables: 15 trunks carry 8.108 E offered at 1 % blocking.
    assert erlang_b(8.108, 15) == pytest.approx(0.01, abs=2e-6)
    assert erlang_b_capacity(15, 0.01) == pytest.approx(8.108, abs=5e-4)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 10, 20, 40])
@pytest.mark.parametrize("a", [0.01, 0.5, 1.0, 3.7, 10.0, 25.0])
def test_erlang_b_recursion_matches_factorial_sum(a, n):
    assert erlang_b(a, n) == pytest.approx(erlang_b_direct(a, n), rel=1e-12)


@pytest.mark.parametrize("a", [700.0, 900.0, 950.0, 1000.0, 1200.0, 2000.0])
def test_erlang_b_stable_at_1000_servers(a):
    b = erlang_b(a, 1000)
    assert 0.0 < b < 1.0
    assert b == pytest.approx(erlang_b_log_space(a, 1000), rel=1e-9)


@pytest.mark.parametrize("a", [5000.0, 1e6])
def test_erlang_b_heavy_load_at_1000_servers(a):
    # Carried traffic A (1 - B) is below n and tends to n as A grows.
    b = erlang_b(a, 1000)
    assert 0.0 < b < 1.0
    assert a * (1.0 - b) < 1000.0
    assert a * (1.0 - b) == pytest.approx(1000.0, rel=1000.0 / a)


def test_erlang_b_light_load_underflows_to_zero_cleanly():
    # B(1, 1000) = 1 / sum_k 1000!/k! ~ 1e-2568: below the double range, so exactly 0.
    assert erlang_b(1.0, 1000) == 0.0


def test_erlang_b_edges():
    assert erlang_b(0.0, 5) == 0.0
    assert erlang_b(3.0, 0) == 1.0
    assert erlang_b(1.0, 1) == pytest.approx(0.5)
    assert erlang_b(4.0, 10.0) == erlang_b(4.0, 10)  # integral floats are counts
    # 100,000 servers neither overflows nor underflows into nonsense.
    assert 0.0 < erlang_b(99_000.0, 100_000) < 0.01


@pytest.mark.parametrize("n, p", [(1, 0.5), (15, 0.01), (15, 0.001), (100, 0.02), (1000, 0.01)])
def test_erlang_b_capacity_round_trip(n, p):
    a = erlang_b_capacity(n, p)
    assert erlang_b(a, n) == pytest.approx(p, rel=1e-9)


def test_erlang_b_capacity_one_server_closed_form():
    # B(A, 1) = A / (1 + A)  =>  A = p / (1 - p).
    assert erlang_b_capacity(1, 0.2) == pytest.approx(0.25, rel=1e-12)


# --------------------------------------------------------------------------- Erlang C


def test_erlang_c_published_call_center_example():
    # 100 calls per 30 min, AHT 180 s, 14 agents, 20 s target (the classic worked example).
    m = erlang_c_metrics(200.0, 180.0, 14, 20.0)
    assert m.p_wait == pytest.approx(0.1741, abs=5e-5)
    assert m.service_level == pytest.approx(0.8884, abs=5e-5)
    assert m.asa_s == pytest.approx(7.84, abs=5e-3)
    assert m.occupancy == pytest.approx(10.0 / 14.0)


@pytest.mark.parametrize("n", [1, 2, 5, 14, 30])
@pytest.mark.parametrize("load", [0.1, 0.5, 0.9, 0.99])
def test_erlang_c_matches_direct_formula(n, load):
    a = load * n
    assert erlang_c(a, n) == pytest.approx(erlang_c_direct(a, n), rel=1e-11)


def test_erlang_c_single_server_is_mm1():
    # M/M/1: P(wait) = rho, ASA = rho / (mu - lambda), SL = 1 - rho e^{-(mu - lambda) t}.
    lam, mu = 0.6 / 60.0, 1.0 / 60.0
    m = erlang_c_metrics(lam * 3600.0, 60.0, 1, 30.0)
    assert m.p_wait == pytest.approx(0.6)
    assert m.asa_s == pytest.approx(0.6 / (mu - lam))
    assert m.service_level == pytest.approx(1.0 - 0.6 * math.exp(-(mu - lam) * 30.0))


def test_erlang_c_unstable_and_empty():
    assert erlang_c(14.0, 14) == 1.0
    m = erlang_c_metrics(800.0, 180.0, 14, 20.0)
    assert (m.p_wait, m.asa_s, m.service_level, m.occupancy) == (1.0, math.inf, 0.0, 1.0)
    idle = erlang_c_metrics(0.0, 180.0, 3, 20.0)
    assert (idle.p_wait, idle.asa_s, idle.service_level, idle.occupancy) == (0.0, 0.0, 1.0, 0.0)


def test_erlang_c_at_1000_agents():
    m = erlang_c_metrics(19_000.0, 180.0, 1000, 20.0)  # 950 E
    assert 0.0 < m.p_wait < 1.0
    assert 0.0 < m.service_level < 1.0
    assert math.isfinite(m.asa_s)


def test_agents_for_service_level_is_minimal():
    assert agents_for_service_level(200.0, 180.0, 20.0, 0.80) == 14
    assert agents_for_service_level(200.0, 180.0, 20.0, 0.79) == 13
    for cph, aht, t, goal in [(5000.0, 240.0, 15.0, 0.9), (19_000.0, 180.0, 20.0, 0.8)]:
        n = agents_for_service_level(cph, aht, t, goal)
        assert erlang_c_metrics(cph, aht, n, t).service_level >= goal
        assert erlang_c_metrics(cph, aht, n - 1, t).service_level < goal
    assert agents_for_service_level(0.0, 180.0, 20.0, 0.8) == 1


# --------------------------------------------------------------------------- Erlang A

# (agents, lambda per s, mu per s, theta per s, queue truncation), rho from 0.05 to 2.
CHAIN_CASES = [
    (1, 0.5, 1.0, 0.2, 300),
    (3, 0.1, 1.0, 10.0, 60),  # very impatient: close to Erlang B
    (5, 4.0, 1.0, 0.5, 200),
    (14, 200.0 / 3600.0, 1.0 / 180.0, 1.0 / 60.0, 300),
    (10, 15.0, 1.0, 2.0, 150),  # rho = 1.5
    (20, 30.0, 1.0, 0.25, 400),  # rho = 1.5, patient: ~40 queued
    (8, 16.0, 1.0, 1.0, 120),  # rho = 2, theta = mu
    (50, 45.0, 1.0, 0.05, 600),  # rho = 0.9, x = 1000
    (1000, 1100.0, 1.0, 1.0, 600),  # rho = 1.1 at 1000 agents
]


def _a_metrics(n, lam, mu, theta, target_s):
    return erlang_a(lam, mu, n, theta, target_s)


def test_erlang_a_rate_and_planner_forms_agree():
    by_rate = erlang_a(200.0 / 3600.0, 1.0 / 180.0, 14, 1.0 / 60.0, 15.0)
    by_units = erlang_a_metrics(200.0, 180.0, 14, 60.0, 15.0)
    for key in ("p_wait", "p_abandon", "mean_wait_s", "service_level", "occupancy"):
        assert getattr(by_rate, key) == pytest.approx(getattr(by_units, key), rel=1e-12)


@pytest.mark.parametrize("n, lam, mu, theta, cap", CHAIN_CASES)
def test_erlang_a_matches_birth_death_chain(n, lam, mu, theta, cap):
    chain = mmn_m_chain(n, lam, mu, theta, cap)
    assert chain.tail < 1e-14, "truncation too short for this case"
    m = _a_metrics(n, lam, mu, theta, 0.0)
    assert m.p_wait == pytest.approx(chain.p_wait, rel=1e-8, abs=1e-14)
    assert m.p_abandon == pytest.approx(chain.p_abandon, rel=1e-8, abs=1e-14)
    assert m.mean_wait_s == pytest.approx(chain.mean_wait_s, rel=1e-8, abs=1e-14)
    assert m.occupancy == pytest.approx(chain.occupancy, rel=1e-8)
    assert m.service_level == pytest.approx(1.0 - chain.p_wait, rel=1e-8, abs=1e-14)


@pytest.mark.parametrize("n, lam, mu, theta, cap", CHAIN_CASES)
def test_erlang_a_service_level_matches_chain(n, lam, mu, theta, cap):
    chain = mmn_m_chain(n, lam, mu, theta, cap)
    step = 1.0 / (n * mu + theta)  # a typical queue step
    wait_if_delayed = chain.mean_wait_s / chain.p_wait
    for target_s in (0.3 * step, 2.0 * step, 10.0 * step, 40.0 * step, 2.0 * wait_if_delayed):
        expected = chain_service_level(n, mu, theta, chain, target_s)
        got = _a_metrics(n, lam, mu, theta, target_s).service_level
        assert got == pytest.approx(expected, rel=1e-7, abs=1e-12), target_s


def test_erlang_a_service_level_limits():
    m0 = erlang_a_metrics(200.0, 180.0, 14, 60.0, 0.0)
    assert m0.service_level == pytest.approx(1.0 - m0.p_wait, abs=1e-14)
    far = erlang_a_metrics(200.0, 180.0, 14, 60.0, 1e5)
    assert far.service_level == pytest.approx(1.0 - far.p_abandon, abs=1e-12)
    levels = [erlang_a_metrics(200.0, 180.0, 14, 60.0, t).service_level for t in range(0, 200, 5)]
    assert all(b >= a for a, b in itertools.pairwise(levels))


def test_erlang_a_with_theta_equal_mu_is_infinite_server():
    # theta = mu: every call in the system leaves at rate mu, so J ~ Poisson(lambda / mu).
    a, n = 12.0, 10
    m = erlang_a_metrics(a * 3600.0 / 180.0, 180.0, n, 180.0, 20.0)
    k = np.arange(0, 200)
    pmf = np.exp(k * math.log(a) - a - special.gammaln(k + 1))
    assert m.p_wait == pytest.approx(pmf[n:].sum(), rel=1e-10)
    assert m.p_abandon == pytest.approx(((k - n).clip(0) * pmf).sum() / a, rel=1e-10)


@pytest.mark.parametrize("cph, n", [(200.0, 14), (3000.0, 160), (19_000.0, 1000)])
def test_erlang_a_tends_to_erlang_c_as_patience_grows(cph, n):
    c = erlang_c_metrics(cph, 180.0, n, 20.0)
    a = erlang_a_metrics(cph, 180.0, n, 1e9, 20.0)
    assert a.p_wait == pytest.approx(c.p_wait, rel=1e-5)
    assert a.mean_wait_s == pytest.approx(c.asa_s, rel=1e-5)
    assert a.service_level == pytest.approx(c.service_level, rel=1e-6)
    assert a.occupancy == pytest.approx(c.occupancy, rel=1e-6)
    assert a.p_abandon < 1e-6


def test_erlang_a_tends_to_erlang_b_as_patience_vanishes():
    m = erlang_a_metrics(200.0, 180.0, 14, 1e-6, 20.0)
    b = erlang_b(10.0, 14)
    assert m.p_wait == pytest.approx(b, rel=1e-6)
    assert m.p_abandon == pytest.approx(b, rel=1e-6)
    assert m.service_level == pytest.approx(1.0 - b, rel=1e-6)


@pytest.mark.parametrize("cph", [1000.0, 10_000.0, 19_900.0, 20_000.0, 22_000.0, 40_000.0])
@pytest.mark.parametrize("patience_s", [5.0, 60.0, 600.0, 1e5])
def test_erlang_a_1000_agents_any_load(cph, patience_s):
    m = erlang_a_metrics(cph, 180.0, 1000, patience_s, 20.0)
    for v in (m.p_wait, m.p_abandon, m.service_level, m.occupancy):
        assert 0.0 <= v <= 1.0
    assert math.isfinite(m.mean_wait_s) and m.mean_wait_s >= 0.0
    rho = cph * 180.0 / 3600.0 / 1000.0
    # Agents carry at most n: the abandon share is at least 1 - 1/rho.
    assert m.p_abandon >= max(0.0, 1.0 - 1.0 / rho) - 1e-12
    # Little's law on the queue.
    assert m.mean_wait_s == pytest.approx(m.p_abandon * patience_s)


def test_erlang_a_no_traffic():
    m = erlang_a_metrics(0.0, 180.0, 5, 60.0, 20.0)
    assert (m.p_wait, m.p_abandon, m.mean_wait_s, m.service_level, m.occupancy) == (
        0.0,
        0.0,
        0.0,
        1.0,
        0.0,
    )


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: erlang_b(-1.0, 3), "traffic_erlangs"),
        (lambda: erlang_b(1.0, -1), "servers"),
        (lambda: erlang_b(1.0, 2.5), "servers"),
        (lambda: erlang_c(float("nan"), 3), "traffic_erlangs"),
        (lambda: erlang_b_capacity(0, 0.01), "servers"),
        (lambda: erlang_b_capacity(5, 1.0), "blocking"),
        (lambda: erlang_c_metrics(200.0, 0.0, 14), "aht_s"),
        (lambda: erlang_c_metrics(200.0, 180.0, 0), "agents"),
        (lambda: erlang_c_metrics(-1.0, 180.0, 14), "calls_per_hour"),
        (lambda: erlang_c_metrics(200.0, 180.0, 14, -5.0), "target_s"),
        (lambda: erlang_a_metrics(200.0, 180.0, 14, 0.0), "patience_s"),
        (lambda: erlang_a_metrics(200.0, 180.0, 14, math.inf), "patience_s"),
        (lambda: agents_for_service_level(200.0, 180.0, 20.0, 1.0), "service_level"),
        (lambda: erlang_a(1.0, 0.0, 3, 1.0), "service_rate_per_s"),
        (lambda: erlang_a(1.0, 1.0, 3, -1.0), "abandon_rate_per_s"),
        (lambda: erlang_a(-1.0, 1.0, 3, 1.0), "arrival_rate_per_s"),
        (lambda: erlang_a(1.0, 1.0, 3, 1.0, math.nan), "target_s"),
    ],
)
def test_invalid_arguments_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# --------------------------------------------------------------------------- solvers


@pytest.mark.parametrize("a", [0.0, 0.3, 2.5, 8.108, 40.0, 180.0])
@pytest.mark.parametrize("p", [0.001, 0.01, 0.05, 0.3])
def test_servers_for_blocking_is_the_brute_force_minimum(a, p):
    # The smallest n with B(A, n) <= p, by scanning n = 1, 2, ... with the factorial form.
    n = 1
    while (erlang_b_direct(a, n) if n <= 60 else erlang_b_log_space(a, n)) > p:
        n += 1
    assert servers_for_blocking(a, p) == n


def _brute_agents(forward, goals: StaffingGoals, top: int = 400) -> int:
    for n in range(1, top):
        m = forward(n)
        if goals.service_level is not None and m.service_level < goals.service_level:
            continue
        if goals.max_occupancy is not None and m.occupancy > goals.max_occupancy:
            continue
        if goals.max_abandon is not None and m.p_abandon > goals.max_abandon:
            continue
        if goals.max_asa_s is not None:
            wait = m.asa_s if isinstance(m, ErlangCMetrics) else m.mean_wait_s
            if not wait <= goals.max_asa_s:
                continue
        return n
    raise AssertionError("no n found")


C_GOALS = [
    StaffingGoals(service_level=0.8, target_s=20.0),
    StaffingGoals(service_level=0.95, target_s=10.0),
    StaffingGoals(service_level=0.5, target_s=0.0),
    StaffingGoals(max_occupancy=0.85),
    StaffingGoals(max_asa_s=5.0),
    StaffingGoals(service_level=0.8, target_s=20.0, max_occupancy=0.7),
]


@pytest.mark.parametrize("goals", C_GOALS)
@pytest.mark.parametrize("cph, aht", [(0.0, 180.0), (200.0, 180.0), (1000.0, 240.0),
                                      (37.0, 600.0)])
def test_erlang_c_solver_is_the_brute_force_minimum(cph, aht, goals):
    # Brute force over n with the factorial-form Erlang C, independent of the solver.
    lam, a = cph / 3600.0, cph * aht / 3600.0

    def forward(n: int) -> ErlangCMetrics:
        if a >= n:
            return ErlangCMetrics(1.0, math.inf, 0.0, 1.0)
        c = erlang_c_direct(a, n) if a > 0 else 0.0
        drain = n / aht - lam
        return ErlangCMetrics(c, c / drain, 1.0 - c * math.exp(-drain * goals.target_s), a / n)

    n = agents_for_goals(cph, aht, goals)
    assert n == _brute_agents(forward, goals)
    if goals.service_level is not None and goals.max_occupancy is None:
        assert n == agents_for_service_level(cph, aht, goals.target_s, goals.service_level)


@pytest.mark.parametrize("goals", [
    StaffingGoals(service_level=0.8, target_s=20.0),
    StaffingGoals(max_abandon=0.03),
    StaffingGoals(max_abandon=0.01, service_level=0.9, target_s=15.0),
    StaffingGoals(max_occupancy=0.75),
    StaffingGoals(max_asa_s=2.0),
])
@pytest.mark.parametrize("cph, aht, patience", [(200.0, 180.0, 60.0), (900.0, 200.0, 6.0),
                                                (50.0, 300.0, 120.0)])
def test_erlang_a_solver_is_the_brute_force_minimum(cph, aht, patience, goals):
    # Brute force over n on the truncated birth-death chain (the oracle above).
    lam, mu, theta = cph / 3600.0, 1.0 / aht, 1.0 / patience

    def forward(n: int) -> ErlangAMetrics:
        chain = mmn_m_chain(n, lam, mu, theta, queue_cap=80)
        assert chain.tail < 1e-15
        # Answered within t among all arrivals (abandons count as not answered).
        sl = chain_service_level(n, mu, theta, chain, goals.target_s)
        return ErlangAMetrics(chain.p_wait, chain.p_abandon, chain.mean_wait_s, sl,
                              chain.occupancy)

    n = agents_for_goals(cph, aht, goals, patience_s=patience)
    brute = _brute_agents(forward, goals, top=200)
    assert n == brute
    # The solver's answer meets the goals on the forward form, one agent fewer does not.
    assert meets_goals(erlang_a_metrics(cph, aht, n, patience, goals.target_s), goals)
    if n > 1:
        assert not meets_goals(erlang_a_metrics(cph, aht, n - 1, patience, goals.target_s),
                               goals)


def test_scheduled_agents_rounds_up_but_not_on_float_noise():
    assert scheduled_agents(14, 0.3) == 20  # 14 / 0.7 = 20.000000000000004 in floats
    assert scheduled_agents(14, 0.0) == 14
    assert scheduled_agents(10, 0.25) == 14  # 13.33 -> 14
    with pytest.raises(ValueError, match="shrinkage"):
        scheduled_agents(10, 1.0)


@pytest.mark.parametrize("call, match", [
    (lambda: StaffingGoals(service_level=80.0), "service_level must be a fraction"),
    (lambda: StaffingGoals(max_occupancy=0.0), "max_occupancy"),
    (lambda: agents_for_goals(200.0, 180.0, StaffingGoals()), "at least one goal"),
    (lambda: agents_for_goals(200.0, 180.0, StaffingGoals(max_abandon=0.03)), "Erlang A"),
    (lambda: servers_for_blocking(5.0, 0.0), "blocking"),
])
def test_solver_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("goals, patience", [
    (StaffingGoals(service_level=0.8, target_s=20.0), None),
    (StaffingGoals(max_occupancy=0.85), None),
    (StaffingGoals(max_asa_s=10.0), None),
    (StaffingGoals(max_abandon=0.03), 60.0),
    (StaffingGoals(service_level=0.9, target_s=15.0, max_abandon=0.05), 30.0),
])
@pytest.mark.parametrize("aht, n", [(180.0, 14), (240.0, 50), (600.0, 3)])
def test_max_calls_is_the_boundary_of_the_goals(aht, n, goals, patience):
    cph = max_calls_for_goals(aht, n, goals, patience)

    def forward(rate: float):
        if patience is None:
            return erlang_c_metrics(rate, aht, n, goals.target_s)
        return erlang_a_metrics(rate, aht, n, patience, goals.target_s)

    assert cph > 0 and meets_goals(forward(cph), goals)
    assert not meets_goals(forward(cph * (1 + 1e-6)), goals)
    # the inverse question: that many calls need at most n agents, and exactly n a bit above
    assert agents_for_goals(cph, aht, goals, patience) <= n
    assert agents_for_goals(cph * (1 + 1e-6), aht, goals, patience) > n


@pytest.mark.parametrize("n, aht", [(10, 180.0), (10, 360.0), (14, 180.0), (3, 7.0),
                                    (50, 270.0), (7, 300.0)])
def test_erlang_c_at_a_load_of_exactly_the_agents_is_unstable(n, aht):
    """calls per hour x AHT / 3600 = agents exactly is the unstable queue: every call waits,
    no finite ASA. lambda / mu rounded it just under (200 calls/h x 180 s on 10 agents gave
    P(wait) 0.9999999999999993 and an ASA of 1.4e17 s)."""
    cph = n * 3600.0 / aht
    assert cph * aht / 3600.0 == n  # the load the calculator reports
    m = erlang_c_metrics(cph, aht, n, 20.0)
    assert m.p_wait == 1.0 and m.asa_s == math.inf and m.service_level == 0.0
    assert m.occupancy == 1.0

"""Benchmarks: license distribution for 200 jobs, assignment of 1000 agents to 200 jobs.

Run with ``pytest bench/test_bench_licenses.py --benchmark-enable --dist no``. Sizes follow the
reference platform's documented load (Implementing Avaya Proactive Outreach Manager):
1000 agents, 200 concurrent jobs, up to 2,200 notification ports, 5,000 SMS and 5,000 email
per hour. No timing is asserted.
"""

from __future__ import annotations

import numpy as np
import pytest

from pacer.assignment import _assign, assign_agents
from pacer.licenses import _allocate_pools, allocate, warmup
from pacer.modes import LicenseKind
from tests import naive_licenses as naive

N_JOBS = 200
N_AGENTS = 1000


@pytest.fixture(scope="module")
def license_case():
    rng = np.random.default_rng(2024)
    sizes = np.zeros(len(LicenseKind), np.int64)
    sizes[LicenseKind.PREDICTIVE_AGENT] = 700
    sizes[LicenseKind.PROGRESSIVE_AGENT] = 200
    sizes[LicenseKind.PREVIEW_AGENT] = 100
    sizes[LicenseKind.OUTBOUND_PORT] = 2200
    sizes[LicenseKind.SMS_THROUGHPUT] = 5000  # messages per hour
    sizes[LicenseKind.EMAIL_THROUGHPUT] = 5000
    kind = rng.integers(0, len(LicenseKind), N_JOBS)
    priority = rng.integers(1, 10, N_JOBS)
    maximum = np.where(kind >= LicenseKind.OUTBOUND_PORT, 600, 60) * rng.uniform(0.2, 1, N_JOBS)
    maximum = maximum.astype(np.int64)
    minimum = (maximum * rng.uniform(0, 0.2, N_JOBS)).astype(np.int64)
    demand = (maximum * rng.uniform(0, 1.5, N_JOBS)).astype(np.int64)
    warmup()
    return sizes, kind, priority, minimum, maximum, demand


@pytest.fixture(scope="module")
def agent_case():
    rng = np.random.default_rng(2025)
    skills = np.zeros(N_AGENTS, np.int64)
    for bit in range(16):
        skills |= (rng.random(N_AGENTS) < 0.3).astype(np.int64) << bit
    job_skills = np.zeros(N_JOBS, np.int64)
    for j in range(N_JOBS):
        for bit in rng.choice(16, size=int(rng.integers(1, 3)), replace=False):
            job_skills[j] |= 1 << int(bit)
    target = rng.multinomial(950, np.ones(N_JOBS) / N_JOBS).astype(np.int64)
    agent_job = rng.integers(-1, N_JOBS, N_AGENTS)
    on_call = (rng.random(N_AGENTS) < 0.6).astype(np.int64)
    _assign(skills, agent_job, on_call, job_skills, target)  # compile outside the timing
    return skills, agent_job, on_call, job_skills, target


def test_licenses_kernel_200_jobs(benchmark, license_case):
    result = benchmark(_allocate_pools, *license_case)
    assert result.tolist() == naive.allocate(*license_case)


def test_licenses_public_200_jobs(benchmark, license_case):
    benchmark(allocate, *license_case)


def test_licenses_python_reference_200_jobs(benchmark, license_case):
    benchmark.pedantic(naive.allocate, args=license_case, rounds=3, iterations=1)


def test_assignment_kernel_1000_agents_200_jobs(benchmark, agent_case):
    new_job, _ = benchmark(_assign, *agent_case)
    assert (new_job[agent_case[2] == 1] == agent_case[1][agent_case[2] == 1]).all()


def test_assignment_steady_state_1000_agents_200_jobs(benchmark, agent_case):
    # The usual call: last run's result, a few calls just ended.
    skills, _, on_call, job_skills, target = agent_case
    first = assign_agents(*agent_case)
    on_call = on_call.copy()
    ended = np.nonzero(on_call)[0][:10]
    on_call[ended] = 0
    benchmark(_assign, skills, first.job, on_call, job_skills, target)


def test_assignment_scipy_reference_1000_agents_200_jobs(benchmark, agent_case):
    args = [a.tolist() for a in agent_case]
    benchmark.pedantic(naive.assign_optimum, args=args, rounds=1, iterations=1)

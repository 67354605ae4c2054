"""The 60k-BHCC busy hour against a plain SimPy M/M/c hour of the same size, in one run.

Run with ``pytest bench/test_bench_busy_hour.py --benchmark-enable --dist no``.
Both are timed in the
same session so machine noise largely cancels; the ratios to the plain SimPy model and to
Ciw's M/M/c are reported in ``extra_info`` of the dialer's benchmark (aim: within 2x the
plain model).
"""

from pathlib import Path

import pytest

from bench.mmc import ciw_mmc_hour, mmc_hour
from sim.run import simulate
from sim.scenario import load

REFERENCE = Path(__file__).resolve().parent.parent / "scenarios" / "pom-60k-bhcc.toml"
_times: dict[str, float] = {}


@pytest.fixture(scope="module")
def scenario():
    scn = load(REFERENCE)
    simulate(scn)  # compile / load the numba cache outside the measurement
    return scn


@pytest.mark.benchmark(group="busy-hour", min_rounds=3)
def test_plain_simpy_mmc_hour(benchmark):
    result = benchmark.pedantic(mmc_hour, rounds=3, iterations=1)
    _times["mmc"] = benchmark.stats.stats.min
    benchmark.extra_info["served"] = result["served"]
    assert result["served"] > 50_000


@pytest.mark.benchmark(group="busy-hour", min_rounds=1)
def test_ciw_mmc_hour(benchmark):
    pytest.importorskip("ciw")
    result = benchmark.pedantic(ciw_mmc_hour, rounds=1, iterations=1)
    _times["ciw"] = benchmark.stats.stats.min
    benchmark.extra_info["served"] = result["served"]
    assert result["served"] > 50_000


@pytest.mark.benchmark(group="busy-hour", min_rounds=3)
def test_pom_60k_bhcc_hour(benchmark, scenario):
    result = benchmark.pedantic(simulate, args=(scenario,), rounds=3, iterations=1)
    wall = benchmark.stats.stats.min
    benchmark.extra_info["bhcc"] = result.total["bhcc"]
    benchmark.extra_info["abandon_rate"] = result.total["abandon_rate"]
    benchmark.extra_info["occupancy"] = result.total["occupancy"]
    if "mmc" in _times:
        benchmark.extra_info["ratio_to_plain_mmc"] = wall / _times["mmc"]
    if "ciw" in _times:
        benchmark.extra_info["ratio_to_ciw_mmc"] = wall / _times["ciw"]
    assert result.total["attempts_by_channel"]["sms"] > 4_000

"""What measuring the event stream adds to a planner's 60k-BHCC hour, in one run.

Run with ``pytest bench/test_bench_events.py --benchmark-enable --dist no``.
The hour is simulated as
``outdial simulate`` runs it for a planner, once without events and once with every engine
event built and its serialised size measured (``sim.plan.task.run_task(events=True)``,
~350,000 events); ``extra_info`` of the second holds the difference of the fastest rounds
(``events_cost_s``) and the events measured.
"""

from pathlib import Path

import pytest

from sim.plan.task import run_task
from sim.scenario import load

REFERENCE = Path(__file__).resolve().parent.parent / "scenarios" / "pom-60k-bhcc.toml"
_times: dict[str, float] = {}


def _fastest(benchmark) -> float | None:
    """The fastest round in seconds (None when benchmarks are disabled: one plain run)."""
    return None if benchmark.stats is None else benchmark.stats.stats.min


@pytest.fixture(scope="module")
def scenario():
    scn = load(REFERENCE)
    run_task(scn, scn.seed)  # compile / load the numba cache outside the measurement
    return scn


@pytest.mark.benchmark(group="event-stream", min_rounds=3)
def test_hour_without_events(benchmark, scenario):
    rec = benchmark.pedantic(run_task, args=(scenario, scenario.seed), rounds=3, iterations=1)
    if _fastest(benchmark) is not None:
        _times["off"] = _fastest(benchmark)
    assert "events" not in rec


@pytest.mark.benchmark(group="event-stream", min_rounds=3)
def test_hour_with_events_measured(benchmark, scenario):
    rec = benchmark.pedantic(run_task, args=(scenario, scenario.seed),
                             kwargs={"events": True}, rounds=3, iterations=1)
    benchmark.extra_info["events"] = rec["events"]["events"]
    benchmark.extra_info["event_bytes"] = rec["events"]["bytes"]
    if "off" in _times and _fastest(benchmark) is not None:
        benchmark.extra_info["events_cost_s"] = _fastest(benchmark) - _times["off"]
    assert rec["events"]["events"] > 100_000

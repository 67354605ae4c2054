"""Attempts written per second by the stores: memory (the simulator's) and SQLite.

Run with ``pytest bench/test_bench_store.py --benchmark-enable --dist no``. One written attempt is
what the engine does per attempt: ``attempt_started`` then ``save_attempt`` with its result.
The rate is in ``extra_info["attempts_per_s"]`` (from the fastest round). SQLite is measured
with ``synchronous=FULL`` (the default: each commit synced to disk, so the rate is the
disk's sync rate) and ``NORMAL`` (crash-safe for the process, not for power loss).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from engine.attempt import Attempt, Code
from engine.store_memory import MemoryStore
from engine.store_sqlite import SqliteStore

_ids = itertools.count(1)


def _batch(n: int) -> list[Attempt]:
    out = []
    for _ in range(n):
        i = next(_ids)
        a = Attempt(i, i % 200, i, 0, float(i), contact_id=f"c{i}", address=f"+4420{i:07d}",
                    job_name=f"job{i % 200}")
        out.append(a)
    return out


def _write(store, batch: list[Attempt]) -> None:
    for a in batch:
        store.attempt_started(a)
        a.code = Code.NO_ANSWER
        a.t_end = a.t_created + 30.0
        store.save_attempt(a)


def _run(benchmark, store, n: int, rounds: int) -> None:
    before = len(store.attempts())
    benchmark.pedantic(_write, setup=lambda: ((store, _batch(n)), {}), rounds=rounds,
                       iterations=1)
    written = len(store.attempts()) - before
    assert written % n == 0 and written >= n and store.trapped() == []
    if benchmark.stats is None:  # --benchmark-disable (the default): ran once, untimed
        return
    rate = n / benchmark.stats.stats.min
    benchmark.extra_info["attempts_per_s"] = round(rate)
    print(f"\n{benchmark.name}: {rate:,.0f} attempts/s")


@pytest.mark.benchmark(group="store-writes")
def test_memory_store_writes(benchmark):
    _run(benchmark, MemoryStore(), 60_000, rounds=5)  # one simulated 60k-BHCC hour a round


@pytest.mark.benchmark(group="store-writes")
@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
def test_sqlite_store_writes(benchmark, tmp_path: Path, synchronous: str):
    store = SqliteStore(tmp_path / "bench.db", synchronous=synchronous)
    try:
        _run(benchmark, store, 2_000, rounds=3)
    finally:
        store.close()

"""Batches of runs for every command: any executor, the on-disk cache, a listener.

A *task* is ``(scenario, seed)``; replication ``i`` of base seed ``s`` is the task with seed
``s + i``. Workers run ``sim.plan.task.run_task`` and return one small record per task (the
attempt tables only when asked), so a cluster ships kilobytes back. Finished records are
kept on disk (``sim.plan.cache.ResultCache``), so an interrupted sweep resumes where it
stopped and a repeated search reuses every point it already ran.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sim.plan.cache import ResultCache
from sim.plan.executors import Executor, InProcess
from sim.plan.task import run_task
from sim.scenario import Scenario


class Listener(Protocol):
    """Follows a command's batches (a progress bar, a log): ``batch`` before each batch of
    ``n`` tasks, ``done`` once per task as it finishes (``cached`` when read from disk).
    A listener may also define ``progress(fraction)``, the simulated fraction (0..1) of the
    task running in this process (in-process executors only)."""

    def batch(self, label: str, n: int) -> None: ...

    def done(self, record: dict, cached: bool) -> None: ...


def run_all(tasks: Sequence[tuple[Scenario, int]], executor: Executor | None = None,
            cache: ResultCache | None = None, listener: Listener | None = None,
            label: str = "", tables: bool = False, events: bool = False) -> list[dict]:
    """Run every ``(scenario, seed)`` task; returns the records in task order.

    Tasks found in ``cache`` are not run; identical tasks run once. Each new record is
    stored as soon as it arrives, so an interruption loses only the runs in flight. With
    ``tables`` every record carries its ``attempts`` and ``intervals`` tables; with
    ``events`` its measured event volume (a cached record without one is run again).
    """
    executor = executor or InProcess()
    if listener:
        listener.batch(label, len(tasks))
    keys = [ResultCache.key(s, seed) for s, seed in tasks]
    out: list[dict | None] = [None] * len(tasks)
    pending: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        rec = cache.get(k, tables) if cache is not None else None
        if rec is not None and events and not rec.get("events"):
            rec = None
        if rec is not None:
            out[i] = rec
            if listener:
                listener.done(rec, True)
        else:
            pending.setdefault(k, []).append(i)
    order = list(pending)
    args = [(*tasks[pending[k][0]], tables, events) for k in order]
    progress = getattr(listener, "progress", None)
    for j, rec in executor.run(run_task, args, progress=progress):
        if cache is not None:
            cache.put(order[j], rec)
        for i in pending[order[j]]:
            out[i] = rec
            if listener:
                listener.done(rec, False)
    return out  # type: ignore[return-value]


def tasks_for(scn: Scenario, seed: int, replications: int) -> list[tuple[Scenario, int]]:
    """The replications of one scenario: seeds ``seed .. seed + replications - 1``."""
    return [(scn, seed + i) for i in range(replications)]

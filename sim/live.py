"""A live run against the emulated platform: the engine on the wall clock, a persistent
store, restarts that recover.

The telephony, carrier and agents are the simulator's (SimPy's real-time environment
paces them against the wall clock, ``factor`` wall seconds per run second); the engine,
its store and its events are the production ones. Run it, kill it (even with SIGKILL),
run it again with the same store: ``engine.recovery`` finds the trapped records and the
jobs carry on where they stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import simpy.rt

from engine.interfaces import EventSink
from engine.recovery import restore_flows, scan
from engine.store_sqlite import SqliteStore
from sim.run import assemble
from sim.scenario import Scenario


def run_live(scn: Scenario, store_path: str | Path, factor: float = 1.0,
             seed: int | None = None, sink: EventSink | None = None,
             on_start: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run ``scn`` (warm-up plus measured hours of run clock) in real time on the SQLite
    store at ``store_path``, resuming whatever an earlier run left there. Returns a
    summary; ``on_start`` gets the recovery summary before the first tick."""
    if not factor > 0:
        raise ValueError(f"factor: expected wall seconds per run second > 0, got {factor!r}")
    store = SqliteStore(store_path)
    try:
        rec = scan(store)
        seed = scn.seed if seed is None else seed
        start_s = rec.resume_s
        end_s = scn.warmup_s + scn.sim_s
        env = simpy.rt.RealtimeEnvironment(initial_time=start_s, factor=factor, strict=False)
        w = assemble(scn, seed + rec.recorded, env, store, (start_s, end_s), sink,
                     first_attempt_id=rec.next_attempt_id)
        requeued = restore_flows(store, w.flows, start_s)
        w.director.restore(rec.job_states)
        summary = {"store": str(store_path), **rec.summary(), "requeued_contacts": requeued}
        if on_start is not None:
            on_start(summary)
        t0 = time.perf_counter()
        w.feed.start()
        w.director.start()
        w.dialer.start()
        if end_s > start_s:
            env.run(until=end_s)
        summary.update(wall_s=time.perf_counter() - t0, end_s=end_s,
                       attempts_this_run=w.dialer.next_attempt_id - rec.next_attempt_id,
                       job_states=store.job_states())
        return summary
    finally:
        store.close()

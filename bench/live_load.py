"""Load of the live path: the production engine against the loopback emulators at the
documented 60k-BHCC rate (about 16.7 attempts per second: scenarios/pom-60k-bhcc.toml's
1000 agents and 200 jobs), on the wall clock, for ``--minutes``.

Reports the tick duration (wall time of one dialer tick: the pacer's decision for every
job plus the launches) as p50 / p99 / max, the pacer's share of it, the event loop's
lateness (how late timers fire), attempts per second, CPU use of the process (user +
system over wall; the emulators and the simulated platform run in the same process and
are included), and the events: published, left in the outbox (``lost_events``) and
attempts left PENDING.

    python -m bench.live_load --minutes 5 --out bench/results/live_load.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _config(folder: Path, scenario: Path, minutes: float, synchronous: str = "NORMAL",
            store_dir: Path | None = None) -> Path:
    cfg = folder / "load.toml"
    store = ((store_dir or folder) / "load.sqlite").as_posix()
    cfg.write_text(f"""
[run]
scenario = "{scenario.as_posix()}"
hours = {minutes / 60.0}
drain_s = 5.0
[store]
sqlite = "{store}"
synchronous = "{synchronous}"
[events]
jsonl = "load-events.jsonl"
[epm]
poll_s = 0.25
[aes]
poll_s = 2.0
[cms]
listen = "127.0.0.1"
""", encoding="utf-8")
    return cfg


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


class _TimedDb:
    """The store's connection, each statement timed on the thread that runs it (the event
    loop's, for the store's writes): ``slow_ms`` more after each COMMIT, a slow disk."""

    def __init__(self, db, slow_ms: float = 0.0):
        import threading
        self._db, self.slow_s = db, slow_ms / 1e3
        self.loop_thread = threading.get_ident()
        self.on_loop: list[float] = []  # seconds per statement run on the loop's thread
        self.commits_on_loop = 0

    def execute(self, sql, *a):
        import threading
        t = time.perf_counter()
        try:
            out = self._db.execute(sql, *a)
            # a commit: COMMIT, or a write outside a transaction (autocommit)
            committed = sql == "COMMIT" or (not self._db.in_transaction and not
                                            sql.startswith(("BEGIN", "SELECT", "PRAGMA")))
            if self.slow_s and committed:
                time.sleep(self.slow_s)
            return out
        finally:
            if threading.get_ident() == self.loop_thread:
                self.on_loop.append(time.perf_counter() - t)
                self.commits_on_loop += sql == "COMMIT"

    def __getattr__(self, name):
        return getattr(self._db, name)


async def _heartbeat(gaps: list[float], period_s: float = 0.005) -> None:
    """The event loop's gaps: how long each ``period_s`` sleep really took (seconds)."""
    last = time.perf_counter()
    while True:
        await asyncio.sleep(period_s)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now


async def _run(cfg_path: Path, slow_ms: float = 0.0) -> dict:
    from outdial.live.config import load_config
    from outdial.live.session import LiveSession

    cfg = load_config(cfg_path, emulate=True)
    s = LiveSession(cfg, emulate=True)
    await s.start()
    d = s.dialer
    ticks: list[float] = []
    decide_s: list[float] = []
    tick, decide = d._tick, d.pacer.decide

    def timed_decide(*a):
        t = time.perf_counter()
        try:
            return decide(*a)
        finally:
            decide_s.append(time.perf_counter() - t)

    def timed_tick():
        t = time.perf_counter()
        try:
            tick()
        finally:
            ticks.append(time.perf_counter() - t)

    d.pacer.decide = timed_decide
    d._tick = timed_tick
    db = s.store._db = _TimedDb(s.store._db, slow_ms)
    gaps: list[float] = []
    beat = asyncio.create_task(_heartbeat(gaps))
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    try:
        summary = await s.run()
    finally:
        beat.cancel()
        s.store._db = db._db
        await s.close()
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    late = s.clock.late_s
    run_s = (summary["end_s"] or 0) - summary["start_s"]
    return {
        "minutes": run_s / 60.0, "wall_s": wall, "attempts": summary["attempts"],
        "attempts_per_s": summary["attempts"] / run_s if run_s else float("nan"),
        "ticks": len(ticks),
        "tick_ms_p50": 1e3 * _pct(ticks, 50), "tick_ms_p99": 1e3 * _pct(ticks, 99),
        "tick_ms_max": 1e3 * max(ticks, default=float("nan")),
        "pacer_share": sum(decide_s) / sum(ticks) if ticks else float("nan"),
        "pacer_ms_p50": 1e3 * _pct(decide_s, 50), "pacer_ms_p99": 1e3 * _pct(decide_s, 99),
        "loop_late_ms_p50": 1e3 * _pct(late, 50), "loop_late_ms_p99": 1e3 * _pct(late, 99),
        "cpu_s": cpu, "cpu_share_of_one_core": cpu / wall,
        "loop_gap_ms_p99": 1e3 * _pct(gaps, 99), "loop_gap_ms_max": 1e3 * max(gaps,
                                                                              default=0.0),
        "store_on_loop_share": sum(db.on_loop) / wall,
        "store_statement_ms_max": 1e3 * max(db.on_loop, default=0.0),
        "store_commits_on_loop_per_s": db.commits_on_loop / wall,
        "events_published": summary["events_published"],
        "lost_events": summary["lost_events"], "left_pending": summary["left_pending"],
        "epm_errors": summary["epm_errors"], "dmcc_reconnects": summary["dmcc_reconnects"],
        "reason": summary["reason"], "error": summary["error"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "pom-60k-bhcc.toml")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--synchronous", default="NORMAL", choices=("NORMAL", "FULL", "EXTRA"),
                    help="the store's SQLite synchronous setting")
    ap.add_argument("--store-dir", type=Path, default=None,
                    help="the folder of the SQLite store (default: a temporary folder)")
    ap.add_argument("--slow-disk-ms", type=float, default=0.0,
                    help="milliseconds more per commit: a slow disk's sync")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="outdial-load-",
                                     dir=args.store_dir) as tmp:
        result = asyncio.run(_run(_config(Path(tmp), args.scenario.resolve(), args.minutes,
                                          args.synchronous), args.slow_disk_ms))
    result.update(scenario=args.scenario.name, synchronous=args.synchronous,
                  slow_disk_ms=args.slow_disk_ms)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0 if result["lost_events"] == 0 and result["left_pending"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

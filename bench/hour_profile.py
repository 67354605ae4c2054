"""Where the CPU time of a simulated hour goes: the pacer's numba kernels, the pacer's Python,
the engine, the simulated world, SimPy and the libraries, from one run under ``cProfile``.

The busy-hour gate (``bench.gate``, ``busy_hour_speed``) says how fast the 60k-BHCC hour is
against a plain SimPy M/M/c hour; this says where its time goes, by part and by function
(own time: a function's time less its callees'). A numba kernel's own time is its compiled
code's (cProfile sees the dispatcher call); the profiler adds a few microseconds per Python
call, so the Python parts read high by about a third against the kernels.

    python -m bench.hour_profile                       # the 60k-BHCC hour
    python -m bench.hour_profile scenarios/x.toml --hours 0.25 --top 30 --json out.json
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib
import json
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUSY_HOUR = ROOT / "scenarios" / "pom-60k-bhcc.toml"
PARTS = ("pacer kernels", "pacer", "engine", "sim", "simpy", "numpy", "polars", "other")


def _module_of(path: str) -> str | None:
    """The project module a source file is (``pacer.lookahead``), or None."""
    try:
        rel = Path(path).resolve().relative_to(ROOT)
    except ValueError:
        return None
    if rel.suffix != ".py" or rel.parts[0] not in ("pacer", "engine", "sim", "adapters"):
        return None
    return ".".join(rel.with_suffix("").parts)


def _is_kernel(module: str, name: str) -> bool:
    """Whether ``module.name`` is a numba dispatcher (a compiled kernel)."""
    try:
        obj = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return False
    return type(obj).__name__.endswith("Dispatcher")


def part_of(path: str, name: str) -> str:
    """The part a profiled function belongs to (one of PARTS)."""
    module = _module_of(path)
    if module is not None:
        top = module.split(".")[0]
        if top == "pacer" and _is_kernel(module, name):
            return "pacer kernels"
        return top if top in PARTS else "other"
    for lib in ("simpy", "numpy", "polars"):
        if f"/{lib}/" in path or path.startswith(f"<{lib}"):
            return lib
    return "other"


def profile(scenario: Path, hours: float | None) -> tuple[dict[str, float], list[dict], float]:
    """One run of ``scenario`` under cProfile, after a short warm run (numba's cache and the
    imports loaded): seconds of own time per part, the functions by own time, and the run's
    CPU seconds without the profiler's bookkeeping of the warm run."""
    from sim.run import simulate
    from sim.scenario import load

    overrides = {} if hours is None else {"scenario.sim_hours": hours}
    scn = load(scenario, overrides)
    simulate(load(scenario, {"scenario.sim_hours": 0.01, "scenario.warmup_s": 5.0}))
    gc.collect()
    prof = cProfile.Profile()
    t0 = time.process_time()
    prof.enable()
    simulate(scn)
    prof.disable()
    cpu = time.process_time() - t0
    stats = pstats.Stats(prof).stats  # (file, line, name) -> (cc, nc, tottime, cumtime, callers)
    parts = dict.fromkeys(PARTS, 0.0)
    rows = []
    for (path, line, name), (_cc, calls, own, cum, _callers) in stats.items():
        part = part_of(path, name)
        parts[part] += own
        where = _module_of(path) or Path(path).name
        rows.append({"function": f"{where}:{line}({name})", "part": part, "calls": calls,
                     "own_s": own, "cumulative_s": cum})
    rows.sort(key=lambda r: -r["own_s"])
    return parts, rows, cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scenario", nargs="?", type=Path, default=BUSY_HOUR)
    ap.add_argument("--hours", type=float, default=None, help="measured hours (default: the "
                    "scenario's)")
    ap.add_argument("--top", type=int, default=20, help="functions listed (default 20)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    if not args.scenario.is_file():
        print(f"error: {args.scenario}: no such scenario file", file=sys.stderr)
        return 2
    if args.hours is not None and not 0 < args.hours <= 24:
        print(f"error: --hours: expected 0 < hours <= 24, got {args.hours}", file=sys.stderr)
        return 2
    parts, rows, cpu = profile(args.scenario, args.hours)
    total = sum(parts.values()) or 1.0
    print(f"{args.scenario.name}: {cpu:.2f} CPU s under the profiler")
    for part in PARTS:
        print(f"  {part:<14} {parts[part]:7.2f} s  {100 * parts[part] / total:5.1f} %")
    print(f"top {args.top} functions by own time:")
    for r in rows[:args.top]:
        print(f"  {r['own_s']:7.3f} s {r['calls']:>9,} calls  {r['part']:<13} {r['function']}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"scenario": str(args.scenario), "cpu_s": cpu,
                                         "parts_s": parts, "functions": rows[:args.top]},
                                        indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""sim/ holds the world, sim/plan/ the planner's experiments: the world never imports the
plan, the plan's modules import each other without a circle, and the cache fingerprint
covers the code a run executes and nothing else."""

import ast
from pathlib import Path

import sim.plan.cache as cache

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    mods: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            mods |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            mods.add(node.module)
            mods |= {f"{node.module}.{a.name}" for a in node.names}
    return mods


def test_the_world_never_imports_the_plan():
    """Every module of sim/ itself is the world's (the planner's live in sim/plan/): none
    imports the plan, so the world runs, and is fingerprinted, without it."""
    world = sorted((ROOT / "sim").glob("*.py"))
    assert {"scenario", "world", "run", "day"} <= {p.stem for p in world}
    for p in world:
        bad = {m for m in _imports(p) if m == "sim.plan" or m.startswith("sim.plan.")}
        assert not bad, f"{p.name} imports {bad}: it belongs in sim/plan/"


def test_the_plan_has_no_import_circle():
    mods = {p.stem: p for p in (ROOT / "sim" / "plan").glob("*.py") if p.stem != "__init__"}
    graph = {m: {i.split(".")[2] for i in _imports(p)
                 if i.startswith("sim.plan.") and i.split(".")[2] in mods} - {m}
             for m, p in mods.items()}
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        assert state.get(m) != 1, f"import circle: {' -> '.join([*path, m])}"
        if state.get(m) == 2:
            return
        state[m] = 1
        for n in graph[m]:
            visit(n, [*path, m])
        state[m] = 2

    for m in graph:
        visit(m, [])
    assert graph["executors"] <= {"cache"} and "batch" not in graph["executors"]


def test_fingerprint_covers_what_a_run_executes_not_plots_or_searches():
    files = {str(p.relative_to(ROOT)) for p in cache.code_files()}
    for must in ("pacer/modes.py", "engine/dialer.py", "engine/kpi.py", "sim/run.py",
                 "sim/world.py", "sim/scenario.py", "sim/plan/task.py"):
        assert must in files
    for never in ("sim/plan/sweep.py", "sim/plan/compare.py", "sim/plan/size.py",
                  "sim/plan/stats.py", "sim/plan/batch.py", "outdial/report.py",
                  "sim/erlang.py", "engine/store_sqlite.py"):
        assert never not in files
    assert not any(f.startswith(("outdial/", "adapters/")) for f in files)

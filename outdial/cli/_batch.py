"""Plumbing shared by ``simulate``, ``compare``, ``sweep`` and ``size``: executor and cache
options, the executor's lifetime, and a progress bar that follows batches of runs."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from outdial.app import Application, write_error

CACHE_SUBDIR = "cache"
CACHE_ENV = "OUTDIAL_CACHE_DIR"
MAX_WORKERS = 1024  # local processes: each holds a simulator (a few hundred MB)
MAX_SEED = 2**62  # as scenario.seed: seeds are 63-bit, and a run's replications count up
MAX_REPLICATIONS = 10_000  # as scenario.replications: more belong in several batches


RATIO_MAX_TOP = 48.0  # as sim.plan.compare.RATIO_WIDEN_TO: the search's bracket stops there


class FiniteFloatRange(click.FloatRange):
    """``click.FloatRange`` that also refuses NaN and infinities: the range lets NaN through
    (every comparison with it is false), and ``inf`` past an open top."""

    name = "finite float range"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        v = super().convert(value, param, ctx)
        if not math.isfinite(v):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return v


def batch_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add --workers, --scheduler, --dask-local, --cache and --no-cache to a command."""
    opts = [
        click.option("--workers", type=click.IntRange(min=1, max=MAX_WORKERS), default=1,
                     show_default=True,
                     help="Local worker processes (1 runs in this process; they start as "
                          "runs need them)."),
        click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
                     help="Run on this Dask cluster (start it with dask scheduler / "
                          "dask worker)."),
        click.option("--dask-local", type=click.IntRange(min=1, max=MAX_WORKERS), default=None,
                     metavar="N",
                     help="Start a Dask LocalCluster of N worker processes on 127.0.0.1."),
        click.option("--cache", "cache_dir", type=click.Path(file_okay=False, path_type=Path),
                     default=None,
                     help=f"Keep finished runs here and reuse them (default: OUT/{CACHE_SUBDIR} "
                          f"with --out, else ${CACHE_ENV} or ~/.cache/outdial/runs)."),
        click.option("--no-cache", is_flag=True, help="Neither read nor write finished runs."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def scenario_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add --seed, --hours and --set KEY=VALUE (repeatable) to a command."""
    opts = [
        click.option("--seed", type=click.IntRange(0, MAX_SEED), default=None,
                     help="Base seed, 0 .. 2**62 (default: the scenario's)."),
        click.option("--hours", type=FiniteFloatRange(min=0, min_open=True), default=None,
                     help="Measured hours per run, after the warm-up (default: the scenario's)."),
        click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                     help="Override a dotted scenario key (TOML value), e.g. "
                          "--set scenario.warmup_s=120."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def overrides_from(app: Application, hours: float | None, sets: tuple[str, ...]) -> dict:
    """The scenario overrides of --hours and --set (values parsed with TOML's rules)."""
    from sim.scenario import override_value

    out: dict[str, Any] = {}
    if hours is not None:
        out["scenario.sim_hours"] = hours
    for item in sets:
        key, eq, value = item.partition("=")
        if not eq or not key.strip() or not value.strip():
            app.fail(f"--set {item!r}: expected KEY=VALUE, e.g. scenario.warmup_s=120")
        try:
            out[key.strip()] = override_value(value.strip())
        except ValueError as exc:
            app.fail(f"--set {key.strip()}: {exc}")
    return out


def default_cache_dir() -> Path:
    """Where finished runs are kept without --out or --cache: ``$OUTDIAL_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/outdial/runs`` (``~/.cache/outdial/runs``)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "outdial" / "runs"


def open_cache(app: Application, out: Path | None, cache_dir: Path | None, no_cache: bool):
    """The result cache the options ask for (``--cache``, else ``OUT/cache``, else
    ``default_cache_dir()``), or None with ``--no-cache``.

    A directory that cannot be created or written is an error naming the option; the
    default directory only earns a warning (the command runs without a cache).
    """
    from sim.plan.cache import ResultCache

    if no_cache and cache_dir is not None:  # one of them would be silently ignored
        app.fail(f"--cache {cache_dir} and --no-cache: choose one (keep finished runs there, "
                 "or neither read nor write them)")
    if out is not None:  # before any run: a folder that cannot be made fails now, not after
        try:
            out.mkdir(parents=True, exist_ok=True)
            if not os.access(out, os.W_OK | os.X_OK):
                raise PermissionError("not writable")
        except OSError as exc:
            app.fail(f"--out: cannot write the results into {out}: {write_error(exc, out)}")
    if no_cache:
        return None
    if cache_dir is not None:
        root, option = cache_dir, "--cache"
    elif out is not None:
        root, option = out / CACHE_SUBDIR, "--out"
    else:
        root, option = default_cache_dir(), None
    try:
        root.mkdir(parents=True, exist_ok=True)
        if not os.access(root, os.W_OK | os.X_OK):
            raise PermissionError("not writable")
    except OSError as exc:
        why = exc.strerror or str(exc)
        if option is None:
            app.warn(f"cannot keep finished runs in {root} ({why}): running without a "
                     f"cache (set {CACHE_ENV} or --cache DIR)")
            return None
        app.fail(f"{option}: cannot keep finished runs in {root}: {why}")
    app.debug(f"finished runs kept in {root}")
    return ResultCache(root)


@contextmanager
def open_executor(app: Application, workers: int, scheduler: str | None,
                  dask_local: int | None) -> Iterator[Any]:
    """The executor for the options, closed (workers stopped) when the block ends."""
    from sim.plan.executors import ExecutorError, make_executor

    try:
        ex = make_executor(workers, scheduler, dask_local)
    except (ValueError, ExecutorError) as exc:
        app.fail(str(exc))
    with ex:
        where = f" at {ex.address}" if getattr(ex, "address", None) else ""
        app.debug(f"executor: {ex.name}{where}, {ex.workers} worker(s)")
        yield ex


class ProgressListener:
    """A rich progress bar over every run of a command (``sim.plan.batch.Listener``).

    Each batch adds its runs to the total and shows its label; runs read from the cache
    advance the bar too and are counted apart; a run in this process moves the bar by its
    simulated fraction. Silent when not interactive or ``quiet``.
    """

    def __init__(self, app: Application, title: str, quiet: bool = False):
        self.app = app
        self.title = title
        self.show = app.interactive and not quiet and app.verbosity >= 0
        self.total = 0
        self.cached = 0
        self.ran = 0
        self._prog = None
        self._task = None

    def __enter__(self) -> ProgressListener:
        if self.show:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._prog = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                  MofNCompleteColumn(), TimeElapsedColumn(),
                                  console=self.app.err, transient=True)
            self._prog.__enter__()
            self._task = self._prog.add_task(escape(self.title), total=0)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._prog is not None:
            self._prog.__exit__(None, None, None)
        if self.cached:
            self.app.info(f"{self.cached} of {self.cached + self.ran} run(s) reused from "
                          "the cache")

    def batch(self, label: str, n: int) -> None:
        self.total += n
        self.app.debug(f"{label}: {n} run(s)")
        if self._prog is not None:
            desc = f"{self.title}: {label}" if label else self.title
            self._prog.update(self._task, total=self.total, description=escape(desc[:70]))

    def done(self, record: dict, cached: bool) -> None:
        if cached:
            self.cached += 1
        else:
            self.ran += 1
        if self._prog is not None:
            self._prog.update(self._task, completed=float(self.cached + self.ran))

    def progress(self, fraction: float) -> None:
        """The simulated fraction (0..1) of the run going on in this process."""
        if self._prog is not None:
            self._prog.update(self._task, completed=self.cached + self.ran + fraction)


def warn_scenario(app: Application, scenario: Path, base: dict) -> None:
    """The scenario's own warnings (skipped contact rows, campaigns that cannot dial), once;
    its errors are left to the run, which names the point they occur at."""
    from sim.scenario import ScenarioError, load

    try:
        scn = load(scenario, base)
    except ScenarioError:
        return
    for w in scn.warnings:
        app.warn(w)

"""Where runs execute: this process, local worker processes, or a Dask cluster.

An executor maps a pure, module-level function over argument tuples and yields
``(index, result)`` as each call finishes, so a caller can store and report results as they
come (an interrupted sweep keeps what finished). Every run underneath is
``sim.plan.task.run_task(scenario, seed)``, whose result depends only on its arguments, so every
executor gives identical results for the same tasks; only the order of completion differs.

Executors are context managers; leaving the ``with`` block stops their workers. Local
worker processes are *spawned*, not forked: the parent has polars' and numba's thread pools
running, and a forked child can deadlock on a lock one of those threads held.
"""

from __future__ import annotations

import multiprocessing
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Protocol


class ExecutorError(RuntimeError):
    """An executor could not start or reach its workers (e.g. no Dask scheduler there)."""


class Executor(Protocol):
    """Runs ``fn(*args)`` for each argument tuple; yields ``(index, result)`` when done."""

    name: str

    @property
    def workers(self) -> int: ...

    def run(self, fn: Callable[..., Any], args: Sequence[tuple],
            progress: Callable[[float], None] | None = None) -> Iterator[tuple[int, Any]]:
        """``progress``, when the executor runs calls here, is passed to ``fn`` as its
        ``progress`` keyword (the simulated fraction of the running call); executors whose
        calls run elsewhere ignore it and report only finished calls."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...


class _Base:
    name = "base"

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InProcess(_Base):
    """Runs every call here, one after the other (the default, and the reference)."""

    name = "in-process"

    @property
    def workers(self) -> int:
        return 1

    def run(self, fn: Callable[..., Any], args: Sequence[tuple],
            progress: Callable[[float], None] | None = None) -> Iterator[tuple[int, Any]]:
        for i, a in enumerate(args):
            yield i, fn(*a) if progress is None else fn(*a, progress=progress)


class LocalProcesses(_Base):
    """A pool of ``workers`` spawned processes on this machine, kept for the executor's life.

    The pool starts on first use (each worker imports the simulator and loads the numba
    cache once, about a second or two) and is reused by later ``run`` calls, so a search
    that evaluates one point after another pays that start-up once.
    """

    name = "local processes"

    def __init__(self, workers: int):
        if workers < 1:
            raise ValueError(f"workers: expected >= 1, got {workers}")
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None

    @property
    def workers(self) -> int:
        return self._workers

    def run(self, fn: Callable[..., Any], args: Sequence[tuple],
            progress: Callable[[float], None] | None = None) -> Iterator[tuple[int, Any]]:
        if not args:
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self._workers,
                                             mp_context=multiprocessing.get_context("spawn"))
        futures = {self._pool.submit(fn, *a): i for i, a in enumerate(args)}
        try:
            for f in as_completed(futures):
                yield futures[f], f.result()
        finally:
            for f in futures:
                f.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class Dask(_Base):
    """A Dask cluster: an existing scheduler (``tcp://HOST:PORT``) or a LocalCluster.

    With ``local_workers=N`` it starts ``distributed.LocalCluster(n_workers=N,
    threads_per_worker=1, processes=True)`` listening on 127.0.0.1 only, and stops it on
    close. Workers of a remote cluster need the same outdial code installed; the validated
    scenario travels with each task, so they need none of the scenario's files. On connecting
    it waits up to ``timeout_s`` for a worker and asks every worker for the fingerprint of its
    simulator code (``sim.plan.cache.code_fingerprint``), so a worker without outdial or with other
    code is refused before any run instead of failing mid-sweep or giving other results.

    Raises:
        ExecutorError: when the scheduler cannot be reached within ``timeout_s``, has no
            worker, a worker cannot import outdial or runs other code, or ``distributed``
            is not installed.
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, local_workers: int | None = None,
                 timeout_s: float = 10.0):
        if (scheduler is None) == (local_workers is None):
            raise ValueError("Dask: give exactly one of scheduler or local_workers")
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise ExecutorError("Dask executors need 'distributed': pip install "
                                "'outdial[dask]'") from exc
        self._cluster = None
        if local_workers is not None:
            if local_workers < 1:
                raise ValueError(f"local_workers: expected >= 1, got {local_workers}")
            with warnings.catch_warnings():
                # the scheduler's HTTP endpoints move off a busy port 8787 by themselves
                warnings.filterwarnings("ignore", "Port .* is already in use", UserWarning)
                self._cluster = LocalCluster(n_workers=local_workers, threads_per_worker=1,
                                             processes=True, host="127.0.0.1",
                                             dashboard_address=None)
            target: Any = self._cluster
            self.address = self._cluster.scheduler_address
        else:
            target = self.address = scheduler
        try:
            self.client = Client(target, timeout=f"{timeout_s}s")
        except (OSError, TimeoutError) as exc:
            self.close()
            raise ExecutorError(f"cannot reach the Dask scheduler at {self.address}: "
                                f"{exc}") from None
        try:
            self._check_workers(timeout_s)
        except ExecutorError:
            self.close()
            raise

    def _check_workers(self, timeout_s: float) -> None:
        from sim.plan.cache import code_fingerprint

        try:
            self.client.wait_for_workers(1, timeout=timeout_s)
        except TimeoutError:
            raise ExecutorError(f"the Dask scheduler at {self.address} has no worker after "
                                f"{timeout_s:g} s: start some with 'dask worker "
                                f"{self.address}'") from None
        try:
            prints = self.client.run(_worker_fingerprint)
        except ImportError as exc:
            raise ExecutorError(f"a Dask worker of {self.address} cannot import outdial "
                                f"({exc}): install the same outdial on every worker") from None
        mine = code_fingerprint()
        other = sorted(w for w, fp in prints.items() if fp != mine)
        if other:
            raise ExecutorError(f"Dask worker(s) {', '.join(other)} of {self.address} run "
                                "other outdial code (pacer, engine, sim differ from this "
                                "machine's): install the same version everywhere")

    @property
    def workers(self) -> int:
        return len(self.client.scheduler_info().get("workers", {}))

    def run(self, fn: Callable[..., Any], args: Sequence[tuple],
            progress: Callable[[float], None] | None = None) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed as dask_completed

        if not args:
            return
        # pure=False: never merge two submissions into one task; callers de-duplicate.
        futures = [self.client.submit(fn, *a, pure=False) for a in args]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for f in dask_completed(futures):
                yield index[f.key], f.result()
        finally:
            self.client.cancel([f for f in futures if not f.done()])

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
            self.client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


_ADDRESS = re.compile(r"^(?:(tcp|tls|ws|wss|ucx)://)?(\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+)"
                      r":(\d{1,5})$")


def check_scheduler_address(address: str) -> str:
    """``address`` if it reads ``[tcp://]HOST:PORT`` (``tls://``, ``ws://``... accepted too).

    Raises:
        ValueError: naming ``--scheduler``, the address and the expected form.
    """
    m = _ADDRESS.match(address.strip())
    if not m or not 0 < int(m.group(3)) < 65536:
        raise ValueError(f"--scheduler {address!r}: expected tcp://HOST:PORT, the address "
                         "'dask scheduler' prints (port 8786 by default), e.g. "
                         "tcp://10.0.0.5:8786")
    return address.strip() if m.group(1) else f"tcp://{address.strip()}"


def _worker_fingerprint() -> str:
    """Run on each Dask worker: the fingerprint of the simulator code it would run."""
    from sim.plan.cache import code_fingerprint

    return code_fingerprint()


def make_executor(workers: int = 1, scheduler: str | None = None,
                  dask_local: int | None = None) -> InProcess | LocalProcesses | Dask:
    """The executor the command-line options ask for (at most one kind).

    ``workers`` 1 runs in this process; more, a local process pool; ``scheduler`` connects
    to a Dask cluster; ``dask_local`` starts a loopback LocalCluster.

    Raises:
        ValueError: when more than one kind is asked for, or the scheduler's address is
            not ``[tcp://]HOST:PORT``.
        ExecutorError: when a Dask cluster cannot be started or reached.
    """
    asked = [name for name, on in (("--workers", workers > 1),
                                   ("--scheduler", scheduler is not None),
                                   ("--dask-local", dask_local is not None)) if on]
    if len(asked) > 1:
        raise ValueError(f"choose one executor: {' and '.join(asked)} were both given")
    if scheduler is not None:
        return Dask(scheduler=check_scheduler_address(scheduler))
    if dask_local is not None:
        return Dask(local_workers=dask_local)
    return LocalProcesses(workers) if workers > 1 else InProcess()

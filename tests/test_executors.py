"""Executors and the result cache: the same seeds give identical results in this process, in
local worker processes and on a real Dask LocalCluster; finished runs are reused, and an
interrupted sweep resumes where it stopped."""

import shutil
import socket
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

import sim.plan.cache
import sim.plan.task
from outdial.cli import outdial
from sim.plan.batch import run_all, tasks_for
from sim.plan.cache import ResultCache
from sim.plan.executors import (
    Dask,
    ExecutorError,
    InProcess,
    LocalProcesses,
    check_scheduler_address,
    make_executor,
)
from sim.plan.sweep import parse_vary, sweep
from sim.run import simulate
from sim.scenario import load, with_policy

SCN = Path(__file__).resolve().parent.parent / "scenarios" / "single-50-predictive.toml"
SHORT = {"scenario.sim_hours": 0.05, "scenario.warmup_s": 60.0}  # identity, not accuracy
AXES = [parse_vary("agents.count=30,40")]


def _sweep(executor=None, cache=None):
    return sweep(SCN, AXES, 11, 2, executor, cache, SHORT)


@pytest.fixture(scope="module")
def reference():
    return _sweep(InProcess())


def test_local_processes_and_dask_local_cluster_give_identical_results(reference):
    with LocalProcesses(2) as ex:
        local = _sweep(ex)
    with Dask(local_workers=2) as ex:
        assert ex.address.startswith("tcp://127.0.0.1:")
        assert ex.workers == 2
        dask = _sweep(ex)
    assert ex.client is None  # closed
    for other in (local, dask):
        assert other.table.equals(reference.table)
        assert other.runs.equals(reference.runs)
    assert reference.runs["seed"].to_list() == [11, 12, 11, 12]  # common random numbers


class Interrupted(Exception):
    """Stands for a crash or a Ctrl-C in the middle of a sweep."""


def _counting(monkeypatch, fail_after=None):
    calls = []

    def counted(scn, seed, progress=None):
        if fail_after is not None and len(calls) >= fail_after:
            raise Interrupted
        calls.append((scn.total_agents, seed))
        return simulate(scn, seed)

    monkeypatch.setattr(sim.plan.task, "simulate", counted)
    return calls


def test_an_interrupted_sweep_resumes_from_the_cache(monkeypatch, tmp_path, reference):
    cache = ResultCache(tmp_path / "cache")
    calls = _counting(monkeypatch, fail_after=3)
    with pytest.raises(Interrupted):
        _sweep(InProcess(), cache)
    assert len(calls) == 3 and len(cache) == 3  # what finished is on disk
    calls = _counting(monkeypatch)
    resumed = _sweep(InProcess(), cache)
    assert calls == [(40, 12)]  # only the run that had not finished
    assert resumed.table.equals(reference.table)
    calls = _counting(monkeypatch)
    again = _sweep(InProcess(), cache)
    assert calls == [] and again.table.equals(reference.table)


def test_cache_key_follows_what_determines_the_run(tmp_path):
    scn = load(SCN, SHORT)
    key = ResultCache.key(scn, 1)
    copy = tmp_path / "copy.toml"
    shutil.copy(SCN, copy)
    assert ResultCache.key(load(copy, SHORT), 1) == key  # the file's path does not matter
    assert ResultCache.key(load(SCN, SHORT), 1) == key
    assert ResultCache.key(scn, 2) != key
    assert ResultCache.key(load(SCN, {"scenario.sim_hours": 0.2}), 1) != key
    assert ResultCache.key(with_policy(scn, "ratio:1.2"), 1) != key
    assert ResultCache.key(with_policy(scn, "ratio:1.2"), 1) != ResultCache.key(
        with_policy(scn, "ratio:1.3"), 1)


def test_an_edited_contact_list_is_a_new_run(tmp_path):
    (tmp_path / "list.csv").write_text("id,phone,timezone\nc1,+12025550001,UTC\n")
    text = SCN.read_text() + ('\n[campaigns.contacts]\nfile = "list.csv"\n'
                              'addresses = {phone = "voice"}\n')
    (tmp_path / "s.toml").write_text(text)
    key = ResultCache.key(load(tmp_path / "s.toml", SHORT), 1)
    assert ResultCache.key(load(tmp_path / "s.toml", SHORT), 1) == key
    (tmp_path / "list.csv").write_text("id,phone,timezone\nc1,+12025550002,UTC\n")
    assert ResultCache.key(load(tmp_path / "s.toml", SHORT), 1) != key


def test_identical_tasks_run_once_and_unreadable_files_are_recomputed(monkeypatch, tmp_path):
    scn = load(SCN, SHORT)
    cache = ResultCache(tmp_path)
    calls = _counting(monkeypatch)
    recs = run_all(tasks_for(scn, 3, 1) * 2, InProcess(), cache)
    assert len(calls) == 1 and recs[0] == recs[1]
    key = ResultCache.key(scn, 3)
    cache._path(key).write_text("{not json")
    calls = _counting(monkeypatch)
    again = run_all(tasks_for(scn, 3, 1), InProcess(), cache)
    assert len(calls) == 1 and again[0]["kpis"] == recs[0]["kpis"]


def test_make_executor_takes_one_kind():
    assert isinstance(make_executor(), InProcess)
    with make_executor(workers=2) as ex:
        assert isinstance(ex, LocalProcesses) and ex.workers == 2
    with pytest.raises(ValueError, match="--workers and --scheduler"):
        make_executor(workers=2, scheduler="tcp://127.0.0.1:1")


def test_unreachable_scheduler_is_a_clear_error():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ExecutorError, match=f"cannot reach the Dask scheduler at "
                                            f"tcp://127.0.0.1:{port}"):
        Dask(scheduler=f"tcp://127.0.0.1:{port}", timeout_s=1.0)


def test_scheduler_addresses_are_checked_before_connecting():
    assert check_scheduler_address("10.0.0.5:8786") == "tcp://10.0.0.5:8786"
    assert check_scheduler_address("tls://head.example:8786") == "tls://head.example:8786"
    for bad in ("foo", "tcp://head", "head:99999", "http://head:8786", ""):
        with pytest.raises(ValueError, match=r"--scheduler .*expected tcp://HOST:PORT"):
            make_executor(scheduler=bad)
    res = CliRunner().invoke(outdial, ["sweep", str(SCN), "--vary", "agents.count=30",
                                       "--scheduler", "head"])
    assert res.exit_code == 2 and "--scheduler 'head': expected tcp://HOST:PORT" in res.stderr


def test_a_cluster_without_workers_or_with_other_code_is_refused(monkeypatch):
    from distributed import LocalCluster

    with warnings.catch_warnings():  # a busy port 8787 (another cluster) is no concern here
        warnings.filterwarnings("ignore", "Port .* is already in use", UserWarning)
        cluster = LocalCluster(n_workers=0, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
    with cluster:
        address = cluster.scheduler_address
        with pytest.raises(ExecutorError, match=f"the Dask scheduler at {address} has no "
                                                f"worker after 1 s: start some with 'dask "
                                                f"worker {address}'"):
            Dask(scheduler=address, timeout_s=1.0)
        cluster.scale(1)
        monkeypatch.setattr(sim.plan.cache, "_code_hash", "not the workers' code")
        with pytest.raises(ExecutorError, match="run other outdial code"):
            Dask(scheduler=address, timeout_s=30.0)
        monkeypatch.setattr(sim.plan.cache, "_code_hash", None)
        with Dask(scheduler=address, timeout_s=30.0) as ex:
            assert ex.workers == 1

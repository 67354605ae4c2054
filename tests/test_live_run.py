"""``outdial run CONFIG --emulate`` as an operator runs it: SIGKILL at random points, two
runs on one store, a clean stop, resumes. Each run is a separate process on the wall
clock (6x faster than real time) against the loopback emulators."""

from __future__ import annotations

import json
import os
import random
import signal
import time

import pytest

from engine.attempt import Code
from engine.vocab import LIVE_CODES
from tests.live_helpers import attempt_events, rows, run_cmd, write_config

PW = {"OUTDIAL_TEST_EPM_PW": "e@p%m'\"pw", "OUTDIAL_TEST_AES_PW": "a@e%s'\"pw"}
pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")


def _env():
    return {**os.environ, **PW}


def _wait_for(store, done, proc, timeout_s=90):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"run ended early: {proc.stderr.read()}"
        if store.exists():
            try:
                if done(rows(store)):
                    return
            except Exception:
                pass
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_sigkill_at_random_points_loses_no_attempt_and_no_event(tmp_path):
    # 72 run seconds per run (6 wall seconds at speed 12) for three kills 14, 20 and 17
    # finished attempts apart: with 36 a loaded machine (the run clock counts its start-up
    # too) once reached the end before the third kill
    cfg = write_config(tmp_path, hours=0.02, speed=6.0, drain_s=1.0)
    store, ev = tmp_path / "store.sqlite", tmp_path / "events.jsonl"
    rng = random.Random(20261201)
    history = []
    for _ in range(3):
        proc = run_cmd(cfg, "--speed", "12", env=_env())
        before_n = len(rows(store)) if store.exists() else 0
        target = before_n + rng.randint(5, 60)
        try:
            _wait_for(store, lambda r, t=target: sum(x["code"] != 0 for x in r.values()) >= t,
                      proc)
            time.sleep(rng.random() * 0.5)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == -signal.SIGKILL
        snap = rows(store)
        finished = {i: r for i, r in snap.items() if r["code"] != Code.PENDING}
        announced = attempt_events(ev, "ATTEMPT_COMPLETED")
        assert announced <= set(finished), "a completion was announced but is not stored"
        history.append(finished)
    final = run_cmd(cfg, "--speed", "15", env=_env())  # its 72 run seconds in 5 wall s
    out, err = final.communicate(timeout=180)
    assert final.returncode == 0, err
    summary = json.loads(out)
    assert summary["left_pending"] == 0 and summary["lost_events"] == 0
    after = rows(store)
    for finished in history:
        for i, r in finished.items():  # nothing recorded before a kill changed afterwards
            assert after[i] == r
    assert not [i for i, r in after.items() if r["code"] == Code.PENDING]
    # no event lost: every attempt announced its creation and its completion
    created = attempt_events(ev, "ATTEMPT_CREATED")
    completed = attempt_events(ev, "ATTEMPT_COMPLETED")
    blocked = {i for i, r in after.items() if r["code"] == Code.BLOCKED}
    assert set(after) - blocked <= created
    assert set(after) == completed
    trapped = {i for i, r in after.items() if r["code"] == Code.TRAPPED}
    assert trapped, "expected calls in flight at the kills"
    # trapped contacts are dialled again; no other contact is dialled twice
    by_contact: dict[str, list[dict]] = {}
    for r in after.values():
        by_contact.setdefault(r["contact_id"], []).append(r)
    for cid, rs in by_contact.items():
        real = [r for r in rs if r["code"] not in (Code.TRAPPED, Code.BLOCKED)]
        assert len(real) <= 1, f"contact {cid} dialled twice"
    redialled = sum(1 for i in trapped if any(
        r["attempt_id"] > i for r in by_contact[after[i]["contact_id"]]))
    assert redialled >= 0.8 * len(trapped), (redialled, len(trapped))
    assert max(after) + 1 == len(after)  # ids continue across runs, none reused or skipped
    # no secret leaked into the store, the events or the messages
    log = tmp_path / "store.sqlite.log"
    assert log.exists()
    blob = (ev.read_text() + out + err + json.dumps(after) + log.read_text()).replace("\\", "")
    for pw in PW.values():
        assert pw not in blob and pw.replace('"', '\\"') not in blob


def test_second_run_on_a_store_is_refused_and_a_clean_stop_leaves_nothing_pending(tmp_path):
    cfg = write_config(tmp_path, hours=1.0, speed=3.0, drain_s=1.0)
    store = tmp_path / "store.sqlite"
    first = run_cmd(cfg, env=_env())
    try:
        _wait_for(store, lambda r: sum(x["code"] == 0 for x in r.values()) >= 10, first)
        before = rows(store)
        second = run_cmd(cfg, env=_env())
        out, err = second.communicate(timeout=60)
        assert second.returncode == 1
        assert "in use by another outdial run" in err and f"pid {first.pid}" in err
        assert "Traceback" not in err
        after = rows(store)
        for i, r in before.items():  # the refused run touched none of the first's attempts
            if r["code"] == Code.PENDING:
                assert after[i]["code"] != Code.TRAPPED
        assert first.poll() is None
        first.send_signal(signal.SIGTERM)
        out, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err
    summary = json.loads(out)
    assert summary["reason"] == "stop" and summary["left_pending"] == 0
    assert summary["lost_events"] == 0 and summary["job_states"] == {"sales": "PAUSED"}
    assert not [i for i, r in rows(store).items() if r["code"] == Code.PENDING]
    # the next run resumes the paused job and carries on
    live_before = sum(r["code"] in LIVE_CODES for r in rows(store).values())
    again = run_cmd(cfg, "--hours", "0.005", "--speed", "5", env=_env())
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    s2 = json.loads(out)
    assert s2["jobs_resumed"] == ["sales"] and s2["trapped"] == 0 and s2["attempts"] > 0
    assert s2["live_answers_carried"] == live_before  # the first run's, back in the pacer
    assert s2["job_states"] == {"sales": "FINISHED"}
    assert s2["kpis"]["attempts"] == s2["attempts"]  # this run's KPIs, not the store's


def test_a_hangup_stops_the_run_gracefully(tmp_path):
    """SIGHUP (the terminal the run was started from closed) killed the run at once, its
    calls in flight left PENDING; it now stops as SIGTERM does."""
    cfg = write_config(tmp_path, hours=1.0, speed=1.0, drain_s=2.0)
    store = tmp_path / "store.sqlite"
    run = run_cmd(cfg, env=_env())
    try:
        _wait_for(store, lambda r: sum(x["code"] == 0 for x in r.values()) >= 5, run)
        run.send_signal(signal.SIGHUP)
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, err
    summary = json.loads(out)
    assert summary["reason"] == "stop" and summary["left_pending"] == 0
    assert not [i for i, r in rows(store).items() if r["code"] == Code.PENDING]

"""Crash safety: SIGKILL the engine mid-campaign on SQLite, restart it, check the store.

The engine runs as a separate process (``outdial run``: the production engine in real time
against the emulated platform, 50x faster than the wall clock). The test waits until
attempts are completing, kills the process with SIGKILL, and restarts it on the same store:

- every result the engine announced (an ATTEMPT_COMPLETED event is published only after
  the store's save returned) is in the store, unchanged after the restart;
- the attempts in flight at the kill (the trapped records) are found and reported by the
  restart, re-coded TRAPPED, and their contacts dialled again (re-queued per strategy);
- no contact is dialled twice otherwise: the scenario's strategy has one step and no
  retries, so each contact has at most one attempt that is neither trapped nor blocked,
  and no contact finished before the kill is attempted after it.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.attempt import Code

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "single-50-predictive.toml"
FACTOR = "0.02"  # wall seconds per run second
HOURS = "0.05"  # measured run clock after the 300 s warm-up: ~8 s of wall time in all
KILL_AFTER = 80  # completed attempts in the store before the kill


def _run(store: Path, events: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "outdial.cli", "run", str(SCENARIO), "--store", str(store),
         "--factor", FACTOR, "--hours", HOURS, "--events", str(events), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def _rows(store: Path) -> dict[int, dict]:
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10)
    db.row_factory = sqlite3.Row
    try:
        return {r["attempt_id"]: dict(r) for r in db.execute("SELECT * FROM attempts")}
    finally:
        db.close()


def _completed_events(events: Path) -> set[int]:
    done = set()
    for line in events.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # the line being written at the kill
        if rec["event"].get("type") == "ATTEMPT_COMPLETED":
            done.add(rec["event"]["attempt_id"])
    return done


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
def test_sigkill_mid_campaign_loses_no_result_and_requeues_trapped_attempts(tmp_path):
    store, events = tmp_path / "run.sqlite", tmp_path / "events.jsonl"
    proc = _run(store, events)
    deadline = time.monotonic() + 120
    try:
        while True:
            assert proc.poll() is None, f"engine ended before the kill: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "no attempts completed within 120 s"
            if store.exists():
                try:
                    rows = _rows(store)
                except sqlite3.OperationalError:
                    rows = {}
                if sum(r["code"] != Code.PENDING for r in rows.values()) >= KILL_AFTER:
                    break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    before = _rows(store)
    finished = {i: r for i, r in before.items() if r["code"] != Code.PENDING}
    trapped = {i for i, r in before.items() if r["code"] == Code.PENDING}
    announced = _completed_events(events)
    assert announced, "the engine announced no completed attempt before the kill"
    assert announced <= set(finished), "a completed result was announced but lost"
    assert trapped, "expected attempts in flight at the kill (50 agents, calls ringing)"

    restart = _run(store, events)
    out, err = restart.communicate(timeout=180)
    assert restart.returncode == 0, err
    summary = json.loads(out)
    assert summary["trapped"] == len(trapped)
    assert {t["attempt_id"] for t in summary["trapped_attempts"]} == trapped
    assert summary["attempts_this_run"] > 0

    after = _rows(store)
    for i, r in finished.items():  # results recorded before the crash are untouched
        assert after[i] == r
    for i in trapped:
        assert after[i]["code"] == Code.TRAPPED
    new = {i: r for i, r in after.items() if i not in before}
    assert min(new) > max(before)  # attempt ids continue, none reused

    by_contact: dict[str, list[dict]] = {}
    for r in after.values():
        by_contact.setdefault(r["contact_id"], []).append(r)
    real = {int(Code.TRAPPED), int(Code.BLOCKED)}
    for cid, rs in by_contact.items():
        assert sum(r["code"] not in real for r in rs) <= 1, f"contact {cid} dialled twice"
    finished_contacts = {r["contact_id"] for r in finished.values()
                         if r["code"] != Code.BLOCKED}
    assert not finished_contacts & {r["contact_id"] for r in new.values()}
    trapped_contacts = {before[i]["contact_id"] for i in trapped}
    redialled = trapped_contacts & {r["contact_id"] for r in new.values()}
    assert redialled == trapped_contacts, "trapped contacts were not re-queued"

"""SMS and email a run was sending when it was killed (SIGKILL): the next start asks the
gateway about them and, whatever it cannot learn, keeps for review instead of sending the
message again (``adapters.epm.orphans.settle``, ``engine.dispositions.review``)."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from engine.attempt import Channel, Code
from tests.live_helpers import ENV, rows, run_cmd, write_config

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

SMS = """
[scenario]
name = "sms-live"
sim_hours = 1.0
seed = 5

[telephony]
ports = 30

[[campaigns]]
name = "notify"
channel = "sms"
attempts_per_hour = 3600.0

[campaigns.message]
latency_s = 30.0   # each message is being sent for 30 run seconds
delivery = 1.0
"""


def test_messages_being_sent_at_a_kill_are_kept_for_review_not_sent_again(tmp_path):
    scn = tmp_path / "sms.toml"
    scn.write_text(SMS)
    cfg = write_config(tmp_path, hours=1.0, speed=10.0, drain_s=0.5, scenario=scn)
    store = tmp_path / "store.sqlite"
    env = {**os.environ, **ENV}
    proc = run_cmd(cfg, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "no message under way in time"
            try:
                r = rows(store) if store.exists() else {}
            except Exception:  # (the store being made)
                r = {}
            if sum(x["code"] == Code.PENDING for x in r.values()) >= 5 and \
                    sum(x["code"] == Code.DELIVERED for x in r.values()) >= 1:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    sending = {i for i, x in rows(store).items() if x["code"] == Code.PENDING}
    assert sending
    again = run_cmd(cfg, "--hours", "0.01", env=env)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    summary = json.loads(out)
    after = rows(store)
    # the emulated gateway of the new run knows none of the last run's sessions: none can
    # be asked about, so each is kept for review, recorded TRAPPED, and not sent again
    assert set(summary["messages_for_review"]) == sending
    assert all(after[i]["code"] == Code.TRAPPED for i in sending)
    assert all(after[i]["channel"] == Channel.SMS for i in sending)
    for i in sending:
        cid = after[i]["contact_id"]
        assert not [r for r in after.values() if r["contact_id"] == cid
                    and r["attempt_id"] > i], f"the message of attempt {i} was sent again"
    # and those the end of this run found being sent, likewise
    at_stop = summary["messages_for_review_at_stop"]
    assert at_stop and all(after[i]["code"] == Code.TRAPPED for i in at_stop)
    assert summary["dispositions"]["review"] == len(sending) + len(at_stop)
    assert summary["attempts"] > 0  # the run went on sending the others

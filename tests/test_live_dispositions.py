"""Agents' dispositions on a live run (emulated, 127.0.0.1): sent on the control socket as
the agent desktop would, carried out by the engine (``engine.dispositions``), kept in the
store across a restart, published as ATTEMPT_DISPOSITION events."""

from __future__ import annotations

import asyncio
import json
import sqlite3

from click.testing import CliRunner

from engine.attempt import Code
from outdial.cli import outdial
from outdial.live.config import load_config
from tests.live_helpers import ENV, until, write_config
from tests.test_live_control import _ask, _req, _run

_CONNECTED = int(Code.LIVE_CONNECTED)


def _connected(s, n: int) -> list[dict]:
    """The first ``n`` attempts of this run that ended put through to an agent."""
    recs = s.store.attempts(since_id=s._first_id)
    return [r for r in recs if r["code"] == _CONNECTED][:n]


def test_dispositions_over_the_socket_reach_the_engine_and_survive_a_restart(tmp_path):
    p = write_config(tmp_path, hours=1.0, speed=10.0, drain_s=0.5)
    cfg = load_config(p, env=ENV, emulate=True)
    path = cfg.control_path()
    cli = CliRunner()

    def ctl(*args):
        return cli.invoke(outdial, ["control", str(p), *args], catch_exceptions=False,
                          env=ENV)
    r = ctl("disposition", "--agent", "3")
    assert r.exit_code == 2 and "--attempt N --code CODE" in r.output
    r = ctl("pause", "sales", "--code", "sale")
    assert r.exit_code == 2 and "go with disposition" in r.output

    async def during(s):
        await until(lambda: len(_connected(s, 2)) == 2, 40.0, 0.05)
        one, two = _connected(s, 2)
        dnc = await asyncio.to_thread(ctl, "disposition", "--attempt",
                                      str(one["attempt_id"]), "--agent", str(one["agent"]),
                                      "--code", "dnc")
        assert dnc.exit_code == 0 and ": dnc, applied" in dnc.output, dnc.output
        replies = await _ask(
            path,
            _req(action="disposition", attempt=two["attempt_id"], agent=two["agent"],
                 code="callback", callback_in_s=20, personal=True),
            # malformed: each refused saying why, the run goes on
            _req(action="disposition", attempt=one["attempt_id"], agent=one["agent"] + 1,
                 code="sale"),
            _req(action="disposition", attempt=two["attempt_id"], agent=two["agent"],
                 code="callback", callback_at="tomorrow"),
            b'{"action": "disposition", "attempt": 1e400}\n')
        assert [r["ok"] for r in replies] == [True, False, False, False], replies
        assert "not agent" in replies[1]["error"] and "ISO 8601" in replies[2]["error"]
        first = s.dialer.next_attempt_id
        # the callback: dialled at its time (20 run s: 2 wall s), held for its agent
        await until(lambda: s.dispositions.records[two["attempt_id"]]["state"]
                    in ("dialling", "reached"), 30.0, 0.05)
        rec = s.dispositions.records[two["attempt_id"]]
        cb = s.store.attempt(rec["callback_attempt"])
        assert cb["contact_id"] == two["contact_id"] and cb["t_created"] >= \
            two["t_end"] + 20 - 1e-6
        await until(lambda: s.store.attempt(rec["callback_attempt"])["code"] != 0, 30.0,
                    0.05)
        cb = s.store.attempt(rec["callback_attempt"])
        if cb["t_connect"] >= 0:  # answered by a person: put through to the same agent
            assert cb["agent"] == two["agent"]
        s.runner.request_stop()
        return one, two, first
    (one, two, _first), summary = _run(cfg, during)
    assert summary["dispositions"] == {"callback": 1, "dnc": 1}
    assert summary["dispositions_refused"] == 3
    assert summary["callbacks_dialled"] >= 1 and summary["callbacks_personal"] >= 1
    db = sqlite3.connect(cfg.store_sqlite)
    kept = {a: json.loads(r) for a, r in db.execute("SELECT attempt_id, record FROM "
                                                    "dispositions")}
    # the DNC'd address is never dialled again, in any job
    later = db.execute("SELECT COUNT(*) FROM attempts WHERE address = ? AND attempt_id > ?",
                       (one["address"], one["attempt_id"])).fetchone()[0]
    db.close()
    assert set(kept) == {one["attempt_id"], two["attempt_id"]} and later == 0
    events = [json.loads(x)["event"] for x in
              (tmp_path / "events.jsonl").read_text().splitlines()]
    got = [(e["attempt_id"], e["disposition"], e["personal"]) for e in events
           if e["type"] == "ATTEMPT_DISPOSITION"]
    assert got == [(one["attempt_id"], "dnc", False), (two["attempt_id"], "callback", True)]

    async def after_restart(s):
        held = s.dispositions.dnc.check(one["address"])
        s.runner.request_stop()
        return held
    held, summary = _run(cfg, after_restart)
    assert held == "global" and summary["dispositions_restored"] == 2

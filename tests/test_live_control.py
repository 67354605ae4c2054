"""A running ``outdial run``'s control channel: a supervisor's requests over its Unix socket
(outdial.live.control, ``outdial control``), malformed requests answered and logged while the
run goes on, a socket a killed run left replaced, and the command line's errors."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import socket

import pytest
from click.testing import CliRunner

from outdial.cli import outdial
from outdial.live.config import load_config
from outdial.live.control import MAX_LINE, request
from outdial.live.session import LiveSession, RunError
from tests.live_helpers import ENV, until, write_config


async def _ask(path, *lines: bytes) -> list[dict]:
    reader, writer = await asyncio.open_unix_connection(str(path))
    out = []
    try:
        for line in lines:
            writer.write(line)
            try:
                await writer.drain()
            except ConnectionResetError:  # the far end answered and closed meanwhile
                pass
            reply = await asyncio.wait_for(reader.readline(), 10.0)
            if not reply:
                break
            out.append(json.loads(reply))
    finally:
        writer.close()
    return out


async def _finish(s, run) -> None:
    """The run's task ended (a failed assertion: asked to stop first), then the session."""
    if not run.done():
        s.runner.request_stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(run, 30.0)
    await s.close()


def _run(cfg, during=None):
    """An emulated session of ``cfg`` started and run to its end; ``during(session)`` is
    awaited while it runs. Returns what ``during`` returned and the run's summary."""
    async def go():
        s = LiveSession(cfg, emulate=True)
        await s.start()
        run = asyncio.create_task(s.run())
        try:
            got = None if during is None else await during(s)
            return got, await asyncio.wait_for(run, 60.0)
        finally:
            await _finish(s, run)
    return asyncio.run(go())


def _start(cfg) -> None:
    """Start (and close) an emulated session of ``cfg``: what a refused start raises."""
    async def go():
        s = LiveSession(cfg, emulate=True)
        try:
            await s.start()
        finally:
            await s.close()
    asyncio.run(go())


def _req(**kw) -> bytes:
    return json.dumps(kw).encode() + b"\n"


def test_a_supervisor_pauses_resumes_and_reads_a_running_job_over_the_socket(tmp_path,
                                                                             caplog):
    cfg = load_config(write_config(tmp_path, hours=1.0, speed=6.0, drain_s=1.0), env=ENV,
                      emulate=True)
    path = cfg.control_path()
    assert path == tmp_path / "store.sqlite.control"

    async def during(s):
        assert oct(path.stat().st_mode & 0o777) == "0o600"  # its user's only
        await until(lambda: s.dialer.next_attempt_id >= 5, 30.0, 0.05)
        (status, paused) = await _ask(path, _req(action="status"),
                                      _req(action="pause", job="sales"))
        job = status["result"]["jobs"][0]
        assert status["ok"] and job["job"] == "sales" and job["state"] == "RUNNING"
        assert job["attempts"] >= 5 and job["agents"] == 50 and "occupancy" in \
            status["result"]
        assert paused == {"ok": True, "result": {
            "job": "sales", "state": "PAUSED", "min_agents": 0,
            "max_agents": job["max_agents"], "priority": 1, "agents": 50}}
        n = s.dialer.next_attempt_id
        await asyncio.sleep(1.0)  # 6 run seconds: nothing launched while paused
        assert s.dialer.next_attempt_id == n
        # malformed requests: each answered, the connection and the run go on
        bad = await _ask(path, b"{not json\n", b"\xff\xfe\n", _req(action="halt"),
                         _req(action="pause", job="care"), _req(action="resume",
                                                                job="sales"))
        assert [r["ok"] for r in bad] == [False, False, False, False, True]
        assert "expected a JSON object" in bad[0]["error"]
        assert "action: expected one of" in bad[2]["error"]
        assert "('sales')" in bad[3]["error"]
        await until(lambda: s.dialer.next_attempt_id > n, 30.0, 0.05)
        # a request over the line limit: answered, that connection closed
        big = await asyncio.to_thread(request, path, b"x" * (MAX_LINE + 10) + b"\n")
        assert not big["ok"] and str(MAX_LINE) in big["error"]
        s.runner.request_stop()  # as SIGTERM: the running job paused for the next run
    _, summary = _run(cfg, during)
    assert summary["reason"] == "stop" and summary["job_states"] == {"sales": "PAUSED"}
    assert summary["control_socket"] == str(path)
    assert summary["control_requests"] == 8 and summary["control_refused"] == 5
    assert not path.exists()  # removed at the close
    logged = [r.getMessage() for r in caplog.records if r.name == "outdial.live.control"]
    assert any('"action": "pause"' in m for m in logged)
    assert sum("refused" in m or "not a JSON" in m or "over" in m for m in logged) == 5


def test_a_socket_a_killed_run_left_is_replaced_a_file_is_not(tmp_path):
    cfg = load_config(write_config(tmp_path, hours=0.001, speed=6.0, drain_s=0.5), env=ENV,
                      emulate=True)
    path = cfg.control_path()
    left = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    left.bind(str(path))  # bound, never listening: what a killed run leaves
    left.close()
    assert path.exists()

    async def during(s):
        assert path.is_socket()
    assert _run(cfg, during)[1]["reason"] == "end"
    path.write_text("not a socket")
    with pytest.raises(RunError, match="exists and is not a socket"):
        _start(cfg)
    assert path.read_text() == "not a socket"  # never removed


def test_the_command_asks_a_running_run_and_says_clearly_when_it_cannot(tmp_path):
    p = write_config(tmp_path, hours=0.02, speed=6.0, drain_s=1.0)
    cli = CliRunner()

    def ctl(*args):
        return cli.invoke(outdial, ["control", str(p), *args], catch_exceptions=False,
                          env=ENV)
    r = ctl("status")
    assert r.exit_code == 1 and "no outdial run listens on" in r.output
    assert ctl("pause").exit_code == 2 and "name the job" in ctl("pause").output
    r = ctl("status", "--agent", "3")
    assert r.exit_code == 2 and "--agent goes with logoff" in r.output
    r = ctl("pause", "sales", "--priority", "2")
    assert r.exit_code == 2 and "go with set" in r.output
    r = ctl("import", "sales")
    assert r.exit_code == 2 and "name the contact file (--file PATH)" in r.output

    async def during(s):
        await until(lambda: s.dialer.next_attempt_id >= 3, 30.0, 0.05)
        out = {}
        for args in (("status", "--json"), ("status",), ("agents",),
                     ("set", "sales", "--max-agents", "20"),
                     ("pause", "sales"), ("pause", "sales"), ("logoff", "--agent", "7"),
                     ("shutdown",)):
            out[args] = await asyncio.to_thread(ctl, *args)
        return out
    out, out["summary"] = _run(load_config(p, env=ENV, emulate=True), during)
    assert out[("shutdown",)].exit_code == 0 and "requested" in out[("shutdown",)].output
    assert out["summary"]["reason"] == "stop"
    status = out[("status", "--json")]
    assert status.exit_code == 0
    reply = json.loads(status.output)
    assert reply["ok"] and reply["result"]["jobs"][0]["state"] == "RUNNING"
    assert out[("status",)].exit_code == 0 and "agents logged in 50" in out[("status",)].output
    assert out[("agents",)].exit_code == 0 and "agents logged in" in out[("agents",)].output
    assert out[("set", "sales", "--max-agents", "20")].output.startswith("sales: RUNNING")
    assert "max 20" in out[("set", "sales", "--max-agents", "20")].output
    assert out[("pause", "sales")].exit_code == 1  # the second: already paused
    assert "refused: job 'sales': cannot pause a PAUSED job" in out[("pause", "sales")].output
    assert out[("logoff", "--agent", "7")].output.startswith("agent 7: ")
    # the next run of the store keeps the limits the supervisor set, not the scenario's

    async def limits(s):
        return s.control.supervisor.status()[0]
    job, summary = _run(dataclasses.replace(load_config(p, env=ENV, emulate=True),
                                            hours=0.001), limits)
    assert summary["limits_restored"] == ["sales"] and job["max_agents"] == 20


def test_the_status_table_shows_jobs_limits_and_the_inbound_side():
    import io

    from rich.console import Console

    from outdial.app import Application
    from outdial.cli.control import _print_status

    app = Application()
    app.out = Console(file=io.StringIO(), width=200)
    _print_status(app, {"run_s": 95.2, "agents_logged_in": 12, "occupancy": 0.5,
                        "skills": {"care": [3, 1, 10]}, "agents_on_inbound": 5,
                        "jobs": [{"job": "sales", "state": "PAUSED", "attempts": 31,
                                  "live": 3, "abandons": 0, "abandon_window": 0.0,
                                  "in_flight": 5, "agents": 7, "min_agents": 2,
                                  "max_agents": 1_000_000, "priority": 3}]})
    text = app.out.file.getvalue()
    row = next(ln for ln in text.splitlines() if "sales" in ln).split()
    assert row[1:4] == ["sales", "│", "PAUSED"] and "2-any" in row and "3" in row
    assert "occupancy 50.00 %" in text
    assert "care 3 waiting, 1/10 available; blending: 5 agents lent to inbound" in text


def _fixed_list_scenario(tmp_path, records: int):
    """single-50-predictive with a fixed synthetic list of ``records`` contacts."""
    from tests.live_helpers import SCENARIO
    text = SCENARIO.read_text(encoding="utf-8")
    text = text.replace('initial_hit_rate = 0.30', f'initial_hit_rate = 0.30\nrecords = {records}')
    p = tmp_path / "fixed.toml"
    p.write_text(text, encoding="utf-8")
    return p


def _leads(path):
    rows = ["id,phone,timezone"]
    rows += [f"lead-{i},+1212555{i:04d},America/New_York" for i in range(28)]
    rows += ["bad-1,not a number,America/New_York", "bad-2,+12125550999,Mars/Olympus"]
    rows += ["sales-3,+12125559999,America/New_York",  # already in the job's list
             "lead-5,+12125550005,America/New_York"]  # twice in the file
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_contacts_imported_into_a_running_job_are_dialled_and_kept_across_a_restart(tmp_path):
    from engine.attempt import Code
    from outdial.live.imports import META_KEY
    from tests.live_helpers import rows

    scn = _fixed_list_scenario(tmp_path, 40)
    cfg = load_config(write_config(tmp_path, hours=1.0, speed=6.0, drain_s=1.0,
                                   scenario=scn), env=ENV, emulate=True)
    leads = _leads(tmp_path / "leads.csv")

    def a_lead_dialled(s) -> bool:
        return any(a.contact_id.startswith("lead-") for a in s.dialer.in_flight.values())

    async def imports(s):
        await until(lambda: s.dialer.next_attempt_id >= 3, 30.0, 0.05)
        replies = await _ask(cfg.control_path(),
                             _req(action="import", job="sales", file="/no/such.csv"),
                             _req(action="import", job="sales", file=str(leads)))
        await until(lambda: a_lead_dialled(s), 60.0, 0.02)  # then the run is stopped
        s.runner.request_stop()
        return replies
    (bad, done), summary = _run(cfg, imports)
    assert not bad["ok"] and "/no/such.csv" in bad["error"]
    assert done["ok"], done
    res = done["result"]
    # 32 rows: two malformed and a second lead-5 skipped (the loader's problems, by line),
    # sales-3 already in the job's list
    assert (res["rows"], res["skipped"], res["duplicates"], res["imported"], res["selected"]) \
        == (29, 3, 1, 28, 28)
    assert [p.split(":")[0] for p in res["problems"]] == ["line 30", "line 31", "line 33"]
    recorded = rows(cfg.store_sqlite)
    dialled = {r["contact_id"] for r in recorded.values() if r["contact_id"].startswith("lead-")}
    assert dialled and summary["reason"] == "stop"
    assert not any(r["contact_id"].startswith("bad-") for r in recorded.values())
    # a restart replays the import at its place, before the attempts are replayed
    again = dataclasses.replace(cfg, hours=0.002)

    async def replayed(s):
        return list(s.director.flows[0].ids[40:])
    ids, summary2 = _run(again, replayed)
    assert summary2["imported_contacts_replayed"] == 28 and len(ids) == 28
    assert ids[0] == "lead-0" and "lead-5" in ids and "sales-3" not in ids
    after = rows(cfg.store_sqlite)
    assert not [i for i, r in after.items() if r["code"] == Code.PENDING]
    # a store whose imports no longer fit the list: one clear line, nothing dialled
    import sqlite3
    db = sqlite3.connect(cfg.store_sqlite)
    with db:
        (raw,) = db.execute("SELECT value FROM meta WHERE key = ?", (META_KEY,)).fetchone()
        recs = json.loads(raw)
        recs[0]["base"] = 99
        db.execute("UPDATE meta SET value = ? WHERE key = ?", (json.dumps(recs), META_KEY))
    db.close()

    with pytest.raises(RunError, match="its list has 40 contacts where the import of"):
        _start(again)


def test_a_request_that_fails_inside_the_run_is_answered_and_the_server_goes_on(tmp_path):
    from types import SimpleNamespace

    from outdial.live.control import ControlServer

    def handle(req):
        raise OSError(28, "No space left on device")
    server = ControlServer(tmp_path / "c", SimpleNamespace(handle=handle), dict)
    reply = asyncio.run(server.reply(_req(action="import", job="sales", file="x.csv")))
    assert reply == {"ok": False, "error": "OSError: [Errno 28] No space left on device"}
    assert (server.requests, server.refused) == (1, 1)


def test_a_socket_that_cannot_be_made_says_how_to_go_on(tmp_path):
    from outdial.live.control import ControlError, ControlServer

    with pytest.raises(ControlError, match=r"cannot listen on .*nodir.*; set \[control\] "
                                           r"socket to a path on a local disk, or"):
        asyncio.run(ControlServer(tmp_path / "nodir" / "x.control", None, dict).start())
    long = tmp_path / ("d" * 120) / "x.control"
    with pytest.raises(ControlError, match="a Unix socket's path must be under"):
        asyncio.run(ControlServer(long, None, dict).start())


def test_a_request_nested_too_deep_to_parse_is_answered_as_malformed(tmp_path):
    # 40,000 brackets: JSON the parser cannot follow (RecursionError) got no reply, and
    # its connection's task died with an unhandled error
    from outdial.live.control import ControlServer

    class Nobody:
        def handle(self, req):
            raise AssertionError("a malformed request reached the supervisor")

    server = ControlServer(tmp_path / "c.control", Nobody(), dict)

    async def go():
        await server.start()
        try:
            return await _ask(server.path, b"[" * 40000 + b"\n", _req(action="status"))
        finally:
            await server.close()
    deep, _ = asyncio.run(go())
    assert not deep["ok"] and "expected a JSON object" in deep["error"]
    assert server.requests == 2 and server.refused == 2


def test_an_import_of_a_pipe_or_device_is_refused_at_once_not_read_on_the_loop(tmp_path):
    # a FIFO named leads.csv (or a link to /dev/zero): reading it on the event loop froze
    # the whole dialer (ticks, connect windows, the adapters) until a writer came
    import os
    import threading
    import time

    import polars as pl

    from engine.contacts import ContactList, ListSpec
    from engine.flow import ContactFlow
    from engine.rules import RuleEngine
    from engine.store_memory import MemoryStore
    from engine.strategy import Step, Strategy
    from engine.supervisor import SupervisorError
    from outdial.live.imports import ContactImports

    spec = ListSpec(addresses={"phone": "voice"})
    lst = ContactList(pl.DataFrame({"id": ["a"], "phone": ["+442079460001"]}), spec)
    flow = ContactFlow(0, "sales", lst, Strategy((Step("voice", "phone"),), windows="always"),
                       RuleEngine(), dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC))
    imports = ContactImports(MemoryStore(), tmp_path / "imports", [flow], [spec], lambda: 0.0)
    fifo = tmp_path / "leads.csv"
    os.mkfifo(fifo)
    unblock = threading.Timer(3.0, lambda: os.close(os.open(fifo, os.O_WRONLY)))
    unblock.start()
    try:
        t0 = time.monotonic()
        with pytest.raises(SupervisorError, match="a pipe"):
            imports.add(0, str(fifo))
        assert time.monotonic() - t0 < 1.0
        (tmp_path / "zero.csv").symlink_to("/dev/zero")
        with pytest.raises(SupervisorError, match="a character device"):
            imports.add(0, str(tmp_path / "zero.csv"))
    finally:
        unblock.cancel()
        with contextlib.suppress(OSError):  # the timer's writer, if it already waits
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
    assert len(flow.ids) == 1


def test_an_agent_a_supervisor_logged_off_stays_off_across_a_restart(tmp_path):
    from engine.agents import AgentState
    from engine.supervisor import LOGOFFS_KEY

    cfg = load_config(write_config(tmp_path, hours=1.0, speed=6.0, drain_s=0.5), env=ENV,
                      emulate=True)
    out = int(AgentState.LOGGED_OUT)

    async def logoff(s):
        await until(lambda: (s.dialer.agents.state != out).sum() == 50, 30.0, 0.05)
        (done,) = await _ask(cfg.control_path(), _req(action="logoff", agent=7))
        s.runner.request_stop()
        return done
    done, _ = _run(cfg, logoff)
    assert done["ok"] and done["result"]["agent"] == 7

    async def after_restart(s):
        # every other agent is back at once (the emulated switch keeps them logged in);
        # agent 7, still logged in at its phone, stays off
        await until(lambda: (s.dialer.agents.state != out).sum() == 49, 30.0, 0.05)
        await asyncio.sleep(0.5)  # several DMCC polls
        s.runner.request_stop()
        return int(s.dialer.agents.state[7]), (s.dialer.agents.state != out).sum()
    (state7, on), summary = _run(cfg, after_restart)
    assert state7 == out and on == 49
    assert summary["logoffs_restored"] == [7]
    import sqlite3
    db = sqlite3.connect(cfg.store_sqlite)
    assert json.loads(db.execute("SELECT value FROM meta WHERE key = ?",
                                 (LOGOFFS_KEY,)).fetchone()[0]) == [7]
    db.close()


def _ticking_import(imports, j, path, check=None):
    """``imports.add_async`` run on a loop that also ticks every 5 ms (a heartbeat, the
    adapters' frames): its reply (or error) and the longest gap between ticks, seconds."""
    from tests.heartbeat import Heartbeat

    async def go():
        async with Heartbeat(settle_s=0.05) as hb:
            try:
                out = await imports.add_async(j, str(path), check)
            except Exception as e:
                out = e
        return out, hb.max_gap
    return asyncio.run(go())


def test_a_large_import_is_read_off_the_event_loop_with_the_same_reply(tmp_path):
    from engine.store_memory import MemoryStore
    from engine.supervisor import SupervisorError
    from outdial.live.imports import META_KEY, ContactImports
    from sim.population import build_flows, contact_spec
    from sim.scenario import load

    scn = load(_fixed_list_scenario(tmp_path, 120))
    big = tmp_path / "big.csv"
    with big.open("w", encoding="utf-8") as f:
        f.write("id,phone,timezone\n")
        f.writelines(f"lead-{i},+1212{i:07d},America/New_York\n" for i in range(200_000))
        f.write("sales-3,+12125559999,America/New_York\nbad,x,America/New_York\n")

    def imports(name):
        flows, _ = build_flows(scn, list(scn.campaigns))
        return ContactImports(MemoryStore(), tmp_path / name, flows,
                              [contact_spec(scn.campaigns[0])], lambda: 5.0)
    on_loop = imports("a")
    expected = on_loop.add(0, str(big))  # the oracle: the same import read on the caller
    assert (expected["imported"], expected["duplicates"], expected["skipped"]) == \
        (200_000, 1, 1)
    off = imports("b")
    reply, gap = _ticking_import(off, 0, big)
    assert reply == expected and len(off.flows[0].ids) == 120 + 200_000
    assert json.loads(off.store.get_meta(META_KEY))[0]["rows"] == 200_000
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["00000-0.parquet"]
    # the loop ticked on while the file was read (0.5 s on the loop before)
    assert gap < 0.3, gap

    def stopped(j):
        raise SupervisorError("job 'sales' is STOPPED: it takes no more contacts")
    late = imports("c")
    err, _ = _ticking_import(late, 0, big, stopped)  # stopped while its file was read
    assert isinstance(err, SupervisorError) and "STOPPED" in str(err)
    assert len(late.flows[0].ids) == 120 and late.store.get_meta(META_KEY) is None
    assert list((tmp_path / "c").iterdir()) == []  # its copy removed


def test_control_connections_that_stay_or_never_read_are_bounded(tmp_path):
    from types import SimpleNamespace

    from outdial.live.control import ControlServer

    async def go():
        sup = SimpleNamespace(handle=lambda req: {"echo": "x" * 60_000})
        server = ControlServer(tmp_path / "c.sock", sup, dict)
        server.max_clients, server.idle_s, server.send_s = 3, 0.3, 0.3
        await server.start()
        path = str(server.path)
        try:
            held = [await asyncio.open_unix_connection(path) for _ in range(3)]
            await until(lambda: server.clients == 3, 5.0)
            r4, w4 = await asyncio.open_unix_connection(path)  # one too many: told so
            extra = json.loads(await asyncio.wait_for(r4.readline(), 5.0))
            w4.close()
            # the three that say nothing are closed after idle_s: the server takes more
            await until(lambda: server.clients == 0, 5.0)
            gone = [await asyncio.wait_for(r.read(), 5.0) for r, _ in held]
            # a client that asks and never reads its replies: cut after send_s
            r5, w5 = await asyncio.open_unix_connection(path)
            w5.write(_req(action="agents") * 50)
            await w5.drain()
            await until(lambda: server.clients == 0, 5.0)
            ok = await _ask(server.path, _req(action="agents"))
            for _, w in [*held, (r5, w5)]:
                w.close()
            return extra, gone, ok
        finally:
            await server.close()
    extra, gone, ok = asyncio.run(go())
    assert not extra["ok"] and "more than 3 control connections open" in extra["error"]
    assert gone == [b"", b"", b""]
    assert ok[0]["ok"] and len(ok[0]["result"]["echo"]) == 60_000

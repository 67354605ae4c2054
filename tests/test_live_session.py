"""The live session in-process: links dropped and restored mid-campaign with no result
lost, a store that fills up, an events file that fails, a damaged store, bad
configurations; each ends in one clear message and a store the next run resumes."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from pathlib import Path

import pytest

from adapters.epm.emulator import EpmEmulator
from engine.attempt import Code
from engine.kpi import ABANDON_CODES, LIVE_CODES
from engine.sinks import JsonlSink, SinkError
from outdial.live import session as live_session
from outdial.live.config import ConfigError, load_config
from outdial.live.session import LiveSession, RunError, run_live
from outdial.live.view import render, snapshot
from tests.live_helpers import ENV, attempt_events, rows, until, write_config


def _cfg(tmp_path: Path, **kw):
    return load_config(write_config(tmp_path, **kw), env=ENV, emulate=True)


def test_links_drop_and_come_back_mid_campaign_and_no_result_is_lost(tmp_path):
    cfg = _cfg(tmp_path, hours=1.0, speed=4.0, drain_s=2.0)

    async def go():
        s = LiveSession(cfg, emulate=True)
        await s.start()
        run = asyncio.create_task(s.run())
        await until(lambda: len(s.dialer.in_flight) >= 10, 30.0, 0.02)
        snap = snapshot(s)  # what the live view shows each second
        assert snap["jobs"][0]["job"] == "sales" and snap["jobs"][0]["attempts"] >= 10
        assert snap["ports_total"] == 300 and snap["agents_logged_in"] == 50
        assert snap["dmcc_connected"] and 0 <= snap["occupancy"] <= 1
        await until(lambda: s.skill_feed.last["sales"].agents_staffed == 50, 30.0,
                    0.02)
        render(snap)
        # AES: every DMCC connection cut; the client resumes its session
        s.emulated.dmcc.drop_connections()
        # CMS drops its socket and comes back
        s.emulated.cms.drop()
        # the voice portal's web service goes away for a second, with calls in flight
        in_flight = set(s.dialer.in_flight)
        port, world, users = s.emulated.epm.port, s.emulated.world, s.emulated.epm.users
        s.emulated.epm.close()
        await asyncio.sleep(1.0)
        tls = s.emulated.client_tls and _server_tls(s)
        polls = s.telephony.polls
        s.emulated.epm = EpmEmulator(world, users, tls, port=port, lock=world.lock)
        s.emulated.epm.start()
        # every link back (AES resumed, CMS reconnected, the portal polled again): stop
        await until(lambda: s.dmcc.resumed >= 1 and s.cms.connections >= 2
                    and s.telephony.down_since is None and s.telephony.polls > polls + 2,
                    30.0, 0.02)
        s.runner.request_stop()
        summary = await run
        dmcc, tel, cms = s.dmcc, s.telephony, s.cms
        await s.close()
        return summary, in_flight, dmcc, tel, cms, world
    summary, in_flight, dmcc, tel, cms, world = asyncio.run(go())
    assert summary["reason"] == "stop" and summary["left_pending"] == 0
    assert summary["lost_events"] == 0
    assert dmcc.resumed >= 1 and tel.errors >= 1 and cms.connections >= 2
    after = rows(cfg.store_sqlite)
    # calls in flight while the service was away got their real outcome: any recorded
    # TRAPPED at the stop was still in progress on the platform when the run stopped
    assert all(after[i]["code"] != Code.PENDING for i in in_flight)
    ended_on_platform = {s_["attempt"]: s_["t_end"] for s_ in world.sessions.values()
                         if s_["t_end"] is not None}
    for i in in_flight:
        if after[i]["code"] == Code.TRAPPED:
            t = ended_on_platform.get(i)
            assert t is None or t >= after[i]["t_end"] - 2.0, (i, t, after[i])
    assert set(after) == attempt_events(cfg.events_jsonl, "ATTEMPT_COMPLETED")


def _server_tls(s):
    # the session keeps its CA in a temporary folder; a new emulator needs a server context
    return s._server_tls


def test_a_full_disk_stops_the_run_with_one_message_and_the_next_run_resumes(tmp_path,
                                                                           monkeypatch):
    cfg = _cfg(tmp_path, hours=0.01, speed=5.0, drain_s=1.0)
    real_open = live_session._open_store

    def small_store(c):
        st = real_open(c)
        pages = st._db.execute("PRAGMA page_count").fetchone()[0]
        st._db.execute(f"PRAGMA max_page_count = {pages + 6}")
        return st
    monkeypatch.setattr(live_session, "_open_store", small_store)
    with pytest.raises(RunError, match="the disk is full") as e:
        run_live(cfg, emulate=True)
    msg = str(e.value)
    assert "resume" in msg and "Traceback" not in msg and "\n" not in msg
    monkeypatch.setattr(live_session, "_open_store", real_open)
    before = rows(cfg.store_sqlite)
    summary = run_live(cfg, emulate=True)
    assert summary["left_pending"] == 0 and summary["lost_events"] == 0
    after = rows(cfg.store_sqlite)
    for i, r in before.items():
        if r["code"] != Code.PENDING:
            assert after[i] == r
        else:
            assert after[i]["code"] == Code.TRAPPED
    assert set(after) == attempt_events(cfg.events_jsonl, "ATTEMPT_COMPLETED")
    # the summary's KPIs are this run's: its own attempts, not the first run's
    mine = [r for i, r in after.items() if i not in before]
    k, (camp,) = summary["kpis"], summary["campaigns"]
    assert k["attempts"] == len(mine) == summary["attempts"] > 0
    assert k["live_answers"] == sum(r["code"] in LIVE_CODES for r in mine)
    assert k["abandons"] == sum(r["code"] in ABANDON_CODES for r in mine)
    assert camp["name"] == "sales" and camp["attempts"] == k["attempts"]
    assert k["abandon_rate"] == (k["abandons"] / k["live_answers"] if k["live_answers"]
                                 else 0.0)
    assert 0.0 < k["occupancy"] <= 1.0 and 0.0 < camp["occupancy"] <= 1.0


def test_an_events_file_that_fails_loses_no_event(tmp_path, monkeypatch):
    cfg = _cfg(tmp_path, hours=0.005, speed=5.0, drain_s=1.0)
    calls = {"n": 0}
    real = JsonlSink.publish

    def failing(self, topic, event):
        calls["n"] += 1
        if calls["n"] > 200:
            raise SinkError(f"{self.path}: No space left on device")
        real(self, topic, event)
    monkeypatch.setattr(JsonlSink, "publish", failing)
    with pytest.raises(RunError, match=r"No space left on device.*kept in the store's outbox"):
        run_live(cfg, emulate=True)
    monkeypatch.setattr(JsonlSink, "publish", real)
    summary = run_live(cfg, emulate=True)
    assert summary["events_left_by_last_run"] > 0 and summary["lost_events"] == 0
    assert set(rows(cfg.store_sqlite)) == attempt_events(cfg.events_jsonl,
                                                          "ATTEMPT_COMPLETED")


def test_unwritable_events_file_and_damaged_store_are_one_message(tmp_path):
    cfg = _cfg(tmp_path)
    cfg.events_jsonl.mkdir()  # a directory where the file should be
    with pytest.raises(RunError, match=r"events\.jsonl"):
        run_live(cfg, emulate=True)
    cfg.events_jsonl.rmdir()
    cfg.store_sqlite.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    with pytest.raises(RunError, match=r"store\.sqlite"):
        run_live(cfg, emulate=True)


def test_the_shipped_live_configuration_loads():
    from tests.live_helpers import ROOT
    cfg = load_config(ROOT / "scenarios" / "live-emulated.toml", env={}, emulate=True)
    assert cfg.scenario.exists() and cfg.hours and cfg.aes.tls and cfg.epm.password is None
    with pytest.raises(ConfigError, match="no credentials"):
        load_config(ROOT / "scenarios" / "live-emulated.toml", env={}, emulate=False)


def test_config_errors_name_file_and_key(tmp_path):
    p = write_config(tmp_path, extra='[emulate]\ntls = "yes"\n')
    with pytest.raises(ConfigError) as e:
        load_config(p, env={}, emulate=False)
    text = str(e.value)
    assert f"{p}: epm.password_env: the environment variable OUTDIAL_TEST_EPM_PW" in text
    assert "emulate.tls: expected bool" in text and "epm.url: missing" in text
    bad = tmp_path / "bad.toml"
    bad.write_text('[run]\nscenario = "x.toml"\nhours = -1\n[epm]\npassword = "s3cret"\n'
                   '[store]\nsqlite = "a"\npostgres_env = "PG"\n')
    with pytest.raises(ConfigError) as e:
        load_config(bad, env={"PG": "x"}, emulate=True)
    text = str(e.value)
    assert "run.hours: expected hours > 0" in text
    assert "epm.password: secrets are not written in the file" in text and "s3cret" not in text
    assert "store: expected exactly one of sqlite" in text
    cfg = load_config(write_config(tmp_path), env=ENV, emulate=True)
    assert "e@p%m" not in repr(cfg) and "Secret(from $OUTDIAL_TEST_EPM_PW)" in repr(cfg)


def test_damaged_store_page_is_reported_as_damaged(tmp_path):
    from engine.store_sqlite import SqliteStore
    p = tmp_path / "s.sqlite"
    st = SqliteStore(p)
    st.set_meta("k", "v")
    st.close()
    db = sqlite3.connect(p)
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'meta'").fetchone()[0]
    db.close()
    data = bytearray(p.read_bytes())
    page = 4096 * (root - 1)
    data[page:page + 4096] = b"\x07" * 4096
    p.write_bytes(bytes(data))
    with pytest.raises(Exception) as e:
        SqliteStore(p).get_meta("k")
    assert "damaged" in str(e.value) or "malformed" in str(e.value)


def test_events_go_to_kafka_too_and_flush_before_they_count_as_published(tmp_path,
                                                                       monkeypatch):
    from tests.live_helpers import kafka_config
    from tests.test_kafka import FakeProducer

    cfg = load_config(kafka_config(tmp_path, monkeypatch, FakeProducer, 0.003), env=ENV,
                      emulate=True)
    summary = run_live(cfg, emulate=True)
    sent = FakeProducer.made[0].sent
    assert summary["lost_events"] == 0 and len(sent) == summary["events_published"] > 0
    assert {t for t, _, _ in sent} >= {"POM.Default.ATTEMPT", "POM.Default.JOB"}


def test_cli_run_errors_are_one_line_without_traceback(tmp_path):
    from click.testing import CliRunner

    from outdial.cli import outdial
    p = write_config(tmp_path)
    r = CliRunner().invoke(outdial, ["run", str(p)], catch_exceptions=False,
                           env={"OUTDIAL_TEST_EPM_PW": "", "OUTDIAL_TEST_AES_PW": ""})
    assert r.exit_code == 2 and "epm.url: missing" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(outdial, ["run", str(p), "--emulate", "--speed", "0"],
                           catch_exceptions=False, env=ENV)
    assert r.exit_code == 2 and "--speed: expected" in r.output
    r = CliRunner().invoke(outdial, ["run", str(tmp_path / "none.toml")],
                           catch_exceptions=False)
    assert r.exit_code == 2 and "cannot read the run configuration" in r.output


def test_cms_feeds_skill_pacing_with_the_simulated_inbound_acd(tmp_path):
    from tests.live_helpers import ROOT
    p = write_config(tmp_path, hours=0.01, speed=6.0, drain_s=1.0)
    p.write_text(p.read_text().replace("single-50-predictive.toml",
                                       "notifications-reserved-ports.toml"))
    cfg = load_config(p, env=ENV, emulate=True)
    assert cfg.scenario == ROOT / "scenarios" / "notifications-reserved-ports.toml"

    async def go():
        s = LiveSession(cfg, emulate=True)
        await s.start()
        pacer = s.dialer.skill_pacer
        assert pacer is not None and pacer in s.skill_feed.listeners
        seen = []
        real = pacer.on_skill_state
        pacer.on_skill_state = lambda st: (seen.append(st), real(st))
        summary = await s.run()
        await s.close()
        return summary, seen
    summary, seen = asyncio.run(go())
    assert summary["reason"] == "end" and summary["left_pending"] == 0
    assert seen and {st.skill for st in seen} == {"scheduling"}
    assert all(st.agents_staffed >= 0 and st.calls_waiting >= 0 for st in seen)


def test_closing_cancels_again_a_task_that_lost_its_cancel_and_never_hangs(caplog):
    """``_cancel_all``: a task that swallows a cancel gets another; one that swallows them
    all is left running after the rounds, logged, instead of hanging the close."""
    from outdial.live.session import _cancel_all

    swallowed = {"once": 0, "many": 0}

    async def loses_one_cancel():
        try:
            await asyncio.sleep(100)
        except asyncio.CancelledError:
            swallowed["once"] += 1  # as a wait_for whose result landed at the cancel
        await asyncio.sleep(100)

    async def loses_five_cancels():
        while True:
            try:
                await asyncio.sleep(100)
                return
            except asyncio.CancelledError:
                swallowed["many"] += 1
                if swallowed["many"] == 5:
                    raise

    async def go():
        loop = asyncio.get_running_loop()
        once = asyncio.create_task(loses_one_cancel())
        many = asyncio.create_task(loses_five_cancels(), name="stubborn")
        await asyncio.sleep(0)
        t0 = loop.time()
        await _cancel_all([once, many], wait_s=0.05, rounds=3)
        took = loop.time() - t0
        still = not many.done()
        cancels = swallowed["many"]
        while not many.done():  # end it, so the loop can close
            many.cancel()
            await asyncio.sleep(0)
        return once.cancelled(), still, cancels, took

    once_cancelled, still, cancels, took = asyncio.run(go())
    assert once_cancelled and swallowed["once"] == 1
    assert still and cancels == 3  # three rounds, three cancels, then left
    assert took < 5.0  # bounded by the rounds, not by the tasks
    assert "stubborn" in caplog.text


def test_cli_run_ends_with_the_runs_kpis_per_campaign(tmp_path):
    from click.testing import CliRunner

    from outdial.cli import outdial
    p = write_config(tmp_path, hours=0.004, speed=5.0, drain_s=1.0)
    r = CliRunner().invoke(outdial, ["run", str(p), "--emulate", "--no-view"],
                           catch_exceptions=False, env=ENV)
    assert r.exit_code == 0, r.output
    table = r.output[r.output.index("this run"):]
    lines = {ln.split()[1]: ln for ln in table.splitlines() if ln[:1] in "│┃"}
    assert set(lines) == {"campaign", "sales", "total"}
    attempts = int(r.output.split(" attempts this run")[0].split()[-1].replace(",", ""))
    assert int(lines["total"].split()[3].replace(",", "")) == attempts > 0
    assert "abandon" in lines["campaign"] and "occupancy" in lines["campaign"]


def test_the_run_summary_names_the_pacers_warnings(tmp_path):
    # an Ofcom limit the AMD's false positives alone use up: the pacer warns at the start
    scn = Path(__file__).resolve().parents[1] / "scenarios" / "pacing-amd80-50.toml"
    cfg = load_config(write_config(tmp_path, hours=0.002, speed=5.0, drain_s=1.0,
                                   scenario=scn), env=ENV, emulate=True)
    summary = run_live(cfg, emulate=True)
    (w,) = [w for w in summary["warnings"] if "abandon_limit_infeasible" in w
            or "used up" in w]
    assert w.startswith("campaign sales:")


def test_an_unknown_key_in_a_table_is_refused_not_dropped(tmp_path):
    # a typo would otherwise leave the run without its end (hourz) and run until stopped
    p = write_config(tmp_path, extra="[emulate]\ntls = true\nspeedy = 2\n")
    text = p.read_text(encoding="utf-8").replace("hours = 0.01", "hourz = 0.01\nseed = -1")
    text = text.replace('[epm]\n', '[epm]\nhost = "portal.example"\n')
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(p, env=ENV, emulate=True)
    lines = str(e.value).splitlines()
    assert any(ln.endswith("run.hourz: unknown key; [run] takes scenario, hours, speed, "
                           "drain_s, seed") for ln in lines)
    assert any("epm.host: unknown key; [epm] takes url, user" in ln for ln in lines)
    assert any("emulate.speedy: unknown key; [emulate] takes tls" in ln for ln in lines)
    assert any("run.seed: expected an integer from 0 to" in ln for ln in lines)
    assert all(ln.startswith(f"{p}: ") for ln in lines)


def test_the_live_occupancy_counts_the_agents_current_calls():
    import numpy as np

    from engine.agents import AgentManager
    from outdial.live.view import occupancy_now
    am = AgentManager(2, np.ones(2, dtype=np.int64), 1, (0.0, float("inf")))
    for a in (0, 1):
        am.transition(a, "login", 0.0)
        am.transition(a, "ready", 0.0)
    am.transition(0, "connect", 10.0)  # talking since 10 s, no state of it ended yet
    # agent 0: 90 of 100 s handling; agent 1: ready all along
    assert occupancy_now(am, 100.0) == pytest.approx(90.0 / 200.0)


def test_a_job_paused_by_a_stop_and_resumed_by_the_next_run_survives_its_kill(tmp_path):
    # what a SIGTERM leaves: the running job PAUSED, named in the list the next run resumes
    import json

    from engine.live import SHUTDOWN_PAUSED
    from engine.store_sqlite import SqliteStore
    cfg = _cfg(tmp_path, hours=1.0, speed=5.0, drain_s=1.0)
    with SqliteStore(cfg.store_sqlite) as st:
        st.set_job_state("sales", "PAUSED", 5.0)
        st.set_meta(SHUTDOWN_PAUSED, json.dumps(["sales"]))

    async def start_then_die():  # the next run starts and is killed (no stop of its own)
        s = LiveSession(cfg, emulate=True)
        try:
            await s.start()
            return s.summary["jobs_resumed"], [st.value for st in s.director.states]
        finally:
            await s.close()
    assert asyncio.run(start_then_die()) == (["sales"], ["RUNNING"])
    with SqliteStore(cfg.store_sqlite) as st:  # the resume is in the store, as its event
        assert st.job_states() == {"sales": "RUNNING"}
        assert st.get_meta(SHUTDOWN_PAUSED) == "[]"
        jobs = [e for _, _, e in st.unpublished() if e["type"] == "JOB"]
    assert [(e["state"], e["reason"]) for e in jobs] == [("RUNNING", "restart")]
    # the run after the kill dials the job: it was never paused by a supervisor
    assert asyncio.run(start_then_die()) == ([], ["RUNNING"])


def test_calls_still_ringing_or_waiting_at_the_stop_are_hung_up_not_left_to_the_portal(
        tmp_path):
    # no drain: the stop finds calls ringing; each is hung up at the portal (recorded
    # TRAPPED, dialled again next run) and none is left for a person to answer into silence
    cfg = _cfg(tmp_path, hours=0.004, speed=5.0, drain_s=0.0)

    async def go():
        s = LiveSession(cfg, emulate=True)
        try:
            await s.start()
            summary = await s.run()
        finally:
            await s.close()  # the hang-ups reach the portal before it closes
        return summary, s.emulated.world.sessions
    summary, sessions = asyncio.run(go())
    recs = rows(tmp_path / "store.sqlite")
    trapped = {i for i, r in recs.items() if r["code"] == Code.TRAPPED}
    assert summary["ended_at_stop"] > 0 and trapped
    left = {s["attempt"]: s for s in sessions.values() if s["attempt"] in trapped}
    assert set(left) == trapped
    assert {s["state"] for s in left.values()} == {"ended"}  # none ringing, none answered
    assert sum(s["result"] == "dropped" for s in left.values()) > 0
    # a live answer the stop found waiting for an agent is an abandon, not a trapped call
    assert all(r["t_answer"] < 0 for i, r in recs.items() if i in trapped)


def test_a_scenario_timeline_is_said_not_to_run_live(tmp_path):
    # a [[timeline]] pause scripted for the simulator was dropped without a word: an
    # operator counting on it (a lunch pause) had the job dial through it
    from click.testing import CliRunner

    from outdial.cli import outdial
    from tests.live_helpers import SCENARIO
    scn = tmp_path / "timed.toml"
    scn.write_text(SCENARIO.read_text(encoding="utf-8") + '\n[[timeline]]\nat = 30\n'
                   'action = "pause"\ncampaign = "sales"\n', encoding="utf-8")
    p = write_config(tmp_path, hours=0.002, speed=5.0, drain_s=1.0, scenario=scn)
    r = CliRunner().invoke(outdial, ["run", str(p), "--emulate", "--no-view", "--json"],
                           catch_exceptions=False, env=ENV)
    assert r.exit_code == 0, r.output
    assert "[[timeline]] (1 actions)" in r.output and "does not carry it out" in r.output


def test_a_runs_events_number_on_after_the_recoverys_never_twice(tmp_path):
    # the start's recovery published the trapped attempts' ends as seq 0, 1, ..., then
    # the run's own events began again at 0: one run's stream held each seq twice
    from engine.attempt import Attempt, Channel
    from engine.sinks import read_jsonl
    from engine.store_sqlite import SqliteStore
    cfg = _cfg(tmp_path, hours=0.002, speed=5.0, drain_s=1.0)
    with SqliteStore(cfg.store_sqlite) as st:  # two attempts a killed run left in flight
        for i in range(2):
            st.attempt_started(Attempt(i, 0, i, int(Channel.VOICE_AGENT), 1.0,
                                       contact_id=str(i), address="+442079460000",
                                       job_name="sales"))
    summary = run_live(cfg, emulate=True)
    assert summary["trapped"] == 2
    seqs = [e["seq"] for _, e in read_jsonl(cfg.events_jsonl)]
    assert seqs[:2] == [0, 1] and len(seqs) > 2
    assert seqs == list(range(len(seqs)))  # one run: 0, 1, 2, ... with no gap or repeat


def test_an_events_file_that_is_the_store_is_refused_before_it_is_written(tmp_path):
    # events.jsonl = the store's own file: the first run appended its events to the
    # database and the next start found it damaged
    import dataclasses
    cfg = _cfg(tmp_path)
    for events, what in ((cfg.store_sqlite, "is the SQLite store"),
                         (tmp_path / "store.sqlite-wal", "is the store's wal file"),
                         (cfg.source, "is the run configuration")):
        with pytest.raises(RunError, match=f"events.jsonl: .* {what}; expected a file of "
                                           "its own"):
            run_live(dataclasses.replace(cfg, events_jsonl=events), emulate=True)
    assert not cfg.store_sqlite.exists()


def test_the_summarys_occupancy_covers_its_window_the_drain_included(tmp_path):
    # a run that reaches its end with calls up: they talk on through the drain (some end
    # in it); their attempts are in the summary, and so must their agents' talk be
    from engine.agents import AgentState
    from engine.kpi import agent_times, occupancy

    cfg = _cfg(tmp_path, hours=0.012, speed=12.0, drain_s=1.0)

    async def go():
        s = LiveSession(cfg, emulate=True)
        await s.start()
        try:
            return s, await asyncio.wait_for(s.run(), 60.0)
        finally:
            await s.close()
    s, summary = asyncio.run(go())
    lo, hi = summary["kpi_window_s"]
    assert summary["reason"] == "end" and lo == summary["start_s"] and hi > summary["end_s"]
    # the oracle: each connected call of this run talks from its connect to its talk's
    # end (or to the window's end, still talking at the stop), as the store records it
    mine = [r for r in rows(cfg.store_sqlite).values()
            if r["attempt_id"] >= summary["next_attempt_id"] and r["t_connect"] >= 0]
    talk = sum(min(r["t_talk_end"] if r["t_talk_end"] >= 0 else hi, hi)
               - max(r["t_connect"], lo) for r in mine)
    end = summary["end_s"]
    talking_on = [r for r in mine if r["t_connect"] < end
                  and (r["t_talk_end"] < 0 or r["t_talk_end"] > end)]
    assert talking_on, "expected calls talking on into the drain"
    time_in = s.dialer.agents.time_in
    assert time_in[:, int(AgentState.BUSY)].sum() == pytest.approx(talk, abs=1e-6)
    t = agent_times(time_in)
    assert t["logged_in_s"] <= 50 * (hi - lo) + 1e-6
    assert summary["kpis"]["occupancy"] == occupancy(t["handling_s"], t["logged_in_s"])


def test_a_store_that_goes_away_mid_run_is_said_once_with_how_to_resume(tmp_path):
    # a PostgreSQL server restarted under a run: every later call, reads too, fails; the
    # run stops with the first failure and the resume hint, not the summary's read error
    cfg = _cfg(tmp_path, hours=1.0, speed=5.0, drain_s=1.0)

    def cut(s):
        # under the store's lock: the write-behind writer uses the connection on its own
        # thread, and closing an SQLite connection another thread is inside crashes
        with s.store._lock:
            if s.dialer.next_attempt_id >= 10 and s.store._db is not None:
                s.store._db.close()  # as a server closing the connection does
    with pytest.raises(RunError) as e:
        run_live(cfg, emulate=True, on_second=cut)
    msg = str(e.value)
    assert "Cannot operate on a closed database" in msg and msg.count("SQLite error") == 1
    assert "recovered by the next run" in msg and "\n" not in msg
    summary = run_live(dataclasses.replace(cfg, hours=0.001), emulate=True)
    assert summary["left_pending"] == 0 and summary["trapped"] > 0


def test_an_answering_machine_its_agent_found_is_coded_machine_on_the_live_path(tmp_path):
    # AMD off: every machine that answers reaches an agent, who dispositions it; the
    # portal's session ends "machine" and the attempt is MACHINE, not a live answer
    from tests.live_helpers import SCENARIO
    scn = tmp_path / "no-amd.toml"
    scn.write_text(SCENARIO.read_text(encoding="utf-8").replace(
        "[campaigns.amd]\nenabled = true", "[campaigns.amd]\nenabled = false"),
        encoding="utf-8")
    cfg = _cfg(tmp_path, hours=0.02, speed=20.0, drain_s=0.5, scenario=scn)

    async def go():
        s = LiveSession(cfg, emulate=True)
        await s.start()
        try:
            return s.emulated.world, await asyncio.wait_for(s.run(), 60.0)
        finally:
            await s.close()
    world, summary = asyncio.run(go())
    assert summary["reason"] == "end"
    recorded = rows(cfg.store_sqlite)
    found = {i for i, r in recorded.items() if r["code"] == Code.MACHINE and r["t_connect"] >= 0}
    truth = {s["attempt"] for s in world.sessions.values() if s["result"] == "machine"}
    # (a session the world ended after the stop had recorded its call connected is not
    # the portal's report: the stop's own code stands)
    reported = {i for i in truth if recorded[i]["t_talk_end"] >= 0}
    assert found and found == reported  # each one the world's agents found, and only those
    assert all(recorded[i]["agent"] >= 0 for i in found)
    assert summary["kpis"]["live_answers"] == sum(r["code"] in LIVE_CODES
                                                  for r in recorded.values())


def test_a_stop_asked_again_while_draining_cuts_the_drain_short(tmp_path):
    # an operator's second Ctrl-C: the calls in flight are recorded now, not after drain_s
    import time

    cfg = _cfg(tmp_path, hours=1.0, speed=6.0, drain_s=600.0)

    async def go():
        s = LiveSession(cfg, emulate=True)
        await s.start()
        run = asyncio.create_task(s.run())
        try:
            await until(lambda: len(s.dialer.in_flight) >= 10, 30.0, 0.02)
            s.runner.request_stop()
            await until(lambda: s.runner.stopping, 5.0)
            await asyncio.sleep(0.3)  # draining: calls of 200 s talk will not end
            t0 = time.monotonic()
            s.runner.request_stop()  # again
            summary = await asyncio.wait_for(run, 30.0)
            return summary, time.monotonic() - t0
        finally:
            await s.close()
    summary, took = asyncio.run(go())
    assert summary["drain_cut"] and took < 5.0
    assert summary["reason"] == "stop" and summary["ended_at_stop"] > 0
    assert summary["left_pending"] == 0 and summary["lost_events"] == 0


def test_a_run_on_a_postgresql_store_writes_behind_the_loop_and_loses_nothing(
        tmp_path, request):
    # the store's commits made by the writer thread, many units per commit; every attempt
    # the run made is in the store, each ended one with its event
    from engine.store_postgres import PostgresStore

    conninfo = request.getfixturevalue("postgres_server")
    path = write_config(tmp_path, hours=0.01, speed=8.0, drain_s=1.0)
    text = path.read_text(encoding="utf-8").replace(
        'sqlite = "store.sqlite"\nsynchronous = "NORMAL"',
        'postgres_env = "OUTDIAL_TEST_PG"\nschema = "live_behind"')
    path.write_text(text, encoding="utf-8")
    cfg = load_config(path, env={**ENV, "OUTDIAL_TEST_PG": conninfo}, emulate=True)
    summary = run_live(cfg, emulate=True)
    assert summary["reason"] == "end" and summary["left_pending"] == 0
    assert 0 < summary["store_commits"] < summary["store_writes"]
    store = PostgresStore(conninfo, schema="live_behind")
    try:
        recs = {r["attempt_id"]: r for r in store.attempts()}
    finally:
        store.close()
    assert recs and min(recs) == summary["next_attempt_id"] == 0  # (this run's first)
    assert sorted(recs) == list(range(len(recs)))  # none lost between them
    ended = {i for i, r in recs.items() if r["code"] != Code.PENDING}
    assert ended == attempt_events(cfg.events_jsonl, "ATTEMPT_COMPLETED")

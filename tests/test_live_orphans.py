"""Calls a killed run left on the voice portal (adapters.epm.orphans): the session ids are
kept in the store as the launches are answered, and the next start hangs up what is still
up, takes the results of what ended and leaves a conversation with an agent alone, before
anything is recoded or dialled (127.0.0.1 only; each test stops by itself)."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest

from adapters.epm.client import EpmClient
from adapters.epm.emulator import EpmEmulator, SessionStatus
from adapters.epm.orphans import SessionBook, settle
from engine.attempt import Attempt, Channel, Code
from engine.recovery import recover, survey
from engine.store_sqlite import SqliteStore
from tests.epm_world import ScriptedPorts
from tests.live_helpers import epm_telephony, until


class Staged(ScriptedPorts):
    """``ScriptedPorts`` whose calls to a number starting 9 ring for a minute."""

    def _status(self, s) -> SessionStatus:
        if s["kind"] == "voice" and s["number"].startswith("9") and s["drop"] is None:
            return SessionStatus("ringing")
        return super()._status(s)


def _attempt(i: int, address: str, channel: Channel = Channel.VOICE_AGENT) -> Attempt:
    return Attempt(i, 0, i, int(channel), 0.0, contact_id=f"c{i}", address=address,
                   job_name="sales")


def test_a_restart_hangs_up_the_calls_a_killed_run_left_and_takes_the_results_it_can(tmp_path):
    world = Staged(ports=10, ring_s=0.05, talk_s=60.0, patience_s=60.0)
    emu = EpmEmulator(world, {"u": "pw"}, None)
    emu.start()
    path = tmp_path / "store.sqlite"
    # 0 busy, 1 still ringing, 2 a live answer waiting, 3 talking to an agent, 4 an SMS,
    # 5 ended at a graceful stop (TRAPPED) whose hang-up never reached the portal
    calls = [_attempt(0, "5550"), _attempt(1, "9551"), _attempt(2, "5557"),
             _attempt(3, "5555"), _attempt(4, "+447700900004", Channel.SMS),
             _attempt(5, "9556")]
    failures: list[BaseException] = []

    async def first_run() -> dict[int, str]:
        store = SqliteStore(path, exclusive=True)
        tel = epm_telephony(EpmClient(emu.url, "u", "pw"),
                            stations=["5000"])
        tel.book = SessionBook(store, failures.append)
        tel.subscribe(SimpleNamespace(**{k: lambda *a: None for k in (
            "on_failed", "on_answered", "on_customer_hangup", "on_call_ended",
            "on_delivered")}))
        runner = asyncio.create_task(tel.run())
        for a in calls:
            store.attempt_started(a)
            tel.dial(a)
        await until(lambda: len(tel._sid_of) == len(calls), 10.0)
        sids = dict(tel._sid_of)
        calls[3].agent, calls[3].t_connect = 0, 1.0
        store.save_attempt(calls[3])  # recorded connected (still PENDING), then connected
        tel.connect(calls[3], 0)
        await until(lambda: world.sessions[sids[3]]["connect"] is not None, 5.0)
        calls[5].code, calls[5].t_end = int(Code.TRAPPED), 2.0
        store.save_attempt(calls[5])
        runner.cancel()  # killed: nothing more reaches the portal, nothing is closed
        await asyncio.gather(runner, return_exceptions=True)
        tel._pool.shutdown(wait=False)
        store._unlock()  # the kernel's part of a kill: the lock released
        return sids

    sids = asyncio.run(first_run())
    time.sleep(0.15)  # the busy call has ended, the live answer waits
    store = SqliteStore(path, exclusive=True)
    assert store.call_sessions() == {i: sids[i] for i in range(6)}  # kept as launched
    rec = survey(store)
    assert [r["attempt_id"] for r in rec.trapped] == [0, 1, 2, 3, 4]
    client = EpmClient(emu.url, "u", "pw")
    try:
        settled = settle(client, store.call_sessions(),
                         {int(r["attempt_id"]): r for r in rec.trapped})
        rec = recover(store, rec, None, settled.codes)
    finally:
        client.close()
        emu.close()
    dropped = {sid for sid, name, _ in world.events if name == "outdial.drop"}
    # still up and not with an agent: hung up before anything is dialled again
    assert dropped == {sids[1], sids[2], sids[5]}
    assert sorted(settled.hung_up) == [1, 2, 5] and settled.left_connected == [3]
    assert world.sessions[sids[3]]["drop"] is None  # the conversation goes on
    got = {r["attempt_id"]: r for r in store.attempts()}
    assert {i: Code(got[i]["code"]).name for i in range(6)} == {
        0: "BUSY", 1: "TRAPPED", 2: "ABANDONED", 3: "LIVE_CONNECTED", 4: "DELIVERED",
        5: "TRAPPED"}
    assert got[2]["abandoned"] and not failures
    assert rec.summary()["trapped_abandoned"] == 1 and rec.summary()["trapped_connected"] == 1
    store.close()


def test_a_portal_that_cannot_be_asked_stops_the_start_with_nothing_changed(tmp_path):
    from outdial.live.session import LiveSession, RunError

    store = SqliteStore(tmp_path / "s.sqlite")
    store.attempt_started(_attempt(0, "5551"))
    store.call_session(0, "EPM-1")
    # nothing listens on port 9 of the loopback: the portal cannot be reached
    client = EpmClient("http://127.0.0.1:9/axis2/services/AppIntfWS", "u", "pw",
                       timeout_s=1.0)
    fake = SimpleNamespace(store=store, telephony=SimpleNamespace(client=client))
    with pytest.raises(RunError, match=r"cannot settle the 1 calls the last run left on "
                                       r"the voice portal .*nothing was changed"):
        asyncio.run(LiveSession._settle_orphans(fake, survey(store)))
    assert store.call_sessions() == {0: "EPM-1"} and len(store.trapped()) == 1
    store.close()


def test_a_portal_that_answers_too_slowly_cannot_hold_the_start_for_long():
    from adapters.epm.client import EpmError

    class Slow:
        sent = 0

        def get_status(self, ids):
            return [{"sessionID": sid, "state": "ringing"} for sid in ids]

        def send_ccxml_event(self, sid, name, body=""):
            time.sleep(0.05)  # each hang-up answered within its timeout, slowly
            Slow.sent += 1
            return True
    sessions = {i: f"S{i}" for i in range(200)}
    t0 = time.monotonic()
    with pytest.raises(EpmError, match=r"not all settled within 0\.2 s"):
        settle(Slow(), sessions, {}, workers=2, within_s=0.2)
    # no hang-up started after the deadline: the thread ends at once after it
    assert time.monotonic() - t0 < 0.6 and Slow.sent < 20


def test_a_session_whose_state_cannot_be_read_is_not_hung_up_on_a_guess():
    dropped: list[str] = []

    class Garbled:
        def get_status(self, ids):  # a state field that did not read, one unheard of
            return [{"sessionID": "S0", "invalid": ["state: not text"]},
                    {"sessionID": "S1", "state": "transferring"},
                    {"sessionID": "S2", "state": "ringing"}]

        def send_ccxml_event(self, sid, name, body=""):
            dropped.append(sid)
            return True
    rec = {"t_connect": -1.0, "t_answer": -1.0, "channel": int(Channel.VOICE_AGENT)}
    settled = settle(Garbled(), {0: "S0", 1: "S1", 2: "S2"}, {0: rec, 1: rec, 2: rec})
    assert dropped == ["S2"] and settled.hung_up == [2]
    assert settled.unknown == 2 and settled.codes == {}


def test_messages_being_sent_at_a_crash_are_waited_for_never_hung_up_else_kept_for_review():
    # S0 ends delivered at the second question, S1 stays launching, S2 the gateway no
    # longer knows, S3 ended with no result; attempt 4 has no session (the crash came
    # before the gateway's answer); attempt 5 a call ringing (hung up, as before)
    asked: list[list[str]] = []
    dropped: list[str] = []

    class Gateway:
        def get_status(self, ids):
            asked.append(list(ids))
            s0 = "ended" if len(asked) >= 2 else "launching"
            out = {"S0": {"state": s0, "result": "delivered" if s0 == "ended" else ""},
                   "S1": {"state": "launching", "result": ""},
                   "S3": {"state": "ended", "result": "unknown"},
                   "S5": {"state": "ringing", "result": ""}}
            return [{"sessionID": i, **out[i]} for i in ids if i in out]

        def send_ccxml_event(self, sid, name, body=""):
            dropped.append(sid)
            return True
    sms = {"t_connect": -1.0, "t_answer": -1.0, "channel": int(Channel.SMS)}
    email = {**sms, "channel": int(Channel.EMAIL)}
    call = {**sms, "channel": int(Channel.VOICE_AGENT)}
    sessions = {0: "S0", 1: "S1", 2: "S2", 3: "S3", 5: "S5"}
    unfinished = {0: sms, 1: email, 2: sms, 3: sms, 4: email, 5: call}
    t0 = time.monotonic()
    settled = settle(Gateway(), sessions, unfinished, message_wait_s=0.3, poll_s=0.05)
    assert time.monotonic() - t0 < 2.0
    assert dropped == ["S5"]  # a message is never hung up
    assert settled.codes == {0: int(Code.DELIVERED)}
    assert sorted(settled.review) == [1, 2, 3, 4]
    assert all(ids == ["S0", "S1"] or ids == ["S1"] for ids in asked[1:])  # only those
    assert settled.summary()["messages_for_review"] == [1, 2, 3, 4]

"""Malformed frames through the adapters' real code paths (loopback servers on 127.0.0.1):
each component logs the frame, skips it and keeps running; a connection dropped mid-frame
is retried with backoff; XML entity expansion is refused."""

from __future__ import annotations

import asyncio

import pytest

from adapters.backoff import Backoff
from adapters.dmcc import messages as m
from adapters.dmcc.client import DmccClient, DmccConfig
from adapters.dmcc.emulator import DmccEmulator
from adapters.dmcc.framing import EVENT_INVOKE_ID, encode
from engine.agents import AgentState

BOMB = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY a{i} "{(f"&a{i - 1};" if i > 1 else "&a;") * 10}">'
                  for i in range(1, 9))
        + ']><GetAgentStateResponse xmlns="http://www.ecma-international.org/standards/'
        'ecma-323/csta/ed3"><agentStateList><agentState>&a8;</agentState></agentStateList>'
        "</GetAgentStateResponse>")


class World:
    def __init__(self, n):
        self.states = {str(5000 + i): "agentNull" for i in range(n)}

    def agent_state(self, station):
        return self.states.get(station, "agentNull")

    def set_agent_state(self, station, state):
        self.states[station] = "agentReady"


class Listener:
    def __init__(self):
        self.seen = []

    def on_agent_state(self, agent, state):
        self.seen.append((agent, AgentState(state)))


class HostileAes(DmccEmulator):
    """The emulator, with its responses spoilt the way ``mode`` says (for the first
    ``spoil`` responses), then well-behaved."""

    def __init__(self, world, mode, spoil=40):
        super().__init__(world, {"aes": "pw"})
        self.mode, self.spoil = mode, spoil
        self.durations = ["abc", "nan", "-5", "1e400", "0"]

    def _send(self, w, invoke, kind, body):
        if self.spoil <= 0:
            return super()._send(w, invoke, kind, body)
        self.spoil -= 1
        good = encode(invoke, m.build(kind, body))
        mode = self.mode
        if mode == "session_duration" and kind == "StartApplicationSessionPosResponse" \
                and self.durations:
            body = dict(body, actualSessionDuration=self.durations.pop(0))
            w.write(encode(invoke, m.build(kind, body)))
        elif mode == "garbage_between":
            w.write(b"\x00\x00\xff\xffzzzz<not xml" + b"\xfe" * 37 + good)
        elif mode == "unexpected_elements":
            body = dict(body, surprise={"deep": {"deeper": "x" * 5000}})
            w.write(encode(invoke, m.build(kind, body)))
            w.write(encode(EVENT_INVOKE_ID, m.build("UnheardOfEvent", {"x": "1"})))
        elif mode == "entity_bomb" and kind == "GetAgentStateResponse":
            w.write(encode(invoke, BOMB))  # refused: the request times out, then retried
        elif mode == "truncated":
            w.write(good[: len(good) // 2])  # the rest never comes: the connection drops
            w.close()
        elif mode == "bad_events" and kind == "GetAgentStateResponse":
            w.write(good)
            w.write(encode(EVENT_INVOKE_ID, m.build("DeliveredEvent", {})))  # no fields
        else:
            w.write(good)
        return None


def _config(port, n=2):
    return DmccConfig("127.0.0.1", port, "aes", "pw", [str(5000 + i) for i in range(n)],
                      poll_s=0.02, session_duration_s=2, request_timeout_s=0.3)


async def _hostile(mode):
    world = World(2)
    emu = HostileAes(world, mode, spoil=4 if mode == "truncated" else 40)
    await emu.start()

    def picky(msg):  # a consumer that fails on an event without the fields it needs
        if not msg.get("connection/callID"):
            raise KeyError("connection/callID")

    client = DmccClient(_config(emu.port), on_call_event=picky,
                        backoff=Backoff(first_s=0.01, max_s=0.05))
    lis = Listener()
    client.subscribe(lis)
    task = asyncio.create_task(client.run())
    try:
        world.states["5001"] = "agentReady"
        for _ in range(800):  # the client comes through and follows the agent
            if (1, AgentState.READY) in lis.seen:
                break
            assert not task.done(), task.exception()
            await asyncio.sleep(0.01)
        assert (1, AgentState.READY) in lis.seen, (mode, client.errors, lis.seen)
        assert not task.done()
        return client
    finally:
        await client.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await emu.close()


@pytest.mark.parametrize("mode", ["session_duration", "garbage_between", "unexpected_elements",
                                  "entity_bomb", "truncated", "bad_events"])
def test_dmcc_client_skips_bad_frames_and_keeps_following_agents(mode):
    client = asyncio.run(asyncio.wait_for(_hostile(mode), 30))
    if mode == "truncated":
        assert client.connects >= 2  # dropped mid-frame, reconnected with backoff


# ----------------------------------------------------------------------------- CMS

SITE = {"key": "skill", "columns": [["skill", "text"], ["calls_waiting", "float"],
                                    ["oldest_call_s", "float"], ["service_level", "percent"],
                                    ["agents_staffed", "float"], ["agents_available", "int"]]}


class SkillListener:
    def __init__(self):
        self.states = []

    def on_skill_state(self, state):
        self.states.append(state)


async def _cms_story():
    from adapters.cms.framing import Layout
    from adapters.cms.server import CmsServer
    from adapters.cms.skill_feed import CmsSkillFeed

    server = CmsServer(Layout.from_config("site", SITE))
    feed = CmsSkillFeed(server, {1: "sales", 2: "care"})
    lis = SkillListener()
    feed.subscribe(lis)
    await server.start()
    _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        # a skill that is no number, counts that are no counts (inf, nan, 1e400), then
        # two good skills in the same refresh, on the same connection
        writer.write(b"F1|abc|1|2|50|3|1\nF1|1|inf|nan|50|1e400|1\n"
                     b"F1|1|4|30|80|6|2\nF1|2|1|5|90|3|1\nF3|END_OF_RECORDS\n")
        await writer.drain()
        for _ in range(300):
            if {s.skill for s in lis.states} >= {"sales", "care"}:
                break
            await asyncio.sleep(0.01)
        return server, lis.states
    finally:
        writer.close()
        await server.close()


def test_cms_skips_rows_that_do_not_make_a_skill_state_and_keeps_the_rest():
    server, states = asyncio.run(asyncio.wait_for(_cms_story(), 20))
    last = {s.skill: s for s in states}
    assert set(last) == {"sales", "care"}, states
    assert last["sales"].calls_waiting == 4 and last["sales"].agents_staffed == 6
    assert last["care"].calls_waiting == 1
    assert server.bad_lines >= 2  # the two bad rows, logged and counted


# ----------------------------------------------------------------------------- EPM

EPM_BOMB = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
            + b"".join(b'<!ENTITY a%d "%s">' % (i, (b"&a%d;" % (i - 1) if i > 1 else b"&a;")
                                                    * 10) for i in range(1, 9))
            + b"]><x>&a8;</x>")


def _hostile_epm(mode):
    from adapters.epm import framing as f
    from adapters.epm.emulator import EpmEmulator

    class HostileEpm(EpmEmulator):
        spoil = 6

        def handle(self, data):
            status, body = super().handle(data)
            op = f.parse_request(data)[0]
            if self.spoil <= 0 or op not in ("GetStatus", "SendSMS"):
                return status, body
            self.spoil -= 1
            if mode == "status_not_records" and op == "GetStatus":
                return status, body.replace(b"<tns:status>", b"<tns:status>junk</tns:status>"
                                            b"<tns:status>", 1)
            if mode == "garbage" and op == "GetStatus":
                return 200, [b"\xff\xfe<<", EPM_BOMB, body[: len(body) // 2]][self.spoil % 3]
            if mode == "empty_session" and op == "SendSMS":
                return status, f.response("SendSMS", {"sessionID": ""})
            return status, body

    return HostileEpm


@pytest.fixture(scope="module")
def ca():
    from tests.tlsca import CertAuthority
    return CertAuthority()


def test_epm_telephony_skips_bad_responses_and_loses_no_result(ca, tmp_path):
    """Malformed GetStatus answers (records that are no records, bytes that are no SOAP,
    an entity bomb, a body cut short), a message accepted without a session id, and a
    listener that fails once: polling goes on and every attempt ends."""
    from adapters.epm.client import EpmClient
    from engine.attempt import Channel
    from tests.epm_world import ScriptedPorts
    from tests.live_helpers import dial_until_done, epm_telephony
    from tests.test_epm import Events, _attempt

    class Flaky(Events):
        failed_once = False

        def on_answered(self, a, human):
            if not self.failed_once:
                self.failed_once = True
                raise ValueError("agent 0: event 'ready' not allowed in state BUSY")
            super().on_answered(a, human)

    async def go(mode):
        world = ScriptedPorts(ports=8, ring_s=0.05, talk_s=0.1, patience_s=0.2)
        emu = _hostile_epm(mode)(world, {"u": "pw"}, ca.server_context())
        emu.start()
        client = EpmClient(emu.url, "u", "pw", verify=str(ca.write(tmp_path)[0]))
        tel = epm_telephony(client, stations=["5001"])
        tel.listener = Flaky(tel)
        attempts = [_attempt(0, "5554"), _attempt(1, "5550"), _attempt(2, "5551"),
                    _attempt(3, "+1555", Channel.SMS)]
        try:
            return await dial_until_done(tel, attempts)
        finally:
            emu.close()

    for mode in ("status_not_records", "garbage", "empty_session"):
        codes = asyncio.run(go(mode))
        assert "PENDING" not in codes, (mode, codes)

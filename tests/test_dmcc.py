"""AES DMCC: framing (table and fuzz), messages, and the client against the emulator."""

from __future__ import annotations

import asyncio
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.backoff import Backoff
from adapters.dmcc import messages as m
from adapters.dmcc.client import DmccClient, DmccConfig
from adapters.dmcc.emulator import DmccEmulator
from adapters.dmcc.framing import MAX_FRAME, FrameDecoder, FramingError, encode
from engine.agents import AgentState
from tests.live_helpers import until
from tests.tlsca import CertAuthority

A = encode(1, "<a/>")
B = encode(2, '<?xml version="1.0"?><b x="é">ü</b>')


def test_header_layout():
    f = encode(42, "<x/>")
    assert struct.unpack(">HH4s", f[:8]) == (0, len(f), b"0042")
    assert f[8:] == b"<x/>"
    # the length counts UTF-8 bytes, not characters
    assert struct.unpack(">H", encode(1, "<é/>")[2:4])[0] == 8 + len("<é/>".encode())


@pytest.mark.parametrize("bad", [-1, 10000])
def test_encode_refuses_invoke_ids(bad):
    with pytest.raises(FramingError, match="invoke id"):
        encode(bad, "<x/>")


def test_encode_refuses_oversized_body():
    with pytest.raises(FramingError, match="exceeds"):
        encode(1, "<x>" + "a" * MAX_FRAME + "</x>")


def _ids(frames):
    return [f.invoke_id for f in frames]


@pytest.mark.parametrize("name,stream,expected,errors", [
    ("two in one read", A + B, [1, 2], 0),
    ("garbage before", b"hello world" + A + B, [1, 2], 1),
    ("garbage between", A + b"\xff\xfe junk" + B, [1, 2], 1),
    ("bad version", b"\x00\x01" + A[2:] + B, [2], 1),
    ("length too short", A[:2] + struct.pack(">H", 10) + A[4:] + B, [2], 1),
    ("length too long, next frame here", A[:2] + struct.pack(">H", 200) + A[4:] + B, [1, 2], 1),
    ("length below header", A[:2] + struct.pack(">H", 3) + A[4:] + B, [2], 1),
    ("non-UTF-8 body", encode(3, b"<a>\xff\xfe</a>") + B, [2], 1),
    ("not XML", encode(3, "<a><b></a>") + B, [2], 1),
    ("non-digit invoke id", A[:4] + b"00x1" + A[8:] + B, [2], 1),
    ("XML bomb refused", encode(4, '<!DOCTYPE x [<!ENTITY a "aa">]><x>&a;</x>') + B, [2], 1),
])
def test_decoder_edge_cases(name, stream, expected, errors):
    dec = FrameDecoder()
    assert _ids(dec.feed(stream)) == expected, name
    assert len(dec.errors) >= errors, name
    assert dec.pending() == 0 or expected[-1] == 2


def test_frame_split_across_reads_byte_by_byte():
    dec = FrameDecoder()
    out = []
    for i in range(len(A + B)):
        out += dec.feed((A + B)[i:i + 1])
    assert _ids(out) == [1, 2] and not dec.errors
    assert out[1].body.endswith("<b x=\"é\">ü</b>")


def test_truncated_frame_reported_at_close():
    dec = FrameDecoder()
    assert _ids(dec.feed(A + B[:5])) == [1]
    dec.close()
    assert "truncated" in dec.errors[-1] and dec.pending() == 0


def test_oversized_frame_for_a_smaller_limit_is_skipped():
    big = encode(5, "<x>" + "a" * 500 + "</x>")
    dec = FrameDecoder(max_frame=100)
    assert _ids(dec.feed(big + A)) == [1]
    assert dec.errors


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(1, 40), max_size=8))
def test_fuzz_garbage_never_costs_a_later_good_frame(junk, cuts):
    stream = junk + A + B
    dec = FrameDecoder()
    out, pos = [], 0
    for c in cuts:
        out += dec.feed(stream[pos:pos + c])
        pos += c
    out += dec.feed(stream[pos:])
    # junk may itself hold frames, but the two good frames always come out, last, in order
    assert [f.invoke_id for f in out[-2:]] == [1, 2]
    assert out[-1].body.endswith("</b>")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9999), st.text(
    st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)), max_size=6))
def test_fuzz_round_trip(items):
    frames = [(i, m.build("Note", {"t": t})) for i, t in items]
    stream = b"".join(encode(i, b) for i, b in frames)
    dec = FrameDecoder()
    got = dec.feed(stream)
    assert [(f.invoke_id, f.body) for f in got] == frames
    assert [m.parse(f.body).get("t") for f in got] == [t.strip() for _, t in items]
    assert [m.parse_frame(f) for f in got] == [m.parse(f.body) for f in got]  # same reading


def test_the_client_parses_each_frame_once(monkeypatch):
    """The decoder parses a body to check it; the client reads that document (no second
    parse), an event and a response alike, and still dispatches both."""
    import adapters.dmcc.framing as framing

    parsed: list[str] = []
    real = framing.fromstring

    def counting(text, *a, **k):
        parsed.append(text)
        return real(text, *a, **k)

    monkeypatch.setattr(framing, "fromstring", counting)
    monkeypatch.setattr(m, "fromstring", counting)
    events: list[m.Message] = []
    c = DmccClient(DmccConfig("127.0.0.1", 1, "u", "p", ["5000"]))
    c.on_call_event = events.append
    event = m.build("DeliveredEvent", {"connection": m.connection_ref("7", "d1")})
    answer = m.build("GetAgentStateResponse", {"agentState": "agentReady"})

    async def go():
        reply = asyncio.get_running_loop().create_future()
        c._pending[12] = reply
        reader = asyncio.StreamReader()
        reader.feed_data(encode(9999, event) + encode(12, answer))
        reader.feed_eof()
        await c._read(reader)
        return reply.result()

    reply = asyncio.run(go())
    assert [e.kind for e in events] == ["DeliveredEvent"] and reply.get("agentState") == \
        "agentReady"
    assert parsed == [event, answer]  # once each


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_message_parser_only_raises_message_error(text):
    try:
        m.parse(text)
    except m.MessageError:
        pass


def test_message_round_trip_paths_and_namespaces():
    body = m.build("ClearConnection", {"connectionToBeCleared": m.connection_ref("7", "d1")})
    assert m.CSTA_NS in body
    msg = m.parse(body)
    assert msg.kind == "ClearConnection"
    assert msg.get("connectionToBeCleared/callID") == "7" and msg.get("deviceID") == "d1"
    assert m.SESSION_NS in m.start_session("u", "p", "app", 180, 60)
    assert m.AVAYA_NS in m.build("GetDeviceId", {"extension": "1"})


# ---- client against the emulator


class World:
    def __init__(self, n):
        self.states = {str(5000 + i): "agentNull" for i in range(n)}
        self.set_calls = []

    def agent_state(self, station):
        return self.states.get(station, "agentNull")

    def set_agent_state(self, station, state):
        self.set_calls.append((station, state))
        self.states[station] = {"readyState": "agentReady"}.get(state, "agentNotReady")


class Listener:
    def __init__(self):
        self.seen = []

    def on_agent_state(self, agent, state):
        self.seen.append((agent, AgentState(state)))


def _config(port, n=3, tls=None, password="p@ss%'\"w", **kw):
    return DmccConfig("127.0.0.1", port, "aes", password, [str(5000 + i) for i in range(n)],
                      poll_s=0.02, session_duration_s=2, tls=tls, **kw)


async def _story(tls_server=None, tls_client=None):
    world = World(3)
    emu = DmccEmulator(world, {"aes": "p@ss%'\"w"}, tls=tls_server)
    await emu.start()
    events = []
    client = DmccClient(_config(emu.port, tls=tls_client), on_call_event=events.append,
                        backoff=Backoff(first_s=0.01, max_s=0.05))
    lis = Listener()
    client.subscribe(lis)
    task = asyncio.create_task(client.run())
    await asyncio.wait_for(client.connected.wait(), 5)
    assert len(client.device_ids) == 3 and client.device_ids[0].startswith("5000:CM")
    assert len(client.monitors) == 3
    world.states["5001"] = "agentReady"
    await until(lambda: (1, AgentState.READY) in lis.seen)
    assert lis.seen[:2] == [(1, AgentState.LOGGED_IN), (1, AgentState.READY)]
    world.states["5001"] = "agentNotReady"
    await until(lambda: lis.seen[-1] == (1, AgentState.NOT_READY))
    await client.set_agent_state(2, "readyState")
    assert world.set_calls == [("5002", "readyState")]
    call = await client.make_call(0, "15551230000")
    await client.clear_connection(0, call)
    await until(lambda: [e.kind for e in events][-1] == "ConnectionClearedEvent")
    assert [e.kind for e in events] == ["OriginatedEvent", "DeliveredEvent",
                                        "EstablishedEvent", "ConnectionClearedEvent"]
    await client.make_call(0, "not-a-number")
    await until(lambda: events[-1].kind == "FailedEvent")
    # the session timer is reset at half its 2 s duration, so the session outlives it
    await asyncio.sleep(2.5)
    assert emu.requests.get("ResetApplicationSessionTimer", 0) >= 2
    assert client.session_id in emu.sessions
    await client.stop()
    await asyncio.wait_for(task, 5)
    assert client.session_id not in emu.sessions  # StopApplicationSession ended it
    await emu.close()


def test_client_story_over_tcp():
    asyncio.run(_story())


def test_client_story_over_tls_with_a_test_ca():
    ca = CertAuthority()
    asyncio.run(_story(ca.server_context(), ca.client_context()))


def test_tls_client_refuses_a_server_outside_its_ca():
    async def go():
        emu = DmccEmulator(World(1), {"aes": "x"}, tls=CertAuthority().server_context())
        await emu.start()
        client = DmccClient(_config(emu.port, n=1, tls=CertAuthority().client_context(),
                                    password="x"), backoff=Backoff(0.01, 0.02))
        task = asyncio.create_task(client.run())
        await asyncio.sleep(0.3)
        assert not client.connected.is_set() and client.errors >= 1
        await client.stop()
        await asyncio.wait_for(task, 5)
        await emu.close()
    asyncio.run(go())


async def _following(world, n, backoff=(0.01, 0.05), **kw):
    """An emulated AES serving ``world`` and a client following its ``n`` agents (started):
    (emulator, client, listener, the client's task)."""
    emu = DmccEmulator(world, {"aes": "p@ss%'\"w"})
    await emu.start()
    client = DmccClient(_config(emu.port, n=n, **kw), backoff=Backoff(*backoff))
    lis = Listener()
    client.subscribe(lis)
    return emu, client, lis, asyncio.create_task(client.run())


def test_reconnect_resumes_the_session_and_keeps_following_agents():
    async def go():
        world = World(2)
        emu, client, lis, task = await _following(world, 2)
        await asyncio.wait_for(client.connected.wait(), 5)
        first = client.session_id
        emu.drop_connections()
        await until(lambda: client.connects >= 2 and client.connected.is_set())
        assert client.session_id == first and client.resumed == 1
        assert emu.requests["MonitorStart"] == 2  # the resumed session kept its monitors
        world.states["5000"] = "agentReady"
        await until(lambda: (0, AgentState.READY) in lis.seen)
        await client.stop()
        await asyncio.wait_for(task, 5)
        await emu.close()
    asyncio.run(go())


def test_wrong_password_is_refused_and_never_logged(caplog):
    async def go():
        emu = DmccEmulator(World(1), {"aes": "right"})
        await emu.start()
        client = DmccClient(_config(emu.port, n=1, password="s3cr@t%'"),
                            backoff=Backoff(0.01, 0.02))
        task = asyncio.create_task(client.run())
        await until(lambda: client.errors >= 2)
        await client.stop()
        await asyncio.wait_for(task, 5)
        await emu.close()
        return client, emu
    caplog.set_level("DEBUG")
    client, emu = asyncio.run(go())
    assert not emu.sessions and not client.connected.is_set()
    assert "StartApplicationSessionNegResponse" in caplog.text
    assert "s3cr@t" not in caplog.text and "s3cr@t" not in repr(client.config)


def test_a_refused_change_is_offered_again_at_the_next_poll():
    class Refusing:
        def __init__(self):
            self.refuse = 1
            self.seen = []

        def on_agent_state(self, agent, state):
            if AgentState(state) == AgentState.READY and self.refuse:
                self.refuse -= 1
                raise ValueError("agent 0: event 'ready' not allowed in state BUSY")
            self.seen.append(AgentState(state))

    client = DmccClient(_config(1, n=1))
    lis = Refusing()
    client.subscribe(lis)
    client._apply(0, "agentReady")  # login accepted, ready refused
    assert lis.seen == [AgentState.LOGGED_IN] and client.refused == 1
    client._apply(0, "agentReady")  # the next poll, same state: offered again
    assert lis.seen == [AgentState.LOGGED_IN, AgentState.READY]
    client._apply(0, "agentReady")  # nothing new
    client._apply(0, "agentBusy")  # the engine's own call: nothing to report
    client._apply(0, "agentWorkingAfterCall")
    client._apply(0, "agentReady")  # the wrap-up ended at the phone
    assert lis.seen == [AgentState.LOGGED_IN, AgentState.READY, AgentState.READY]


def test_ready_agents_are_held_not_ready_while_aes_is_away_and_read_again_after():
    # the link down longer than stale_s: the engine cannot see an agent leave, so the ones
    # it holds ready are reported not ready; back, the first poll reports them as they are
    async def go():
        world = World(3)
        world.states.update({"5000": "agentReady", "5001": "agentReady",
                             "5002": "agentNotReady"})
        emu, client, lis, task = await _following(world, 3, (0.05, 0.1), stale_s=0.3)
        port = emu.port
        await until(lambda: client.states.get(0) == AgentState.READY
                    and client.states.get(1) == AgentState.READY
                    and client.states.get(2) == AgentState.NOT_READY)
        await emu.close()  # AES away
        await until(lambda: client.holds == 1, 5.0)
        assert client.states[0] == client.states[1] == AgentState.NOT_READY
        assert lis.seen[-2:] == [(0, AgentState.NOT_READY), (1, AgentState.NOT_READY)]
        world.states["5001"] = "agentNull"  # left meanwhile
        emu2 = DmccEmulator(world, {"aes": "p@ss%'\"w"}, port=port)
        await emu2.start()
        await until(lambda: client.states.get(0) == AgentState.READY
                    and client.states.get(1) == AgentState.LOGGED_OUT, 10.0)
        assert client.holds == 1 and client.states[2] == AgentState.NOT_READY
        await client.stop()
        await asyncio.wait_for(task, 5)
        await emu2.close()
    asyncio.run(go())


def test_a_short_outage_holds_nobody():
    async def go():
        world = World(1)
        world.states["5000"] = "agentReady"
        emu, client, _, task = await _following(world, 1, stale_s=5.0)
        await until(lambda: client.states.get(0) == AgentState.READY)
        emu.drop_connections()
        await until(lambda: client.connects >= 2 and client.connected.is_set())
        await asyncio.sleep(0.1)
        assert client.holds == 0 and client.states[0] == AgentState.READY
        await client.stop()
        await asyncio.wait_for(task, 5)
        await emu.close()
    asyncio.run(go())


def test_an_agent_whose_call_and_wrap_up_fall_between_two_polls_is_read_again():
    # the phone reads agentReady before and after a short call and its wrap-up: no
    # change for the client, and the engine held the agent in wrap-up for good; the
    # engine's call end makes the next reading news
    async def go():
        world = World(1)
        world.states["5000"] = "agentReady"
        emu, client, lis, task = await _following(world, 1)
        await until(lambda: (0, AgentState.READY) in lis.seen)
        lis.seen.clear()
        polls = emu.requests["GetAgentState"]
        await until(lambda: emu.requests["GetAgentState"] >= polls + 5)
        assert lis.seen == []  # unchanged readings say nothing
        client.call_ended(0)
        await until(lambda: lis.seen == [(0, AgentState.READY)])
        await client.stop()
        await asyncio.wait_for(task, 5)
        await emu.close()
    asyncio.run(go())

"""Hostile far ends and clients on the live path (127.0.0.1 only, each test stops by
itself): what a peer sends is logged and skipped, or answered with an error, and never
ends a connection, a poll loop or an attempt's result."""

from __future__ import annotations

import asyncio
import socket

import pytest

from adapters.dmcc import messages as m
from adapters.dmcc.emulator import DmccEmulator
from adapters.dmcc.framing import FrameDecoder, encode

DEEP = b"<GetAgentState>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</GetAgentState>"


def test_a_deeply_nested_dmcc_body_is_a_message_error_not_a_recursion_error():
    with pytest.raises(m.MessageError, match="nested deeper"):
        m.parse(DEEP.decode())
    msg = m.parse(m.build("X", {"a": {"b": {"c": "1"}}, "d": "2"}))
    assert list(msg.fields.items()) == [("a/b/c", "1"), ("d", "2")]  # order kept


class _Agents:
    def agent_state(self, station):
        return "agentReady" if int(station) == 5000 else "agentNull"

    def set_agent_state(self, station, state):
        int(station)  # as a world does: its own ValueError on nonsense


@pytest.mark.parametrize("bad", [
    encode(1, m.start_session("u", "p", "a", 60, 60).replace(
        "<requestedSessionDuration>60", "<requestedSessionDuration>nan")),
    encode(1, m.start_session("u", "p", "a", 60, 60).replace(
        "<sessionCleanupDelay>60", "<sessionCleanupDelay>abc")),
    encode(1, m.start_session("u", "p", "a", 60, 60)) + encode(2, m.build(
        "SetAgentState", {"device": "\u00b2:CM::0", "requestedAgentState": "readyState"})),
    encode(3, DEEP),
], ids=["duration_nan", "cleanup_text", "world_raises", "deep_nesting"])
def test_the_dmcc_emulator_answers_after_a_request_it_cannot_serve(bad):
    async def go():
        emu = DmccEmulator(_Agents(), {"u": "p"})
        await emu.start()
        r, w = await asyncio.open_connection("127.0.0.1", emu.port)
        try:
            w.write(bad + encode(7, m.start_session("u", "p", "a", 60, 60)))
            await w.drain()
            dec, frames = FrameDecoder(), []
            async with asyncio.timeout(5):
                while not any(f.invoke_id == 7 for f in frames):
                    data = await r.read(65536)
                    assert data, "the emulator closed the connection"
                    frames += dec.feed(data)
            return {f.invoke_id: m.parse(f.body).kind for f in frames}
        finally:
            w.close()
            await emu.close()

    kinds = asyncio.run(go())
    assert kinds[7] == "StartApplicationSessionPosResponse"
    assert set(kinds.values()) <= {"StartApplicationSessionPosResponse", "CSTAErrorCode"}


def _http(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(raw)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while data := s.recv(65536):
            out += data
    return out


def test_the_epm_emulator_refuses_a_bad_content_length_and_faults_a_world_failure():
    from adapters.epm import framing as f
    from adapters.epm.emulator import EpmEmulator
    from tests.epm_world import ScriptedPorts

    class Broken(ScriptedPorts):
        def launch(self, sid, op, fields):
            raise ZeroDivisionError("the world's own bug")

    emu = EpmEmulator(Broken(), {"u": "p"}, None)
    emu.start()
    try:
        head = b"POST /axis2/services/AppIntfWS HTTP/1.1\r\nHost: x\r\nContent-Length: "
        assert _http(emu.port, head + b"abc\r\n\r\n<x/>").startswith(b"HTTP/1.1 400")
        assert _http(emu.port, head + b"-5\r\n\r\n<x/>").startswith(b"HTTP/1.1 400")
        assert _http(emu.port, head + b"99999999999\r\n\r\n").startswith(b"HTTP/1.1 413")
        status, body = emu.handle(f.request("LaunchCCXML", toURI="tel:1", applicationName="a"))
        assert status == 500 and b"LaunchCCXML failed (ZeroDivisionError)" in body
        assert _http(emu.port, b"GET /axis2/services/AppIntfWS?wsdl HTTP/1.1\r\nHost: x\r\n"
                               b"\r\n").startswith(b"HTTP/1.1 200")  # still serving
    finally:
        emu.close()


def test_the_simulated_platform_takes_nonsense_numbers_from_the_wire():
    from outdial.live.world import _number

    assert _number("5001", -1) == 5001
    for bad in ("\u00b2", "9" * 5000, "abc", "", "-3", "\u0663"):
        assert _number(bad, -1) == -1

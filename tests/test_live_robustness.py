"""Hostile far ends and clients on the live path (127.0.0.1 only, each test stops by
itself): what a peer sends is logged and skipped, or answered with an error, and never
ends a connection, a poll loop or an attempt's result."""

from __future__ import annotations

import asyncio
import itertools
import socket

import pytest

from adapters.dmcc import messages as m
from adapters.dmcc.emulator import DmccEmulator
from adapters.dmcc.framing import FrameDecoder, encode
from tests.live_helpers import dial_until_done, epm_telephony, until

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


# ----------------------------------------------------------------------------- EPM far end

class _Far:
    """A scripted outcall web service on 127.0.0.1 (plain HTTP, no auth): ``script(op,
    fields)`` gives the response fields, or the raw body bytes."""

    def __init__(self, script, port=0):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from adapters.epm import framing as f

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                op, fields = f.parse_request(self.rfile.read(int(self.headers["Content-Length"])))
                body = script(op, fields)
                body = body if isinstance(body, bytes) else f.response(op, body)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/x"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _raw_far(answer):
    """A raw socket far end: reads one request's headers, then ``answer(conn)``."""
    import threading

    srv = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            with c:
                data = b""
                while b"\r\n\r\n" not in data and (chunk := c.recv(65536)):
                    data += chunk
                try:
                    answer(c)
                except OSError:
                    pass

    threading.Thread(target=serve, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.getsockname()[1]}/x"


def test_an_epm_response_that_trickles_or_never_ends_is_cut_off():
    import time

    from adapters.epm.client import EpmClient, EpmError

    def trickle(c):
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        for _ in range(30):  # a byte every 0.1 s: each read is in time, the body never
            c.sendall(b" ")
            time.sleep(0.1)

    def endless(c):
        c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(200):
            c.sendall(b"10000\r\n" + b"x" * 0x10000 + b"\r\n")

    for answer, match, limit in ((trickle, "still arriving after 0.5 s", 2.0),
                                 (endless, "larger than 1048576 bytes", 2.0)):
        srv, url = _raw_far(answer)
        client = EpmClient(url, "u", "p", timeout_s=0.5, max_response=1 << 20)
        t0 = time.monotonic()
        try:
            with pytest.raises(EpmError, match=match):
                client.query_resources()
            assert time.monotonic() - t0 < limit
        finally:
            client.close()
            srv.close()


def _telephony(far, **cfg):
    from adapters.epm.client import EpmClient
    from tests.test_epm import Events

    tel = epm_telephony(EpmClient(far.url, "u", "p", timeout_s=2), **cfg)
    tel.subscribe(Events(tel))
    return tel


RES = {"totalRes": 8, "unusedSIP": 8, "unusedH323": 0}


def test_one_unreadable_status_field_costs_only_that_field():
    from adapters.epm import framing as f
    from tests.test_epm import _attempt

    def script(op, fields):
        if op == "LaunchCCXML":
            return {"sessionID": f"S-{fields['parameters']}", **RES}
        if op == "GetStatus":
            body = f.response(op, {"status": [
                {"sessionID": s, "state": "ended", "result": "busy", "human": False}
                for s in fields["sessionID"]]})
            return body.replace(b"<tns:human>false", b"<tns:human>maybe", 1)
        return RES

    far = _Far(script)
    try:
        tel = _telephony(far)
        codes = asyncio.run(dial_until_done(tel, [_attempt(i, f"555{i}") for i in range(3)]))
    finally:
        far.close()
    assert codes == ["BUSY"] * 3 and tel.errors >= 1


def test_a_session_id_given_twice_and_a_session_never_reported_still_end_their_attempts():
    from engine.attempt import Channel
    from tests.test_epm import _attempt

    def script(op, fields):
        if op in ("LaunchCCXML", "SendSMS"):
            return {"sessionID": "SAME", **RES} if op == "LaunchCCXML" else {"sessionID": "M"}
        if op == "GetStatus":  # the voice session is ringing; the message is never reported
            return {"status": [{"sessionID": "SAME", "state": "ringing"}]}
        return RES

    far = _Far(script)
    try:
        tel = _telephony(far, unreported_s=0.3)
        attempts = [_attempt(0, "5550"), _attempt(1, "5551"), _attempt(2, "+1", Channel.SMS),
                    _attempt(3, "+2", Channel.SMS)]
        codes = asyncio.run(_one_follows(tel, attempts))
    finally:
        far.close()
    # one voice attempt keeps SAME (still ringing), the other ends unsent; of the two
    # messages on one id, one ends unsent at once and the other when it stays unreported
    assert sorted(codes[:2]) == ["BLOCKED", "PENDING"], codes
    assert codes[2:] == ["UNDELIVERED", "UNDELIVERED"], codes


async def _one_follows(tel, attempts):
    from engine.attempt import Code

    runner = asyncio.create_task(tel.run())
    try:
        for a in attempts:
            tel.dial(a)
        async with asyncio.timeout(5):
            while sum(a.code == Code.PENDING for a in attempts) > 1 or tel.launching \
                    or tel.messages:
                assert not runner.done(), runner.exception()
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        assert len(tel.sessions) == 1 and "SAME" in tel.sessions  # still followed
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        tel.close()
    return [Code(a.code).name for a in attempts]


def test_a_call_the_engine_ended_while_its_launch_was_answered_is_hung_up():
    # the run stops (the attempt recorded TRAPPED) while the portal is still answering
    # its launch: the session it then names is dropped at once, not left ringing
    import threading

    from engine.attempt import Code
    from tests.test_epm import _attempt

    answer = threading.Event()
    events = []

    def script(op, fields):
        if op == "LaunchCCXML":
            answer.wait(5)
            return {"sessionID": "S1", **RES}
        if op == "SendCCXMLEvent":
            events.append((fields["sessionID"], fields["eventName"]))
            return {"accepted": True}
        if op == "GetStatus":
            return {"status": [{"sessionID": "S1", "state": "ringing"}]}
        return RES

    async def go(tel, a):
        runner = asyncio.create_task(tel.run())
        try:
            tel.dial(a)
            a.code = int(Code.TRAPPED)  # the stop's end_in_flight, before the answer
            answer.set()
            async with asyncio.timeout(5):
                while tel.launching or not events:
                    await asyncio.sleep(0.01)
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            tel.close()

    far = _Far(script)
    try:
        tel = _telephony(far)
        asyncio.run(go(tel, _attempt(0, "5559")))
    finally:
        answer.set()
        far.close()
    assert events == [("S1", "outdial.drop")] and not tel.sessions


def test_closing_on_a_service_that_stalls_is_bounded_not_a_queue_of_timeouts():
    # the service accepts and never answers: every request waits out its 1 s timeout,
    # 2 at a time; 20 hang-ups queued at a stop took 10 s to close, now at most the bound
    import threading
    import time

    from adapters.epm.client import EpmClient

    srv = socket.create_server(("127.0.0.1", 0))
    srv.listen(64)
    held = []

    def accept():
        while True:
            try:
                held.append(srv.accept()[0])
            except OSError:
                return
    threading.Thread(target=accept, daemon=True).start()
    client = EpmClient(f"http://127.0.0.1:{srv.getsockname()[1]}/x", "u", "p", timeout_s=1.0)
    tel = epm_telephony(client, workers=2)

    async def stop_with_hang_ups():
        tel._loop = asyncio.get_running_loop()
        for i in range(20):  # sessions being followed, hung up at the stop
            tel._sid_of[i] = f"S{i}"
            tel.drop(type("A", (), {"id": i})())
        t0 = time.monotonic()
        tel.close(0.5)
        took = time.monotonic() - t0
        tel.drop(type("A", (), {"id": 0})())  # after the close: logged, not raised
        return took
    try:
        took = asyncio.run(stop_with_hang_ups())
    finally:
        client.close()
        srv.close()
        for c in held:
            c.close()
    assert took < 1.5 and tel.errors >= 1


# ----------------------------------------------------------------------------- CMS

def test_a_refresh_that_never_ends_is_bounded_and_skipped_and_every_bad_line_counts():
    from adapters.cms.framing import SPLIT_SKILL, ReportDecoder
    from adapters.cms.server import CmsServer

    row = b"F1|1|3|0:20|5|2|1|9|0|80|0:05\n"
    dec = ReportDecoder(SPLIT_SKILL, max_rows=5)
    assert dec.feed(row * 50) == [] and len(dec._rows) <= 5
    assert dec.feed(b"F3|END_OF_RECORDS\n") == []  # the overfull refresh: skipped whole
    assert dec.feed(row + b"F3|END_OF_RECORDS\n")[0][0]["calls_waiting"] == 3
    assert dec.bad_lines == 1 and "longer than 5 rows" in dec.errors[0]

    async def go():
        server = CmsServer()
        await server.start()
        _, w = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            w.write(b"junk\xff\n" * 250 + row + b"F3|END_OF_RECORDS\n")
            await w.drain()
            async with asyncio.timeout(5):
                while not server.batches:
                    await asyncio.sleep(0.01)
            return server.bad_lines
        finally:
            w.close()
            await server.close()

    assert asyncio.run(go()) == 250  # not only the decoder's last 100 kept messages


# ----------------------------------------------------------------------------- reconnects

def test_backoff_starts_over_only_after_a_connection_that_stayed_up():
    import random

    from adapters.backoff import Backoff

    b = Backoff(first_s=1.0, max_s=8.0, stable_s=5.0, rng=random.Random(1))
    delays = []
    for _ in range(6):
        delays.append(b.next_s())
        b.ended(0.5)  # up, then dropped at once: keeps growing
    assert delays[0] <= 1.0 and all(4.0 <= d <= 8.0 for d in delays[3:])
    b.ended(5.0)
    assert b.next_s() <= 1.0


def test_an_aes_that_drops_each_session_at_once_is_retried_ever_more_slowly():
    import time

    from adapters.backoff import Backoff
    from adapters.dmcc.client import DmccClient, DmccConfig

    connects = []

    async def flapping_aes(r, w):  # answers the session start, then hangs up
        connects.append(time.monotonic())
        dec = FrameDecoder()
        while data := await r.read(65536):
            for fr in dec.feed(data):
                w.write(encode(fr.invoke_id, m.build(
                    "StartApplicationSessionPosResponse", {"sessionID": "S1"})))
                await w.drain()
                w.close()
                return

    async def go():
        srv = await asyncio.start_server(flapping_aes, "127.0.0.1", 0)
        cfg = DmccConfig("127.0.0.1", srv.sockets[0].getsockname()[1], "u", "p", ["5000"],
                         request_timeout_s=5.0)
        client = DmccClient(cfg, backoff=Backoff(first_s=0.01, max_s=0.08, stable_s=10.0))
        task = asyncio.create_task(client.run())
        await asyncio.sleep(1.2)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        srv.close()

    asyncio.run(go())
    gaps = [b - a for a, b in itertools.pairwise(connects)]
    # each drop is seen at once (not after the 5 s request timeout) ...
    assert len(connects) >= 6, gaps
    # ... and the delays grew to the cap: no reconnect loop at first_s
    assert min(gaps[4:]) >= 0.04 - 0.01, gaps


# ----------------------------------------------------------------------------- configuration

@pytest.mark.parametrize("sect, line, message", [
    ("epm", 'url = "https://[::1/x"', "epm.url: expected an http:// or https:// URL (Inval"),
    ("epm", 'url = "https://127.0.0.1:99999/x"', "epm.url: expected an http:// or https:// URL (P"),
    ("epm", 'url = "ftp://h/x"', "epm.url: expected an http:// or https:// URL with a host"),
    ("epm", 'url = "https://me:s3cret@h/x"', "epm.url: expected no credentials in the URL"),
    ("aes", "port = 0", "aes.port: expected a port 1..65535, got 0"),
    ("epm", "poll_s = 1e-300", "epm.poll_s: expected seconds from 0.01 to 3600"),
    ("aes", "poll_s = 1e300", "aes.poll_s: expected seconds from 0.01 to 3600"),
    ("aes", 'ca_file = "no-such-ca.pem"', "aes.ca_file: cannot read"),
    ("epm", 'application = ""', "epm.application: expected the application's name"),
    ("epm", 'user = "\u00fc\u20ac"', "epm.user: expected a user name of printable characters in "
                                     "Latin-1"),
    ("aes", 'user = "a\\r\\nb"', "aes.user: expected a user name of printable characters"),
    ("events", 'kafka = "::::"', "events.kafka: expected bootstrap servers host:port"),
    ("events", 'kafka = "b1:9092, b2:0"', "events.kafka: expected bootstrap servers host:port"),
    ("cms", "stale_s = 0", "cms.stale_s: expected seconds from 1 to 86400 without a refresh"),
    ("cms", 'stale_s = "1m"', "cms.stale_s: expected seconds from 1 to 86400"),
    ("aes", "stale_s = 0.5", "aes.stale_s: expected seconds from 1 to 86400 without AES"),
])
def test_a_malformed_live_value_is_one_line_naming_its_key(tmp_path, sect, line, message):
    from outdial.live.config import ConfigError, load_config

    cfg = tmp_path / "run.toml"
    tables = {"run": 'scenario = "x.toml"', "store": 'sqlite = "s"',
              "epm": 'url = "https://127.0.0.1/x"\npassword_env = "PW"',
              "aes": 'host = "127.0.0.1"\npassword_env = "PW"', "events": "", "cms": ""}
    tables[sect] = "\n".join(x for x in tables[sect].splitlines()
                             if not x.startswith(line.split(" ")[0] + " ")) + "\n" + line
    cfg.write_text("".join(f"[{k}]\n{v}\n" for k, v in tables.items()), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(cfg, env={"PW": "x"})
    lines = str(e.value).splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{cfg}: ") and message in lines[0], lines
    assert "s3cret" not in lines[0]


def test_well_formed_endpoint_values_still_load(tmp_path):
    from outdial.live.config import load_config

    cfg = tmp_path / "run.toml"
    cfg.write_text('[run]\nscenario = "x.toml"\n[store]\nsqlite = "s"\n'
                   '[events]\nkafka = "b1:9092, [::1]:9093"\n'
                   '[epm]\nurl = "https://[::1]:8443/x"\npassword_env = "PW"\n'
                   'user = "d\u00e9j\u00e0"\npoll_s = 0.01\n'
                   '[aes]\nhost = "aes.example"\nport = 4722\npassword_env = "PW"\n'
                   'user = "\u00fc\u20ac"\n', encoding="utf-8")
    c = load_config(cfg, env={"PW": "x"})
    assert c.epm.url == "https://[::1]:8443/x" and c.events_kafka == "b1:9092, [::1]:9093"
    assert c.epm.user == "d\u00e9j\u00e0" and c.aes.user == "\u00fc\u20ac"


def test_a_host_name_that_does_not_resolve_is_one_error_naming_its_key(tmp_path):
    import dataclasses

    from outdial.live.config import load_config
    from outdial.live.session import RunError, _check_hosts
    from tests.live_helpers import write_config

    cfg = load_config(write_config(tmp_path), env={"OUTDIAL_TEST_EPM_PW": "x",
                                                   "OUTDIAL_TEST_AES_PW": "y"}, emulate=True)
    asyncio.run(_check_hosts(cfg))  # loopback names: fine
    for key, bad in (("aes.host", {"aes": dataclasses.replace(cfg.aes, host="nx.invalid")}),
                     ("epm.url", {"epm": dataclasses.replace(cfg.epm,
                                                             url="https://nx.invalid/x")}),
                     ("events.kafka", {"events_kafka": "127.0.0.1:9092,nx.invalid:9092"})):
        with pytest.raises(RunError, match=rf"{key}: cannot resolve 'nx.invalid'"):
            asyncio.run(_check_hosts(dataclasses.replace(cfg, **bad)))


def test_librdkafka_lines_go_to_the_log_not_to_stderr(monkeypatch):
    import logging
    from types import SimpleNamespace

    import adapters.kafka as kafka_mod

    made = []
    mod = SimpleNamespace(Producer=lambda conf: made.append(conf), KafkaException=RuntimeError,
                          libversion=lambda: ("2.5.0", 0x020500FF))
    monkeypatch.setattr(kafka_mod, "_confluent", lambda: mod)
    kafka_mod.KafkaSink("h:1")
    assert isinstance(made[0]["logger"], logging.Logger)
    assert made[0]["logger"].name == "adapters.kafka.librdkafka"


def test_an_epm_user_name_http_cannot_carry_is_an_epm_error():
    from adapters.epm.client import EpmClient, EpmError

    srv, url = _raw_far(lambda c: c.sendall(
        b'HTTP/1.1 401 X\r\nWWW-Authenticate: Digest realm="r", nonce="n", qop="auth"\r\n'
        b"Content-Length: 0\r\n\r\n"))
    client = EpmClient(url, "\u00fc\u20ac", "p")
    try:
        with pytest.raises(EpmError, match="user name"):
            client.query_resources()
    finally:
        client.close()
        srv.close()


def test_an_aes_that_never_finishes_the_tls_handshake_is_given_up_and_retried():
    import ssl

    from adapters.backoff import Backoff
    from adapters.dmcc.client import DmccClient, DmccConfig

    accepted = []

    async def mute(r, w):  # accepts TCP, never answers the ClientHello
        accepted.append(w)
        await r.read()

    async def go():
        srv = await asyncio.start_server(mute, "127.0.0.1", 0)
        cfg = DmccConfig("127.0.0.1", srv.sockets[0].getsockname()[1], "u", "p", ["5000"],
                         tls=ssl.create_default_context(), connect_timeout_s=0.2)
        client = DmccClient(cfg, backoff=Backoff(first_s=0.01, max_s=0.02))
        task = asyncio.create_task(client.run())
        await asyncio.sleep(1.0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        for w in accepted:
            w.close()
        srv.close()
        return client.errors

    errors = asyncio.run(go())
    assert errors >= 3 and len(accepted) >= 3  # not one 60 s handshake wait


def test_the_epm_emulator_keeps_a_bounded_number_of_digest_challenges():
    from adapters.epm.emulator import MAX_NONCES, EpmEmulator
    from tests.epm_world import ScriptedPorts

    emu = EpmEmulator(ScriptedPorts(), {"u": "p"}, None)
    try:
        for _ in range(MAX_NONCES + 50):
            emu.challenge()
        assert len(emu._nonces) == MAX_NONCES
    finally:
        emu._httpd.server_close()


def test_one_agents_refused_or_empty_answers_cost_that_agent_only():
    """An AES that refuses one station's requests and once answers another's without an
    agentState: the others are followed, the refused one is logged (once) and skipped,
    and an empty answer is no logout."""
    from adapters.backoff import Backoff
    from adapters.dmcc.client import DmccClient, DmccConfig
    from engine.agents import AgentState

    polls = {"n": 0}

    async def aes(r, w):
        dec = FrameDecoder()
        while data := await r.read(65536):
            for fr in dec.feed(data):
                msg = m.parse(fr.body)
                kind, body = msg.kind + "Response", {}
                if msg.kind == "StartApplicationSession":
                    kind, body = "StartApplicationSessionPosResponse", {"sessionID": "S"}
                elif msg.kind == "GetDeviceId":
                    body = {"device": {"deviceID": msg.get("extension")}}
                elif msg.kind == "GetAgentState":
                    polls["n"] += 1
                    if msg.get("device") == "5001":
                        kind, body = "CSTAErrorCode", {"operation": "invalidDeviceID"}
                    elif msg.get("device") == "5000" and polls["n"] == 12:
                        body = {}  # no agentState
                    else:
                        body = {"agentState": "agentReady"}
                w.write(encode(fr.invoke_id, m.build(kind, body)))
            await w.drain()

    class Seen:
        def __init__(self):
            self.seen = []

        def on_agent_state(self, agent, state):
            self.seen.append((agent, AgentState(state)))

    async def go():
        srv = await asyncio.start_server(aes, "127.0.0.1", 0)
        cfg = DmccConfig("127.0.0.1", srv.sockets[0].getsockname()[1], "u", "p",
                         ["5000", "5001", "5002"], poll_s=0.01, request_timeout_s=1.0)
        client = DmccClient(cfg, backoff=Backoff(first_s=0.01, max_s=0.02))
        lis = Seen()
        client.subscribe(lis)
        task = asyncio.create_task(client.run())
        async with asyncio.timeout(5):
            while polls["n"] < 30:
                await asyncio.sleep(0.01)
        await client.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        srv.close()
        return client, lis.seen

    client, seen = asyncio.run(go())
    assert client.connects == 1
    assert seen == [(0, AgentState.LOGGED_IN), (0, AgentState.READY),
                    (2, AgentState.LOGGED_IN), (2, AgentState.READY)]
    assert 1 in client.agent_errors and client.errors >= 2


def test_a_dmcc_frame_arriving_a_byte_at_a_time_is_searched_in_linear_work(monkeypatch):
    import adapters.dmcc.framing as fr

    scanned = [0]
    real = fr._HEADER_AT

    class Counting:
        def search(self, buf, pos=0):
            scanned[0] += max(len(buf) - pos, 0)
            return real.search(buf, pos)

    monkeypatch.setattr(fr, "_HEADER_AT", Counting())
    frame = encode(9999, m.build("DeliveredEvent", {"x": "a" * 20000}))
    dec = fr.FrameDecoder()
    got = [f for i in range(len(frame)) for f in dec.feed(frame[i:i + 1])]
    assert len(got) == 1 and not dec.errors
    assert scanned[0] < 300 * len(frame)  # was ~ len(frame)**2 / 2 (2e8 here)


def test_the_run_log_is_rotated_so_a_flood_of_bad_frames_cannot_fill_the_disk(tmp_path):
    import logging
    import logging.handlers
    from types import SimpleNamespace

    from outdial.cli import run as run_cmd

    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        run_cmd._log_to_file(SimpleNamespace(store_sqlite=tmp_path / "s.sqlite"))
        added = [h for h in root.handlers if h not in before]
        assert len(added) == 1 and isinstance(added[0], logging.handlers.RotatingFileHandler)
        assert added[0].maxBytes == run_cmd.LOG_BYTES > 0 and added[0].backupCount > 0
    finally:
        for h in root.handlers[:]:
            if h not in before:
                root.removeHandler(h)
                h.close()
        root.setLevel(level)


# ----------------------------------------------------------------------------- Kafka away

def test_the_sinks_give_each_sink_an_outbox_event_once_while_one_is_busy():
    from engine.sinks import SinkBusy
    from outdial.live.session import Sinks

    class Busy:
        def __init__(self, busy):
            self.got, self.busy = [], busy

        def publish(self, topic, event):
            self.got.append(event["outbox_seq"])

        def flush(self):
            if self.busy:
                self.busy -= 1
                raise SinkBusy("broker away")

    file, broker = Busy(0), Busy(2)
    sinks = Sinks([file, broker])
    for _ in range(3):  # the relay offers the same batch until the flush goes through
        for seq in (1, 2, 3):
            sinks.publish("t", {"outbox_seq": seq})
        try:
            sinks.flush()
        except SinkBusy:
            continue
        break
    assert file.got == [1, 2, 3] and broker.got == [1, 2, 3] and broker.busy == 0


def test_a_kafka_broker_away_for_a_while_neither_stops_the_run_nor_loses_an_event(
        tmp_path, monkeypatch):

    from outdial.live.config import load_config
    from outdial.live.session import LiveSession
    from tests.live_helpers import kafka_config
    from tests.test_kafka import FakeProducer

    class AwayProducer(FakeProducer):
        away = True

        def flush(self, timeout):
            return len(self.sent) if self.away else super().flush(timeout)

        def poll(self, timeout):
            return 0 if self.away else super().poll(timeout)

    p = kafka_config(tmp_path, monkeypatch, AwayProducer, 0.004)
    cfg = load_config(p, env={"OUTDIAL_TEST_EPM_PW": "a", "OUTDIAL_TEST_AES_PW": "b"},
                      emulate=True)

    async def go():
        s = LiveSession(cfg, emulate=True)
        try:
            await s.start()
            run = asyncio.create_task(s.run())
            await asyncio.sleep(1.5)  # the broker is away for the first 1.5 s
            assert not run.done()
            producer = FakeProducer.made[0]
            assert producer.sent and s.runner.sink_busy_since is not None
            producer.away = False
            return await run, producer
        finally:
            await s.close()

    summary, producer = asyncio.run(go())
    assert summary["reason"] == "end" and summary["lost_events"] == 0, summary
    import json
    seqs = [json.loads(v)["outbox_seq"] for _, _, v in producer.sent]
    assert len(seqs) == len(set(seqs)) == summary["events_published"] > 0  # each once


def test_the_run_log_writes_a_far_ends_text_on_one_line():
    """A SOAP fault string holding a line break and a terminal escape cannot forge a log
    line: the run log's formatter writes control characters escaped (a tab stays)."""
    import logging

    from outdial.cli.run import one_line_formatter

    rec = logging.LogRecord("adapters.epm.telephony", logging.WARNING, "t.py", 1, "EPM: %s",
                            ("fault\n2026-12-02 INFO forged\r\x1b[31m\tend",), None)
    line = one_line_formatter().format(rec)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert line.endswith("EPM: fault\\n2026-12-02 INFO forged\\r\\x1b[31m\tend")


def test_a_portal_that_cannot_be_reached_gets_no_launches_until_it_answers_again():
    # a 5 s outage used to make 3000 BLOCKED attempts, each contact tried dozens of times:
    # the dialer fits its dials to the capacity, which is now 0 while the service is away
    from adapters.epm import framing as f
    from engine.attempt import Code
    from tests.test_epm import _attempt

    def script(op, fields):
        if op == "LaunchCCXML":
            if fields["toURI"].endswith("0"):  # a refusal the service answers
                return f.fault("Server", "no outbound resources available")
            return {"sessionID": f"S{fields['toURI']}", **RES}
        if op == "GetStatus":
            return {"status": [{"sessionID": sid, "state": "ended", "result": "busy"}
                               for sid in fields["sessionID"]]}
        return RES

    async def go(far):
        tel = _telephony(far)
        runner = asyncio.create_task(tel.run())
        try:
            await until(lambda: tel.capacity(True) == 8, 5.0)
            refused = _attempt(0, "5550")
            tel.dial(refused)
            await until(lambda: refused.code != Code.PENDING, 5.0)
            gated = [tel.down_since, tel.capacity(True)]  # a refusal is no outage
            port = far.httpd.server_address[1]
            far.close()  # the service goes away, its kept-alive connections with it
            tel.client.close()
            lost = _attempt(1, "5551")
            tel.dial(lost)
            await until(lambda: lost.code != Code.PENDING, 5.0)
            gated += [tel.down_since is not None, tel.capacity(True), tel.capacity(False)]
            back = _Far(script, port=port)  # it comes back on its address
            try:
                await until(lambda: tel.capacity(True) == 8, 10.0)
                again = _attempt(2, "5552")
                tel.dial(again)
                await until(lambda: again.code != Code.PENDING, 5.0)
            finally:
                back.close()
            return tel, [refused, lost, again], gated
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            tel.close()

    far = _Far(script)
    tel, (refused, lost, again), gated = asyncio.run(go(far))
    assert [Code(a.code).name for a in (refused, lost, again)] == ["BLOCKED", "BLOCKED", "BUSY"]
    assert gated == [None, 8, True, 0, 0]
    assert tel.outages == 1 and tel.down_since is None

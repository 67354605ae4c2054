"""The outcall web service: SOAP framing (table and fuzz), the emulator proven with zeep
(Digest auth over TLS with a test CA), the adapter's client on the same emulator, and the
``Telephony`` turning session progress into engine events."""

from __future__ import annotations

import asyncio

import pytest
import requests
import zeep
from hypothesis import given, settings
from hypothesis import strategies as st
from zeep.transports import Transport

from adapters.epm import framing as f
from adapters.epm.client import EpmClient, EpmError, EpmFault, safe_url
from adapters.epm.emulator import EpmEmulator
from adapters.epm.telephony import EpmTelephony, EpmTelephonyConfig
from engine.attempt import Attempt, Channel, Code
from tests.epm_world import ScriptedPorts
from tests.tlsca import CertAuthority

PASSWORD = "p@ss%w'o\"rd"


@pytest.fixture(scope="module")
def ca():
    return CertAuthority()


@pytest.fixture
def emulator(ca, tmp_path):
    world = ScriptedPorts(ports=3, talk_s=60.0, patience_s=60.0)
    emu = EpmEmulator(world, {"epmuser": PASSWORD}, ca.server_context())
    emu.start()
    emu.ca_file = str(ca.write(tmp_path)[0])
    emu.world_ = world
    yield emu
    emu.close()


# ---- framing

@pytest.mark.parametrize("op,values", [
    ("LaunchCCXML", {"toURI": "tel:+15551234", "applicationName": "app",
                     "parameters": "a=1;b=x\\;y", "launchTimeout": 30}),
    ("LaunchVXML", {"toURI": "tel:1", "fromURI": "tel:2", "applicationName": "v"}),
    ("QueryResources", {}),
    ("GetStatus", {"sessionID": ["a", "b", "c"]}),
    ("SendCCXMLEvent", {"sessionID": "s", "eventName": "outdial.drop", "eventBody": "é"}),
    ("SendSMS", {"toAddr": "+1555", "message": "hi & <bye>"}),
    ("SendEmail", {"toAddr": "a@b.c", "subject": "s", "message": "m"}),
])
def test_request_round_trip(op, values):
    assert f.parse_request(f.request(op, **values)) == (op, values)


def test_response_round_trip_and_fault():
    r = {"sessionID": "S1", "totalRes": 10, "unusedSIP": 4, "unusedH323": 1}
    assert f.parse_response("LaunchCCXML", f.response("LaunchCCXML", r)) == r
    st_ = {"status": [{"sessionID": "a", "state": "ended", "result": "busy", "human": False}]}
    assert f.parse_response("GetStatus", f.response("GetStatus", st_)) == st_
    with pytest.raises(f.SoapFault) as e:
        f.parse_response("LaunchCCXML", f.fault("Server", "no outbound resources"))
    assert e.value.code == "Server" and "no outbound" in str(e.value)


@pytest.mark.parametrize("data,match", [
    (b"not xml", "not XML"),
    (b"<a/>", "not a SOAP"),
    (f.request("QueryResources").replace(b"QueryResources", b"Nope"), "unknown operation"),
    (f.request("LaunchCCXML", toURI="t", applicationName="a", launchTimeout=5)
     .replace(b">5<", b">five<"), "not an integer"),
    (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + f.request("QueryResources"),
     ""),
])
def test_bad_requests(data, match):
    try:
        op, fields = f.parse_request(data)
    except f.EnvelopeError as e:
        assert match in str(e)
    else:  # the entity is never expanded
        assert op == "QueryResources" and fields == {} and match == ""


def test_parameters_escape_semicolons():
    p = {"attempt": 7, "note": "a;b=c"}
    assert f.parse_parameters(f.format_parameters(p)) == {"attempt": "7", "note": "a;b=c"}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_parsers_raise_only_their_errors(data):
    try:
        f.parse_request(data)
    except f.EnvelopeError:
        pass
    with pytest.raises(f.SoapFault):
        f.parse_response("GetStatus", data)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text("abcxyz_", min_size=1, max_size=5),
                       st.text(st.characters(blacklist_categories=("Cs", "Cc")),
                               max_size=10), max_size=4))
def test_fuzz_parameters_round_trip(params):
    params = {k: v for k, v in params.items() if not v.endswith("\\")}
    assert f.parse_parameters(f.format_parameters(params)) == {
        k: v for k, v in params.items()}


# ---- the emulator through zeep, a client nobody here wrote

def test_zeep_drives_every_operation_with_digest_over_tls(emulator):
    session = requests.Session()
    session.auth = requests.auth.HTTPDigestAuth("epmuser", PASSWORD)
    session.verify = emulator.ca_file
    session.trust_env = False  # else requests prefers REQUESTS_CA_BUNDLE to session.verify
    client = zeep.Client(emulator.url + "?wsdl", transport=Transport(session=session))
    svc = client.service
    res = svc.QueryResources()
    assert (res.totalRes, res.unusedSIP, res.unusedH323) == (3, 3, 0)
    r = svc.LaunchCCXML(toURI="tel:5550104", applicationName="outdial",
                        applicationURL="http://app/ccxml", parameters="attempt=1",
                        uuiInfo="00FA", launchTimeout=30)
    assert r.sessionID.startswith("EPM-") and r.totalRes == 3 and r.unusedSIP == 2
    v = svc.LaunchVXML(toURI="tel:5550105", fromURI="tel:100", applicationName="notify")
    assert v.sessionID != r.sessionID and v.unusedSIP == 1
    assert emulator.world_.sessions[r.sessionID]["fields"]["uuiInfo"] == "00FA"
    status = svc.GetStatus(sessionID=[r.sessionID, v.sessionID])
    assert [s.sessionID for s in status] == [r.sessionID, v.sessionID]
    assert status[0].state in ("ringing", "answered")
    assert svc.SendCCXMLEvent(sessionID=r.sessionID, eventName="outdial.connect",
                              eventBody="agent=5001") is True
    assert emulator.world_.events[-1] == (r.sessionID, "outdial.connect", "agent=5001")
    assert svc.SendSMS(toAddr="+15550100", message="hello").startswith("MSG-")
    assert svc.SendEmail(toAddr="a@example.org", subject="s", message="m").startswith("MSG-")
    svc.LaunchCCXML(toURI="tel:5550106", applicationName="outdial")
    with pytest.raises(zeep.exceptions.Fault, match="no outbound resources"):
        svc.LaunchCCXML(toURI="tel:5550107", applicationName="outdial")
    assert emulator.calls["QueryResources"] == 1 and emulator.calls["SendEmail"] == 1


def test_zeep_without_credentials_is_refused(emulator):
    session = requests.Session()
    session.verify = emulator.ca_file
    session.trust_env = False  # else requests prefers REQUESTS_CA_BUNDLE to session.verify
    client = zeep.Client(emulator.url + "?wsdl", transport=Transport(session=session))
    with pytest.raises(zeep.exceptions.TransportError, match="401"):
        client.service.QueryResources()


# ---- the adapter's client on the same emulator

def test_client_every_operation(emulator):
    c = EpmClient(emulator.url, "epmuser", PASSWORD, verify=emulator.ca_file)
    assert c.query_resources().free == 3
    launched = c.launch_ccxml("tel:5550109", "outdial", parameters="attempt=9")
    assert launched.resources.free == 2
    vx = c.launch_vxml("tel:5550115", "notify", from_uri="tel:1")
    assert c.get_status([launched.session_id, vx.session_id])[0]["sessionID"] == \
        launched.session_id
    assert c.send_ccxml_event(launched.session_id, "outdial.drop") is True
    assert c.send_ccxml_event("nope", "outdial.drop") is False
    assert c.send_sms("+1555", "hi").startswith("MSG-")
    assert c.send_email("a@b.c", "s", "m").startswith("MSG-")
    c.launch_ccxml("tel:5550116", "outdial")  # the dropped session's port is free again
    c.launch_ccxml("tel:5550117", "outdial")
    with pytest.raises(EpmFault, match=r"LaunchCCXML refused.*Server: no outbound resources"):
        c.launch_ccxml("tel:5550118", "outdial")
    with pytest.raises(EpmFault, match="toURI and applicationName are required"):
        c.launch_ccxml("", "outdial")
    c.close()


@pytest.mark.parametrize("password", ["wrong", "p@ss%", "q'\"x", "p@ss%w'o\"rd "])
def test_wrong_credentials_give_a_clear_error_without_the_secret(emulator, password):
    c = EpmClient(emulator.url, "epmuser", password, verify=emulator.ca_file)
    with pytest.raises(EpmError, match="refused the credentials") as e:
        c.query_resources()
    assert password not in str(e.value) and PASSWORD not in str(e.value)
    assert "epmuser" not in repr(EpmClient(emulator.url, "epmuser", password))


def test_tls_with_an_unknown_ca_and_a_dead_port_are_clear_errors(emulator, tmp_path):
    (tmp_path / "other").mkdir()
    other = CertAuthority().write(tmp_path / "other")[0]
    with pytest.raises(EpmError, match="TLS handshake failed"):
        EpmClient(emulator.url, "epmuser", PASSWORD, verify=str(other)).query_resources()
    with pytest.raises(EpmError, match="cannot reach"):
        EpmClient("https://user:secret@127.0.0.1:9/axis2", "u", "p",
                  timeout_s=1).query_resources()
    assert safe_url("https://user:secret@h:1/p?q=1") == "https://h:1/p"


# ---- the Telephony on the engine's side

class Events:
    def __init__(self, tel):
        self.tel = tel
        self.log = []
        self.connect_to = 0

    def on_failed(self, a, code):
        a.code = code
        self.log.append((a.id, "failed", Code(code).name))

    def on_answered(self, a, human):
        self.log.append((a.id, "answered", human))
        if a.channel == Channel.VOICE_AGENTLESS:
            return
        if not human:
            self.tel.drop(a)
            a.code = Code.MACHINE
        elif a.address.endswith("8"):  # nobody takes it: the customer hangs up
            pass
        else:
            a.t_connect = 1.0
            self.tel.connect(a, self.connect_to)

    def on_customer_hangup(self, a):
        a.code = Code.CUSTOMER_HANGUP
        self.log.append((a.id, "hangup"))

    def on_call_ended(self, a, machine=False):  # the engine's TelephonyEvents call
        a.code = Code.MACHINE if machine else Code.LIVE_CONNECTED
        self.log.append((a.id, "ended"))

    def on_delivered(self, a, ok):
        a.code = Code.DELIVERED if ok else Code.UNDELIVERED
        self.log.append((a.id, "delivered", ok))


def _attempt(i, address, channel=Channel.VOICE_AGENT):
    return Attempt(id=i, job=0, job_name="j", contact=i, contact_id=f"c{i}", address=address,
                   step=0, channel=int(channel), t_created=0.0)


def test_telephony_maps_every_outcome_and_caps_dials_by_free_ports(ca, tmp_path):
    async def go():
        world = ScriptedPorts(ports=8, ring_s=0.05, talk_s=0.1, patience_s=0.2)
        emu = EpmEmulator(world, {"u": PASSWORD}, ca.server_context())
        emu.start()
        client = EpmClient(emu.url, "u", PASSWORD, verify=str(ca.write(tmp_path)[0]))
        tel = EpmTelephony(client, EpmTelephonyConfig(stations=["5001"], poll_s=0.02,
                                                      resources_s=0.05))
        ev = Events(tel)
        tel.listener = ev
        runner = asyncio.create_task(tel.run())
        for _ in range(100):
            if tel.resources.total:
                break
            await asyncio.sleep(0.01)
        assert tel.capacity(True) == 8
        attempts = [_attempt(0, "5550"), _attempt(1, "5551"), _attempt(2, "5552"),
                    _attempt(3, "5553"), _attempt(4, "5554"), _attempt(5, "5558"),
                    _attempt(6, "5557", Channel.VOICE_AGENTLESS),
                    _attempt(7, "+1555", Channel.SMS), _attempt(8, "bad@x", Channel.EMAIL)]
        for a in attempts:
            tel.dial(a)
        assert tel.capacity(True) == 1  # 7 voice launches outstanding
        for _ in range(300):
            if all(a.code != Code.PENDING for a in attempts):
                break
            await asyncio.sleep(0.01)
        runner.cancel()
        tel.close()
        emu.close()
        return attempts, ev, world
    attempts, ev, world = asyncio.run(go())
    assert [Code(a.code).name for a in attempts] == [
        "BUSY", "NO_ANSWER", "INVALID", "MACHINE", "LIVE_CONNECTED", "CUSTOMER_HANGUP",
        "DELIVERED", "DELIVERED", "UNDELIVERED"]
    assert (4, "answered", True) in ev.log and (3, "answered", False) in ev.log
    assert ("outdial.connect", "agent=5001") in [(n, b) for _, n, b in world.events]
    assert "outdial.drop" in [n for _, n, _ in world.events]  # the machine was dropped
    assert "attempt=4" in world.sessions[next(
        s for s, v in world.sessions.items() if v.get("number") == "5554")]["fields"][
        "parameters"]


def test_telephony_blocks_attempts_the_service_refuses(ca, tmp_path):
    async def go():
        world = ScriptedPorts(ports=1)
        emu = EpmEmulator(world, {"u": "pw"}, ca.server_context())
        emu.start()
        client = EpmClient(emu.url, "u", "pw", verify=str(ca.write(tmp_path)[0]))
        tel = EpmTelephony(client, EpmTelephonyConfig(poll_s=0.02))
        ev = Events(tel)
        tel.listener = ev
        a, b = _attempt(0, "5559"), _attempt(1, "5559")
        tel.dial(a)
        tel.dial(b)
        for _ in range(200):
            if b.code != Code.PENDING:
                break
            await asyncio.sleep(0.01)
        tel.close()
        emu.close()
        return a, b, tel
    a, b, tel = asyncio.run(go())
    assert {Code(a.code), Code(b.code)} == {Code.PENDING, Code.BLOCKED}
    assert tel.errors == 1 and tel.launching == 0


def test_messages_carry_their_strategy_template_and_subject():
    """SMS and email went out as 'attempt 17' (the subject: the job's name) whatever the
    strategy's template; now the step's template and subject, filled from the contact, and
    a contact the template cannot fill is not sent (UNDELIVERED), never a broken text."""
    from pathlib import Path
    from types import SimpleNamespace

    from engine.attempt import Attempt, Channel
    from outdial.live.session import LiveSession
    from sim.population import build_flows
    from sim.scenario import build

    data = Path(__file__).resolve().parent / "data"
    steps = {"sms": {"channel": "sms", "address": "phone", "template": "Hi {first_name}"},
             "email": {"channel": "email", "address": "email", "template": "Dear {first_name}",
                       "subject": "Your zip {zip}"}}
    camps = [{"name": ch, "channel": ch, "attempts_per_hour": 10.0,
              "contacts": {"file": "contacts.csv", "default_country_code": "44",
                           "addresses": {steps[ch]["address"]: ch}},
              "strategy": {"windows": "always", "steps": [steps[ch]]}}
             for ch in ("sms", "email")]
    scn = build({"scenario": {"name": "t"}, "telephony": {"ports": 10}, "campaigns": camps},
                base_dir=data)
    flows, _ = build_flows(scn, list(scn.campaigns))
    session = SimpleNamespace(flows=flows)
    sent: list[tuple] = []

    class Client:
        def send_sms(self, to, message, sender="", application="", parameters=""):
            sent.append(("sms", to, message))
            return "MSG-1"

        def send_email(self, to, subject, message, sender="", application="", parameters=""):
            sent.append(("email", to, subject, message))
            return "MSG-2"

    delivered: list[tuple] = []

    class Listener:
        def on_delivered(self, a, ok):
            delivered.append((a.id, ok))

    def attempt(i, job, channel, contact_id):
        c = flows[job].ids.index(contact_id)
        return Attempt(i, job, c, int(channel), 0.0, contact_id, "x", 0, camps[job]["name"])

    async def go():
        tel = EpmTelephony(Client(), EpmTelephonyConfig(poll_s=0.02), Listener(),
                           message=lambda a: LiveSession._message(session, a))
        tel.dial(attempt(1, 0, Channel.SMS, "c01"))
        tel.dial(attempt(2, 1, Channel.EMAIL, "c05"))
        flows[1].cols["first_name"][flows[1].ids.index("c02")] = " "  # nothing to fill
        tel.dial(attempt(3, 1, Channel.EMAIL, "c02"))
        for _ in range(200):
            if len(sent) == 2 and tel.messages == 0:
                break
            await asyncio.sleep(0.01)
        tel.close()
        return tel
    tel = asyncio.run(go())
    assert ("sms", "x", "Hi Ann") in sent
    assert ("email", "x", "Your zip 100-0001", "Dear Ed") in sent
    assert len(sent) == 2 and (3, False) in delivered and tel.errors == 1


def test_a_launch_tells_the_application_whether_its_campaign_runs_amd():
    """The module said the CCXML parameters carry whether AMD is on; they did not, so the
    portal's application could not tell an AMD campaign's calls from the others."""
    launched: list[str] = []

    class Client:
        def launch_ccxml(self, to, application, url, params, launch_timeout_s=60):
            launched.append(params)
            raise EpmError("stop here")

    from engine.attempt import Attempt, Channel

    async def go():
        tel = EpmTelephony(Client(), EpmTelephonyConfig(poll_s=0.02, amd_jobs=frozenset({1}),
                                                        ring_no_answer_s={0: 15.0, 1: 22.5}))
        tel.listener = type("L", (), {"on_failed": lambda self, a, code: None})()
        for j in (0, 1):
            tel.dial(Attempt(j, j, 0, int(Channel.VOICE_AGENT), 0.0, "c", "+1555", 0, "x"))
        for _ in range(100):
            if len(launched) == 2:
                break
            await asyncio.sleep(0.01)
        tel.close()
    asyncio.run(go())
    amd = sorted(dict(p.split("=") for p in s.split(";"))["amd"] for s in launched)
    assert amd == ["0", "1"]
    # and how long it rings unanswered: the campaign's ring_no_answer_s, not the portal's
    # default (the parameters carried no ring timeout)
    ring = sorted(dict(p.split("=") for p in s.split(";"))["ring_no_answer_s"]
                  for s in launched)
    assert ring == ["15", "22.5"]


def test_a_portal_with_no_port_has_answered(ca, tmp_path):
    """A web service reporting 0 ports answered: the run starts and says so, not 'no answer
    from the outcall web service' (the start waited for a port figure over 0)."""
    async def go():
        world = ScriptedPorts(ports=0)
        emu = EpmEmulator(world, {"u": PASSWORD}, ca.server_context())
        emu.start()
        client = EpmClient(emu.url, "u", PASSWORD, verify=str(ca.write(tmp_path)[0]))
        tel = EpmTelephony(client, EpmTelephonyConfig(poll_s=0.02, resources_s=0.05))
        assert not tel.answered
        runner = asyncio.create_task(tel.run())
        for _ in range(200):
            if tel.answered:
                break
            await asyncio.sleep(0.01)
        answered, total, free = tel.answered, tel.resources.total, tel.capacity(True)
        runner.cancel()
        tel.close()
        emu.close()
        assert answered and tel.resource_polls >= 1
        assert total == 0 and free == 0
    asyncio.run(go())

"""CMS real-time socket: field and row parsing (table and fuzz), batches, the server
against the emulator (refreshes, bad input, reconnects)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.backoff import Backoff
from adapters.cms.emulator import CmsEmulator
from adapters.cms.framing import (
    SPLIT_SKILL,
    VDN,
    Layout,
    LayoutError,
    ReportDecoder,
    RowError,
    encode_batch,
    format_duration,
    parse_duration,
    parse_row,
)
from adapters.cms.server import CmsServer, SkillState
from tests.live_helpers import until

ROW = "F1|    12|     4|  1:05|    20|     3|    15|   210|     7|    82|  0:14"


@pytest.mark.parametrize("text,seconds", [("0:00", 0), ("1:05", 65), ("12:59", 779),
                                          ("1:00:01", 3601), ("45", 45)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["1:60", "a:00", "1::2", "-1:00", "1:2:3:4", ""])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_split_skill_row():
    r = parse_row(ROW, SPLIT_SKILL)
    assert r["skill"] == 12 and r["calls_waiting"] == 4 and r["oldest_call_s"] == 65.0
    assert r["agents_staffed"] == 20 and r["agents_available"] == 3
    assert r["service_level"] == pytest.approx(0.82) and r["avg_speed_answer_s"] == 14.0


def test_empty_fields_are_null():
    r = parse_row("F1|  7|   |    |  |  |  |  |  |  |  ", SPLIT_SKILL)
    assert r["skill"] == 7 and r["calls_waiting"] is None and r["oldest_call_s"] is None
    assert SkillState.from_row(r, "skill").service_level is None


@pytest.mark.parametrize("line,match", [
    ("F1|1|2", "fields"),
    (ROW.replace("  1:05", "  1:75"), "oldest_call_s"),
    (ROW.replace("    82", "   182"), "service_level"),
    (ROW.replace("    20", "  twenty"), "agents_staffed"),
    ("F1|      " + "|".join([""] * 10)[1:] + "|", "no skill"),
    ("F2|x", "not a data row"),
])
def test_bad_rows(line, match):
    with pytest.raises(RowError, match=match):
        parse_row(line, SPLIT_SKILL)


def test_vdn_layout_and_round_trip():
    rows = [{"vdn": 3001, "calls_waiting": 2, "oldest_call_s": 75.0, "acd_calls": 9,
             "abandoned": None, "service_level": 0.5, "avg_speed_answer_s": 3.0}]
    dec = ReportDecoder(VDN)
    assert dec.feed(encode_batch(rows, VDN)) == [rows]
    assert format_duration(75) == "1:15"


def test_site_layout_from_config_and_its_errors():
    lay = Layout.from_config("site", {"key": "skill", "columns": [
        ["skill", "int"], ["calls_waiting", "int"], ["service_level", "percent"]]})
    assert parse_row("F1| 5| 1| 90", lay) == {"skill": 5, "calls_waiting": 1,
                                               "service_level": 0.9}
    with pytest.raises(LayoutError, match="kind 'clock'"):
        Layout.from_config("site", {"key": "s", "columns": [["s", "clock"]]})
    with pytest.raises(LayoutError, match="key column"):
        Layout.from_config("site", {"key": "x", "columns": [["s", "int"]]})
    with pytest.raises(LayoutError, match="expected keys"):
        Layout.from_config("site", {"columns": [["s", "int"]]})


def test_decoder_batches_split_reads_and_bad_lines():
    good = encode_batch([parse_row(ROW, SPLIT_SKILL)], SPLIT_SKILL)
    stream = (b"F0|header line\n" + b"F1|\xff\xfe\n" + ROW.replace("1:05", "x:05").encode()
              + b"\n" + b"F1|" + b"9" * 10000 + b"\n" + good + good)
    dec = ReportDecoder(SPLIT_SKILL, max_line=4096)
    out = []
    for i in range(0, len(stream), 7):
        out += dec.feed(stream[i:i + 7])
    assert len(out) == 2 and out[0][0]["skill"] == 12 and out[1][0]["skill"] == 12
    assert dec.bad_lines == 3  # non-ASCII, bad duration, over-long; the header is ignored


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=500), st.integers(1, 50))
def test_fuzz_garbage_then_a_good_batch(junk, step):
    good = encode_batch([parse_row(ROW, SPLIT_SKILL)], SPLIT_SKILL)
    stream = junk + b"\n" + good
    dec = ReportDecoder(SPLIT_SKILL)
    out = []
    for i in range(0, len(stream), step):
        out += dec.feed(stream[i:i + step])
    assert out and out[-1] == [parse_row(ROW, SPLIT_SKILL)]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_fuzz_row_parser_raises_only_row_error(text):
    try:
        parse_row(text, SPLIT_SKILL)
    except RowError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.lists(st.fixed_dictionaries({
    "skill": st.integers(0, 9999), "calls_waiting": st.none() | st.integers(0, 999),
    "oldest_call_s": st.none() | st.integers(0, 7200).map(float),
    "agents_staffed": st.none() | st.integers(0, 999),
    "agents_available": st.none() | st.integers(0, 999),
    "agents_on_acd": st.none() | st.integers(0, 999), "acd_calls": st.integers(0, 99999),
    "abandoned": st.integers(0, 9999),
    "service_level": st.none() | st.integers(0, 100).map(lambda p: p / 100),
    "avg_speed_answer_s": st.none() | st.integers(0, 600).map(float)}), max_size=5))
def test_fuzz_round_trip(rows):
    out = ReportDecoder(SPLIT_SKILL).feed(encode_batch(rows, SPLIT_SKILL))
    assert out == [rows]


class World:
    def __init__(self):
        self.waiting = 0

    def skill_rows(self):
        self.waiting += 1
        return [{"skill": 1, "calls_waiting": self.waiting, "oldest_call_s": 30.0,
                 "agents_staffed": 10, "agents_available": 2, "service_level": 0.8},
                {"skill": 2, "calls_waiting": 0, "agents_staffed": 5}]


class Listener:
    def __init__(self):
        self.refreshes = []

    def on_skill_states(self, states):
        self.refreshes.append(list(states))


def test_server_takes_refreshes_survives_garbage_and_accepts_reconnects():
    async def go():
        server = CmsServer(SPLIT_SKILL)
        lis = Listener()
        server.subscribe(lis)
        await server.start()
        emu = CmsEmulator(World(), server.port, interval_s=0.02,
                          backoff=Backoff(0.01, 0.05))
        emu.start()
        await until(lambda: server.batches >= 3)
        s1 = server.snapshot()[1]
        assert s1.calls_waiting >= 1 and s1.oldest_call_s == 30.0
        assert s1.service_level == pytest.approx(0.8) and s1.agents_available == 2
        assert server.snapshot()[2].agents_available is None
        await emu.send_raw(b"\x00\xffgarbage|||\nF1|1|2\n")
        n = server.batches
        await until(lambda: server.batches >= n + 2)
        assert server.bad_lines >= 2
        emu.drop()
        n = server.batches
        await until(lambda: emu.connects >= 2 and server.batches >= n + 2)
        assert server.connections >= 2
        assert lis.refreshes[-1][0].skill == 1 and server.age_s() < 1.0
        await emu.close()
        await server.close()
    asyncio.run(go())


def test_emulator_refuses_a_non_loopback_target():
    with pytest.raises(ValueError, match="loopback"):
        CmsEmulator(World(), 1, host="10.0.0.1")

"""Memory, JSON-lines and tee sinks; a simulated campaign gives the same events in each."""

from __future__ import annotations

import json
import math
import os
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.events import EVENT_FIELDS
from engine.interfaces import EventSink
from engine.sinks import (
    JsonlSink,
    MemorySink,
    SinkError,
    TeeSink,
    dump_bytes,
    dumps,
    read_jsonl,
)
from tests.eventcheck import check_event, simulate_into

E1 = {"type": "JOB", "job_id": 0, "state": "RUNNING"}
E2 = {"type": "AGENT", "agent_id": 3, "state": "READY", "note": "é"}


def test_sinks_are_event_sinks(tmp_path):
    with JsonlSink(tmp_path / "e.jsonl") as j:
        for s in (MemorySink(), j, TeeSink(MemorySink())):
            assert isinstance(s, EventSink) and s.enabled


def test_memory_sink_groups_by_topic_in_order():
    m = MemorySink()
    m.publish("POM.Default.JOB", E1)
    m.publish("POM.Default.AGENT", E2)
    m.publish("POM.Default.JOB", E2)
    assert len(m) == 3
    assert m.by_topic() == {"POM.Default.JOB": [E1, E2], "POM.Default.AGENT": [E2]}


def test_jsonl_round_trip_and_every_line_is_on_disk_at_once(tmp_path):
    path = tmp_path / "events.jsonl"
    with JsonlSink(path) as sink:
        sink.publish("POM.Default.JOB", E1)
        # Line-buffered: the event is in the file before close, as a whole line.
        assert path.read_text(encoding="utf-8").endswith("\n")
        sink.publish("POM.Default.AGENT", E2)
        assert sink.count == 2
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == {"topic": "POM.Default.JOB", "event": E1}
    assert read_jsonl(path) == [("POM.Default.JOB", E1), ("POM.Default.AGENT", E2)]


def test_jsonl_truncates_or_appends(tmp_path):
    path = tmp_path / "events.jsonl"
    with JsonlSink(path) as s:
        s.publish("t", E1)
    with JsonlSink(path, append=True) as s:
        s.publish("t", E2)
    assert read_jsonl(path) == [("t", E1), ("t", E2)]
    with JsonlSink(path) as s:
        s.publish("t", E2)
    assert read_jsonl(path) == [("t", E2)]


def test_jsonl_errors_name_the_path(tmp_path):
    missing_dir = tmp_path / "no" / "such" / "events.jsonl"
    with pytest.raises(SinkError, match=re.escape(f"cannot open event file {missing_dir}")):
        JsonlSink(missing_dir)
    with pytest.raises(SinkError, match=re.escape(f"cannot open event file {tmp_path}")):
        JsonlSink(tmp_path)  # a directory
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(SinkError, match=r"ro/events\.jsonl"):
            JsonlSink(ro / "events.jsonl")
    sink = JsonlSink(tmp_path / "x.jsonl")
    sink.close()
    sink.close()  # idempotent
    with pytest.raises(SinkError, match=r"x\.jsonl is closed"):
        sink.publish("t", E1)


def test_jsonl_refuses_values_that_are_not_strict_json(tmp_path):
    with JsonlSink(tmp_path / "e.jsonl") as sink, pytest.raises(ValueError):
        sink.publish("t", {"x": math.nan})


def test_read_jsonl_names_file_and_line_of_a_bad_line(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text('{"topic": "t", "event": {}}\n{"topic": "t", "eve', encoding="utf-8")
    with pytest.raises(SinkError, match=r"e\.jsonl:2: not a"):
        read_jsonl(path)
    with pytest.raises(SinkError, match="cannot read event file"):
        read_jsonl(tmp_path / "absent.jsonl")


def test_tee_sink_feeds_every_enabled_sink():
    class Off:
        enabled = False

        def publish(self, topic, event):  # pragma: no cover
            raise AssertionError("disabled")

    a, b = MemorySink(), MemorySink()
    tee = TeeSink(a, Off(), b)
    tee.publish("t", E1)
    assert a.events == b.events == [("t", E1)]
    assert not TeeSink(Off()).enabled


def test_simulated_campaign_memory_and_jsonl_agree(tmp_path):
    mem = MemorySink()
    simulate_into(mem, seed=1)
    path = tmp_path / "campaign.jsonl"
    with JsonlSink(path) as j:
        simulate_into(j, seed=1)
    from_file = read_jsonl(path)
    assert len(mem.events) > 100
    assert from_file == mem.events
    for t, e in mem.events:
        check_event(t, e)
    kinds = {e["type"] for _, e in mem.events}
    assert {"ATTEMPT_CREATED", "ATTEMPT_COMPLETED", "ENRICHEDATTEMPTRESULT", "AGENT"} <= kinds
    assert kinds <= set(EVENT_FIELDS)
    created = [e for _, e in mem.events if e["type"] == "ATTEMPT_CREATED"]
    done = [e for _, e in mem.events if e["type"] == "ATTEMPT_COMPLETED"]
    rich = [e for _, e in mem.events if e["type"] == "ENRICHEDATTEMPTRESULT"]
    assert len(done) == len(rich) and {e["attempt_id"] for e in done} <= \
        {e["attempt_id"] for e in created}


@settings(max_examples=100, deadline=None)
@given(event=st.dictionaries(
    st.text(max_size=8),
    st.one_of(st.none(), st.booleans(), st.integers(-2**62, 2**62), st.text(max_size=20),
              st.floats(allow_nan=False, allow_infinity=False),
              st.dictionaries(st.text(max_size=4), st.floats(allow_nan=False,
                                                             allow_infinity=False),
                              max_size=3)),
    max_size=8))
def test_an_event_reads_back_as_the_standard_library_would_write_it(event):
    """orjson's compact bytes hold the same JSON value as json.dumps (only float spelling
    may differ: 1e-5 for 1e-05)."""
    assert json.loads(dump_bytes(event)) == json.loads(json.dumps(event))
    assert dumps(event) == dump_bytes(event).decode()


_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-2**62, 2**62), st.text(max_size=12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-2**62, 2**62).map(np.int64), st.floats(-1e9, 1e9).map(np.float64),
    st.booleans().map(np.bool_))


@settings(max_examples=150, deadline=None)
@given(event=st.dictionaries(
    st.one_of(st.text(max_size=8), st.integers(-99, 99)),
    st.one_of(_SCALARS, st.dictionaries(st.text(max_size=4), _SCALARS, max_size=3),
              st.lists(_SCALARS, max_size=3)),
    max_size=8))
def test_plain_events_serialise_as_with_numpy_and_non_string_keys_allowed(event):
    """dump_bytes first tries orjson without its options (the engine's events are plain):
    every event gives the bytes of the one call with both options."""
    import orjson

    want = orjson.dumps(event, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
    assert dump_bytes(event) == want


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused_even_nested_and_none_is_null(bad):
    for event in ({"x": bad}, {"r": {"a": 1.0, "b": bad}}, {"l": [1.0, bad]}):
        with pytest.raises(ValueError):
            dump_bytes(event)
    assert dump_bytes({"x": None, "y": np.float64(2.5)}) == b'{"x":null,"y":2.5}'
    with pytest.raises(ValueError):  # the numpy path is as strict
        dump_bytes({"x": np.float64(math.nan), "n": np.int64(1)})


def test_appending_after_a_line_cut_off_drops_the_torn_tail_not_the_next_event(tmp_path):
    # a full disk (or a kill mid-write) leaves a last line without its newline; its event
    # was never confirmed, so the outbox publishes it again: appended onto the torn bytes,
    # it and the file (read_jsonl) were lost
    p = tmp_path / "e.jsonl"
    with JsonlSink(p) as s:
        s.publish("T", {"outbox_seq": 1})
        s.publish("T", {"outbox_seq": 2})
    whole = p.read_bytes()
    p.write_bytes(whole + b'{"topic": "T", "event": {"outbo')  # the write that failed
    with JsonlSink(p, append=True) as s:
        s.publish("T", {"outbox_seq": 3})
    assert [e["outbox_seq"] for _, e in read_jsonl(p)] == [1, 2, 3]
    p.write_bytes(b'{"topic"')  # torn and alone
    with JsonlSink(p, append=True) as s:
        s.publish("T", {"outbox_seq": 4})
    assert [e["outbox_seq"] for _, e in read_jsonl(p)] == [4]


def test_a_tail_that_is_no_json_line_is_left_alone(tmp_path):
    # only a JSON line cut short is cut: a binary file given as the events file by mistake
    # is not truncated
    p = tmp_path / "x.bin"
    p.write_bytes(b"SQLite format 3\x00\n\x00\x01\x02")
    with JsonlSink(p, append=True) as s:
        s.publish("T", {"outbox_seq": 1})
    assert p.read_bytes().startswith(b"SQLite format 3\x00\n\x00\x01\x02{")

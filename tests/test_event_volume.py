"""The event-volume measure: exact serialised sizes, whether it gets an event's dict or only
its values (the publisher's frequent events)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.event_volume import EventVolume
from engine.events import EVENT_FIELDS, EVENT_KEYS, topic
from engine.sinks import MemorySink, dump_bytes
from tests.eventcheck import check_event, simulate_into

_FLOATS = st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                    st.sampled_from([-1.0, 0.0, 1e-7, 3600.0]))
_BY_TYPE = {
    str: st.text(max_size=12),  # quotes, backslashes, control and non-ASCII characters
    int: st.integers(-2**63, 2**63 - 1),
    float: _FLOATS,
    bool: st.booleans(),
    dict: st.dictionaries(st.text(max_size=6), st.integers(0, 10**6), max_size=3),
}


@st.composite
def event_values(draw):
    """An event type and values of its contract's types; now and then one non-finite."""
    event_type = draw(st.sampled_from(sorted(EVENT_FIELDS)))
    values = [draw(_BY_TYPE[t]) for t, _ in EVENT_FIELDS[event_type].values()]
    values[EVENT_KEYS[event_type].index("time_s")] = draw(st.floats(0.0, 7200.0))
    # an event's type field is its type (a drawn 'AGENT' in a JOB event was measured as an
    # AGENT event by its dict, as a JOB one by its values)
    values[EVENT_KEYS[event_type].index("type")] = event_type
    if draw(st.integers(0, 9)) == 0:
        floats = [i for i, (t, _) in enumerate(EVENT_FIELDS[event_type].values())
                  if t is float and EVENT_KEYS[event_type][i] != "time_s"]
        if floats:
            values[draw(st.sampled_from(floats))] = draw(st.sampled_from(
                [math.nan, math.inf, -math.inf]))
    return event_type, tuple(values)


def _measure(publish, *args):
    try:
        publish(*args)
    except ValueError:
        return "refused"
    return None


@settings(max_examples=300, deadline=None)
@given(ev=event_values())
def test_values_are_measured_as_their_event(ev):
    """publish_values counts exactly the events and bytes publish counts for the dict, and
    refuses what it refuses."""
    event_type, values = ev
    t = topic("Acme", event_type)
    by_dict, by_values = EventVolume(0.0, 3600.0), EventVolume(0.0, 3600.0)
    a = _measure(by_dict.publish, t, dict(zip(EVENT_KEYS[event_type], values, strict=True)))
    b = _measure(by_values.publish_values, t, event_type, values)
    assert a == b
    assert by_values.as_dict() == by_dict.as_dict()


class _ValuesMemory(MemorySink):
    """Keeps what the publisher hands a values sink, as the dicts they stand for."""

    def publish_values(self, topic, event_type, values):
        self.events.append((topic, dict(zip(EVENT_KEYS[event_type], values, strict=True))))


def test_a_values_sink_gets_the_events_a_dict_sink_gets():
    """The same simulated run publishes the same events, byte for byte, through either path,
    and a volume sink alone measures what the dicts measure."""
    plain, values = MemorySink(), _ValuesMemory()
    simulate_into(plain)
    simulate_into(values)
    assert len(values) == len(plain) > 0
    assert {e["type"] for _, e in values.events} >= {
        "ATTEMPT_CREATED", "ATTEMPT_UPDATED", "ATTEMPT_COMPLETED", "ENRICHEDATTEMPTRESULT",
        "AGENT", "AGENTSTATISTICS", "JOBSTATISTICS"}
    for (t1, e1), (t2, e2) in zip(plain.events, values.events, strict=True):
        assert t1 == t2 and dump_bytes(e1) == dump_bytes(e2)
        check_event(t2, e2)
    alone, from_dicts = EventVolume(30.0, 200.0), EventVolume(30.0, 200.0)
    simulate_into(alone)
    for t, e in plain.events:
        from_dicts.publish(t, e)
    assert alone.total_events > 0 and alone.as_dict() == from_dicts.as_dict()


def test_dict_events_outside_the_contract_are_counted_by_topic():
    v = EventVolume(0.0, 10.0)
    v.publish("POM.Default.CUSTOM", {"type": "NEW", "time_s": 1.0})
    v.publish("POM.Default.AGENT", {"type": "AGENT", "time_s": 10.0})  # past the window
    assert v.as_dict()["by_type"] == {"CUSTOM": {"events": 1, "bytes": 27}}
    with pytest.raises(ValueError):
        v.publish("POM.Default.CUSTOM", {"type": "NEW", "time_s": 2.0, "x": math.nan})

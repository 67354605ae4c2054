"""The event contract: topics, every event type's fields and types, timings, the docs."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.agents import AgentState
from engine.attempt import Attempt, Channel, Code
from engine.events import (
    ATTEMPT_CHANGES,
    EVENT_FIELDS,
    EVENT_TOPIC,
    EVENT_TYPES,
    EventPublisher,
    JobInfo,
    events_markdown,
    topic,
)
from engine.sinks import MemorySink, dump_bytes
from tests.eventcheck import check_event

DOCS = Path(__file__).resolve().parents[1] / "docs" / "events.md"
JOBS = (JobInfo("sales-mon", "sales", "predictive", "voice_agent"),
        JobInfo("reminders", "billing", "progressive", "sms"))
EPOCH = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def job_stats(**kw) -> dict:
    """JOBSTATISTICS statistics as the director gives them (``JobStats.as_dict()``)."""
    s = {"job_id": 0, "job_name": "sales-mon", "state": "RUNNING", "total_contacts": 1000,
         "processed": 10, "attempted": 30, "connects": 8, "pending_retries": 5, "in_flight": 3,
         "successes": 2, "nuisance_rate_today": 0.01, "nuisance_rate": 0.02,
         "percent_complete": 1.0, "estimated_end_s": None,
         "restrictions": {"checked": 40, "allowed": 38, "dnc": 2}}
    s.update(kw)
    return s


def publisher(org: str = "Default", **kw) -> tuple[EventPublisher, MemorySink]:
    sink = MemorySink()
    return EventPublisher(sink, org, jobs=JOBS, **kw), sink


def connected_call(pub: EventPublisher, dnc: bool = False) -> Attempt:
    """A live answer that waited 1.5 s, talked to agent 7 and ended at 130 s."""
    a = Attempt(3, 0, 12, int(Channel.VOICE_AGENT), 100.0, contact_id="C-12",
                address="+441632960001", step=1, job_name="sales-mon")
    pub.attempt_created(a)
    a.t_answer = 108.0
    pub.attempt_updated(a, "answered")
    pub.attempt_updated(a, "waiting")
    a.t_connect, a.agent = 109.5, 7
    pub.attempt_updated(a, "connected")
    a.t_talk_end = 125.0
    pub.attempt_updated(a, "talk_ended")
    a.t_end, a.code = 125.0, int(Code.LIVE_CONNECTED)
    pub.attempt_completed(a, dnc=dnc)
    return a


# ---------------------------------------------------------------------- topics


def test_topic_names():
    assert topic("Default", "JOB") == "POM.Default.JOB"
    assert topic("", "AGENT") == "POM.Default.AGENT"
    assert topic("Acme", "ENRICHEDATTEMPTRESULT") == "POM.Acme.ENRICHEDATTEMPTRESULT"
    assert topic("Acme", "ATTEMPT_UPDATED") == "POM.Acme.ATTEMPT"
    with pytest.raises(ValueError, match="unknown event type 'CALL'"):
        topic("Default", "CALL")


def test_contract_covers_every_event_type():
    assert set(EVENT_FIELDS) == set(EVENT_TOPIC)
    assert set(EVENT_TOPIC.values()) == set(EVENT_TYPES)
    for kind, spec in EVENT_FIELDS.items():
        assert list(spec)[:5] == ["type", "org", "seq", "timestamp", "time_s"], kind
        for name, (t, doc) in spec.items():
            assert t in (str, int, float, bool, dict), f"{kind}.{name}"
            assert doc, f"{kind}.{name} has no description"


def test_every_event_type_matches_the_contract():
    pub, sink = publisher()
    connected_call(pub)
    pub.agent_state(7, int(AgentState.READY), 0)
    pub.agent_statistics(7, {"logged_in_s": 3600.0, "ready_s": 600.0, "talk_s": 2400.0,
                             "wrap_s": 500.0, "not_ready_s": 100.0, "calls": 12}, job=0)
    pub.job(0, "RUNNING", "started by schedule")
    pub.job_warning(0, "abandon_limit_infeasible", "ofcom", 0.03, 0.05, "over the limit")
    pub.job_statistics(0, job_stats())
    pub.disposition(3, 0, "c3", "+442079460003", 7, "callback", 3600.0, True)
    pub.disposition(4, 0, "c4", "+442079460004", 7, "sale", None, False)
    seen = set()
    for t, e in sink.events:
        check_event(t, e)
        seen.add(e["type"])
    assert seen == set(EVENT_FIELDS)
    assert [e["seq"] for _, e in sink.events] == list(range(len(sink.events)))


def test_other_organisation():
    pub, sink = publisher("Acme")
    connected_call(pub)
    pub.job(1, "PAUSED")
    assert {t for t, _ in sink.events} == {"POM.Acme.ATTEMPT", "POM.Acme.ENRICHEDATTEMPTRESULT",
                                           "POM.Acme.JOB"}
    for t, e in sink.events:
        check_event(t, e, org="Acme")


# ---------------------------------------------------------------------- disabled


class _Off:
    enabled = False

    def publish(self, topic, event):  # pragma: no cover - must never be called
        raise AssertionError("a disabled sink received an event")


@pytest.mark.parametrize("sink", [None, _Off()])
def test_disabled_publisher_publishes_nothing_and_reads_nothing(sink):
    pub = EventPublisher(sink, jobs=JOBS)
    assert not pub.enabled
    junk = object()  # any attribute access on it would raise: nothing is built
    pub.attempt_created(junk)
    pub.attempt_updated(junk, "no such change")
    pub.attempt_completed(junk, dnc=True)
    pub.agent_state(junk, junk, junk)
    pub.agent_statistics(junk, junk)
    pub.job(junk, junk)
    pub.job_statistics(junk, junk)
    assert pub.job_counts(0)["attempts"] == 0


def test_publisher_without_jobs_keeps_the_old_signature():
    sink = MemorySink()
    pub = EventPublisher(sink)
    connected_call(pub)
    pub.agent_state(1, int(AgentState.LOGGED_IN), -1)
    for t, e in sink.events:
        check_event(t, e)
    created = sink.events[0][1]
    assert created["job_name"] == "sales-mon"  # from the attempt itself
    assert created["campaign"] == "" and created["pacing"] == ""
    assert sink.events[-1][1]["job_name"] == ""


# ---------------------------------------------------------------------- content


def test_attempt_fields_follow_the_attempt():
    pub, sink = publisher()
    connected_call(pub, dnc=True)
    events = [e for _, e in sink.events]
    assert [e["type"] for e in events] == (["ATTEMPT_CREATED"] + ["ATTEMPT_UPDATED"] * 4
                                           + ["ATTEMPT_COMPLETED", "ENRICHEDATTEMPTRESULT"])
    assert [e["change"] for e in events[1:5]] == ["answered", "waiting", "connected",
                                                  "talk_ended"]
    created, done, rich = events[0], events[5], events[6]
    assert created["completion_code"] == "PENDING" and created["t_answer_s"] == -1.0
    assert created["campaign"] == "sales" and created["pacing"] == "predictive"
    assert created["channel"] == "voice_agent" and created["contact_id"] == "C-12"
    assert created["address"] == "+441632960001" and created["step"] == 1
    assert done["completion_code"] == "LIVE_CONNECTED" and done["agent_id"] == 7
    assert done["t_connect_s"] == 109.5 and done["t_end_s"] == 125.0
    assert rich["live"] and not rich["nuisance"] and rich["dnc"]
    assert (rich["ring_s"], rich["wait_s"], rich["talk_s"], rich["duration_s"]) == \
        (8.0, 1.5, 15.5, 25.0)
    # Without a clock, each attempt event carries the attempt's latest time.
    assert [e["time_s"] for e in events] == [100.0, 108.0, 108.0, 109.5, 125.0, 125.0, 125.0]


def test_abandon_and_unanswered_timings():
    pub, sink = publisher()
    a = Attempt(1, 0, 4, int(Channel.VOICE_AGENT), 10.0)
    a.t_answer, a.t_end, a.code, a.abandoned = 14.0, 16.0, int(Code.ABANDONED), True
    pub.attempt_completed(a)
    b = Attempt(2, 0, 5, int(Channel.VOICE_AGENT), 10.0)
    b.t_end, b.code = 40.0, int(Code.NO_ANSWER)
    pub.attempt_completed(b)
    rich = [e for t, e in sink.events if t.endswith("ENRICHEDATTEMPTRESULT")]
    ab, na = rich
    assert ab["live"] and ab["nuisance"] and not ab["dnc"]
    assert (ab["ring_s"], ab["wait_s"], ab["talk_s"], ab["duration_s"]) == (4.0, 2.0, 0.0, 6.0)
    assert ab["connected_at"] == "" and ab["answered_at"] == "1970-01-01T00:00:14.000Z"
    assert ab["contact_id"] == "4"  # no id: the contact's row
    assert not na["live"] and not na["nuisance"]
    assert (na["ring_s"], na["wait_s"], na["talk_s"], na["duration_s"]) == (30.0, 0.0, 0.0, 30.0)
    assert na["answered_at"] == ""


def test_timestamps_from_epoch_and_clock():
    now = [0.0]
    pub, sink = publisher(clock=lambda: now[0], epoch=EPOCH)
    now[0] = 12.345
    pub.job(0, "RUNNING")
    now[0] = 3600.0
    pub.agent_state(2, "NOT_READY", 0)
    job, agent = (e for _, e in sink.events)
    assert job["timestamp"] == "2025-01-06T09:00:12.345Z" and job["time_s"] == 12.345
    assert agent["timestamp"] == "2025-01-06T10:00:00.000Z" and agent["state"] == "NOT_READY"
    assert pub.iso(0.0) == "2025-01-06T09:00:00.000Z"


def test_epoch_in_another_zone_is_converted_and_naive_refused():
    from datetime import timezone

    pub = EventPublisher(MemorySink(), epoch=datetime(2025, 1, 6, 10, 0,
                                                     tzinfo=timezone(timedelta(hours=1))))
    assert pub.iso(1.5) == "2025-01-06T09:00:01.500Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        EventPublisher(MemorySink(), epoch=datetime(2025, 1, 6))


def test_iso_matches_datetime_arithmetic():
    import random

    rng = random.Random(5)
    for epoch in (EPOCH, datetime(2025, 3, 30, 0, 59, 59, 999_600, tzinfo=UTC)):
        pub = EventPublisher(MemorySink(), epoch=epoch)
        for t in [0.0, 0.0005, 0.9995, 59.9999996, 86_399.9996, 1e-7] + \
                [rng.uniform(0, 200_000) for _ in range(2000)]:
            want = (epoch + timedelta(seconds=t)).isoformat(timespec="milliseconds")
            assert pub.iso(t) == want.replace("+00:00", "Z"), (epoch, t)


def test_iso_repeated_and_interleaved_instants_match_datetime_arithmetic():
    """The last timestamp kept for the next call gives the same text as a fresh one."""
    pub = EventPublisher(MemorySink(), epoch=EPOCH)
    for t in [5.0, 5.0, 5.0004, 5.0, 0.0, -0.0, 0.0, 7, 7.0, np.float64(7.0), 86_400.25]:
        want = (EPOCH + timedelta(seconds=float(t))).isoformat(timespec="milliseconds")
        assert pub.iso(t) == want.replace("+00:00", "Z"), t
    for bad in (math.nan, math.inf):
        with pytest.raises((ValueError, OverflowError)):
            pub.iso(bad)


def test_unknown_attempt_change_is_refused():
    pub, _ = publisher()
    a = Attempt(0, 0, 0, int(Channel.VOICE_AGENT), 0.0)
    with pytest.raises(ValueError, match="unknown attempt change 'ringing'"):
        pub.attempt_updated(a, "ringing")
    assert set(ATTEMPT_CHANGES) == {"answered", "waiting", "connected", "talk_ended"}


def test_job_statistics_take_the_directors_stats_and_count_live_answers():
    pub, sink = publisher()
    connected_call(pub)
    b = Attempt(9, 0, 5, int(Channel.VOICE_AGENT), 10.0)
    pub.attempt_created(b)
    assert pub.job_counts(0) == {"attempts": 2, "completed": 1, "in_flight": 1,
                                 "live_answers": 1, "connected": 1, "abandoned": 0}
    pub.job_statistics(0, job_stats())
    stats = sink.events[-1][1]
    check_event(sink.events[-1][0], stats)
    assert stats["live_answers"] == 1 and stats["abandoned"] == 0  # the publisher's counts
    assert stats["estimated_end_s"] == -1.0 and stats["restrictions"]["dnc"] == 2
    assert stats["job_name"] == "sales-mon" and stats["channel"] == "voice_agent"
    pub.job_statistics(0, job_stats(abandoned=4, estimated_end_s=7200))  # given counts win
    stats = sink.events[-1][1]
    check_event(sink.events[-1][0], stats)
    assert stats["abandoned"] == 4 and stats["estimated_end_s"] == 7200.0


def test_job_statistics_name_comes_from_stats_without_job_info():
    sink = MemorySink()
    EventPublisher(sink).job_statistics(5, job_stats(job_name="other"))
    assert sink.events[0][1]["job_name"] == "other" and sink.events[0][1]["job_id"] == 5


@pytest.mark.parametrize(("stats", "match"), [
    (job_stats(bogus=1), r"unknown \['bogus'\]"),
    ({k: v for k, v in job_stats().items() if k != "successes"}, r"missing \['successes'\]"),
    (job_stats(nuisance_rate=math.nan), "'nuisance_rate' must be finite"),
    (job_stats(nuisance_rate="high"), "'nuisance_rate' must be float"),
    (job_stats(restrictions=3), "'restrictions' must be a mapping"),
    (job_stats(processed=2.5), "'processed' must be int"),
])
def test_job_statistics_are_validated(stats, match):
    pub, _ = publisher()
    with pytest.raises(ValueError, match=match):
        pub.job_statistics(0, stats)


def test_agent_statistics_derive_occupancy():
    pub, sink = publisher()
    pub.agent_statistics(3, {"logged_in_s": 1000.0, "ready_s": 200.0, "talk_s": 600.0,
                             "wrap_s": 150.0, "not_ready_s": 50.0, "calls": 4})
    e = sink.events[-1][1]
    check_event(sink.events[-1][0], e)
    assert e["occupancy"] == 0.75 and e["job_id"] == -1 and e["job_name"] == ""
    with pytest.raises(ValueError, match=r"missing \['calls'\]"):
        pub.agent_statistics(3, {"logged_in_s": 1.0, "ready_s": 0.0, "talk_s": 0.0,
                                 "wrap_s": 0.0, "not_ready_s": 0.0})


_SECONDS = st.floats(0.0, 1e5)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(_SECONDS, _SECONDS, _SECONDS, _SECONDS, _SECONDS,
                               st.integers(0, 10_000), st.integers(-1, 3)),
                     min_size=0, max_size=6),
       bad=st.sampled_from([None, "nan", "inf", "float_calls", "bool_calls", "missing",
                            "extra", "list", "float32", "occupancy"]))
def test_all_agents_statistics_are_each_agents_statistics(rows, bad):
    """agents_statistics (every agent from arrays at once) publishes exactly the events, and
    raises exactly the errors, of agent_statistics agent by agent; ``bad`` spoils one input
    as a caller might."""
    keys = ("logged_in_s", "ready_s", "talk_s", "wrap_s", "not_ready_s")
    stats = {k: np.array([r[i] for r in rows], dtype=np.float64) for i, k in enumerate(keys)}
    stats["calls"] = np.array([r[5] for r in rows], dtype=np.int64)
    jobs = np.array([r[6] for r in rows], dtype=np.int64)
    if rows and bad in ("nan", "inf"):
        stats["talk_s"][-1] = math.nan if bad == "nan" else math.inf
    elif bad == "float_calls":
        stats["calls"] = stats["calls"] + 0.5
    elif bad == "bool_calls":
        stats["calls"] = stats["calls"] > 2
    elif bad == "missing":
        del stats["wrap_s"]
    elif bad == "extra":
        stats["breaks_s"] = stats["ready_s"]
    elif bad == "list":
        stats["ready_s"] = stats["ready_s"].tolist()
    elif bad == "float32":
        stats["ready_s"] = stats["ready_s"].astype(np.float32)
    elif bad == "occupancy":
        stats["occupancy"] = np.full(len(rows), 0.5)

    def run(each: bool):
        now = [0.0]
        pub, sink = publisher(clock=lambda: now[0], epoch=EPOCH)
        now[0] = 61.25
        pub.job(0, "RUNNING")
        try:
            if each:
                for a, job in enumerate(jobs):
                    pub.agent_statistics(a, {k: v[a] for k, v in stats.items()}, job)
            else:
                pub.agents_statistics(stats, jobs)
        except ValueError as exc:
            return sink.events, str(exc), pub._seq
        return sink.events, None, pub._seq

    want, got = run(each=True), run(each=False)
    assert [(t, dump_bytes(e)) for t, e in got[0]] == [(t, dump_bytes(e)) for t, e in want[0]]
    assert got[1:] == want[1:]
    for t, e in got[0]:
        check_event(t, e)


def test_all_agents_statistics_need_one_job_per_agent():
    pub, sink = publisher()
    stats = {k: np.zeros(3) for k in ("logged_in_s", "ready_s", "talk_s", "wrap_s",
                                      "not_ready_s")}
    stats["calls"] = np.zeros(3, dtype=np.int64)
    with pytest.raises(ValueError, match="of 2 agents"):
        pub.agents_statistics(stats, [0, 1])
    assert not sink.events


def test_numpy_values_become_plain_json_types():
    import numpy as np

    pub, sink = publisher()
    a = Attempt(np.int64(4), np.int64(1), np.int64(2), np.int64(int(Channel.SMS)),
                np.float64(5.0))
    a.t_answer, a.t_end, a.code = np.float64(6.0), np.float64(6.0), np.int64(int(Code.DELIVERED))
    pub.attempt_completed(a)
    pub.agent_state(np.int64(1), np.int64(int(AgentState.BUSY)), np.int64(1))
    for t, e in sink.events:
        check_event(t, e)
    assert sink.events[0][1]["job_name"] == "reminders"


# ---------------------------------------------------------------------- docs


def test_docs_are_generated_from_the_contract():
    assert DOCS.read_text(encoding="utf-8") == events_markdown(), (
        "docs/events.md is stale: python -m engine.events > docs/events.md")
    text = events_markdown()
    for kind, spec in EVENT_FIELDS.items():
        assert f"## {kind}" in text
        for name in spec:
            assert f"| `{name}` |" in text


def test_the_documented_line_format_and_outbox_seq_are_what_a_live_run_writes(tmp_path):
    """docs/events.md says how a JSON-lines file holds an event and that events relayed
    from the outbox carry ``outbox_seq``: both as the sink and the relay do it."""
    import json

    from engine.outbox import OutboxRelay, OutboxSink
    from engine.sinks import JsonlSink
    from engine.store_memory import MemoryStore

    store = MemoryStore()
    OutboxSink(store).publish("POM.Default.JOB", {"type": "JOB", "job_id": 3})
    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path)
    assert OutboxRelay(store, sink).relay() == 1
    sink.close()
    line = json.loads(path.read_text().splitlines()[0])
    assert set(line) == {"topic", "event"} and line["topic"] == "POM.Default.JOB"
    assert line["event"]["outbox_seq"] >= 0 and line["event"]["job_id"] == 3
    text = events_markdown()
    assert "`outbox_seq`" in text and '`{"topic": "POM.Default.AGENT", "event": {...}}`' in text

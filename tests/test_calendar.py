"""The run calendar: calling windows and local days as run-clock spans, against the wall
clock read at the instant (``CallingWindows.is_open``, ``datetime.combine``)."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.calendar import WEEK_S, RunCalendar, offset_segments
from engine.dnc import DncList, DncRegistry
from engine.rules import RuleConfig, RuleEngine
from engine.strategy import CallingWindows
from tests.test_strategy import _windows, _zone_and_instant


def utc(*a) -> datetime:
    return datetime(*a, tzinfo=UTC)


EPOCH = utc(2024, 3, 30, 12)


@settings(max_examples=300, deadline=None)
@given(_windows(), _zone_and_instant(), st.integers(-3 * 86400, 3 * 86400))
def test_spans_are_open_exactly_when_the_wall_clock_is_in_a_window(w, zone_and_instant,
                                                                    us):
    zone_name, t = zone_and_instant
    t += timedelta(microseconds=us)  # off whole seconds too
    tz = ZoneInfo(zone_name)
    cal = RunCalendar(EPOCH)
    spans = cal.windows(w, zone_name)
    s = cal.seconds(t)
    assert spans.is_open(s) == w.is_open(t, tz)
    nxt = spans.next_open(s)
    assert nxt >= s and w.is_open(cal.at(nxt), tz)
    if nxt > s:  # the instant before the opening is shut
        assert not w.is_open(cal.at(nxt) - timedelta(microseconds=1), tz)


@settings(max_examples=200, deadline=None)
@given(_windows(), _zone_and_instant(), st.lists(st.integers(-86400, 86400), max_size=6))
def test_the_span_holding_an_instant_is_open_throughout_and_shut_around(w, zone_and_instant,
                                                                        steps):
    # ``span_at`` is kept by the engine and trusted until the clock leaves it: every
    # instant inside is open, and it agrees with ``is_open`` at the instant asked
    zone_name, t = zone_and_instant
    cal = RunCalendar(EPOCH)
    spans = cal.windows(w, zone_name)
    s = cal.seconds(t)
    for d in [0, *steps]:
        u = s + d
        got = spans.span_at(u)
        assert (got is not None) == spans.is_open(u)
        if got is not None:
            a, b = got
            assert a <= u < b
            for x in (a, (a + b) / 2, b - 1e-3):
                assert spans.is_open(x)


def test_a_window_crossing_the_spring_change_in_london():
    w = CallingWindows.parse("Sun 00:30-03:00")
    cal = RunCalendar(EPOCH)
    # 31 March 2024: 01:00 GMT jumps to 02:00 BST. Open 00:30 GMT (00:30 UTC) to 03:00 BST
    # (02:00 UTC): 90 minutes of wall clock with an hour skipped.
    got = cal.windows(w, "Europe/London").spans(cal.seconds(utc(2024, 3, 31)),
                                                 cal.seconds(utc(2024, 4, 1)))
    assert [(cal.at(a), cal.at(b)) for a, b in got] == [(utc(2024, 3, 31, 0, 30),
                                                          utc(2024, 3, 31, 2))]


def test_offset_changes_are_found_to_the_second():
    tz = ZoneInfo("Australia/Lord_Howe")  # 30-minute DST
    t0, t1 = utc(2024, 4, 1).timestamp(), utc(2024, 4, 10).timestamp()
    segs = offset_segments(tz, t0, t1)
    assert [(datetime.fromtimestamp(a, UTC), off / 3600) for a, _, off in segs] == [
        (utc(2024, 4, 1), 11.0), (utc(2024, 4, 6, 15), 10.5)]
    assert segs[-1][1] == t1


def test_spans_cover_any_reach_of_the_run_clock_backwards_and_forwards():
    w = CallingWindows.parse("Mon-Fri 09:00-17:00")
    cal = RunCalendar(EPOCH)
    spans = cal.windows(w, "America/New_York")
    assert cal.windows(w, "America/New_York") is spans  # converted once per windows, zone
    for days in (400, -30, 3, 2000):
        t = utc(2024, 3, 30, 12) + timedelta(days=days)
        s = cal.seconds(t)
        assert spans.is_open(s) == w.is_open(t, ZoneInfo("America/New_York"))
        assert cal.at(spans.next_open(s)) == w.next_open(t, ZoneInfo("America/New_York"))
    assert spans.next_open(10 * WEEK_S) <= 10 * WEEK_S + 3 * 86400


@settings(max_examples=200, deadline=None)
@given(_zone_and_instant())
def test_local_days_begin_at_local_midnight(zone_and_instant):
    zone_name, t = zone_and_instant
    tz = ZoneInfo(zone_name)
    cal = RunCalendar(EPOCH)
    start, end = cal.days(zone_name).bounds(cal.seconds(t))
    d = t.astimezone(tz).date()
    want = (datetime.combine(d, time(0), tzinfo=tz).astimezone(UTC),
            datetime.combine(d + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC))
    assert (cal.at(start), cal.at(end)) == want


def test_unknown_zones_and_naive_epochs_are_refused():
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        RunCalendar(EPOCH).windows(CallingWindows.always(), "Mars/Olympus")
    with pytest.raises(ValueError, match="aware UTC datetime"):
        RunCalendar(datetime(2024, 1, 1))


# ---------------------------------------------------------------------- the rules' shortcut


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([None, 0, 1]), st.sampled_from([None, 0, 2]),
       st.sampled_from([(), ("c0",)]), st.sampled_from([(), ("+442079460001",)]),
       st.sampled_from([None, ("voice",), ("sms",)]), st.sampled_from([(), ("+442079460001",)]),
       st.sampled_from(["voice", "sms"]))
def test_a_fresh_contacts_shortcut_answers_as_the_full_rules(per_day, total, blocked_ids,
                                                              blocked_addr, channels, dnc, ch):
    cfg = RuleConfig(max_attempts_per_day_contact=per_day, max_attempts_total_address=total,
                     blocked_contacts=blocked_ids, blocked_addresses=blocked_addr,
                     channels=channels)
    cal = RunCalendar(EPOCH)
    contact = {"id": "c0", "timezone": "Europe/London"}
    fast, full = (RuleEngine(cfg, DncRegistry(DncList(dnc))) for _ in range(2))
    a = fast.decide(0, contact, "+442079460001", ch, 10.0, (), cal, normalised=True)
    b = full.decide(0, contact, "+442079460001", ch, 10.0, (), cal)
    assert (a.allowed, a.rule) == (b.allowed, b.rule)
    assert fast.counts(0) == full.counts(0)

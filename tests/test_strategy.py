"""Contact strategies: calling windows in the contact's local time (DST included), skipping
to the next address, retries by completion code, templates and configuration errors."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.attempt import Channel, Code
from engine.calendar import RunCalendar
from engine.strategy import (
    Blocked,
    CallingWindows,
    Done,
    Message,
    Next,
    PastAttempt,
    Retry,
    Step,
    Strategy,
    StrategyError,
    TemplateError,
    code_of,
    render,
    template_fields,
)

NY, LONDON, TOKYO = ZoneInfo("America/New_York"), ZoneInfo("Europe/London"), ZoneInfo("Asia/Tokyo")
H = 3600


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


STRAT = Strategy((
    Step("voice", "home", windows="Mon-Fri 09:00-21:00", max_attempts=4,
         retries={"busy": (300, 2), "no_answer": (H, 1), "answering_machine": (4 * H, 1),
                  "abandon": (72 * H, 1)}),
    Step("voice", "mobile", windows="Mon-Sat 08:00-21:00", retries={"no_answer": (1800, 1)}),
    Step("sms", "mobile", template="Hi {first_name}, please call us",
         windows="Mon-Sun 10:00-20:00"),
), name="collections")


def contact(tz: str, **kw) -> dict:
    c = {"id": "c1", "home": "+12125550100", "mobile": "+12125550199", "first_name": "Ann",
         "timezone": tz}
    c.update(kw)
    return c


ANN_NY = contact("America/New_York")
MON_10_NY = utc(2024, 6, 3, 14)  # Monday 10:00 EDT


# ---------------------------------------------------------------------- windows


def test_window_text_and_mapping_forms():
    w = CallingWindows.parse("Mon-Sat 09:00-21:00")
    assert w.days[:6] == (((9 * H, 21 * H),),) * 6 and w.days[6] == ()
    w = CallingWindows.parse("Mon-Fri 09:00-12:00,14:00-21:00; Sat 10:00-14:00; Fri 10:00-11:00")
    assert w.days[0] == ((9 * H, 12 * H), (14 * H, 21 * H))
    assert w.days[4] == ((10 * H, 11 * H),)  # the later clause replaces Friday
    assert w.days[5] == ((10 * H, 14 * H),) and w.days[6] == ()
    w = CallingWindows.parse("Fri-Mon 10:00-11:00")  # wraps over the weekend
    assert [bool(d) for d in w.days] == [True, False, False, False, True, True, True]
    w = CallingWindows.parse({"weekdays": "08:30-20:00", "sat": "09:00-12:00", "sun": ""})
    assert w.days[2] == ((8 * H + 1800, 20 * H),) and w.days[6] == ()
    assert CallingWindows.parse("daily 00:00-24:00") == CallingWindows.always()


@pytest.mark.parametrize(("spec", "message"), [
    ("Mon-Sat 21:00-09:00", r"windows\['Mon-Sat'\]: '21:00-09:00': the end must be after"),
    ("Funday 09:00-10:00", "'funday' is not a day"),
    ("Mon 9-17", "'9' is not a time like 09:00"),
    ("Mon 09:00-24:30", "not a time of day"),
    ("Mon 09:00-12:00,11:00-13:00", "ranges overlap"),
    ("", "empty calling windows"),
    ({"mon": ""}, "no open time in the whole week"),
    ("09:00-21:00", "is not like 'Mon-Sat 09:00-21:00'"),
])
def test_window_errors_name_the_field(spec, message):
    with pytest.raises(StrategyError, match=message):
        CallingWindows.parse(spec, "windows")


def test_same_instant_is_judged_on_each_contacts_wall_clock():
    w = CallingWindows.parse("Mon-Sun 09:00-21:00")
    t = MON_10_NY - timedelta(hours=2)  # Monday 12:00 UTC
    assert w.is_open(t, LONDON)  # 13:00 BST
    assert not w.is_open(t, NY)  # 08:00 EDT
    assert not w.is_open(t, TOKYO)  # 21:00 JST: the end is excluded
    assert w.next_open(t, NY) == utc(2024, 6, 3, 13)
    assert w.next_open(t, TOKYO) == utc(2024, 6, 4, 0)  # Tuesday 09:00 JST
    assert w.next_open(t, ZoneInfo("America/Los_Angeles")) == utc(2024, 6, 3, 16)
    assert w.next_open(t, LONDON) == t


def test_openings_follow_dst_changes():
    w = CallingWindows.parse("daily 09:00-21:00")
    # London springs forward on Sunday 31 March 2024 at 01:00 UTC
    assert w.next_open(utc(2024, 3, 29, 22), LONDON) == utc(2024, 3, 30, 9)  # 09:00 GMT
    assert w.next_open(utc(2024, 3, 30, 22), LONDON) == utc(2024, 3, 31, 8)  # 09:00 BST
    # New York falls back on Sunday 3 November 2024 at 06:00 UTC
    assert w.next_open(utc(2024, 11, 2, 2), NY) == utc(2024, 11, 2, 13)  # 09:00 EDT
    assert w.next_open(utc(2024, 11, 3, 2), NY) == utc(2024, 11, 3, 14)  # 09:00 EST
    # a window's close moves with the clock too: 20:59 BST is 19:59 UTC
    assert w.is_open(utc(2024, 3, 31, 19, 59), LONDON)
    assert not w.is_open(utc(2024, 3, 31, 20, 0), LONDON)


def test_opening_inside_the_skipped_hour_is_the_moment_the_clock_jumps():
    w = CallingWindows.parse("Sun 01:30-03:00")
    # 31 March 2024, London: 00:59:59 GMT is followed by 02:00:00 BST (01:00 UTC)
    assert not w.is_open(utc(2024, 3, 31, 0, 59, 59), LONDON)
    assert w.next_open(utc(2024, 3, 31, 0, 0), LONDON) == utc(2024, 3, 31, 1, 0)


def test_repeated_hour_opens_twice_and_a_jump_back_can_open_a_window():
    w = CallingWindows.parse("Sun 01:30-01:45")
    # 3 November 2024, New York: 01:30 EDT is 05:30 UTC, 01:30 EST is 06:30 UTC
    assert w.next_open(utc(2024, 11, 3, 5, 0), NY) == utc(2024, 11, 3, 5, 30)
    assert w.next_open(utc(2024, 11, 3, 5, 50), NY) == utc(2024, 11, 3, 6, 30)
    w = CallingWindows.parse("Sun 01:00-01:10")
    # at 06:00 UTC the wall clock goes back from 01:59:59 EDT to 01:00 EST: inside at once
    assert w.next_open(utc(2024, 11, 3, 5, 20), NY) == utc(2024, 11, 3, 6, 0)


_ZONES = ["Europe/London", "America/New_York", "Australia/Sydney", "Asia/Tokyo",
          "Asia/Kolkata", "Pacific/Chatham", "Australia/Lord_Howe", "America/Santiago"]


@st.composite
def _windows(draw):
    days = []
    for _ in range(7):
        # minutes of the day; early hours are weighted, as clocks change there
        cuts = sorted(draw(st.sets(st.one_of(st.integers(0, 1440), st.integers(0, 240),
                                             st.integers(0, 240)), max_size=4)))
        pairs = [(cuts[i] * 60, cuts[i + 1] * 60) for i in range(0, len(cuts) - 1, 2)]
        days.append(tuple(pairs))
    if not any(days):
        days[draw(st.integers(0, 6))] = ((draw(st.integers(0, 1439)) * 60, 86400),)
    return CallingWindows(tuple(days))


# 2024 clock changes (UTC) of the zones above, to search near them as well as anywhere
_CHANGES = {
    "Europe/London": [utc(2024, 3, 31, 1), utc(2024, 10, 27, 1)],
    "America/New_York": [utc(2024, 3, 10, 7), utc(2024, 11, 3, 6)],
    "Australia/Sydney": [utc(2024, 4, 6, 16), utc(2024, 10, 5, 16)],
    "Pacific/Chatham": [utc(2024, 4, 6, 14), utc(2024, 9, 28, 14)],
    "Australia/Lord_Howe": [utc(2024, 4, 6, 15), utc(2024, 10, 5, 15, 30)],
    "America/Santiago": [utc(2024, 4, 7, 3), utc(2024, 9, 8, 4)],
}


@st.composite
def _zone_and_instant(draw):
    zone_name = draw(st.sampled_from(_ZONES))
    sec = draw(st.integers(0, 59))
    changes = _CHANGES.get(zone_name)
    if changes and draw(st.booleans()):
        near = draw(st.sampled_from(changes))
        t = near + timedelta(minutes=draw(st.integers(-1440, 120)), seconds=sec)
    else:
        t = utc(2024, 1, 1) + timedelta(minutes=draw(st.integers(0, 366 * 1440 - 1)),
                                        seconds=sec)
    return zone_name, t


@settings(max_examples=200, deadline=None)
@given(_windows(), _zone_and_instant())
def test_next_open_is_the_first_open_minute_found_by_brute_force(w, zone_and_instant):
    zone_name, t = zone_and_instant
    tz = ZoneInfo(zone_name)
    got = w.next_open(t, tz)
    assert got >= t and w.is_open(got, tz)
    # window edges and clock changes fall on whole UTC minutes here, so scanning minutes
    # finds the true first open instant
    probe = t if w.is_open(t, tz) else t.replace(second=0) + timedelta(minutes=1)
    while not w.is_open(probe, tz):
        probe += timedelta(minutes=1)
    assert got == probe


# ---------------------------------------------------------------------- next action


def test_a_fresh_contact_inside_its_window_is_tried_at_once():
    a = STRAT.next_action(ANN_NY, [], MON_10_NY)
    assert isinstance(a, Next)
    assert (a.step_index, a.channel, a.field, a.address, a.at) == (
        0, "voice", "home", "+12125550100", MON_10_NY)


def test_closed_for_every_address_blocks_until_the_earliest_opening():
    night = utc(2024, 6, 3, 2)  # Sunday 22:00 in New York, Monday 11:00 in Tokyo
    a = STRAT.next_action(ANN_NY, [], night)
    assert isinstance(a, Blocked)
    # mobile opens at 08:00 EDT (12:00 UTC), before home (09:00) and SMS (10:00)
    assert a.until == utc(2024, 6, 3, 12) and a.at == a.until
    assert (a.next.step_index, a.next.skipped) == (1, (0,))
    assert a.reason == "window"
    tokyo = STRAT.next_action(contact("Asia/Tokyo"), [], night)
    assert isinstance(tokyo, Next) and tokyo.step_index == 0 and tokyo.at == night
    london = STRAT.next_action(contact("Europe/London"), [], night)  # 03:00 BST
    assert isinstance(london, Blocked) and london.until == utc(2024, 6, 3, 7)


def test_window_forbidding_the_current_address_skips_to_the_next():
    saturday = utc(2024, 6, 8, 15)  # Saturday 11:00 EDT: home is Mon-Fri only
    a = STRAT.next_action(ANN_NY, [], saturday)
    assert isinstance(a, Next)
    assert (a.step_index, a.field, a.skipped, a.at) == (1, "mobile", (0,), saturday)
    sunday = utc(2024, 6, 9, 15)  # Sunday 11:00 EDT: only the SMS step is open
    a = STRAT.next_action(ANN_NY, [], sunday)
    assert (a.step_index, a.channel, a.skipped) == (2, "sms", (0, 1))
    # a skipped step is not finished: after the SMS, home comes back on Monday 09:00
    sent = [PastAttempt(sunday, Code.DELIVERED, step=2)]
    a = STRAT.next_action(ANN_NY, sent, sunday)
    assert isinstance(a, Blocked) and a.until == utc(2024, 6, 10, 12)  # mobile, 08:00 Mon


@pytest.mark.parametrize(("codes", "step", "delay_s"), [
    ([Code.BUSY], 0, 300),
    ([Code.BUSY, Code.BUSY], 0, 300),
    ([Code.BUSY, Code.BUSY, Code.BUSY], 1, 0),  # 2 busy retries used: next address
    ([Code.NO_ANSWER], 0, H),
    ([Code.NO_ANSWER, Code.NO_ANSWER], 1, 0),
    ([Code.MACHINE], 0, 4 * H),
    ([Code.ABANDONED], 0, 72 * H),
    ([Code.CUSTOMER_HANGUP], 0, 72 * H),  # a hang-up waiting for an agent is an abandon
    ([Code.INVALID], 1, 0),  # no retry rule: the step is finished
    ([Code.BUSY, Code.NO_ANSWER, Code.BUSY], 0, 300),  # counted per code
    ([Code.BUSY, Code.NO_ANSWER, Code.BUSY, Code.MACHINE], 1, 0),  # step max_attempts=4
])
def test_retries_by_completion_code_with_their_delays(codes, step, delay_s):
    t0 = MON_10_NY
    hist = [PastAttempt(t0 - timedelta(minutes=len(codes) - k), c, step=0)
            for k, c in enumerate(codes)]
    last = hist[-1].at
    a = STRAT.next_action(ANN_NY, hist, t0)
    assert isinstance(a, Next)
    assert a.step_index == step
    assert a.at == (max(t0, last + timedelta(seconds=delay_s)) if step == 0 else t0)


def test_done_on_success_on_completion_and_on_the_attempt_cap():
    t = MON_10_NY
    assert STRAT.next_action(ANN_NY, [PastAttempt(t, Code.LIVE_CONNECTED, 1)], t) == Done(
        "success")
    finished = [PastAttempt(t, Code.INVALID, 0), PastAttempt(t, Code.INVALID, 1),
                PastAttempt(t, Code.DELIVERED, 2)]
    assert STRAT.next_action(ANN_NY, finished, t) == Done("completed")
    capped = Strategy(STRAT.steps, max_attempts=2)
    two = [PastAttempt(t, Code.BUSY, 0), PastAttempt(t, Code.BUSY, 0)]
    assert capped.next_action(ANN_NY, two, t) == Done("max_attempts")
    # blocked-for-capacity attempts never reached anyone: not counted
    blocked = two[:1] + [PastAttempt(t, Code.BLOCKED, 0)] * 5
    assert isinstance(capped.next_action(ANN_NY, blocked, t), Next)


def test_retry_falling_outside_the_window_is_blocked_until_it_opens():
    late = utc(2024, 6, 4, 0, 30)  # Monday 20:30 EDT
    a = STRAT.next_action(ANN_NY, [PastAttempt(late, Code.NO_ANSWER, 0)], late)
    # due 21:30 EDT: every window is shut; mobile opens Tuesday 08:00 EDT
    assert isinstance(a, Blocked)
    assert a.until == utc(2024, 6, 4, 12) and a.next.step_index == 1


def test_retry_across_the_spring_dst_change_opens_at_local_nine():
    s = Strategy((Step("voice", "home", retries={"no_answer": (H, 3)}),),
                 windows="daily 09:00-21:00")
    ann = contact("Europe/London")
    late = utc(2024, 3, 30, 20, 30)  # Saturday 20:30 GMT; due 21:30, closed
    a = s.next_action(ann, [PastAttempt(late, Code.NO_ANSWER)], late)
    assert isinstance(a, Blocked) and a.until == utc(2024, 3, 31, 8)  # 09:00 BST
    # the delay itself is absolute time: 24 h after 10:00 GMT is 11:00 BST
    s24 = Strategy((Step("voice", "home", retries={"busy": (24 * H, 1)}),),
                   windows="daily 09:00-21:00")
    t = utc(2024, 3, 30, 10)
    a = s24.next_action(ann, [PastAttempt(t, Code.BUSY)], t)
    assert isinstance(a, Next) and a.at == utc(2024, 3, 31, 10)
    assert a.at.astimezone(LONDON).hour == 11


def test_empty_address_skips_its_steps_and_missing_fields_are_errors():
    no_home = contact("America/New_York", home=None)
    a = STRAT.next_action(no_home, [], MON_10_NY)
    assert (a.step_index, a.skipped) == (1, ())
    assert STRAT.next_action(contact("UTC", home="", mobile=" "), [], MON_10_NY) == Done(
        "completed")
    with pytest.raises(StrategyError, match="has no field 'home'"):
        STRAT.next_action({"id": "x", "timezone": "UTC", "mobile": "+1"}, [], MON_10_NY)
    with pytest.raises(StrategyError, match="no time zone and there is no default"):
        STRAT.next_action(contact(None), [], MON_10_NY)
    with pytest.raises(StrategyError, match="unknown time zone 'Mars/Base'"):
        STRAT.next_action(contact("Mars/Base"), [], MON_10_NY)
    fallback = Strategy(STRAT.steps, default_timezone="Asia/Tokyo")
    assert fallback.next_action(contact(None), [], utc(2024, 6, 3, 2)).at == utc(2024, 6, 3, 2)


def test_steps_finished_by_the_caller_are_passed_over():
    # e.g. the rule engine refused the home number for good (DNC)
    a = STRAT.next_action(ANN_NY, [], MON_10_NY, finished=[0])
    assert isinstance(a, Next) and (a.step_index, a.skipped) == (1, ())
    assert STRAT.next_action(ANN_NY, [], MON_10_NY, finished=[0, 1, 2]) == Done("completed")


def test_seconds_on_the_run_clock_give_the_same_answers():
    start = MON_10_NY - timedelta(hours=5)
    hist_dt = [PastAttempt(MON_10_NY, Code.BUSY, 0)]
    hist_s = [PastAttempt(5 * H, Code.BUSY, 0)]
    a = STRAT.next_action(ANN_NY, hist_dt, MON_10_NY)
    b = STRAT.next_action(ANN_NY, hist_s, 5.0 * H, run_start=start)
    assert a == b
    with pytest.raises(StrategyError, match="need run_start"):
        STRAT.next_action(ANN_NY, [], 10.0)
    with pytest.raises(StrategyError, match="naive datetime"):
        STRAT.next_action(ANN_NY, [], datetime(2024, 6, 3, 14))
    with pytest.raises(StrategyError, match=r"history\[0\]: attempt still pending"):
        STRAT.next_action(ANN_NY, [PastAttempt(MON_10_NY, Code.PENDING)], MON_10_NY)
    with pytest.raises(StrategyError, match=r"history\[0\]\.step: 7 is not a step"):
        STRAT.next_action(ANN_NY, [PastAttempt(MON_10_NY, Code.BUSY, 7)], MON_10_NY)


_CODES = [Code.BUSY, Code.NO_ANSWER, Code.MACHINE, Code.ABANDONED, Code.INVALID,
          Code.DELIVERED, Code.CUSTOMER_HANGUP, Code.BLOCKED]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 7 * 24 * 60), st.sampled_from(_CODES),
                          st.integers(0, 2)), max_size=6),
       st.integers(0, 14 * 24 * 60), st.sampled_from(_ZONES))
def test_next_action_is_consistent_with_its_own_answer(hist, now_min, zone_name):
    base = utc(2024, 3, 1)
    history = [PastAttempt(base + timedelta(minutes=m), c, step=s) for m, c, s in hist]
    now = base + timedelta(minutes=now_min)
    c = contact(zone_name)
    tz = ZoneInfo(zone_name)
    a = STRAT.next_action(c, history, now)
    if isinstance(a, Done):
        return
    nxt = a.next if isinstance(a, Blocked) else a
    assert nxt.at >= now and nxt.at == a.at
    assert STRAT.windows_of(nxt.step_index).is_open(nxt.at, tz)
    for i in nxt.skipped:
        assert i < nxt.step_index and not STRAT.windows_of(i).is_open(nxt.at, tz)
    # asking again at that moment gives that attempt, at once
    again = STRAT.next_action(c, history, nxt.at)
    assert isinstance(again, Next)
    assert (again.step_index, again.at) == (nxt.step_index, nxt.at)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 7 * 24 * 60), st.sampled_from(_CODES),
                          st.integers(0, 2)), max_size=6),
       st.integers(0, 14 * 24 * 60), st.integers(0, 3 * 24 * 60),
       st.sampled_from(_ZONES), st.sets(st.integers(0, 2), max_size=2))
def test_recheck_gives_decides_answer_or_asks_for_it(hist, now_min, later_min, zone_name,
                                                     finished):
    # the engine re-checks a queued answer when it comes due instead of deciding again:
    # whenever recheck answers, decide (same history and finished steps) answers the same
    cal = RunCalendar(utc(2024, 3, 1))
    history = [PastAttempt(60.0 * m, c, step=s) for m, c, s in hist]
    c = contact(zone_name)
    a = STRAT.decide(c, history, 60.0 * now_min, cal, finished)
    if isinstance(a, Done):
        return
    nxt = a.next if isinstance(a, Blocked) else a
    for t in (nxt.at, nxt.at + 60.0 * later_min, nxt.at - 1.0):
        got = STRAT.recheck(nxt, c, t, cal)
        if t < nxt.at or nxt.skipped:
            assert got is None
        elif got is not None:
            assert got == STRAT.decide(c, history, t, cal, finished)
    assert STRAT.recheck(nxt, c, nxt.at, cal) is not None or nxt.skipped


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 14 * 24 * 60), st.sampled_from(_ZONES),
       st.sampled_from([None, "", "  ", "+12125550100"]),
       st.sampled_from([None, "+12125550199"]))
def test_first_gives_decides_answer_for_a_fresh_contact_or_asks_for_it(now_min, zone_name,
                                                                      home, mobile):
    # fresh contacts are handed out on ``first``'s answer: whenever it answers, decide
    # (no history, no finished steps) answers the same; it answers whenever decide's answer
    # is an attempt now on a step before which no step with an address was skipped
    cal = RunCalendar(utc(2024, 3, 1))
    c = contact(zone_name, home=home, mobile=mobile)
    now = 60.0 * now_min
    want = STRAT.decide(c, [], now, cal)
    got = STRAT.first(c, now, cal)
    if got is None:
        got = STRAT.first(c, now, cal)  # the step's spans are looked up by decide
    if isinstance(want, Next) and not want.skipped:
        assert got == want
    else:
        assert got is None
    assert STRAT.first({"id": "x", "timezone": zone_name}, now, cal) is None  # no field


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([None, "", "  ", " +12125550100 ", 12125550101]),
                          st.sampled_from([None, "+12125550199", "  "])), max_size=6),
       st.integers(0, 14 * 24 * 60), st.sampled_from(_ZONES))
def test_first_addresses_and_open_span_are_firsts_answer_for_many(rows, now_min, zone_name):
    # the engine reads fresh contacts through ``first_addresses`` (once per list) and
    # ``open_span`` (once per span): together they answer as ``first`` does per contact
    cal = RunCalendar(utc(2024, 3, 1))
    now = 60.0 * now_min
    cols = {"home": [h for h, _ in rows], "mobile": [m for _, m in rows]}
    steps, addrs = STRAT.first_addresses(cols, range(len(rows)))
    for k, (home, mobile) in enumerate(rows):
        c = contact(zone_name, home=home, mobile=mobile)
        STRAT.decide(c, [], now, cal)  # looks the spans up, as the engine's first decision
        want = STRAT.first(c, now, cal)
        if steps[k] < 0:
            assert want is None and addrs[k] is None
            continue
        span = STRAT.open_span(steps[k], zone_name, now, cal)
        if want is None:
            assert span is None
        else:
            assert span is not None and span[0] <= now < span[1]
            assert (want.step_index, want.address) == (steps[k], addrs[k])


def test_one_strategy_decides_on_each_calendar_it_is_given():
    # the strategy keeps the open spans of the last calendar asked: alternating calendars
    # (runs starting at other instants) must each get their own wall clock's answer
    early, late = RunCalendar(utc(2024, 6, 3, 12)), RunCalendar(utc(2024, 6, 3, 2))
    for _ in range(2):
        for cal in (early, late, early):
            got = STRAT.decide(ANN_NY, [], 0.0, cal)
            want = STRAT.next_action(ANN_NY, [], cal.at(0.0))
            assert type(got) is type(want)
            assert cal.at(got.at) == want.at
    # 12:00 UTC is Monday 08:00 in New York: home opens at 09:00, mobile at 08:00, so
    # mobile goes now; 02:00 UTC is Sunday 22:00: blocked until Monday 08:00, 10 h later
    a = STRAT.decide(ANN_NY, [], 0.0, early)
    assert (a.step_index, a.at, a.skipped) == (1, 0.0, (0,))
    b = STRAT.decide(ANN_NY, [], 0.0, late)
    assert isinstance(b, Blocked) and b.until == 10 * H and b.next.step_index == 1


# ---------------------------------------------------------------------- templates


def test_messages_are_personalised_from_contact_fields():
    assert STRAT.steps[2].message(ANN_NY) == Message("Hi Ann, please call us")
    email = Step("email", "email", template="Dear {first_name} {last_name}, {{not a field}}",
                 subject="Your account, {first_name}")
    m = email.message({"first_name": "Ann", "last_name": "Lee", "email": "a@b.co"})
    assert m.body == "Dear Ann Lee, {not a field}" and m.subject == "Your account, Ann"
    assert render("{amount:.2f} due", {"amount": 12.5}) == "12.50 due"


def test_missing_or_empty_template_fields_are_clear_errors():
    with pytest.raises(TemplateError, match="needs contact field 'first_name', which the "
                                            "contact lacks"):
        STRAT.steps[2].message({"id": "c9", "mobile": "+1"})
    with pytest.raises(TemplateError, match="'first_name', which is empty for contact 'c9'"):
        STRAT.steps[2].message({"id": "c9", "first_name": None})
    with pytest.raises(TemplateError, match="has no template"):
        STRAT.steps[0].message(ANN_NY)


@pytest.mark.parametrize(("template", "message"), [
    ("Hi {0}", r"placeholder \{0\} is not allowed"),
    ("Hi {}", r"placeholder \{\} is not allowed"),
    ("{first_name.__class__}", "is not allowed"),
    ("{first_name[0]}", "is not allowed"),
    ("{first_name!r}", "conversion !r"),
    ("{first_name:{width}}", "nested placeholder"),
    ("Hi {first_name", "malformed template"),
])
def test_templates_can_only_read_plain_fields(template, message):
    with pytest.raises(TemplateError, match=message):
        template_fields(template)
    with pytest.raises(StrategyError, match=r"steps\[0\]\.template"):
        Strategy.from_dict({"steps": [{"channel": "sms", "address": "m",
                                       "template": template}]})


def test_validate_checks_fields_against_the_list_columns():
    STRAT.validate(["id", "home", "mobile", "first_name", "timezone"])
    with pytest.raises(StrategyError) as e:
        STRAT.validate(["id", "home", "timezone"])
    msg = str(e.value)
    assert "steps[1].address: the list has no column 'mobile'" in msg
    assert "steps[2].template: uses {first_name}" in msg
    with pytest.raises(StrategyError, match="timezone_field: the list has no column"):
        STRAT.validate(["home", "mobile", "first_name"])
    with pytest.raises(StrategyError, match=r"steps\[0\]\.template: a sms step needs"):
        Strategy((Step("sms", "m"),)).validate(["m", "timezone"])


# ---------------------------------------------------------------------- configuration


def _cfg(**step_changes):
    step = {"channel": "voice", "address": "home", "retries": {"busy": [300, 2]}}
    step.update(step_changes)
    return {"name": "s", "steps": [{"channel": "sms", "address": "m", "template": "x"}, step]}


@pytest.mark.parametrize(("changes", "message"), [
    ({"channel": "fax"}, r"steps\[1\]\.channel: 'fax' is not one of voice, sms, email"),
    ({"retries": {"busy": [-5, 2]}}, r"steps\[1\]\.retries\['busy'\]\.delay_s: must be"),
    ({"retries": {"busy": {"delay_s": 5}}}, r"steps\[1\]\.retries\['busy'\]: needs delay_s"),
    ({"retries": {"ringing": [5, 1]}}, r"steps\[1\]\.retries\['ringing'\]: 'ringing' is not"),
    ({"retries": {"busy": [5, 1.5]}}, r"steps\[1\]\.retries\['busy'\]\.max_retries"),
    ({"windows": "Mon-Sat 9-21"}, r"steps\[1\]\.windows\['Mon-Sat'\]: '9' is not a time"),
    ({"pacing": "turbo"}, r"steps\[1\]\.pacing: 'turbo' is not one of predictive, "
                          "progressive, preview, ratio"),
    ({"channel": "email", "pacing": "predictive"}, r"steps\[1\]\.pacing: email steps use "
                                                   "timed pacing"),
    ({"max_attempts": 0}, r"steps\[1\]\.max_attempts: must be an integer >= 1"),
    ({"subject": "Hi"}, r"steps\[1\]\.subject: only email steps"),
    ({"colour": "red"}, r"steps\[1\]: unknown key\(s\) colour"),
    ({"done_codes": ["sold"]}, r"steps\[1\]\.done_codes: 'sold' is not a completion code"),
])
def test_configuration_errors_name_the_field(changes, message):
    with pytest.raises(StrategyError, match=message):
        Strategy.from_dict(_cfg(**changes))


def test_strategy_level_errors_name_the_field():
    ok = _cfg()
    Strategy.from_dict(ok)
    for key, value, message in [
        ("windows", "Sun 09:00", r"windows\['Sun'\]: '09:00' is not a range"),
        ("default_timezone", "Mars/Base", "default_timezone: unknown time zone"),
        ("max_attempts", 0, "max_attempts: must be an integer >= 1 or None"),
        ("steps", [], "steps: a strategy needs at least one step"),
        ("speed", 3, r"unknown key\(s\) speed"),
    ]:
        with pytest.raises(StrategyError, match=message):
            Strategy.from_dict({**ok, key: value})


def test_codes_channels_and_retry_forms():
    assert code_of("wrong number") == Code.INVALID
    assert code_of("Answering-Machine") == Code.MACHINE
    assert code_of(4) == Code.BUSY
    assert Retry.of({"delay_s": 60, "max_retries": 2}, "r") == Retry(60, 2)
    assert Step("voice", "home").engine_channel == Channel.VOICE_AGENT
    assert Step("voice", "home", pacing="timed").engine_channel == Channel.VOICE_AGENTLESS
    assert Step("sms", "m").engine_channel == Channel.SMS
    assert Step("custom", "push_token").engine_channel is None
    assert Step("email", "e").pacing == "timed" and Step("voice", "h").pacing == "predictive"

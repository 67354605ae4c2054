"""Contact flows: strategy and rules through a job's list (windows across time zones, retries
by code, DNC, nuisance, blocked and trapped attempts); every attempt handed out is what the
date-time edges ``Strategy.next_action`` + ``RuleEngine.check`` say."""

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.attempt import Attempt, Channel, Code
from engine.contacts import ContactList, ListSpec
from engine.dnc import DncList, DncRegistry
from engine.flow import BLOCKED_RETRY_S, ContactFlow, Planned
from engine.rules import RuleConfig, RuleEngine
from engine.strategy import Blocked, Done, PastAttempt, Step, Strategy

H = 3600.0
EPOCH = datetime(2024, 6, 3, 12, tzinfo=UTC)  # Monday 12:00 UTC: 13:00 London, 05:00 LA
VOICE = Channel.VOICE_AGENT
SPEC = ListSpec(addresses={"home": "voice", "mobile": "voice"})
HOME = ["+442079460001", "+442079460002", "+442079460003", "+442079460004"]
MOB = ["+447700900001", "+447700900002", "+447700900003", "+447700900004"]


def contacts(rows: list[tuple[str, str | None, str | None, str]]) -> ContactList:
    ids, home, mobile, tz = zip(*rows, strict=True)
    return ContactList(pl.DataFrame({"id": list(ids), "home": list(home),
                                     "mobile": list(mobile), "timezone": list(tz)},
                                    schema={"id": pl.String, "home": pl.String,
                                            "mobile": pl.String, "timezone": pl.String}),
                       SPEC)


def one(tz: str = "Europe/London", home: str | None = HOME[0], mobile: str | None = MOB[0]
        ) -> ContactList:
    return contacts([("c0", home, mobile, tz)])


def flow(lst: ContactList, strategy: Strategy, rules: RuleEngine | None = None, job: int = 0,
         **kw) -> ContactFlow:
    return ContactFlow(job, f"job{job}", lst, strategy, rules or RuleEngine(), EPOCH, **kw)


def single(windows: str = "always", **retries) -> Strategy:
    return Strategy((Step("voice", "home", retries=retries),), windows=windows)


def two(windows0: str = "always", windows1: str = "always", **retries) -> Strategy:
    return Strategy((Step("voice", "home", windows=windows0, retries=retries),
                     Step("voice", "mobile", windows=windows1, retries=retries)))


_ids = iter(range(10**9))


def finish(f: ContactFlow, p: Planned, code: Code, t_end: float, t0: float | None = None
           ) -> Attempt:
    """Launch ``p`` and end it with ``code`` at ``t_end``."""
    a = Attempt(next(_ids), f.job, p.contact, int(VOICE), t_end if t0 is None else t0,
                p.contact_id, p.address, p.step, f.name)
    f.launched(a)
    a.code = int(code)
    a.t_end = t_end
    f.finished(a, t_end)
    return a


# ---------------------------------------------------------------------- windows and zones


def test_contact_whose_windows_are_all_closed_waits_for_the_earliest_opening():
    # 05:00 in Los Angeles: home opens 09:00 local (16:00 UTC), mobile 08:00 (15:00 UTC)
    f = flow(contacts([("la", HOME[0], MOB[0], "America/Los_Angeles"),
                       ("ldn", HOME[1], MOB[1], "Europe/London")]),
             two("Mon-Sun 09:00-17:00", "Mon-Sun 08:00-20:00"))
    p = f.next(0.0, VOICE)
    assert p == Planned(1, "ldn", HOME[1], 0)  # London is open; LA is not dialled
    assert f.state_of(0) == "queued"  # not lost
    assert f.next(1.0, VOICE) is None
    assert f.next_due() == pytest.approx(3 * H)
    c = f.counts(1.0)
    assert (c.total, c.queued, c.in_flight, c.fresh, c.done) == (2, 1, 1, 0, 0)
    assert f.next(3 * H - 1, VOICE) is None
    assert f.next(3 * H, VOICE) == Planned(0, "la", MOB[0], 1)  # mobile opens first
    assert not f.exhausted


def _closed_la(start: int, n: int) -> ContactList:
    return contacts([(f"la{k}", f"+1213555{k:04d}", None, "America/Los_Angeles")
                     for k in range(start, start + n)])


def test_a_growing_list_closed_for_hours_is_not_read_on_at_every_tick():
    """A list that grows as it is read (the simulator's synthetic ones), every contact
    outside its window (05:00 in Los Angeles): the search pauses after each fruitless one
    (doubling, at most FRESH_PAUSE_MAX_S) instead of reading SCAN_LIMIT more contacts at
    every tick; the contacts read wait queued and go when the window opens."""
    from engine.flow import FRESH_PAUSE_MAX_S, SCAN_LIMIT

    f = flow(_closed_la(0, 100), single("Mon-Sun 09:00-17:00"),
             more=lambda start: _closed_la(start, 100))
    ticks = 4 * 3600
    for k in range(ticks):  # an hour of 0.25 s ticks
        assert f.take(k * 0.25, VOICE, 3) == []
    searches = 9 + 3600 / FRESH_PAUSE_MAX_S + 1  # 1, 2, 4 ... 256 s, then every 300 s
    assert len(f.ids) <= (searches + 1) * (SCAN_LIMIT + 100)
    assert len(f.ids) < ticks  # not one contact per tick, let alone SCAN_LIMIT
    opens = 4 * H  # 09:00 in Los Angeles
    # what the dialer tells the pacer: nothing before the pause ends (at most 300 s on)
    assert ticks * 0.25 < f.idle_until(ticks * 0.25) <= ticks * 0.25 + FRESH_PAUSE_MAX_S
    assert f.idle_until(opens - 1.0) == opens - 1.0  # the pause is over: searched again
    got = f.take(opens, VOICE, 5)
    assert [p.contact_id for p in got] == ["la0", "la1", "la2", "la3", "la4"]


def test_a_file_sorted_by_zone_reaches_its_open_zone_at_once():
    """A list read from a file is searched on at every tick: 1000 closed contacts before an
    open one delay it by a few ticks, not by pauses."""
    rows = [(f"la{k}", f"+1213555{k:04d}", None, "America/Los_Angeles") for k in range(1000)]
    f = flow(contacts([*rows, ("ldn", HOME[0], None, "Europe/London")]), single())
    f2 = flow(contacts([*rows, ("ldn", HOME[0], None, "Europe/London")]),
              single("Mon-Sun 09:00-17:00"))
    assert f.take(0.0, VOICE, 1)[0].contact_id == "la0"  # "always": no window closed
    got = []
    for k in range(10):
        got += f2.take(k * 0.25, VOICE, 1)
        if got:
            break
    assert [p.contact_id for p in got] == ["ldn"] and k <= 1000 // 256


def test_closed_window_on_the_first_address_skips_to_the_next():
    # 13:00 London: home only in the evening, mobile all day
    f = flow(one(), two("Mon-Sun 18:00-21:00", "Mon-Sun 09:00-21:00"))
    assert f.next(0.0, VOICE) == Planned(0, "c0", MOB[0], 1)
    finish(f, Planned(0, "c0", MOB[0], 1), Code.NO_ANSWER, 30.0)
    # mobile finished (no rule for no-answer); home stays due at its opening, 18:00 BST
    assert f.state_of(0) == "queued"
    assert f.next_due() == pytest.approx(5 * H)
    assert f.next(5 * H - 1, VOICE) is None
    assert f.next(5 * H, VOICE) == Planned(0, "c0", HOME[0], 0)


@pytest.mark.parametrize("tz, opens_h", [("Asia/Kolkata", 15 * H + 1800),  # 09:00 IST
                                         ("America/New_York", 1 * H),  # 09:00 EDT
                                         ("Australia/Lord_Howe", 10 * H + 1800)])
def test_window_openings_follow_the_contacts_zone(tz, opens_h):
    # 09:00-10:00 local every day; at 12:00 UTC every one of these is closed (Kolkata
    # +05:30, New York -04:00, Lord Howe +10:30 in its winter)
    f = flow(one(tz), single("Mon-Sun 09:00-10:00"))
    assert f.next(0.0, VOICE) is None
    assert f.state_of(0) == "queued"
    assert f.next_due() == pytest.approx(opens_h)
    assert f.next(opens_h - 60, VOICE) is None
    assert f.next(opens_h, VOICE) == Planned(0, "c0", HOME[0], 0)


def test_a_busy_retry_falling_outside_the_window_waits_for_the_opening():
    # 16:55 London: busy, retry after 10 min = 17:05, after the 17:00 close; next day 09:00
    f = flow(one(), single("Mon-Sun 09:00-17:00", busy=(600, 3)))
    t = 3 * H + 55 * 60
    p = f.next(t, VOICE)
    finish(f, p, Code.BUSY, t + 5)
    assert f.next(t + 5 + 600, VOICE) is None
    assert f.state_of(0) == "queued"
    tomorrow_9 = 20 * H  # 09:00 BST on Tuesday = 08:00 UTC = 20 h after 12:00 UTC
    assert f.next(tomorrow_9 - 1, VOICE) is None
    assert f.next(tomorrow_9, VOICE) == p


def test_a_due_retry_goes_before_contacts_that_waited_for_their_window():
    """Contacts queued at the run's start for their window's opening are fresh ones when it
    opens: a retry due later still goes first, as it does when the run starts after the
    opening (before: the backlog of openings, due earlier, held every retry back for as
    long as it took to dial them; a busy retry of 10 minutes waited hours)."""
    ny = [(f"ny{k}", f"+1212555{k:04d}", None, "America/New_York") for k in range(5)]
    rows = [("ldn", HOME[0], None, "Europe/London"), *ny]
    s = single("Mon-Sun 09:00-17:00", busy=(600, 2))  # New York opens at 1 h (09:00 EDT)
    early = flow(contacts(rows), s)  # the run starts at 12:00 UTC, New York closed
    late = flow(contacts(rows), s)  # the same list first read after New York opens
    [p] = early.take(0.0, VOICE, 3)
    assert p.contact_id == "ldn" and early.state_of(1) == "queued"
    assert late.next(H - 700, VOICE).contact_id == "ldn"
    for f in (early, late):
        finish(f, p, Code.BUSY, H - 100)  # retry due at H + 500
    for f in (early, late):
        got = f.take(H + 500, VOICE, 3)
        assert [g.contact_id for g in got] == ["ldn", "ny0", "ny1"]
    assert [g.contact_id for g in early.take(H + 501, VOICE, 5)] == ["ny2", "ny3", "ny4"]


# ---------------------------------------------------------------------- retries by code


@pytest.mark.parametrize("strategy", [single(busy=(600, 2), no_answer=(H, 1)),
                                      two(busy=(600, 2), no_answer=(H, 1))],
                         ids=["single-step", "two-step"])
def test_busy_retried_after_its_delay_until_the_retries_are_used(strategy):
    f = flow(one(mobile=None), strategy)
    p = f.next(0.0, VOICE)
    finish(f, p, Code.BUSY, 10.0)
    assert f.state_of(0) == "queued" and f.next_due() == pytest.approx(610.0)
    assert f.next(609.0, VOICE) is None
    p2 = f.next(610.0, VOICE)
    assert p2 == p
    finish(f, p2, Code.BUSY, 620.0)
    p3 = f.next(1220.0, VOICE)
    assert p3 == p
    finish(f, p3, Code.BUSY, 1230.0)  # third busy: 2 retries used
    assert f.state_of(0) == "done" and f.exhausted
    c = f.counts(1230.0)
    assert (c.attempts, c.successes, c.done) == (3, 0, 1)


@pytest.mark.parametrize("multi", [False, True])
def test_no_answer_rule_then_a_code_without_a_rule_finishes_the_contact(multi):
    s = (two if multi else single)(busy=(600, 2), no_answer=(H, 1))
    f = flow(one(mobile=None), s)
    p = f.next(0.0, VOICE)
    finish(f, p, Code.NO_ANSWER, 20.0)
    assert f.next(H + 19, VOICE) is None
    assert f.next(H + 20, VOICE) == p
    finish(f, p, Code.MACHINE, H + 40)  # no rule for machines
    assert f.state_of(0) == "done"
    assert f.next(10 * H, VOICE) is None
    assert f.counts(10 * H).successes == 0


@pytest.mark.parametrize("multi", [False, True])
def test_success_finishes_the_contact_even_with_addresses_left(multi):
    s = (two if multi else single)(busy=(600, 2))
    f = flow(one(), s)
    p = f.next(0.0, VOICE)
    finish(f, p, Code.LIVE_CONNECTED, 200.0)
    assert f.state_of(0) == "done" and f.exhausted
    c = f.counts(200.0)
    assert (c.successes, c.connects, c.live, c.abandons) == (1, 1, 1, 0)
    assert f.next(10 * H, VOICE) is None


def test_strategy_attempt_cap_finishes_the_contact():
    s = Strategy((Step("voice", "home", retries={"busy": (60, 9)}),), windows="always",
                 max_attempts=2)
    f = flow(one(), s)
    finish(f, f.next(0.0, VOICE), Code.BUSY, 1.0)
    finish(f, f.next(61.0, VOICE), Code.BUSY, 62.0)
    assert f.state_of(0) == "done"


# ---------------------------------------------------------------------- DNC


def test_dnc_refuses_the_address_moves_on_and_counts_per_job():
    reg = DncRegistry(DncList([HOME[0], HOME[1]]), {0: DncList([MOB[1]])})
    rules = RuleEngine(dnc=reg)
    lst = contacts([("a", HOME[0], MOB[0], "Europe/London"),  # home on the global list
                    ("b", HOME[1], MOB[1], "Europe/London"),  # both listed: finished
                    ("c", HOME[2], MOB[2], "Europe/London")])
    f = flow(lst, two(), rules)
    assert f.next(0.0, VOICE) == Planned(0, "a", MOB[0], 1)
    assert f.next(0.0, VOICE) == Planned(2, "c", HOME[2], 0)
    assert f.state_of(1) == "done"
    assert f.next(0.0, VOICE) is None
    n = rules.counts(0)
    assert (n["dnc_global"], n["dnc_campaign"]) == (2, 1)
    assert n["allowed"] == 2 and n["checked"] == 5
    # another job on the same engine: its own counts; job 0's campaign list is not its own
    g = flow(lst, two(), rules, job=1)
    assert g.next(0.0, VOICE) == Planned(0, "a", MOB[0], 1)
    assert g.next(0.0, VOICE) == Planned(1, "b", MOB[1], 1)
    m = rules.counts(1)
    assert (m["dnc_global"], m["dnc_campaign"]) == (2, 0)
    assert rules.counts(0) == n


def test_dnc_entry_added_while_the_job_runs_is_honoured_for_fresh_contacts():
    reg = DncRegistry()
    rules = RuleEngine(dnc=reg)
    f = flow(contacts([("a", HOME[0], None, "UTC"), ("b", HOME[1], None, "UTC")]),
             single(), rules)
    assert rules.admits_fresh(0, "voice")
    assert f.next(0.0, VOICE).contact == 0
    reg.global_list.add(HOME[1])
    assert not rules.admits_fresh(0, "voice")
    assert f.next(1.0, VOICE) is None
    assert f.state_of(1) == "done" and rules.counts(0)["dnc_global"] == 1


def test_dnc_refusal_of_a_retry_moves_to_the_next_address():
    reg = DncRegistry()
    rules = RuleEngine(dnc=reg)
    f = flow(one(), two(busy=(600, 2)), rules)
    p = f.next(0.0, VOICE)
    finish(f, p, Code.BUSY, 10.0)
    reg.campaigns[0] = DncList([HOME[0]])  # the customer opted out meanwhile
    # the busy retry on home holds the mobile step until it is due; then home is refused
    assert f.next(600.0, VOICE) is None
    assert f.next(610.0, VOICE) == Planned(0, "c0", MOB[0], 1)
    assert rules.counts(0)["dnc_campaign"] == 1


# ---------------------------------------------------------------------- nuisance


@pytest.mark.parametrize("multi", [False, True])
def test_no_call_within_72h_of_an_abandoned_call(multi):
    s = (two if multi else single)(abandoned=(60, 5))
    rules = RuleEngine()
    f = flow(one(mobile=None), s, rules)
    p = f.next(0.0, VOICE)
    finish(f, p, Code.ABANDONED, 100.0)
    c = f.counts(100.0)
    assert (c.live, c.abandons, c.abandons_today, c.live_today) == (1, 1, 1, 1)
    assert f.next(160.0, VOICE) is None  # the strategy's retry is due, the rule refuses
    assert rules.counts(0)["nuisance"] == 1
    assert f.state_of(0) == "queued"
    assert f.next_due() == pytest.approx(100.0 + 72 * H)
    assert f.next(100.0 + 72 * H - 1, VOICE) is None
    assert f.next(100.0 + 72 * H, VOICE) == p


def test_nuisance_lifted_when_an_agent_is_guaranteed():
    f = flow(one(mobile=None), single(abandoned=(60, 5)), agent_guaranteed=True)
    p = f.next(0.0, VOICE)
    finish(f, p, Code.CUSTOMER_HANGUP, 100.0)
    assert f.next(160.0, VOICE) == p


def test_abandon_by_another_job_blocks_a_fresh_contact_sharing_the_history():
    # the history is shared across jobs: job 0's abandon keeps job 1 off the contact
    history: dict = {}
    rules = RuleEngine()
    a = flow(one(mobile=None), single(), rules, history=history)
    b = flow(one(mobile=None), two(), rules, job=1, history=history)
    finish(a, a.next(0.0, VOICE), Code.ABANDONED, 50.0)
    assert b.next(60.0, VOICE) is None
    assert rules.counts(1)["nuisance"] == 1
    assert b.state_of(0) == "queued" and b.next_due() == pytest.approx(50.0 + 72 * H)
    # job 0's attempt does not use up job 1's steps (its own strategy starts at step 0)
    assert b.next(50.0 + 72 * H, VOICE) == Planned(0, "c0", HOME[0], 0)


def test_foreign_history_with_steps_this_strategy_lacks_is_not_misread():
    history = {"c0": [PastAttempt(-H, int(Code.NO_ANSWER), 3, HOME[0], "voice", 9)]}
    f = flow(one(), two(busy=(60, 1)), history=history)
    p = f.next(0.0, VOICE)
    assert p == Planned(0, "c0", HOME[0], 0)
    finish(f, p, Code.BUSY, 5.0)  # would read history step 3 as this strategy's
    assert f.next(65.0, VOICE) == p


# ---------------------------------------------------------------------- blocked, trapped


@pytest.mark.parametrize("multi", [False, True])
def test_blocked_attempt_is_requeued_without_counting(multi):
    s = Strategy(tuple(Step("voice", a, max_attempts=1) for a in ("home", "mobile")[:1 + multi]),
                 windows="always", max_attempts=1)
    f = flow(one(), s)
    p = f.next(0.0, VOICE)
    finish(f, p, Code.BLOCKED, 0.0)
    assert f.counts(0.0).attempts == 0
    assert f.state_of(0) == "queued"
    assert "c0" not in f.history or not f.history["c0"]
    assert f.next(BLOCKED_RETRY_S, VOICE) == p  # the cap of one attempt is not used up
    finish(f, p, Code.NO_ANSWER, 30.0)
    assert f.counts(30.0).attempts == 1
    assert f.state_of(0) == "done"


def _rec(c: int, code: Code, t: float, step: int = 0, address: str = HOME[0]) -> dict:
    return {"contact": c, "code": int(code), "t_end": t, "step": step, "address": address}


def test_restore_requeues_trapped_attempts_and_finishes_decided_contacts():
    lst = contacts([(f"c{k}", HOME[k], None, "UTC") for k in range(4)])
    s = Strategy((Step("voice", "home", max_attempts=1),), windows="always")
    f = flow(lst, s)
    n = f.restore([_rec(0, Code.TRAPPED, 100.0),
                   _rec(1, Code.LIVE_CONNECTED, 90.0, address=HOME[1]),
                   _rec(2, Code.NO_ANSWER, 80.0, address=HOME[2]),
                   _rec(3, Code.BLOCKED, 70.0, address=HOME[3])], 200.0)
    assert n == 4
    assert [f.state_of(k) for k in range(4)] == ["queued", "done", "done", "queued"]
    c = f.counts(200.0)
    assert (c.attempts, c.successes, c.connects, c.done) == (3, 1, 1, 2)
    got = []
    while (p := f.next(200.0, VOICE)) is not None:
        got.append(p.contact)
    assert sorted(got) == [0, 3]  # each once; the trapped one despite max_attempts=1


def test_restore_respects_retry_delays_and_nuisance():
    lst = contacts([("c0", HOME[0], None, "UTC"), ("c1", HOME[1], None, "UTC")])
    f = flow(lst, single(busy=(600, 1), abandoned=(60, 1)))
    f.restore([_rec(0, Code.BUSY, 100.0), _rec(1, Code.ABANDONED, 150.0, address=HOME[1])],
              200.0)
    assert f.next(699.0, VOICE) is None
    assert f.next(700.0, VOICE).contact == 0
    assert f.next(150.0 + 72 * H - 1, VOICE) is None
    assert f.next(150.0 + 72 * H, VOICE).contact == 1


def test_restore_counts_todays_live_answers_and_abandons_again():
    # a restart mid-day: the job's abandon rate today (the live view; JOBSTATISTICS
    # nuisance_rate_today, Ofcom's 24 h there) counted only the calls after the restart
    lst = contacts([(f"c{k}", HOME[k], None, "UTC") for k in range(4)])
    f = flow(lst, single())
    day = 24 * H - 12 * H  # EPOCH is 12:00 UTC: run second 43,200 starts the next day
    f.restore([_rec(0, Code.ABANDONED, day - 60.0),  # yesterday
               _rec(1, Code.LIVE_CONNECTED, day + 30.0, address=HOME[1]),
               _rec(2, Code.CUSTOMER_HANGUP, day + 60.0, address=HOME[2]),
               _rec(3, Code.NO_ANSWER, day + 90.0, address=HOME[3])], day + 100.0)
    c = f.counts(day + 100.0)
    assert (c.live, c.abandons, c.live_today, c.abandons_today) == (3, 2, 2, 1)
    assert f.counts(day + 24 * H).live_today == 0  # and the next day starts at none


# ---------------------------------------------------------------------- the one path


ZONES = ["UTC", "Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
WINDOWS = ["always", "Mon-Sun 08:00-21:00", "Mon-Fri 09:00-17:00",
           "Mon-Sat 09:30-12:00,13:00-20:45", "Mon-Sun 09:00:30-17:00"]
CODES = [Code.BUSY, Code.NO_ANSWER, Code.MACHINE, Code.ABANDONED, Code.CUSTOMER_HANGUP,
         Code.INVALID, Code.LIVE_CONNECTED, Code.BLOCKED]
RETRY_CODES = ["busy", "no_answer", "machine", "abandoned"]


@st.composite
def setups(draw):
    n = draw(st.integers(1, 4))
    rows = []
    for k in range(n):
        home = draw(st.sampled_from([HOME[k], None]))
        mobile = draw(st.sampled_from([MOB[k], None, HOME[k]]))
        rows.append((f"c{k}", home, mobile, draw(st.sampled_from(ZONES))))
    steps = []
    for addr in ["home", "mobile"][:draw(st.integers(1, 2))]:
        retries = {c: (draw(st.sampled_from([0, 60, 3600, 86400])), draw(st.integers(0, 2)))
                   for c in draw(st.lists(st.sampled_from(RETRY_CODES), max_size=3,
                                          unique=True))}
        steps.append(Step("voice", addr, retries=retries, max_attempts=draw(st.integers(1, 4)),
                          windows=draw(st.sampled_from([None, *WINDOWS]))))
    strategy = Strategy(tuple(steps), windows=draw(st.sampled_from(WINDOWS)),
                        max_attempts=draw(st.sampled_from([None, 1, 3])))
    cfg = RuleConfig(max_attempts_per_day_contact=draw(st.sampled_from([None, 1, 2])),
                     nuisance_period_s=draw(st.sampled_from([72 * H, 600.0])),
                     blocked_contacts=draw(st.sampled_from([(), ("c1",)])))
    dnc = draw(st.lists(st.sampled_from(HOME + MOB), max_size=2))
    foreign = {}
    for k in range(n):
        kind = draw(st.sampled_from([None, None, Code.ABANDONED, Code.NO_ANSWER]))
        if kind is not None:
            foreign[f"c{k}"] = [PastAttempt(-draw(st.integers(1, 100)) * H, int(kind), 0,
                                            rows[k][1] or "", "voice", 99)]
    times = sorted(draw(st.lists(st.integers(0, 6 * 86400 // 300), min_size=1, max_size=25)))
    codes = draw(st.lists(st.sampled_from(CODES), min_size=60, max_size=60))
    return rows, strategy, cfg, dnc, foreign, [t * 300.0 for t in times], codes


def _oracle(strategy: Strategy, rules: RuleEngine, contact: dict, hist: list, now: float):
    """What ``next_action`` + ``check`` say for a contact now: ("go", step, address),
    ("wait", seconds) or ("done",)."""
    ended: set[int] = set()
    for _ in range(len(strategy.steps) + 1):
        a = strategy.next_action(contact, [h for h in hist if h.job == 0], now,
                                 run_start=EPOCH, finished=ended)
        if isinstance(a, Done):
            return ("done",)
        if isinstance(a, Blocked):
            return ("wait", (a.until - EPOCH).total_seconds())
        if a.at > EPOCH + timedelta(seconds=now):
            return ("wait", (a.at - EPOCH).total_seconds())
        d = rules.check(0, contact, a.address, "voice", now, hist, run_start=EPOCH)
        if d.allowed:
            return ("go", a.step_index, a.address)
        if d.until is not None:
            return ("wait", (d.until - EPOCH).total_seconds())
        ended.add(a.step_index)
    return ("done",)


@settings(max_examples=150, deadline=None)
@given(setups())
def test_every_attempt_handed_out_over_time_is_the_strategy_and_rules_answer(setup):
    """A flow run over a week of results hands out, at every moment, exactly the contacts
    the date-time edges of the strategy and the rules say go now, on the flow's history."""
    rows, strategy, cfg, dnc, foreign, times, codes = setup
    lst = contacts(rows)
    rules = RuleEngine(cfg, DncRegistry(DncList(dnc)))
    oracle_rules = RuleEngine(cfg, DncRegistry(DncList(dnc)))
    f = flow(lst, strategy, rules, history={k: list(v) for k, v in foreign.items()})
    k = 0
    for t in times:
        got = []
        while (p := f.next(t, VOICE)) is not None:
            want = _oracle(strategy, oracle_rules, f.contact(p.contact),
                           f.history.get(p.contact_id, []), t)
            assert want == ("go", p.step, p.address), f"at {t}"
            got.append(p)
        # nothing due is left behind: every fresh contact was decided, the rest is later
        assert "fresh" not in [f.state_of(c) for c in range(len(rows))]
        due = f.next_due()
        assert due is None or due > t
        for p in got:
            code = codes[k % len(codes)]
            k += 1
            finish(f, p, code, t + 30.0, t0=t)


@settings(max_examples=100, deadline=None)
@given(setups(), st.integers(1, 3))
def test_take_hands_out_what_as_many_calls_of_next_do(setup, n):
    """``take(t, ch, n)`` (the dialer's one pass per job and tick) gives the plans of ``n``
    calls of ``next``, in order, and the same rule counts, tick after tick."""
    rows, strategy, cfg, dnc, foreign, times, codes = setup
    flows, engines = [], []
    for _ in range(2):
        rules = RuleEngine(cfg, DncRegistry(DncList(dnc)))
        engines.append(rules)
        flows.append(flow(contacts(rows), strategy, rules,
                          history={k: list(v) for k, v in foreign.items()}))
    by_take, by_next = flows
    k = 0
    for t in times:
        got = by_take.take(t, VOICE, n)
        want = [p for p in (by_next.next(t, VOICE) for _ in range(n)) if p is not None]
        assert got == want[:len(got)] and len(got) == len(want), f"at {t}"
        assert [by_take.state_of(c) for c in range(len(rows))] == [
            by_next.state_of(c) for c in range(len(rows))]
        for p in got:
            code = codes[k % len(codes)]
            k += 1
            for f in flows:
                finish(f, p, code, t + 30.0, t0=t)
    assert engines[0].counts(0) == engines[1].counts(0)
    assert by_take.counts(times[-1]) == by_next.counts(times[-1])


@settings(max_examples=150, deadline=None)
@given(setups(), st.integers(0, 7 * 86400))
def test_fresh_contacts_get_the_strategy_and_rules_answer(setup, now):
    rows, strategy, cfg, dnc, foreign, _, _ = setup
    oracle_rules = RuleEngine(cfg, DncRegistry(DncList(dnc)))
    rules = RuleEngine(cfg, DncRegistry(DncList(dnc)))
    t = float(now)
    for row in rows:  # one flow per contact: its decision alone
        f = ContactFlow(0, "j", contacts([row]), strategy, rules, EPOCH,
                        history={k: list(v) for k, v in foreign.items()})
        want = _oracle(strategy, oracle_rules, f.contact(0), foreign.get(row[0], []), t)
        p = f.next(t, VOICE)
        if want[0] == "go":
            assert p == Planned(0, row[0], want[2], want[1])
        else:
            assert p is None
            assert f.state_of(0) == ("done" if want[0] == "done" else "queued")
            if want[0] == "wait":
                assert f.next_due() == pytest.approx(want[1], abs=1e-5)
    assert rules.counts(0) == oracle_rules.counts(0)


# ---------------------------------------------------------------------- its parts


def test_step_retry_after_counts_per_code_and_caps():
    s = Step("voice", "home", max_attempts=4,
             retries={"busy": (300, 2), "abandoned": (H, 1), "no_answer": (0, 0)})
    B, A, N, M = int(Code.BUSY), int(Code.ABANDONED), int(Code.NO_ANSWER), int(Code.MACHINE)
    assert s.retry_after([B]) == 300.0
    assert s.retry_after([B, B]) == 300.0
    assert s.retry_after([B, B, B]) is None  # two busy retries used
    assert s.retry_after([M]) is None  # no rule: the step is finished
    assert s.retry_after([N]) is None  # a rule with no retries
    assert s.retry_after([int(Code.CUSTOMER_HANGUP)]) == H  # a hangup uses the abandon rule
    assert s.retry_after([A, int(Code.CUSTOMER_HANGUP)]) is None  # ... and its count
    assert s.retry_after([A, B, B]) == 300.0
    assert s.retry_after([A, B, B, B]) is None  # max_attempts 4


def test_admits_fresh_only_when_no_rule_could_refuse():
    assert RuleEngine().admits_fresh(0, "voice")
    for cfg in (RuleConfig(blocked_contacts={"x"}), RuleConfig(blocked_addresses={HOME[0]}),
                RuleConfig(channels={"sms"}), RuleConfig(max_attempts_total_address=0),
                RuleConfig(max_attempts_per_day_contact=0)):
        assert not RuleEngine(cfg).admits_fresh(0, "voice"), cfg
    assert RuleEngine(RuleConfig(channels={"voice"}, max_attempts_per_day_contact=1)
                      ).admits_fresh(0, "voice")
    per_job = RuleEngine(job_configs={1: RuleConfig(channels={"sms"})})
    assert per_job.admits_fresh(0, "voice") and not per_job.admits_fresh(1, "voice")
    camp = RuleEngine(dnc=DncRegistry(campaigns={"spring": DncList([HOME[0]])}),
                      campaigns={1: "spring"})
    assert camp.admits_fresh(0, "voice") and not camp.admits_fresh(1, "voice")
    camp.count_allowed(0)
    camp.count_allowed(0)
    n = camp.counts(0)
    assert (n["checked"], n["allowed"], sum(n[r] for r in n) - 4) == (2, 2, 0)
    assert camp.counts(1)["checked"] == 0


def test_release_keeps_the_counts_and_drops_the_work_state():
    # a finished run's flows are emptied so reference counting frees them (sim.run)
    f = flow(contacts([(f"c{k}", HOME[k], MOB[k], "UTC") for k in range(3)]),
             single(busy=(300, 2)))
    for p in [f.next(0.0, VOICE) for _ in range(3)]:
        finish(f, p, Code.BUSY, 10.0, t0=0.0)
    before = f.counts(20.0)
    assert before.queued == 3 and f.next_due() == 310.0
    f.release()
    assert f.counts(20.0) == before
    assert f.next_due() is None and not f._decided and not f._fields_of

"""Rule engine: every restriction refuses what it should, lapses when it should, and is
counted per job by name."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.attempt import Channel, Code
from engine.dnc import DncList, DncRegistry
from engine.rules import ALLOWED, RULES, RuleConfig, RuleConfigError, RuleEngine
from engine.strategy import PastAttempt

H = 3600.0
T0 = datetime(2024, 6, 3, 14, tzinfo=UTC)  # Monday
HOME, MOBILE = "+442079460001", "+447700900001"
ANN = {"id": "c1", "timezone": "Europe/London", "home": HOME}


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def abandon(hours: float = 0.0, code: Code = Code.ABANDONED) -> PastAttempt:
    return PastAttempt(at(hours), code, address=HOME, channel="voice")


# ---------------------------------------------------------------------- nuisance


def test_nuisance_blocks_71h_after_an_abandon_and_allows_73h():
    eng = RuleEngine()
    hist = [abandon()]
    d = eng.check(1, ANN, MOBILE, "voice", at(71), hist)
    assert not d and d.rule == "nuisance"
    assert d.until == at(72)
    assert "no new call within 72 h" in d.detail
    assert eng.check(1, ANN, MOBILE, "voice", at(73), hist) == ALLOWED
    assert eng.check(1, ANN, MOBILE, "voice", at(72), hist).allowed  # the period is over
    assert eng.counts(1)["nuisance"] == 1


def test_nuisance_applies_to_the_contact_any_address_and_hangups_count():
    eng = RuleEngine()
    d = eng.check(1, ANN, MOBILE, "voice", at(1), [abandon(0, Code.CUSTOMER_HANGUP)])
    assert d.rule == "nuisance"
    # the latest abandon counts
    hist = [abandon(-100), abandon(-10)]
    assert eng.check(1, ANN, HOME, "voice", at(0), hist).until == at(62)


def test_nuisance_spares_messages_guaranteed_agents_and_is_configurable():
    hist = [abandon()]
    eng = RuleEngine()
    assert eng.check(1, ANN, MOBILE, "sms", at(1), hist).allowed
    assert eng.check(1, ANN, MOBILE, "voice", at(1), hist, agent_guaranteed=True).allowed
    short = RuleEngine(RuleConfig(nuisance_period_s=24 * H))
    assert short.check(1, ANN, HOME, "voice", at(23), hist).rule == "nuisance"
    assert short.check(1, ANN, HOME, "voice", at(25), hist).allowed
    off = RuleEngine(RuleConfig(nuisance_period_s=0))
    assert off.check(1, ANN, HOME, "voice", at(0.01), hist).allowed


@settings(max_examples=80)
@given(st.integers(-200 * 60, 200 * 60), st.integers(1, 120 * 60))
def test_nuisance_blocks_exactly_inside_the_period(offset_min, period_min):
    eng = RuleEngine(RuleConfig(nuisance_period_s=period_min * 60.0))
    d = eng.check(0, ANN, HOME, Channel.VOICE_AGENT, at(offset_min / 60), [abandon()])
    assert d.allowed == (offset_min >= period_min)
    if not d.allowed:
        assert d.rule == "nuisance" and d.until == at(period_min / 60)


# ---------------------------------------------------------------------- DNC


def test_global_and_campaign_dnc_lists():
    reg = DncRegistry(DncList(["020 7946 0001"], default_country_code="44"),
                      {"spring": DncList(["+44 7700 900001", "Ann@Example.com"])})
    eng = RuleEngine(RuleConfig(default_country_code="44"), dnc=reg,
                     campaigns={1: "spring", 2: "autumn"})
    d = eng.check(1, ANN, "+44 20 7946 0001", "voice", T0)
    assert (d.allowed, d.rule) == (False, "dnc_global")
    assert eng.check(2, ANN, HOME, "sms", T0).rule == "dnc_global"
    assert eng.check(1, ANN, "07700 900001", "sms", T0).rule == "dnc_campaign"
    assert eng.check(2, ANN, "07700 900001", "sms", T0).allowed  # not autumn's list
    assert eng.check(1, ANN, "ann@example.com", "email", T0).rule == "dnc_campaign"
    assert eng.check(1, ANN, "+447700900002", "voice", T0).allowed
    reg.global_list.add("+447700900002")  # lists change while jobs run
    assert eng.check(1, ANN, "+447700900002", "voice", T0).rule == "dnc_global"
    assert eng.counts(1)["dnc_global"] == 2 and eng.counts(1)["dnc_campaign"] == 2
    assert eng.counts(2)["dnc_global"] == 1


def test_dnc_entries_without_a_country_code_bar_the_campaigns_numbers_of_its_country():
    """A DNC file written nationally (``2125550001``, as national registries publish them)
    read with no country code once barred nothing a campaign dialled as ``+1...`` (its
    contacts' ``default_country_code``): the number on the list was called. Each campaign's
    country code now reads the national entries, of the global and its own list."""
    reg = DncRegistry(DncList(["2125550001", "(212) 555-0003"]),
                      {"us": DncList(["212 555 0002"]), "uk": DncList(["020 7946 0001"])},
                      country_codes={"us": "1", "uk": "44"})
    eng = RuleEngine(RuleConfig(), dnc=reg, campaigns={1: "us", 2: "uk", 3: "none"})
    assert eng.check(1, ANN, "+12125550001", "voice", T0).rule == "dnc_global"
    assert eng.check(1, ANN, "+12125550003", "voice", T0).rule == "dnc_global"
    assert eng.check(1, ANN, "+12125550002", "voice", T0).rule == "dnc_campaign"
    assert eng.check(1, ANN, "+12125550004", "voice", T0).allowed
    assert eng.check(2, ANN, "+442079460001", "voice", T0).rule == "dnc_campaign"
    assert eng.check(2, ANN, "+12125550001", "voice", T0).allowed  # not a UK number
    assert eng.check(3, ANN, "+12125550001", "voice", T0).allowed  # country unknown
    assert eng.check(3, ANN, "2125550001", "voice", T0).rule == "dnc_global"
    reg.global_list.add("2125550005")  # lists change while jobs run
    assert eng.check(1, ANN, "+12125550005", "voice", T0).rule == "dnc_global"
    reg.global_list.discard("2125550001")
    assert eng.check(1, ANN, "+12125550001", "voice", T0).allowed


# ---------------------------------------------------------------------- blocks, channel, codes


def test_block_lists_channel_and_invalid_addresses():
    eng = RuleEngine(RuleConfig(blocked_contacts={"c9"}, blocked_addresses={"+44 20 7946 0009"},
                                channels={"voice", "email"}))
    assert eng.check(0, {"id": "c9"}, HOME, "voice", T0).rule == "contact_block"
    assert eng.check(0, "c9", HOME, "voice", T0).rule == "contact_block"
    assert eng.check(0, ANN, "+442079460009", "voice", T0).rule == "address_block"
    assert eng.check(0, ANN, HOME, "sms", T0).rule == "channel"
    assert eng.check(0, ANN, HOME, Channel.SMS, T0).rule == "channel"
    assert eng.check(0, ANN, "not-a-number", "voice", T0).rule == "invalid_address"
    assert eng.check(0, ANN, "ann@", "email", T0).rule == "invalid_address"
    assert eng.check(0, ANN, HOME, Channel.VOICE_AGENTLESS, T0).allowed


def test_wrong_number_stops_that_address_not_the_contact():
    eng = RuleEngine()
    hist = [PastAttempt(at(-1), Code.INVALID, address="020 7946 0001", channel="voice")]
    strict = RuleEngine(RuleConfig(default_country_code="44"))
    d = strict.check(0, ANN, HOME, "voice", T0, hist)
    assert d.rule == "completion_code" and "INVALID" in d.detail
    assert strict.check(0, ANN, MOBILE, "voice", T0, hist).allowed
    # without a default country the national spelling is another address
    assert eng.check(0, ANN, HOME, "voice", T0, hist).allowed
    whole = RuleEngine(RuleConfig(final_codes_contact=["wrong_number", "connected"],
                                  default_country_code="44"))
    assert whole.check(0, ANN, MOBILE, "voice", T0, hist).rule == "completion_code"


# ---------------------------------------------------------------------- attempt caps


def _tries(hours, address=HOME, code=Code.NO_ANSWER, channel="voice"):
    return [PastAttempt(at(h), code, address=address, channel=channel) for h in hours]


def test_total_caps_per_contact_and_per_address():
    eng = RuleEngine(RuleConfig(max_attempts_total_contact=5, max_attempts_total_address=3))
    hist = _tries([-50, -40, -30])
    assert eng.check(0, ANN, HOME, "voice", T0, hist).rule == "attempts_total_address"
    assert eng.check(0, ANN, MOBILE, "voice", T0, hist).allowed
    hist += _tries([-20, -10], MOBILE)
    d = eng.check(0, ANN, MOBILE, "voice", T0, hist)
    assert d.rule == "attempts_total_contact" and d.until is None
    # capacity-blocked attempts reached nobody: not counted
    assert eng.check(0, ANN, MOBILE, "voice", T0,
                     hist[:4] + _tries([-5] * 3, MOBILE, Code.BLOCKED)).allowed


def test_per_day_caps_use_the_contacts_local_day():
    eng = RuleEngine(RuleConfig(max_attempts_per_day_contact=2))
    tokyo = {"id": "t1", "timezone": "Asia/Tokyo"}
    # 14:30 UTC on 3 June is 23:30 JST; 15:30 UTC is 00:30 JST on 4 June
    hist = _tries([0.5, 0.6])
    d = eng.check(0, tokyo, HOME, "voice", at(0.9), hist)
    assert d.rule == "attempts_per_day_contact"
    assert d.until == datetime(2024, 6, 3, 15, tzinfo=UTC)  # midnight JST
    assert eng.check(0, tokyo, HOME, "voice", at(1.5), hist).allowed  # a new JST day
    # the same attempts are on one London day (15:30-15:36 BST): still refused at 16:30 BST
    assert eng.check(0, ANN, HOME, "voice", at(1.5), hist).rule == "attempts_per_day_contact"
    utc_days = RuleEngine(RuleConfig(max_attempts_per_day_contact=2, day="UTC"))
    assert utc_days.check(0, tokyo, HOME, "voice", at(1.5), hist).rule == (
        "attempts_per_day_contact")


def test_per_day_cap_per_address_and_a_dst_day_of_23_hours():
    eng = RuleEngine(RuleConfig(max_attempts_per_day_address=1))
    # Sunday 31 March 2024 in London runs 00:00 GMT to 24:00 BST: 23 h of UTC
    day = datetime(2024, 3, 31, 0, 30, tzinfo=UTC)
    hist = [PastAttempt(day, Code.BUSY, address=HOME, channel="voice")]
    d = eng.check(0, ANN, HOME, "voice", day + timedelta(hours=20), hist)
    assert d.rule == "attempts_per_day_address"
    assert d.until == datetime(2024, 3, 31, 23, tzinfo=UTC)
    assert eng.check(0, ANN, MOBILE, "voice", day + timedelta(hours=20), hist).allowed
    assert eng.check(0, ANN, HOME, "voice", datetime(2024, 3, 31, 23, tzinfo=UTC),
                     hist).allowed


def test_rule_order_first_refusal_wins():
    reg = DncRegistry(DncList([HOME]))
    eng = RuleEngine(RuleConfig(blocked_contacts={"c1"}, max_attempts_total_contact=0),
                     dnc=reg)
    assert eng.check(0, ANN, HOME, "voice", T0, [abandon()]).rule == "contact_block"
    eng = RuleEngine(RuleConfig(max_attempts_total_contact=0), dnc=reg)
    assert eng.check(0, ANN, HOME, "voice", T0, [abandon()]).rule == "dnc_global"
    assert eng.check(0, ANN, MOBILE, "voice", at(1), [abandon()]).rule == "nuisance"
    assert eng.check(0, ANN, MOBILE, "sms", at(1), [abandon()]).rule == (
        "attempts_total_contact")


# ---------------------------------------------------------------------- counters and config


def test_counts_are_per_job_and_name_every_rule():
    eng = RuleEngine(RuleConfig(channels={"voice"}))
    assert eng.counts("j1") == {"checked": 0, "allowed": 0, **dict.fromkeys(RULES, 0)}
    eng.check("j1", ANN, HOME, "voice", T0)
    eng.check("j1", ANN, HOME, "sms", T0)
    eng.check("j1", ANN, HOME, "voice", at(1), [abandon()])
    eng.check("j2", ANN, HOME, "email", T0)
    c1, c2 = eng.counts("j1"), eng.counts("j2")
    assert (c1["checked"], c1["allowed"], c1["channel"], c1["nuisance"]) == (3, 1, 1, 1)
    assert (c2["checked"], c2["allowed"], c2["channel"]) == (1, 0, 1)
    c1["checked"] = 99  # a copy: callers cannot corrupt the counters
    assert eng.counts("j1")["checked"] == 3
    assert set(eng.all_counts()) == {"j1", "j2"}
    eng.reset("j1")
    assert eng.counts("j1")["checked"] == 0


def test_per_job_configs_override_the_default():
    eng = RuleEngine(RuleConfig(), job_configs={"strict": RuleConfig(channels={"email"})})
    assert eng.check("strict", ANN, HOME, "voice", T0).rule == "channel"
    assert eng.check("other", ANN, HOME, "voice", T0).allowed


@settings(max_examples=60)
@given(st.lists(st.tuples(st.sampled_from(["voice", "sms", "email"]),
                          st.sampled_from([HOME, MOBILE, "ann@example.com", "bad"]),
                          st.floats(-100, 100, allow_nan=False),
                          st.sampled_from(["a", "b"])), max_size=25))
def test_counters_always_add_up(checks):
    reg = DncRegistry(DncList([MOBILE]))
    eng = RuleEngine(RuleConfig(max_attempts_per_day_contact=3, channels={"voice", "sms"}),
                     dnc=reg)
    hist = [abandon(-30), *_tries([-5, -2])]
    for ch, addr, hours, job in checks:
        if ch == "email" and "@" not in addr:
            addr = "ann@example.com"
        eng.check(job, ANN, addr, ch, at(hours), hist)
    for job in ("a", "b"):
        c = eng.counts(job)
        assert c["checked"] == sum(1 for x in checks if x[3] == job)
        assert c["checked"] == c["allowed"] + sum(c[r] for r in RULES)


def test_history_in_run_clock_seconds():
    eng = RuleEngine()
    start = T0
    hist = [PastAttempt(0.0, Code.ABANDONED, address=HOME)]
    assert eng.check(0, ANN, HOME, "voice", 71 * H, hist, run_start=start).rule == "nuisance"
    assert eng.check(0, ANN, HOME, "voice", 73 * H, hist, run_start=start).allowed


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"channels": {"voice", "fax"}}, "channels: unknown channel"),
    ({"channels": "voice"}, "channels: must be a collection"),
    ({"max_attempts_per_day_contact": -1}, "max_attempts_per_day_contact: must be an integer"),
    ({"max_attempts_total_address": 2.5}, "max_attempts_total_address: must be an integer"),
    ({"final_codes_address": ["wrong number", "sold"]}, "final_codes_address: 'sold'"),
    ({"nuisance_codes": "abandon"}, "nuisance_codes: must be a list"),
    ({"nuisance_period_s": -1}, "nuisance_period_s: must be seconds >= 0"),
    ({"day": "Mars/Base"}, "day: unknown time zone 'Mars/Base'"),
    ({"default_timezone": "Nowhere"}, "default_timezone: unknown time zone"),
    ({"blocked_contacts": "c1"}, "blocked_contacts: must be a collection"),
])
def test_rule_config_errors_name_the_field(kwargs, message):
    with pytest.raises(RuleConfigError, match=message):
        RuleConfig(**kwargs)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=18),
                 st.from_regex(r"\+[0-9]{4,17}", fullmatch=True),
                 st.from_regex(r"[a-zA-Z0-9. ]{1,6}@[a-zA-Z]{1,5}\.[a-zA-Z]{2,3} ?",
                               fullmatch=True)),
       st.sampled_from(["voice", "sms", "email", "custom"]),
       st.sampled_from([None, "1", "44"]))
def test_canonical_addresses_are_their_own_normal_form(addr, channel, cc):
    # the rules skip normalising a history entry that holds the checked address itself
    # when that address is canonical: then normalising could not change it
    from engine.rules import _canonical, _norm
    if _canonical(addr, channel):
        assert _norm(addr, channel, cc) == addr
    assert _canonical("+12125550100", "voice") and _canonical("ann@example.net", "custom")
    assert not _canonical("Ann@example.net", "email") and not _canonical("+44", "sms")

"""VICIdial adaptive baseline: hand-computed dial-level sequences, then the oracle.

Every expected level below was worked out by hand from the steps of VICIdial's
AST_VDadapt.pl (the comments show the arithmetic); none is computed by calling the code under test.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pacer.modes import Pacing
from pacer.vicidial import VicidialParams, VicidialState, clock_hhmm
from tests import naive_baselines as naive

HARD = int(Pacing.VICIDIAL_HARD_LIMIT)
TAPERED = int(Pacing.VICIDIAL_TAPERED)
AVERAGE = int(Pacing.VICIDIAL_AVERAGE)


def campaign(mode, level, ready, waiting, total, samples=15, **params):
    """One campaign at ``level`` holding ``samples`` identical samples."""
    st_ = VicidialState(VicidialParams(mode=[mode], **params), initial_level=[level])
    for _ in range(samples):
        st_.sample([ready], [waiting], [total])
    return st_


def recalc(state, calls_minute=0, drops_minute=0, answered_today=0, drops_today=0,
           now_hhmm=1200):
    return float(state.recalculate([calls_minute], [drops_minute], [answered_today],
                                   [drops_today], now_hhmm)[0])


# --------------------------------------------------------------------------- steps 1-4


def test_growth_then_cap_at_max_level():
    # ready 4, waiting 0, logged in 10, dl_diff_target 0: t = 4, a = 4/10 = 0.4, I = 0.
    s = campaign(HARD, 1.0, ready=4, waiting=0, total=10)
    seq = [recalc(s) for _ in range(5)]
    # 1.0*1.4 = 1.4; 1.4*1.4 = 1.96; 1.96*1.4 = 2.744; 2.744*1.4 = 3.8416 -> 3.842 > 3.0
    # -> 3.0 (cap); 3.0*1.4 = 4.2 -> 3.0.
    assert seq == [1.4, 1.96, 2.744, 3.0, 3.0]
    # launch at 2.744 would be round(2.744*9) = round(24.696) = 25; at 3.0 with ready 4 +
    # in-call 5 = 9 agents: 27 - 20 in flight = 7.
    assert s.launch([4], [5], [20]).tolist() == [7]
    assert s.launch([4], [5], [30]).tolist() == [0]  # never negative


def test_cap_configurable():
    # a = 0.4; max 1.5: 1.0 -> 1.4; 1.4*1.4 = 1.96 > 1.5 -> 1.5.
    s = campaign(HARD, 1.0, ready=4, waiting=0, total=10, max_level=[1.5])
    assert [recalc(s), recalc(s)] == [1.4, 1.5]


def test_intensity_positive_and_negative():
    # Positive a = (6 - 1 + 1)/20 = 0.3 (5 samples only: ready 2,4,6,8,10 -> avg 6,
    # waiting 1, logged in 20, dl_diff_target 1).
    # I = +0.2: a = 0.3*1.2 = 0.36 -> 1.36.  I = -0.2: a = 0.3*0.8 = 0.24 -> 1.24.
    # Negative a = (1 - 3)/10 = -0.2 from level 2.0:
    # I = +0.2: a = -0.2*|0.2-1| = -0.16 -> 2*0.84 = 1.68.
    # I = -0.2: a = -0.2*|-0.2-1| = -0.24 -> 2*0.76 = 1.52.
    got = []
    for inten in (20.0, -20.0):
        s = VicidialState(VicidialParams(mode=[HARD], intensity=[inten],
                                         dl_diff_target=[1.0]), initial_level=[1.0])
        for r in (2, 4, 6, 8, 10):
            s.sample([r], [1], [20])
        got.append(recalc(s))
        s2 = campaign(HARD, 2.0, ready=1, waiting=3, total=10, intensity=[inten])
        got.append(recalc(s2))
    assert got == [1.36, 1.68, 1.24, 1.52]


def test_floor_zero_cases_and_only_last_15_samples():
    # a = (0 - 5)/10 = -0.5: 1.2*0.5 = 0.6 -> floor 1.0.
    assert recalc(campaign(HARD, 1.2, ready=0, waiting=5, total=10)) == 1.0
    # t = 2 - 2 + 0 = 0 -> a = 0: level kept (1.7).
    assert recalc(campaign(HARD, 1.7, ready=2, waiting=2, total=10)) == 1.7
    # no sample at all: total_avg = 0 -> a = 0: 1.5 kept.
    assert recalc(campaign(HARD, 1.5, ready=0, waiting=0, total=0, samples=0)) == 1.5
    # 5 samples of ready 100 then 15 of ready 3: the average is over the last 15 only:
    # a = 3/10 = 0.3 -> 1.3.
    s = campaign(HARD, 1.0, ready=100, waiting=0, total=10, samples=5)
    for _ in range(15):
        s.sample([3], [0], [10])
    assert recalc(s) == 1.3


def test_level_rounds_the_binary_value_and_launch_rounds_half_away_from_zero():
    # a = 5/10 = 0.5: 1.335*1.5 is stored as 2.00249999..., which Perl's sprintf("%.3f")
    # prints as 2.002 (PHP-style decimal rounding would give 2.003).
    assert recalc(campaign(HARD, 1.335, ready=5, waiting=0, total=10)) == 2.002
    # launch: level 1.5 with 3 ready agents: 4.5 -> 5 (banker's 4).
    s = campaign(HARD, 1.5, ready=0, waiting=0, total=0, samples=0)
    assert s.launch([3], [0], [0]).tolist() == [5]


# --------------------------------------------------------------------------- step 5


def test_one_minute_drop_halving():
    # a = 0 throughout (nothing ready or waiting).
    # 21 calls, 11 dropped (52 % > 50 %): 2.8 -> 1.4.
    assert recalc(campaign(HARD, 2.8, 0, 0, 10), calls_minute=21, drops_minute=11) == 1.4
    # 20 calls all dropped: not more than 20 calls -> 2.8.
    assert recalc(campaign(HARD, 2.8, 0, 0, 10), calls_minute=20, drops_minute=20) == 2.8
    # 22 calls, 11 dropped: exactly 50 %, not over -> 2.8.
    assert recalc(campaign(HARD, 2.8, 0, 0, 10), calls_minute=22, drops_minute=11) == 2.8
    # 30 calls, 16 dropped: 1.6 -> 0.8 -> floor (step 7) 1.0.
    assert recalc(campaign(HARD, 1.6, 0, 0, 10), calls_minute=30, drops_minute=16) == 1.0


def test_halving_comes_after_the_cap():
    # a = 0.4: 3.0*1.4 = 4.2 -> cap 3.0 -> halve 1.5 (halving first would give 2.1).
    s = campaign(HARD, 3.0, ready=4, waiting=0, total=10)
    assert recalc(s, calls_minute=40, drops_minute=30) == 1.5


# --------------------------------------------------------------------------- step 6


def test_hard_limit_over_dropped_percentage():
    # a = 0, level 2.5, limit 3 %.
    # 51 answered, 2 dropped: 3.92 % > 3 % -> 1.0.
    assert recalc(campaign(HARD, 2.5, 0, 0, 10), answered_today=51, drops_today=2) == 1.0
    # 50 answered, 10 dropped: not more than 50 answered -> 2.5.
    assert recalc(campaign(HARD, 2.5, 0, 0, 10), answered_today=50, drops_today=10) == 2.5
    # 100 answered, 3 dropped: exactly 3 %, not over -> 2.5.
    assert recalc(campaign(HARD, 2.5, 0, 0, 10), answered_today=100, drops_today=3) == 2.5
    # 100 answered, 4 dropped -> 1.0.
    assert recalc(campaign(HARD, 2.5, 0, 0, 10), answered_today=100, drops_today=4) == 1.0
    # limit 5 %: 4 of 100 is under -> 2.5.
    s = campaign(HARD, 2.5, 0, 0, 10, dropped_percentage=[5.0])
    assert recalc(s, answered_today=100, drops_today=4) == 2.5


@pytest.mark.parametrize(
    ("now", "want"),
    [
        (1030, 3.0),  # left = 2100 - 1030 = 1070 > 1000: no taper
        (1100, 3.0),  # left = 1000, not > 1000: 3.0 * 1000/1000 = 3.0
        (1159, 2.823),  # left = 941 (the HHMM quirk: really 9 h 01 min): 3.0*0.941 = 2.823
        (1600, 1.5),  # left = 500: 3.0 * 0.5 = 1.5
        (1959, 1.0),  # left = 141: 3.0*0.141 = 0.423 -> floor 1.0
        (2100, 1.0),  # left = 0: 3.0*0 = 0 -> floor 1.0
        (2130, 1.0),  # left = -30 < 0: 1.0
    ],
)
def test_tapered_hhmm_quirk(now, want):
    # a = 0, level 3.0, latest 2100, 10 of 100 answered dropped (over 3 %).
    s = campaign(TAPERED, 3.0, 0, 0, 10, latest_hhmm=[2100])
    assert recalc(s, answered_today=100, drops_today=10, now_hhmm=now) == pytest.approx(
        want, abs=1e-12)


def test_tapered_not_over_or_unrounded():
    # Not over (3 of 100): no taper at 1959 -> 3.0.
    s = campaign(TAPERED, 3.0, 0, 0, 10, latest_hhmm=[2100])
    assert recalc(s, answered_today=100, drops_today=3, now_hhmm=1959) == 3.0
    # The taper is not rounded: 1.999 * 0.941 = 1.881059 (2*0.941 - 0.001*0.941).
    s = campaign(TAPERED, 1.999, 0, 0, 10, latest_hhmm=[2100])
    got = recalc(s, answered_today=100, drops_today=10, now_hhmm=1159)
    assert got == pytest.approx(1.881059, abs=1e-12)
    # launch with 10 agents: round(18.81059) = 19.
    assert s.launch([4], [6], [0]).tolist() == [19]


def test_average_halves_at_every_recalculation_while_over():
    # a = 0, max level 10, over every time (10 of 100): 8 -> 4 -> 2 -> 1 -> 0.5 = floor 1.0.
    s = campaign(AVERAGE, 8.0, 0, 0, 10, max_level=[10.0])
    seq = [recalc(s, answered_today=100, drops_today=10) for _ in range(4)]
    assert seq == [4.0, 2.0, 1.0, 1.0]
    # no longer over, and a = 0.4 after fresh samples: 1.0 -> 1.4.
    for _ in range(15):
        s.sample([4], [0], [10])
    assert recalc(s, answered_today=100, drops_today=3) == 1.4


def test_average_both_halvings_in_order():
    # 8 -> (minute: 21 calls, 11 drops) 4 -> (today over) 2.
    s = campaign(AVERAGE, 8.0, 0, 0, 10, max_level=[10.0])
    assert recalc(s, 21, 11, 100, 10) == 2.0


def test_rows_are_independent_in_one_batch():
    # The same situations as above, three modes side by side, one kernel call.
    s = VicidialState(VicidialParams(mode=[HARD, TAPERED, AVERAGE], max_level=10.0,
                                     latest_hhmm=2100), initial_level=[2.5, 3.0, 8.0])
    for _ in range(15):
        s.sample([0, 0, 0], [0, 0, 0], [10, 10, 10])
    got = s.recalculate([0, 0, 0], [0, 0, 0], [100, 100, 100], [10, 10, 10], 1600)
    # HARD: 1.0; TAPERED: 3.0*0.5 = 1.5; AVERAGE: 8/2 = 4.0.
    assert got.tolist() == [1.0, 1.5, 4.0]


# --------------------------------------------------------------------------- validation


def test_params_validation():
    with pytest.raises(ValueError, match="mode"):
        VicidialParams(mode=[int(Pacing.PREDICTIVE)])
    with pytest.raises(ValueError, match="max_level"):
        VicidialParams(mode=[HARD], max_level=[0.5])
    with pytest.raises(ValueError, match="latest_hhmm"):
        VicidialParams(mode=[HARD], latest_hhmm=[2500])
    s = VicidialState(VicidialParams(mode=[HARD, HARD]))
    with pytest.raises(ValueError, match="waiting"):
        s.sample([1, 1], [1], [2, 2])
    with pytest.raises(ValueError, match="now_hhmm"):
        s.recalculate(0, 0, 0, 0, -5)


def test_reset_forgets_samples():
    s = campaign(HARD, 2.0, ready=4, waiting=0, total=10)
    s.reset([0], 1.2)
    assert s.count.tolist() == [0] and s.level.tolist() == [1.2]
    assert recalc(s) == 1.2  # no samples: a = 0


def test_clock_hhmm():
    # 09:30 + 2 h 30 min = 12:00; 11:59 + 59 s is still 11:59, + 60 s is 12:00;
    # 23:50 + 20 min = 00:10.
    assert clock_hhmm(930, 2.5 * 3600) == 1200
    assert clock_hhmm(1159, 59.0) == 1159 and clock_hhmm(1159, 60.0) == 1200
    assert clock_hhmm(2350, 1200.0) == 10
    with pytest.raises(ValueError, match="start_hhmm"):
        clock_hhmm(975, 0.0)
    with pytest.raises(ValueError, match="elapsed_s"):
        clock_hhmm(900, -1.0)


# --------------------------------------------------------------------------- oracle


@st.composite
def scripts(draw):
    n = draw(st.integers(1, 6))
    params = {
        "mode": draw(st.lists(st.sampled_from([HARD, TAPERED, AVERAGE]), min_size=n,
                              max_size=n)),
        "intensity": draw(st.lists(st.floats(-40, 40), min_size=n, max_size=n)),
        "dl_diff_target": draw(st.lists(st.floats(-5, 5), min_size=n, max_size=n)),
        "max_level": draw(st.lists(st.floats(1, 6), min_size=n, max_size=n)),
        "dropped_percentage": draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.5, 3.0, 5.0,
                                                             50.0]), min_size=n, max_size=n)),
        "latest_hhmm": draw(st.lists(st.integers(0, 2400), min_size=n, max_size=n)),
    }
    level = draw(st.lists(st.floats(0, 4), min_size=n, max_size=n))
    small = st.lists(st.integers(0, 40), min_size=n, max_size=n)
    ops = draw(st.lists(st.one_of(
        st.tuples(st.just("sample"), small, small, small),
        st.tuples(st.just("recalc"), small, small,
                  st.lists(st.integers(0, 200), min_size=n, max_size=n), small,
                  st.integers(0, 2400)),
        st.tuples(st.just("launch"), small, small, small),
    ), min_size=1, max_size=40))
    return params, level, ops


@settings(max_examples=60, deadline=None)
@given(scripts())
def test_matches_oracle(script):
    params, level, ops = script
    state = VicidialState(VicidialParams(**params), initial_level=level)
    oracles = [naive.NaiveVicidial(*(params[k][i] for k in (
        "mode", "intensity", "dl_diff_target", "max_level", "dropped_percentage",
        "latest_hhmm")), level=level[i]) for i in range(len(level))]
    for op in ops:
        kind, *args = op
        if kind == "sample":
            state.sample(*args)
            for i, o in enumerate(oracles):
                o.sample(args[0][i], args[1][i], args[2][i])
        elif kind == "recalc":
            calls, drops, answered, drops_today, now = args
            drops = [min(d, c) for d, c in zip(drops, calls, strict=True)]
            today = [a + c for a, c in zip(answered, calls, strict=True)]
            got = state.recalculate(calls, drops, answered, drops_today, now, today)
            want = [o.recalculate(calls[i], drops[i], answered[i], drops_today[i], now,
                                  today[i]) for i, o in enumerate(oracles)]
            assert got.tolist() == want
        else:
            got = state.launch(*args)
            want = [o.launch(args[0][i], args[1][i], args[2][i])
                    for i, o in enumerate(oracles)]
            assert got.tolist() == want


def test_step3_rounds_the_binary_value_as_perl_sprintf():
    # 1.69 x 1.25 is stored as 2.11249999...: Perl's sprintf("%.3f") gives 2.112
    s = campaign(HARD, 1.69, ready=5, waiting=0, total=20)  # a = 0.25
    assert recalc(s) == 2.112


def test_daily_drop_rule_is_gated_on_calls_today_not_answered():
    s = campaign(HARD, 2.5, 0, 0, 10)
    # 40 answered (4 dropped, 10 %) out of 120 calls today: over 50 calls, so it applies
    got = float(s.recalculate([0], [0], [40], [4], 1200, calls_today=[120])[0])
    assert got == 1.0
    s = campaign(HARD, 2.5, 0, 0, 10)
    assert float(s.recalculate([0], [0], [40], [4], 1200, calls_today=[50])[0]) == 2.5

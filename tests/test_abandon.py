"""Windowed abandon accounting: hand-computed rates, window expiry and the event-list oracle."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pacer.abandon import AbandonParams, AbandonState, Outcome
from pacer.modes import Regulation
from pacer.rates import fcc_abandon_rate, ofcom_abandon_rate, vicidial_ofcom_abandon_rate
from tests import naive_baselines as naive

FCC, OFCOM = int(Regulation.FCC), int(Regulation.OFCOM)
C, A, M, FP, MC = (int(Outcome.CONNECTED), int(Outcome.ABANDONED), int(Outcome.MACHINE),
                   int(Outcome.AMD_FALSE_POSITIVE), int(Outcome.MACHINE_CONNECTED))


def test_ofcom_formula_hand_computed():
    # Ofcom: (abandons 7 + false positives 3) / (live answers 307 + false positives 3)
    assert ofcom_abandon_rate(7, 3, 307) == pytest.approx(10 / 310, rel=1e-15)
    # no false positives: the FCC rate
    assert ofcom_abandon_rate(3, 0, 100) == pytest.approx(0.03, rel=1e-15)
    # only false positives: every live call was one
    assert ofcom_abandon_rate(0, 5, 0) == 1.0
    assert ofcom_abandon_rate(0, 0, 0) == 0.0
    assert fcc_abandon_rate(3, 100) == pytest.approx(0.03) and fcc_abandon_rate(0, 0) == 0.0


def test_vicidial_ofcom_formula_hand_computed():
    # the named alternative: drops 10, agent answered 300, machines 100:
    # drops' = 10 - 10*100/(300 + 100) = 10 - 2.5 = 7.5; rate = 7.5/(300 + 7.5) = 1/41.
    assert vicidial_ofcom_abandon_rate(10, 300, 100) == pytest.approx(1 / 41, rel=1e-15)
    assert vicidial_ofcom_abandon_rate(3, 97, 0) == pytest.approx(0.03, rel=1e-15)
    assert vicidial_ofcom_abandon_rate(5, 0, 0) == 1.0
    assert vicidial_ofcom_abandon_rate(0, 0, 0) == 0.0
    # it reads under Ofcom's own rate whenever machines were detected
    assert vicidial_ofcom_abandon_rate(10, 300, 100) < ofcom_abandon_rate(7, 3, 307)


def test_state_rates_hand_computed():
    # One FCC and one Ofcom campaign, same events: 300 connected, 7 abandoned, 3 AMD false
    # positives, 100 machines, all at t = 10 s, read at t = 100 s.
    s = AbandonState(AbandonParams(regulation=[FCC, OFCOM], limit=0.03))
    for row in (0, 1):
        codes = [C] * 300 + [A] * 7 + [FP] * 3 + [M] * 100
        s.record(np.full(len(codes), row), 10.0, codes)
    r = s.rates(100.0)
    # FCC: 7 / (300 + 7) live; Ofcom: (7 + 3) / (307 + 3); FP share 3/310 (machines do
    # not count).
    np.testing.assert_allclose(r.fcc, [7 / 307] * 2, rtol=1e-15)
    np.testing.assert_allclose(r.ofcom, [10 / 310] * 2, rtol=1e-15)
    np.testing.assert_allclose(r.fp_rate, [3 / 310] * 2, rtol=1e-15)
    assert r.live_fcc.tolist() == [307, 307] and r.live_ofcom.tolist() == [307, 307]
    np.testing.assert_allclose(r.rate, [7 / 307, 10 / 310], rtol=1e-15)
    f = 3 / 310
    np.testing.assert_allclose(r.budget, [0.03, (0.03 - f) / (1 - f)], rtol=1e-12)
    # 0.0228 is under 3 %, 0.0323 over
    assert r.over.tolist() == [False, True]
    s2 = AbandonState(AbandonParams(regulation=[OFCOM], limit=0.03))
    s2.record(np.zeros(301, dtype=np.int64), 10.0, [C] * 292 + [A] * 6 + [FP] * 3)
    r = s2.rates(100.0)  # (6 + 3) / (298 + 3) = 0.0299: under
    assert r.ofcom[0] == pytest.approx(9 / 301, rel=1e-14) and r.over.tolist() == [False]
    s2.record([0], 20.0, [A])  # (7 + 3) / (299 + 3) = 0.0331: over
    r = s2.rates(100.0)
    assert r.ofcom[0] == pytest.approx(10 / 302, rel=1e-14) and r.over.tolist() == [True]


def test_machine_found_by_its_agent_leaves_the_live_answers():
    # 100 connects and 3 abandons at t = 10 s; 5 of the connects were answering machines
    # AMD missed, found by their agents (undone at their connect's time): FCC 3 / 98, the
    # machines counted as machines (VICIdial's adjusted formula reads them)
    s = AbandonState(AbandonParams(regulation=[FCC, OFCOM], limit=0.03))
    for row in (0, 1):
        s.record(np.full(108, row), 10.0, [C] * 100 + [A] * 3 + [MC] * 5)
    r = s.rates(100.0)
    np.testing.assert_allclose(r.fcc, [3 / 98] * 2, rtol=1e-15)
    assert r.live_fcc.tolist() == [98, 98] and r.over.tolist() == [True, True]
    # the undo falls in its connect's bucket: both leave the window together
    r = s.rates(10.0 + 86_400.0 * 31)
    assert r.live_fcc.tolist() == [0, 0] and r.live_ofcom.tolist() == [0, 0]


def test_old_events_leave_the_window():
    # Ofcom 24 h in 1440 buckets of 60 s; an event in bucket 0 counts while the current
    # bucket is < 1440, i.e. until now = 86,400 s.
    s = AbandonState(AbandonParams(regulation=[OFCOM]))
    assert s.ofcom_bucket_s == 60.0 and s.fcc_bucket_s == 1800.0
    s.record([0, 0, 0], [0.0, 59.9, 60.0], [A, C, C])
    assert s.rates(86_399.9).live_ofcom.tolist() == [3]
    r = s.rates(86_400.0)  # bucket 0 (t = 0 and t = 59.9) gone, bucket 1 (t = 60) stays
    assert r.live_ofcom.tolist() == [1] and r.ofcom.tolist() == [0.0]
    assert s.rates(86_460.0).live_ofcom.tolist() == [0]
    # FCC: a campaign younger than 30 days is counted whole ...
    r = s.rates(10 * 86_400.0)
    assert r.live_fcc.tolist() == [3] and r.fcc[0] == pytest.approx(1 / 3)
    # ... and each event leaves 30 days after its 30-min bucket began.
    assert s.rates(30 * 86_400.0 - 1.0).live_fcc.tolist() == [3]
    assert s.rates(30 * 86_400.0).live_fcc.tolist() == [0]


def test_reading_at_long_and_short_intervals_agrees():
    rng = np.random.default_rng(3)
    params = AbandonParams(regulation=[FCC, OFCOM, OFCOM], fcc_window_s=[600.0, 300.0, 50.0],
                           ofcom_window_s=[120.0, 60.0, 600.0])
    fine, coarse = AbandonState(params, 60), AbandonState(params, 60)
    t = 0.0
    for step in range(3000):
        t += rng.exponential(0.7)
        rows = rng.integers(0, 3, size=2)
        codes = rng.integers(0, 4, size=2)
        fine.record(rows, t, codes)
        coarse.record(rows, t, codes)
        a = fine.rates(t)
        if step % 97 == 0:
            b = coarse.rates(t)
            for f in ("fcc", "ofcom", "fp_rate", "live_fcc", "live_ofcom"):
                np.testing.assert_array_equal(getattr(a, f), getattr(b, f))


def test_reset_forgets_a_row():
    s = AbandonState(AbandonParams(regulation=[FCC, FCC]))
    s.record([0, 1], 5.0, [A, A])
    s.reset([0])
    assert s.rates(6.0).live_fcc.tolist() == [0, 1]


def test_validation():
    with pytest.raises(ValueError, match="regulation"):
        AbandonParams(regulation=[2])
    with pytest.raises(ValueError, match="ofcom_window_s"):
        AbandonParams(regulation=[FCC], ofcom_window_s=[0.0])
    with pytest.raises(ValueError, match="buckets_per_window"):
        AbandonState(AbandonParams(regulation=[FCC]), 0)
    s = AbandonState(AbandonParams(regulation=[FCC]))
    with pytest.raises(ValueError, match="outcome"):
        s.record([0], 1.0, [5])
    with pytest.raises(ValueError, match="t_s"):
        s.record([0, 0], [1.0, np.inf], [0, 0])
    with pytest.raises(ValueError, match="now_s"):
        s.rates(np.nan)


@st.composite
def scripts(draw):
    n = draw(st.integers(1, 4))
    params = {
        "regulation": draw(st.lists(st.sampled_from([FCC, OFCOM]), min_size=n, max_size=n)),
        "fcc_window_s": draw(st.lists(st.floats(5, 200), min_size=n, max_size=n)),
        "ofcom_window_s": draw(st.lists(st.floats(5, 200), min_size=n, max_size=n)),
    }
    buckets = draw(st.sampled_from([1, 3, 10, 50]))
    ops = draw(st.lists(st.one_of(
        # (advance clock, then record events at clock - jitter)
        st.tuples(st.just("record"), st.floats(0, 30),
                  st.lists(st.tuples(st.integers(0, n - 1), st.floats(0, 3),
                                     st.integers(0, 4)), min_size=1, max_size=6)),
        st.tuples(st.just("rates"), st.floats(0, 400)),
    ), min_size=1, max_size=40))
    return params, buckets, ops


@settings(max_examples=80, deadline=None)
@given(scripts())
def test_matches_event_list_oracle(script):
    params, buckets, ops = script
    s = AbandonState(AbandonParams(**params), buckets)
    events: list[list[tuple[float, int]]] = [[] for _ in params["regulation"]]
    clock = 100.0
    for op in ops:
        if op[0] == "record":
            clock += op[1]
            # a machine found by its agent (4) undoes a connect made at the same time
            ev = [e for r, j, c in op[2]
                  for e in ([(r, j, C), (r, j, c)] if c == MC else [(r, j, c)])]
            rows = [r for r, _, _ in ev]
            ts = [clock - j for _, j, _ in ev]
            codes = [c for _, _, c in ev]
            s.record(rows, ts, codes)
            for r, t, c in zip(rows, ts, codes, strict=True):
                events[r].append((t, c))
        else:
            now = clock + op[1]
            got = s.rates(now)
            for i, ev in enumerate(events):
                want = naive.abandon_rates(ev, now, params["fcc_window_s"][i],
                                           params["ofcom_window_s"][i], s.fcc_bucket_s,
                                           s.ofcom_bucket_s)
                assert got.fcc[i] == pytest.approx(want[0], rel=1e-12, abs=1e-15)
                assert got.ofcom[i] == pytest.approx(want[1], rel=1e-12, abs=1e-15)
                assert got.fp_rate[i] == pytest.approx(want[2], rel=1e-12, abs=1e-15)
                assert (got.live_fcc[i], got.live_ofcom[i]) == want[3:]

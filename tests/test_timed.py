"""Time-based pacing (token bucket) against its oracle and its long-run promises."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pacer.timed import TimedParams, TimedState
from tests import naive_baselines as naive


def test_launches_exactly_rate_times_time_over_a_long_run():
    # 3.7 attempts/s for 10,000 ticks of 0.25 s = 2,500 s -> 9,250 attempts (+-1).
    s = TimedState(TimedParams([3.7, 0.1, 250.0]))
    total = np.zeros(3, dtype=np.int64)
    for _ in range(10_000):
        total += s.launch([0, 0, 0], 0.25)
    assert abs(total[0] - 9250) <= 1
    assert abs(total[1] - 250) <= 1  # slower than one per tick
    assert abs(total[2] - 625_000) <= 1  # many per tick


def test_irregular_clock_still_gives_the_rate():
    rng = np.random.default_rng(7)
    dts = rng.exponential(0.4, size=20_000)
    s = TimedState(TimedParams([2.3]))
    total = sum(int(s.launch([0], dt)[0]) for dt in dts)
    assert abs(total - 2.3 * dts.sum()) <= 1.0


def test_never_above_max_ports_and_no_burst_after_blocking():
    rng = np.random.default_rng(11)
    rate, max_ports, dt = 5.0, 12, 0.25
    s = TimedState(TimedParams([rate], min_ports=[4], max_ports=[max_ports]))
    ends: list[float] = []  # end times of attempts holding a port
    now = 0.0
    for _ in range(8000):
        now += dt
        ends = [e for e in ends if e > now]
        in_flight = len(ends)
        n = int(s.launch([in_flight], dt)[0])
        assert in_flight + n <= max_ports
        assert n <= math.floor(rate * dt + 1.0)  # at most one tick's worth + 1
        assert s.reserved[0] == max(4, in_flight + n)
        ends.extend(now + rng.exponential(4.0) for _ in range(n))  # ~20 ports wanted


def test_rate_zero_launches_nothing():
    s = TimedState(TimedParams([0.0, 1.0], max_ports=[10, 10]))
    got = sum(s.launch([0, 0], 1.0) for _ in range(100))
    assert got.tolist() == [0, 100]
    assert s.credit[0] == 0.0


def test_min_ports_is_a_reservation_not_a_floor():
    s = TimedState(TimedParams([0.0], min_ports=[5], max_ports=[8]))
    assert s.reserved.tolist() == [5]
    assert s.launch([0], 1.0).tolist() == [0]
    assert s.reserved.tolist() == [5]
    assert s.launch([7], 1.0).tolist() == [0] and s.reserved.tolist() == [7]


def test_validation():
    with pytest.raises(ValueError, match="min_ports"):
        TimedParams([1.0], min_ports=[5], max_ports=[3])
    with pytest.raises(ValueError, match="rate_per_s"):
        TimedParams([-1.0])
    s = TimedState(TimedParams([1.0, 2.0]))
    with pytest.raises(ValueError, match="dt_s"):
        s.launch([0, 0], -0.1)
    with pytest.raises(ValueError, match="in_flight"):
        s.launch([0], 0.1)


@st.composite
def runs(draw):
    n = draw(st.integers(1, 8))
    rate = draw(st.lists(st.one_of(st.just(0.0), st.floats(0, 50)), min_size=n, max_size=n))
    hi = draw(st.lists(st.integers(0, 30), min_size=n, max_size=n))
    lo = [draw(st.integers(0, h)) for h in hi]
    steps = draw(st.lists(st.tuples(st.lists(st.integers(0, 40), min_size=n, max_size=n),
                                    st.floats(0, 3)), min_size=1, max_size=40))
    return rate, lo, hi, steps


@settings(max_examples=80, deadline=None)
@given(runs())
def test_matches_oracle(run):
    rate, lo, hi, steps = run
    s = TimedState(TimedParams(rate, lo, hi))
    oracles = [naive.NaiveTimed(*p) for p in zip(rate, lo, hi, strict=True)]
    for in_flight, dt in steps:
        got = s.launch(in_flight, dt)
        want = [o.launch(f, dt) for o, f in zip(oracles, in_flight, strict=True)]
        assert got.tolist() == want
        assert s.reserved.tolist() == [o.reserved for o in oracles]
        np.testing.assert_array_equal(s.credit, [o.credit for o in oracles])


def test_jobs_started_together_send_at_seeded_phases_and_hold_the_rate_on_average():
    """200 SMS jobs of 333.33 an hour started at once: each sends floor or ceil of 333.33 in
    the hour after a warm-up, by its own seeded phase (not all the floor, 333, in lockstep),
    and their total is 200 x 333.33 within 3 sd of the Bernoulli spread."""
    from pacer.decide import CampaignPacing, Pacer
    from pacer.modes import Pacing

    n, rate, tick = 200, 1000.0 / 3 / 3600.0, 0.25
    p = Pacer([CampaignPacing(pacing=Pacing.TIMED, attempts_per_s=rate)] * n, seed=5)
    none_i, none_f = np.zeros(0, dtype=np.int64), np.zeros(0)
    sent = np.zeros(n, dtype=np.int64)
    for k in range(int(3900 / tick)):
        out = p.decide(k * tick, none_i, none_i, none_f, none_i, none_i, none_f)
        if k * tick >= 300.0:
            sent += out
    expect = rate * 3600.0
    assert set(sent.tolist()) == {math.floor(expect), math.ceil(expect)}
    frac = expect - math.floor(expect)
    assert abs(sent.sum() - n * expect) <= 3 * math.sqrt(n * frac * (1 - frac))

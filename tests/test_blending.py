"""Skill-based blending: hysteresis, limits and the oracle."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pacer.blending import BlendingParams, BlendingState
from tests import naive_baselines as naive


def one(**kw):
    p = {"q_high": 5, "q_low": 2, "age_high_s": 30.0, "age_low_s": 10.0, "sl_low": 0.7,
         "sl_high": 0.8, "step": 1, "min_outbound": 0, "max_released": 100}
    p.update(kw)
    return BlendingState(BlendingParams(**{k: [v] for k, v in p.items()}))


def decide(s, queued=0, oldest=0.0, sl=1.0, assigned=20):
    return int(s.decide([queued], [oldest], [sl], [assigned])[0])


def test_takes_on_any_trouble_signal():
    s = one(step=2)
    assert decide(s, queued=6) == 2  # queue above q_high
    assert decide(s, oldest=31.0) == 4  # oldest above age_high
    assert decide(s, sl=0.69) == 6  # service level below sl_low
    assert decide(s, queued=5, oldest=30.0, sl=0.7) == 6  # all at the edge: hold (strict)


def test_no_flapping_inside_the_band():
    s = one()
    for _ in range(3):
        decide(s, queued=9)
    assert s.released.tolist() == [3]
    # queue between q_low (exclusive) and q_high (inclusive), ages and SL in their bands:
    band = [(3, 5.0, 0.9), (5, 29.0, 0.75), (4, 12.0, 0.7), (3, 10.0, 0.8), (5, 30.0, 0.79)]
    for _ in range(20):
        for q, age, sl in band:
            assert decide(s, q, age, sl) == 3
    # every comfort condition: give back one per decision, down to 0.
    assert [decide(s, 2, 10.0, 0.8) for _ in range(5)] == [2, 1, 0, 0, 0]


def test_min_outbound_kept_and_max_released():
    s = one(step=3, min_outbound=4, max_released=10)
    # assigned 9, keep 4: at most 5 released.
    assert [decide(s, queued=50, assigned=9) for _ in range(3)] == [3, 5, 5]
    # agents log out: 6 assigned, keep 4 -> 2 released.
    assert decide(s, queued=50, assigned=6) == 2
    # fewer than the minimum: nothing released.
    assert decide(s, queued=50, assigned=3) == 0
    # plenty of agents: capped by max_released.
    assert [decide(s, queued=50, assigned=100) for _ in range(5)][-1] == 10


def test_validation():
    with pytest.raises(ValueError, match="q_low"):
        BlendingParams(q_high=2, q_low=3, age_high_s=1.0, age_low_s=0.0, sl_low=0.5,
                       sl_high=0.6)
    with pytest.raises(ValueError, match="sl_low"):
        BlendingParams(q_high=2, q_low=1, age_high_s=1.0, age_low_s=0.0, sl_low=0.7,
                       sl_high=0.6)
    with pytest.raises(ValueError, match="step"):
        BlendingParams(q_high=2, q_low=1, age_high_s=1.0, age_low_s=0.0, sl_low=0.5,
                       sl_high=0.6, step=0)
    s = one()
    with pytest.raises(ValueError, match="service_level"):
        s.decide([0], [0.0], [1.5], [3])


@st.composite
def runs(draw):
    n = draw(st.integers(1, 8))
    rows = []
    for _ in range(n):
        q_low = draw(st.integers(0, 10))
        q_high = draw(st.integers(q_low, 15))
        age_low = draw(st.floats(0, 60))
        age_high = draw(st.floats(age_low, 120))
        sl_low = draw(st.floats(0, 1))
        sl_high = draw(st.floats(sl_low, 1))
        rows.append((q_high, q_low, age_high, age_low, sl_low, sl_high,
                     draw(st.integers(1, 4)), draw(st.integers(0, 10)),
                     draw(st.integers(0, 20))))
    steps = draw(st.lists(st.tuples(
        st.lists(st.integers(0, 20), min_size=n, max_size=n),
        st.lists(st.floats(0, 150), min_size=n, max_size=n),
        st.lists(st.floats(0, 1), min_size=n, max_size=n),
        st.lists(st.integers(0, 30), min_size=n, max_size=n)), min_size=1, max_size=30))
    return rows, steps


@settings(max_examples=80, deadline=None)
@given(runs())
def test_matches_oracle(run):
    rows, steps = run
    cols = list(zip(*rows, strict=True))
    names = ("q_high", "q_low", "age_high_s", "age_low_s", "sl_low", "sl_high", "step",
             "min_outbound", "max_released")
    s = BlendingState(BlendingParams(**{k: list(c) for k, c in zip(names, cols,
                                                                    strict=True)}))
    oracles = [naive.NaiveBlending(*r) for r in rows]
    for q, age, sl, assigned in steps:
        got = s.decide(q, age, sl, assigned)
        want = [o.decide(q[i], age[i], sl[i], assigned[i]) for i, o in enumerate(oracles)]
        assert got.tolist() == want
        assert all(0 <= g <= max(0, a - r[7]) for g, a, r in zip(got, assigned, rows,
                                                                  strict=True))

"""The pacer's public API never crashes the process: arbitrary arrays and settings give a
result or a clean ValueError naming the argument."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pacer import CampaignPacing, Pacer, Pacing

_DTYPES = st.sampled_from([np.int64, np.int32, np.uint8, np.float64, np.float32, np.bool_])
_SMALL = st.integers(-3, 6)
_ARR = st.one_of(
    hnp.arrays(np.int64, st.integers(0, 6), elements=_SMALL),
    hnp.arrays(_DTYPES, st.integers(0, 6)),  # anything a dtype holds: NaN, inf, huge
)
_PACER = Pacer([CampaignPacing(), CampaignPacing(pacing=Pacing.PROGRESSIVE, ratio=1.5),
                CampaignPacing(pacing=Pacing.VICIDIAL_AVERAGE)])




@settings(max_examples=150, deadline=None)
@given(now=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(0, 10**6)),
       arrays=st.lists(_ARR, min_size=6, max_size=6))
def test_decide_gives_dials_or_a_clean_value_error(now, arrays):
    try:
        d = _PACER.decide(now, *arrays)
    except ValueError as exc:
        assert str(exc)
        return
    assert d.shape == (3,) and d.dtype == np.int64 and (d >= 0).all()


@settings(max_examples=150, deadline=None)
@given(row=st.one_of(st.integers(-5, 5), st.floats(), st.booleans()),
       x=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10)),
       which=st.integers(0, 7))
def test_observe_gives_nothing_or_a_clean_value_error(row, x, which):
    p = Pacer([CampaignPacing(), CampaignPacing()])
    calls = [lambda: p.observe_dial(row, True, x), lambda: p.observe_handling(row, x),
             lambda: p.observe_live(row, x, True), lambda: p.observe_machine(row, x),
             lambda: p.observe_false_positive(row, x), lambda: p.observe_talk(row, x),
             lambda: p.observe_wrap(row, x), lambda: p.observe_machine_connected(row, x)]
    try:
        calls[which]()
    except ValueError as exc:
        assert str(exc)
        return
    e = np.zeros(0, dtype=np.int64)
    p.decide(100.0, e, e, np.zeros(0), e, e, np.zeros(0))
    # agents talking and in wrap-up read what was observed
    d = p.decide(101.0, np.array([0, 0, 1, 1]), np.array([1, 2, 5, 2]),
                 np.array([0.0, 40.0, 95.0, 10.0]), e, e, np.zeros(0))
    assert d.shape == (2,) and (d >= 0).all()


@pytest.mark.parametrize("kw, name", [
    ({"max_lines_per_agent": math.inf}, "max_lines_per_agent"),
    ({"ratio": 1e300}, "ratio"),
    ({"pacing": "predictive"}, "pacing"),
    ({"target_value": math.nan}, "target_value"),
    ({"regulation": 7}, "regulation"),
    ({"abandon_aim": 0.0}, "abandon_aim"),
    ({"talk_mean_s": 0.0}, "talk_mean_s"),
    ({"wrap_mean_s": -1.0}, "wrap_mean_s"),
    ({"wrap_cv": math.inf}, "wrap_cv"),
])
def test_bad_settings_are_named(kw, name):
    with pytest.raises(ValueError, match=name):
        CampaignPacing(**kw)


def test_agent_row_out_of_range_is_an_error_not_a_crash():
    p = Pacer([CampaignPacing()])
    with pytest.raises(ValueError, match="agent_job"):
        p.decide(0.0, np.array([5]), np.array([1]), np.array([0.0]),
                 np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
    with pytest.raises(ValueError, match="same length"):
        p.decide(0.0, np.array([0, 0]), np.array([1]), np.array([0.0]),
                 np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))


@pytest.mark.parametrize("call", ["observe_handling", "observe_talk", "observe_wrap",
                                  "observe_wait", "observe_dial"])
def test_seconds_past_the_clock_range_are_refused(call):
    """9.2e19 s is finite but past any clock (its histogram bin overflowed int64 and indexed
    out of bounds, found by the NUMBA_BOUNDSCHECK pass): a ValueError naming the argument."""
    p = Pacer([CampaignPacing()])
    args = {"observe_wait": (0, 9.2e19, False), "observe_dial": (0, True, 9.2e19)}
    with pytest.raises(ValueError, match="seconds in"):
        getattr(p, call)(*args.get(call, (0, 9.2e19)))

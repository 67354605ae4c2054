"""Fixed ratio, progressive and preview pacing, and PHP rounding, against their oracles."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pacer.ratio import (
    fixed_ratio_launch,
    preview_launch,
    progressive_launch,
    round_half_away,
)
from tests import naive_baselines as naive

SETTINGS = settings(max_examples=80, deadline=None)
counts = st.integers(0, 500)


# --------------------------------------------------------------------------- rounding


def test_round_half_away_from_zero_not_to_even():
    # np.round would give 0, 2, 2, -2, -0 (banker's); PHP gives 1, 2, 3, -3, -1.
    got = round_half_away([0.5, 1.5, 2.5, -2.5, -0.5, 0.4999999, 3.5000001], 0)
    assert got.tolist() == [1.0, 2.0, 3.0, -3.0, -1.0, 0.0, 4.0]


def test_round_three_places_uses_php_pre_rounding():
    # 1.0005 is 1.000499999... in binary; PHP pre-rounds to 15 digits and gives 1.001.
    # 2.0025 -> 2.003 (half to even would give 2.002); -1.0005 -> -1.001.
    got = round_half_away([1.0005, 2.0025, -1.0005, 2.0004, 1.3356], 3)
    assert got.tolist() == [1.001, 2.003, -1.001, 2.0, 1.336]


def test_round_passes_through_huge_and_nonfinite():
    got = round_half_away([1e16 + 0.5 * 2, np.inf, -np.inf], 0)
    assert got[0] == 1e16 + 1.0 and got[1] == np.inf and got[2] == -np.inf
    assert np.isnan(round_half_away([np.nan], 2)[0])


def test_round_rejects_negative_places():
    with pytest.raises(ValueError, match="places"):
        round_half_away([1.0], -1)


@SETTINGS
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=30),
       st.integers(0, 4))
def test_round_matches_decimal_oracle(xs, places):
    got = round_half_away(np.array(xs), places)
    want = [naive.php_round(x, places) for x in xs]
    assert got.tolist() == want


@SETTINGS
@given(st.lists(st.integers(-10**6, 10**6), min_size=1, max_size=30), st.integers(1, 3))
def test_round_exact_decimal_halves(ints, places):
    # k + 0.5 at the last kept digit always rounds away from zero.
    xs = [(k + (0.5 if k >= 0 else -0.5)) / 10**places for k in ints]
    got = round_half_away(np.array(xs), places)
    want = [(k + (1 if k >= 0 else -1)) / 10**places for k in ints]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


# --------------------------------------------------------------------------- fixed ratio


def test_fixed_ratio_vicidial_semantics():
    # row 0: round(2.5 * (3 + 2)) - 4 = round(12.5) - 4 = 13 - 4 = 9
    # row 1: round(1.5 * (3 + 0)) - 0 = round(4.5) = 5 (banker's would give 4)
    # row 2: round(3.0 * (1 + 1)) - 9 = 6 - 9 < 0 -> 0
    # row 3: zero agents -> 0
    got = fixed_ratio_launch([2.5, 1.5, 3.0, 2.0], [3, 3, 1, 0], [2, 0, 1, 0], [4, 0, 9, 0])
    assert got.dtype == np.int64
    assert got.tolist() == [9, 5, 0, 0]


def test_fixed_ratio_scalars_broadcast_to_one_row():
    assert fixed_ratio_launch(2.0, 3, 1, 2).tolist() == [6]


@st.composite
def ratio_rows(draw, min_ratio):
    n = draw(st.integers(1, 60))
    ratio = draw(st.lists(st.floats(min_ratio, 5.0), min_size=n, max_size=n))
    a = draw(st.lists(counts, min_size=n, max_size=n))
    b = draw(st.lists(counts, min_size=n, max_size=n))
    c = draw(st.lists(st.integers(0, 3000), min_size=n, max_size=n))
    return ratio, a, b, c


@SETTINGS
@given(ratio_rows(0.0))
def test_fixed_ratio_matches_oracle(rows):
    ratio, ready, in_call, in_flight = rows
    got = fixed_ratio_launch(np.array(ratio), np.array(ready), np.array(in_call),
                             np.array(in_flight))
    assert got.tolist() == naive.fixed_ratio(ratio, ready, in_call, in_flight)
    assert (got >= 0).all()


# --------------------------------------------------------------------------- progressive


def test_progressive_counts_unconnected_calls_against_idle_agents():
    # row 0: 4 idle at 1 line each, 1 ringing/waiting -> 3
    # row 1: round(1.5 * 3) = round(4.5) = 5, 2 unconnected -> 3
    # row 2: nobody idle -> 0 whatever is in flight
    got = progressive_launch([1.0, 1.5, 1.0], [4, 3, 0], [1, 2, 5])
    assert got.tolist() == [3, 3, 0]


@SETTINGS
@given(ratio_rows(1.0))
def test_progressive_matches_oracle(rows):
    ratio, idle, _, unconnected = rows
    got = progressive_launch(np.array(ratio), np.array(idle), np.array(unconnected))
    assert got.tolist() == naive.progressive(ratio, idle, unconnected)


def test_progressive_rejects_ratio_below_one():
    with pytest.raises(ValueError, match="ratio"):
        progressive_launch([0.5], [1], [0])


# --------------------------------------------------------------------------- preview


@SETTINGS
@given(st.lists(st.tuples(counts, counts), min_size=1, max_size=60))
def test_preview_matches_oracle(rows):
    req = [r for r, _ in rows]
    dial = [d for _, d in rows]
    assert preview_launch(np.array(req), np.array(dial)).tolist() == naive.preview(req, dial)


def test_preview_one_dial_per_request():
    assert preview_launch([3, 1, 0], [1, 2, 0]).tolist() == [2, 0, 0]


# --------------------------------------------------------------------------- validation


def test_validation_errors_name_the_argument():
    with pytest.raises(ValueError, match="ready"):
        fixed_ratio_launch([1.0], [-1], [0], [0])
    with pytest.raises(ValueError, match="in_call"):
        fixed_ratio_launch([1.0, 1.0], [1, 1], [0, 0, 0], [0, 0])
    with pytest.raises(ValueError, match="ratio"):
        fixed_ratio_launch([np.nan], [1], [0], [0])
    with pytest.raises(ValueError, match="in_flight"):
        fixed_ratio_launch([1.0], [1], [0], [0.5])
    with pytest.raises(ValueError, match="requests"):
        preview_launch([[1]], [[1]])
    with pytest.raises(ValueError, match="dialling"):
        preview_launch([1], [-2])

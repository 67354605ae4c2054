"""pacer.licenses: the split of license pools among jobs, against the unit-by-unit oracle."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pacer.constants import LICENSE_MAX_PRIORITY, LICENSE_MAX_UNITS
from pacer.licenses import (
    N_POOLS,
    DistributionMode,
    LicenseDistributor,
    allocate,
    allocate_pool,
    pool_sizes_array,
    warmup,
)
from pacer.modes import LicenseKind
from tests import naive_licenses as naive

SETTINGS = settings(max_examples=100, deadline=None)


@st.composite
def pools(draw, max_jobs=8, max_pool=80):
    """(pool_size, priority, minimum, maximum, demand) for one pool."""
    n = draw(st.integers(0, max_jobs))
    priority = draw(st.lists(st.integers(1, 6), min_size=n, max_size=n))
    maximum = draw(st.lists(st.integers(0, 15), min_size=n, max_size=n))
    minimum = [draw(st.integers(0, hi)) for hi in maximum]
    demand = draw(st.lists(st.integers(0, 20), min_size=n, max_size=n))
    pool = draw(st.integers(0, max_pool))
    return pool, priority, minimum, maximum, demand


def caps(minimum_share, maximum, demand):
    return [max(b, min(hi, d)) for b, hi, d in zip(minimum_share, maximum, demand, strict=True)]


def minimum_shares(pool, priority, minimum):
    """The first step alone: minimums in priority order (equal priority: lower index)."""
    left = pool
    out = [0] * len(priority)
    for j in sorted(range(len(priority)), key=lambda j: (-priority[j], j)):
        out[j] = min(minimum[j], left)
        left -= out[j]
    return out


# --------------------------------------------------------------------------------------
# The kernel against the oracle, and the invariants
# --------------------------------------------------------------------------------------


@SETTINGS
@given(pools())
def test_matches_unit_by_unit_oracle(case):
    pool, priority, minimum, maximum, demand = case
    got = allocate_pool(pool, priority, minimum, maximum, demand)
    assert got.dtype == np.int64
    assert got.tolist() == naive.allocate_pool(pool, priority, minimum, maximum, demand)


@SETTINGS
@given(pools())
def test_invariants(case):
    pool, priority, minimum, maximum, demand = case
    got = allocate_pool(pool, priority, minimum, maximum, demand).tolist()
    assert sum(got) <= pool
    assert all(0 <= a <= hi for a, hi in zip(got, maximum, strict=True))
    share = minimum_shares(pool, priority, minimum)
    if pool >= sum(minimum):
        # every minimum, whatever the demand; never above the cap; no unit left idle
        # while some job could use it
        assert all(a >= lo for a, lo in zip(got, minimum, strict=True))
        cap = caps(minimum, maximum, demand)
        assert all(a <= c for a, c in zip(got, cap, strict=True))
        assert sum(got) == min(pool, sum(cap))
    else:
        # the pool goes to the minimums, higher priority first, and to nothing else
        assert got == share
        assert sum(got) == pool


@SETTINGS
@given(pools(), st.integers(1, 30))
def test_no_share_falls_when_the_pool_grows(case, more):
    pool, priority, minimum, maximum, demand = case
    small = allocate_pool(pool, priority, minimum, maximum, demand)
    large = allocate_pool(pool + more, priority, minimum, maximum, demand)
    assert (large >= small).all()


@SETTINGS
@given(pools(max_jobs=6, max_pool=0))
def test_shares_grow_unit_by_unit_over_every_pool_size(case):
    _, priority, minimum, maximum, demand = case
    top = sum(caps(minimum, maximum, demand)) + 2
    previous = allocate_pool(0, priority, minimum, maximum, demand)
    for pool in range(1, top + 1):
        current = allocate_pool(pool, priority, minimum, maximum, demand)
        assert (current >= previous).all()
        assert current.sum() - previous.sum() in (0, 1)
        previous = current


@SETTINGS
@given(pools(), st.data())
def test_more_demand_never_gets_less(case, data):
    pool, priority, minimum, maximum, demand = case
    if not priority:
        return
    j = data.draw(st.integers(0, len(priority) - 1))
    more = list(demand)
    more[j] += data.draw(st.integers(1, 20))
    before = allocate_pool(pool, priority, minimum, maximum, demand)
    after = allocate_pool(pool, priority, minimum, maximum, more)
    assert after[j] >= before[j]


@SETTINGS
@given(pools(), st.randoms(use_true_random=False))
def test_deterministic_and_permutation_keeps_equal_priority_order(case, rnd):
    pool, priority, minimum, maximum, demand = case
    arrays = [np.array(x, np.int64) for x in (priority, minimum, maximum, demand)]
    copies = [a.copy() for a in arrays]
    first = allocate_pool(pool, *arrays)
    assert (allocate_pool(pool, *arrays) == first).all()
    assert all((a == c).all() for a, c in zip(arrays, copies, strict=True))  # inputs intact
    # A permutation that keeps equal-priority jobs in their relative order permutes the
    # result the same way (ties are broken by priority, then by index).
    n = len(priority)
    perm = list(range(n))
    rnd.shuffle(perm)
    for p in set(priority):
        positions = [i for i, j in enumerate(perm) if priority[j] == p]
        members = sorted(perm[i] for i in positions)
        for i, j in zip(positions, members, strict=True):
            perm[i] = j
    permuted = allocate_pool(pool, *(a[perm] for a in arrays))
    assert (permuted == first[perm]).all()


@SETTINGS
@given(st.integers(1, 12), st.integers(0, 200), st.integers(1, 9))
def test_equal_priorities_share_within_one_unit(n, pool, priority):
    got = allocate_pool(pool, [priority] * n, [0] * n, [1000] * n, [1000] * n)
    assert got.sum() == pool
    assert got.max() - got.min() <= 1
    assert (np.diff(got) <= 0).all()  # the extra units go to the lower indices


@SETTINGS
@given(pools(max_jobs=6, max_pool=200))
def test_close_to_the_continuous_water_fill(case):
    pool, priority, minimum, maximum, demand = case
    got = allocate_pool(pool, priority, minimum, maximum, demand).tolist()
    if pool < sum(minimum):
        return
    exact = naive.water_level_shares(pool, priority, minimum, maximum, demand)
    # Not the quota property (no house-monotone rule has it), but close in aggregate.
    assert sum(abs(a - x) for a, x in zip(got, exact, strict=True)) <= len(got)


def test_alabama_paradox_is_avoided():
    # Largest remainder takes a unit from the third job when the pool grows from 10 to 11.
    assert naive.largest_remainder(10, [6, 6, 2]) == [4, 4, 2]
    assert naive.largest_remainder(11, [6, 6, 2]) == [5, 5, 1]
    big = [1000] * 3
    shares = [allocate_pool(p, [6, 6, 2], [0] * 3, big, big) for p in range(0, 40)]
    for a, b in itertools.pairwise(shares):
        assert (b >= a).all()
    assert shares[10].tolist() == [5, 4, 1]
    assert shares[11].tolist() == [5, 5, 1]
    assert shares[14].tolist() == [6, 6, 2]  # proportional when exact


def test_minimums_by_priority_when_the_pool_is_short():
    # priority 5 (job 2) first, then the two priority-3 jobs by index
    got = allocate_pool(7, [3, 3, 5], [4, 4, 4], [9, 9, 9], [9, 9, 9])
    assert got.tolist() == [3, 0, 4]


def test_minimum_is_held_even_without_demand():
    got = allocate_pool(10, [1, 1], [3, 0], [5, 10], [0, 10])
    assert got.tolist() == [3, 7]


def test_minimums_are_floors_not_bonuses():
    # Water-filling: job 0's minimum 8 already exceeds its fair share, so the rest goes to
    # job 1 alone.
    got = allocate_pool(10, [1, 1], [8, 0], [10, 10], [10, 10])
    assert got.tolist() == [8, 2]


def test_priority_weights_the_water_fill():
    got = allocate_pool(40, [3, 1], [0, 0], [100, 100], [100, 100])
    assert got.tolist() == [30, 10]
    got = allocate_pool(40, [3, 1], [0, 0], [100, 4], [100, 100])
    assert got.tolist() == [36, 4]  # job 1 capped at its maximum, job 0 takes the rest


def test_edge_cases():
    assert allocate_pool(5, [], [], [], []).tolist() == []
    assert allocate_pool(0, [1, 2], [1, 1], [3, 3], [3, 3]).tolist() == [0, 0]
    assert allocate_pool(100, [1, 2], [0, 0], [0, 5], [9, 0]).tolist() == [0, 0]
    assert allocate_pool(100, [1, 2], [1, 1], [5, 5], [5, 5]).tolist() == [5, 5]


def test_large_pools_stay_exact():
    rng = np.random.default_rng(7)
    n = 50
    priority = rng.integers(1, LICENSE_MAX_PRIORITY + 1, n)
    big = np.full(n, LICENSE_MAX_UNITS)
    zero = np.zeros(n, np.int64)
    pool = LICENSE_MAX_UNITS - 3
    a = allocate_pool(pool, priority, zero, big, big)
    b = allocate_pool(pool + 1, priority, zero, big, big)
    assert a.sum() == pool
    assert b.sum() == pool + 1
    assert (b >= a).all()
    exact = pool * priority / priority.sum()
    assert np.abs(a - exact).max() <= 1.0


# --------------------------------------------------------------------------------------
# Every pool at once
# --------------------------------------------------------------------------------------


@st.composite
def multi_pools(draw):
    n = draw(st.integers(0, 14))
    kind = draw(st.lists(st.integers(0, N_POOLS - 1), min_size=n, max_size=n))
    priority = draw(st.lists(st.integers(1, 6), min_size=n, max_size=n))
    maximum = draw(st.lists(st.integers(0, 15), min_size=n, max_size=n))
    minimum = [draw(st.integers(0, hi)) for hi in maximum]
    demand = draw(st.lists(st.integers(0, 20), min_size=n, max_size=n))
    sizes = draw(st.lists(st.integers(0, 40), min_size=N_POOLS, max_size=N_POOLS))
    return sizes, kind, priority, minimum, maximum, demand


@SETTINGS
@given(multi_pools())
def test_all_pools_match_one_pool_at_a_time(case):
    sizes, kind, priority, minimum, maximum, demand = case
    got = allocate(sizes, kind, priority, minimum, maximum, demand)
    assert got.tolist() == naive.allocate(sizes, kind, priority, minimum, maximum, demand)
    kind_a = np.array(kind, np.int64)
    for p in range(N_POOLS):
        idx = np.nonzero(kind_a == p)[0]
        part = allocate_pool(
            sizes[p], *(np.array(x, np.int64)[idx] for x in (priority, minimum, maximum, demand))
        )
        assert (got[idx] == part).all()
        assert got[idx].sum() <= sizes[p]


def test_pool_sizes_from_a_mapping():
    sizes = pool_sizes_array({LicenseKind.OUTBOUND_PORT: 2200, LicenseKind.SMS_THROUGHPUT: 5})
    assert sizes.tolist() == [0, 0, 0, 2200, 5, 0, 0]  # the manual-agent pool last


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-1, [1], [0], [1], [1]), "pool_size must be in"),
        ((5, [0], [0], [1], [1]), r"priority\[0\] \(job 0\) must be in \[1,"),
        ((5, [1, 1], [0, 2], [1, 1], [1, 1]), r"minimum\[1\] = 2 exceeds maximum\[1\] = 1"),
        ((5, [1], [0], [-1], [1]), r"maximum\[0\] \(job 0\) must be in"),
        ((5, [1], [0], [1], [-3]), r"demand\[0\] \(job 0\) must be in"),
        ((5, [1], [0, 0], [1], [1]), "minimum must have length 1"),
        ((5, [1.5], [0], [1], [1]), "priority must hold integers"),
        ((5, [[1]], [0], [1], [1]), "priority must be a 1-D array"),
        ((2.0, [1], [0], [1], [1]), "pool_size must be an integer"),
        ((True, [1], [0], [1], [1]), "pool_size must be an integer"),
        ((5, np.array([2**63], np.uint64), [0], [1], [1]), "priority holds values beyond int64"),
    ],
)
def test_allocate_pool_rejects(args, message):
    with pytest.raises(ValueError, match=message):
        allocate_pool(*args)


def test_allocate_rejects_bad_kind_and_sizes():
    with pytest.raises(ValueError, match=r"kind\[1\] \(job 1\) must be in \[0, 6\]"):
        allocate([1] * N_POOLS, [0, 7], [1, 1], [0, 0], [1, 1], [1, 1])
    with pytest.raises(ValueError, match="pool_sizes must have length 7"):
        allocate([1, 2], [0], [1], [0], [1], [1])
    with pytest.raises(ValueError, match=r"pool_sizes\[PREVIEW_AGENT\] must be in"):
        allocate([1, 1, -1, 1, 1, 1, 1], [0], [1], [0], [1], [1])
    with pytest.raises(ValueError, match="pool_sizes key must be a LicenseKind, got 9"):
        allocate({9: 1}, [0], [1], [0], [1], [1])


# --------------------------------------------------------------------------------------
# The stateful distributor
# --------------------------------------------------------------------------------------

AGENT = LicenseKind.PREDICTIVE_AGENT
PORT = LicenseKind.OUTBOUND_PORT


def test_dynamic_mode_follows_demand_every_tick():
    d = LicenseDistributor({AGENT: 10}, DistributionMode.DYNAMIC)
    d.add_job("a", AGENT, priority=1, minimum=0, maximum=10, demand=10)
    d.add_job("b", AGENT, priority=1, minimum=0, maximum=10, demand=10)
    assert d.allocations() == {"a": 0, "b": 0}  # nothing before the first tick
    assert d.tick().tolist() == [5, 5]
    d.set_demand("a", 2)
    assert d.allocations() == {"a": 5, "b": 5}  # effective at the next tick
    assert d.tick().tolist() == [2, 8]


def test_reserved_mode_keeps_licenses_until_a_recalculation_event():
    d = LicenseDistributor({AGENT: 10}, DistributionMode.RESERVED)
    d.add_job("a", AGENT, priority=1, minimum=0, maximum=10, demand=10)
    d.add_job("b", AGENT, priority=1, minimum=0, maximum=10, demand=10)
    assert d.tick().tolist() == [5, 5]
    d.set_demand("a", 1)
    assert d.tick().tolist() == [5, 5]  # demand alone moves nothing
    d.set_priority("b", 3)
    assert d.allocations() == {"a": 5, "b": 5}  # not before the next tick
    assert d.tick().tolist() == [1, 9]  # the event recomputes from the current demand
    d.set_demand("a", 10)
    assert d.tick().tolist() == [1, 9]
    d.request_recalculation(AGENT)
    # weights 1 : 3 of 10 units: exactly 2.5 : 7.5, the tie goes to the higher priority
    assert d.tick().tolist() == [2, 8]


def test_reserved_mode_recalculates_only_the_pool_with_the_event():
    d = LicenseDistributor({AGENT: 10, PORT: 100}, DistributionMode.RESERVED)
    d.add_job("agents", AGENT, priority=1, minimum=0, maximum=10, demand=10)
    d.add_job("ports", PORT, priority=1, minimum=0, maximum=100, demand=100)
    assert d.tick().tolist() == [10, 100]
    d.set_demand("ports", 20)
    d.set_demand("agents", 4)
    d.set_pool_size(AGENT, 8)  # event in the agent pool only
    assert d.tick().tolist() == [4, 100]
    d.add_job("ports2", PORT, priority=1, minimum=5, maximum=100, demand=0)
    assert d.allocation("ports2") == 0
    assert d.tick().tolist() == [4, 20, 5]
    assert d.used().tolist() == [4, 0, 0, 25, 0, 0, 0]


def test_minimum_change_takes_effect_on_the_next_tick():
    for mode in DistributionMode:
        d = LicenseDistributor({AGENT: 6}, mode)
        d.add_job(1, AGENT, priority=2, minimum=0, maximum=6, demand=6)
        d.add_job(2, AGENT, priority=1, minimum=0, maximum=6, demand=6)
        assert d.tick().tolist() == [4, 2]
        d.set_minimum(2, 5)
        assert d.allocation(2) == 2
        assert d.tick().tolist() == [1, 5]


def test_start_order_breaks_priority_ties_and_removal_frees_units():
    d = LicenseDistributor({AGENT: 5})
    d.add_job("late", AGENT, priority=1, minimum=3, maximum=5, demand=5)
    d.add_job("later", AGENT, priority=1, minimum=3, maximum=5, demand=5)
    assert d.tick().tolist() == [3, 2]  # short pool: the older job's minimum first
    assert d.jobs == ("late", "later")
    d.remove_job("late")
    assert d.jobs == ("later",)
    assert d.allocations() == {"later": 2}
    assert d.tick().tolist() == [5]
    d.set_maximum("later", 4)
    assert d.tick().tolist() == [4]


def test_distributor_matches_the_function():
    rng = np.random.default_rng(11)
    n = 40
    sizes = [30, 20, 10, 50, 40, 40, 15]
    kind = rng.integers(0, N_POOLS, n)
    priority = rng.integers(1, 5, n)
    maximum = rng.integers(0, 12, n)
    minimum = np.minimum(rng.integers(0, 3, n), maximum)
    demand = rng.integers(0, 15, n)
    d = LicenseDistributor(sizes, DistributionMode.RESERVED)
    for j in range(n):
        d.add_job(j, kind[j], priority[j], minimum[j], maximum[j], demand[j])
    expected = allocate(sizes, kind, priority, minimum, maximum, demand)
    assert (d.tick() == expected).all()
    assert (d.allocation_array == expected).all()
    assert (d.pool_sizes == np.array(sizes)).all()


def test_distributor_rejects_bad_input():
    d = LicenseDistributor([1] * N_POOLS)
    d.add_job("x", AGENT, priority=1, minimum=0, maximum=1, demand=0)
    with pytest.raises(ValueError, match="job 'x' is already running"):
        d.add_job("x", AGENT, priority=1, minimum=0, maximum=1, demand=0)
    with pytest.raises(KeyError, match="unknown job 'y'"):
        d.set_demand("y", 1)
    with pytest.raises(ValueError, match="job 'x': minimum 2 exceeds maximum 1"):
        d.set_minimum("x", 2)
    with pytest.raises(ValueError, match="job 'x': priority must be in"):
        d.set_priority("x", 0)
    with pytest.raises(ValueError, match="job 'z': kind must be a LicenseKind"):
        d.add_job("z", 9, priority=1, minimum=0, maximum=1, demand=0)
    with pytest.raises(ValueError, match="job 'x': demand must be >= 0"):
        d.set_demand("x", -1)
    with pytest.raises(ValueError, match="job 'x': maximum must be an integer"):
        d.set_maximum("x", 1.5)
    with pytest.raises(ValueError, match="mode must be a DistributionMode"):
        d.mode = 7
    with pytest.raises(ValueError, match="size of pool SMS_THROUGHPUT must be in"):
        d.set_pool_size(LicenseKind.SMS_THROUGHPUT, -5)
    with pytest.raises(ValueError, match="kind must be a LicenseKind, got 7"):
        d.set_pool_size(7, 5)
    with pytest.raises(ValueError, match="kind must be a LicenseKind, got -1"):
        d.request_recalculation(-1)
    with pytest.raises(ValueError, match="job 'w': maximum must be in"):
        d.add_job("w", AGENT, priority=1, minimum=0, maximum=LICENSE_MAX_UNITS + 1, demand=0)
    assert d.jobs == ("x",)  # nothing half-added


def test_switching_mode_recalculates_every_pool():
    d = LicenseDistributor({AGENT: 4, PORT: 4}, DistributionMode.RESERVED)
    d.add_job("a", AGENT, priority=1, minimum=0, maximum=4, demand=4)
    d.add_job("p", PORT, priority=1, minimum=0, maximum=4, demand=4)
    assert d.tick().tolist() == [4, 4]
    d.set_demand("a", 1)
    d.set_demand("p", 2)
    assert d.tick().tolist() == [4, 4]
    d.request_recalculation()  # every pool
    assert d.tick().tolist() == [1, 2]
    d.set_demand("a", 3)
    d.mode = DistributionMode.DYNAMIC
    assert d.mode is DistributionMode.DYNAMIC
    assert d.tick().tolist() == [3, 2]


def test_warmup_compiles():
    warmup()

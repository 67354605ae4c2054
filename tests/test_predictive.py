"""The batched predictive decision: against the NumPy reference, edge cases and properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from pacer.constants import ABS_TOL, DEFAULT_CONNECT_WINDOW_S, REL_TOL
from pacer.histogram import StreamingHistogram
from pacer.modes import Target
from pacer.poisson_binomial import poisson_binomial_pmf
from pacer.predictive import (
    _fill_excess_table,
    _fill_wait_tables,
    _scan_fraction,
    predictive_dials,
    warmup,
)
from tests import naive_predictive as nv

SETTINGS = settings(max_examples=60, deadline=None)
TIE = 1e-9  # a decision whose criterion is this close to its threshold may go either way
PARAMS = ("hit_rate", "ring_timeout_s", "horizon_s", "connect_window_s", "abandon_limit",
          "target_kind", "target_value", "sl_threshold_s", "max_new", "active")


# ------------------------------------------------------------------ strategies


@st.composite
def histograms(draw, n_rows):
    """(hold, ring) with n_rows rows each: observations (whole-number weights), a seeded
    prior, or both."""
    out = []
    for bws in ([0.5, 1.0, 2.0], [0.25, 0.5, 1.0]):
        bw = draw(st.sampled_from(bws))
        n_bins = draw(st.integers(2, 30))
        h = StreamingHistogram(n_rows, bw, n_bins * bw)
        for c in range(n_rows):
            kind = draw(st.sampled_from(["obs", "prior", "both"]))
            if kind != "obs":
                h.seed(c, draw(st.floats(0.2, 0.7)) * h.max_s, draw(st.floats(0.2, 2.0)),
                       draw(st.floats(1.0, 30.0)))
            if kind != "prior":
                vals = draw(st.lists(st.floats(0.0, 1.2 * h.max_s), min_size=1, max_size=25))
                h.add_many(np.full(len(vals), c, dtype=np.int64), np.array(vals))
        out.append(h)
    return out


@st.composite
def states(draw, n_rows=None, max_agents=10, max_calls=12, max_new=40, kinds=(0, 1, 2),
           extras=True):
    """A full decision input: dict of predictive_dials arguments. extras: sometimes a
    ring-end histogram, look-ahead steps and live answers waiting (call elapsed < 0)."""
    c_n = n_rows or draw(st.integers(1, 3))
    hold, ring = draw(histograms(c_n))
    waiting = extras and draw(st.booleans())
    elapsed, offsets, calls, call_offsets = [], [0], [], [0]
    timeouts = []
    for _ in range(c_n):
        idle = st.just(-1.0)
        a = draw(st.lists(st.one_of(idle, idle, st.floats(0.0, 1.3 * hold.max_s)),
                          max_size=max_agents))
        elapsed += a
        offsets.append(len(elapsed))
        t_out = draw(st.floats(0.5, 1.2 * ring.max_s))
        timeouts.append(t_out)
        ringing = st.floats(0.0, 1.2 * t_out)
        k = draw(st.lists(st.one_of(ringing, st.just(-1.0)) if waiting else ringing,
                          max_size=max_calls))
        calls += k
        call_offsets.append(len(calls))
    kind = draw(st.lists(st.sampled_from(kinds), min_size=c_n, max_size=c_n))
    tv = [draw(st.floats(0.0, 1.0)) if k == 1 else draw(st.floats(0.0, 40.0)) for k in kind]
    f = st.floats
    more = {}
    if extras and draw(st.booleans()):
        more["ring_end"] = draw(histograms(c_n))[1]
    if extras and draw(st.booleans()):
        more["n_steps"] = draw(st.integers(1, 3))
    return dict(**more,
        agent_offsets=np.array(offsets), agent_elapsed_s=np.array(elapsed, dtype=float),
        call_offsets=np.array(call_offsets), call_elapsed_s=np.array(calls, dtype=float),
        hold=hold, ring=ring,
        hit_rate=np.array(draw(st.lists(
            st.one_of(f(0.02, 0.6), f(0.0, 1.0), st.just(1.0)),
            min_size=c_n, max_size=c_n))),
        ring_timeout_s=np.array(timeouts),
        horizon_s=np.array(draw(st.lists(f(0.25, 25.0), min_size=c_n, max_size=c_n))),
        connect_window_s=np.array(draw(st.lists(f(0.0, 4.0), min_size=c_n, max_size=c_n))),
        abandon_limit=np.array(draw(st.lists(
            st.one_of(f(0.0, 0.5), st.sampled_from([0.0, 0.03])), min_size=c_n, max_size=c_n))),
        target_kind=np.array(kind, dtype=np.int64), target_value=np.array(tv),
        sl_threshold_s=np.array(draw(st.lists(f(0.0, 20.0), min_size=c_n, max_size=c_n))),
        max_new=np.array(draw(st.lists(st.integers(1, max_new),
                                       min_size=c_n, max_size=c_n))),
        active=np.array(draw(st.lists(st.sampled_from([1, 1, 1, 0]), min_size=c_n,
                                      max_size=c_n))),
    )


DEFAULTS = dict(connect_window_s=DEFAULT_CONNECT_WINDOW_S, target_kind=0, target_value=0.0,
                sl_threshold_s=0.0, active=1)


def reference(s):
    c_n = len(s["agent_offsets"]) - 1
    end = s.get("ring_end")
    return nv.predictive_dials(
        s["agent_offsets"], s["agent_elapsed_s"], s["call_offsets"], s["call_elapsed_s"],
        s["hold"].counts, s["hold"].bin_width_s, s["ring"].counts, s["ring"].bin_width_s,
        *(np.broadcast_to(s.get(k, DEFAULTS.get(k)), (c_n,)) for k in PARAMS),
        end_counts=None if end is None else end.counts,
        end_bw=1.0 if end is None else end.bin_width_s, n_steps=s.get("n_steps", 1))


def live_probs(s, c):
    """(q of campaign c's in-flight calls, q_new) from the reference."""
    co, end = s["call_offsets"], s.get("ring_end")
    return nv.live_probs(s["ring"].counts[c], s["ring"].bin_width_s, s["hit_rate"][c],
                         s["ring_timeout_s"][c], s["horizon_s"][c],
                         s["call_elapsed_s"][co[c]:co[c + 1]],
                         None if end is None else end.counts[c],
                         1.0 if end is None else end.bin_width_s)


def mean_free(s, c):
    """E[A] of campaign c (connect-window agents), from the reference."""
    ao = s["agent_offsets"]
    within = np.broadcast_to(s["horizon_s"], (len(ao) - 1,))[c] + np.broadcast_to(
        s.get("connect_window_s", DEFAULT_CONNECT_WINDOW_S), (len(ao) - 1,))[c]
    return nv.agent_probs(s["hold"].counts[c], s["hold"].bin_width_s,
                          s["agent_elapsed_s"][ao[c]:ao[c + 1]], within).sum()


def uncapped_when_no_live_answer(s, c):
    """Dials the model gives campaign c when no live answer is possible: max_new, except
    AGENT_WAIT with no agent who can become free (the predicted wait is 0: no dial needed)."""
    if s["target_kind"][c] == Target.AGENT_WAIT and mean_free(s, c) == 0.0:
        return 0
    return s["max_new"][c]


def decide(s):
    return predictive_dials(**s)


def assert_matches_reference(s):
    dials, ab, live = decide(s)
    r_dials, r_ab, r_live, margin = reference(s)
    near_tie = margin < TIE
    assert np.all(dials[~near_tie] == r_dials[~near_tie])
    same = dials == r_dials
    assert_allclose(ab[same], r_ab[same], rtol=REL_TOL, atol=ABS_TOL)
    assert_allclose(live[same], r_live[same], rtol=REL_TOL, atol=ABS_TOL)
    return dials, r_dials


# ------------------------------------------------------------------ against the reference


@SETTINGS
@given(states())
def test_matches_reference(s):
    dials, _ = assert_matches_reference(s)
    assert np.all(dials >= 0) and np.all(dials <= s["max_new"])
    assert np.all(dials[s["active"] == 0] == 0)


@settings(max_examples=30, deadline=None)
@given(states(n_rows=1, max_agents=0))
def test_zero_agents(s):
    dials = decide(s)[0]
    assert_matches_reference(s)
    # nobody to take a call: a dial is allowed only when it can never be answered live
    # within the look-ahead (and the state is not already over budget)
    if s["active"][0] and s["abandon_limit"][0] < 1.0:
        if live_probs(s, 0)[1] > 0.0:
            assert dials[0] == 0


@settings(max_examples=30, deadline=None)
@given(states())
def test_zero_hit_rate_dials_max_new(s):
    s["hit_rate"] = np.zeros_like(s["hit_rate"])
    s["call_elapsed_s"] = np.abs(s["call_elapsed_s"])  # no live answer already waiting
    dials, ab, live = decide(s)
    assert_matches_reference(s)
    # no live answers are possible, so no abandons: the model dials up to the cap
    for c in np.nonzero(s["active"] == 1)[0]:
        assert dials[c] == uncapped_when_no_live_answer(s, c)
    assert np.all(ab == 0.0) and np.all(live == 0.0)


@settings(max_examples=30, deadline=None)
@given(states())
def test_all_agents_busy(s):
    s["agent_elapsed_s"] = np.abs(s["agent_elapsed_s"])
    assert_matches_reference(s)


def _big_campaign(n_agents=1000, n_calls=600, max_new=150, idle=0.1, seed=7):
    rng = np.random.default_rng(seed)
    hold = StreamingHistogram(1, 2.0, 3600.0)
    ring = StreamingHistogram(1, 0.25, 60.0)
    hold.seed(0, 180.0, 1.0, 20.0)
    ring.seed(0, 9.0, 0.5, 20.0)
    hold.add_many(np.zeros(500, dtype=np.int64), rng.lognormal(4.8, 0.8, 500))
    ring.add_many(np.zeros(200, dtype=np.int64), rng.lognormal(2.1, 0.45, 200))
    elapsed = np.where(rng.random(n_agents) < idle, -1.0, rng.exponential(180.0, n_agents))
    return dict(
        agent_offsets=np.array([0, n_agents]), agent_elapsed_s=elapsed,
        call_offsets=np.array([0, n_calls]), call_elapsed_s=rng.random(n_calls) * 22.0,
        hold=hold, ring=ring, hit_rate=0.25, ring_timeout_s=20.0, horizon_s=10.0,
        abandon_limit=0.03, max_new=max_new)


@pytest.mark.parametrize("kind", [Target.ABANDON_RATE, Target.SERVICE_LEVEL, Target.AGENT_WAIT])
def test_one_campaign_1000_agents(kind):
    s = _big_campaign(n_calls=800, max_new=200, idle=0.02)
    s.update(target_kind=kind, target_value={0: 0.0, 1: 0.99, 2: 3.0}[int(kind)],
             sl_threshold_s=0.0)
    dials, _ = assert_matches_reference(
        {k: np.atleast_1d(v) if k in PARAMS else v for k, v in s.items()})
    assert 0 < dials[0] < 200  # an interior decision, not the cap


@pytest.mark.parametrize("idle", [0.02, 0.3])
def test_the_wait_rule_capped_at_fewer_dials_answers_the_same_up_to_the_cap(idle):
    # The pacer searches the wait rule no further than the abandon rule's dials (its
    # answer is the smaller of the two): capping the search at k must give min(k, the
    # uncapped answer), the wait rule's scan not depending on how far it may go
    s = _big_campaign(n_calls=120, max_new=3000, idle=idle)
    s.update(target_kind=Target.AGENT_WAIT, target_value=4.0, sl_threshold_s=0.0,
             abandon_limit=1.0)  # as the pacer calls it: the wait rule alone
    s = {k: np.atleast_1d(v) if k in PARAMS else v for k, v in s.items()}
    free = int(decide(s)[0][0])
    assert 0 < free < 3000  # an interior answer
    for k in (0, 1, free - 1, free, free + 1, 2 * free):
        capped = dict(s, max_new=np.array([k]))
        assert int(decide(capped)[0][0]) == min(k, free)


def test_batch_equals_campaigns_decided_one_by_one():
    rng = np.random.default_rng(11)
    c_n = 6
    hold = StreamingHistogram(c_n, 2.0, 600.0)
    ring = StreamingHistogram(c_n, 0.25, 30.0)
    for c in range(c_n):
        hold.seed(c, 60.0 + 20 * c, 0.8, 20.0)
        ring.seed(c, 6.0 + c, 0.5, 20.0)
    na = rng.integers(0, 9, c_n)
    nc = rng.integers(0, 12, c_n)
    s = dict(agent_offsets=np.r_[0, np.cumsum(na)],
             agent_elapsed_s=np.where(rng.random(na.sum()) < 0.3, -1.0,
                                      rng.random(na.sum()) * 200),
             call_offsets=np.r_[0, np.cumsum(nc)], call_elapsed_s=rng.random(nc.sum()) * 20,
             hold=hold, ring=ring, hit_rate=rng.random(c_n) * 0.5, ring_timeout_s=20.0,
             horizon_s=8.0, abandon_limit=0.03, max_new=rng.integers(0, 15, c_n),
             target_kind=np.array([0, 1, 2, 0, 1, 2]),
             target_value=np.array([0, 0.8, 4.0, 0, 0.5, 10.0]), sl_threshold_s=15.0)
    dials, ab, live = decide(s)
    for c in range(c_n):
        one = dict(s)
        one["active"] = (np.arange(c_n) == c).astype(np.int64)
        d1, a1, l1 = decide(one)
        assert d1[c] == dials[c] and a1[c] == ab[c] and l1[c] == live[c]
        assert np.all(np.delete(d1, c) == 0)


# ------------------------------------------------------------------ model properties


@settings(max_examples=100, deadline=None)
@given(states(n_rows=1), st.integers(1, 3))
def test_more_idle_agents_never_fewer_dials(s, extra):
    base = decide(s)[0][0]
    more = dict(s)
    more["agent_elapsed_s"] = np.r_[s["agent_elapsed_s"], np.full(extra, -1.0)]
    more["agent_offsets"] = np.array([0, s["agent_offsets"][1] + extra])
    assert decide(more)[0][0] >= base


@settings(max_examples=100, deadline=None)
@given(states(n_rows=1), st.data())
def test_busy_agent_turning_idle_never_fewer_dials(s, data):
    busy = np.nonzero(s["agent_elapsed_s"] >= 0.0)[0]
    if busy.size == 0:
        return
    j = data.draw(st.sampled_from(busy.tolist()))
    base = decide(s)[0][0]
    s["agent_elapsed_s"] = s["agent_elapsed_s"].copy()
    s["agent_elapsed_s"][j] = -1.0
    assert decide(s)[0][0] >= base


@settings(max_examples=100, deadline=None)
@given(states(n_rows=1), st.floats(0.0, 1.0))
def test_higher_hit_rate_never_more_dials(s, up):
    base = decide(s)[0][0]
    s["hit_rate"] = np.minimum(s["hit_rate"] + up, 1.0)
    assert decide(s)[0][0] <= base


@settings(max_examples=100, deadline=None)
@given(states(n_rows=1), st.floats(0.0, 0.5))
def test_looser_abandon_limit_never_fewer_dials(s, up):
    base = decide(s)[0][0]
    s["abandon_limit"] = np.minimum(s["abandon_limit"] + up, 1.0)
    assert decide(s)[0][0] >= base


@settings(max_examples=100, deadline=None)
@given(states())
def test_zero_abandon_target_only_fills_idle_agents(s):
    """abandon_limit = 0: new dials + in-flight calls that may be answered live within the
    horizon never exceed the idle agents (unless a new dial can never be answered live)."""
    s["abandon_limit"] = np.zeros_like(s["abandon_limit"])
    dials = decide(s)[0]
    ao, co = s["agent_offsets"], s["call_offsets"]
    for c in np.nonzero(s["active"] == 1)[0]:
        ring_row, bw = s["ring"].counts[c], s["ring"].bin_width_s
        calls = s["call_elapsed_s"][co[c]:co[c + 1]]
        q, _ = live_probs(s, c)
        idle = int((s["agent_elapsed_s"][ao[c]:ao[c + 1]] < 0).sum())
        n_possible, can_answer = nv.possible_live(ring_row, bw, s["hit_rate"][c],
                                                  s["ring_timeout_s"][c], calls)
        if can_answer:
            assert dials[c] == 0 or dials[c] + int((q > 0).sum()) <= idle
        elif n_possible > idle:  # already over: never dilute
            assert dials[c] == 0
        elif s["target_kind"][c] != Target.AGENT_WAIT:
            # a new dial cannot be answered live: it adds no abandon
            assert dials[c] == s["max_new"][c]


@settings(max_examples=60, deadline=None)
@given(states(kinds=(1, 2)))
def test_targets_never_exceed_the_abandon_constraint(s):
    dials = decide(s)[0]
    s["target_kind"] = np.zeros_like(s["target_kind"])
    assert np.all(dials <= decide(s)[0])


@settings(max_examples=40, deadline=None)
@given(states(kinds=(0,)))
def test_service_level_of_zero_equals_the_abandon_rule(s):
    """SERVICE_LEVEL with X = 0 adds no constraint."""
    base = decide(s)[0]
    s["target_kind"] = np.ones_like(s["target_kind"])
    s["target_value"] = np.zeros_like(s["target_value"])
    assert np.all(decide(s)[0] == base)


@settings(max_examples=60, deadline=None)
@given(states(kinds=(1,)), st.floats(0.0, 1.0))
def test_higher_service_level_never_more_dials(s, up):
    base = decide(s)[0]
    s["target_value"] = np.minimum(s["target_value"] + up, 1.0)
    assert np.all(decide(s)[0] <= base)


@settings(max_examples=60, deadline=None)
@given(states(kinds=(2,)), st.floats(0.0, 30.0))
def test_longer_agent_wait_target_never_more_dials(s, up):
    base = decide(s)[0]
    s["target_value"] = s["target_value"] + up
    assert np.all(decide(s)[0] <= base)


@settings(max_examples=60, deadline=None)
@given(states(), st.integers(2, 4))
def test_look_ahead_steps_never_more_dials(s, steps):
    """The steps include the full horizon, so checking more of them only adds constraints."""
    s["n_steps"] = 1
    base = decide(s)[0]
    s["n_steps"] = steps
    assert np.all(decide(s)[0] <= base)
    assert_matches_reference(s)


def test_waiting_answer_and_ring_end():
    """A live answer already waiting surely needs an agent; with a ring-end histogram a call
    still ringing after the other outcomes' ends is more likely live."""
    hold = StreamingHistogram(1, 2.0, 600.0)
    ring = StreamingHistogram(1, 0.25, 30.0)
    end = StreamingHistogram(1, 0.25, 30.0)
    hold.seed(0, 120.0, 1.0, 20.0)
    ring.add_many(np.zeros(40, dtype=np.int64), np.linspace(5.0, 12.0, 40))
    # every dial ended by 12 s; the non-live ones (3 in 4) all by 4 s
    end.add_many(np.zeros(160, dtype=np.int64),
                 np.r_[np.linspace(1.0, 4.0, 120), np.linspace(5.0, 12.0, 40)])
    s = dict(agent_offsets=np.array([0, 1]), agent_elapsed_s=np.array([-1.0]),
             call_offsets=np.array([0, 1]), call_elapsed_s=np.array([-1.0]), hold=hold,
             ring=ring, hit_rate=0.25, ring_timeout_s=20.0, horizon_s=10.0, max_new=5,
             abandon_limit=0.0)
    assert decide(s)[0][0] == 0  # the one idle agent is taken by the waiting answer
    s["call_elapsed_s"] = np.array([4.5])
    q_plain = live_probs({**s, "hit_rate": np.array([0.25]), "ring_timeout_s": [20.0],
                          "horizon_s": [10.0]}, 0)[0][0]
    q_end = live_probs({**s, "ring_end": end, "hit_rate": np.array([0.25]),
                        "ring_timeout_s": [20.0], "horizon_s": [10.0]}, 0)[0][0]
    assert q_end == pytest.approx(1.0) and q_plain < 0.5  # only live answers ring past 4 s
    s.update(abandon_limit=0.03, ring_end=end)
    _, _, live = decide(s)
    assert live[0] >= 1.0 - 1e-12
    assert_matches_reference({k: np.atleast_1d(v) if k in PARAMS else v for k, v in s.items()})


def test_horizon_blind_spot_and_zero_tolerance():
    """The look-ahead sees no live answer of a new dial (h below the fastest answer): with a
    positive limit the model dials the cap; with a zero limit it counts every line that can
    still be answered, so it only fills idle agents."""
    hold = StreamingHistogram(1, 2.0, 600.0)
    ring = StreamingHistogram(1, 0.25, 30.0)
    hold.seed(0, 120.0, 1.0, 20.0)
    ring.add_many(np.zeros(50, dtype=np.int64), np.linspace(5.0, 15.0, 50))  # none < 5 s
    s = dict(agent_offsets=np.array([0, 3]), agent_elapsed_s=np.array([-1.0, -1.0, 30.0]),
             call_offsets=np.array([0, 1]), call_elapsed_s=np.array([0.5]), hold=hold,
             ring=ring, hit_rate=0.3, ring_timeout_s=20.0, horizon_s=2.0, max_new=9,
             abandon_limit=0.03)
    assert decide(s)[0][0] == 9  # myopic: q_new = 0, the in-flight call has q = 0 too
    s["abandon_limit"] = 0.0
    assert decide(s)[0][0] == 1  # 2 idle agents, 1 call that may still be answered


# ------------------------------------------------------------------ kernel pieces


def test_first_crossing_never_dilutes():
    """Over budget at m = 0 gives 0 even where more dials would dilute the ratio back under
    the limit (L0 heavy-tailed, A = 1 surely, q_new = 1)."""
    pmf_l0 = np.array([0.99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.01])
    n = pmf_l0.size + 5
    g = np.empty(n)
    _fill_excess_table(np.array([1.0]), 0, 1, n, g)  # A = 1 idle agent
    live0 = float(np.dot(np.arange(pmf_l0.size), pmf_l0))
    h = [nv.expected_excess(np.convolve(pmf_l0, np.eye(1, m + 1, m)[0]), [0, 1.0])
         - 0.5 * (live0 + m) for m in range(5)]
    assert h[0] > 0 and h[1] <= 0  # the "largest n with h(n) <= 0" would dial
    assert _scan_fraction(pmf_l0, pmf_l0.size, np.zeros(n), 1.0, 4, g, 0.5, live0) == 0


@SETTINGS
@given(st.lists(st.floats(0.0, 1.0), max_size=10), st.integers(0, 5), st.integers(1, 25))
def test_agent_tables(p, n_idle, n):
    pmf_busy = poisson_binomial_pmf(np.array(p))
    pmf_a = np.r_[np.zeros(n_idle), pmf_busy]
    g, u, mt, suf = np.empty(n), np.empty(n), np.empty(n), np.empty(len(p) + 2)
    _fill_excess_table(pmf_busy, len(p), n_idle, n, g)
    _fill_wait_tables(pmf_busy, len(p), n_idle, n, suf, u, mt)
    for x in range(n):
        point = np.eye(1, x + 1, x)[0]
        assert g[x] == pytest.approx(nv.excess_outer(point, pmf_a), rel=REL_TOL, abs=ABS_TOL)
        assert u[x] == pytest.approx(nv.shortfall_outer(point, pmf_a), rel=REL_TOL,
                                     abs=ABS_TOL)
        assert mt[x] == pytest.approx(nv.matched_outer(point, pmf_a), rel=REL_TOL, abs=ABS_TOL)


# ------------------------------------------------------------------ public layer


def _valid():
    hold = StreamingHistogram(2, 2.0, 600.0)
    ring = StreamingHistogram(2, 0.25, 30.0)
    for c in range(2):
        hold.seed(c, 120.0, 1.0, 20.0)
        ring.seed(c, 8.0, 0.5, 20.0)
    return dict(agent_offsets=np.array([0, 1, 2]), agent_elapsed_s=np.array([-1.0, 5.0]),
                call_offsets=np.array([0, 0, 1]), call_elapsed_s=np.array([3.0]), hold=hold,
                ring=ring, hit_rate=0.3, ring_timeout_s=20.0, horizon_s=8.0,
                abandon_limit=0.03, max_new=4)


@pytest.mark.parametrize(("change", "match"), [
    ({"agent_offsets": np.array([0, 2, 1])}, "agent_offsets"),
    ({"agent_offsets": np.array([0.0, 1.0, 2.0])}, "agent_offsets"),
    ({"call_offsets": np.array([0, 1])}, "call_offsets"),
    ({"agent_elapsed_s": np.array([np.nan, 1.0])}, "agent_elapsed_s"),
    ({"call_elapsed_s": np.array([np.inf])}, "call_elapsed_s"),
    ({"ring_end": StreamingHistogram(1, 1.0, 10.0)}, "ring_end"),
    ({"n_steps": 0}, "n_steps"),
    ({"hit_rate": 1.5}, "hit_rate"),
    ({"hit_rate": np.array([0.1, 0.2, 0.3])}, "hit_rate"),
    ({"ring_timeout_s": 0.0}, "ring_timeout_s"),
    ({"horizon_s": np.inf}, "horizon_s"),
    ({"connect_window_s": -1.0}, "connect_window_s"),
    ({"abandon_limit": -0.01}, "abandon_limit"),
    ({"target_kind": 7}, "target_kind"),
    ({"target_kind": 1, "target_value": 1.2}, "target_value"),
    ({"target_kind": 2, "target_value": -1.0}, "target_value"),
    ({"sl_threshold_s": np.nan}, "sl_threshold_s"),
    ({"max_new": -1}, "max_new"),
    ({"max_new": 2.5}, "max_new"),
    ({"active": 2}, "active"),
    ({"hold": object()}, "hold"),
    ({"ring": StreamingHistogram(3, 1.0, 10.0)}, "ring"),
])
def test_validation(change, match):
    s = _valid()
    s.update(change)
    with pytest.raises(ValueError, match=match):
        predictive_dials(**s)


def test_empty_histogram_rows():
    s = _valid()
    s["ring"].clear(1)
    with pytest.raises(ValueError, match="ring histogram row 1"):
        predictive_dials(**s)
    s["active"] = np.array([1, 0])  # an inactive campaign may be unseeded
    dials, _, _ = predictive_dials(**s)
    assert dials[1] == 0


def test_outputs_and_warmup():
    warmup()
    dials, ab, live = predictive_dials(**_valid())
    assert dials.dtype == np.int64 and dials.shape == (2,)
    assert ab.dtype == np.float64 and live.dtype == np.float64
    assert np.all(ab >= 0.0) and np.all(ab <= live + 1e-12)


def test_max_new_zero_gives_no_dials():
    s = _valid()
    s["max_new"] = 0
    s["hit_rate"] = np.array([0.0, 0.3])
    dials, _, live = predictive_dials(**s)
    assert np.all(dials == 0)
    assert live[0] == 0.0 and live[1] > 0.0  # the in-flight call of campaign 1

"""The campaign-grouping kernel against a plain Python reference."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pacer import gather as g
from pacer.modes import AgentStatus, CallStatus


def naive_gather(n, now, aj, ast, asince, cj, cst, ct0, phases=None):
    """Agents' elapsed times and calls' per campaign, the counts; ``phases`` (a list per
    campaign, filled when given): each listed agent's phase (a campaign with any WRAP agent
    is split: its BUSY agents are talking)."""
    agents = [[] for _ in range(n)]
    calls = [[] for _ in range(n)]
    counts = np.zeros((n, g.N_COUNTS), dtype=np.int64)
    col_a = {AgentStatus.IDLE: g.IDLE, AgentStatus.BUSY: g.BUSY, AgentStatus.WRAP: g.BUSY,
             AgentStatus.BUSY_LEAVING: g.LEAVING, AgentStatus.PAUSED: g.PAUSED}
    split = {j for j, s in zip(aj, ast, strict=True) if j >= 0 and s == AgentStatus.WRAP}
    phases = [[] for _ in range(n)] if phases is None else phases
    col_c = {CallStatus.RINGING: g.RINGING, CallStatus.WAITING: g.WAITING,
             CallStatus.CONNECTED: g.CONNECTED}
    for j, s, t in zip(aj, ast, asince, strict=True):
        if j < 0 or s == AgentStatus.OFF:
            continue
        counts[j, col_a[s]] += 1
        if s == AgentStatus.IDLE:
            agents[j].append(-1.0)
            phases[j].append(g.PHASE_HANDLING)
        elif s in (AgentStatus.BUSY, AgentStatus.WRAP):
            agents[j].append(max(now - t, 0.0))
            phases[j].append(g.PHASE_WRAP if s == AgentStatus.WRAP else
                             g.PHASE_TALK if j in split else g.PHASE_HANDLING)
    for j, s, t in zip(cj, cst, ct0, strict=True):
        if j < 0 or s == CallStatus.FREE:
            continue
        counts[j, col_c[s]] += 1
        if s == CallStatus.RINGING:
            calls[j].append(max(now - t, 0.0))
        elif s == CallStatus.WAITING:
            calls[j].append(-1.0 - max(now - t, 0.0))  # -1 - seconds waited
    return agents, calls, counts


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 6), na=st.integers(0, 40), nc=st.integers(0, 60),
       seed=st.integers(0, 2**31))
def test_gather_matches_reference(n, na, nc, seed):
    rng = np.random.default_rng(seed)
    aj = rng.integers(-1, n, na).astype(np.int64)
    ast = rng.integers(0, 6, na).astype(np.int64)
    asince = rng.uniform(0, 100, na)
    cj = rng.integers(-1, n, nc).astype(np.int64)
    cst = rng.integers(0, 4, nc).astype(np.int64)
    ct0 = rng.uniform(0, 100, nc)
    now = 100.0
    ao, ae, co, ce, counts = g.gather(n, now, aj, ast, asince, cj, cst, ct0)
    phases = [[] for _ in range(n)]
    agents, calls, ref_counts = naive_gather(n, now, aj, ast, asince, cj, cst, ct0, phases)
    np.testing.assert_array_equal(counts, ref_counts)
    for c in range(n):
        np.testing.assert_allclose(ae[ao[c]:ao[c + 1]], agents[c])
        np.testing.assert_allclose(ce[co[c]:co[c + 1]], calls[c])
    gt = g.Gatherer(n)  # the keys: each listed agent's and call's own row, in list order
    gt(now, aj, ast, asince, cj, cst, ct0)
    listed_a = [i for c in range(n) for i in range(na) if aj[i] == c and ast[i] in (1, 2, 5)]
    listed_c = [i for c in range(n) for i in range(nc) if cj[i] == c and cst[i] in (1, 2)]
    assert list(gt.agent_key[:len(listed_a)]) == listed_a
    assert list(gt.call_key[:len(listed_c)]) == listed_c
    assert list(gt.agent_phase[:len(listed_a)]) == [p for c in range(n) for p in phases[c]]


def test_gather_empty():
    e = np.zeros(0, dtype=np.int64)
    ao, ae, _co, _ce, counts = g.gather(3, 0.0, e, e, np.zeros(0), e, e, np.zeros(0))
    assert list(ao) == [0, 0, 0, 0] and ae.size == 0 and counts.sum() == 0


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 8), seed=st.integers(0, 2**31))
def test_max_new_and_tallies_match_plain_python(n, seed):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 12, (n, g.N_COUNTS)).astype(np.int64)
    lines = rng.uniform(1.0, 3.0, n)
    out = np.empty(n, dtype=np.int64)
    g._max_new(lines, counts, out)
    for c in range(n):
        cap = int(np.floor(lines[c] * (counts[c, g.IDLE] + counts[c, g.BUSY]) + 1e-9))
        assert out[c] == max(cap - counts[c, g.RINGING] - counts[c, g.WAITING], 0)
    m = int(rng.integers(0, 30))
    rows = rng.integers(0, n, m).astype(np.int64)
    codes = rng.integers(0, 5, m).astype(np.int64)  # 4: a connect found to be a machine
    minute = np.zeros((n, 60), dtype=np.int64)
    drops, answered = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    new_ab, new_live = np.zeros(n), np.zeros(n)
    g._tally_live(rows, codes, 1, 0, 4, 7, minute, drops, answered, new_ab, new_live)
    today = np.full(n, 3, dtype=np.int64)
    g._tally_dials(rows, 8, minute, today)
    for c in range(n):
        mine = codes[rows == c]
        assert drops[c] == minute[c, 7] == new_ab[c] == (mine == 1).sum()
        assert new_live[c] == np.isin(mine, [0, 1]).sum() - (mine == 4).sum()
        seen = 0  # today's answered calls never go under 0
        for k in mine.tolist():
            seen = seen + 1 if k in (0, 1) else max(seen - 1, 0) if k == 4 else seen
        assert answered[c] == seen
        assert minute[c, 8] == (rows == c).sum() == today[c] - 3


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(0, 2**31))
def test_due_and_account_match_their_numpy_statement(n, seed):
    """The pacer's per-decision bookkeeping (numba) against the NumPy it replaced."""
    rng = np.random.default_rng(seed)
    mask = rng.integers(0, 2, n).astype(np.int64)
    dirty = rng.random(n) < 0.5
    ended = rng.random(n) < 0.5
    idle = rng.integers(0, 3, n).astype(np.int64)
    unanswered = rng.integers(0, 8, n).astype(np.int64)
    hit = rng.random(n)
    next_decide = rng.uniform(0, 10, n)
    now = 5.0
    active = np.zeros(n, dtype=np.int64)
    max_new = rng.integers(0, 3, n).astype(np.int64)
    news = dirty | (ended & (hit * unanswered < idle))
    due = (mask * (news | (now + 1e-9 >= next_decide))).astype(np.int64)
    want = np.where(max_new > 0, due, 2 * due)  # 2: due at its lines cap (no look-ahead)
    d, e = dirty.copy(), ended.copy()
    assert g._due(mask, d, e, idle, unanswered, hit, next_decide, now, max_new, active) \
        == bool(want.any())
    assert np.array_equal(active, want)
    assert not d.any() and not e.any()  # the news is read once
    # what the look-ahead leaves for a row it skips at the cap: no dial, slack 0
    out = np.where(active == 2, 0, rng.integers(0, 3, n)).astype(np.int64)
    slack = np.where(active == 2, 0.0, rng.uniform(0, 12, n))
    hit, added, exp_ab = rng.random(n), rng.random(n), rng.random(n)
    added[active == 2] = exp_ab[active == 2] = 0.0
    nd, nb, aab, alive, last = (np.zeros(n) for _ in range(5))
    nxt = next_decide.copy()
    g._account(active, out, hit, slack, max_new, added, exp_ab, now, 1.0, 8.0, nxt, nd, nb,
               aab, alive, last)
    on = active > 0  # a row at its cap is booked as a decision of no dial
    wait = np.where(out > 0, 0.0, np.clip(slack, 1.0, 8.0))
    assert np.allclose(nxt, np.where(on, now + wait, next_decide))
    assert np.array_equal(nd, on * 1.0) and np.array_equal(nb, (on & (out < max_new)) * 1.0)
    assert np.allclose(aab, added * on) and np.allclose(alive, out * hit * on)
    assert np.allclose(last, exp_ab + added)


def test_a_bad_entry_leaves_the_callers_state_alone():
    """The checks ride on the counting pass: a bad call entry after a wrap-up agent raises
    and does not mark the agent's campaign as reporting wrap-up apart."""
    gt = g.Gatherer(2)
    aj, ast, asince = np.array([1]), np.array([int(AgentStatus.WRAP)]), np.array([0.0])
    with pytest.raises(ValueError, match=r"call_status\[0\]"):
        gt.checked(10.0, aj, ast, asince, np.array([0]), np.array([9]), np.array([0.0]))
    assert gt.split.tolist() == [0, 0]
    gt.checked(10.0, aj, ast, asince, np.array([0]), np.array([1]), np.array([0.0]))
    assert gt.split.tolist() == [0, 1]

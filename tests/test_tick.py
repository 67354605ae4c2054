"""The pacer's per-tick path (pacer.tick) against its steps called one by one.

``_take_in`` and ``_decide_due`` chain kernels that each have their own reference tests;
what is checked here is the chaining: every tick of a simulated run, a shadow copy of the
arguments goes through the same steps as separate calls, in Python (the minute ring's
clearing, the empty-buffer skips, the order), and every array must come out bit for bit
the same.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

import pacer.decide
from pacer import gather as g
from pacer.abandon import _abandon_record
from pacer.cohorts import _append_ended
from pacer.holdtime import _events, _events_phases, _expose_phases
from pacer.lookahead import _lookahead_dials
from sim.run import simulate
from sim.scenario import load

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def _take_in_steps(n_camp, now, dt, state, grouped, minute_sec, tallies, dials, pending, waits,
                   patience, holds, phases, lives, windows, estimators, pred_rows):
    bad, i = g._gather(n_camp, now, *state, *grouped)
    if bad:
        return bad, i
    minute_calls, minute_drops, calls_today, drops_today, answered_today, new_ab, new_live = \
        tallies
    sec = int(now)
    if sec != minute_sec[0]:
        lo = minute_sec[0] + 1 if minute_sec[0] >= 0 else sec
        for s in range(max(lo, sec - 59), sec + 1):
            minute_calls[:, s % 60] = 0
            minute_drops[:, s % 60] = 0
        minute_sec[0] = sec
    slot = sec % 60
    rows, ring_s, live, m = dials
    if m:
        _append_ended(rows[:m], live[:m], ring_s[:m], now, *pending, slot, minute_calls,
                      calls_today)
    rows, waited, hung, m = waits
    if m:
        g._tally_waits(rows[:m], waited[:m], hung[:m], *patience)
    hold, talk, wrap = estimators
    rows, seconds, _, m = holds
    if m:
        _events(rows[:m], seconds[:m], hold[0], hold[1])
    rows, seconds, codes, m = phases
    if m:
        _events_phases(rows[:m], seconds[:m], codes[:m], talk[0], talk[1], wrap[0], wrap[1])
    rows, t, codes, m = lives
    if m:
        _abandon_record(rows[:m], t[:m], codes[:m], *windows)
        g._tally_live(rows[:m], codes[:m], 1, 0, slot, minute_drops, drops_today,
                      answered_today, new_ab, new_live)
    if dt > 0.0 and pred_rows.size:
        _expose_phases(grouped[0], grouped[1], grouped[8], pred_rows, dt, hold[0], hold[2],
                       talk[0], talk[2], wrap[0], wrap[2])
    return 0, -1


def _decide_due_steps(now, counts, lines_cap, max_new, looked_ahead, dirty, ended, hit,
                      next_decide, active, fallback, agents, calls, histograms, hit_sd, z,
                      z_fine, life_s, window_s, hangup_rate, theta, dt, salt, rng_state, outs,
                      redecide, sums):
    g._max_new(lines_cap, counts, max_new)
    idle = counts[:, g.IDLE]
    unanswered = counts[:, g.RINGING] + counts[:, g.WAITING]
    if not g._due(looked_ahead, dirty, ended, idle, unanswered, hit, next_decide, now,
                  active) and not fallback:
        return False
    rng_state[0] = salt
    out, exp_ab, added, exp_live, slack = outs
    _lookahead_dials(*agents, *calls, *histograms, hit, hit_sd, z, z_fine, life_s, window_s,
                     hangup_rate, theta, max_new, active, dt, now, salt, rng_state, out,
                     exp_ab, added, exp_live, slack)
    g._account(active, out, hit, slack, max_new, added, exp_ab, now, *redecide, next_decide,
               *sums)
    return True


def _arrays(x):
    """Every array in a nest of tuples, in order."""
    if isinstance(x, np.ndarray):
        return [x]
    if isinstance(x, tuple):
        return [a for y in x for a in _arrays(y)]
    return []


def _shadowed(kernel, steps, calls):
    def both(*args):
        shadow = copy.deepcopy(args)
        want = steps(*shadow)
        got = kernel(*args)
        calls.append(got)
        assert got == want
        for a, b in zip(_arrays(args), _arrays(shadow), strict=True):
            assert np.array_equal(a, b, equal_nan=True)
        return got
    return both


@pytest.mark.parametrize("scenario", ["single-50-predictive.toml", "blended-centre.toml"])
def test_the_tick_kernels_do_what_their_steps_do_one_by_one(monkeypatch, scenario):
    taken, decided = [], []
    monkeypatch.setattr(pacer.decide, "_take_in",
                        _shadowed(pacer.decide._take_in, _take_in_steps, taken))
    monkeypatch.setattr(pacer.decide, "_decide_due",
                        _shadowed(pacer.decide._decide_due, _decide_due_steps, decided))
    res = simulate(load(SCENARIOS / scenario, {"scenario.sim_hours": 0.01,
                                               "scenario.warmup_s": 60.0}))
    assert res.attempts.height > 20
    assert len(taken) > 200 and all(t == (0, -1) for t in taken)
    assert sum(decided) > 20  # the look-ahead ran on many ticks

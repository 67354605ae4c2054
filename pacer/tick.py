"""The pacer's per-tick path in two compiled calls.

``Pacer.decide`` runs every engine tick (four times a second in the 60k busy hour), for a
handful of campaigns at a time. Each of its steps was already a kernel, but a dozen kernel
calls a tick, each with its Python around it, cost as much as the look-ahead itself. Here
they are chained in two calls:

- ``_take_in``: check and group the engine's arrays (``pacer.gather._gather``), then fold
  in the tick's buffered observations (ended dials held for their cohort, waits, ended
  handling / talk / wrap-up times, live-answer outcomes) and the busy agents' exposure.
- ``_decide_due``: the lines cap, which look-ahead campaigns are due, the look-ahead itself
  and its bookkeeping (``pacer.gather._account``).

What runs seldom (the hit-rate fold every second, the price loops every few seconds, the
hazard estimates written every HOLD_REFRESH_S) stays in Python between the two. Every
step is the same kernel as before, on the same arrays, in an order that only moves steps
that share no state: the decisions are the same, bit for bit.
"""

from __future__ import annotations

import numba

from pacer.abandon import Outcome, _abandon_record
from pacer.cohorts import _append_ended
from pacer.gather import (
    IDLE,
    RINGING,
    WAITING,
    _account,
    _due,
    _gather,
    _max_new,
    _tally_live,
    _tally_waits,
)
from pacer.holdtime import _events, _events_phases, _expose_phases
from pacer.lookahead import _lookahead_dials

_ABANDONED = int(Outcome.ABANDONED)
_CONNECTED = int(Outcome.CONNECTED)


@numba.njit(cache=True)
def _take_in(n_camp, now, dt, state, grouped, minute_sec, tallies, dials, pending, waits,
             patience, holds, phases, lives, windows, estimators, pred_rows):
    """Group the engine's state and fold the tick's observations in; returns ``(code,
    index)`` of ``_gather`` (``(0, -1)``: all passed; otherwise nothing else has changed).

    ``state``: the engine's six arrays (agent_job, agent_status, agent_since, call_job,
    call_status, call_t0); ``grouped``: ``_gather``'s outputs (agent_offsets, agent_elapsed,
    call_offsets, call_elapsed, counts, agent_key, call_key, split, agent_phase). ``minute_sec``
    (int64[1]): the second the one-minute rings were last written in (-1: never); a new
    second's columns are cleared first. ``tallies``: (minute_calls, minute_drops,
    calls_today, drops_today, answered_today, new_abandons, new_live).
    Observation buffers, each ``(rows, value, code, count)``: ``dials`` (ring seconds, live
    0/1; held in ``pending`` = (row, live, t0, ring, tie, meta, seed) until their cohort
    ends), ``waits`` (seconds waited, hung up 0/1) into ``patience`` = (wait_s, hangups,
    hangup_rate), ``holds`` (handling seconds), ``phases`` (talk or wrap-up seconds, code
    the phase), ``lives`` (time, ``pacer.abandon.Outcome``) into the abandon ``windows``
    (FCC then Ofcom ring arrays). ``estimators``: the handling, talk and wrap-up hazard
    estimates, each (bin width s, events, exposure); busy agents of ``pred_rows`` add
    ``dt`` seconds of exposure.
    """
    agent_job, agent_status, agent_since, call_job, call_status, call_t0 = state
    ao, ae, co, ce, counts, agent_key, call_key, split, agent_phase = grouped
    bad, i = _gather(n_camp, now, agent_job, agent_status, agent_since, call_job,
                     call_status, call_t0, ao, ae, co, ce, counts, agent_key, call_key,
                     split, agent_phase)
    if bad:
        return bad, i
    minute_calls, minute_drops, calls_today, drops_today, answered_today, new_ab, \
        new_live = tallies
    sec = int(now)
    if sec != minute_sec[0]:
        lo = minute_sec[0] + 1 if minute_sec[0] >= 0 else sec
        for s in range(max(lo, sec - 59), sec + 1):
            minute_calls[:, s % 60] = 0
            minute_drops[:, s % 60] = 0
        minute_sec[0] = sec
    slot = sec % 60
    rows, value, code, m = dials
    if m:
        p_row, p_live, p_t0, p_ring, p_tie, meta, seed = pending
        _append_ended(rows[:m], code[:m], value[:m], now, p_row, p_live, p_t0, p_ring,
                      p_tie, meta, seed, slot, minute_calls, calls_today)
    rows, value, code, m = waits
    if m:
        wait_s, hangups, hangup_rate = patience
        _tally_waits(rows[:m], value[:m], code[:m], wait_s, hangups, hangup_rate)
    hold, talk, wrap = estimators
    rows, value, code, m = holds
    if m:
        _events(rows[:m], value[:m], hold[0], hold[1])
    rows, value, code, m = phases
    if m:
        _events_phases(rows[:m], value[:m], code[:m], talk[0], talk[1], wrap[0], wrap[1])
    rows, value, code, m = lives
    if m:
        f_bucket_s, f_ids, f_cnt, f_sums, f_cur, f_k, o_bucket_s, o_ids, o_cnt, o_sums, \
            o_cur, o_k = windows
        _abandon_record(rows[:m], value[:m], code[:m], f_bucket_s, f_ids, f_cnt, f_sums,
                        f_cur, f_k, o_bucket_s, o_ids, o_cnt, o_sums, o_cur, o_k)
        _tally_live(rows[:m], code[:m], _ABANDONED, _CONNECTED, slot, minute_drops, drops_today,
                    answered_today, new_ab, new_live)
    if dt > 0.0 and pred_rows.shape[0]:
        _expose_phases(ao, ae, agent_phase, pred_rows, dt, hold[0], hold[2], talk[0],
                       talk[2], wrap[0], wrap[2])
    return 0, -1


@numba.njit(cache=True)
def _decide_due(now, counts, lines_cap, max_new, looked_ahead, dirty, ended, hit, next_decide,
                active, fallback, agents, calls, histograms, hit_sd, z, z_fine, life_s,
                window_s, hangup_rate, theta, dt, salt, rng_state, outs, redecide, sums):
    """The look-ahead campaigns' decision of one tick; returns whether the look-ahead ran.

    ``max_new`` (out): the lines cap (``lines_cap`` lines per agent) less the unanswered
    calls, per campaign. ``active`` (out): the campaigns of ``looked_ahead`` with news
    (``dirty``, or a dial ended unanswered where agents are short of lines: ``ended``) or
    due by ``next_decide`` (``pacer.gather._due``; both flags cleared). When any is, or
    ``fallback`` (campaigns paced without the look-ahead, which still reads its outputs),
    the look-ahead (``pacer.lookahead._lookahead_dials``: ``agents`` = (offsets, elapsed,
    key, phase), ``calls`` = (offsets, elapsed, key), ``histograms`` = (counts, totals, bin
    width) of handling, talk, wrap-up, ring to live answer and ring to any end) runs from
    the seed ``salt`` (the same random numbers every tick) into ``outs`` = (dials, expected
    abandons, added abandons, expected live, slack), and ``pacer.gather._account`` books
    it: ``redecide`` = (REDECIDE_S, REDECIDE_MAX_S), ``sums`` = (decisions, decisions the
    price bound, added abandons, added live answers, last expected abandons).
    """
    _max_new(lines_cap, counts, max_new)
    idle = counts[:, IDLE].copy()
    unanswered = counts[:, RINGING] + counts[:, WAITING]
    if not _due(looked_ahead, dirty, ended, idle, unanswered, hit, next_decide, now, active) \
            and not fallback:
        return False
    ao, ae, agent_key, agent_phase = agents
    co, ce, call_key = calls
    hold_c, hold_t, hold_bw, talk_c, talk_t, talk_bw, wrap_c, wrap_t, wrap_bw, ring_c, \
        ring_t, ring_bw, end_c, end_t, end_bw = histograms
    out, exp_ab, added, exp_live, slack = outs
    rng_state[0] = salt
    _lookahead_dials(ao, ae, agent_key, agent_phase, co, ce, call_key, hold_c, hold_t, hold_bw,
                     talk_c, talk_t, talk_bw, wrap_c, wrap_t, wrap_bw, ring_c, ring_t, ring_bw,
                     end_c, end_t, end_bw, hit, hit_sd, z, z_fine, life_s, window_s,
                     hangup_rate, theta, max_new, active, dt, now, salt, rng_state, out,
                     exp_ab, added, exp_live, slack)
    n_decided, n_bound, added_abandons, added_live, last_abandons = sums
    _account(active, out, hit, slack, max_new, added, exp_ab, now, redecide[0], redecide[1],
             next_decide, n_decided, n_bound, added_abandons, added_live, last_abandons)
    return True

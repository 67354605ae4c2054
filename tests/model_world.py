"""A small world that follows the predictive model's own assumptions exactly, for checking
the model's calibration without the full simulator.

Agents handle calls for a lognormal time; a dial is a live answer with probability
``hit_rate`` after a lognormal ring (calls still ringing at the timeout end unanswered), or
ends unanswered at a uniform time within the timeout; a live answer waits at most the
connect window for a free agent, first come first served. The pacer is driven through its
public API every ``tick_s``.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from pacer import AgentStatus, CallStatus, CampaignPacing, Pacer


def _lognormal(rng, mean, cv):
    sigma = math.sqrt(math.log1p(cv * cv))
    return float(rng.lognormal(math.log(mean) - sigma * sigma / 2, sigma))


def run_world(agents: int, hours: float, seed: int, hit_rate: float = 0.3,
              handling_mean_s: float = 225.0, handling_cv: float = 1.0,
              ring_mean_s: float = 10.0, ring_cv: float = 0.5, timeout_s: float = 20.0,
              connect_window_s: float = 2.0, tick_s: float = 0.25, open_loop: bool = True,
              warmup_s: float = 300.0, patience_mean_s: float = math.inf) -> dict:
    """Run one campaign for ``hours`` after ``warmup_s``; returns the model's expected and
    the realised live answers and abandons after the warm-up, and the occupancy."""
    rng = np.random.default_rng(seed)
    camp = CampaignPacing(handling_mean_s=handling_mean_s, handling_cv=handling_cv,
                          initial_hit_rate=hit_rate, ring_timeout_s=timeout_s,
                          ring_median_s=ring_mean_s / math.sqrt(1 + ring_cv ** 2),
                          connect_window_s=connect_window_s, patience_mean_s=patience_mean_s)
    pacer = Pacer([camp], seed=seed)
    pacer.open_loop = open_loop
    pacer._limit = pacer._effective_limit()
    a_job = np.zeros(agents, dtype=np.int64)
    a_status = np.full(agents, int(AgentStatus.IDLE), dtype=np.int64)
    a_since = np.zeros(agents)
    cap = 8 * agents + 16
    c_job = np.full(cap, -1, dtype=np.int64)
    c_status = np.zeros(cap, dtype=np.int64)
    c_t0 = np.zeros(cap)
    free_slots = list(range(cap))
    events: list = []  # (time, seq, kind, payload)
    seq = 0
    waiting: list[int] = []  # slots of live answers waiting, in answer order
    answered_at: dict[int, float] = {}  # slot -> when its live answer came (waiting ones)
    end = warmup_s + hours * 3600.0
    out = {"expected_abandons": 0.0, "expected_live": 0.0, "live": 0, "abandons": 0,
           "busy_s": 0.0}
    base_ab = base_live = 0.0

    def push(t, kind, x):
        nonlocal seq
        seq += 1
        heapq.heappush(events, (t, seq, kind, x))

    def connect(slot, now):
        idle = np.flatnonzero(a_status == int(AgentStatus.IDLE))
        j = int(idle[0])
        a_status[j] = int(AgentStatus.BUSY)
        a_since[j] = now
        hold = _lognormal(rng, handling_mean_s, handling_cv)
        push(now + hold, "free", (j, hold))
        if now >= warmup_s:
            out["busy_s"] += min(hold, end - now)
        c_job[slot] = -1
        free_slots.append(slot)
        if slot in answered_at:
            pacer.observe_wait(0, now - answered_at.pop(slot), False)
        pacer.observe_live(0, now, False)
        if now >= warmup_s:
            out["live"] += 1

    now = 0.0
    push(0.0, "tick", None)
    while events:
        now, _, kind, x = heapq.heappop(events)
        if now > end:
            break
        if kind == "tick":
            if now >= warmup_s and base_ab == 0.0 and out["live"] == 0:
                base_ab = float(pacer.added_abandons[0])
                base_live = float(pacer.added_live[0])
            n = int(pacer.decide(now, a_job, a_status, a_since, c_job, c_status, c_t0)[0])
            for _ in range(min(n, len(free_slots))):
                s = free_slots.pop()
                c_job[s] = 0
                c_status[s] = int(CallStatus.RINGING)
                c_t0[s] = now
                if rng.random() < hit_rate:
                    ring = _lognormal(rng, ring_mean_s, ring_cv)
                    if ring <= timeout_s:
                        push(now + ring, "answer", s)
                        continue
                    push(now + timeout_s, "noanswer", s)
                else:
                    push(now + rng.uniform(0.0, timeout_s), "noanswer", s)
            push(now + tick_s, "tick", None)
        elif kind == "noanswer":
            pacer.observe_dial(0, False, now - c_t0[x])
            c_job[x] = -1
            free_slots.append(x)
        elif kind == "answer":
            pacer.observe_dial(0, True, now - c_t0[x])
            if (a_status == int(AgentStatus.IDLE)).any():
                connect(x, now)
            else:
                c_status[x] = int(CallStatus.WAITING)
                c_t0[x] = now
                waiting.append(x)
                answered_at[x] = now
                patience = rng.exponential(patience_mean_s) if math.isfinite(patience_mean_s) \
                    else math.inf
                push(now + min(connect_window_s, patience), "drop",
                     (x, patience < connect_window_s))
        elif kind == "drop":
            x, hung = x
            if x in waiting:
                waiting.remove(x)
                pacer.observe_wait(0, now - answered_at.pop(x), hung)
                c_job[x] = -1
                free_slots.append(x)
                pacer.observe_live(0, now, True)
                if now >= warmup_s:
                    out["live"] += 1
                    out["abandons"] += 1
        elif kind == "free":
            j, hold = x
            pacer.observe_handling(0, hold)
            a_status[j] = int(AgentStatus.IDLE)
            if waiting:
                connect(waiting.pop(0), now)
    out["expected_abandons"] = float(pacer.added_abandons[0]) - base_ab
    out["expected_live"] = float(pacer.added_live[0]) - base_live
    out["occupancy"] = out["busy_s"] / (agents * hours * 3600.0)
    return out

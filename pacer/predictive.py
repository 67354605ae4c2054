"""Model-based predictive pacing: one batched decision for every campaign.

For campaign ``c``, with look-ahead ``h = horizon_s[c]``:

- **Agents free.** A busy agent ``j`` whose current call (talk + wrap) has lasted ``e_j``
  seconds is free within ``h + slack`` with ``p_j = P(D <= e_j + h + slack | D > e_j)``,
  ``D`` the handling time from the campaign's hold histogram (exponential tail with the row
  mean beyond its support, see ``pacer.histogram``); an idle agent has ``p_j = 1``.
  ``A = sum of Bernoulli(p_j)`` is Poisson-binomial.
- **Live answers.** An in-flight call ringing for ``r_k`` seconds is answered live within
  ``h`` with ``q_k = pi (G(min(r_k + h, T)) - G(r_k)) / P(still ringing at r_k)`` (0 once
  ``r_k >= T``), ``pi`` the hit rate, ``G`` the ring time-to-answer CDF of live answers,
  ``T`` the ring timeout; P(still ringing) is the survival of the optional ring-end
  histogram (when any dial stopped ringing, any outcome), else ``1 - pi G(r_k)``. A call
  with elapsed < 0 is a live answer already waiting for an agent: ``q = 1``. A new dial has
  ``q_new = pi G(min(h, T))``. With ``n`` new dials
  ``L_n = sum of Bernoulli(q_k) + Binomial(n, q_new)``.
- **ABANDON_RATE** (slack = connect window, ``a = abandon_limit``): ``n`` is the largest
  value in ``[0, max_new]`` with ``E[(L_m - A)+] - a E[L_m] <= 0`` for every ``m <= n``:
  the scan stops at the first ``m`` that fails, and a state already over budget at
  ``m = 0`` gets 0 (dialling more would only dilute the ratio with extra live answers).
- **SERVICE_LEVEL** (X = ``target_value``, T_sl = ``sl_threshold_s``): the same rule with
  slack ``T_sl`` and allowed fraction ``1 - X``, then the minimum with the abandon rule.
- **AGENT_WAIT** (seconds): predicted wait per connect
  ``E[(A - L_n)+] h / max(E[min(A, L_n)], PROB_EPS)``; the smallest ``n`` with a wait
  ``<= target_value`` (``max_new`` if none), then the minimum with the abandon rule.
- **Zero tolerance.** An allowed fraction of 0 (``abandon_limit = 0``, or ``X = 1``) is the
  "agent guaranteed" case: only idle agents are sure, and every line that can still be
  answered live at any time before its ring timeout (and every live answer already
  waiting) needs one. Then ``n = 0`` when those calls already outnumber the idle agents,
  else ``max_new`` when a new dial cannot be answered live at all, else
  ``min(max_new, idle - possible in-flight)``. The horizon model is not used there: it cannot
  promise zero: a busy agent is never certain to be free, and a live answer beyond the
  look-ahead is invisible to it.

**Look-ahead steps.** With ``n_steps > 1`` the abandon and service-level constraints are
checked at each look-ahead ``h k / n_steps``, k = 1..n_steps (an agent who frees late in
the horizon cannot take a call answered early in it), AGENT_WAIT at the full horizon, and
``n`` is the minimum over the steps.

``E[(L - A)+]`` is evaluated in O(len) per candidate ``n`` from the table
``g(l) = E[(l - A)+]``, ``g(l + 1) = g(l) + P(A <= l)``, while ``L`` grows by one
Bernoulli(q_new) per step.

Model consequences worth knowing:

- hit rate 0 gives ``q = 0`` everywhere, no live answers, no abandons: ``max_new`` dials;
- likewise whenever the look-ahead sees no live answer of a new dial (``q_new = 0``, e.g.
  ``h`` shorter than the fastest answers in ``G``): the model is myopic beyond ``h`` (live
  answers after it are only counted by later decisions, once in flight), so choose ``h``
  around the median time to answer (``DEFAULT_HORIZON_S``); ``max_new`` is the backstop;
- outputs ``expected_abandons = E[(L_n - A)+]`` and ``expected_live = E[L_n]`` for the
  chosen ``n`` (connect-window agents), for diagnostics.

Numba's on-disk cache does not notice edits to kernels imported from
``pacer.histogram`` / ``pacer.poisson_binomial``; clear ``__pycache__`` after changing them.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from pacer import histogram as _histogram
from pacer import poisson_binomial as _poisson_binomial
from pacer.constants import (
    DEFAULT_CONNECT_WINDOW_S,
    HIST_SUPPORT_EPS,
    HIST_TAIL_RECHECK,
    PROB_EPS,
)
from pacer.histogram import (
    _cond_finish,
    _helper_njit,
    _mass_above,
    _mass_below,
    _prefix_needed,
    _row_mean,
    _row_prefix,
    _row_suffix,
    _tail_weight,
    _weight_between,
)
from pacer.modes import Target
from pacer.poisson_binomial import _add_bernoulli, _pb_pmf
from pacer.ratio import as_array, int_rows, real_array

__all__ = ["MAX_NEW_LIMIT", "predictive_dials", "warmup"]

MAX_NEW_LIMIT = 1 << 20  # sanity bound on max_new (scratch memory grows with it)
MAX_STEPS = 1 << 10  # most look-aheads (``n_steps``) one decision checks

_ABANDON = int(Target.ABANDON_RATE)
_SERVICE_LEVEL = int(Target.SERVICE_LEVEL)
_AGENT_WAIT = int(Target.AGENT_WAIT)

# --------------------------------------------------------------------------- kernels


@_helper_njit
def _survival_weight(counts, totals, row, prefix, suffix, have_suffix, bw, x):
    """Weight of ``row`` at or above x: the cheap prefix form, or, where that is below
    HIST_TAIL_RECHECK of the total and the suffix is there, the suffix form (accurate)."""
    s = _mass_above(counts, totals, row, prefix, bw, x)
    if have_suffix[0] == 1 and s < HIST_TAIL_RECHECK * totals[row]:
        s = _tail_weight(counts, row, suffix, bw, x)
    return s


@_helper_njit
def _prepare_tail(counts, totals, row, prefix, suffix, have_suffix, bw, x_max):
    """Sum the row's suffix once if any survival up to x_max will need it (survivals only
    fall with x, so the one at x_max decides); kept out of the per-agent loops."""
    if have_suffix[0] == 0 and x_max >= 0.0:
        if _mass_above(counts, totals, row, prefix, bw, x_max) < HIST_TAIL_RECHECK * totals[row]:
            _row_suffix(counts, row, suffix)
            have_suffix[0] = 1


@_helper_njit
def _agents_free(agent_elapsed_s, lo, hi, hold_counts, hold_totals, row, prefix, suffix,
                 have_suffix, bw, within_s, mean_buf, p, pmf_busy):
    """p_j of the busy agents lo..hi-1 of ``row`` and the PMF of how many of them are free
    within ``within_s`` into pmf_busy; returns (n_idle, n_busy).

    mean_buf[0] caches the row mean (NaN until the exponential tail first needs it).
    """
    total = hold_totals[row]
    e_max = -1.0
    for j in range(lo, hi):
        e_max = max(e_max, agent_elapsed_s[j])
    if e_max >= 0.0:
        _prepare_tail(hold_counts, hold_totals, row, prefix, suffix, have_suffix, bw,
                      e_max + within_s)
        s_max = _survival_weight(hold_counts, hold_totals, row, prefix, suffix, have_suffix,
                                 bw, e_max)
        if s_max <= HIST_SUPPORT_EPS * total and mean_buf[0] != mean_buf[0]:
            mean_buf[0] = _row_mean(hold_counts, hold_totals, row, bw)
    n_idle = 0
    n_busy = 0
    for j in range(lo, hi):
        e = agent_elapsed_s[j]
        if e < 0.0:
            n_idle += 1
            continue
        s_e = _survival_weight(hold_counts, hold_totals, row, prefix, suffix, have_suffix, bw,
                               e)
        s_eh = _survival_weight(hold_counts, hold_totals, row, prefix, suffix, have_suffix,
                                bw, e + within_s)
        p[n_busy] = _cond_finish(s_e, s_eh, total, within_s, mean_buf[0])
        n_busy += 1
    _pb_pmf(p, n_busy, pmf_busy)
    return n_idle, n_busy


@_helper_njit
def _zero_tolerance_dials(n_idle, n_possible, new_possible, max_new):
    """Dials under a zero allowed fraction: 0 when the calls that may still need an agent
    already outnumber the idle agents (never dilute), max_new when a new dial cannot be
    answered live at all, else the idle agents left over."""
    if n_possible > n_idle:
        return 0
    if not new_possible:
        return max_new
    return min(max_new, n_idle - n_possible)


@_helper_njit
def _fill_excess_table(pmf_busy, n_busy, n_idle, n, g):
    """g[l] = E[(l - A)+] for l = 0..n-1, A = n_idle + (count ~ pmf_busy[0..n_busy])."""
    acc = 0.0
    cdf = 0.0
    for x in range(n):
        g[x] = acc
        i = x - n_idle
        if 0 <= i <= n_busy:
            cdf += pmf_busy[i]
        acc += cdf


@_helper_njit
def _fill_wait_tables(pmf_busy, n_busy, n_idle, n, suf, u, mt):
    """u[l] = E[(A - l)+] and mt[l] = E[min(A, l)] for l = 0..n-1 (A as in
    ``_fill_excess_table``), both as sums of P(A > k) >= 0, from suffix sums (suf scratch
    of n_busy + 2)."""
    suf[n_busy + 1] = 0.0
    for i in range(n_busy, -1, -1):
        suf[i] = suf[i + 1] + pmf_busy[i]
    top = n_idle + n_busy  # P(A > x) = 0 from here on
    acc = 0.0
    for x in range(max(n, top) - 1, -1, -1):
        i = x - n_idle + 1  # P(A > x) = suf[i]
        if i <= 0:
            acc += suf[0]
        elif i <= n_busy:
            acc += suf[i]
        if x < n:
            u[x] = acc  # sum over k >= x of P(A > k)
    acc = 0.0
    for x in range(n):
        mt[x] = acc  # sum over k < x of P(A > k)
        i = x - n_idle + 1
        if i <= 0:
            acc += suf[0]
        elif i <= n_busy:
            acc += suf[i]


@_helper_njit
def _dot(x, y, n):
    acc = 0.0
    for i in range(n):
        acc += x[i] * y[i]
    return acc


@_helper_njit
def _scan_fraction(pmf_l0, len0, pmf_l, q_new, max_new, g, frac, live0):
    """First-crossing rule: the largest n <= max_new with E[(L_m - A)+] - frac E[L_m] <= 0
    for all m <= n, 0 when m = 0 already fails. g is the excess table of A."""
    if _dot(pmf_l0, g, len0) - frac * live0 > 0.0:
        return 0
    if q_new <= 0.0:  # new dials add nothing: the criterion stays where it is
        return max_new
    for i in range(len0):
        pmf_l[i] = pmf_l0[i]
    length = len0
    r = 1.0 - q_new
    for m in range(1, max_new + 1):
        # Add one Bernoulli(q_new) and take the excess in the same pass (g[0] = 0).
        top = pmf_l[length - 1] * q_new
        pmf_l[length] = top
        ex = top * g[length]
        for i in range(length - 1, 0, -1):
            v = pmf_l[i] * r + pmf_l[i - 1] * q_new
            pmf_l[i] = v
            ex += v * g[i]
        pmf_l[0] *= r
        length += 1
        if ex - frac * (live0 + m * q_new) > 0.0:
            return m - 1
    return max_new


@_helper_njit
def _scan_wait(pmf_l0, len0, pmf_l, q_new, max_new, u, mt, horizon_s, target_s):
    """Smallest n <= max_new with E[(A - L_n)+] h / max(E[min(A, L_n)], PROB_EPS) <= target
    (max_new if none)."""
    for i in range(len0):
        pmf_l[i] = pmf_l0[i]
    length = len0
    for m in range(max_new + 1):
        if m > 0:
            length = _add_bernoulli(pmf_l, length, q_new)
        w = _dot(pmf_l, u, length)
        k = _dot(pmf_l, mt, length)
        if w * horizon_s / max(k, PROB_EPS) <= target_s:
            return m
        if q_new <= 0.0:  # nothing changes with more dials
            return max_new
    return max_new


@numba.njit(cache=True)
def _predictive_dials(agent_offsets, agent_elapsed_s, call_offsets, call_elapsed_s,
                      hold_counts, hold_totals, hold_bin_width_s,
                      ring_counts, ring_totals, ring_bin_width_s,
                      end_counts, end_totals, end_bin_width_s,
                      hit_rate, ring_timeout_s, horizon_s, connect_window_s, abandon_limit,
                      target_kind, target_value, sl_threshold_s, max_new, active, n_steps,
                      dials, expected_abandons, expected_live):
    """The batched decision (module docstring) into dials int64[C], expected_abandons and
    expected_live float64[C]. Rows with active[c] != 1 get zeros.

    end_* is the histogram of the time every dial stopped ringing (any outcome): a call still
    ringing at r has survived busy, invalid and machine ends, so its chance of a live answer
    is conditioned on P(still ringing at r) from it (empty rows fall back to 1 - pi G(r)).
    A call elapsed < 0 is a live answer waiting for an agent: it surely needs one.
    The constraints hold at each of n_steps look-aheads horizon * k / n_steps (an agent who
    frees late in the horizon cannot take a call answered early in it): n is their minimum.

    agent_offsets int64[C+1] / agent_elapsed_s float64[N] (seconds into talk + wrap, < 0 =
    idle); call_offsets int64[C+1] / call_elapsed_s float64[M] (ring seconds of unanswered
    in-flight calls); hold_* and ring_* the raw arrays of two ``StreamingHistogram``s with C
    rows; the rest float64[C] / int64[C] per campaign.
    """
    n_c = hit_rate.shape[0]
    b1 = hold_counts.shape[1]
    b2 = ring_counts.shape[1]
    max_agents = 0
    max_len = 1
    for c in range(n_c):
        dials[c] = 0
        expected_abandons[c] = 0.0
        expected_live[c] = 0.0
        if active[c] != 1:
            continue
        max_agents = max(max_agents, agent_offsets[c + 1] - agent_offsets[c])
        max_len = max(max_len, call_offsets[c + 1] - call_offsets[c] + max_new[c] + 1)
    b3 = end_counts.shape[1]
    hold_prefix = np.empty(b1 + 1)
    ring_prefix = np.empty(b2 + 1)
    end_prefix = np.empty(b3 + 1)
    p = np.empty(max_agents)
    pmf_a = np.empty(max_agents + 1)
    pmf_a2 = np.empty(max_agents + 1)
    suf = np.empty(max_agents + 2)
    q = np.empty(max_len)
    pmf_l0 = np.zeros(max_len)
    pmf_l = np.zeros(max_len)
    g = np.empty(max_len)
    g2 = np.empty(max_len)
    u = np.empty(max_len)
    mt = np.empty(max_len)
    mean_buf = np.empty(1)
    hold_suffix = np.empty(b1 + 1)
    ring_suffix = np.empty(b2 + 1)
    have_hold_suffix = np.zeros(1, dtype=np.int64)
    have_ring_suffix = np.zeros(1, dtype=np.int64)

    for c in range(n_c):
        if active[c] != 1:
            continue
        h_full = horizon_s[c]
        t_out = ring_timeout_s[c]
        pi = hit_rate[c]
        kind = target_kind[c]
        n_max = max_new[c]
        a_lo = agent_offsets[c]
        a_hi = agent_offsets[c + 1]
        c_lo = call_offsets[c]
        c_hi = call_offsets[c + 1]
        n_calls = c_hi - c_lo
        # The structural counts of the zero-tolerance rule are only needed there.
        zero_tolerance = abandon_limit[c] <= 0.0 or (kind == _SERVICE_LEVEL
                                                     and target_value[c] >= 1.0)
        ring_total = ring_totals[c]
        end_total = end_totals[c]
        have_ring_suffix[0] = 0
        have_hold_suffix[0] = 0
        _row_prefix(ring_counts, c, _prefix_needed(b2, ring_bin_width_s, t_out), ring_prefix)
        _row_prefix(end_counts, c, _prefix_needed(b3, end_bin_width_s, t_out), end_prefix)
        r_max = -1.0
        for k in range(n_calls):
            r = call_elapsed_s[c_lo + k]
            if r < t_out:
                r_max = max(r_max, r)
        if pi > 0.0 and ring_total > 0.0 and r_max >= 0.0:
            _prepare_tail(ring_counts, ring_totals, c, ring_prefix, ring_suffix,
                          have_ring_suffix, ring_bin_width_s, min(r_max + h_full, t_out))
        cw = connect_window_s[c]
        sl = sl_threshold_s[c]
        need = 0
        for j in range(a_lo, a_hi):
            e = agent_elapsed_s[j]
            if e >= 0.0:
                need = max(need, _prefix_needed(b1, hold_bin_width_s, e))
                need = max(need, _prefix_needed(b1, hold_bin_width_s, e + h_full + cw))
                if kind == _SERVICE_LEVEL:
                    need = max(need, _prefix_needed(b1, hold_bin_width_s, e + h_full + sl))
        _row_prefix(hold_counts, c, need, hold_prefix)
        mean_buf[0] = np.nan
        n_best = n_max
        for step in range(1, n_steps + 1):
            h = h_full * step / n_steps
            live0 = 0.0
            n_possible = 0
            for k in range(n_calls):
                r = call_elapsed_s[c_lo + k]
                qk = 0.0
                if r < 0.0:  # answered, waiting for an agent
                    qk = 1.0
                    n_possible += 1
                elif r < t_out and pi > 0.0 and ring_total > 0.0:
                    if zero_tolerance and _weight_between(ring_counts, c, ring_prefix,
                                                          ring_bin_width_s, r, t_out) > 0.0:
                        n_possible += 1
                    b = min(r + h, t_out)
                    s_r = _survival_weight(ring_counts, ring_totals, c, ring_prefix,
                                           ring_suffix, have_ring_suffix, ring_bin_width_s, r)
                    if have_ring_suffix[0] == 1 and s_r < HIST_TAIL_RECHECK * ring_total:
                        # tail precision: S(r) - S(b) from the suffix
                        w_h = s_r - _tail_weight(ring_counts, c, ring_suffix,
                                                 ring_bin_width_s, b)
                    else:
                        w_h = _weight_between(ring_counts, c, ring_prefix, ring_bin_width_s,
                                              r, b)
                    if end_total > 0.0:
                        alive = _mass_above(end_counts, end_totals, c, end_prefix,
                                            end_bin_width_s, r) / end_total
                        num = pi * w_h / ring_total
                        if w_h > 0.0:
                            qk = min(num / alive, 1.0) if alive > num else 1.0
                    else:
                        # q = pi (G(b) - G(r)) / (1 - pi G(r)), as weights: the denominator
                        # is (1 - pi) total + pi S(r), a sum of non-negative terms.
                        den = (1.0 - pi) * ring_total + pi * s_r
                        if w_h > 0.0 and den > 0.0:
                            qk = min(pi * w_h / den, 1.0)
                q[k] = qk
                live0 += qk
            q_new = 0.0
            new_possible = False
            if pi > 0.0 and ring_total > 0.0:
                new_possible = _mass_below(ring_counts, ring_totals, c, ring_prefix,
                                           ring_bin_width_s, t_out) > 0.0
                g_h = _mass_below(ring_counts, ring_totals, c, ring_prefix, ring_bin_width_s,
                                  min(h, t_out)) / ring_total
                q_new = min(pi * g_h, 1.0)
            _pb_pmf(q, n_calls, pmf_l0)
            len0 = n_calls + 1
            n_len = n_calls + n_max + 1

            n_idle, n_busy = _agents_free(agent_elapsed_s, a_lo, a_hi, hold_counts,
                                          hold_totals, c, hold_prefix, hold_suffix,
                                          have_hold_suffix, hold_bin_width_s, h + cw,
                                          mean_buf, p, pmf_a)
            _fill_excess_table(pmf_a, n_busy, n_idle, n_len, g)

            # Abandon constraint, always.
            a_lim = abandon_limit[c]
            if a_lim <= 0.0:
                n = _zero_tolerance_dials(n_idle, n_possible, new_possible, n_max)
            else:
                n = _scan_fraction(pmf_l0, len0, pmf_l, q_new, n_max, g, a_lim, live0)

            if kind == _SERVICE_LEVEL:
                frac = 1.0 - target_value[c]
                if frac <= 0.0:
                    n_sl = _zero_tolerance_dials(n_idle, n_possible, new_possible, n_max)
                else:
                    _agents_free(agent_elapsed_s, a_lo, a_hi, hold_counts, hold_totals, c,
                                 hold_prefix, hold_suffix, have_hold_suffix,
                                 hold_bin_width_s, h + sl, mean_buf, p, pmf_a2)
                    _fill_excess_table(pmf_a2, n_busy, n_idle, n_len, g2)
                    n_sl = _scan_fraction(pmf_l0, len0, pmf_l, q_new, n_max, g2, frac, live0)
                n = min(n, n_sl)
            elif kind == _AGENT_WAIT and step == n_steps:
                _fill_wait_tables(pmf_a, n_busy, n_idle, n_len, suf, u, mt)
                n_w = _scan_wait(pmf_l0, len0, pmf_l, q_new, n_max, u, mt, h,
                                 target_value[c])
                n = min(n, n_w)
            n_best = min(n_best, n)
        n = n_best

        # Diagnostics for the chosen n.
        for i in range(len0):
            pmf_l[i] = pmf_l0[i]
        length = len0
        if q_new > 0.0:
            for _ in range(n):
                length = _add_bernoulli(pmf_l, length, q_new)
        dials[c] = n
        expected_abandons[c] = _dot(pmf_l, g, length)
        expected_live[c] = live0 + n * q_new


# --------------------------------------------------------------------------- public layer


@numba.njit(cache=True)
def _csr_ok(offsets, n_items):
    if offsets[0] != 0 or offsets[offsets.shape[0] - 1] != n_items:
        return False
    for i in range(offsets.shape[0] - 1):
        if offsets[i + 1] < offsets[i]:
            return False
    return True


@numba.njit(cache=True)
def _check_inputs(agent_offsets, agent_elapsed_s, call_offsets, call_elapsed_s, hold_totals,
                  ring_totals, hit_rate, ring_timeout_s, horizon_s, connect_window_s,
                  abandon_limit, target_kind, target_value, sl_threshold_s, max_new, active):
    """All value checks of the public layer in one compiled pass: (code, index), code 0 when
    everything passes (codes index ``_INPUT_ERRORS``)."""
    if not _csr_ok(agent_offsets, agent_elapsed_s.shape[0]):
        return 1, 0
    if not _csr_ok(call_offsets, call_elapsed_s.shape[0]):
        return 2, 0
    for i in range(agent_elapsed_s.shape[0]):
        if not math.isfinite(agent_elapsed_s[i]):
            return 3, i
    for i in range(call_elapsed_s.shape[0]):
        if not math.isfinite(call_elapsed_s[i]):
            return 4, i
    for c in range(hit_rate.shape[0]):
        if not 0.0 <= hit_rate[c] <= 1.0:
            return 5, c
        if not (math.isfinite(ring_timeout_s[c]) and ring_timeout_s[c] > 0.0):
            return 6, c
        if not (math.isfinite(horizon_s[c]) and horizon_s[c] > 0.0):
            return 7, c
        if not (math.isfinite(connect_window_s[c]) and connect_window_s[c] >= 0.0):
            return 8, c
        if not 0.0 <= abandon_limit[c] <= 1.0:
            return 9, c
        kind = target_kind[c]
        if kind != _ABANDON and kind != _SERVICE_LEVEL and kind != _AGENT_WAIT:
            return 10, c
        v = target_value[c]
        if not math.isfinite(v):
            return 11, c
        if kind == _SERVICE_LEVEL and not 0.0 <= v <= 1.0:
            return 12, c
        if kind == _AGENT_WAIT and v < 0.0:
            return 13, c
        if not (math.isfinite(sl_threshold_s[c]) and sl_threshold_s[c] >= 0.0):
            return 14, c
        if not 0 <= max_new[c] <= MAX_NEW_LIMIT:
            return 15, c
        if active[c] != 0 and active[c] != 1:
            return 16, c
        if active[c] == 1 and not hold_totals[c] > 0.0:
            return 17, c
        if active[c] == 1 and not ring_totals[c] > 0.0:
            return 18, c
    return 0, -1


_INPUT_ERRORS = {
    1: "agent_offsets must be CSR offsets rising from 0 to len(agent_elapsed_s)",
    2: "call_offsets must be CSR offsets rising from 0 to len(call_elapsed_s)",
    3: "agent_elapsed_s[{i}] must be finite seconds (negative = idle)",
    4: "call_elapsed_s[{i}] must be finite seconds (negative = answered, waiting)",
    5: "hit_rate[{i}] must be a fraction in [0, 1]",
    6: "ring_timeout_s[{i}] must be > 0 seconds",
    7: "horizon_s[{i}] must be > 0 seconds",
    8: "connect_window_s[{i}] must be >= 0 seconds",
    9: "abandon_limit[{i}] must be a fraction in [0, 1]",
    10: "target_kind[{i}] must be a pacer.modes.Target code (0, 1 or 2)",
    11: "target_value[{i}] must be finite",
    12: "target_value[{i}] must be a fraction in [0, 1] for a SERVICE_LEVEL campaign",
    13: "target_value[{i}] must be >= 0 seconds for an AGENT_WAIT campaign",
    14: "sl_threshold_s[{i}] must be >= 0 seconds",
    15: "max_new[{i}] must be an int in [0, MAX_NEW_LIMIT]",
    16: "active[{i}] must be 0 or 1",
    17: "hold histogram row {i} is empty for an active campaign: seed it with a prior",
    18: "ring histogram row {i} is empty for an active campaign: seed it with a prior",
}


def _rows(name, x, n_c, dtype):
    """A per-campaign argument as a contiguous array of length n_c (scalars broadcast):
    integers (bool, int dtypes) for an int64 argument, real numbers otherwise; values are
    checked by ``_check_inputs``."""
    if dtype is np.int64:
        return int_rows(name, x, n_c, lo=None)
    a = real_array(name, x)
    if a.ndim == 0:
        return np.full(n_c, a.item(), dtype=np.float64)
    if a.shape != (n_c,):
        raise ValueError(f"{name} must be a scalar or have length C = {n_c}, got shape {a.shape}")
    return a


def _vector(name, x, dtype):
    a = as_array(name, x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {a.shape}")
    if dtype is np.int64:
        return int_rows(name, a, None, lo=None)
    return real_array(name, a)


def _hist_arrays(name, hist, n_c):
    try:
        counts, totals, bw = hist.counts, hist.totals, float(hist.bin_width_s)
    except AttributeError:
        raise ValueError(f"{name} must be a StreamingHistogram, got {type(hist)!r}") from None
    counts = np.ascontiguousarray(counts, dtype=np.float64)
    totals = np.ascontiguousarray(totals, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] != n_c or totals.shape != (n_c,):
        raise ValueError(f"{name} must have C = {n_c} rows, got counts {counts.shape}")
    if not (math.isfinite(bw) and bw > 0.0):
        raise ValueError(f"{name}.bin_width_s must be > 0 seconds, got {bw!r}")
    return counts, totals, bw


def predictive_dials(agent_offsets, agent_elapsed_s, call_offsets, call_elapsed_s, hold, ring,
                     *, hit_rate, ring_timeout_s, horizon_s, abandon_limit, max_new,
                     connect_window_s=DEFAULT_CONNECT_WINDOW_S,
                     target_kind=Target.ABANDON_RATE, target_value=0.0, sl_threshold_s=0.0,
                     active=1, ring_end=None, n_steps=1):
    """New dials per campaign from the predictive model (module docstring).

    Args:
        agent_offsets: int64[C + 1] CSR offsets: campaign c's agents are
            ``agent_elapsed_s[agent_offsets[c]:agent_offsets[c + 1]]``.
        agent_elapsed_s: float64[N], seconds since each agent's current call connected
            (talk + wrap so far); negative = idle (surely free).
        call_offsets: int64[C + 1] CSR offsets into ``call_elapsed_s``.
        call_elapsed_s: float64[M], ring seconds of each unanswered call in flight (>= 0),
            or negative for a live answer waiting for an agent (it surely needs one).
        hold: StreamingHistogram (C rows) of agent handling time, seconds.
        ring: StreamingHistogram (C rows) of ring time-to-answer of live answers, seconds.
        hit_rate: P(a dial ends in a live answer), fraction 0..1.
        ring_timeout_s: ring-no-answer timeout T, seconds > 0.
        horizon_s: look-ahead h, seconds > 0.
        abandon_limit: allowed fraction 0..1 of live answers abandoned (already trimmed by
            feedback / Ofcom AMD allowance); 0 = only idle agents may take new lines.
        max_new: int >= 0, cap on new dials (lines-per-agent cap minus in flight).
        connect_window_s: seconds >= 0 from live answer to agent before an abandon.
        target_kind: ``pacer.modes.Target`` code.
        target_value: SERVICE_LEVEL: fraction X 0..1; AGENT_WAIT: seconds >= 0; else unused.
        sl_threshold_s: SERVICE_LEVEL threshold T_sl, seconds >= 0.
        active: 1 = decide this campaign, 0 = output zeros.
        ring_end: optional StreamingHistogram (C rows) of the time every dial stopped
            ringing (any outcome), conditioning in-flight calls on still ringing; None (or
            an empty row) uses 1 - pi G(r) instead.
        n_steps: look-aheads checked, horizon * k / n_steps for k = 1..n_steps (>= 1).

    Per-campaign arguments are scalars (broadcast) or arrays of length C.

    Returns:
        (dials int64[C], expected_abandons float64[C], expected_live float64[C]): the
        expected abandons and live answers within the horizon for the chosen dials.

    Raises:
        ValueError: a malformed argument (named in the message), or an active campaign
            whose hold or ring histogram row holds no weight (seed it with a prior).
    """
    ao = _vector("agent_offsets", agent_offsets, np.int64)
    if ao.size < 2:
        raise ValueError("agent_offsets must have length C + 1 >= 2")
    n_c = ao.size - 1
    co = _vector("call_offsets", call_offsets, np.int64)
    if co.size != n_c + 1:
        raise ValueError(f"call_offsets must have length C + 1 = {n_c + 1}, got {co.size}")
    ae = _vector("agent_elapsed_s", agent_elapsed_s, np.float64)
    ce = _vector("call_elapsed_s", call_elapsed_s, np.float64)
    hc, ht, hbw = _hist_arrays("hold", hold, n_c)
    rc, rt, rbw = _hist_arrays("ring", ring, n_c)
    f8, i8 = np.float64, np.int64
    hit = _rows("hit_rate", hit_rate, n_c, f8)
    t_out = _rows("ring_timeout_s", ring_timeout_s, n_c, f8)
    hor = _rows("horizon_s", horizon_s, n_c, f8)
    cw = _rows("connect_window_s", connect_window_s, n_c, f8)
    ab = _rows("abandon_limit", abandon_limit, n_c, f8)
    kind = _rows("target_kind", target_kind, n_c, i8)
    tv = _rows("target_value", target_value, n_c, f8)
    sl = _rows("sl_threshold_s", sl_threshold_s, n_c, f8)
    mn = _rows("max_new", max_new, n_c, i8)
    act = _rows("active", active, n_c, i8)
    code, i = _check_inputs(ao, ae, co, ce, ht, rt, hit, t_out, hor, cw, ab, kind, tv, sl, mn,
                            act)
    if code:
        raise ValueError(_INPUT_ERRORS[code].format(i=i))
    if ring_end is None:
        ec, et, ebw = np.zeros((n_c, 1)), np.zeros(n_c), 1.0
    else:
        ec, et, ebw = _hist_arrays("ring_end", ring_end, n_c)
    if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or \
            not 1 <= n_steps <= MAX_STEPS:
        raise ValueError(f"n_steps must be an integer in [1, {MAX_STEPS}], got "
                         f"{n_steps!r:.40}")
    dials = np.empty(n_c, dtype=np.int64)
    exp_ab = np.empty(n_c)
    exp_live = np.empty(n_c)
    _predictive_dials(ao, ae, co, ce, hc, ht, hbw, rc, rt, rbw, ec, et, ebw, hit, t_out, hor,
                      cw, ab, kind, tv, sl, mn, act, int(n_steps), dials, exp_ab, exp_live)
    return dials, exp_ab, exp_live


def warmup():
    """Compile (or load from the on-disk cache) every kernel the predictive decision uses,
    for representative shapes, so no live decision waits on a compile."""
    _histogram.warmup()
    _poisson_binomial.warmup()
    hold = _histogram.StreamingHistogram(3, 2.0, 3600.0)
    ring = _histogram.StreamingHistogram(3, 0.25, 60.0)
    for c in range(3):
        hold.seed(c, 180.0, 1.0, 20.0)
        ring.seed(c, 9.0, 0.5, 20.0)
    predictive_dials(
        np.array([0, 2, 4, 6]), np.array([-1.0, 30.0, 5.0, 200.0, -1.0, 10.0]),
        np.array([0, 1, 2, 3]), np.array([1.0, 4.0, 8.0]), hold, ring,
        hit_rate=0.25, ring_timeout_s=20.0, horizon_s=10.0, abandon_limit=0.03, max_new=4,
        target_kind=np.array([0, 1, 2]), target_value=np.array([0.0, 0.8, 5.0]),
        sl_threshold_s=10.0)

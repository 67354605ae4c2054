"""Plain NumPy/Python reference implementations: the oracles of the predictive kernels.

Written to be obviously correct, not fast, and independent of the kernels: histograms via
``np.histogram`` and ``np.interp`` over the bin edges, sums of Bernoullis by repeated
``np.convolve``, expectations by double sums over both PMFs, the decision by evaluating
the criterion for every candidate number of dials.
"""

from __future__ import annotations

import math

import numpy as np

from pacer.constants import HIST_SUPPORT_EPS, PROB_EPS
from pacer.modes import Target

# ------------------------------------------------------------------ histograms


def hist_edges(n_bins, bin_width_s):
    return np.arange(n_bins + 1) * bin_width_s


def hist_counts(values, n_bins, bin_width_s, weights=None):
    """Counts per bin with np.histogram; values beyond the support count in the last bin."""
    edges = hist_edges(n_bins, bin_width_s)
    v = np.minimum(np.asarray(values, dtype=float), edges[-1])
    counts, _ = np.histogram(v, bins=edges, weights=weights)
    return counts.astype(float)


def hist_cdf(counts_row, bin_width_s, x):
    """Linear interpolation of the cumulative weight at the bin edges."""
    counts_row = np.asarray(counts_row, dtype=float)
    total = counts_row.sum()
    if total <= 0:
        return np.zeros_like(np.asarray(x, dtype=float))
    edges = hist_edges(counts_row.size, bin_width_s)
    cum = np.concatenate([[0.0], np.cumsum(counts_row)]) / total
    return np.interp(x, edges, cum, left=0.0, right=1.0)


def hist_survival_weight(counts_row, bin_width_s, x):
    """Weight at or above x, summed from the top (no cancellation)."""
    counts_row = np.asarray(counts_row, dtype=float)
    n = counts_row.size
    if x <= 0:
        return counts_row.sum()
    if x >= n * bin_width_s:
        return 0.0
    k = int(np.searchsorted(hist_edges(n, bin_width_s), x, side="right")) - 1
    frac = (x - k * bin_width_s) / bin_width_s
    return counts_row[k + 1:].sum() + counts_row[k] * (1.0 - frac)


def hist_weight_between(counts_row, bin_width_s, a, b):
    """Weight in [a, b): each bin contributes its overlap (uniform within a bin)."""
    total = 0.0
    for k, c in enumerate(np.asarray(counts_row, dtype=float)):
        lo, hi = k * bin_width_s, (k + 1) * bin_width_s
        overlap = min(hi, b) - max(lo, a)
        if c > 0 and overlap > 0:
            total += c * overlap / bin_width_s
    return total


def hist_mean(counts_row, bin_width_s):
    counts_row = np.asarray(counts_row, dtype=float)
    total = counts_row.sum()
    if total <= 0:
        return math.nan
    mids = (np.arange(counts_row.size) + 0.5) * bin_width_s
    return float((counts_row * mids).sum() / total)


def hist_finish_prob(counts_row, bin_width_s, elapsed_s, within_s):
    """P(done within h | elapsed e) = (S(e) - S(e + h)) / S(e); exponential tail with the
    row mean where S(e) <= HIST_SUPPORT_EPS (beyond the support)."""
    counts_row = np.asarray(counts_row, dtype=float)
    total = counts_row.sum()
    if total <= 0 or within_s <= 0:
        return 0.0
    s_e = hist_survival_weight(counts_row, bin_width_s, elapsed_s)
    if s_e <= HIST_SUPPORT_EPS * total:
        return 1.0 - math.exp(-within_s / hist_mean(counts_row, bin_width_s))
    s_eh = hist_survival_weight(counts_row, bin_width_s, elapsed_s + within_s)
    return min(max((s_e - s_eh) / s_e, 0.0), 1.0)


def hist_quantile(counts_row, bin_width_s, q):
    counts_row = np.asarray(counts_row, dtype=float)
    total = counts_row.sum()
    if total <= 0:
        return math.nan
    target = q * total
    cum = 0.0
    for k, c in enumerate(counts_row):
        if c > 0 and cum + c >= target:
            return (k + min(max((target - cum) / c, 0.0), 1.0)) * bin_width_s
        cum += c
    return (np.nonzero(counts_row)[0][-1] + 1) * bin_width_s


def lognormal_bin_masses(n_bins, bin_width_s, mean_s, cv):
    """Bin masses of a lognormal (mean, cv); the tail beyond the support in the last bin."""
    sigma = math.sqrt(math.log(1 + cv * cv))
    mu = math.log(mean_s) - sigma * sigma / 2
    edges = hist_edges(n_bins, bin_width_s)[1:-1]
    cdf = np.array([0.5 * math.erfc(-(math.log(x) - mu) / (sigma * math.sqrt(2))) for x in edges])
    cdf = np.concatenate([[0.0], cdf, [1.0]])
    return np.diff(cdf)


# ------------------------------------------------------------------ Poisson-binomial


def pb_pmf(p):
    pmf = np.array([1.0])
    for pj in p:
        pmf = np.convolve(pmf, [1.0 - pj, pj])
    return pmf


def expected_excess(pmf_l, pmf_a):
    """E[(L - A)+] by the double sum over both PMFs."""
    total = 0.0
    for n_live, pl in enumerate(pmf_l):
        for n_free, pa in enumerate(pmf_a):
            if n_live > n_free:
                total += pl * pa * (n_live - n_free)
    return total


def _difference(pmf_l, pmf_a):
    """The PMF of L - A (L, A independent) and its values: the convolution of L's PMF with
    A's reversed, value -(len(pmf_a) - 1) first."""
    d = np.convolve(pmf_l, np.asarray(pmf_a)[::-1])
    return d, np.arange(d.size) - (len(pmf_a) - 1)


def excess_outer(pmf_l, pmf_a):
    """E[(L - A)+], from the PMF of L - A."""
    d, v = _difference(pmf_l, pmf_a)
    return float((d * np.maximum(v, 0)).sum())


def shortfall_outer(pmf_l, pmf_a):
    """E[(A - L)+]."""
    d, v = _difference(pmf_l, pmf_a)
    return float((d * np.maximum(-v, 0)).sum())


def matched_outer(pmf_l, pmf_a):
    """E[min(A, L)] = E[L] - E[(L - A)+]."""
    return float((np.arange(len(pmf_l)) * pmf_l).sum()) - excess_outer(pmf_l, pmf_a)


# ------------------------------------------------------------------ predictive decision


def live_probs(ring_row, ring_bw, hit_rate, ring_timeout_s, horizon_s, call_elapsed,
               end_row=None, end_bw=1.0):
    """q_k for in-flight calls and q_new for a new dial (model in pacer.predictive).

    A call with elapsed < 0 is a live answer waiting for an agent: q = 1. A ringing call:
    the live answers in [r, b), b = min(r + h, T), over its chance of still ringing at r:
    with a ring-end histogram (any outcome) P(still ringing) = S_end(r); without one
    1 - pi G(r), written with weights as (1 - pi) total + pi S(r) so that no term cancels.
    """
    pi, t, h = hit_rate, ring_timeout_s, horizon_s
    ring_row = np.asarray(ring_row, dtype=float)
    total = ring_row.sum()
    use_end = end_row is not None and np.asarray(end_row).sum() > 0
    q = []
    for r in call_elapsed:
        if r < 0:
            q.append(1.0)
            continue
        if r >= t or pi <= 0 or total <= 0:
            q.append(0.0)
            continue
        w = hist_weight_between(ring_row, ring_bw, r, min(r + h, t))
        if w <= 0:
            q.append(0.0)
        elif use_end:
            alive = hist_survival_weight(end_row, end_bw, r) / np.sum(end_row)
            num = pi * w / total
            q.append(min(num / alive, 1.0) if alive > num else 1.0)
        else:
            den = (1.0 - pi) * total + pi * hist_survival_weight(ring_row, ring_bw, r)
            q.append(min(pi * w / den, 1.0))
    q_new = pi * float(hist_cdf(ring_row, ring_bw, min(h, t))) if total > 0 else 0.0
    return np.array(q), q_new


def possible_live(ring_row, ring_bw, hit_rate, ring_timeout_s, call_elapsed):
    """Structural counts for the zero-tolerance rule: calls that can still need an agent
    (waiting live answers, and ringing calls with ring weight in [r, T) > 0 for a hit rate
    above 0), and whether a new dial can be answered live."""
    t = ring_timeout_s
    waiting = sum(1 for r in call_elapsed if r < 0)
    if hit_rate <= 0:
        return waiting, False
    n = sum(1 for r in call_elapsed
            if 0 <= r < t and hist_weight_between(ring_row, ring_bw, r, t) > 0)
    return waiting + n, hist_weight_between(ring_row, ring_bw, 0.0, t) > 0


def agent_probs(hold_row, hold_bw, agent_elapsed, within_s):
    return np.array([1.0 if e < 0 else hist_finish_prob(hold_row, hold_bw, e, within_s)
                     for e in agent_elapsed])


def _first_crossing(crit, max_new):
    """Largest n <= max_new with crit(m) <= 0 for all m <= n (0 if crit(0) > 0); also the
    smallest |crit| seen (the distance to a tie)."""
    margin = math.inf
    for m in range(max_new + 1):
        v = crit(m)
        margin = min(margin, abs(v))
        if v > 0:
            return max(m - 1, 0), margin
    return max_new, margin


def decide_at(agent_elapsed, call_elapsed, hold_row, hold_bw, ring_row, ring_bw, hit_rate,
              ring_timeout_s, horizon_s, connect_window_s, abandon_limit, target_kind,
              target_value, sl_threshold_s, max_new, end_row=None, end_bw=1.0, wait=True):
    """The decision for one look-ahead ``horizon_s``: (dials, expected_abandons,
    expected_live, margin), margin being the smallest distance of a deciding comparison
    from a tie. ``wait``: apply the AGENT_WAIT rule (only at the full horizon)."""
    agent_elapsed = np.asarray(agent_elapsed, dtype=float)
    q, q_new = live_probs(ring_row, ring_bw, hit_rate, ring_timeout_s, horizon_s, call_elapsed,
                          end_row, end_bw)
    n_idle = int((agent_elapsed < 0).sum())
    n_poss, new_poss = possible_live(ring_row, ring_bw, hit_rate, ring_timeout_s, call_elapsed)

    pmfs = [pb_pmf(q)]  # pmfs[m]: in-flight calls plus m new dials

    def pmf_l(m):
        while len(pmfs) <= m:
            pmfs.append(np.convolve(pmfs[-1], [1.0 - q_new, q_new]))
        return pmfs[m]

    def live(m):
        return float(np.dot(np.arange(len(q) + m + 1), pmf_l(m)))

    def fraction_rule(slack, frac):
        if frac <= 0:  # zero tolerance: only idle agents are sure
            if n_poss > n_idle:  # an abandon is already possible: never dilute
                return 0, math.inf
            if not new_poss:  # new dials cannot be answered live
                return max_new, math.inf
            return min(n_idle - n_poss, max_new), math.inf
        pmf_a = pb_pmf(agent_probs(hold_row, hold_bw, agent_elapsed, horizon_s + slack))
        return _first_crossing(lambda m: excess_outer(pmf_l(m), pmf_a) - frac * live(m),
                               max_new)

    n, margin = fraction_rule(connect_window_s, abandon_limit)
    if target_kind == Target.SERVICE_LEVEL:
        n_sl, m_sl = fraction_rule(sl_threshold_s, 1.0 - target_value)
        n, margin = min(n, n_sl), min(margin, m_sl)
    elif target_kind == Target.AGENT_WAIT and wait:
        pmf_a = pb_pmf(agent_probs(hold_row, hold_bw, agent_elapsed,
                                   horizon_s + connect_window_s))
        n_w = max_new
        for m in range(max_new + 1):
            pl = pmf_l(m)
            w = shortfall_outer(pl, pmf_a) * horizon_s / max(matched_outer(pl, pmf_a), PROB_EPS)
            margin = min(margin, abs(w - target_value) / max(target_value, 1.0))
            if w <= target_value:
                n_w = m
                break
        n = min(n, n_w)
    pmf_a = pb_pmf(agent_probs(hold_row, hold_bw, agent_elapsed, horizon_s + connect_window_s))
    return n, excess_outer(pmf_l(n), pmf_a), live(n), margin


def decide_campaign(agent_elapsed, call_elapsed, hold_row, hold_bw, ring_row, ring_bw,
                    hit_rate, ring_timeout_s, horizon_s, connect_window_s, abandon_limit,
                    target_kind, target_value, sl_threshold_s, max_new, end_row=None,
                    end_bw=1.0, n_steps=1):
    """One campaign: the constraints checked at look-aheads horizon * k / n_steps,
    k = 1..n_steps (AGENT_WAIT at the full horizon only), the dials their minimum; the
    expected abandons and live answers are those of the full horizon for those dials."""
    n, margin = max_new, math.inf
    for k in range(1, n_steps + 1):
        n_k, _, _, m_k = decide_at(agent_elapsed, call_elapsed, hold_row, hold_bw, ring_row,
                                   ring_bw, hit_rate, ring_timeout_s, horizon_s * k / n_steps,
                                   connect_window_s, abandon_limit, target_kind, target_value,
                                   sl_threshold_s, max_new, end_row, end_bw,
                                   wait=k == n_steps)
        n, margin = min(n, n_k), min(margin, m_k)
    _, ab, lv, _ = decide_at(agent_elapsed, call_elapsed, hold_row, hold_bw, ring_row, ring_bw,
                             hit_rate, ring_timeout_s, horizon_s, connect_window_s,
                             abandon_limit, Target.ABANDON_RATE, 0.0, 0.0, n, end_row,
                             end_bw, wait=False)
    return n, ab, lv, margin


def predictive_dials(agent_offsets, agent_elapsed_s, call_offsets, call_elapsed_s,
                     hold_counts, hold_bw, ring_counts, ring_bw, hit_rate, ring_timeout_s,
                     horizon_s, connect_window_s, abandon_limit, target_kind, target_value,
                     sl_threshold_s, max_new, active, end_counts=None, end_bw=1.0, n_steps=1):
    """Reference of the batched decision: (dials, expected_abandons, expected_live, margin).
    end_counts: optional ring-end histogram rows (time any dial stopped ringing)."""
    c_n = len(hit_rate)
    dials = np.zeros(c_n, dtype=np.int64)
    ab = np.zeros(c_n)
    lv = np.zeros(c_n)
    margin = np.full(c_n, math.inf)
    for c in range(c_n):
        if active[c] != 1:
            continue
        dials[c], ab[c], lv[c], margin[c] = decide_campaign(
            agent_elapsed_s[agent_offsets[c]:agent_offsets[c + 1]],
            call_elapsed_s[call_offsets[c]:call_offsets[c + 1]],
            hold_counts[c], hold_bw, ring_counts[c], ring_bw, hit_rate[c],
            ring_timeout_s[c], horizon_s[c], connect_window_s[c], abandon_limit[c],
            target_kind[c], target_value[c], sl_threshold_s[c], int(max_new[c]),
            None if end_counts is None else end_counts[c], end_bw, n_steps)
    return dials, ab, lv, margin

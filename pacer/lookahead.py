"""The predictive model: a time-resolved look-ahead over the whole life of every call.

Why not a fixed horizon. A model that compares the live answers expected within ``h``
seconds with the agents expected free within ``h`` forgets three things: live answers after
``h`` (about half of them when ``h`` is the median time to answer), that an agent freeing at
second 12 cannot take a call answered at second 3, and that later dials compete for the same
agents. Measured in simulation that model forecast about a tenth of the abandons that
happened. This one looks ahead over a dial's whole life, on a time grid.

**Matching.** Within the look-ahead an agent, once free, waits for the next live answer;
a live answer answered at ``tau`` is connected if an agent is free by ``tau + w`` (``w`` the
connect window), first come first served. Agent ``a`` free at ``f_a`` can take answer ``tau``
iff ``f_a <= tau + w``: the sets of agents each answer can take are nested, so (Hall's
theorem) the number of answers left without an agent is exactly

    Ab = max(0, max_s D(s)),   D(s) = L(s) - A(s + w),

``L(s)`` the live answers by ``s`` (including those already waiting), ``A(x)`` the agents free
by ``x`` (idle ones at 0). Greedy first-come-first-served matching attains it.

**Grid.** Time steps of ``dt`` seconds, ``s = 0 .. S - 1`` with ``S = ceil(T / dt) + 1``
(``T`` the ring timeout): an answer ``x`` seconds from now falls on step ``ceil(x / dt)``,
answers already waiting on step 0; an agent free ``f`` seconds from now counts for step
``s`` when ``f <= max(s - 1/2, 0) dt + w`` (the centre of the step).

**Monte Carlo with common random numbers.** ``K`` samples of the near future, each drawing:
a hit rate ``pi_k`` from the hit-rate posterior (mean and standard deviation; the prior's
uncertainty at cold start, the window's later), each busy agent's end of handling from the
handling-time histogram conditioned on its elapsed time (exponential tail with the row mean
past the support) or, where the caller reports wrap-up apart (``AgentStatus.WRAP``), a
talking agent's end as the talk left (talk histogram, given the talk so far) plus a wrap-up
(wrap-up histogram) and an agent in wrap-up's as the wrap-up left, each ringing call's
live answer and its time from the ring time-to-answer histogram conditioned on still
ringing. The ``n``-th new dial then adds, in expectation over its own answer
(Rao-Blackwellised, no sampling noise of its own),

    dAb_k = pi_k P(answer step <= s*_k)   if max_s D_k(s) >= 0, else 0,

``s*_k`` the last step where ``D_k`` reaches its maximum (an answer at or before it raises
the maximum by one; a later one finds an agent). Dials are added while the mean marginal
abandons per marginal live answer stay at or under ``theta``; each added dial is then
drawn in every sample (same uniforms for every candidate count) and ``D_k`` updated.

**Short calls.** An answer whose handling (talk + wrap-up, drawn afresh) ends inside the
look-ahead, if it is served, frees its agent for a later answer: D_k rises by one from its
step to the step its agent counts free again (``_back_cdf``), not to the end. It is served
(first come first served) where it raises no new excess at its step (``_served``); one
left without an agent frees none, and counts as a long call does. The new dial's
marginal then reads the chance that its answer raises D at ``s*_k`` (answered by then and
its agent not back: ``_cover``) in place of P(answer step <= s*_k).

**The objective.** Maximising expected connects minus a price ``lambda`` per expected abandon
adds a dial while ``dAb / dL <= 1 / (1 + lambda)`` = ``theta``: dials go where an abandon buys
most connects. The pacer (``pacer.decide``) moves ``theta`` slowly so that the realised rate
over the regulatory window sits at its aim; a calibrated model needs little correction.

**Sampling.** Each busy agent and ringing call draws its K values stratified (one per
K-th of [0, 1), dealt to the samples by its own pseudo-random permutation): every sample
is an exact draw, and sample averages are 2-5x less noisy than with independent draws.
The agent's or call's draws are keyed by its identity and start, so they stay put from
one decision to the next; its time is drawn by inverting the histogram (exact). Cost is
per draw that lands inside the look-ahead, not per sample: a busy agent 200 s into a
225 s call costs its 15 % of K.

**Calibration.** Summed over a run, the expected abandons the added dials bring
(``added_abandons``) estimate the realised abandons: the model's expectation of all
abandons is a martingale between launches, and each launch adds its marginal term. The
samples that chose the dials underestimate it (the winner's curse: a dial goes in where the
noise happened to make it look cheap, 3-4x at the margin), so it is measured again on an
independent set of samples (``CHECK_SALT``) whenever dials are added.
``bench/pacing_family.py --calibration`` and ``tests/test_calibration.py`` measure it.

**Service level** (X within ``T_sl``): the same look-ahead with window ``T_sl``, answers not
connected within it counted, ``theta = 1 - X``; the campaign's dials are the smaller count.

Randomness: a xorshift64* stream in a one-element uint64 state array owned by the caller,
so runs are reproducible and the reference in ``tests/naive_lookahead.py`` draws the same
numbers. All times in seconds, rates as fractions 0..1.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from pacer.constants import HIST_SUPPORT_EPS
from pacer.histogram import _hist_add
from pacer.ratio import as_array, float_rows, int_rows, real_number

__all__ = ["DEFAULT_DT_S", "DEFAULT_SAMPLES", "dial_life", "grid_steps"]

DEFAULT_SAMPLES = 32  # K, Monte-Carlo samples per decision
DEFAULT_DT_S = 1.0  # grid step, seconds
MAX_STEPS = 1024  # grid steps cap (ring timeout / dt)
MAX_SHIFT = 64  # steps a caller's patience may bring a deadline forward (window / dt)
FINE_SALT = np.uint64(0x2545F4914F6CDD1D)  # keys the deciding samples apart
CHECK_SALT = np.uint64(0x5851F42D4C957F2D)  # keys the forecast samples apart
LIFE_TAIL = 1e-3  # live answers later than a dial's modelled life: under this fraction
PRE_BINS = 32  # bins of the connect window for deadlines inside it (answers waiting, callers
# hanging up before the window ends) and the agents free by then

# error_model="numpy": no zero-division checks (every division here is guarded or by a
# checked positive value; the quotients are the same)
_njit = numba.njit(cache=True, error_model="numpy")


def grid_steps(ring_timeout_s: float, dt_s: float) -> int:
    """S, grid steps covering a dial's ring life (step 0 = now), at most MAX_STEPS (the
    kernels' cap); both in seconds, finite and > 0, else a ValueError naming the argument."""
    t = real_number("ring_timeout_s", ring_timeout_s, 0.0, lo_open=True)
    dt = real_number("dt_s", dt_s, 0.0, lo_open=True)
    return min(math.ceil(min(t / dt, MAX_STEPS) - 1e-9) + 1, MAX_STEPS)


@_njit
def _uniform(state):
    """Next uniform in [0, 1) of the xorshift64* stream held in state (uint64[1])."""
    x = state[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    state[0] = x
    return float((x * np.uint64(2685821657736338717)) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@_njit
def _keyed_bits(salt, key, kind, start_ms, k):
    """64 random bits fixed by (salt, the entity's key (the engine's agent or call-slot
    row), its kind, its start in ms, k): splitmix64 of their mix. The same agent on the
    same call (or the same dial) keeps the same draws at every decision, so its sampled
    future does not re-roll tick after tick; two dials of one tick differ by their slot."""
    x = salt ^ (np.uint64(key) * np.uint64(0x9E3779B97F4A7C15))
    x ^= np.uint64(kind) * np.uint64(0xD1B54A32D192ED03)
    x ^= np.uint64(start_ms) * np.uint64(0xC2B2AE3D27D4EB4F)
    x += np.uint64(k) * np.uint64(0x165667B19E3779F9)
    return _splitmix64(x + np.uint64(0x9E3779B97F4A7C15))


@_njit
def _splitmix64(x):
    """The splitmix64 finaliser: 64 well-mixed bits from a uint64."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@_njit
def _keyed_uniform(salt, key, kind, start_ms, k):
    """A uniform in [0, 1) from ``_keyed_bits``."""
    return float(_keyed_bits(salt, key, kind, start_ms, k) >> np.uint64(11)) \
        * (1.0 / 9007199254740992.0)


@_njit
def _start_ms(now_s, elapsed_s):
    """When an agent's call or a dial started, in whole ms since the clock's 0 (>= 0)."""
    x = (now_s - elapsed_s) * 1000.0
    if not 0.0 <= x < 9.0e18:  # out of int64 (the caller checks times; never undefined)
        return 0
    return round(x)


# The rows a decision reads, stacked: hc[i, :n_ok] a copy of the campaign's counts row of
# histogram i and hp[i, :n_ok + 1] its prefix sums, hpar[i] = (bin width s, total, mean s
# or 1.0 where not read), hint[i] = (n_ok, bins). One set of arrays whatever the phase, so
# the per-agent loop indexes them by phase rather than binding an array per agent (each
# binding is a reference-count increment and decrement). The copy and its sums are rebuilt
# at every decision on purpose: the campaign's rows are a few cache lines read in order,
# and keeping them (and their sums) between decisions, valid until a row is written, made
# the 60k-BHCC hour's look-ahead about 10 % slower, not faster: a campaign is decided every
# few seconds, so the kept rows are cold too, and there are two of them per row read.
H_HOLD = 0  # handling time (agent phase 0)
H_TALK = 1  # talk time (agent phase 1)
H_WRAP = 2  # wrap-up (agent phase 2)
H_RING = 3  # ring time to a live answer
H_END = 4  # ring time to any end


@_njit
def _prefixes(c_1, r_1, n_1, c_2, r_2, n_2, c_3, r_3, n_3, c_4, r_4, n_4, c_5, r_5, n_5,
              hc, hp):
    """Prefix sums of five rows at once, hp[i, k] = sum of c_i[r_i, :k] for k = 0..n_i (the
    five running sums side by side: independent chains of additions, each in row order),
    and the rows' first n_i counts into hc[0..4, :n_i]."""
    a_1 = a_2 = a_3 = a_4 = a_5 = 0.0
    hp[0, 0] = hp[1, 0] = hp[2, 0] = hp[3, 0] = hp[4, 0] = 0.0
    for k in range(max(n_1, n_2, n_3, n_4, n_5)):
        if k < n_1:
            x = c_1[r_1, k]
            hc[0, k] = x
            a_1 += x
            hp[0, k + 1] = a_1
        if k < n_2:
            x = c_2[r_2, k]
            hc[1, k] = x
            a_2 += x
            hp[1, k + 1] = a_2
        if k < n_3:
            x = c_3[r_3, k]
            hc[2, k] = x
            a_3 += x
            hp[2, k + 1] = a_3
        if k < n_4:
            x = c_4[r_4, k]
            hc[3, k] = x
            a_4 += x
            hp[3, k + 1] = a_4
        if k < n_5:
            x = c_5[r_5, k]
            hc[4, k] = x
            a_5 += x
            hp[4, k + 1] = a_5


@_njit
def _below(hc, hp, i, n_ok, bw, x):
    """Weight of stacked row i below x seconds (uniform within a bin); valid to n_ok bins
    (past them, and past the row's bins, n_ok <= bins, the weight of the n_ok bins)."""
    u = x / bw
    if not u > 0.0:
        return 0.0
    if u >= n_ok:
        return hp[i, n_ok]
    k = int(u)
    return hp[i, k] + hc[i, k] * (u - k)


@_njit
def _needed(n_bins, bw, x):
    """Prefix bins needed to evaluate ``_below`` up to x seconds."""
    if not x > 0.0:
        return 0
    return min(int(x / bw) + 1, n_bins)


@_njit
def _strata(salt, key, kind, start_ms, k_n):
    """An entity's stratified draws over the K samples: an offset h in [0, 1) and the key
    of a permutation of the samples (``_sample_of``). Its m-th smallest draw, ``(m + h) /
    K``, goes to sample ``_sample_of(m, ...)``: each sample's draw is uniform and
    independent across entities (h and the permutation are the entity's own), and the K
    draws spread evenly over [0, 1) (Latin-hypercube sampling), so averages over the samples
    are far less noisy than with K independent draws. The permutation is pseudo-random
    (not a rotation) so that two entities' sets of samples overlap as random sets do."""
    h = _keyed_uniform(salt, key, kind, start_ms, 0)
    bits = _keyed_bits(salt, key, kind, start_ms, 1)
    return h, bits, _perm_mask(k_n)


@_njit
def _perm_mask(k_n):
    """The bits under the smallest power of two >= K (``_sample_of``'s walk)."""
    mask = 1
    while mask < k_n:
        mask <<= 1
    return mask - 1


@_njit
def _sample_of(m, bits, mask, k_n):
    """The sample of an entity's m-th stratum: a permutation of 0..K-1 keyed by ``bits``
    (two rounds of xor, multiply by an odd number, add, on the bits under ``mask + 1`` (a
    power of two >= K); cycle-walking maps it onto 0..K-1)."""
    x1 = int(bits & np.uint64(0x3FF))
    a1 = int((bits >> np.uint64(10)) & np.uint64(0x3FF)) | 1
    c1 = int((bits >> np.uint64(20)) & np.uint64(0x3FF))
    x2 = int((bits >> np.uint64(30)) & np.uint64(0x3FF))
    a2 = int((bits >> np.uint64(40)) & np.uint64(0x3FF)) | 1
    c2 = int((bits >> np.uint64(50)) & np.uint64(0x3FF))
    k = m
    while True:
        k = ((((((k ^ x1) * a1 + c1) & mask) ^ x2) * a2 + c2) & mask)
        if k < k_n:
            return k


@_njit
def _agent_step(x, window, dt, n_steps):
    """Grid step at which an agent free ``x`` seconds from now counts: the first step s
    whose availability time ``max(s - 1/2, 0) dt + window`` is past x."""
    if x < window:
        return 0
    s = math.floor((x - window) / dt + 0.5) + 1
    return min(s, n_steps - 1)


@_njit
def _row_mean(counts, row, bw, total):
    acc = 0.0
    for k in range(counts.shape[1]):
        acc += counts[row, k] * (k + 0.5) * bw
    return acc / total


@_njit
def _tail_mean(counts, row, hc, hp, i, n_ok, bw, total, e_max):
    """The row's mean (seconds) when an agent e_max seconds in is past its support (then
    the exponential tail reads it), else 1.0 (not read; the full pass is skipped); the row
    stacked as i."""
    if total > 0.0 and \
            total - _below(hc, hp, i, n_ok, bw, e_max) <= HIST_SUPPORT_EPS * total:
        return _row_mean(counts, row, bw, total)
    return 1.0


@_njit
def _inverse(hc, hp, i, n_ok, bw, target, b):
    """Seconds where stacked row i's weight (uniform within a bin) reaches ``target``,
    searched upwards from bin b among the first n_ok bins; returns (seconds, the bin it fell
    in)."""
    while b < n_ok - 1 and hp[i, b + 1] <= target:
        b += 1
    c = hc[i, b]
    return ((b + (target - hp[i, b]) / c) * bw if c > 0.0 else b * bw), b


@_njit
def _last_at_or_under(hp, i, n, target):
    """The first index of hp[i, :n] whose value is over ``target`` (as ``np.searchsorted``
    side="right", the same binary search, without a view of the row)."""
    lo = 0
    hi = n
    while lo < hi:
        mid = lo + ((hi - lo) >> 1)
        if target != target or hp[i, mid] <= target:
            lo = mid + 1
        else:
            hi = mid
    return lo


@_njit
def _agent_ends(d, agent_elapsed_s, agent_key, agent_phase, a_lo, a_hi, hc, hp, hpar, hint,
                x_last, window, dt, n_steps, now_s, salt, k_n, pre, pre_bw, pre_on):
    """The busy agents' (rows a_lo .. a_hi - 1, elapsed >= 0) K stratified ends each
    (seconds from now) into d[step, k] (-1 each): the phase's time (``agent_phase`` 0
    handling, 1 talk, 2 wrap-up: stacked rows ``H_HOLD``, ``H_TALK``, ``H_WRAP`` of hc / hp
    / hpar / hint) conditioned on the elapsed ``e`` seconds already spent, plus, after a
    talk, a wrap-up drawn from the wrap-up row (its own stratified draws paired with the
    talk's by a second keyed permutation: a two-dimensional Latin hypercube). Draws past
    the look-ahead (``x_last``) are not counted; those inside the connect window (step 0)
    also go into pre[bin, k] (bins of ``pre_bw`` seconds) when ``pre_on``.

    Each agent's chance of ending within the look-ahead and its first stratum ``h / K``
    come first: an agent whose first stratum is past that chance adds nothing to any
    sample, and is left before the rest of its strata (its permutation) is drawn: two
    histogram reads and one hash. Returns how many agents drew (``_strata`` would give the
    same h and permutation)."""
    w_bw = hpar[H_WRAP, 0]
    w_total = hpar[H_WRAP, 1]
    w_ok = hint[H_WRAP, 0]
    mask = _perm_mask(k_n)
    drew = 0
    for j in range(a_lo, a_hi):
        e = agent_elapsed_s[j]
        if e < 0.0:
            continue
        i = agent_phase[j]
        if i != H_HOLD and i != H_TALK:
            i = H_WRAP
        add_wrap = i == H_TALK
        kind = 4 if i == H_WRAP else 0
        key = agent_key[j]
        bw = hpar[i, 0]
        total = hpar[i, 1]
        mean = hpar[i, 2]
        n_ok = hint[i, 0]
        b_e = _below(hc, hp, i, n_ok, bw, e)
        s_e = total - b_e
        tail = s_e <= HIST_SUPPORT_EPS * total  # past the support: exponential tail
        if tail:
            p_all = -math.expm1(-x_last / mean)
        else:
            p_all = (_below(hc, hp, i, n_ok, bw, e + x_last) - b_e) / s_e
        t0_ms = _start_ms(now_s, e)
        h = _keyed_uniform(salt, key, kind, t0_ms, 0)
        if h / k_n >= p_all:
            continue
        drew += 1
        bits = _keyed_bits(salt, key, kind, t0_ms, 1)
        h2 = -1.0  # the wrap-up's strata: drawn when a talk ends within the look-ahead
        bits2 = np.uint64(0)
        b = min(int(e / bw), hint[i, 1] - 1)
        for m in range(k_n):
            u = (m + h) / k_n
            if u >= p_all:
                break
            if tail:
                x = -mean * math.log1p(-u)
            else:
                y, b = _inverse(hc, hp, i, n_ok, bw, b_e + u * s_e, b)
                x = y - e
            if add_wrap and w_total > 0.0:
                if h2 < 0.0:
                    h2, bits2, _ = _strata(salt, key, kind + 3, t0_ms, k_n)
                u2 = (_sample_of(m, bits2, mask, k_n) + h2) / k_n
                target = u2 * w_total
                if target >= _below(hc, hp, H_WRAP, w_ok, w_bw, x_last - x):
                    continue  # the wrap-up ends after the look-ahead
                jw = max(_last_at_or_under(hp, H_WRAP, w_ok + 1, target) - 1, 0)
                y2, _ = _inverse(hc, hp, H_WRAP, w_ok, w_bw, target, min(jw, w_ok - 1))
                x += y2
                if x > x_last:
                    continue
            k = _sample_of(m, bits, mask, k_n)
            s = _agent_step(x, window, dt, n_steps)
            d[s, k] -= 1.0
            if s == 0 and pre_on:
                pre[min(int(x / pre_bw), PRE_BINS - 1), k] += 1.0
    return drew


@_njit
def _zero_bins(pre, wc, k_n):
    """pre[:, :k_n] = wc[:, :k_n] = 0."""
    for b in range(PRE_BINS):
        for k in range(k_n):
            pre[b, k] = 0.0
            wc[b, k] = 0.0


@_njit
def _sample_state(agent_elapsed_s, agent_key, agent_phase, a_lo, a_hi, call_elapsed_s,
                  call_key, c_lo, c_hi, hc, hp, hpar, hint, pi_hat, pis, t_out, dt, window,
                  n_steps, now_s, salt, d, top, last, q_tab, sh_cdf, n_sh, hangup_rate, certain,
                  age, w_bin, pre_buf, wc_buf, back, hand):
    """Draw K samples of D_k(s) into d[S, K]; their maxima into top, last argmax into last.
    Returns the live answers expected from the calls in flight (waiting ones included).
    A ringing call's answer holds its agent for the rest of the look-ahead, or, where some
    answers end within it (``back``, ``_back_cdf``: back[S - 1] > 0), until the step e its
    drawn handling ends if it is served (``_served``, the answers taken in the order of
    their steps: D_k - 1 from e on); hand int64[>= calls x K, 3]: scratch for those
    answers (step, e, sample).

    Deadlines inside the connect window: a live answer already waiting (``call_elapsed_s =
    -1 - seconds waited``) must have its agent by the end of its own window, or its caller's
    patience (exponential, ``hangup_rate`` per second, memoryless) if that ends first; so
    must a ringing call's answer whose patience shift brings its deadline before the
    window's end. Their deadlines and the agents free before the window ends are binned
    (``PRE_BINS``, allocated when the first such deadline is seen). In each sample the
    waiting answers take the agents first come first served, as an ACD serves them (the
    agents in the order they free go to the oldest answer still waiting; it cannot know
    whose caller will hang up first); then the answers still to come with such deadlines
    are matched earliest deadline first with the agents left (the latest ones). Those left
    without an agent are abandons whatever is dialled (``certain[k]``) and leave the agents
    to later answers: D_k less certain[k] at every step. age float64[>= waiting answers],
    w_bin int64[>= waiting answers, K], pre_buf and wc_buf float64[PRE_BINS, >= K]:
    scratch.

    Each busy agent and ringing call walks its K stratified draws (``_strata``) in
    increasing order and stops at the first past its chance of counting within the
    look-ahead: its cost is the samples where it counts, not K. An agent's end is drawn by
    inverting its phase's histogram (piecewise linear, exact): ``agent_phase`` 0 the
    handling time (talk + wrap-up) since the call connected, 1 the talk since it connected
    plus a wrap-up, 2 the wrap-up since it started; a call's answer step from a table of its
    answer weight by step, filled as far as its draws need. q_tab: float64[S] scratch.
    The histograms' rows: stacked in hc / hp / hpar / hint (``_prefixes``, ``H_*``)."""
    k_n = pis.shape[0]
    short = back[n_steps - 1] > 0.0
    ring_ok = hint[H_RING, 0]
    ring_bw = hpar[H_RING, 0]
    ring_total = hpar[H_RING, 1]
    x_last = max(n_steps - 1.5, 0.0) * dt + window  # agents free by then count at all
    g_t = _below(hc, hp, H_RING, ring_ok, ring_bw, t_out)
    pi_max = 0.0
    for k in range(k_n):
        pi_max = max(pi_max, pis[k])
    at_zero = 0.0  # live answers waiting less idle agents: alike in every sample
    for j in range(a_lo, a_hi):
        if agent_elapsed_s[j] < 0.0:
            at_zero -= 1.0
    idle = -at_zero
    pre_bw = window / PRE_BINS if window > 0.0 else 1.0
    n_early = 0  # answers whose deadline falls inside the connect window
    wc_hi = -1  # the latest bin of those still to come
    pre = pre_buf  # agents free inside it, [bin, sample]; zeroed once needed
    wc = wc_buf  # deadlines of the answers still to come, [bin, sample]
    n_wait = 0
    for i in range(c_lo, c_hi):
        if call_elapsed_s[i] < 0.0:
            n_wait += 1
    # the waiting answers' seconds waited (age) and their deadlines' bins (w_bin)
    if n_wait > 0:
        _zero_bins(pre, wc, k_n)
    live = 0.0
    n_hand = 0
    q = 0
    for i in range(c_lo, c_hi):
        v = call_elapsed_s[i]
        if v < 0.0:
            at_zero += 1.0
            live += 1.0
            n_early += 1
            waited = -v - 1.0
            age[q] = waited
            left = max(window - waited, 0.0)
            t0_ms = _start_ms(now_s, waited)
            for k in range(k_n):
                dl = left
                if hangup_rate > 0.0:
                    dl = min(dl, -math.log1p(-_keyed_uniform(salt, call_key[i], 5, t0_ms, k))
                             / hangup_rate)
                w_bin[q, k] = min(int(dl / pre_bw), PRE_BINS - 1)
            q += 1
    for k in range(k_n):
        d[0, k] = at_zero
        certain[k] = 0.0
    for s in range(1, n_steps):
        for k in range(k_n):
            d[s, k] = 0.0
    # calls ringing: a live answer (at the sample's hit rate) and its time
    for i in range(c_lo, c_hi):
        r = call_elapsed_s[i]
        if r < 0.0 or r >= t_out or pi_hat <= 0.0 or ring_total <= 0.0:
            continue
        g_r = _below(hc, hp, H_RING, ring_ok, ring_bw, r)
        alive = _alive(hc, hp, hint[H_END, 0], hpar[H_END, 0], hpar[H_END, 1], ring_total,
                       g_r, g_t, pi_hat, r)
        if alive <= 0.0:
            continue
        # P(live answer by x | ringing at r) = pi_k (G(r + x) - G(r)) / alive
        c_q = (g_t - g_r) / alive
        live += min(pi_hat * c_q, 1.0)
        q_max = min(c_q * pi_max, 1.0)
        t0_ms = _start_ms(now_s, r)
        h, bits, mask = _strata(salt, call_key[i], 1, t0_ms, k_n)
        n_q = 0  # q_tab[s] = G(r + s dt) - G(r), filled as far as a draw needs it
        for m in range(k_n):
            u = (m + h) / k_n
            if u >= q_max:
                break
            k = _sample_of(m, bits, mask, k_n)
            if u >= min(c_q * pis[k], 1.0):
                continue
            # the answer's step: the first s >= 1 with G(r + s dt) - G(r) > the drawn weight
            v = u * alive / pis[k]
            s = 1
            while s < n_steps - 1:
                if s >= n_q:
                    q_tab[s] = _below(hc, hp, H_RING, ring_ok, ring_bw,
                                      min(r + s * dt, t_out)) - g_r
                    n_q = s + 1
                if q_tab[s] > v:
                    break
                s += 1
            if n_sh > 1:  # the caller's patience brings the deadline forward
                u2 = _keyed_uniform(salt, call_key[i], 2, t0_ms, m)
                j = 0
                while j < n_sh - 1 and sh_cdf[j] <= u2:
                    j += 1
                if s - j <= 0:  # the deadline falls inside the connect window
                    if n_early == 0:
                        _zero_bins(pre, wc, k_n)
                    dl = max(window - (j - s + 0.5) * dt, 0.0)
                    b_dl = min(int(dl / pre_bw), PRE_BINS - 1)
                    wc[b_dl, k] += 1.0
                    wc_hi = max(wc_hi, b_dl)
                    n_early += 1
                    d[0, k] += 1.0
                    continue
                s -= j
            d[s, k] += 1.0
            if short:  # the answer's agent may be free again within the look-ahead
                e = s + _back_steps(back, n_steps,
                                    _keyed_uniform(salt, call_key[i], 6, t0_ms, m))
                if e < n_steps:
                    hand[n_hand, 0] = s
                    hand[n_hand, 1] = e
                    hand[n_hand, 2] = k
                    n_hand += 1
    # busy agents: the end of handling, conditioned on the time already spent (e); their
    # ends inside the connect window binned too when some deadline falls there
    pre_on = n_early > 0
    _agent_ends(d, agent_elapsed_s, agent_key, agent_phase, a_lo, a_hi, hc, hp, hpar, hint,
                x_last, window, dt, n_steps, now_s, salt, k_n, pre, pre_bw, pre_on)
    if n_early > 0:
        if n_wait > 0:
            order = np.argsort(-age[:n_wait], kind="mergesort")  # the oldest first
        for k in range(k_n):
            # waiting answers, first come first served: each agent, as it frees, goes to
            # the oldest answer still waiting; one whose deadline passed first is dropped
            u_k = 0.0
            used = 0.0
            if n_wait > 0:
                avail = idle
                head = 0
                for b in range(PRE_BINS):
                    avail += pre[b, k]
                    while head < n_wait and avail > 0.5:
                        if w_bin[order[head], k] >= b:
                            avail -= 1.0
                            used += 1.0
                        else:
                            u_k += 1.0
                        head += 1
                u_k += n_wait - head
            # answers still to come, earliest deadline first, against the agents the
            # waiting ones left (they took the earliest); past the latest of their deadlines
            # (wc_hi) the agents only add up, the excess only falls: the bins stop there
            w_acc = 0.0
            a_acc = idle
            worst = 0.0
            for b in range(wc_hi + 1):
                w_acc += wc[b, k]
                a_acc += pre[b, k]
                worst = max(worst, w_acc - max(a_acc - used, 0.0))
            u_k += worst
            certain[k] = u_k
            d[0, k] -= u_k
    # cumulative sums over the steps, their maximum and its last step, in one pass over the
    # grid; the samples side by side (d is [step, sample]), so the pass runs across them
    k = 0
    while k + 1 < k_n:  # two samples at a time: two independent chains of additions
        a0 = d[0, k]
        a1 = d[0, k + 1]
        t0 = a0
        t1 = a1
        l0 = 0
        l1 = 0
        for s in range(1, n_steps):
            a0 = a0 + d[s, k]
            a1 = a1 + d[s, k + 1]
            d[s, k] = a0
            d[s, k + 1] = a1
            if a0 >= t0:
                t0 = a0
                l0 = s
            if a1 >= t1:
                t1 = a1
                l1 = s
        top[k] = t0
        last[k] = l0
        top[k + 1] = t1
        last[k + 1] = l1
        k += 2
    if k < k_n:
        acc = d[0, k]
        t_k = acc
        l_k = 0
        for s in range(1, n_steps):
            acc = acc + d[s, k]
            d[s, k] = acc
            if acc >= t_k:
                t_k = acc
                l_k = s
        top[k] = t_k
        last[k] = l_k
    # the answers served hand their agent back, in the order they are answered (one handed
    # back may serve a later answer, never an earlier one), then each changed sample's
    # maximum again
    changed = False
    if n_hand > 0:
        by_step = np.argsort(hand[:n_hand, 0], kind="mergesort")
        for h_o in range(n_hand):
            h_i = by_step[h_o]
            s_h = hand[h_i, 0]
            e_h = hand[h_i, 1]
            k = hand[h_i, 2]
            most = 0.0
            for t in range(s_h):
                most = max(most, d[t, k])
            if _served(d[s_h, k], most):
                changed = True
                last[k] = -1  # its maximum read again below
                for t in range(e_h, n_steps):
                    d[t, k] -= 1.0
    if changed:
        for k in range(k_n):
            if last[k] == -1:
                t_k = d[0, k]
                l_k = 0
                for t in range(1, n_steps):
                    if d[t, k] >= t_k:
                        t_k = d[t, k]
                        l_k = t
                top[k] = t_k
                last[k] = l_k
    return live


@_njit
def _alive(hc, hp, end_ok, end_bw, end_total, ring_total, g_r, g_t, pi_hat, r):
    """P(a dial still rings at r) x ring_total: from the ring-end histogram (every dial's
    end, any outcome: busy and invalid numbers end early, machines answer) when it has
    weight, else 1 - pi G(r); never under the live answers still to come."""
    live_left = pi_hat * (g_t - g_r)
    if end_total > 0.0:
        a = (end_total - _below(hc, hp, H_END, end_ok, end_bw, r)) / end_total
        a *= ring_total
    else:
        a = ring_total - pi_hat * g_r
    return max(a, live_left)


@_njit
def _life(counts, row, total, bw):
    """Where the row's weight ends (seconds): the top of the bin past which less than
    LIFE_TAIL of it lies."""
    acc = 0.0
    for k in range(counts.shape[1] - 1, -1, -1):
        acc += counts[row, k]
        if acc > LIFE_TAIL * total:
            return (k + 1) * bw
    return 0.0


@numba.njit(cache=True)
def _dial_life(ring_counts, ring_totals, ring_bw, ring_timeout_s, rows, out):
    """A dial's modelled life (seconds) for each campaign row in rows, into out: the ring
    timeout, or longer when live answers come later (set-up and answering-machine detection
    delay the answer the dialler sees). Changes only when the row's ring histogram does."""
    for i in range(rows.shape[0]):
        c = rows[i]
        out[c] = max(ring_timeout_s[c], _life(ring_counts, c, ring_totals[c], ring_bw))


def dial_life(ring_counts, ring_totals, ring_bw, ring_timeout_s, rows, out) -> None:
    """``_dial_life`` with its arguments checked first: ``ring_counts`` float64[C, B] and
    ``ring_totals`` float64[C] (a ring time-to-answer histogram), ``ring_bw`` its bin width
    (seconds > 0), ``ring_timeout_s`` float64[C] (seconds > 0), ``rows`` campaign rows in
    [0, C), ``out`` a writable float64[C] (seconds). ValueError naming the argument."""
    counts = as_array("ring_counts", ring_counts)
    if counts.ndim != 2 or counts.dtype != np.float64 or not np.isfinite(counts).all():
        raise ValueError(f"ring_counts: expected a finite float64[C, bins] array, got "
                         f"{counts.dtype} {counts.shape}")
    c_n = counts.shape[0]
    totals = float_rows("ring_totals", ring_totals, c_n, lo=0.0)
    bw = real_number("ring_bw", ring_bw, 0.0, lo_open=True)
    timeout = float_rows("ring_timeout_s", ring_timeout_s, c_n, lo=0.0, lo_open=True)
    r = int_rows("rows", rows, None, lo=0, hi=c_n - 1)
    if not (isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == (c_n,)
            and out.flags.writeable):
        raise ValueError(f"out: expected a writable float64[{c_n}] array")
    _dial_life(np.ascontiguousarray(counts), totals, bw, timeout, r, out)


@numba.njit(cache=True)
def _fold_dial_ends(rows, ring_s, live, end_counts, end_totals, end_weights, end_bw, end_decay,
                   ring_counts, ring_totals, ring_weights, ring_bw, ring_decay,
                   ring_timeout_s, life_s):
    """Dials that stopped ringing after ``ring_s`` seconds (``live[i] == 1``: a live answer)
    into the ring-end histogram (every dial) and the ring time-to-answer one (live answers),
    in order, and the modelled life (``_dial_life``) of the campaigns whose live answers
    moved. The histograms as ``pacer.histogram._hist_add`` keeps them."""
    one = np.empty(1, dtype=np.int64)
    val = np.empty(1)
    for i in range(rows.shape[0]):
        one[0] = rows[i]
        val[0] = ring_s[i]
        _hist_add(end_counts, end_totals, end_weights, end_bw, end_decay, one, val)
        if live[i] == 1:
            _hist_add(ring_counts, ring_totals, ring_weights, ring_bw, ring_decay, one, val)
            _dial_life(ring_counts, ring_totals, ring_bw, ring_timeout_s, one, life_s)


@_njit
def _shift_cdf(rate, window, dt, out):
    """Cumulative distribution of the steps a live answer's deadline comes forward by when
    the caller hangs up after P ~ Exp(rate) seconds of waiting (shift ``round((w - P) /
    dt)`` when P < w, else 0) into out[0 .. J - 1]; returns J (1 = no shift)."""
    if not rate > 0.0:
        out[0] = 1.0
        return 1
    n = min(math.floor(window / dt + 0.5) + 1, out.shape[0])
    for j in range(n):
        # shift <= j  <=>  P > w - (j + 1/2) dt
        x = window - (j + 0.5) * dt
        out[j] = math.exp(-rate * x) if x > 0.0 else 1.0
    out[n - 1] = 1.0
    return n


@_njit
def _marginal(top, last, pis, m_tab):
    """Mean over the samples of the abandons one more dial adds (Rao-Blackwellised over
    its own answer: ``pi_k m_tab[s*_k]`` where ``max D_k >= 0``, m_tab[s] the chance that
    its answer raises D at step s: answered by s and its agent not back by then,
    ``_cover``)."""
    k_n = pis.shape[0]
    acc = 0.0
    for k in range(k_n):
        if top[k] >= 0.0:
            acc += pis[k] * m_tab[last[k]]
    return acc / k_n


@_njit
def _back_steps(back, n_steps, u):
    """The steps after its answer at which a new answer's agent counts free again, for the
    uniform u: the first j with back[j] > u, or n_steps (not within the look-ahead)."""
    if not u < back[n_steps - 1]:
        return n_steps
    j = 1
    while back[j] <= u:
        j += 1
    return j


@_njit
def _draw_dial(d, top, last, lift, lh, pis, new_cdf, back, n_steps, state):
    """Draw one new dial's live answer and its (patience-shifted) step s in every sample,
    and, where some answers end within the look-ahead (``back[n_steps - 1] > 0``), the
    step e = s + j its agent counts free again (``_back_steps``); update D_k by +1 from s
    on, or only over [s, e) where the answer is served (``_served``). One that goes
    without an agent holds none to hand back, so it counts from s on as a long call does.

    D_k is kept as D_k(t) = d[t, k] + (lh[0..t, k] summed): a dial answered at or before
    the last maximum, held past the look-ahead, raises every step from s, so only lh[s, k]
    and lift[k] (lh's total) count it, and the maximum rises by one where it was (the last
    one stays the last). The others are written into d. D_k holds whole numbers (counts of
    answers and agents), so its sums are exact in any order: the same D_k as adding the
    dial at every step."""
    short = back[n_steps - 1] > 0.0
    for k in range(pis.shape[0]):
        u = _uniform(state)
        if u >= pis[k]:
            continue
        v = u / pis[k]
        s = 0
        while s < n_steps - 1 and new_cdf[s] <= v:
            s += 1
        e = n_steps
        if short:
            e = min(s + _back_steps(back, n_steps, _uniform(state)), n_steps)
        # acc: lh summed up to s - 1. Without short calls that is all of it (the last
        # maximum never moves back, so every lh step is at or before it, before s); with
        # them it is summed where read: a short call's served check, or the steps past
        # a last maximum that may have moved back
        acc = lift[k]
        if short and (e < n_steps or last[k] < s):
            acc = 0.0
            most = 0.0  # the most excess before s (0 at least)
            if lift[k] > 0.0 or e < n_steps:
                for t in range(s):
                    acc += lh[t, k]
                    most = max(most, d[t, k] + acc)
            if e < n_steps and not _served(d[s, k] + acc + lh[s, k] + 1.0, most):
                e = n_steps
        if last[k] >= s and e >= n_steps:
            lh[s, k] += 1.0
            lift[k] += 1.0
            top[k] += 1.0
            continue
        # +1 on [s, e): read D_k there and keep the last of its maxima; the steps past e do
        # not change
        m = top[k]
        at = last[k]
        for t in range(s, e):
            if short:
                acc += lh[t, k]
            y = d[t, k] + 1.0
            d[t, k] = y
            x = y + acc
            if x > m or (x == m and t > at):
                m = x
                at = t
        top[k] = m
        last[k] = at


@_njit
def _served(at_s, most):
    """Whether a live answer on step s gets an agent, first come first served: D at s with
    it (``at_s``) is no new excess over the most before s (``most``, >= 0): the answers
    left without an agent by then are max(0, max D) (Hall's theorem), and it is one of
    them when it raises that."""
    return at_s <= most


@_njit
def _scan(d, top, last, lift, lh, pis, new_cdf, m_tab, back, theta, max_new, n_steps, state,
          certain):
    """Add dials while the mean marginal abandons per marginal live answer <= theta.

    Returns (n, expected abandons at n = 0 (certain[k]: the sample's abandons no dial
    changes), abandons the n dials add on these samples, the
    stopping marginal over theta x pi_bar: > 1 when the price stopped the dials, 0 when
    ``max_new`` did). lift float64[>= K], lh float64[n_steps, K]: ``_draw_dial``'s."""
    k_n = pis.shape[0]
    base = 0.0
    pi_bar = 0.0
    for k in range(k_n):
        lift[k] = 0.0
        base += max(top[k], 0.0) + certain[k]
        pi_bar += pis[k]
    lh[:, :] = 0.0
    base /= k_n
    pi_bar /= k_n
    added = 0.0
    n = 0
    if pi_bar <= 0.0:
        return max_new, base, 0.0, 0.0
    while n < max_new:
        marginal = _marginal(top, last, pis, m_tab)
        if marginal > theta * pi_bar:
            price = theta * pi_bar  # 0 when theta underflows against pi_bar
            return n, base, added, marginal / price if price > 0.0 else np.inf
        added += marginal
        n += 1
        _draw_dial(d, top, last, lift, lh, pis, new_cdf, back, n_steps, state)
    return n, base, added, 0.0


@_njit
def _added(d, top, last, lift, lh, pis, new_cdf, m_tab, back, n, n_steps, state, curve):
    """Abandons n new dials add, on samples that did not choose n (lift, lh: ``_scan``'s).
    ``curve`` float64[P] (P >= 0): the abandons the first ``ceil((j + 1) n / P)`` of them
    add, into curve[j] (``launched_abandons`` reads it back)."""
    for k in range(pis.shape[0]):
        lift[k] = 0.0
    lh[:, :] = 0.0
    added = 0.0
    p = curve.shape[0]
    j = 0
    for i in range(n):
        added += _marginal(top, last, pis, m_tab)
        _draw_dial(d, top, last, lift, lh, pis, new_cdf, back, n_steps, state)
        while j < p and (j + 1) * n <= (i + 1) * p:
            curve[j] = added
            j += 1
    return added


@_njit
def _back_cdf(hc, hp, hpar, hint, split, window, dt, n_steps, back, g):
    """back[j], j = 0 .. n_steps - 1: the chance that a new live answer's agent counts free
    again j steps after the answer's step (an agent free at f counts at step t when f <=
    (t - 1/2) dt + window, the answer taken at its step's end): its handling H, drawn from
    the talk and wrap-up histograms (``split``: talk + wrap-up, wrap-ups at their bins'
    centres) or else the handling histogram, with H <= (j - 1/2) dt + window; j >= 1 (an
    answer holds its agent for a step at least). Short calls (answering machines put
    through to agents, customers who hang up at once) hand their agent back within the
    look-ahead. g: float64 scratch for the talk by grid offset (below; one of its own is
    allocated when g is too short). Returns back[n_steps - 1] (0 when no answer ends
    within it)."""
    i = H_TALK if split else H_HOLD
    total = hpar[i, 1]
    bw = hpar[i, 0]
    n_ok = hint[i, 0]
    back[0] = 0.0
    x_last = max(n_steps - 1.5, 0.0) * dt + window
    if not total > 0.0 or _below(hc, hp, i, n_ok, bw, x_last) <= 0.0:
        for j in range(1, n_steps):
            back[j] = 0.0
        return 0.0
    w_total = hpar[H_WRAP, 1] if split else 0.0
    w_bw = hpar[H_WRAP, 0]
    w_ok = hint[H_WRAP, 0]
    # wrap-up bins a whole number ri of steps wide (the pacer's 2 s on a 1 s grid): the
    # talk is read at x - (b + 1/2) w_bw = (m - 1/2 - ri/2) dt + window, m = j - ri b, so
    # once per m (table g from m_lo on), not once per (j, b)
    ri = int(w_bw / dt + 0.5)
    table = w_total > 0.0 and ri >= 1 and abs(ri * dt - w_bw) <= 1e-9 * w_bw
    m_lo = 1
    if table:
        b_hi = 0  # the wrap-up bins read at all: centres under x_last
        while b_hi < w_ok and (b_hi + 0.5) * w_bw < x_last:
            b_hi += 1
        m_lo = 1 - ri * max(b_hi - 1, 0)
        if g.shape[0] < n_steps - m_lo:
            g = np.empty(n_steps - m_lo)
        for m in range(m_lo, n_steps):
            g[m - m_lo] = _below(hc, hp, i, n_ok, bw, (m - 0.5 - 0.5 * ri) * dt + window)
    for j in range(1, n_steps):
        x = (j - 0.5) * dt + window
        if w_total > 0.0:
            acc = 0.0
            b = 0
            while b < w_ok and (b + 0.5) * w_bw < x:
                acc += hc[H_WRAP, b] * (g[j - ri * b - m_lo] if table else
                                        _below(hc, hp, i, n_ok, bw, x - (b + 0.5) * w_bw))
                b += 1
            back[j] = acc / (w_total * total)
        else:
            back[j] = _below(hc, hp, i, n_ok, bw, x) / total
    return back[n_steps - 1]


@_njit
def _cover(eff_cdf, back, n_steps, m_tab):
    """m_tab[t]: the chance that a new dial's live answer (answer step distribution
    eff_cdf) raises D at step t: answered at s <= t with its agent not back by t (``back``,
    ``_back_cdf``)."""
    for t in range(n_steps):
        acc = 0.0
        for s in range(t + 1):
            p = eff_cdf[s] - (eff_cdf[s - 1] if s > 0 else 0.0)
            acc += p * (1.0 - back[t - s])
        m_tab[t] = acc


def launched_abandons(curve: np.ndarray, n: int, k: int) -> float:
    """The abandons the first ``k`` of ``n`` dials add, from ``_added``'s ``curve`` (exact
    at its points, linear between them; 0 dials add none). The dials that go out when a
    port or carrier limit cuts a decision are its first ones, the cheapest: the marginal
    abandons rise with each dial added, so ``k / n`` of the forecast would over-count
    them."""
    p = curve.shape[0]
    if n <= 0 or k <= 0 or p == 0:
        return 0.0
    at = np.ceil(np.arange(1, p + 1) * n / p)
    return float(np.interp(min(k, n), np.concatenate(([0.0], at)),
                           np.concatenate(([0.0], curve))))


@_njit
def _lookahead_curve(agent_offsets, agent_elapsed_s, agent_key, agent_phase, call_offsets,
                     call_elapsed_s, call_key,
                     hold_counts, hold_totals, hold_bw, talk_counts, talk_totals, talk_bw,
                     wrap_counts, wrap_totals, wrap_bw, ring_counts, ring_totals, ring_bw,
                     end_counts, end_totals, end_bw, hit_mean, hit_sd, z, z_fine, life_s,
                     window_s, hangup_rate, theta, max_new, active,
                     dt, now_s, salt, state, dials, expected_abandons, added_abandons,
                     expected_live, slack, added_curve):
    """The batched decision (module docstring): for each campaign c with active[c] == 1,
    dials[c], the expected abandons of the calls in flight (expected_abandons[c]), those the
    new dials add (added_abandons[c]) and the expected live answers of calls in flight and
    new dials (expected_live[c]), and slack[c]: how far the next dial was from going in
    (its marginal abandons over the price; > 1, larger = further; 0 when the lines cap
    stopped the dials), which the caller may use to re-decide a campaign without news
    less often. Inactive rows get zeros.

    agent_elapsed_s: seconds into the agent's current phase, < 0 = idle; agent_phase: 0
    handling (talk or wrap-up, the caller does not tell them apart: seconds since the call
    connected, the handling-time histogram ``hold_*``), 1 talking (seconds since the call
    connected: the talk-time histogram ``talk_*``, then a wrap-up from ``wrap_*``), 2 in
    wrap-up (seconds since the wrap-up started: ``wrap_*``);
    call_elapsed_s: seconds ringing, or -1 - seconds waited for a live answer waiting for an
    agent. CSR offsets per campaign;
    life_s: a dial's modelled life per campaign, seconds (``_dial_life``);
    agent_key / call_key: int64 identities >= 0 of each agent and call (stable across
    decisions, distinct within one: the engine's row indices).
    z: float64[K], standard normal quantiles giving the K hit-rate samples
    ``clip(hit_mean + hit_sd z_k, 1e-6, 1)`` of the screening decision; z_fine: the same
    for the K' samples that decide once the screen would dial. window_s:
    connect window (or service-level threshold); hangup_rate: callers' hang-ups per second
    of waiting for an agent; theta: marginal abandons allowed per marginal live answer, per
    campaign.
    now_s: the clock (seconds) the elapsed times are measured from; salt: uint64 mixed into
    the keyed draws of agents and calls in flight (``_keyed_uniform``); state: uint64[1]
    stream for the new dials' draws (advanced). added_curve: float64[n_c, P], P >= 0: the
    abandons the first dials of campaign c add, at P points (``_added``; rows of campaigns
    that do not dial are left as they were).
    """
    n_c = hit_mean.shape[0]
    k_n = max(z.shape[0], z_fine.shape[0])
    max_steps = 2
    for c in range(n_c):
        dials[c] = 0
        expected_abandons[c] = 0.0
        added_abandons[c] = 0.0
        expected_live[c] = 0.0
        slack[c] = 0.0
        if active[c] == 1:
            max_steps = max(max_steps, min(math.ceil(life_s[c] / dt - 1e-9) + 1, MAX_STEPS))
    d_buf = np.empty(k_n * max_steps)  # D_k(s) as [step, sample], per stage
    top = np.empty(k_n)
    last = np.empty(k_n, dtype=np.int64)
    certain = np.empty(k_n)
    lift = np.empty(k_n)  # _draw_dial's
    max_wait = 0  # the most live answers waiting in one campaign decided
    max_calls = 0  # ... and calls in flight
    for c in range(n_c):
        if active[c] == 1:
            max_calls = max(max_calls, call_offsets[c + 1] - call_offsets[c])
            n_w = 0
            for i in range(call_offsets[c], call_offsets[c + 1]):
                if call_elapsed_s[i] < 0.0:
                    n_w += 1
            max_wait = max(max_wait, n_w)
    age = np.empty(max_wait)
    w_bin = np.empty((max_wait, k_n), dtype=np.int64)
    pis = np.empty(k_n)
    new_cdf = np.empty(max_steps)
    eff_cdf = np.empty(max_steps)
    back = np.empty(max_steps)  # _back_cdf's, and its scratch
    g_buf = np.empty(4 * max_steps)
    cover = np.empty(max_steps)  # _cover's
    lh_buf = np.empty(max_steps * k_n)  # _draw_dial's
    hand = np.empty((max_calls * k_n, 3), dtype=np.int64)  # _sample_state's
    q_tab = np.empty(max_steps)
    sh_cdf = np.empty(MAX_SHIFT + 1)
    n_b = max(hold_counts.shape[1], talk_counts.shape[1], wrap_counts.shape[1],
              ring_counts.shape[1], end_counts.shape[1])
    hc = np.empty((5, n_b))  # the campaign's histogram rows, stacked (``_prefixes``)
    hp = np.empty((5, n_b + 1))
    hpar = np.empty((5, 3))
    hint = np.empty((5, 2), dtype=np.int64)
    hint[H_HOLD, 1] = hold_counts.shape[1]
    hint[H_TALK, 1] = talk_counts.shape[1]
    hint[H_WRAP, 1] = wrap_counts.shape[1]
    hint[H_RING, 1] = ring_counts.shape[1]
    hint[H_END, 1] = end_counts.shape[1]
    hpar[H_HOLD, 0] = hold_bw
    hpar[H_TALK, 0] = talk_bw
    hpar[H_WRAP, 0] = wrap_bw
    hpar[H_RING, 0] = ring_bw
    hpar[H_END, 0] = end_bw
    own = np.empty(1, dtype=np.uint64)  # the later stages' streams of new-dial draws
    pre_buf = np.empty((PRE_BINS, k_n))  # _sample_state's scratch
    wc_buf = np.empty((PRE_BINS, k_n))
    for c in range(n_c):
        if active[c] != 1:
            continue
        t_out = life_s[c]
        n_steps = min(math.ceil(t_out / dt - 1e-9) + 1, MAX_STEPS)
        t_out = min(t_out, (n_steps - 1) * dt)
        w = window_s[c]
        pi_hat = hit_mean[c]
        a_lo = agent_offsets[c]
        a_hi = agent_offsets[c + 1]
        e_max = 0.0  # the longest elapsed time of each phase's agents
        e_talk = 0.0
        e_wrap = 0.0
        split = False  # the caller reports wrap-up apart (its agents talk or wrap up)
        for j in range(a_lo, a_hi):
            if agent_phase[j] != 0:
                split = True
            if agent_phase[j] == 1:
                e_talk = max(e_talk, agent_elapsed_s[j])
            elif agent_phase[j] == 2:
                e_wrap = max(e_wrap, agent_elapsed_s[j])
            else:
                e_max = max(e_max, agent_elapsed_s[j])
        x_last = max(n_steps - 1.5, 0.0) * dt + w
        hold_ok = _needed(hold_counts.shape[1], hold_bw, e_max + x_last)
        talk_ok = _needed(talk_counts.shape[1], talk_bw, e_talk + x_last)
        wrap_ok = _needed(wrap_counts.shape[1], wrap_bw, e_wrap + x_last)
        ring_ok = _needed(ring_counts.shape[1], ring_bw, t_out)
        end_ok = _needed(end_counts.shape[1], end_bw, t_out)
        _prefixes(hold_counts, c, hold_ok, talk_counts, c, talk_ok, wrap_counts, c, wrap_ok,
                  ring_counts, c, ring_ok, end_counts, c if end_counts.shape[0] > c else 0,
                  end_ok, hc, hp)
        hint[H_HOLD, 0] = hold_ok
        hint[H_TALK, 0] = talk_ok
        hint[H_WRAP, 0] = wrap_ok
        hint[H_RING, 0] = ring_ok
        hint[H_END, 0] = end_ok
        hpar[H_HOLD, 1] = hold_totals[c]
        hpar[H_HOLD, 2] = _tail_mean(hold_counts, c, hc, hp, H_HOLD, hold_ok, hold_bw,
                                     hold_totals[c], e_max)
        hpar[H_TALK, 1] = talk_totals[c]
        hpar[H_TALK, 2] = _tail_mean(talk_counts, c, hc, hp, H_TALK, talk_ok, talk_bw,
                                     talk_totals[c], e_talk)
        hpar[H_WRAP, 1] = wrap_totals[c]
        hpar[H_WRAP, 2] = _tail_mean(wrap_counts, c, hc, hp, H_WRAP, wrap_ok, wrap_bw,
                                     wrap_totals[c], e_wrap)
        hpar[H_RING, 1] = ring_totals[c]
        hpar[H_RING, 2] = 1.0
        hpar[H_END, 1] = end_totals[c]
        hpar[H_END, 2] = 1.0
        g_t = _below(hc, hp, H_RING, ring_ok, ring_bw, t_out)
        new_cdf[0] = 0.0
        for s in range(1, n_steps):
            g = _below(hc, hp, H_RING, ring_ok, ring_bw, min(s * dt, t_out))
            new_cdf[s] = g / g_t if g_t > 0.0 else 1.0
        new_cdf[n_steps - 1] = 1.0
        # patience: a live answer that hangs up after P < w seconds of waiting needs its
        # agent (w - P) / dt steps earlier; the shift's distribution, P ~ Exp(rate)
        n_sh = _shift_cdf(hangup_rate[c], w, dt, sh_cdf)
        for s in range(n_steps):  # a new dial's shifted answer step: P(step - shift <= s)
            acc = 0.0
            for j in range(n_sh):
                acc += (sh_cdf[j] - (sh_cdf[j - 1] if j > 0 else 0.0)) \
                    * new_cdf[min(s + j, n_steps - 1)]
            eff_cdf[s] = acc
        eff_cdf[n_steps - 1] = 1.0
        if hold_totals[c] <= 0.0 < talk_totals[c]:
            split = True
        m_tab = eff_cdf  # a new dial raises D from its answer's step on ...
        if _back_cdf(hc, hp, hpar, hint, split, w, dt, n_steps, back, g_buf) > 0.0:
            _cover(eff_cdf, back, n_steps, cover)  # ... unless its agent is back before
            m_tab = cover
        live0 = 0.0
        n = 0
        base = 0.0
        stop = 0.0
        s0 = state[0]
        # screen on K samples; when it would dial, decide on K' fresh ones (a dial whose
        # abandon risk is a few per cent looks free on K = 32 samples often enough for the
        # pacer to dial on that luck tick after tick); forecast on K more (the samples that
        # chose n are biased towards it looking cheap: 3-4x low at the margin; a forecast
        # only has to be unbiased, its noise averages out over the dials)
        for stage in range(3):
            zs = z_fine if stage == 1 else z
            k_s = zs.shape[0]
            if stage == 1 and (n == 0 or k_s == 0):
                break
            if stage == 2 and n == 0:
                break
            pis_s = pis[:k_s]  # this stage's samples
            top_s = top[:k_s]
            last_s = last[:k_s]
            certain_s = certain[:k_s]
            for k in range(k_s):
                pis_s[k] = min(max(pi_hat + hit_sd[c] * zs[k], 1e-6), 1.0)
            d = d_buf[:n_steps * k_s].reshape((n_steps, k_s))
            lh = lh_buf[:n_steps * k_s].reshape((n_steps, k_s))
            key = salt if stage == 0 else (salt ^ FINE_SALT if stage == 1 else
                                           salt ^ CHECK_SALT)
            lv = _sample_state(agent_elapsed_s, agent_key, agent_phase, a_lo, a_hi,
                               call_elapsed_s, call_key, call_offsets[c], call_offsets[c + 1],
                               hc, hp, hpar, hint, pi_hat,
                               pis_s, t_out, dt, w, n_steps, now_s, key, d, top_s, last_s,
                               q_tab, sh_cdf, n_sh, hangup_rate[c], certain_s, age, w_bin,
                               pre_buf, wc_buf, back, hand)
            if stage == 0:
                live0 = lv
                n, base, added, stop = _scan(d, top_s, last_s, lift, lh, pis_s, eff_cdf, m_tab,
                                             back, theta[c], max_new[c], n_steps, state,
                                             certain_s)
                continue
            # the new dials' draws of the later stages: streams of their own, so that they
            # do not depend on what the screen drew
            own[0] = s0 ^ (FINE_SALT if stage == 1 else CHECK_SALT)
            if own[0] == 0:
                own[0] = 1
            if stage == 1:
                n, base, added, stop = _scan(d, top_s, last_s, lift, lh, pis_s, eff_cdf, m_tab,
                                             back, theta[c], max_new[c], n_steps, own,
                                             certain_s)
            else:
                added = _added(d, top_s, last_s, lift, lh, pis_s, eff_cdf, m_tab, back, n,
                               n_steps, own, added_curve[c])
        if n == 0:
            added = 0.0
        dials[c] = n
        expected_abandons[c] = base
        added_abandons[c] = added
        expected_live[c] = live0 + n * pi_hat
        slack[c] = stop

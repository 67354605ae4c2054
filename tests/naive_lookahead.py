"""Plain Python/NumPy reference of ``pacer.lookahead._lookahead_curve``'s decision (test oracle).

Written for clarity: whole-row cumulative sums, one function per quantity, Python loops
over samples. It draws the same xorshift64* stream in the same order as the kernel, so
both give the same dials.
"""

from __future__ import annotations

import math

import numpy as np

from pacer.constants import HIST_SUPPORT_EPS
from pacer.lookahead import CHECK_SALT as _CHECK
from pacer.lookahead import FINE_SALT as _FINE
from pacer.lookahead import LIFE_TAIL, MAX_STEPS, PRE_BINS

CHECK_SALT = int(_CHECK)
FINE_SALT = int(_FINE)

_MASK = (1 << 64) - 1


def keyed_bits(salt: int, key: int, kind: int, start_ms: int, k: int) -> int:
    """As ``pacer.lookahead._keyed_bits``: splitmix64 of the mixed key."""
    m = _MASK
    x = salt ^ ((key * 0x9E3779B97F4A7C15) & m)
    x ^= (kind * 0xD1B54A32D192ED03) & m
    x ^= (start_ms * 0xC2B2AE3D27D4EB4F) & m
    x = (x + k * 0x165667B19E3779F9) & m
    x = (x + 0x9E3779B97F4A7C15) & m
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & m
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & m
    return x ^ (x >> 31)


def keyed_uniform(salt: int, key: int, kind: int, start_ms: int, k: int) -> float:
    return float(keyed_bits(salt, key, kind, start_ms, k) >> 11) * (1.0 / 9007199254740992.0)


def start_ms(now_s: float, elapsed_s: float) -> int:
    x = (now_s - elapsed_s) * 1000.0
    return round(x) if 0.0 <= x < 9.0e18 else 0


class Stream:
    """xorshift64* uniforms in [0, 1), as ``pacer.lookahead._uniform``."""

    def __init__(self, state: int):
        self.x = int(state) & _MASK

    def uniform(self) -> float:
        x = self.x
        x ^= x >> 12
        x ^= (x << 25) & _MASK
        x ^= x >> 27
        self.x = x
        return float(((x * 2685821657736338717) & _MASK) >> 11) * (1.0 / 9007199254740992.0)


def below(row: np.ndarray, bw: float, x: float) -> float:
    """Weight of a histogram row below x seconds, uniform within each bin."""
    u = x / bw
    if not u > 0.0:
        return 0.0
    if u >= row.size:
        return float(row.sum())
    k = int(u)
    return float(np.sum(row[:k])) + row[k] * (u - k) if k else row[0] * u


def life(row: np.ndarray, bw: float) -> float:
    total = row.sum()
    acc = 0.0
    for k in range(row.size - 1, -1, -1):
        acc += row[k]
        if acc > LIFE_TAIL * total:
            return (k + 1) * bw
    return 0.0


def agent_cdf(row, bw, mean_s, e, x):
    total = row.sum()
    s_e = total - below(row, bw, e)
    if s_e <= HIST_SUPPORT_EPS * total:
        return -math.expm1(-x / mean_s)
    p = (s_e - (total - below(row, bw, e + x))) / s_e
    return min(max(p, 0.0), 1.0)


def shift_cdf(rate: float, window_s: float, dt: float) -> list[float]:
    """P(shift <= j), j = 0..J - 1: a caller hanging up after P ~ Exp(rate) seconds of
    waiting brings the deadline forward by round((w - P) / dt) steps when P < w."""
    if not rate > 0:
        return [1.0]
    n = math.floor(window_s / dt + 0.5) + 1
    out = [math.exp(-rate * (window_s - (j + 0.5) * dt)) if window_s - (j + 0.5) * dt > 0
           else 1.0 for j in range(n)]
    out[-1] = 1.0
    return out


def row_mean(row: np.ndarray, bw: float) -> float:
    return float(np.sum(row * (np.arange(row.size) + 0.5) * bw)) / row.sum()


def decide_one(agents, agent_keys, calls, call_keys, hold_row, hold_bw, ring_row, ring_bw,
               end_row, end_bw, pi_hat, pi_sd, z, z_fine, timeout_s, window_s, hangup_rate,
               theta, max_new, dt, now_s, salt, rng: Stream, phases=None, talk_row=None,
               talk_bw=10.0, wrap_row=None, wrap_bw=2.0):
    """(dials, expected abandons of the calls in flight, abandons added, expected live,
    slack). ``phases``: per agent 0 (handling since connect: ``hold_row``), 1 (talking
    since connect: ``talk_row``, then a wrap-up from ``wrap_row``), 2 (in wrap-up since it
    started: ``wrap_row``); None = all 0."""
    phases = [0] * len(agents) if phases is None else list(phases)
    talk_row = hold_row if talk_row is None else talk_row
    wrap_row = np.ones(1) if wrap_row is None else wrap_row
    t_out = max(timeout_s, life(ring_row, ring_bw))
    n_steps = min(math.ceil(t_out / dt - 1e-9) + 1, MAX_STEPS)
    t_out = min(t_out, (n_steps - 1) * dt)
    ring_total = ring_row.sum()
    end_total = end_row.sum()
    g = lambda x: below(ring_row, ring_bw, x)  # noqa: E731
    g_t = g(t_out)
    new_cdf = [0.0] + [g(min(s * dt, t_out)) / g_t if g_t > 0 else 1.0
                       for s in range(1, n_steps)]
    new_cdf[n_steps - 1] = 1.0
    sh = shift_cdf(hangup_rate, window_s, dt)
    sh_pmf = [sh[0]] + [sh[j] - sh[j - 1] for j in range(1, len(sh))]
    eff_cdf = [sum(p * new_cdf[min(s + j, n_steps - 1)] for j, p in enumerate(sh_pmf))
               for s in range(n_steps)]
    eff_cdf[n_steps - 1] = 1.0
    x_last = max(n_steps - 1.5, 0.0) * dt + window_s

    # a new answer's agent free again j steps after its answer's step: its handling (talk
    # + wrap-up where the caller reports them apart, else the handling row) H <= (j - 1/2)
    # dt + w, j >= 1
    split = any(ph != 0 for ph in phases) or hold_row.sum() <= 0 < talk_row.sum()
    h_row, h_bw = (talk_row, talk_bw) if split else (hold_row, hold_bw)
    back = [0.0] * n_steps
    if h_row.sum() > 0 and below(h_row, h_bw, x_last) > 0:
        for j in range(1, n_steps):
            x = (j - 0.5) * dt + window_s
            if split and wrap_row.sum() > 0:
                acc = 0.0
                for b in range(wrap_row.size):
                    if (b + 0.5) * wrap_bw >= x:
                        break
                    acc += wrap_row[b] * below(h_row, h_bw, x - (b + 0.5) * wrap_bw)
                back[j] = acc / (wrap_row.sum() * h_row.sum())
            else:
                back[j] = below(h_row, h_bw, x) / h_row.sum()
    short = back[-1] > 0

    def back_steps(u):
        return next(j for j in range(1, n_steps) if back[j] > u) if u < back[-1] else n_steps

    # the chance a new dial raises D at step t: answered by t, its agent not back by then
    m_tab = list(eff_cdf)
    if short:
        pmf = [eff_cdf[0]] + [eff_cdf[s] - eff_cdf[s - 1] for s in range(1, n_steps)]
        m_tab = [sum(pmf[s] * (1.0 - back[t - s]) for s in range(t + 1))
                 for t in range(n_steps)]

    def served(row, s):
        """A live answer on step s (counted in row) gets an agent first come first served:
        no new excess over the most before s (the answers left without one by t are
        max(0, max of row up to t))."""
        return row[s] <= max(0.0, row[:s].max() if s > 0 else 0.0)

    def alive(r, g_r):
        if end_total > 0.0:
            a = (end_total - below(end_row, end_bw, r)) / end_total * ring_total
        else:
            a = ring_total - pi_hat * g_r
        return max(a, pi_hat * (g_t - g_r))

    def agent_step(x):  # first step whose availability max(s - 1/2, 0) dt + w is past x
        if x < window_s:
            return 0
        return min(math.floor((x - window_s) / dt + 0.5) + 1, n_steps - 1)

    def inverse(row, cum, bw, target, limit_s):
        """Seconds where the row's weight (uniform within a bin) reaches target, searched
        among the bins below limit_s."""
        n_ok = min(int(limit_s / bw) + 1, row.size) if limit_s > 0 else 0
        if not target < cum[n_ok]:
            return n_ok * bw
        b = int(np.searchsorted(cum[:n_ok + 1], target, side="right")) - 1
        return (b + (target - cum[b]) / row[b]) * bw

    def strata(salt, key, kind, t0_ms, k_n):
        """The entity's offset h and its permutation of the samples (stratum m -> k)."""
        h = keyed_uniform(salt, key, kind, t0_ms, 0)
        bits = keyed_bits(salt, key, kind, t0_ms, 1)
        x1, a1, c1, x2, a2, c2 = ((bits >> (10 * i)) & 0x3FF for i in range(6))
        size = 1 << max(k_n - 1, 0).bit_length()  # power of two >= K

        def perm(m):
            k = m
            while True:
                k = ((((k ^ x1) * (a1 | 1) + c1) % size) ^ x2) * (a2 | 1) + c2
                k %= size
                if k < k_n:
                    return k

        return h, [perm(m) for m in range(k_n)]

    wrap_cum = np.concatenate([[0.0], np.cumsum(wrap_row)])

    pre_bw = window_s / PRE_BINS if window_s > 0 else 1.0

    def pre_bin(x):  # bin of a time inside the connect window
        return min(int(x / pre_bw), PRE_BINS - 1)

    def agent_ends(inc, pre, key_salt, key, kind, e, row, bw, add_wrap, k_n):
        """The agent's K stratified ends (-1 at each one's step; those inside the connect
        window also counted in pre[k, bin]); with add_wrap, plus a wrap-up drawn with its own
        strata (kind + 3) paired by their permutation."""
        cum = np.concatenate([[0.0], np.cumsum(row)])
        mean = row_mean(row, bw)
        h, perm = strata(key_salt, key, kind, start_ms(now_s, e), k_n)
        h2, perm2 = strata(key_salt, key, kind + 3, start_ms(now_s, e), k_n)
        total = row.sum()
        s_e = total - below(row, bw, e)
        tail = s_e <= HIST_SUPPORT_EPS * total
        p_all = -math.expm1(-x_last / mean) if tail else agent_cdf(row, bw, mean, e, x_last)
        for m in range(k_n):
            u = (m + h) / k_n
            if u >= p_all:
                break
            if tail:
                x = -mean * math.log1p(-u)
            else:
                x = inverse(row, cum, bw, below(row, bw, e) + u * s_e, e + x_last) - e
            if add_wrap and wrap_row.sum() > 0:
                target = (perm2[m] + h2) / k_n * wrap_row.sum()
                if target >= below(wrap_row, wrap_bw, x_last - x):
                    continue
                x += inverse(wrap_row, wrap_cum, wrap_bw, target, x_last)
                if x > x_last:
                    continue
            inc[perm[m], agent_step(x)] -= 1
            if agent_step(x) == 0:
                pre[perm[m], pre_bin(x)] += 1

    def sample(key_salt, pis):
        """(D_k(s) of the calls in flight less the certain abandons, drawn with key_salt, one
        row per hit rate; the certain abandons per sample: answers whose deadline falls
        inside the connect window left without an agent: the waiting ones served first come
        first served, then those still to come by earliest-deadline matching)."""
        k_n = len(pis)
        inc = np.zeros((k_n, n_steps))
        pre = np.zeros((k_n, PRE_BINS))  # agents free inside the window, by bin
        early = np.zeros((k_n, PRE_BINS))  # deadlines of answers to come inside the window
        waiting = [[] for _ in range(k_n)]  # per sample: (seconds waited, deadline bin)
        hand = []  # answers that may hand their agent back: (step, its agent's, sample)
        idle = 0
        for e, key, ph in zip(agents, agent_keys, phases, strict=True):
            if e < 0:
                inc[:, 0] -= 1
                idle += 1
            elif ph == 0:
                agent_ends(inc, pre, key_salt, key, 0, e, hold_row, hold_bw, False, k_n)
            elif ph == 1:
                agent_ends(inc, pre, key_salt, key, 0, e, talk_row, talk_bw, True, k_n)
            else:
                agent_ends(inc, pre, key_salt, key, 4, e, wrap_row, wrap_bw, False, k_n)
        pi_max = max(pis)
        for r, key in zip(calls, call_keys, strict=True):
            if r < 0:  # waiting -1 - r seconds: its window's end, or its caller's patience
                inc[:, 0] += 1
                waited = -r - 1
                t0 = start_ms(now_s, waited)
                for k in range(k_n):
                    dl = max(window_s - waited, 0.0)
                    if hangup_rate > 0:
                        u = keyed_uniform(key_salt, key, 5, t0, k)
                        dl = min(dl, -math.log1p(-u) / hangup_rate)
                    waiting[k].append((waited, pre_bin(dl)))
                continue
            if r >= t_out or pi_hat <= 0 or ring_total <= 0:
                continue
            g_r = g(r)
            a = alive(r, g_r)
            if a <= 0:
                continue
            t0 = start_ms(now_s, r)
            h, perm = strata(key_salt, key, 1, t0, k_n)
            for m in range(k_n):
                u = (m + h) / k_n
                k = perm[m]
                if u < min((g_t - g_r) * pi_max / a, 1.0) and \
                        u < min((g_t - g_r) * pis[k] / a, 1.0):
                    v = u * a / pis[k]
                    s = next((s for s in range(1, n_steps - 1)
                              if g(min(r + s * dt, t_out)) - g_r > v), n_steps - 1)
                    if len(sh) > 1:
                        u2 = keyed_uniform(key_salt, key, 2, t0, m)
                        j = next(j for j in range(len(sh)) if sh[j] > u2 or j == len(sh) - 1)
                        if s - j <= 0:  # the deadline falls inside the connect window
                            early[k, pre_bin(max(window_s - (j - s + 0.5) * dt, 0.0))] += 1
                            inc[k, 0] += 1
                            continue
                        s -= j
                    inc[k, s] += 1
                    if short:  # its agent may be free again within the look-ahead
                        e = s + back_steps(keyed_uniform(key_salt, key, 6, t0, m))
                        if e < n_steps:
                            hand.append((s, e, k))
        certain = np.zeros(k_n)
        for k in range(k_n):
            queue = [b for _, b in sorted(waiting[k], key=lambda x: -x[0])]  # oldest first
            free = [0] * idle + [b for b in range(PRE_BINS) for _ in range(int(pre[k, b]))]
            used = 0
            for b in free:  # each agent, as it frees, to the oldest answer still waiting
                while queue and queue[0] < b:
                    queue.pop(0)  # its caller is gone (counted below)
                if not queue:
                    break
                queue.pop(0)
                used += 1
            dropped = len(waiting[k]) - used
            left = np.maximum(idle + np.cumsum(pre[k]) - used, 0)
            certain[k] = dropped + max((np.cumsum(early[k]) - left).max(), 0.0)
            inc[k, 0] -= certain[k]
        d = np.cumsum(inc, axis=1)
        for s, e, k in sorted(hand, key=lambda h: h[0]):  # in the order answered: served
            # (no new excess at s), the agent is back at e
            if served(d[k], s):
                d[k, e:] -= 1
        return d, certain

    def top_last(row):
        m = row.max()
        return m, int(np.flatnonzero(row == m)[-1])

    def marginal(d, pis):
        acc = 0.0
        for k in range(len(pis)):
            m, at = top_last(d[k])
            if m >= 0:
                acc += pis[k] * m_tab[at]
        return acc / len(pis)

    def draw_dial(d, pis, stream):
        for k in range(len(pis)):
            u = stream.uniform()
            if u < pis[k]:
                v = u / pis[k]
                s = next((s for s in range(n_steps - 1) if eff_cdf[s] > v), n_steps - 1)
                e = min(s + back_steps(stream.uniform()), n_steps) if short else n_steps
                d[k, s:] += 1
                if e < n_steps and served(d[k], s):  # its agent back at e
                    d[k, e:] -= 1

    def scan(d_certain, pis, stream):
        """(dials, base abandons, slack: the stopping marginal over the price, 0 at the
        cap)."""
        d, certain = d_certain
        base = float(np.mean([max(d[k].max(), 0.0) + certain[k] for k in range(len(pis))]))
        pi_bar = float(np.mean(pis))
        n = 0
        if pi_bar <= 0:
            return max_new, base, 0.0
        while n < max_new:
            m = marginal(d, pis)
            if m > theta * pi_bar:
                return n, base, float(m) / float(theta * pi_bar) if theta * pi_bar > 0 else math.inf
            n += 1
            draw_dial(d, pis, stream)
        return n, base, 0.0

    def hit_rates(zs):
        return [min(max(pi_hat + pi_sd * zk, 1e-6), 1.0) for zk in zs]

    # screen, then decide on fresh samples, then forecast on more
    s0 = rng.x
    n, base, slack = scan(sample(salt, hit_rates(z)), hit_rates(z), rng)
    if n > 0 and len(z_fine):
        pf = hit_rates(z_fine)
        n, base, slack = scan(sample(salt ^ FINE_SALT, pf), pf,
                              Stream((s0 ^ FINE_SALT) or 1))
    added = 0.0
    if n > 0:
        pf = hit_rates(z)
        d, _ = sample(salt ^ CHECK_SALT, pf)
        check = Stream((s0 ^ CHECK_SALT) or 1)
        for _ in range(n):
            added += marginal(d, pf)
            draw_dial(d, pf, check)
    live0 = 0.0
    for r in calls:
        if r < 0:
            live0 += 1
        elif r < t_out and ring_total > 0:
            g_r = g(r)
            a = alive(r, g_r)
            if a > 0:
                live0 += min(pi_hat * (g_t - g_r) / a, 1.0)
    return n, base, added, live0 + n * pi_hat, slack

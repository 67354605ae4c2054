"""Plain-Python oracles for the baseline, simple-mode and estimator kernels.

Slow and obvious on purpose: one campaign at a time, Python lists and ``decimal`` /
``fractions`` where exactness is the point. Each mirrors the documented semantics of its
``pacer`` module, not its code.
"""

from __future__ import annotations

import math
from collections import deque
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

# --------------------------------------------------------------------------- pacer.ratio


def php_round(x: float, places: int = 0) -> float:
    """PHP (<= 8.3) ``round``: 15 significant digits, then half away from zero (decimal)."""
    if not math.isfinite(x):
        return x
    if abs(x) * 10.0**places >= 1e15:
        return x
    d = Decimal(f"{x:.15g}")  # PHP's pre-rounding to 15 significant digits
    q = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)  # half away from 0
    return float(q)


def fixed_ratio(ratio, ready, in_call, in_flight):
    return [max(0, int(php_round(r * (a + b))) - f)
            for r, a, b, f in zip(ratio, ready, in_call, in_flight, strict=True)]


def progressive(ratio, idle, unconnected):
    return [max(0, int(php_round(r * i)) - u)
            for r, i, u in zip(ratio, idle, unconnected, strict=True)]


def preview(requests, dialling):
    return [max(0, q - d) for q, d in zip(requests, dialling, strict=True)]


# --------------------------------------------------------------------------- pacer.vicidial

HARD_LIMIT, TAPERED, AVERAGE = 5, 6, 7  # pacer.modes.Pacing.VICIDIAL_*


class NaiveVicidial:
    """One VICIdial adaptive campaign, exactly as VICIdial's AST_VDadapt.pl computes it."""

    def __init__(self, mode, intensity, dl_diff_target, max_level, dropped_percentage,
                 latest_hhmm, level=1.0):
        self.mode = mode
        self.intensity = intensity
        self.dl_diff_target = dl_diff_target
        self.max_level = max_level
        self.dropped_percentage = dropped_percentage
        self.latest_hhmm = latest_hhmm
        self.level = level
        self.samples: deque[tuple[int, int, int]] = deque(maxlen=15)

    def sample(self, ready, waiting, total):
        self.samples.append((ready, waiting, total))

    def recalculate(self, calls_minute, drops_minute, answered_today, drops_today, now_hhmm,
                    calls_today=None):
        calls_today = answered_today if calls_today is None else calls_today
        k = len(self.samples)
        if k:
            ready_avg = sum(s[0] for s in self.samples) / k
            waiting_avg = sum(s[1] for s in self.samples) / k
            total_avg = sum(s[2] for s in self.samples) / k
        else:
            ready_avg = waiting_avg = total_avg = 0.0
        t = ready_avg - waiting_avg + self.dl_diff_target
        a = t / total_avg if (t != 0 and total_avg != 0) else 0.0
        i = self.intensity / 100.0
        a = a * (1.0 + i) if a >= 0 else a * abs(i - 1.0)
        level = float("%.3f" % (self.level * (1.0 + a)))  # Perl sprintf: the binary value
        if level > self.max_level:
            level = self.max_level
        if level < 1.0:
            level = 1.0
        if calls_minute > 20 and Fraction(drops_minute, calls_minute) > Fraction(1, 2):
            level = level / 2.0
        if calls_today > 50 and answered_today > 0 and (Fraction(drops_today, answered_today) * 100
                                    > Fraction(self.dropped_percentage)):
            if self.mode == HARD_LIMIT:
                level = 1.0
            elif self.mode == AVERAGE:
                level = level / 2.0
            elif self.mode == TAPERED:
                left = self.latest_hhmm - now_hhmm
                if left < 0:
                    level = 1.0
                elif not left > 1000:
                    level = level * (left / 1000.0)
        self.level = 1.0 if level < 1.0 else level
        return self.level

    def launch(self, ready, in_call, in_flight):
        return max(0, int(php_round(self.level * (ready + in_call))) - in_flight)


# --------------------------------------------------------------------------- pacer.timed


class NaiveTimed:
    """One token bucket."""

    def __init__(self, rate, min_ports, max_ports):
        self.rate, self.min_ports, self.max_ports = rate, min_ports, max_ports
        self.credit = 0.0
        self.reserved = min_ports

    def launch(self, in_flight, dt):
        if self.rate <= 0:
            self.credit = 0.0
            n = 0
        else:
            c = min(self.credit + self.rate * dt, self.rate * dt + 1.0)
            n = min(math.floor(c), max(0, self.max_ports - in_flight))
            self.credit = c - n
        self.reserved = max(self.min_ports, in_flight + n)
        return n


# --------------------------------------------------------------------------- pacer.blending


class NaiveBlending:
    """One outbound campaign lending agents to its inbound skill."""

    def __init__(self, q_high, q_low, age_high, age_low, sl_low, sl_high, step, min_outbound,
                 max_released):
        self.p = (q_high, q_low, age_high, age_low, sl_low, sl_high, step, min_outbound,
                  max_released)
        self.released = 0

    def decide(self, queued, oldest, sl, assigned):
        q_high, q_low, age_high, age_low, sl_low, sl_high, step, min_out, max_rel = self.p
        take = queued > q_high or oldest > age_high or sl < sl_low
        give = queued <= q_low and oldest <= age_low and sl >= sl_high
        r = self.released + step if take else (self.released - step if give else
                                              self.released)
        self.released = max(0, min(r, max_rel, max(0, assigned - min_out)))
        return self.released


# --------------------------------------------------------------------------- pacer.hitrate


class NaiveHitRate:
    """One campaign's sliding window and smoothed hit rate."""

    def __init__(self, window, alpha, initial, prior_weight):
        self.window, self.alpha, self.initial, self.w0 = window, alpha, initial, prior_weight
        self.outcomes: deque[int] = deque(maxlen=window)
        self.smoothed = initial

    def record(self, live):
        x = 1 if live else 0
        self.outcomes.append(x)
        self.smoothed += self.alpha * (x - self.smoothed)

    def window_estimate(self):
        k = len(self.outcomes)
        w = self.w0 * (self.window - k) / self.window
        if k + w > 0:
            return (sum(self.outcomes) + w * self.initial) / (k + w)
        return self.initial


# --------------------------------------------------------------------------- pacer.abandon

CONNECTED, ABANDONED, MACHINE, AMD_FALSE_POSITIVE, MACHINE_CONNECTED = 0, 1, 2, 3, 4  # Outcome


def fcc_rate(abandons, live):
    return abandons / live if live > 0 else 0.0


def ofcom_rate(abandons, false_positives, live):
    """Ofcom's rate: (abandons + AMD false positives) / (live answers + false positives)."""
    den = live + false_positives
    return (abandons + false_positives) / den if den > 0 else 0.0


def vicidial_ofcom_rate(drops, agent_answered, machines):
    adj = drops * machines / (agent_answered + machines) if agent_answered + machines else 0.0
    d = drops - adj
    return d / (agent_answered + d) if agent_answered + d > 0 else 0.0


def window_buckets(window_s, bucket_s):
    return max(1, math.ceil(window_s / bucket_s - 1e-9))


def abandon_rates(events, now, fcc_window, ofcom_window, fcc_bucket_s, ofcom_bucket_s):
    """Rates of one campaign from its full event list ``[(t, outcome), ...]``.

    An event counts at ``now`` while ``0 <= bucket(now) - bucket(t) < K`` (pacer.abandon).
    Returns ``(fcc, ofcom, fp_rate, live_fcc, live_ofcom)``.
    """

    def in_window(t, bucket_s, window):
        d = math.floor(now / bucket_s) - math.floor(t / bucket_s)
        return 0 <= d < window_buckets(window, bucket_s)

    f = [o for t, o in events if in_window(t, fcc_bucket_s, fcc_window)]
    o = [o for t, o in events if in_window(t, ofcom_bucket_s, ofcom_window)]
    # a connect its agent found to be a machine is undone (no longer a live answer)
    live_f = sum(1 for x in f if x in (CONNECTED, ABANDONED)) - f.count(MACHINE_CONNECTED)
    ab_f = f.count(ABANDONED)
    live_o = sum(1 for x in o if x in (CONNECTED, ABANDONED)) - o.count(MACHINE_CONNECTED)
    fp = o.count(AMD_FALSE_POSITIVE)
    return (fcc_rate(ab_f, live_f), ofcom_rate(o.count(ABANDONED), fp, live_o),
            fcc_rate(fp, live_o + fp), live_f, live_o)

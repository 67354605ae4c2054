"""The pacer's front door: one ``Pacer.decide`` call per tick decides for every campaign.

Predictive campaigns are decided by the model in ``pacer.predictive``; a slow feedback trim
(``_refresh``) scales the model's abandon budget by the realised rate, and campaigns without
news since their last decision are re-decided after ``REDECIDE_S`` x their slack only.

``Pacer`` owns the per-campaign estimators (hit rate, ring time-to-answer and handling-time
histograms, windowed abandon accounting, VICIdial levels, timed credit, the feedback trim)
and dispatches each campaign to its pacing mode. The engine feeds it observations through
``observe_*`` (buffered, folded in once per decision) and reads back the number of new
attempts per campaign.

Speed: a decision for 200 campaigns must take microseconds, so the hot path calls the
``_``-kernels directly with arrays this class has already validated once, at construction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from statistics import NormalDist

import numpy as np
from scipy.special import gammaincinv

from pacer import gather as g
from pacer.abandon import AbandonParams, AbandonState, Outcome, _abandon_record
from pacer.cohorts import PendingDials
from pacer.constants import (
    DEFAULT_ABANDON_AIM,
    DEFAULT_ABANDON_LIMIT,
    DEFAULT_CONNECT_WINDOW_S,
    DEFAULT_INITIAL_HIT_RATE,
    DEFAULT_MAX_LINES_PER_AGENT,
    DEFAULT_PRIOR_WEIGHT,
    DEFAULT_RING_NO_ANSWER_S,
    FCC_WINDOW_S,
    MAX_RATIO,
    OFCOM_WINDOW_S,
    VICIDIAL_DROPPED_PERCENTAGE,
    VICIDIAL_LAUNCH_S,
    VICIDIAL_MAX_LEVEL,
    VICIDIAL_RECALC_S,
    VICIDIAL_SAMPLE_S,
    VICIDIAL_SAMPLES,
)
from pacer.histogram import StreamingHistogram, _hist_add
from pacer.hitrate import HitRateParams, HitRateState, _posterior_recent
from pacer.holdtime import HoldTime, _ended_phases_of, _expose_phases_of
from pacer.lookahead import _dial_life, _fold_dial_ends, _lookahead_curve, launched_abandons
from pacer.modes import Pacing, Regulation, Target
from pacer.predictive import _predictive_dials
from pacer.rates import human_drop_budget
from pacer.ratio import (
    _fixed_ratio_launch,
    _preview_launch,
    _progressive_launch,
    as_array,
    float_rows,
    int_rows,
    real_number,
)
from pacer.timed import TimedParams, TimedState, _timed_idle, _timed_launch
from pacer.vicidial import (
    VicidialParams,
    VicidialState,
    _vicidial_recalc,
    _vicidial_sample,
    clock_hhmm,
)

_ABANDONED = int(Outcome.ABANDONED)
_CONNECTED = int(Outcome.CONNECTED)
_MACHINE = int(Outcome.MACHINE)
_FALSE_POSITIVE = int(Outcome.AMD_FALSE_POSITIVE)
_MACHINE_CONNECTED = int(Outcome.MACHINE_CONNECTED)

# Estimator settings (see each module for the meaning).
# The hit rate is the share of live answers among the last HIT_SPAN_S of completed dials (as
# many as the dial rate of the last minutes makes in that span), at least HIT_WINDOW_MIN
# and at most HIT_WINDOW of them, and only those since the last change of rate the dials
# show. 200 let a 400-agent campaign mistake 0.24 for 0.29 and drop 15 % of a minute's live
# answers; 1000 are 22 minutes of a 50-agent team, whose rising hit rate they then
# under-estimated (a window lags a drift by half its span). A change: the newest outcomes'
# rate differs from the older ones' by a generalised likelihood ratio over
# HIT_CHANGE_LLR_UP nats where they are the higher (a rise, which a lagging estimate
# answers with abandons), over HIT_CHANGE_LLR_DOWN where the lower (a fall, which a
# lagging estimate answers with idle agents; a false one with a burst of dials), with at
# least HIT_CHANGE_MIN outcomes on each side (``pacer.hitrate._change_point``); the older
# are then dropped. On a Bernoulli stream at 0.3 read after every outcome, a 1000-outcome
# window was cut once in 100,000 outcomes (123 times with both thresholds at 6 nats), never
# when read every 20, and a step from 0.2 to 0.5 was found a median of 39 outcomes after it
# (tests/test_hitrate.py). 80 agents, Ofcom, hit rate 0.2 -> 0.5 -> 0.2 at 20 and 40
# minutes (bench/pacing_family.md, s21): the estimate read 0.42-0.67 30-180 s after the
# rise, most by 90 s (cohorts are counted once ended, ~25 s), where the 200-dial window
# read 0.20-0.34 two minutes after it; occupancy 91.42 -> 92.80 % over 4 x 10 x 1 h.
HIT_WINDOW = 1000
HIT_WINDOW_MIN = 200
HIT_SPAN_S = 600.0
HIT_RATE_MEMORY_S = 120.0  # memory of the dial rate that sizes the span
HIT_ALPHA = 0.01  # smoothing of the exponentially smoothed hit rate
HIT_PRIOR_DOUBT = 0.1  # chance that initial_hit_rate is no guide at all: the prior is a
# mixture of itself and a uniform rate, each part weighted by how likely it made the dials
# seen (pacer.hitrate), so a prior the dials contradict gives way at once instead of
# weighing its hit_prior_weight observations until the window fills. 50 agents from a cold
# start, 30 seeds, FCC % of the first minute's / six minutes' live answers (by answer
# time, bench/cold_start.py), plain -> doubted: true 0.8 against a prior of 0.25: 1.05 /
# 1.63 -> 0.40 / 1.41; 0.8 against 0.05: 1.31 / 1.68 -> 0.46 / 0.96; 0.35 against 0.05: 3.16 /
# 2.24 -> 2.15 / 1.84; 0.1 against 0.6: 0 / 1.53 -> 0 / 1.14 (occupancy +0.5 points); a
# right prior (0.35 against 0.25): 1.15 / 1.45 -> 1.15 / 1.70 (chance). 400 and 1000 agents
# fold hundreds of dials at once: no change. The pacing family (40 x 1 h) level.
HIT_CHANGE_MIN = 20
HIT_CHANGE_LLR_UP = 10.0
HIT_CHANGE_LLR_DOWN = 20.0
HIT_CHANGE_GRID = 1.25  # splits tried at this ratio of newest outcomes, then refined
HIT_FOLD_S = 1.0  # completed launch cohorts are folded into the hit rate this often
PRIOR_WEIGHT = 20.0  # cold-start prior worth, in observations (ring-time histograms)
# Until a campaign's hit rate rests on more dials than its prior is worth (dials counted
# once their whole launch cohort has ended, about a ring timeout after launch), the rate
# is mostly a guess: the look-ahead then dials no line beyond the idle agents (every live
# answer finds an agent, whatever the true rate). 400- and 1000-agent cold starts at a true
# 0.8 against the default prior 0.25 dropped 32 % of the first minute's live answers and
# 19-20 % of the first five minutes' without this (3 seeds); with it 0.0-0.2 % and 1.3-1.7 %
# of the first minute's and six minutes' (5 seeds; by answer time, bench/cold_start.py;
# ``Pacer._cold_rows``). Lifting the limit at the first cohort (a dozen dials behind a
# carrier's set-up rate) had still dropped 7.8 %.
# The handling time is a hazard estimate that counts calls in progress (pacer.holdtime): a
# histogram of ended calls had learnt a 102 s mean for 205 s calls one minute into a
# 400-agent cold start. Prior worth HOLD_PRIOR_WEIGHT calls; evidence fades over an hour.
HOLD_PRIOR_WEIGHT = 50.0
HOLD_MEMORY_S = 3600.0
HOLD_REFRESH_S = 20.0  # the hazard estimate is written into the histograms this often (its
# memory is an hour: a fresher copy moves no decision, and costs 0.3 ms for 200 campaigns)
# Patience: hang-ups per second of waiting, over the waits seen (fading like the handling
# evidence), with a prior worth PATIENCE_PRIOR_S waiting seconds at the campaign's
# ``patience_mean_s`` (infinite: no hang-up until callers show otherwise). At a 1000-agent
# cold start the first waits come a minute in: with a prior of no hang-ups the model took
# a minute of customers hanging up within the connect window for free.
PATIENCE_PRIOR_S = 20.0
HOLD_BIN_S, HOLD_MAX_S = 10.0, 3600.0  # handling-time (talk + wrap) and talk histograms
WRAP_BIN_S, WRAP_MAX_S = 2.0, 600.0  # wrap-up histogram (wrap-ups last tens of seconds;
# the last bin holds the rest)
RING_BIN_S, RING_MAX_S = 0.25, 120.0  # ring time-to-answer histogram
HOLD_DECAY = 0.999  # forgetting per observation (about the last 1000 calls matter)
# The price of an abandon. The look-ahead (pacer.lookahead) adds a dial while its marginal
# abandons per marginal live answer stay at or under theta. Two loops set theta, every
# REFRESH_S:
# - fast, on the model's own forecast (no lag): theta moves so the forecast rate of the
#   dials launched lately (expected abandons / expected live answers, memory
#   FORECAST_MEMORY_S) meets aim / bias. The marginal abandon of the last dial is above the
#   average one, so theta settles above the aim.
# - slow, on the realised rate: bias = (realised + BIAS_PRIOR) / (forecast + BIAS_PRIOR)
#   abandons over the campaign so far (the regulatory window in a run), so an
#   under-forecasting model is corrected without hiding it (``Pacer.model_bias``). It only
#   ever makes the pacer more careful (bias >= 1): fewer abandons than forecast early on
#   are as likely luck as a pessimistic model. Likewise an early excess of realised
#   abandons is paid back over WINDOW_PAYBACK_S, an early saving is not spent.
THETA_MIN = 1e-4
THETA_MAX = 0.5  # never accept a dial more likely abandoned than connected
THETA_GAIN = 0.2  # share of the log gap between target and forecast closed per refresh
THETA_STEP = 0.1  # largest fall of log theta per refresh (a factor e in 50 s) ...
THETA_STEP_UP = 0.03  # ... and largest rise: a price raised fast stores up a burst (a
# 400-agent cold start dropped 20 % of one minute's live answers after theta tripled in two)
FORECAST_MEMORY_S = 60.0  # ... at least; a campaign with few live answers a minute keeps
# its forecast longer: as long as it takes to expect one abandon at its budget (1 / (budget x
# live answers per second)), at most FORECAST_MEMORY_MAX_S. Over 60 s a 6-agent campaign's
# forecast rate swings with every decision, and theta, which falls faster than it rises,
# ratcheted down on the swings: such campaigns of the 60k busy hour spent half their budget.
FORECAST_MEMORY_MAX_S = 900.0
LIVE_RATE_MEMORY_S = 900.0  # memory of the live-answer rate that sizes the forecast memory
THETA_BOUND = 0.5  # theta may rise only when at least this share of the campaign's
# decisions since the last refresh stopped at the price (not at the lines cap, nor for want
# of anything to dial for): raising a price that does not bind would only store up a burst
THETA_COLD_ABANDONS = 0.5  # theta may rise once live answers x aim reach this, and one
# mean handling time after the first decision (before, the handling evidence is thin)
THETA_SPAN = 8.0  # theta stays under this many times the aim
BIAS_PRIOR = 3.0  # pseudo-abandons forecast in the bias's prior, and BIAS_INITIAL times as
# many realised. Measured closed-loop in the simulator, the model under-forecasts 1.3-3x
# (customers hanging up while waiting, answering-machine holds and set-up delays it does not
# model); in a world following its assumptions it is calibrated (7 realised vs 7.35). A
# prior of 2 was tried: it cost occupancy in short runs without making the 400-agent cold
# start safer, so the prior is neutral and the bias is learnt.
BIAS_INITIAL = 1.0
# ... and where the model over-forecasts, the bias it is divided by is the upper one-sided
# BIAS_CHANCE confidence bound of realised / forecast abandons (``Pacer._bias_guard``): a
# model 4x pessimistic (answering machines put through to agents with AMD off and no
# wrap-up: each frees its agent 8 s later, which the look-ahead did not see then; it does
# now, ``pacer.lookahead._back_cdf``) used half its budget (61 agents: 1.11 % against a
# best progressive ratio's 2.06 %).
BIAS_CHANCE = 0.05
LOOKAHEAD_SAMPLES = 16  # Monte-Carlo samples of the look-ahead's screen (pacer.lookahead)
LOOKAHEAD_FINE_SAMPLES = 64  # ... and of its decision once the screen would dial
LOOKAHEAD_DT_S = 1.0  # its time step, seconds
# Callers who hang up bring a live answer's deadline forward from the window's end by their
# patience, but a new dial's answer can be brought no earlier than the look-ahead's first
# step: with a window much longer than the callers' patience, the deadlines of most new
# dials were read as the window's end and the look-ahead dialled as if no one hung up (ref-50
# traffic, patience 6 s, 5 x 1 h: connect window 5 s 2.32 % abandoned, 10 s 2.72 %, 20 s
# 3.66 %, 60 s 27.2 %, 86,400 s 6.5 %). Where callers hang up, the look-ahead's window is at
# most their mean patience (never under PATIENT_WINDOW_MIN_S): a caller still waiting then
# is counted as hanging up at it, a little pessimistic where patience is long.
PATIENT_WINDOW_MIN_S = 2.0
IDLE_TICKS_CHUNK = 1 << 16  # skipped ticks replayed at a time (``idle_ticks``)
REFRESH_S = 5.0  # how often the slow loop (feedback trim) runs
# The forecast keeps the abandons the first dials of each decision add at this many points
# (pacer.lookahead.launched_abandons): when ports or the carrier cut a decision, the dials
# that go out are its first, the cheapest. Taken back in proportion, the forecast of a
# 60-agent campaign on 75 ports was 1.7x its realised abandons (open loop, 2 x 1 h; 0.8x
# on 360 ports), and the price loop held it at 1.73 % FCC for an aim of 2.4 % (10 x 1 h,
# 91.94 % occupancy); with the first dials' abandons 1.3x (32.8 forecast, 25 realised) and
# 92.12 % at 2.03 %.
CURVE_POINTS = 16
HORIZON_STEPS = 1  # look-aheads checked: horizon * k / HORIZON_STEPS (see _predictive_dials)
WINDOW_Z = 1.645  # an excess of abandons within this many standard deviations is chance
# (``chance_count``: with the skew and the whole counts of a Poisson's small means)
# The price has a floor (THETA_MIN), and so has the model: a marginal abandon under about
# one in the look-ahead's samples (K = 64) reads as none, so a dial beyond the idle agents
# passes even at the lowest price. The 50-agent reference held 0.9-1.1 % of live answers
# dropped whatever its limit under 1.5 % (FCC limit 0.5 %: 1.14 %, upper bound 1.61 %), and
# in Ofcom mode, where AMD false positives leave 0.51 % of the 3 % for humans, 1.14 % (3.59 %
# Ofcom). A campaign whose realised rate with the price at the floor is over its aim
# beyond chance (WINDOW_Z), as is its rate over the run, is paced so that no live answer is
# dropped (one line per idle agent, as where the budget is used up) until the rate at the
# floor is back at the aim (_hold_floor).
# The aim keeps this many standard deviations (Poisson) of a calling day's count under the
# limit: 1.645 would be 19 days in 20 if abandons were Poisson, but they come in bursts
# (see DEFAULT_ABANDON_AIM), so the margin is widened to 1.96. A 5-agent team at hit
# rate 0.12 (seeds 11-20, 1 h each): 1.87 % with an upper bound of 3.17 % -> 1.02 %
# (2.08 %) at 75.2 -> 75.0 % occupancy.
AIM_Z = 1.96
CALLING_DAY_S = 8 * 3600.0  # ... over the live answers of a calling day (an 8-hour shift at
# the campaign's recent rate), or of the regulatory window when that is shorter: a campaign
# may end with any day, so each day's rate is kept under the limit, as VICIdial's drop
# percentage is ("today's" drops over answers). A 30-day window alone lets an 8-agent
# campaign aim at 85 % of the limit, and one day in four or five of its ends over it.
WINDOW_PAYBACK_S = 1800.0  # an excess or saving of abandons is spread over this long
# A predictive campaign with news (a live answer, an agent freed, a dial ended unanswered
# while its agents are short of lines) is re-decided at the next tick; without, time alone
# moves its probabilities slowly, so it is re-decided after REDECIDE_S x its slack (how far
# the next dial was from going in: a marginal twice the price waits twice as long), between
# REDECIDE_S and REDECIDE_MAX_S, and at the next tick after it dialled. A dial that ends
# unanswered is news where fewer live answers are to come from the calls in flight than
# agents wait (pacer.gather._due): the line was an idle agent's, and waiting up to
# REDECIDE_MAX_S to replace it cost small teams about a point of occupancy (8 agents, 20 x
# 1 h: 83.7 % -> 84.7 % at fewer abandons; a progressive ratio replaces it at the next
# tick). Where plenty of lines are in flight (400 agents) one ending changes little, and
# re-deciding on every one raised the abandons (1.46 % -> 2.05 %) for no occupancy.
REDECIDE_S = 2.0
REDECIDE_MAX_S = 8.0
# AGENT_WAIT: the wait rule (pacer.predictive) predicts idle agent-time per connect over a
# fixed horizon, a proxy that is not calibrated: open loop, random scenarios of 7-577 agents
# realised 0.3-0.6x their target where the abandon rule did not bind (20.5 s asked, 6.5 s
# realised). So the target the rule is given is scaled, every REFRESH_S, toward the wait
# realised (ready agent-seconds per connected call over WAIT_MEMORY_S, the KPI's
# definition): by WAIT_GAIN of the log gap, at most WAIT_STEP, within [1 / WAIT_SPAN,
# WAIT_SPAN]; lowered (more dials) only while the wait rule, not the abandon rule, chose
# the dials of most decisions (else the abandon limit holds the wait up, and no scale would
# bring it down).
WAIT_MEMORY_S = 300.0
WAIT_GAIN = 0.05
WAIT_STEP = 0.05
WAIT_SPAN = 20.0
WAIT_MIN_CONNECTS = 5.0  # connects in the memory before the realised wait is read
MAX_SETTING = 1e12  # largest magnitude of any numeric setting


class _Observations:
    """A growable batch of (campaign row, value, code) observations, folded in per decision.

    Preallocated arrays with a count: appending is three scalar stores, and the batch goes
    to the kernels as slices without any list-to-array conversion.
    """

    __slots__ = ("code", "n", "rows", "value")

    def __init__(self, capacity: int = 1024):
        self.rows = np.empty(capacity, dtype=np.int64)
        self.value = np.empty(capacity, dtype=np.float64)
        self.code = np.empty(capacity, dtype=np.int64)
        self.n = 0

    def add(self, row: int, value: float, code: int) -> None:
        i = self.n
        if i == self.rows.shape[0]:
            self.rows = np.concatenate([self.rows, np.empty_like(self.rows)])
            self.value = np.concatenate([self.value, np.empty_like(self.value)])
            self.code = np.concatenate([self.code, np.empty_like(self.code)])
        self.rows[i] = row
        self.value[i] = value
        self.code[i] = code
        self.n = i + 1

    def take(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The batch as array views (valid until the next ``add``), and empty the buffer."""
        n, self.n = self.n, 0
        return self.rows[:n], self.value[:n], self.code[:n]


# CampaignPacing's enum fields and the values each accepts
_MODE_FIELDS = tuple((name, enum, frozenset(int(m) for m in enum))
                     for name, enum in (("pacing", Pacing), ("target", Target),
                                        ("regulation", Regulation)))


@dataclass(frozen=True)
class CampaignPacing:
    """One campaign's pacing settings. Seconds, fractions 0..1, per-second rates.

    ``target`` and ``target_value`` apply to predictive campaigns: the abandon rate
    (fraction), the service level (fraction connected within ``sl_threshold_s``) or the
    mean agent wait (seconds). The model looks ahead over a dial's whole ring life
    (``ring_timeout_s``); ``horizon_s`` is the look-ahead of the AGENT_WAIT rule only (0 =
    the ring timeout). ``initial_hit_rate`` with ``hit_prior_weight`` (observations it is
    worth) is the cold-start Beta prior of the hit rate. ``abandon_aim``: the fraction of
    the abandon budget the realised rate is steered to (the rest is a safety margin for
    chance). ``amd_false_positive_rate``: share of humans an AMD classifies as machines
    (Ofcom counts them as abandons; the pacer cannot observe them and budgets for them).
    ``window_s``: the regulatory window the rate is judged over (seconds; 0 = not given):
    the fewer live answers it or a calling day (CALLING_DAY_S, whichever is shorter) will
    hold, the wider the margin kept for chance (the aim is at most ``limit - 1.645 sqrt(limit
    / live answers)``, so that the realised rate ends over the limit about one day or window
    in twenty; never under half the limit).
    ``handling_mean_s`` / ``handling_cv``: the prior of the handling time (talk + wrap-up),
    read while the caller reports agents in wrap-up as BUSY; ``talk_mean_s`` / ``talk_cv``
    and ``wrap_mean_s`` / ``wrap_cv``: the priors of talk and wrap-up apart, read once it
    reports ``AgentStatus.WRAP`` (lognormal shapes worth HOLD_PRIOR_WEIGHT calls; the
    evidence takes over as calls end). ``patience_mean_s``: the prior mean time a person
    waits for an agent after answering before hanging up (exponential; seconds; infinite =
    no hang-up until the callers show otherwise), worth PATIENCE_PRIOR_S seconds of waiting.
    """

    pacing: Pacing = Pacing.PREDICTIVE
    target: Target = Target.ABANDON_RATE
    target_value: float = DEFAULT_ABANDON_LIMIT
    sl_threshold_s: float = DEFAULT_CONNECT_WINDOW_S
    ratio: float = 1.0
    max_lines_per_agent: float = DEFAULT_MAX_LINES_PER_AGENT
    initial_hit_rate: float = DEFAULT_INITIAL_HIT_RATE
    horizon_s: float = 0.0
    ring_timeout_s: float = DEFAULT_RING_NO_ANSWER_S
    ring_median_s: float = 9.5
    connect_window_s: float = DEFAULT_CONNECT_WINDOW_S
    abandon_limit: float = DEFAULT_ABANDON_LIMIT
    regulation: Regulation = Regulation.FCC
    amd_false_positive_rate: float = 0.0
    attempts_per_s: float = 0.0
    poisson_arrivals: bool = False
    min_ports: int = 0
    max_ports: int = 1_000_000
    handling_mean_s: float = 225.0
    handling_cv: float = 1.0
    talk_mean_s: float = 195.0
    talk_cv: float = 1.0
    wrap_mean_s: float = 30.0
    wrap_cv: float = 1.0
    vicidial_intensity: float = 0.0
    vicidial_dl_diff_target: float = 0.0
    vicidial_max_level: float = VICIDIAL_MAX_LEVEL
    vicidial_dropped_percentage: float = VICIDIAL_DROPPED_PERCENTAGE
    vicidial_start_hhmm: int = 900
    vicidial_latest_hhmm: int = 2100
    hit_prior_weight: float = DEFAULT_PRIOR_WEIGHT
    abandon_aim: float = DEFAULT_ABANDON_AIM
    window_s: float = 0.0
    patience_mean_s: float = math.inf

    def __post_init__(self) -> None:
        for name, enum, values in _MODE_FIELDS:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or \
                    int(v) not in values:
                raise ValueError(f"CampaignPacing.{name}: expected a pacer.modes.{enum.__name__}"
                                 f" ({', '.join(m.name for m in enum)}), got {v!r}")
            object.__setattr__(self, name, enum(int(v)))
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in ("pacing", "target", "regulation", "poisson_arrivals"):
                continue
            if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
                raise ValueError(f"CampaignPacing.{f.name}: expected a number, got {v!r}")
            if f.name == "patience_mean_s" and v > 0:
                continue  # any positive length; infinite: callers never hang up
            if not math.isfinite(v):
                raise ValueError(f"CampaignPacing.{f.name}: must be finite, got {v!r}")
            if abs(v) > MAX_SETTING:
                raise ValueError(f"CampaignPacing.{f.name}: {v!r} is out of range "
                                 f"(|value| <= {MAX_SETTING:g})")
        checks = [
            ("target_value", self.target_value >= 0),
            ("ratio", 0 <= self.ratio <= MAX_RATIO),
            ("max_lines_per_agent", 1 <= self.max_lines_per_agent <= MAX_RATIO),
            ("hit_prior_weight", self.hit_prior_weight >= 0),
            ("abandon_aim", 0 < self.abandon_aim <= 1),
            ("window_s", self.window_s >= 0),
            ("sl_threshold_s", self.sl_threshold_s >= 0),
            ("vicidial_max_level", 1 <= self.vicidial_max_level <= MAX_RATIO),
            ("max_ports", self.max_ports >= 0),
            ("initial_hit_rate", 0 <= self.initial_hit_rate <= 1),
            ("horizon_s", self.horizon_s >= 0),
            ("ring_timeout_s", self.ring_timeout_s > 0),
            ("ring_median_s", self.ring_median_s > 0),
            ("connect_window_s", self.connect_window_s > 0),
            ("abandon_limit", 0 <= self.abandon_limit <= 1),
            ("amd_false_positive_rate", 0 <= self.amd_false_positive_rate <= 1),
            ("attempts_per_s", self.attempts_per_s >= 0),
            ("min_ports", 0 <= self.min_ports <= self.max_ports),
            ("handling_mean_s", self.handling_mean_s > 0),
            ("handling_cv", self.handling_cv > 0),
            ("talk_mean_s", self.talk_mean_s > 0),
            ("talk_cv", self.talk_cv > 0),
            ("wrap_mean_s", self.wrap_mean_s > 0),
            ("wrap_cv", self.wrap_cv > 0),
            ("patience_mean_s", self.patience_mean_s > 0),
        ]
        for name, ok in checks:
            if not ok:
                raise ValueError(f"CampaignPacing.{name}: out of range ({getattr(self, name)!r})")
        if self.pacing == Pacing.PROGRESSIVE and self.ratio < 1:
            raise ValueError(f"CampaignPacing.ratio: progressive takes ratio >= 1, "
                             f"got {self.ratio}")
        if self.target == Target.SERVICE_LEVEL and self.target_value > 1:
            raise ValueError("CampaignPacing.target_value: a service level is a fraction 0..1")


def _col(campaigns: Sequence[CampaignPacing], name: str, dtype) -> np.ndarray:
    return np.array([getattr(c, name) for c in campaigns], dtype=dtype)


def chance_count(mean: np.ndarray | float) -> np.ndarray:
    """The count of abandons a Poisson of ``mean`` exceeds by chance alone about one time in
    twenty (WINDOW_Z, one-sided): ``mean + z sqrt(mean) + (z^2 + 2) / 6``, the normal bound
    with the Poisson's skew (Cornish-Fisher) and a half-count continuity correction. The
    normal bound alone misreads small means: 1 abandon where 0.1 were expected is over
    ``0.1 + 1.645 sqrt(0.1) = 0.62``, though it comes 9.5 % of the time; a 14-agent team at a
    hit rate of 0.08 was paced one line per idle agent for 45 minutes on it (price_at_floor)
    at 50 % occupancy. Exceeded with chance 0.5 % at a mean of 0.1, 1.9 % at 1, 3.2 % at 5,
    3.4 % at 20, about 5 % for large means. For the floor's hold (``Pacer._hold_floor``),
    whose one line per idle agent is costly."""
    m = np.maximum(mean, 0.0)
    return m + WINDOW_Z * np.sqrt(m) + (WINDOW_Z ** 2 + 2.0) / 6.0


class Pacer:
    """Batched pacing for a fixed set of campaigns (rows 0..n-1, in the order given)."""

    def __init__(self, campaigns: Sequence[CampaignPacing], seed: int = 0):
        """``campaigns``: one ``CampaignPacing`` per row; ``seed``: an int >= 0 fixing the
        pacer's random streams. A ValueError naming the argument otherwise."""
        if isinstance(campaigns, CampaignPacing | str | bytes | dict) or \
                not isinstance(campaigns, Iterable):
            raise ValueError(f"campaigns: expected a sequence of CampaignPacing, got "
                             f"{type(campaigns).__name__}")
        try:
            cs = list(campaigns)
        except TypeError:  # a 0-d array
            raise ValueError(f"campaigns: expected a sequence of CampaignPacing, got "
                             f"{campaigns!r:.40}") from None
        for i, c in enumerate(cs):
            if not isinstance(c, CampaignPacing):
                raise ValueError(f"campaigns[{i}]: expected a CampaignPacing, got "
                                 f"{type(c).__name__}")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or \
                not 0 <= seed < 2**63:
            raise ValueError(f"seed: expected an int in [0, 2**63), got {seed!r:.40}")
        n = self.n = len(cs)
        self.config = cs
        for f in fields(CampaignPacing):
            kind = type(getattr(CampaignPacing, f.name, 0.0))
            dtype = np.int64 if kind in (int, bool) or f.name in ("pacing", "target",
                                                                  "regulation") else np.float64
            setattr(self, f"_{f.name}", _col(cs, f.name, dtype) if n else np.zeros(0, dtype))
        self._rng = np.random.default_rng(np.random.SeedSequence(seed))
        mode = self._pacing
        self.rows = {m: np.flatnonzero(mode == m) for m in Pacing}
        self._vici_rows = np.flatnonzero((mode >= Pacing.VICIDIAL_HARD_LIMIT)
                                         & (mode <= Pacing.VICIDIAL_AVERAGE))
        # estimators
        self.hit = HitRateState(HitRateParams(
            window=HIT_WINDOW, alpha=HIT_ALPHA, initial=self._initial_hit_rate,
            prior_weight=self._hit_prior_weight)) if n else None
        self._dials_recent = np.zeros(n)  # dials folded, fading over HIT_RATE_MEMORY_S
        self._hit_cum = np.zeros(HIT_WINDOW + 1, dtype=np.int64)  # _posterior_recent's
        self._hit_fresh = np.ones(n, dtype=np.bool_)  # rows with dials folded since
        self._fold_at = 0.0
        # handling time: hazard estimate (pacer.holdtime), read by the kernels as a histogram
        self.hold = StreamingHistogram(max(n, 1), HOLD_BIN_S, HOLD_MAX_S, decay=HOLD_DECAY)
        self.holdtime = HoldTime(max(n, 1), HOLD_BIN_S, HOLD_MAX_S, HOLD_MEMORY_S)
        self.ring = StreamingHistogram(max(n, 1), RING_BIN_S, RING_MAX_S, decay=HOLD_DECAY)
        self.ring_end = StreamingHistogram(max(n, 1), RING_BIN_S, RING_MAX_S, decay=HOLD_DECAY)
        # talk and wrap-up apart, for callers that report AgentStatus.WRAP
        self.talk = StreamingHistogram(max(n, 1), HOLD_BIN_S, HOLD_MAX_S, decay=HOLD_DECAY)
        self.talktime = HoldTime(max(n, 1), HOLD_BIN_S, HOLD_MAX_S, HOLD_MEMORY_S)
        self.wrap = StreamingHistogram(max(n, 1), WRAP_BIN_S, WRAP_MAX_S, decay=HOLD_DECAY)
        self.wraptime = HoldTime(max(n, 1), WRAP_BIN_S, WRAP_MAX_S, HOLD_MEMORY_S)
        for i, c in enumerate(cs):
            self.holdtime.seed(i, c.handling_mean_s, c.handling_cv, HOLD_PRIOR_WEIGHT)
            self.talktime.seed(i, c.talk_mean_s, c.talk_cv, HOLD_PRIOR_WEIGHT)
            self.wraptime.seed(i, c.wrap_mean_s, c.wrap_cv, HOLD_PRIOR_WEIGHT)
            self._seed_ring(i, c)
        self._life = np.zeros(n)  # a dial's modelled life per campaign (seconds)
        self._buf_ringing = np.empty(n)  # launch of each campaign's oldest ringing dial
        _dial_life(self.ring.counts, self.ring.totals, self.ring.bin_width_s,
                  self._ring_timeout_s, np.arange(n), self._life)
        # the windowed accounting over each campaign's regulatory window: ``window_s``
        # where given (as ``restore_live`` keeps), else the regulator's
        given = self._window_s > 0
        self.abandon = AbandonState(AbandonParams(
            regulation=self._regulation, limit=self._abandon_limit,
            fcc_window_s=np.where(given, self._window_s, FCC_WINDOW_S),
            ofcom_window_s=np.where(given, self._window_s, OFCOM_WINDOW_S))) if n else None
        # the windows' arrays are updated in place: their argument list is built once
        self._abandon_args = (*self.abandon._fcc.args(), *self.abandon._ofcom.args()) \
            if n else ()
        tr = self.rows[Pacing.TIMED]
        self.timed = TimedState(TimedParams(
            rate_per_s=self._attempts_per_s[tr], min_ports=self._min_ports[tr],
            max_ports=self._max_ports[tr])) if tr.size else None
        if self.timed is not None:
            # each starts at a seeded phase of its first attempt (credit uniform in [0, 1)):
            # jobs started together do not send in lockstep, and an hour of a 333.3-an-hour
            # job then holds 333.3 attempts on average, not always the floor, 333
            self.timed.credit[:] = self._rng.random(tr.size)
        self._timed_poisson = self._poisson_arrivals[tr].astype(bool)
        self._timed_rows = tr
        self._timed_any_poisson = bool(self._timed_poisson.any())
        vr = self._vici_rows
        self.vici = VicidialState(VicidialParams(
            mode=self._pacing[vr], intensity=self._vicidial_intensity[vr],
            dl_diff_target=self._vicidial_dl_diff_target[vr],
            max_level=self._vicidial_max_level[vr],
            dropped_percentage=self._vicidial_dropped_percentage[vr],
            latest_hhmm=self._vicidial_latest_hhmm[vr])) if vr.size else None
        # per-second ring of dials and drops over the last minute, and today's totals
        self._minute_calls = np.zeros((n, 60), dtype=np.int64)
        self._minute_drops = np.zeros((n, 60), dtype=np.int64)
        self._minute_sec = -1
        self._answered_today = np.zeros(n, dtype=np.int64)
        self._calls_today = np.zeros(n, dtype=np.int64)  # every call that ended, any outcome
        self._drops_today = np.zeros(n, dtype=np.int64)
        # feedback trim; the look-ahead (0 in the settings = the ring-no-answer timeout)
        self.theta = np.zeros(n)  # set to the aim below, before any forecast
        self.model_bias = np.ones(n)  # realised / forecast abandons (see the constants)
        self._fc_ab = np.zeros(n)  # forecast abandons and live answers, recent (EWMA)
        self._fc_live = np.zeros(n)
        self._fc_memory = np.full(n, FORECAST_MEMORY_S)  # seconds, per campaign (see above)
        self._slow_live = np.zeros(n)  # expected live answers, EWMA over LIVE_RATE_MEMORY_S
        self._n_decided = np.zeros(n)  # decisions since the last refresh, and those that
        self._n_bound = np.zeros(n)  # stopped at the price (THETA_BOUND)
        # AGENT_WAIT's closed loop (WAIT_MEMORY_S): idle agent-seconds and connects, the
        # idle agents at the last decision, the target's scale, decisions the wait rule chose
        self._wait_idle_s = np.zeros(n)
        self._wait_idle_new = np.zeros(n)
        self._wait_connects = np.zeros(n)
        self._idle_last = np.zeros(n)
        self._wait_scale = np.ones(n)
        self._wait_bound = np.zeros(n)
        self._wait_decided = np.zeros(n)
        self._seen_added_ab = np.zeros(n)
        self._seen_added_live = np.zeros(n)
        self._run_ab = np.zeros(n)  # realised abandons and live answers so far
        # _bias_guard's Poisson bound per campaign and the _run_ab it was computed at (NaN:
        # not yet): recomputed only where _run_ab moved (few campaigns a refresh)
        self._bound_at = np.full(n, np.nan)
        self._bound = np.zeros(n)
        self._run_live = np.zeros(n)
        # connects their agents found to be answering machines (``observe_machine_connected``):
        # the model's live answers are the dialer's (machines AMD missed included), the
        # regulator's and the realised ones are humans'
        self._run_machines = np.zeros(n)
        # ... and those of the regulatory window before a restart (``restore_live``): paid
        # back as this run's are, not read as the model's bias
        self._carried_ab = np.zeros(n)
        self._carried_live = np.zeros(n)
        self._new_live = np.zeros(n)
        self._new_ab = np.zeros(n)
        self._last_refresh = 0.0
        self.horizon_s = np.where(self._horizon_s > 0, self._horizon_s, self._ring_timeout_s)
        self._next_refresh = 0.0
        self._dt = 0.0
        self._t_start: float | None = None
        self._hold_at = 0.0
        self._hold_once = True  # the handling histogram not written yet
        self._next_hold = 0.0
        # periodic schedules
        self._last_now: float | None = None
        self._next_sample = 0.0
        self._next_recalc = VICIDIAL_RECALC_S
        self._next_launch = 0.0
        # observation buffers
        self._obs_dial = _Observations()  # value: ring seconds, code: 1 live answer
        self._obs_hold = _Observations()  # value: handling seconds
        self._obs_phase = _Observations()  # value: talk or wrap-up seconds, code: the phase
        self._obs_wait = _Observations()  # value: seconds a live answer waited, code: 1 hung up
        # customers' patience while waiting for an agent: hang-ups per waiting second, the
        # prior (``patience_mean_s``) worth PATIENCE_PRIOR_S seconds of waiting
        self._prior_hangup_rate = 1.0 / _col(cs, "patience_mean_s", np.float64)
        self._wait_s = np.full(n, PATIENCE_PRIOR_S)
        self._hangups = PATIENCE_PRIOR_S * self._prior_hangup_rate
        self.hangup_rate = self._prior_hangup_rate.copy()
        self._windows()
        self._obs_live = _Observations()  # value: time, code: abandon.Outcome
        self._warnings: set[str] = set()
        self._gather = g.Gatherer(n)
        self._pred_rows = self.rows[Pacing.PREDICTIVE]
        self._prog_rows = self.rows[Pacing.PROGRESSIVE]
        self._preview_rows = self.rows[Pacing.PREVIEW]
        self._ratio_rows = self.rows[Pacing.FIXED_RATIO]
        self._buf_hit = np.empty(n)
        self._buf_out = np.zeros(n, dtype=np.int64)
        self._buf_ab = np.zeros(n)
        self._buf_live = np.zeros(n)
        # Campaigns with news since their last decision, and when each is re-decided
        # without (REDECIDE_S)
        self._dirty = np.ones(n, dtype=bool)
        self._ended = np.zeros(n, dtype=bool)  # a dial ended unanswered since the last tick
        self._next_decide = np.zeros(n)
        self._buf_active = np.zeros(n, dtype=np.int64)
        self._buf_slack = np.zeros(n)
        self._buf_max_new = np.zeros(n, dtype=np.int64)
        self._hit_stale = True
        # diagnostics of the last decision
        self.last_expected_abandons = np.zeros(n)
        self.last_expected_live = np.zeros(n)
        self.last_hit_rate = self._initial_hit_rate.astype(np.float64) if n else np.zeros(0)
        self.last_hit_sd = np.zeros(n)
        # the look-ahead: random stream, hit-rate sample quantiles, calibration sums
        self._rng_state = np.array([np.random.SeedSequence(seed).generate_state(1, np.uint64)[0]
                                    | np.uint64(1)], dtype=np.uint64)
        self._rng_seed = self._rng_state[0]
        k = LOOKAHEAD_SAMPLES
        self._z = np.array([NormalDist().inv_cdf((i + 0.5) / k) for i in range(k)])
        k = LOOKAHEAD_FINE_SAMPLES
        self._z_fine = np.array([NormalDist().inv_cdf((i + 0.5) / k) for i in range(k)])
        self._buf_added = np.zeros(n)
        # the abandons the first dials of each decision add (``launched``)
        self._buf_curve = np.zeros((n, CURVE_POINTS))
        self.added_abandons = np.zeros(n)  # model's expected abandons of launched dials
        self.added_live = np.zeros(n)  # ... and expected live answers
        self.open_loop = False  # True: no feedback (theta stays at the aim), for calibration
        # dials whose outcome is known, held until their launch cohort is complete
        self._pending = PendingDials(seed)
        # ring-time histograms still learning from ends as they come (no cohort ended yet),
        # and the cold campaigns with dials observed (``observe_dial``): only those can
        # hold dials whose cohort ends, so once they are warm neither the flush nor the
        # fold looks for cold campaigns again (a campaign that never dials stays cold)
        self._ring_cold = np.ones(n, dtype=bool)
        self._cold_dialled: set[int] = set()
        self._cold_news = False  # a cold campaign's dial observed since the last flush
        self._next_fold = 0.0
        # Ofcom: AMD false positives count as abandons; the human-drop budget is what is
        # left of the limit after their estimated share f: (limit - f) / (1 - f)
        self.fp_share = np.where(self._regulation == Regulation.OFCOM,
                                 self._amd_false_positive_rate, 0.0)
        budget = human_drop_budget(self._abandon_limit, self.fp_share)
        self._budget = budget
        self._fallback = (self._pacing == Pacing.PREDICTIVE) & (budget <= 0)
        self._fallback_rows = np.flatnonzero(self._fallback)
        # predictive campaigns the model paces (not those whose budget is used up)
        self._modelled = (self._pacing == Pacing.PREDICTIVE) & ~self._fallback
        self._active = self._modelled.astype(np.int64)
        self._at_floor = np.zeros(n, dtype=bool)  # paced 1:1 for now (see WINDOW_Z's note)
        # the stretch with the price at its floor: since when (-inf: not at it), and the
        # abandons and live answers realised in it once the dials made at a higher price
        # have had their say (``_hold_floor``)
        self._floor_since = np.full(n, -math.inf)
        self._floor_ab = np.zeros(n)
        self._floor_live = np.zeros(n)
        # predictive campaigns whose hit rate rests on the prior more than on dials whose
        # whole launch cohort has ended (see PRIOR_WEIGHT's note)
        self._cold_rows = np.flatnonzero(self._active == 1)
        self._wait_rows = np.flatnonzero((self._pacing == Pacing.PREDICTIVE)
                                         & (self._target == Target.AGENT_WAIT)
                                         & ~self._fallback)
        self._sl_rows = np.flatnonzero((self._pacing == Pacing.PREDICTIVE)
                                       & (self._target == Target.SERVICE_LEVEL)
                                       & ~self._fallback)
        self.theta = np.clip(self._aim(), THETA_MIN, THETA_MAX)
        self._limit = self._effective_limit()
        self._warning_records: list[dict] = []
        for i in np.flatnonzero(self._fallback):
            if self.fp_share[i] > 0:
                why = (f"is used up by the estimated AMD false positives alone "
                       f"({self.fp_share[i]:.3f} of live answers)")
            else:  # a limit of 0: nothing to do with AMD
                why = "allows no abandoned live answer"
            message = (f"campaign {i}: abandon limit {self._abandon_limit[i]:.3f} {why}; "
                       "paced so that no live answer is dropped (abandon_limit_infeasible)")
            self._warning_records.append({
                "code": "abandon_limit_infeasible", "campaign": int(i),
                "mode": Regulation(int(self._regulation[i])).name.lower(),
                "limit": float(self._abandon_limit[i]),
                "estimated_floor": float(self.fp_share[i]), "message": message})
            self._warnings.add(message)

    # ------------------------------------------------------------------ observations

    def _row(self, row) -> int:
        if type(row) is int and 0 <= row < self.n:  # the engine's case, checked first
            return row
        if isinstance(row, bool) or not isinstance(row, int | np.integer) \
                or not 0 <= row < self.n:
            raise ValueError(f"row must be a campaign row in [0, {self.n}), got {row!r}")
        return int(row)

    @staticmethod
    def _seconds(name: str, x, lo: float = -math.inf) -> float:
        if type(x) is float and math.isfinite(x) and lo <= x <= g.MAX_TIME_S:
            return x  # the engine's case, checked first
        try:
            v = float(x)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number of seconds, got {x!r}") from None
        if not (math.isfinite(v) and lo <= v <= g.MAX_TIME_S):
            raise ValueError(f"{name} must be finite seconds in [{lo:g}, {g.MAX_TIME_S:g}], "
                             f"got {x!r}")
        return v

    @staticmethod
    def _flag(name: str, x) -> bool:
        """A flag that is not a plain bool (the callers pass those by) as a bool: a NumPy
        bool or an integer 0 / 1; a ValueError naming it otherwise."""
        if isinstance(x, np.bool_) or (isinstance(x, int | np.integer) and x in (0, 1)):
            return bool(x)
        raise ValueError(f"{name} must be a bool, got {x!r:.40}")

    def observe_dial(self, row: int, live: bool, ring_s: float) -> None:
        """A dial of an agent-based campaign stopped ringing after ``ring_s`` seconds.

        ``live``: it was a live answer (then ``ring_s`` is its time to answer). Every dial
        feeds the ring-end histogram: a call still ringing after r seconds has survived all
        the early ends (busy, invalid, machines), which raises its chance of a live answer.
        """
        row = self._row(row)
        if type(live) is not bool:  # the engine passes a bool
            live = self._flag("live", live)
        self._obs_dial.add(row, self._seconds("ring_s", ring_s, 0.0), 1 if live else 0)
        if self._ring_cold[row]:  # its first launch cohort has not ended yet
            self._cold_news = True
        if live:
            self._dirty[row] = True
        else:  # room for another line: news where agents are short of lines (see _due)
            self._ended[row] = True

    def observe_handling(self, row: int, seconds: float) -> None:
        """One agent's handling time (talk + wrap, seconds) just ended."""
        row = self._row(row)
        self._obs_hold.add(row, self._seconds("seconds", seconds, 0.0), 0)
        self._dirty[row] = True

    def observe_talk(self, row: int, seconds: float) -> None:
        """One agent's talk (seconds, from the call's connect) just ended; its wrap-up
        starts (report the agent as ``AgentStatus.WRAP`` from now, ``agent_since_s`` = now).
        For callers that report wrap-up apart; others call ``observe_handling``."""
        row = self._row(row)
        self._obs_phase.add(row, self._seconds("seconds", seconds, 0.0), g.PHASE_TALK)
        self._dirty[row] = True  # the agent's end is now a wrap-up away

    def observe_wrap(self, row: int, seconds: float) -> None:
        """One agent's wrap-up (seconds, from the end of its talk) just ended. Marks the
        campaign as one whose caller reports wrap-up apart (its BUSY agents are talking)."""
        row = self._row(row)
        self._obs_phase.add(row, self._seconds("seconds", seconds, 0.0), g.PHASE_WRAP)
        self._gather.split[row] = 1
        self._dirty[row] = True

    def observe_live(self, row: int, t_s: float, abandoned: bool) -> None:
        """A live answer was connected in time (False) or abandoned (True) at ``t_s``."""
        row = self._row(row)
        if type(abandoned) is not bool:  # the engine passes a bool
            abandoned = self._flag("abandoned", abandoned)
        code = _ABANDONED if abandoned else _CONNECTED
        self._obs_live.add(row, self._seconds("t_s", t_s, 0.0), code)
        self._dirty[row] = True

    def observe_machine(self, row: int, t_s: float) -> None:
        """AMD detected an answering machine."""
        self._obs_live.add(self._row(row), self._seconds("t_s", t_s, 0.0), _MACHINE)

    def observe_machine_connected(self, row: int, connected_s: float) -> None:
        """A live answer connected at ``connected_s`` (reported then with ``observe_live``)
        was an answering machine, its agent found (AMD off, or AMD missed it): it leaves the
        live answers the abandon rates and today's counts are taken over, and counts as a
        machine (regulators and VICIdial count only humans there). Its agent's time still
        counts (report its talk as usual); the hit rate keeps it as the dialer saw it, a
        call that needed an agent."""
        row = self._row(row)
        self._obs_live.add(row, self._seconds("connected_s", connected_s, 0.0),
                           _MACHINE_CONNECTED)
        self._run_machines[row] += 1.0

    def restore_live(self, rows, t_s, abandoned, now_s: float) -> int:
        """Live answers an earlier run of these campaigns recorded (a restart replays its
        store): campaign rows (int), the times they were connected or abandoned (seconds,
        on the clock ``decide`` reads) and whether each was abandoned (bool), equal
        lengths. Those inside a campaign's regulatory window before ``now_s`` (``window_s``,
        else 30 days under the FCC rule and 24 h under Ofcom's) go into its windowed
        abandon accounting and into the excess the price pays back, as this run's own do:
        an excess before the restart is still paid back (the model's bias is judged on this
        run's dials only). Call it before the first ``decide``; returns how many were
        kept. A ValueError names the argument."""
        rows = int_rows("rows", rows, None, 0, self.n - 1)
        t = float_rows("t_s", t_s, rows.size, 0.0, g.MAX_TIME_S)
        ab = as_array("abandoned", abandoned)
        if ab.shape != rows.shape or ab.dtype != np.bool_:
            raise ValueError(f"abandoned: expected {rows.size} bools, got {ab.dtype} "
                             f"{ab.shape}")
        now = real_number("now_s", now_s, 0.0, g.MAX_TIME_S)
        p = self.abandon.params  # each campaign's window, as its accounting keeps it
        window = np.where(self._regulation == Regulation.OFCOM, p.ofcom_window_s,
                          p.fcc_window_s)
        keep = (t <= now) & (t > now - window[rows])
        rows, t, ab = rows[keep], t[keep], ab[keep]
        if rows.size:
            _abandon_record(rows, t, np.where(ab, _ABANDONED, _CONNECTED).astype(np.int64),
                            *self._abandon_args)
            self._carried_ab += np.bincount(rows[ab], minlength=self.n)
            self._carried_live += np.bincount(rows, minlength=self.n)
        return int(rows.size)

    def nothing_to_dial(self, row: int, until_s: float) -> None:
        """The caller has no record to dial for campaign ``row`` before ``until_s`` (the
        clock's seconds: every contact of its list outside its calling window at night,
        say): its look-ahead is not run again before then unless news comes (a live
        answer, a call or a handling time ending). A time earlier than the one held already
        changes nothing."""
        row = self._row(row)
        t = self._seconds("until_s", until_s)
        if t > self._next_decide[row]:
            self._next_decide[row] = t

    def launched(self, counts: np.ndarray) -> None:
        """The attempts the caller launched after the last ``decide``, per campaign (int,
        length n), when a port or carrier limit, a stopped job or an empty list let it launch
        fewer than decided: the forecast of the dials that did not go out is taken back (the
        calibration and the price loop read only dials that went out)."""
        counts = np.asarray(counts)
        if counts.shape != (self.n,) or counts.dtype.kind not in "iu":
            raise ValueError(f"counts must be an integer array of length {self.n}, got "
                             f"{counts.dtype} {counts.shape}")
        out = self._buf_out
        short = (counts < out) & (out > 0) & (self._active == 1)
        if not short.any():
            return
        gone = np.where(short, (out - np.maximum(counts, 0)) / np.maximum(out, 1), 0.0)
        for c in np.flatnonzero(short & (self._buf_active == 1)).tolist():
            # the dials that went out are the decision's first, its cheapest
            kept = launched_abandons(self._buf_curve[c], int(out[c]), int(max(counts[c], 0)))
            self.added_abandons[c] -= self._buf_added[c] - kept
        self.added_live -= gone * out * self._buf_hit * (self._buf_active == 1)
        self._buf_active[:] = 0  # said once per decision

    def observe_wait(self, row: int, waited_s: float, hung_up: bool) -> None:
        """A live answer that waited for an agent ``waited_s`` seconds, then was connected
        or dropped at the end of the window (``hung_up`` False) or hung up itself (True):
        the customers' patience, which the look-ahead counts (a caller who hangs up after
        one second of silence is an abandon an agent freeing within the window does not
        prevent)."""
        row = self._row(row)
        if type(hung_up) is not bool:  # the engine passes a bool
            hung_up = self._flag("hung_up", hung_up)
        self._obs_wait.add(row, self._seconds("waited_s", waited_s, 0.0), 1 if hung_up else 0)

    def observe_false_positive(self, row: int, t_s: float) -> None:
        """A person was classified as a machine (known to a simulator, or from sampling)."""
        self._obs_live.add(self._row(row), self._seconds("t_s", t_s, 0.0), _FALSE_POSITIVE)

    def idle_ticks(self, last_s: float, n: int, tick_s: float) -> None:
        """The caller skipped ``n`` ticks, every ``tick_s`` seconds after its last
        ``decide`` at ``last_s``, at which nothing could be dialled and no call was in flight
        (a sleeping dialer: ``upkeep_due_s``): what the clock alone moves at a tick is moved
        as those ticks would have moved it (a timed job's credit, its ports reserved and
        Poisson draws; the idle agent-seconds of an AGENT_WAIT campaign), so that the next
        ``decide`` finds the pacer as if it had been called at each of them."""
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise ValueError(f"n must be a count of ticks (an int >= 0), got {n!r}")
        tick = real_number("tick_s", tick_s, 0.0, g.MAX_TIME_S)
        if not tick > 0.0:
            raise ValueError(f"tick_s must be > 0 seconds, got {tick_s!r}")
        t = self._seconds("last_s", last_s)
        if self._last_now is None or n == 0:
            return
        for lo in range(0, n, IDLE_TICKS_CHUNK):
            # the ticks' clock readings as the caller's clock adds them, and the steps
            times = np.cumsum(np.concatenate(([t], np.full(min(IDLE_TICKS_CHUNK, n - lo),
                                                            tick))))
            dts = np.maximum(np.diff(np.concatenate(([self._last_now], times[1:]))), 0.0)
            t = self._last_now = float(times[-1])
            for dt in dts.tolist() if self._wait_rows.size else ():
                self._wait_idle_new += self._idle_last * dt
            if self.timed is not None:
                tm = self.timed
                p = tm.params
                _timed_idle(p.rate_per_s, p.min_ports, p.max_ports, dts, tm.credit,
                            tm.reserved)
                if self._timed_any_poisson:  # the draws each tick would have made
                    self._rng.poisson(np.outer(dts, p.rate_per_s[self._timed_poisson]))

    def upkeep_due_s(self, now_s: float) -> float:
        """The earliest clock time (seconds) at which a ``decide`` with nothing to dial
        would still change this pacer's state: ``now_s`` while observations wait to be
        folded or a look-ahead decision is due, else the next of the look-ahead's
        decisions, the hold-time and price-loop refreshes and the fold of dials awaiting
        their launch cohort (``inf``: none). A caller that skips ``decide`` while nothing
        can be dialled (no agent ready, no call in flight) calls it again by then, so the
        pacer ends up where calling it every tick would have left it."""
        now = float(now_s)
        rows = self._pred_rows
        at = math.inf
        if rows.size:  # first: a look-ahead deciding at every tick is the common "now"
            looked = self._active[rows] == 1
            if looked.any():
                at = float(self._next_decide[rows][looked].min())
                if at <= now:
                    return now
            at = min(at, self._next_hold, self._next_refresh)
        if self._obs_dial.n or self._obs_hold.n or self._obs_phase.n or self._obs_wait.n \
                or self._obs_live.n:
            return now
        return min(at, self._next_fold) if self._pending.n else at

    def warnings(self) -> list[str]:
        """Compliance warnings raised so far (e.g. Ofcom budget used up by AMD errors)."""
        return sorted(self._warnings)

    def warning_records(self) -> list[dict]:
        """The same warnings as objects: ``{"code": "abandon_limit_infeasible", "campaign":
        row, "mode": "ofcom" | "fcc", "limit": fraction, "estimated_floor": fraction,
        "message": text}``."""
        return [dict(w) for w in self._warning_records]

    def _seed_ring(self, i: int, c: CampaignPacing) -> None:
        """The ring-time histograms' prior for campaign row ``i`` (any evidence dropped)."""
        self.ring.clear(i)
        self.ring_end.clear(i)
        sigma = 0.55  # ring-time shape prior (Sytel: median 9-10 s, tail past 20 s)
        ring_mean = c.ring_median_s * math.exp(sigma**2 / 2)
        self.ring.seed(i, ring_mean, math.sqrt(math.expm1(sigma**2)), PRIOR_WEIGHT)
        # no one answers after the timeout: the prior's tail past it would stretch the
        # modelled life of a dial (and the look-ahead) to twice the timeout
        self.ring.truncate(i, c.ring_timeout_s)
        # cold start for ring ends: every dial ends by the timeout; seed with the
        # answered-call shape (the estimate takes over as dials complete)
        self.ring_end.seed(i, min(ring_mean, c.ring_timeout_s / 2), 0.6, PRIOR_WEIGHT)

    def _flush(self, now: float, co: np.ndarray, ce: np.ndarray) -> None:
        """Fold the buffered observations in; ``co``, ``ce``: the calls in flight grouped
        by campaign (``pacer.gather``), whose oldest ringing dial holds its cohort back."""
        sec = int(now)
        if sec != self._minute_sec:
            lo = self._minute_sec + 1 if self._minute_sec >= 0 else sec
            for s in range(max(lo, sec - 59), sec + 1):
                self._minute_calls[:, s % 60] = 0
                self._minute_drops[:, s % 60] = 0
            self._minute_sec = sec
        slot = sec % 60
        e, r = self.ring_end, self.ring
        if self._obs_dial.n:
            rows, ring_s, live = self._obs_dial.take()
            # held until their cohort ended, and counted
            self._pending._add_ended(rows, live, ring_s, now, slot, self._minute_calls,
                                     self._calls_today)
            if self._cold_news:
                # before a campaign's first cohort has ended its ring-time histograms learn
                # from the ends as they come: biased to short ones, but a list whose
                # numbers are mostly busy shows it seconds in, not a ring timeout later
                self._cold_news = False
                c = self._ring_cold[rows]
                self._cold_dialled.update(rows[c].tolist())
                if c.any():
                    _fold_dial_ends(rows[c], ring_s[c], live[c], e.counts, e.totals,
                                    e.weights, e.bin_width_s, e.decay, r.counts, r.totals,
                                    r.weights, r.bin_width_s, r.decay, self._ring_timeout_s,
                                    self._life)
        if now >= self._next_fold and self._pending.n:
            self._next_fold = now + HIT_FOLD_S
            decay = math.exp(-max(now - self._fold_at, 0.0) / HIT_RATE_MEMORY_S)
            pend = self._pending
            ringing = self._buf_ringing
            g._oldest_ringing(now, co, ce, ringing)
            k = pend._fold_dials(now, self._life, self.hit, self._dials_recent, decay, ringing)
            if k:
                self._fold_at = now
                self._hit_stale = True
                self._hit_fresh[pend.out_row[:k]] = True
                c = self._cold_rows
                if c.size:  # the dials folded now outweigh the prior: evidence enough
                    self._cold_rows = c[self.hit.count[c] < self._hit_prior_weight[c]]
                rows = pend.out_row[:k]
                if self._cold_dialled:
                    # a campaign's first whole cohort: its early evidence (which these
                    # dials' ends were part of) gives way to whole cohorts from now on
                    first = np.unique(rows[self._ring_cold[rows]])
                    for i in first.tolist():
                        self._seed_ring(i, self.config[i])
                        self._cold_dialled.discard(i)
                    self._ring_cold[first] = False
                    _dial_life(r.counts, r.totals, r.bin_width_s, self._ring_timeout_s, first,
                               self._life)
                # the ring-time histograms learn from whole launch cohorts, a fold at a time
                _fold_dial_ends(rows, pend.out_ring[:k], pend.out_live[:k],
                                e.counts, e.totals, e.weights, e.bin_width_s, e.decay,
                                r.counts, r.totals, r.weights, r.bin_width_s, r.decay,
                                self._ring_timeout_s, self._life)
        if self._obs_wait.n:
            rows, waited, hung = self._obs_wait.take()
            g._tally_waits(rows, waited, hung, self._wait_s, self._hangups, self.hangup_rate)
        if self._obs_hold.n:
            rows, seconds, _ = self._obs_hold.take()
            self.holdtime._ended(rows, seconds)
        if self._obs_phase.n:
            rows, seconds, codes = self._obs_phase.take()
            _ended_phases_of(self.talktime, self.wraptime, rows, seconds, codes)
        if self._obs_live.n:
            rows, t, code = self._obs_live.take()
            _abandon_record(rows, t, code, *self._abandon_args)
            g._tally_live(rows, code, _ABANDONED, _CONNECTED, _MACHINE_CONNECTED, slot,
                          self._minute_drops,
                          self._drops_today, self._answered_today, self._new_ab,
                          self._new_live)

    @staticmethod
    def _hist_add(h: StreamingHistogram, rows: np.ndarray, values: np.ndarray) -> None:
        _hist_add(h.counts, h.totals, h.weights, h.bin_width_s, h.decay, rows, values)

    # ------------------------------------------------------------------ the decision

    def decide(self, now_s: float, agent_job: np.ndarray, agent_status: np.ndarray,
               agent_since_s: np.ndarray, call_job: np.ndarray, call_status: np.ndarray,
               call_t0_s: np.ndarray) -> np.ndarray:
        """New attempts to launch now, per campaign (int64[n]).

        Agents: campaign row (-1 none), ``pacer.modes.AgentStatus`` and the start of the
        current call (BUSY, BUSY_LEAVING) or wrap-up (WRAP), seconds. Call slots: campaign
        row (-1 free), ``CallStatus`` and the dial time, or for a WAITING call the time its
        live answer came (seconds). Arrays are read, never kept.
        """
        n = self.n
        # checked (a ValueError before anything changes) and grouped by campaign
        now, (ao, ae, co, ce, counts) = self._gather.checked(
            now_s, agent_job, agent_status, agent_since_s, call_job, call_status, call_t0_s)
        dt = 0.0 if self._last_now is None else max(now - self._last_now, 0.0)
        self._dt = dt
        self._last_now = now
        self._flush(now, co, ce)
        idle = counts[:, g.IDLE]
        if self._wait_rows.size:  # idle agent-seconds since the last decision
            self._wait_idle_new += self._idle_last * dt
            self._idle_last = idle.astype(np.float64)
        unanswered = counts[:, g.RINGING] + counts[:, g.WAITING]
        in_flight = unanswered + counts[:, g.CONNECTED]
        dials = np.zeros(n, dtype=np.int64)

        rows = self._pred_rows
        if rows.size:
            self._predictive(now, rows, ao, ae, co, ce, counts, idle, unanswered, dials)
        rows = self._prog_rows
        if rows.size:
            out = np.empty(rows.size, dtype=np.int64)
            _progressive_launch(self._ratio[rows], idle[rows], unanswered[rows], out)
            dials[rows] = out
        rows = self._preview_rows
        if rows.size:  # every idle agent asks for one preview record
            out = np.empty(rows.size, dtype=np.int64)
            _preview_launch(idle[rows], unanswered[rows], out)
            dials[rows] = out
        launch_due = now + 1e-9 >= self._next_launch
        if launch_due:
            self._next_launch = now + VICIDIAL_LAUNCH_S
        rows = self._ratio_rows
        if rows.size and launch_due:
            out = np.empty(rows.size, dtype=np.int64)
            _fixed_ratio_launch(self._ratio[rows], idle[rows], counts[rows, g.CONNECTED],
                                in_flight[rows], out)
            dials[rows] = out
        if self.vici is not None:
            self._vicidial(now, counts, in_flight, launch_due, dials)
        if self.timed is not None:
            self._timed(dt, in_flight, dials)
        return dials

    def _hit_posterior(self) -> None:
        """Posterior mean and standard deviation of each campaign's hit rate: Beta with the
        cold-start prior (``initial_hit_rate``, worth ``hit_prior_weight`` observations,
        fading as the window fills, doubted) and the completed dials of the last HIT_SPAN_S
        at the recent dial rate (HIT_WINDOW_MIN to HIT_WINDOW of them) since the last change
        of rate they show (``pacer.hitrate._posterior_recent``)."""
        h = self.hit
        p = h.params
        span = np.rint(self._dials_recent * (HIT_SPAN_S / HIT_RATE_MEMORY_S)).astype(np.int64)
        _posterior_recent(p.window, p.initial, p.prior_weight, h.buf, h.pos, h.count, h.since,
                          span, HIT_WINDOW_MIN, HIT_CHANGE_MIN, HIT_CHANGE_LLR_UP,
                          HIT_CHANGE_LLR_DOWN, HIT_CHANGE_GRID, HIT_PRIOR_DOUBT, self._hit_cum,
                          self._hit_fresh, self._buf_hit, self.last_hit_sd)
        self._hit_stale = False

    def _predictive(self, now, rows, ao, ae, co, ce, counts, idle, unanswered, dials) -> None:
        phase = self._gather.agent_phase
        _expose_phases_of(self.holdtime, self.talktime, self.wraptime, ao, ae, phase, rows,
                          self._dt)
        if now >= self._next_hold:  # new evidence is folded in every HOLD_REFRESH_S
            for est in (self.holdtime, self.talktime, self.wraptime):
                est.forget(max(now - self._hold_at, 0.0))
            fade = math.exp(-max(now - self._hold_at, 0.0) / HOLD_MEMORY_S)
            # the evidence fades; the prior, PATIENCE_PRIOR_S seconds of waiting at its
            # rate, tops it up so that it never weighs less
            wait = self._wait_s * fade
            top_up = np.maximum(PATIENCE_PRIOR_S - wait, 0.0)
            self._wait_s = wait + top_up
            self._hangups = self._hangups * fade + top_up * self._prior_hangup_rate
            self.hangup_rate = self._hangups / self._wait_s
            self._windows()
            self._hold_at = now
            self._next_hold = now + HOLD_REFRESH_S
            # the handling histogram is read for a campaign whose caller does not report
            # wrap-up apart (and by the AGENT_WAIT rule): written for those, and for all once
            unsplit = rows if self._hold_once else rows[self._gather.split[rows] == 0]
            self._hold_once = False
            self.holdtime._write(unsplit, self.hold.counts, self.hold.totals)
            self.talktime._write(rows, self.talk.counts, self.talk.totals)
            self.wraptime._write(rows, self.wrap.counts, self.wrap.totals)
        if self._hit_stale:  # only completed dials move the hit rate
            self._hit_posterior()
        hit = self._buf_hit
        self.last_hit_rate = hit
        if now >= self._next_refresh:
            self._refresh(now)
        max_new = self._buf_max_new
        g._max_new(self._max_lines_per_agent, counts, max_new)
        cold = self._cold_rows
        if cold.size:  # the hit rate still mostly the prior: no line beyond the idle agents
            max_new[cold] = np.minimum(max_new[cold],
                                       np.maximum(idle[cold] - unanswered[cold], 0))
        active = self._buf_active
        fb = self._fallback_rows
        if not g._due(self._active, self._dirty, self._ended, idle, unanswered, hit,
                      self._next_decide, now, max_new, active):  # no decision on this tick
            if fb.size:
                dials[fb] = self._one_per_idle(fb, idle, unanswered)
            return
        out, exp_ab, exp_live, added = self._buf_out, self._buf_ab, self._buf_live, \
            self._buf_added
        # The same random numbers at every decision (common random numbers across ticks):
        # fresh ones would let the decision re-roll a noisy estimate of a small marginal
        # tick after tick until it happened to fall under theta, and dial on that luck.
        self._rng_state[0] = self._rng_seed
        self._look_ahead(now, ao, ae, co, ce, hit, self._window_eff, self._limit,
                         max_new, active, out, exp_ab, added, exp_live, self._buf_slack,
                         self._buf_curve)
        g._account(active, out, hit, self._buf_slack, max_new, added, exp_ab, now, REDECIDE_S,
                   REDECIDE_MAX_S, self._next_decide, self._n_decided, self._n_bound,
                   self.added_abandons, self.added_live, self.last_expected_abandons)
        self.last_expected_live = exp_live
        if self._sl_rows.size:
            self._service_level(now, active, ao, ae, co, ce, hit, max_new, out)
        if self._wait_rows.size:
            self._agent_wait(active, ao, ae, co, ce, hit, max_new, out)
        if fb.size:
            out[fb] = self._one_per_idle(fb, idle, unanswered)
        dials[rows] = out[rows]

    def _windows(self) -> None:
        """The look-ahead's connect window and service-level threshold (seconds): the
        settings, at most the callers' mean patience where they hang up (never under
        PATIENT_WINDOW_MIN_S; see it)."""
        cap = np.maximum(1.0 / np.maximum(self.hangup_rate, 1e-12), PATIENT_WINDOW_MIN_S)
        self._window_eff = np.minimum(self._connect_window_s, cap)
        self._sl_eff = np.minimum(self._sl_threshold_s, cap)

    @staticmethod
    def _one_per_idle(rows: np.ndarray, idle: np.ndarray, unanswered: np.ndarray) -> np.ndarray:
        """Dials where no live answer may be dropped: only idle agents are sure (one line
        each, less the calls still unanswered)."""
        out = np.empty(rows.size, dtype=np.int64)
        _progressive_launch(np.ones(rows.size), idle[rows], unanswered[rows], out)
        return out

    def _look_ahead(self, now, ao, ae, co, ce, hit, window_s, theta, max_new, active, out,
                    exp_ab, added, exp_live, slack, curve) -> None:
        """The look-ahead kernel (``pacer.lookahead._lookahead_curve``) on this pacer's
        estimators, for a window (connect window or service-level threshold) and a price."""
        _lookahead_curve(ao, ae, self._gather.agent_key, self._gather.agent_phase, co, ce,
                         self._gather.call_key,
                         self.hold.counts, self.hold.totals, self.hold.bin_width_s,
                         self.talk.counts, self.talk.totals, self.talk.bin_width_s,
                         self.wrap.counts, self.wrap.totals, self.wrap.bin_width_s,
                         self.ring.counts, self.ring.totals, self.ring.bin_width_s,
                         self.ring_end.counts, self.ring_end.totals, self.ring_end.bin_width_s,
                         hit, self.last_hit_sd, self._z, self._z_fine, self._life, window_s,
                         self.hangup_rate, theta, max_new, active, LOOKAHEAD_DT_S, now,
                         self._rng_seed, self._rng_state, out, exp_ab, added, exp_live, slack,
                         curve)

    def _service_level(self, now, active, ao, ae, co, ce, hit, max_new, out) -> None:
        """SERVICE_LEVEL campaigns: the same look-ahead with the service-level threshold as
        the window and 1 - X late answers allowed per marginal live answer."""
        act = np.zeros(self.n, dtype=np.int64)
        act[self._sl_rows] = active[self._sl_rows] == 1  # 2: at the lines cap, no dial
        n_sl = np.empty(self.n, dtype=np.int64)
        theta = np.clip(1.0 - self._target_value, 0.0, THETA_MAX)
        self._look_ahead(now, ao, ae, co, ce, hit, self._sl_eff, theta, max_new, act,
                         n_sl, np.empty(self.n), np.empty(self.n), np.empty(self.n),
                         np.empty(self.n), np.empty((self.n, 0)))
        r = self._sl_rows
        out[r] = np.minimum(out[r], n_sl[r])

    def _agent_wait(self, active, ao, ae, co, ce, hit, max_new, out) -> None:
        """AGENT_WAIT campaigns: the smallest dials whose predicted wait per connect meets
        the target (``pacer.predictive``'s wait rule), never more than the abandon rule."""
        act = np.zeros(self.n, dtype=np.int64)
        act[self._wait_rows] = active[self._wait_rows] == 1  # 2: at the lines cap
        n_w = np.empty(self.n, dtype=np.int64)
        ae = ae[:ao[-1]]
        wrap = self._gather.agent_phase[:ae.size] == g.PHASE_WRAP
        if wrap.any():
            # this rule reads one handling-time histogram: an agent in wrap-up is read as
            # the campaign's mean talk (learnt) plus its wrap-up so far (an approximation;
            # the look-ahead that bounds it models the wrap-up exactly)
            bins = (np.arange(self.talk.counts.shape[1]) + 0.5) * self.talk.bin_width_s
            talk_mean = (self.talk.counts @ bins) / np.maximum(self.talk.totals, 1e-12)
            row_of = np.repeat(np.arange(self.n), np.diff(ao))
            ae = ae.copy()
            ae[wrap] += talk_mean[row_of[wrap]]
        _predictive_dials(
            ao, ae, co, ce,
            self.hold.counts, self.hold.totals, self.hold.bin_width_s,
            self.ring.counts, self.ring.totals, self.ring.bin_width_s,
            self.ring_end.counts, self.ring_end.totals, self.ring_end.bin_width_s,
            hit, self._ring_timeout_s, self.horizon_s, self._connect_window_s,
            np.ones(self.n), self._target, self._target_value * self._wait_scale,
            self._sl_threshold_s,
            # searched no further than the abandon rule's dials, which bound its answer: its
            # tables grow with the cap (a lines cap of 1000 per agent took 8 s a decision)
            np.minimum(max_new, out), act, 1, n_w, np.empty(self.n), np.empty(self.n))
        r = self._wait_rows
        self._wait_decided[r] += act[r]
        self._wait_bound[r] += act[r] * (n_w[r] < out[r])
        out[r] = np.minimum(out[r], n_w[r])

    def _effective_limit(self) -> np.ndarray:
        """theta per campaign: marginal abandons allowed per marginal live answer (the aim
        itself when ``open_loop``)."""
        if self.open_loop:
            return np.clip(self._aim(), 0.0, THETA_MAX)
        return self.theta.copy()

    def _human_share(self) -> np.ndarray:
        """The share of the forecast's live answers the abandon rate is taken over: the
        forecast counts every answer put through to an agent, and the answering machines
        the agents found (AMD off, or missed) leave the count, by the share found so far."""
        return (self._run_live + 1.0) / (self._run_live + self._run_machines + 1.0)

    def _aim(self) -> np.ndarray:
        """Human drops per live answer the realised rate is steered to: the limit x
        ``abandon_aim`` less the false-positive share, and at most the budget less a margin
        for chance over the live answers a calling day or the regulatory window, whichever
        is shorter, will hold (at the recent rate, and only those the rate is taken over:
        ``_human_share``); never under half the budget (fractions).

        The margin is AIM_Z standard deviations of the count the limit judges, per live
        answer: Poisson drops at the budget and, in Ofcom mode, the AMD false positives the
        rate counts too (F per live answer f / (1 - f) for a share f; (drops + F) / (live +
        F) <= limit is drops + (1 - limit) F <= limit x live, so their variance enters times
        (1 - limit)^2). With f = 2.5 % of a 10-agent team's 150 live answers an hour, the
        false positives alone put ten one-hour runs' upper bound at 3.2 % (Ofcom), whatever
        the humans dropped."""
        budget = np.maximum(self._budget, 0.0)
        aim = human_drop_budget(self._abandon_limit * self._abandon_aim, self.fp_share)
        span = np.where(self._window_s > 0, np.minimum(self._window_s, CALLING_DAY_S),
                        CALLING_DAY_S)
        live = self._fc_live * self._human_share() / self._fc_memory * span
        fp = self.fp_share / np.maximum(1.0 - self.fp_share, 1e-12)
        var = budget + (1.0 - self._abandon_limit) ** 2 * fp
        margin = AIM_Z * np.sqrt(var / np.maximum(live, 1.0))
        return np.maximum(np.minimum(aim, budget - margin), 0.5 * budget)

    def _refresh(self, now: float) -> None:
        """The price loops (every ``REFRESH_S``; see the constants)."""
        self._next_refresh = now + REFRESH_S
        dt = max(now - self._last_refresh, 0.0)
        decay = np.exp(-dt / self._fc_memory)
        self._last_refresh = now
        d_ab = self.added_abandons - self._seen_added_ab
        d_live = self.added_live - self._seen_added_live
        self._seen_added_ab = self.added_abandons.copy()
        self._seen_added_live = self.added_live.copy()
        self._fc_ab = self._fc_ab * decay + d_ab
        self._fc_live = self._fc_live * decay + d_live
        if self._t_start is None:
            self._t_start = now
        self._slow_live = self._slow_live * math.exp(-dt / LIVE_RATE_MEMORY_S) + d_live
        span = min(max(now - self._t_start, REFRESH_S), LIVE_RATE_MEMORY_S)
        live_rate = self._slow_live * self._human_share() / span  # per second
        self._fc_memory = np.clip(1.0 / np.maximum(self._budget * live_rate, 1e-12),
                                  FORECAST_MEMORY_S, FORECAST_MEMORY_MAX_S)
        new_ab, new_live = self._new_ab.copy(), self._new_live.copy()
        self._run_ab += new_ab
        # (a connect undone as a machine may come a refresh after its connect: never < 0)
        self._run_live = np.maximum(self._run_live + new_live, 0.0)
        self._new_ab[:] = 0.0
        self._new_live[:] = 0.0
        self.model_bias = (self._run_ab + BIAS_PRIOR * BIAS_INITIAL) / (
            self.added_abandons + BIAS_PRIOR)
        aim = self._aim()
        # what the rest of the window may use: the aim, less what the campaign has used over
        # it so far beyond chance (an early excess is paid back, an early saving is not
        # spent); the aim's own margin is for chance, so only an excess past WINDOW_Z
        # standard deviations (Poisson) of the count at the aim is paid back
        used = self._excess(aim)
        if not self.open_loop:  # the hold is feedback too: none in a calibration run
            self._hold_floor(now, aim, used, new_ab, new_live)
        if self._wait_rows.size:
            self._wait_loop(dt, new_live - new_ab)
        human = self._human_share()  # (over the live answers folded in just now)
        horizon_live = np.maximum(self._fc_live * human / self._fc_memory
                                  * WINDOW_PAYBACK_S, 1.0)
        aim_now = np.clip(aim - used / horizon_live, 0.1 * aim, aim)
        target = aim_now / self._bias_guard()
        ok = self._fc_live > 1.0
        forecast = np.where(ok, self._fc_ab / np.maximum(self._fc_live * human, 1e-12), target)
        # the gain per refresh shrinks as the memory grows, so a longer-remembered forecast
        # is not over-driven while it catches up with a new price
        gain = THETA_GAIN * FORECAST_MEMORY_S / self._fc_memory
        step = gain * (np.log(np.maximum(target, 1e-9)) - np.log(np.maximum(forecast, 1e-9)))
        # no raise where the price did not bind (THETA_BOUND), nor before the campaign has
        # seen enough live answers to judge its rate by (at cold start every agent is idle
        # and the forecast average is not the steady one)
        cold = (self._run_live * aim < THETA_COLD_ABANDONS) | \
            (now - self._t_start < self._handling_mean_s)
        bound = self._n_bound >= THETA_BOUND * np.maximum(self._n_decided, 1.0)
        self._n_bound[:] = 0.0
        self._n_decided[:] = 0.0
        step = np.where(~bound | cold, np.minimum(step, 0.0), step)
        top = np.minimum(THETA_MAX, THETA_SPAN * aim)
        step = np.clip(step, -THETA_STEP, THETA_STEP_UP)
        self.theta = np.clip(self.theta * np.exp(step), THETA_MIN, top)
        self._limit = self._effective_limit()

    def _wait_loop(self, dt: float, connects: np.ndarray) -> None:
        """AGENT_WAIT campaigns: the wait rule's target scaled toward the realised wait
        (see WAIT_MEMORY_S's note); ``connects``: connected live answers since the last
        refresh, ``dt`` seconds ago."""
        r = self._wait_rows
        decay = math.exp(-dt / WAIT_MEMORY_S)
        self._wait_idle_s[r] = self._wait_idle_s[r] * decay + self._wait_idle_new[r]
        self._wait_connects[r] = np.maximum(self._wait_connects[r] * decay + connects[r], 0.0)
        self._wait_idle_new[r] = 0.0
        seen = self._wait_connects[r]
        realised = self._wait_idle_s[r] / np.maximum(seen, 1.0)
        target = self._target_value[r]
        step = WAIT_GAIN * (np.log(np.maximum(target, 1e-3))
                            - np.log(np.maximum(realised, 1e-3)))
        chose = self._wait_bound[r] >= 0.5 * np.maximum(self._wait_decided[r], 1.0)
        step = np.where(chose, step, np.maximum(step, 0.0))
        step = np.where(seen >= WAIT_MIN_CONNECTS, np.clip(step, -WAIT_STEP, WAIT_STEP), 0.0)
        self._wait_scale[r] = np.clip(self._wait_scale[r] * np.exp(step), 1.0 / WAIT_SPAN,
                                      WAIT_SPAN)
        self._wait_bound[r] = 0.0
        self._wait_decided[r] = 0.0

    def _bias_guard(self) -> np.ndarray:
        """What the target is divided by: the model's bias where it under-forecasts (>= 1);
        where it over-forecasts, the upper one-sided BIAS_CHANCE confidence bound of realised
        over forecast abandons (the Poisson mean that makes no more abandons than realised a
        BIAS_CHANCE chance, over the forecast), and 1 while that bound is over 1: a
        pessimistic model is trusted as far as the evidence says, never on luck."""
        moved = self._run_ab != self._bound_at
        if moved.any():
            k = self._run_ab[moved]
            self._bound[moved] = gammaincinv(k + 1.0, 1.0 - BIAS_CHANCE)
            self._bound_at[moved] = k
        upper = self._bound / np.maximum(self.added_abandons, 1e-12)
        return np.maximum(self.model_bias, np.minimum(upper, 1.0))

    def _excess(self, aim: np.ndarray) -> np.ndarray:
        """Abandons realised over ``aim`` beyond chance (WINDOW_Z standard deviations of the
        count at the aim, the normal bound: paying back costs little, so even a small team's
        modest excess is paid back; ``_hold_floor``'s stronger step waits for
        ``chance_count``), this run's and those carried over a restart: what the price pays
        back (negative: a saving, not spent)."""
        run_ab = self._run_ab + self._carried_ab
        run_live = self._run_live + self._carried_live
        mean = aim * run_live
        return run_ab - mean - WINDOW_Z * np.sqrt(mean)

    def _hold_floor(self, now: float, aim: np.ndarray, used: np.ndarray, new_ab: np.ndarray,
                    new_live: np.ndarray) -> None:
        """Predictive campaigns whose realised rate, with the price at its floor, is over
        the aim beyond chance, as is their rate over the run (``used`` > 0), dial one line
        per idle agent until the rate at the floor is back at the aim (see WINDOW_Z's
        note); a warning names each, once. ``new_ab`` / ``new_live``: the abandons and live
        answers realised since the last refresh (at the price held over it: this runs
        before the price moves).

        Only the stretch at the floor is judged, from a dial's life and connect window
        after the price reached it (the abandons before are those of dials made at a
        higher price): a price at its floor after a burst of abandons is the loop paying
        the burst back, not a model that cannot reach the aim. Judged on the run so far,
        a burst a few minutes in (3 abandons of 100 live answers against an aim of 1.2 %)
        sent a campaign whose model reaches its aim to 1:1 for most of its hour: an
        Ofcom campaign of 80 agents (AMD accuracy 0.95) at 81.7 % occupancy against
        93-94 % on the other seeds."""
        at_min = self.theta <= THETA_MIN * (1.0 + 1e-9)
        stay = at_min | self._at_floor
        since = self._floor_since
        self._floor_since = np.where(stay, np.where(np.isfinite(since), since, now), -math.inf)
        judged = stay & (now - self._floor_since >= self._life + self._window_eff)
        self._floor_ab = np.where(judged, self._floor_ab + new_ab, 0.0)
        self._floor_live = np.where(judged, np.maximum(self._floor_live + new_live, 0.0), 0.0)
        ab, live = self._floor_ab, self._floor_live
        over = ab - chance_count(aim * live)
        start = self._modelled & ~self._at_floor & at_min & (over > 0) & (used > 0)
        end = self._at_floor & (ab <= aim * live)
        if not (start.any() or end.any()):
            return
        self._at_floor = (self._at_floor | start) & ~end
        for i in np.flatnonzero(start).tolist():
            rate = ab[i] / max(live[i], 1.0)
            self._warnings.add(
                f"campaign {i}: abandon rate {rate:.3f} over its aim {aim[i]:.3f} beyond "
                "chance with the price at its floor; paced so that no live answer is dropped "
                "until back at the aim (price_at_floor)")
        self._active = (self._modelled & ~self._at_floor).astype(np.int64)
        self._fallback_rows = np.flatnonzero(self._fallback | self._at_floor)

    def _vicidial(self, now, counts, in_flight, launch_due, dials) -> None:
        vr = self._vici_rows
        v = self.vici
        if now - self._next_sample > VICIDIAL_SAMPLES * VICIDIAL_SAMPLE_S:
            # a clock jump: only the last samples of the average can still matter
            self._next_sample = now - VICIDIAL_SAMPLES * VICIDIAL_SAMPLE_S
        while now + 1e-9 >= self._next_sample:
            self._next_sample += VICIDIAL_SAMPLE_S
            logged_in = counts[vr][:, [g.IDLE, g.BUSY, g.LEAVING, g.PAUSED]].sum(axis=1)
            _vicidial_sample(counts[vr, g.IDLE].copy(), counts[vr, g.WAITING].copy(),
                             logged_in, v.buf_ready, v.buf_waiting, v.buf_total, v.pos,
                             v.count)
        if now + 1e-9 >= self._next_recalc:
            self._next_recalc = now + VICIDIAL_RECALC_S
            p = v.params
            hhmm = np.array([clock_hhmm(int(h), now) for h in self._vicidial_start_hhmm[vr]],
                            dtype=np.int64)
            _vicidial_recalc(p.mode, p.intensity, p.dl_diff_target, p.max_level,
                             p.dropped_percentage, p.latest_hhmm, v.buf_ready, v.buf_waiting,
                             v.buf_total, v.count, self._minute_calls[vr].sum(axis=1),
                             self._minute_drops[vr].sum(axis=1), self._calls_today[vr],
                             self._answered_today[vr],
                             self._drops_today[vr], hhmm, v.level)
        if launch_due:
            out = np.empty(vr.size, dtype=np.int64)
            _fixed_ratio_launch(v.level, counts[vr, g.IDLE].copy(), counts[vr, g.CONNECTED].copy(),
                                in_flight[vr].copy(), out)
            dials[vr] = out

    def _timed(self, dt, in_flight, dials) -> None:
        tr = self._timed_rows
        t = self.timed
        p = t.params
        out = np.empty(tr.size, dtype=np.int64)
        _timed_launch(p.rate_per_s, p.min_ports, p.max_ports, in_flight[tr], dt, t.credit, out,
                      t.reserved)
        poisson = self._timed_poisson
        if self._timed_any_poisson:  # Poisson arrivals (validation runs): counts ~ Poisson
            k = self._rng.poisson(p.rate_per_s[poisson] * dt)
            room = np.maximum(p.max_ports[poisson] - in_flight[tr][poisson], 0)
            out[poisson] = np.minimum(k, room)
        dials[tr] = out


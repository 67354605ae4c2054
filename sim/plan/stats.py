"""The one aggregation of replications: KPI means, 95 % intervals and verdicts.

Replication ``i`` of a run with base seed ``s`` uses seed ``s + i``; each seed goes through
``numpy.random.SeedSequence``, so streams are independent and any executor reproduces them.

Rates are judged on pooled counts, never by averaging per-replication rates: the abandon
rate of R replications is (sum of abandons) / (sum of live answers). Its 95 % interval is
the union of two intervals, each honest about a different thing:

- the Wilson score interval of the pooled counts, which stays inside [0, 1] and never
  collapses to a point (0 abandons out of 400 live answers gives [0 %, 0.95 %], not
  [0 %, 0 %]); it alone would be too narrow when abandons come in bursts;
- the ratio estimator's Student-t interval across replications (Cochran, *Sampling
  Techniques*, 3rd ed., section 6.4), which carries the run-to-run spread (the pacer's
  state, correlated bursts) and needs 2 or more replications.

Other KPIs get the Student-t interval of their per-replication values, clipped to their
range (every KPI is >= 0; ``FRACTION_KEYS`` are <= 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from engine import kpi
from engine.attempt import CHANNEL_NAMES

# Every KPI row (``sim.plan.task.kpi_row``) has these keys, in this order.
KPI_KEYS = ("attempts", "bhcc", "blocked",
            *(f"attempts_{ch}" for ch in CHANNEL_NAMES),
            "bhcc_agent", "live_answers", "abandons", "connects", "machines",
            "amd_false_positives", "connected_in_threshold",
            "abandon_rate", "abandon_rate_ofcom", "service_level", "occupancy",
            "agent_wait_mean_s", "ports_peak", "ports_mean",
            "occupancy_outbound", "occupancy_inbound", "inbound_offered", "inbound_answered",
            "inbound_abandoned", "inbound_answered_in_threshold", "inbound_service_level",
            "inbound_abandon_rate", "inbound_asa_s", "port_blocked", "port_delayed",
            "lent_agent_s", "blending_lends", "blending_recalls")
FRACTION_KEYS = kpi.FRACTION_KPIS
KPI_DOC = {k: kpi.KPIS[k] for k in KPI_KEYS}  # one vocabulary: engine.kpi names them
MIN_REPLICATIONS = 2  # a verdict needs a run-to-run spread
# More replications than this to decide a target means its value sits practically on the
# bound (e.g. 4,999 SMS an hour offered at exactly the 5,000 asked): replications will not
# settle it in practice; the planner decides with a margin on the bound instead.
PRACTICAL_REPLICATIONS = 100
RISK_QUANTILES = 400  # points of the rate's distribution p_over_limit averages over
JEFFREYS = (0.5, 0.5)  # the Beta prior's pseudo-counts (abandons, other live answers)
MIN_COPIES = 3  # copies of a campaign with live answers whose spread copies_prior reads
CONFIDENCE = 0.95


# rate key -> (numerator, denominator) of one row's counts; pooled by summing both.
RATE_PARTS: dict[str, Callable[[Mapping[str, float]], tuple[float, float]]] = {
    "abandon_rate": lambda c: (c["abandons"], c["live_answers"]),
    "abandon_rate_ofcom": kpi.ofcom_parts,
    "service_level": lambda c: (c["connected_in_threshold"], c["live_answers"]),
    "inbound_service_level": lambda c: (c["inbound_answered_in_threshold"],
                                         c["inbound_offered"]),
    "inbound_abandon_rate": lambda c: (c["inbound_abandoned"], c["inbound_offered"]),
}


def replication_seeds(seed: int, replications: int) -> list[int]:
    return [seed + i for i in range(replications)]


def _t(n: int) -> float:
    return float(special.stdtrit(n - 1, 0.5 + CONFIDENCE / 2))  # Student t quantile


def mean_ci95(values: Sequence[float]) -> tuple[float, float | None, float | None]:
    """Mean and the two-sided 95 % Student-t interval (None bounds with fewer than 2 values)."""
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return mean, None, None
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    half = _t(n) * math.sqrt(var / n)
    return mean, mean - half, mean + half


def wilson(successes: float, trials: float) -> tuple[float, float]:
    """The 95 % Wilson score interval of a proportion (counts may be fractional, as Ofcom's
    adjusted drops are); ``(0, 1)`` when there is no trial."""
    if trials <= 0:
        return 0.0, 1.0
    z = float(special.ndtri(0.5 + CONFIDENCE / 2))  # standard normal quantile
    p = min(max(successes / trials, 0.0), 1.0)
    den = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / den
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / den
    # the exact ends at p = 0 and p = 1 (the formula leaves a rounding residue there)
    lo = 0.0 if p == 0.0 else max(0.0, min(p, centre - half))
    hi = 1.0 if p == 1.0 else min(1.0, max(p, centre + half))
    return lo, hi


def ratio_ci95(nums: Sequence[float], dens: Sequence[float]) -> tuple[float, float] | None:
    """Student-t interval of the ratio estimator ``R = sum(nums) / sum(dens)`` across
    replications (linearised variance of the residuals ``num - R * den``); None with fewer
    than 2 replications or no denominator."""
    n = len(nums)
    total = math.fsum(dens)
    if n < 2 or total <= 0:
        return None
    r = math.fsum(nums) / total
    resid = [y - r * x for y, x in zip(nums, dens, strict=True)]
    var = math.fsum(e * e for e in resid) / (n - 1)
    half = _t(n) * math.sqrt(var / n) / (total / n)
    return r - half, r + half


def rate_ci95(nums: Sequence[float], dens: Sequence[float]) -> tuple[float, float, float]:
    """A rate pooled over replications and its 95 % interval (module docstring), in [0, 1].

    Returns ``(rate, lo, hi)``; with no denominator at all the rate is 0 and the interval
    [0, 1] (nothing is known).
    """
    num, den = math.fsum(nums), math.fsum(dens)
    rate = num / den if den > 0 else 0.0
    lo, hi = wilson(num, den)
    spread = ratio_ci95(nums, dens)
    if spread is not None:
        lo, hi = min(lo, spread[0]), max(hi, spread[1])
    return rate, min(max(lo, 0.0), 1.0), min(max(hi, 0.0), 1.0)


def p_over_limit(nums: Sequence[float], dens: Sequence[float], run_s: float,
                 window_s: float, limit: float,
                 prior: tuple[float, float] = JEFFREYS) -> float:
    """Estimated probability that a campaign's abandon rate, judged over its regulatory
    window of ``window_s`` seconds, ends over ``limit``.

    The campaign's true rate is uncertain: a Beta distribution with the prior's
    pseudo-counts ``prior = (abandons, other live answers)`` (Jeffreys' (1/2, 1/2) unless
    the campaign's copies lend theirs: ``copies_prior``) added to its counts over the
    replications of ``run_s`` seconds, mean ``(abandons + a0) / (live + a0 + b0)`` and the
    binomial variance, widened by the replications' spread where that is wider than the
    campaign's own counts make chance (bursts: by the ratio of the two variances, so a copy
    whose replications spread as chance does keeps its copies' evidence). A window
    holding ``n`` live answers (at the measured live rate) then ends over the limit with the
    normal chance ``P(rate + noise > limit)``, noise of variance ``p (1 - p) / n``; averaged
    over the Beta's quantiles. So 0 abandons out of 60 live answers is not read as
    certainty, and a 30-day window is judged on the true rate, a 1-hour one on its luck too.
    Fraction 0..1."""
    total = math.fsum(dens)
    if total <= 0 or run_s <= 0:
        return 0.0
    a0, b0 = prior
    m = (math.fsum(nums) + a0) / (total + a0 + b0)
    var = m * (1.0 - m) / (total + a0 + b0)
    spread = ratio_ci95(nums, dens)
    if spread is not None:
        own = (math.fsum(nums) + JEFFREYS[0]) / (total + sum(JEFFREYS))  # its counts alone
        chance = own * (1.0 - own) / (total + sum(JEFFREYS))
        seen = ((spread[1] - spread[0]) / (2.0 * _t(len(nums)))) ** 2
        if seen > chance:  # with Jeffreys' prior: the spread's variance itself
            var = seen if prior == JEFFREYS else var * seen / chance
    var = min(var, 0.99 * m * (1.0 - m))
    kappa = m * (1.0 - m) / var - 1.0
    q = (np.arange(RISK_QUANTILES) + 0.5) / RISK_QUANTILES
    p = special.betaincinv(m * kappa, (1.0 - m) * kappa, q)  # the Beta's quantiles
    in_window = max(total / (len(dens) * run_s) * window_s, 1.0)  # live answers it holds
    sd = np.sqrt(np.maximum(p * (1.0 - p), 1e-12) / in_window)
    return float(np.mean(special.ndtr((p - limit) / sd)))  # normal P(noise > limit - p)


def summarise_rows(rows: Sequence[Mapping[str, float]], keys: Sequence[str] = KPI_KEYS
                   ) -> tuple[dict[str, float], dict[str, list[float] | None]]:
    """KPI values and 95 % intervals of replications: ``({key: value}, {key: [lo, hi] or
    None})``. Rates (``RATE_PARTS``) are pooled with ``rate_ci95``; every other KPI is the
    mean with a Student-t interval (None with one replication), clipped to its range."""
    means: dict[str, float] = {}
    ci: dict[str, list[float] | None] = {}
    for k in keys:
        if k in RATE_PARTS:
            parts = [RATE_PARTS[k](r) for r in rows]
            rate, lo, hi = rate_ci95([p[0] for p in parts], [p[1] for p in parts])
            means[k], ci[k] = rate, [lo, hi]
            continue
        m, lo, hi = mean_ci95([float(r[k]) for r in rows])
        means[k] = m
        if lo is None or hi is None:
            ci[k] = None
            continue
        top = 1.0 if k in FRACTION_KEYS else math.inf
        ci[k] = [min(max(lo, 0.0), top), min(max(hi, 0.0), top)]
    return means, ci


@dataclass(frozen=True)
class Verdict:
    """A KPI judged against a limit (``kpi <= limit`` or ``kpi >= limit``) on its interval.

    ``met`` is True when the whole interval is on the right side, False when it is wholly
    on the wrong side, None (undecided) when it straddles the limit or there are fewer than
    ``MIN_REPLICATIONS`` replications; ``needed`` then estimates the replications that would
    decide (None when the value sits on the limit, where no number will). ``scope`` names
    what was judged when it is not the whole KPI (the campaigns held to one of several
    abandon limits, ``sim.plan.limits``).
    """

    kpi: str
    op: str
    limit: float
    value: float
    lo: float | None
    hi: float | None
    replications: int
    met: bool | None
    needed: int | None = None
    scope: str = ""

    @property
    def bound(self) -> float:
        """The bound the verdict rests on: upper for ``<=``, lower for ``>=`` (the value
        when there is no interval)."""
        b = self.hi if self.op == "<=" else self.lo
        return self.value if b is None else b

    @property
    def note(self) -> str:
        """One line for a table or log (after the ``scope``, when there is one)."""
        return f"{self.scope}: {self._note}" if self.scope else self._note

    @property
    def _note(self) -> str:
        if self.met is not None:
            return f"{'met' if self.met else 'missed'} ({self.replications} replications)"
        if self.replications < MIN_REPLICATIONS:
            return (f"undecided: {self.replications} replication(s), needs at least "
                    f"{max(MIN_REPLICATIONS, self.needed or 0)}")
        if self.needed is None:
            return f"undecided: the value sits on the limit ({self.replications} replications)"
        if self.needed > PRACTICAL_REPLICATIONS:
            gap = abs(self.value - self.limit) / abs(self.limit) if self.limit else math.inf
            return (f"undecided: the value is within {100 * gap:.2g} % of the limit, "
                    f"practically on it ({self.replications} replications; about "
                    f"{self.needed} would decide): judge it with a margin on the limit")
        return (f"undecided: the interval straddles the limit with {self.replications} "
                f"replications, about {self.needed} would decide")

    def as_dict(self) -> dict:
        d = {"kpi": self.kpi, "op": self.op, "limit": self.limit, "value": self.value,
             "lo": self.lo, "hi": self.hi, "replications": self.replications,
             "met": self.met, "needed": self.needed, "note": self.note}
        if self.scope:
            d["scope"] = self.scope
        return d


def judge(kpi: str, op: str, limit: float, value: float, ci: Sequence[float] | None,
          replications: int) -> Verdict:
    """The verdict on ``kpi op limit`` from a value and its 95 % interval (``Verdict``)."""
    if op not in ("<=", ">="):
        raise ValueError(f"op: expected <= or >=, got {op!r}")
    lo, hi = (None, None) if ci is None else (float(ci[0]), float(ci[1]))
    gap = abs(value - limit)
    needed = None
    met: bool | None = None
    if lo is not None and hi is not None:
        good, bad = (hi <= limit, lo > limit) if op == "<=" else (lo >= limit, hi < limit)
        if good or bad:
            met = bool(good)
        elif gap > 0:
            half = (hi - value) if value < limit else (value - lo)
            needed = max(replications + 1, math.ceil(replications * (half / gap) ** 2 - 1e-9))
    if replications < MIN_REPLICATIONS:
        met, needed = None, max(MIN_REPLICATIONS, needed or 0)
    return Verdict(kpi, op, limit, value, lo, hi, replications, met, needed)


@dataclass
class Summary:
    """Replications of one scenario aggregated: ``total`` holds every KPI of ``KPI_KEYS``
    (rates pooled, the rest means) and the mean attempts by channel, ``ci95`` the 95 %
    intervals, ``campaigns`` each campaign's KPIs averaged over the replications."""

    scenario: str
    seed: int
    replications: int
    sim_hours: float
    wall_s: float
    total: dict
    campaigns: list[dict]
    ci95: dict
    warnings: list[str]
    intervals: list[dict] = field(default_factory=list)
    inbound: dict = field(default_factory=dict)  # per inbound skill (skill_summary)
    warning_records: list[dict] = field(default_factory=list)  # the runs' objects, each once


def interval_summary(records: Sequence[Mapping]) -> list[dict]:
    """The measured intervals over every campaign, averaged over the replications: counts
    and staffing are means per replication; the abandon rate and occupancy are pooled
    (abandons over live answers, busy over logged-in agent time: the agents on a job and
    those on none, idle, as the occupancy KPI counts them)."""
    rows = [r.get("interval_rows") or [] for r in records]
    n = min((len(x) for x in rows), default=0)
    out = []
    for k in range(n):
        at = [x[k] for x in rows]
        row = {"t_start_s": at[0]["t_start_s"]}
        for key in at[0]:
            if key != "t_start_s":
                row[key] = math.fsum(a[key] for a in at) / len(at)
        live = math.fsum(a["live_answers"] for a in at)
        staffed = math.fsum(a["staffed_mean"] + a.get("unassigned_mean", 0.0) for a in at)
        row["abandon_rate"] = math.fsum(a["abandons"] for a in at) / live if live else 0.0
        row["occupancy"] = (math.fsum(a["busy_mean"] for a in at) / staffed
                            if staffed else 0.0)
        out.append(row)
    return out


def _mean_dicts(dicts: Sequence[Mapping]) -> dict:
    out: dict = {}
    for k, v in dicts[0].items():
        if isinstance(v, bool) or not isinstance(v, int | float | dict):
            out[k] = v
        elif isinstance(v, dict):
            out[k] = _mean_dicts([d[k] for d in dicts])
        else:
            out[k] = math.fsum(d[k] for d in dicts) / len(dicts)
    return out


# A skill's inbound KPI (``sim.inbound_kpi.block`` names) -> the total's KPI of the same
# definition, so a skill's rows aggregate exactly as the total's (rates pooled on counts).
SKILL_KPIS = {"offered": "inbound_offered", "answered": "inbound_answered",
              "abandoned": "inbound_abandoned",
              "answered_in_threshold": "inbound_answered_in_threshold",
              "service_level": "inbound_service_level",
              "abandon_rate": "inbound_abandon_rate", "asa_s": "inbound_asa_s",
              "occupancy_inbound": "occupancy_inbound"}


def skill_summary(records: Sequence[Mapping]) -> dict[str, dict]:
    """Per inbound skill, its KPIs over the replications with 95 % intervals: every key
    of the records' per-skill blocks averaged, then the ``SKILL_KPIS`` replaced by
    ``summarise_rows``'s values (service level and abandon rate pooled on counts) and
    their intervals under ``ci95``; empty without inbound skills."""
    first = records[0].get("inbound") if records else None
    if not first:
        return {}
    out: dict[str, dict] = {}
    for name in first:
        blocks = [r["inbound"][name] for r in records]
        rows = [{kk: float(b.get(k, 0.0)) for k, kk in SKILL_KPIS.items()} for b in blocks]
        means, ci = summarise_rows(rows, tuple(SKILL_KPIS.values()))
        d = _mean_dicts(blocks)
        d.update({k: means[kk] for k, kk in SKILL_KPIS.items()})
        d["ci95"] = {k: ci[kk] for k, kk in SKILL_KPIS.items()}
        out[name] = d
    return out


NO_ATTEMPT = ("no attempt completed in the measured window: every KPI is 0 (no agent with "
              "the campaigns' skill, no contact, campaigns scheduled outside the run, or a "
              "measured window shorter than a call: sim_hours?)")


def copies_spread(abandons: Sequence[float], live: Sequence[float]) -> tuple[float, float]:
    """The pooled abandon rate of copies of one campaign and the variance of their true
    rates beyond binomial chance (fractions), by the method of moments for proportions
    with unequal sizes (Kleinman, "Proportions with extraneous variance", JASA 68, 1973):
    with rates r_i = a_i / n_i, N = sum n_i and the pooled m, the weighted sum of squares
    ``S = sum n_i (r_i - m)^2`` has expectation ``m (1 - m) (k - 1) + tau^2 (N - sum n_i^2 /
    N)`` when the true rates spread with variance tau^2; tau^2 solves it, 0 when S is no
    more than chance gives. Copies with no live answer are left out."""
    a = np.asarray(abandons, dtype=np.float64)
    n = np.asarray(live, dtype=np.float64)
    keep = n > 0
    a, n = a[keep], n[keep]
    total = float(n.sum())
    if a.size == 0:
        return 0.0, 0.0
    m = float(a.sum()) / total
    if a.size < 2:
        return m, 0.0
    s = float(np.sum(n * (a / n - m) ** 2))
    d = total - float(np.sum(n * n)) / total
    chance = m * (1.0 - m) * (a.size - 1)
    return m, max(s - chance, 0.0) / d if d > 0 else 0.0


def enough_copies(live: Sequence[float]) -> bool:
    """Whether copies of a campaign with these live answers (per copy) are enough to read
    their spread: ``MIN_COPIES`` or more with live answers."""
    return int(np.count_nonzero(np.asarray(live, dtype=np.float64) > 0)) >= MIN_COPIES


def copies_prior(i: int, abandons: Sequence[float], live: Sequence[float]) -> tuple[float, float]:
    """The prior pseudo-counts (abandons, other live answers) that copy ``i`` of a
    campaign gets from its copies (``copies_spread``): the other copies' pooled rate,
    worth as many live answers as the copies' spread allows (``m (1 - m) / tau^2 - 1``, a
    Beta of that variance), never more than the others hold; over Jeffreys' half counts.
    Copies run the same pacing on the same traffic, so a copy's hour far from the rest is
    read as the chance it mostly is, unless the copies spread more than chance does. With
    fewer than ``MIN_COPIES`` copies with live answers: Jeffreys' alone."""
    a = np.asarray(abandons, dtype=np.float64)
    n = np.asarray(live, dtype=np.float64)
    if not enough_copies(n):
        return JEFFREYS
    _, tau2 = copies_spread(a, n)
    others_a = float(a.sum() - a[i])
    others_n = float(n.sum() - n[i])
    if not others_n > 0:
        return JEFFREYS
    m = others_a / others_n
    weight = others_n if tau2 <= 0 else min(m * (1.0 - m) / tau2 - 1.0, others_n)
    weight = max(weight, 0.0)
    return JEFFREYS[0] + m * weight, JEFFREYS[1] + (1.0 - m) * weight


def each_regulation(regulation, n: int) -> list:
    """One regulation per campaign: ``regulation`` is one for every campaign (a
    ``sim.scenario.Regulation``) or a sequence of ``n``, one per campaign in the records'
    order (``Scenario.regulations``: a campaign may have its own)."""
    if isinstance(regulation, Sequence):
        regs = list(regulation)
        if len(regs) != n:
            raise ValueError(f"regulation: expected one per campaign ({n}), got {len(regs)}")
        return regs
    return [regulation] * n


def limit_risks(records: Sequence[Mapping], regulation, run_s: float) -> dict[int, float]:
    """``p_over_limit`` of each campaign with live answers (index -> chance 0..1), over its
    regulation's window and in its mode (``regulation``: one for all, or one per campaign,
    ``each_regulation``; ``"fcc"``: abandons over live answers;
    ``"ofcom"``: abandons and AMD false positives over live calls, ``kpi.ofcom_parts``);
    the replications last ``run_s`` seconds each. Copies of one campaign (``copies = N``:
    one template) lend each other their evidence (``copies_prior``). A preview campaign
    cannot drop a live answer (its agent is on the line first): 0 under the FCC's rule
    (Ofcom's counts AMD false positives, which it may still make)."""
    out = {}
    camps = records[0]["campaigns"]
    regs = each_regulation(regulation, len(camps))
    counts = []  # per campaign: (abandons, live) of each replication
    for i in range(len(camps)):
        parts = RATE_PARTS[limited_rate(regs[i])]
        split = [parts(r["campaigns"][i]) for r in records]
        counts.append(([float(p[0]) for p in split], [float(p[1]) for p in split]))
    copies: dict[str, list[int]] = {}
    for i, c in enumerate(camps):
        copies.setdefault(c.get("template", c.get("name", str(i))), []).append(i)
    for group in copies.values():  # copies share their template's regulation
        a = [math.fsum(counts[i][0]) for i in group]
        n = [math.fsum(counts[i][1]) for i in group]
        for k, i in enumerate(group):
            nums, dens = counts[i]
            reg = regs[i]
            if not sum(dens) > 0:
                continue
            if camps[i].get("pacing") == "preview" and reg.mode != "ofcom":
                out[i] = 0.0  # its agent is on the line before the call: nobody to drop
                continue
            out[i] = p_over_limit(nums, dens, run_s, reg.judged_window_s,
                                  reg.abandon_limit, copies_prior(k, a, n))
    return out


def limited_rate(regulation) -> str:
    """The abandon-rate KPI ``regulation`` limits: ``abandon_rate_ofcom`` under Ofcom,
    ``abandon_rate`` (FCC/TSR) otherwise."""
    return "abandon_rate_ofcom" if regulation.mode == "ofcom" else "abandon_rate"


AMD_RISK_WARN = 0.05  # the chance that crosses abandon_limit_at_risk (fraction 0..1)


def amd_limit_risks(records: Sequence[Mapping], regulation, run_s: float,
                    named: Sequence[Mapping] = ()) -> list[dict]:
    """Warning objects (``abandon_limit_at_risk``) for the Ofcom campaigns (``regulation``:
    one for all, or one per campaign, ``each_regulation``) whose AMD false
    positives alone end the regulator's window over the limit with a chance of
    ``AMD_RISK_WARN`` or more (``p_over_limit`` of false positives over live calls):
    whatever the pacer does, as it cannot see them. Campaigns the pacer's own warnings
    (``named``: warning objects) call ``abandon_limit_infeasible`` are left out: their
    estimated share reaches the limit, which that warning says. Few live calls a window (a
    small team) make the share's spread cross the limit where its mean does not. FCC
    campaigns: none (false positives are not drops there)."""
    out = []
    camps = records[0]["campaigns"]
    regs = each_regulation(regulation, len(camps))
    known = {w.get("campaign") for w in named if w.get("code") == "abandon_limit_infeasible"}
    for i, c in enumerate(camps):
        regulation = regs[i]
        if regulation.mode != "ofcom":
            continue
        name = c.get("name", str(i))
        fp = [float(r["campaigns"][i]["amd_false_positives"]) for r in records]
        calls = [float(r["campaigns"][i]["live_answers"]) + f
                 for r, f in zip(records, fp, strict=True)]
        if not sum(fp) > 0 or name in known:
            continue
        share = math.fsum(fp) / math.fsum(calls)
        p = p_over_limit(fp, calls, run_s, regulation.judged_window_s,
                         regulation.abandon_limit)
        if p < AMD_RISK_WARN:
            continue
        limit = float(regulation.abandon_limit)
        cure = "" if share >= limit else " or more live calls a window"
        out.append({
            "code": "abandon_limit_at_risk", "campaign": name, "mode": "ofcom",
            "limit": limit, "estimated_floor": share, "p_over_limit": p,
            "message": f"campaign {name}: its AMD false positives alone ({share:.2%} of "
                       f"live calls on average) end its window over the abandon limit "
                       f"{limit:.2%} with a chance of {p:.0%}, whatever the pacing (a "
                       "dialer cannot see them): fewer AMD errors on humans (amd.accuracy, "
                       f"amd.errors_on_humans){cure} (abandon_limit_at_risk)"})
    return out


def summarise(records: Sequence[Mapping], scenario: str, sim_hours: float, wall_s: float,
              scenario_warnings: Sequence[str] = (), regulation=None) -> Summary:
    """Aggregate the records of ``sim.plan.task.run_task`` (seed order) into a ``Summary``;
    its warnings are the scenario's, then the runs' (each once), then ``NO_ATTEMPT`` when
    nothing completed. With the scenario's ``regulation`` (one for all, or one per
    campaign: ``Scenario.regulations``), each agent-based campaign gets the rule it is
    judged by (``regulation``: ``fcc`` or ``ofcom``; ``abandon_limit``) and ``p_over_limit``
    (``limit_risks``) over its regulation's window."""
    means, ci = summarise_rows([r["kpis"] for r in records])
    total = {**means, "attempts_by_channel": {
        ch: means[f"attempts_{ch}"] for ch in CHANNEL_NAMES}}
    camps = [_mean_dicts([r["campaigns"][i] for r in records])
             for i in range(len(records[0]["campaigns"]))]
    if regulation is not None:
        for i, reg in enumerate(each_regulation(regulation, len(camps))):
            if camps[i].get("channel") == "voice_agent":  # the rule it is judged by
                camps[i]["regulation"] = reg.mode
                camps[i]["abandon_limit"] = reg.abandon_limit
        for i, p in limit_risks(records, regulation, sim_hours * 3600.0).items():
            camps[i]["p_over_limit"] = p
    objects = warning_objects(records, regulation, sim_hours * 3600.0)
    warnings = list(dict.fromkeys([*scenario_warnings,
                                   *sorted({w for r in records for w in r["warnings"]}),
                                   *(w["message"] for w in objects
                                     if w.get("code") == "abandon_limit_at_risk")]))
    if not means["attempts"]:
        warnings.append(NO_ATTEMPT)
    else:
        warnings += idle_campaigns(camps)
    inbound = skill_summary(records)
    return Summary(scenario, int(records[0]["seed"]), len(records), sim_hours, wall_s, total,
                   camps, ci, warnings, intervals=interval_summary(records), inbound=inbound,
                   warning_records=objects)


def idle_campaigns(camps: Sequence[Mapping]) -> list[str]:
    """One warning naming the campaigns (templates: ``name (N of M jobs)`` for copies)
    that completed no attempt in the measured window of any replication while others did:
    a campaign left silent (its calling windows closed all run, its list empty, its schedule
    outside the run, no agent or license for it) is otherwise only a 0 in its row."""
    jobs: dict[str, list[bool]] = {}
    for c in camps:
        jobs.setdefault(str(c.get("template") or c.get("name")), []).append(
            not c.get("attempts"))
    idle = [f"{t} ({sum(v)} of {len(v)} jobs)" if len(v) > 1 else t
            for t, v in jobs.items() if any(v)]
    if not idle:
        return []
    return [f"no attempt completed in the measured window by campaign(s) {', '.join(idle)}: "
            "calling windows closed all run, an empty or used-up list, a schedule outside "
            "the run, or no agent or license for them? (`--intervals` shows when the others "
            "dialled)"]


def warning_objects(records: Sequence[Mapping], regulation, run_s: float) -> list[dict]:
    """The runs' warning objects (``warning_records``) and, with the scenario's
    ``regulation`` (one, or one per campaign), the planner's ``abandon_limit_at_risk``
    ones (``amd_limit_risks``) over replications of ``run_s`` seconds: what ``simulate``
    and ``compare`` report."""
    named = warning_records(records)
    if regulation is None:
        return named
    return named + amd_limit_risks(records, regulation, run_s, named)


def warning_records(records: Sequence[Mapping]) -> list[dict]:
    """The runs' warning objects (``RunResult.warning_records``), each (code, campaign)
    once, in the order first seen."""
    seen: dict[tuple, dict] = {}
    for r in records:
        for w in r.get("warning_records", ()):
            seen.setdefault((w.get("code"), w.get("campaign")), dict(w))
    return list(seen.values())

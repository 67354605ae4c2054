"""Pacing policies side by side on identical traffic, and the best simple ratios.

Every policy runs the same seeds; each campaign draws its outcomes from its own streams, so
the k-th dial of a campaign meets the same answer whatever the policy (common random
numbers). Outcome KPIs are over the agent-based campaigns (``sim.plan.task.kpi_row``). A
policy meets the abandon limit when the upper 95 % bound of its abandon rate (pooled counts,
``sim.plan.stats``), in the campaigns' regulatory mode, is at or under the limit (with
campaigns under several rules, each rule's campaigns against theirs: ``sim.plan.limits``); it misses
when the lower bound is over it, and stays undecided otherwise or with fewer than
``sim.plan.stats.MIN_REPLICATIONS`` replications (the verdict says how many would decide).

The best fixed ratio and best progressive ratio are the simple baselines a predictive
pacer must beat: the highest ratio meeting the limit, found by bisection on a ratio grid
(the abandon rate rises with the ratio), not by a scan.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sim.plan.assess import Assessment, assess_records
from sim.plan.batch import Listener, run_all, tasks_for
from sim.plan.cache import ResultCache
from sim.plan.executors import Executor
from sim.plan.limits import limit_verdict, rule_groups
from sim.plan.stats import (
    KPI_KEYS,
    Verdict,
    limit_risks,
    limited_rate,
    skill_summary,
    summarise_rows,
    warning_objects,
)
from sim.scenario import Scenario, parse_policy, with_policy

COMPARE_KEYS = ("occupancy", "abandon_rate", "abandon_rate_ofcom", "agent_wait_mean_s",
                "service_level", "bhcc", "bhcc_agent")
RATIO_KINDS = {"ratio": "fixed", "progressive": "progressive"}
SMALL_CAMPAIGN_AGENTS = 100


def limit_kpi(scn: Scenario) -> str:
    """The abandon-rate KPI the agent-based campaigns' regulation limits (FCC/TSR or
    Ofcom): the first rule's when they follow several (``sim.plan.limits``), the
    scenario's without an agent-based campaign."""
    groups = rule_groups(scn)
    return limited_rate(groups[0].regulation if groups else scn.regulation)


@dataclass
class PolicyResult:
    """KPIs of one policy over the replications, with 95 % intervals and the verdict on
    the abandon limit (``meets_limit`` is True only when the verdict says met)."""

    policy: str
    kpis: dict[str, float]
    ci95: dict[str, list[float] | None]
    verdict: Verdict
    ratio: float | None = None
    runs: list[dict] = field(default_factory=list, repr=False)
    assessment: Assessment | None = field(default=None, repr=False)
    skills: dict[str, dict] = field(default_factory=dict)  # per inbound skill, if any
    campaigns: list[dict] = field(default_factory=list, repr=False)
    warning_records: list[dict] = field(default_factory=list, repr=False)

    @property
    def p_over_limit(self) -> float | None:
        """The riskiest agent-based campaign's chance of ending its regulatory window over
        the limit (``sim.plan.stats.p_over_limit``); None without a live answer."""
        risks = [c["p_over_limit"] for c in self.campaigns]
        return max(risks) if risks else None

    @property
    def meets_limit(self) -> bool:
        return self.verdict.met is True

    @property
    def limit_bound(self) -> float:
        """The upper 95 % bound of the limited abandon rate."""
        return self.verdict.bound

    def as_dict(self) -> dict:
        """The ``--json`` entry: the comparison KPIs (fractions 0..1), verdict and intervals."""
        d: dict = {"policy": self.policy}
        if self.ratio is not None:
            d["ratio"] = self.ratio
        d.update({k: self.kpis[k] for k in COMPARE_KEYS})
        d["meets_limit"] = self.verdict.met
        d["verdict"] = self.verdict.as_dict()
        d["campaigns"] = self.campaigns
        d["p_over_limit"] = self.p_over_limit
        d["ci95"] = {k: self.ci95[k] for k in COMPARE_KEYS}
        if self.skills:
            d["skills"] = self.skills
        if self.assessment is not None:
            a = self.assessment.as_dict()
            d.update({"targets": a["targets"], "targets_verdict": a["verdict"],
                      "platform": a["platform"], "warnings": a["warnings"]})
        if self.warning_records:
            d["warnings"] = [*d.get("warnings", []), *self.warning_records]
        return d


def _result(scn: Scenario, policy: str, records: Sequence[dict],
            ratio: float | None = None) -> PolicyResult:
    rows = [r["kpis"] for r in records]
    means, ci = summarise_rows(rows, KPI_KEYS)
    verdict = limit_verdict(scn, records, means, ci)
    runs = [{"seed": r["seed"], **r["kpis"]} for r in records]
    camps = [{"campaign": scn.campaigns[i].name,
              "live_answers": sum(r["campaigns"][i]["live_answers"] for r in records)
              / len(records), "p_over_limit": p}
             for i, p in limit_risks(records, scn.regulations, scn.sim_hours * 3600.0).items()
             if scn.campaigns[i].agent_based]
    return PolicyResult(policy, means, ci, verdict, ratio, runs,
                        assess_records(with_policy(scn, policy), records),
                        skill_summary(records), camps,
                        warning_objects(records, scn.regulations, scn.sim_hours * 3600.0))


def evaluate(scn: Scenario, policies: Sequence[str], seed: int, replications: int,
             executor: Executor | None = None, cache: ResultCache | None = None,
             listener: Listener | None = None) -> list[PolicyResult]:
    """Run every policy (``predictive``, ``ratio:1.5``...) on the same seeds, in one batch.

    Raises:
        ValueError: for an unknown policy (before anything runs).
    """
    scns = [with_policy(scn, p) for p in policies]
    tasks = [t for s in scns for t in tasks_for(s, seed, replications)]
    recs = run_all(tasks, executor, cache, listener, label=", ".join(policies))
    out = []
    for k, p in enumerate(policies):
        mine = recs[k * replications:(k + 1) * replications]
        _, ratio = parse_policy(p)
        out.append(_result(scn, p, mine, ratio))
    return out


def default_ratio_step(scn: Scenario) -> float:
    """Ratio resolution of the search: 0.01 when the agent-based campaigns average up to
    100 agents (one line more or less is a ratio step of 0.01 or more there, and the
    abandon rate of a small team jumps with each line), else 0.02."""
    n = sum(1 for c in scn.campaigns if c.agent_based)
    per = scn.dialer_agents / n if n else 0
    return 0.01 if per <= SMALL_CAMPAIGN_AGENTS else 0.02


@dataclass
class RatioSearch:
    """The outcome of ``best_ratio``: the best result (None when even ``lo`` breaks the
    limit), every ratio evaluated, and the grid searched."""

    kind: str
    best: PolicyResult | None
    steps: list[PolicyResult]
    lo: float
    hi: float
    step: float

    @property
    def note(self) -> str:
        if self.best is None:
            first = next((r for r in self.steps if r.ratio == self.lo), None)
            v = None if first is None else first.verdict
            if v is not None and v.value <= v.limit:
                return (f"no {RATIO_KINDS[self.kind]} ratio is shown to meet the limit: even "
                        f"{self.lo:g}, at {100 * v.value:.2f} % on average, has an upper "
                        f"bound of {100 * v.bound:.2f} % over {v.replications} "
                        "replication(s), too few live answers to decide (run more "
                        "replications or longer hours)")
            seen = "" if v is None else f" ({100 * v.value:.2f} %, upper bound " \
                f"{100 * v.bound:.2f} %)"
            return (f"no {RATIO_KINDS[self.kind]} ratio meets the limit: even {self.lo:g} "
                    f"breaks it{seen}")
        if self.best.ratio is not None and self.best.ratio >= self.hi:
            return (f"the top of the searched range ({self.hi:g}) meets the limit: the best "
                    f"{RATIO_KINDS[self.kind]} ratio may be higher")
        return (f"best {RATIO_KINDS[self.kind]} ratio {self.best.ratio:g} "
                f"(resolution {self.step:g})")

    def as_dict(self) -> dict:
        return {"kind": self.kind, "lo": self.lo, "hi": self.hi, "step": self.step,
                "note": self.note,
                "evaluated": [{"ratio": r.ratio, "abandon_rate": r.kpis["abandon_rate"],
                               "abandon_rate_ofcom": r.kpis["abandon_rate_ofcom"],
                               "limit_bound": r.limit_bound, "meets_limit": r.meets_limit,
                               "occupancy": r.kpis["occupancy"]} for r in self.steps]}


RATIO_WIDEN_TO = 48.0  # the widest bracket top best_ratio tries (lines per agent)


def best_ratio(scn: Scenario, kind: str, seed: int, replications: int,
               executor: Executor | None = None, cache: ResultCache | None = None,
               lo: float = 1.0, hi: float = 3.0, step: float | None = None,
               listener: Listener | None = None,
               on_step: Callable[[PolicyResult], None] | None = None,
               widen_to: float = RATIO_WIDEN_TO) -> RatioSearch:
    """The highest ``kind`` ratio (``ratio`` or ``progressive``) meeting the abandon limit.

    Ratios lie on the grid ``lo + i * step`` (``step`` defaults to
    ``default_ratio_step``). ``lo`` and ``hi`` run first (one batch); while ``hi`` still
    meets the limit the bracket widens (``hi`` doubles, up to ``widen_to``), so the search
    never stops at an arbitrary top; then, if ``lo`` meets the limit and ``hi`` does not,
    bisection keeps a meeting ratio below and a breaking one above until they are one step
    apart. Every evaluation runs the same seeds.

    Progressive dials ``round(r x idle agents) - unanswered calls`` (PHP rounding), so with
    few idle agents a ratio step changes the lines only where ``r x idle`` crosses a half:
    the 0.01 grid of small campaigns reaches each of those points.

    Raises:
        ValueError: for an unknown kind or an empty range.
    """
    if kind not in RATIO_KINDS:
        raise ValueError(f"kind: expected one of {', '.join(RATIO_KINDS)}, got {kind!r}")
    if not (0 < lo < hi and math.isfinite(hi)):
        raise ValueError(f"ratio range: expected finite 0 < lo < hi, got {lo:g}..{hi:g}")
    step = step or default_ratio_step(scn)
    if not (math.isfinite(step) and step > 0 and (max(hi, widen_to) - lo) / step <= 1e6):
        raise ValueError(f"ratio step: expected a finite step > 0 giving at most 1,000,000 "
                         f"points over {lo:g}..{max(hi, widen_to):g}, got {step!r}")
    n = max(1, round((hi - lo) / step))
    steps: list[PolicyResult] = []

    def ratio_at(i: int) -> float:
        return round(lo + i * step, 6) if i < n else hi

    def run(indices: list[int]) -> list[PolicyResult]:
        names = [f"{kind}:{ratio_at(i):g}" for i in indices]
        res = evaluate(scn, names, seed, replications, executor, cache, listener)
        for r in res:
            steps.append(r)
            if on_step:
                on_step(r)
        return res

    first, last = run([0, n])
    if not first.meets_limit:
        return RatioSearch(kind, None, steps, lo, hi, step)
    a, best = 0, first
    while last.meets_limit and hi < widen_to:
        a, best = n, last  # the old top meets the limit: it is the bracket's new bottom
        hi = min(2.0 * hi, widen_to)
        n = max(1, round((hi - lo) / step))
        (last,) = run([n])
    if last.meets_limit:
        return RatioSearch(kind, last, steps, lo, hi, step)
    b = n
    while b - a > 1:
        m = (a + b) // 2
        (res,) = run([m])
        if res.meets_limit:
            a, best = m, res
        else:
            b = m
    return RatioSearch(kind, best, steps, lo, hi, step)

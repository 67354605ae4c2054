"""Pacing policies side by side on identical traffic, and the best simple ratios.

Every policy runs the same seeds; each campaign draws its outcomes from its own streams, so
the k-th dial of a campaign meets the same answer whatever the policy (common random
numbers). KPIs are over the agent-based campaigns; a policy meets the abandon limit when the
upper 95 % confidence bound of its abandon rate does (the mean, with one replication).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sim.replicate import mean_ci95, replicate
from sim.run import RunResult
from sim.scenario import Scenario, with_policy

COMPARE_KEYS = ("occupancy", "abandon_rate", "abandon_rate_ofcom", "agent_wait_mean_s",
                "service_level", "bhcc")


def agent_kpis(run: RunResult) -> dict[str, float]:
    """The comparison KPIs of one run; ``bhcc`` counts agent-based voice attempts only.

    Only agent-based campaigns have live answers and agents, so the other rates are the
    run's totals (``engine.kpi`` definitions).
    """
    t = run.total
    out = {k: float(t[k]) for k in COMPARE_KEYS if k != "bhcc"}
    out["bhcc"] = t["attempts_by_channel"]["voice_agent"] / run.sim_hours
    return out


@dataclass
class PolicyResult:
    """Mean KPIs of one policy over the replications, with 95 % intervals."""

    policy: str
    kpis: dict[str, float]
    ci95: dict[str, list[float] | None]
    meets_limit: bool
    ratio: float | None = None

    def as_dict(self) -> dict:
        d = {"policy": self.policy, **self.kpis, "meets_limit": self.meets_limit,
             "ci95": self.ci95}
        if self.ratio is not None:
            d["ratio"] = self.ratio
        return d


def evaluate(scn: Scenario, policy: str, seed: int, replications: int, workers: int = 1,
             ratio: float | None = None) -> PolicyResult:
    """Run ``policy`` (e.g. ``predictive``, ``ratio:1.5``) on the scenario's traffic."""
    runs = replicate(with_policy(scn, policy), seed, replications, workers)
    kp = [agent_kpis(r) for r in runs]
    means, cis = {}, {}
    for k in COMPARE_KEYS:
        m, lo, hi = mean_ci95([x[k] for x in kp])
        means[k] = m
        cis[k] = None if lo is None else [lo, hi]
    upper = cis["abandon_rate"][1] if cis["abandon_rate"] else means["abandon_rate"]
    return PolicyResult(policy, means, cis, upper <= scn.regulation.abandon_limit, ratio)


def best_ratio(scn: Scenario, kind: str, seed: int, replications: int, workers: int = 1,
               lo: float = 1.0, hi: float = 3.0, step: float | None = None,
               on_step: Callable[[PolicyResult], None] | None = None) -> PolicyResult | None:
    """The highest ``kind`` ratio (``ratio`` or ``progressive``) meeting the abandon limit.

    Bisection on the ratio, the abandon rate rising with it; ``step`` is the resolution
    (default 0.02 for up to 100 agents, else 0.05). None when even ``lo`` breaks the limit.
    """
    if kind not in ("ratio", "progressive"):
        raise ValueError(f"kind: expected 'ratio' or 'progressive', got {kind!r}")
    step = step or (0.02 if scn.total_agents <= 100 else 0.05)

    def run(r: float) -> PolicyResult:
        res = evaluate(scn, f"{kind}:{r:.4g}", seed, replications, workers, ratio=round(r, 4))
        if on_step:
            on_step(res)
        return res

    best = run(lo)
    if not best.meets_limit:
        return None
    top = run(hi)
    if top.meets_limit:
        return top
    while hi - lo > step:
        mid = (lo + hi) / 2
        res = run(mid)
        if res.meets_limit:
            lo, best = mid, res
        else:
            hi = mid
    return best

"""The abandon limits a scenario's campaigns are held to, and the verdict on them.

A campaign follows the scenario's ``[regulation]`` or its own ``[campaigns.regulation]``
(a UK job under Ofcom, a US one under the FCC/TSR, in one centre). ``compare`` judges a
policy on each rule: the agent-based campaigns sharing a rule (mode, limit, window) are
pooled, their limited abandon rate (FCC/TSR: abandons / live answers; Ofcom: abandons and
AMD false positives / live calls) judged on its upper 95 % bound against that rule's
limit; the policy's verdict is the worst of them (missed before undecided before met, then
the smallest margin), naming the campaigns it is about. With one rule for every campaign
this is the pooled KPI of the agent-based campaigns against it, as it always was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from sim.plan.stats import Verdict, judge, limited_rate, summarise_rows
from sim.scenario import Regulation, Scenario

_COUNTS = ("abandons", "live_answers", "amd_false_positives")


@dataclass(frozen=True)
class RuleGroup:
    """The agent-based campaigns (``jobs``: indices; ``templates``: their entries' names)
    held to one ``regulation``."""

    regulation: Regulation
    jobs: tuple[int, ...]
    templates: tuple[str, ...]

    @property
    def key(self) -> str:
        """The KPI the rule limits: ``abandon_rate`` or ``abandon_rate_ofcom``."""
        return limited_rate(self.regulation)

    @property
    def label(self) -> str:
        """The rule for a reader: ``Ofcom 3 %``, ``FCC/TSR 2.5 %``."""
        mode = "Ofcom" if self.regulation.mode == "ofcom" else "FCC/TSR"
        return f"{mode} {100 * self.regulation.abandon_limit:g} %"

    def as_dict(self) -> dict:
        """``campaigns`` (templates), ``mode``, ``abandon_limit`` (fraction),
        ``connect_window_s``, ``window_s`` (the judged window, seconds), ``limit_kpi``."""
        r = self.regulation
        return {"campaigns": list(self.templates), "mode": r.mode,
                "abandon_limit": r.abandon_limit, "connect_window_s": r.connect_window_s,
                "window_s": r.judged_window_s, "limit_kpi": self.key}


def rule_groups(scn: Scenario) -> list[RuleGroup]:
    """The agent-based campaigns grouped by the rule they are judged by (mode, limit and
    judged window), in the order of their first campaign; empty without one."""
    groups: dict[tuple, list[int]] = {}
    regs = scn.regulations
    for j, c in enumerate(scn.campaigns):
        if c.agent_based:
            r = regs[j]
            groups.setdefault((r.mode, r.abandon_limit, r.judged_window_s), []).append(j)
    out = []
    for jobs in groups.values():
        tpl = tuple(dict.fromkeys(scn.campaigns[j].template for j in jobs))
        out.append(RuleGroup(regs[jobs[0]], tuple(jobs), tpl))
    return out


def mixed(scn: Scenario) -> bool:
    """Whether the agent-based campaigns are judged by more than one rule."""
    return len(rule_groups(scn)) > 1


def limit_verdict(scn: Scenario, records: Sequence[Mapping], means: Mapping[str, float],
                  ci: Mapping[str, Sequence[float] | None]) -> Verdict:
    """The verdict on the abandon limits (module docstring) of the replications'
    ``records`` (``sim.plan.task.run_task``), whose pooled KPIs are ``means`` and ``ci``
    (``summarise_rows``: used as they are when one rule holds every campaign)."""
    groups = rule_groups(scn)
    n = len(records)
    if len(groups) <= 1:
        reg = groups[0].regulation if groups else scn.regulation
        key = limited_rate(reg)
        return judge(key, "<=", reg.abandon_limit, means[key], ci[key], n)
    verdicts = []
    for g in groups:
        rows = [{k: sum(float(r["campaigns"][j].get(k, 0.0)) for j in g.jobs)
                 for k in _COUNTS} for r in records]
        m, c = summarise_rows(rows, (g.key,))
        v = judge(g.key, "<=", g.regulation.abandon_limit, m[g.key], c[g.key], n)
        verdicts.append(replace(v, scope=f"{', '.join(g.templates)} ({g.label})"))
    rank = {False: 0, None: 1, True: 2}
    return min(verdicts, key=lambda v: (rank[v.met], v.limit - v.bound))

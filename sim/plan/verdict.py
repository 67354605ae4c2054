"""The verdict: declared targets judged on a run's KPIs and their 95 % intervals.

A target is judged on the interval of its KPI (``sim.plan.stats.judge``): met when the whole
interval is on the right side, missed when it is wholly on the wrong side, undecided
otherwise, with the replications that would decide. Every agent-based campaign over its
abandon limit gets a warning. Pure: no SimPy, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sim.plan.stats import (
    PRACTICAL_REPLICATIONS,
    RATE_PARTS,
    copies_spread,
    enough_copies,
    wilson,
)
from sim.plan.stats import judge as stats_judge
from sim.targets import PER_CHANNEL, TargetSpec


@dataclass(frozen=True)
class TargetResult:
    """A declared target judged: the KPI's value, its 95 % interval and the verdict.

    ``met`` is None when the interval cannot decide; ``needed`` then estimates the
    replications that would (None when the value sits on the target). ``margin`` is how far
    the judged bound is on the right side (negative: on the wrong side), in the KPI's unit.
    """

    name: str
    target: str
    kpi: str
    op: str
    limit: float
    value: float
    lo: float | None
    hi: float | None
    met: bool | None
    margin: float | None
    replications: int
    needed: int | None
    note: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "target": self.target, "kpi": self.kpi, "value": self.value,
                "lo": self.lo, "hi": self.hi, "met": self.met, "margin": self.margin,
                "replications": self.replications, "needed": self.needed,
                "note": self.note}


Judge = Callable[[str, str, float, float, Sequence[float] | None, int], Any]


def evaluate(specs: Sequence[TargetSpec], total: Mapping[str, Any],
             ci95: Mapping[str, Any], replications: int, sim_hours: float,
             judge: Judge | None = None) -> list[TargetResult]:
    """Judge each declared target on ``total`` (KPI values) and ``ci95`` (their intervals).

    Per-channel attempts per hour are the channel's attempts (``attempts_<channel>`` or
    ``attempts_by_channel``) over ``sim_hours``, their interval scaled alike. An interval
    of attempts per hour (those and ``bhcc*``) is at least one attempt of the measured
    window either side of the value: a count is only known to that resolution, and
    replications of a channel sent on a fixed schedule can all count the same (199 in
    every 6 minutes of 2,000 an hour is not a sure miss of 2,000).

    Args:
        specs: the declared targets.
        total: KPI name -> value (a summary's ``total``).
        ci95: KPI name -> ``[lo, hi]`` or None.
        replications: replications the values rest on.
        sim_hours: measured hours per replication (for per-hour rates).
        judge: ``judge(kpi, op, limit, value, ci, replications)`` returning an object with
            ``lo``, ``hi``, ``met``, ``needed``, ``bound`` and ``note``; default
            ``sim.plan.stats.judge``.
    """
    if judge is None:
        judge = stats_judge
    out = []
    for s in specs:
        if s.kpi.startswith(PER_CHANNEL + "_"):
            ch = s.kpi[len(PER_CHANNEL) + 1:]
            raw = total.get(f"attempts_{ch}")
            if raw is None:
                raw = total.get("attempts_by_channel", {}).get(ch, 0.0)
            ci = ci95.get(f"attempts_{ch}")
            scale = 1.0 / max(sim_hours, 1e-12)
            value = float(raw) * scale
            ci = None if ci is None else [ci[0] * scale, ci[1] * scale]
        else:
            value = total.get(s.kpi)
            if not isinstance(value, int | float):  # e.g. an inbound KPI with no inbound
                out.append(TargetResult(s.name, s.text, s.kpi, s.op, s.value, math.nan, None,
                                        None, None, None, replications, None,
                                        f"undecided: the run reports no {s.kpi}"))
                continue
            value = float(value)
            ci = ci95.get(s.kpi)
        one = None
        if ci is not None and (s.kpi.startswith(PER_CHANNEL) or s.kpi.startswith("bhcc")):
            one = 1.0 / max(sim_hours, 1e-12)  # one attempt of the window, per hour
            ci = [max(min(ci[0], value - one), 0.0), max(ci[1], value + one)]
        v = judge(s.kpi, s.op, s.value, value, ci, replications)
        needed, note = v.needed, v.note
        if (v.met is None and one is not None and v.needed is not None
                and abs(value - s.value) <= one):
            # within one attempt of the window of the target: the resolution of a count,
            # which more replications do not narrow
            needed = None
            note = (f"undecided: within one attempt of the {sim_hours:g} h window of the "
                    f"target ({one:g} per hour), as close as a count can tell: no number of "
                    "replications decides it; judge it with a margin on the target")
        margin = None
        if v.lo is not None and v.hi is not None:
            bound = v.hi if s.op == "<=" else v.lo
            margin = s.value - bound if s.op == "<=" else bound - s.value
        out.append(TargetResult(s.name, s.text, s.kpi, s.op, s.value, value, v.lo, v.hi,
                                v.met, margin, replications, needed, note))
    return out


def verdict_line(results: Sequence[TargetResult]) -> str:
    """One line: all met, which missed, or which cannot be decided yet (and how many
    replications would decide them; targets that would need more than
    ``PRACTICAL_REPLICATIONS`` are named apart as practically on their bound)."""
    if not results:
        return "no targets declared"
    missed = [r.name for r in results if r.met is False]
    open_ = [r for r in results if r.met is None]
    if missed:
        return f"MISSED: {', '.join(missed)}"
    if open_:
        on_bound = [r for r in open_ if (r.needed or 0) > PRACTICAL_REPLICATIONS]
        # on the target itself, or within a count's resolution of it: no number decides
        on_target = [r for r in open_ if r.needed is None and r.replications >= 2]
        rest = [r for r in open_ if r not in on_bound and r not in on_target]
        parts = []
        if rest:
            need = max((r.needed or 0) for r in rest)
            more = f"; about {need} replications would decide" if need else ""
            parts.append(f"{', '.join(r.name for r in rest)}{more}")
        if on_bound:
            parts.append(f"practically on the bound (over {PRACTICAL_REPLICATIONS} "
                         f"replications to decide): {', '.join(r.name for r in on_bound)}")
        if on_target:
            parts.append("on the target (no number of replications decides; judge with a "
                         f"margin): {', '.join(r.name for r in on_target)}")
        return "UNDECIDED: " + "; ".join(parts)
    return f"MET: all {len(results)} targets"


def campaigns_over_limit(campaigns: Sequence[Mapping[str, Any]], limit: float, mode: str,
                         replications: int,
                         interval: Callable[[float, float], tuple[float, float]] | None = None,
                         ) -> list[str]:
    """A warning for every agent-based campaign whose abandon rate is over ``limit``.

    The rate is the regulatory one (``abandon_rate`` in FCC/TSR mode, ``abandon_rate_ofcom``
    in Ofcom mode) on the campaign's counts pooled over the replications; the warning gives
    its 95 % interval (``interval(abandons, live_answers)``, default the Wilson score
    interval of ``sim.plan.stats``) when it is clearly over (the whole interval above the
    limit); the campaigns only possibly over (the interval straddles the limit) share one
    warning that names them. Sources: FTC Telemarketing Sales Rule, 16 CFR
    310.4(b)(4)(i), and FCC 47 CFR 64.1200(a)(7) (3 % of live answers per campaign over 30
    days); Ofcom, persistent misuse statement (3 % of live calls per campaign per 24 h).
    Copies of one campaign (one ``template``) that spread no more than chance and pool to
    a rate surely under the limit are said to be so in that warning (``_copies_note``).
    """
    if interval is None:
        interval = wilson
    key = "abandon_rate_ofcom" if mode == "ofcom" else "abandon_rate"
    rule = "Ofcom persistent-misuse policy" if mode == "ofcom" else \
        "FTC TSR 16 CFR 310.4(b)(4) / FCC 47 CFR 64.1200(a)(7)"
    out: list[str] = []
    unsure: list[str] = []
    unsure_of: dict[str, int] = {}  # template -> its copies possibly over
    for c in campaigns:
        if c.get("channel") != "voice_agent":
            continue
        dropped, live = _pooled(c, key, replications)
        rate = dropped / live if live > 0 else 0.0
        if rate <= limit:
            continue
        lo, hi = interval(dropped, live)
        if lo <= limit:  # the interval straddles the limit: too few live answers to tell
            unsure.append(f"{c.get('name')} {100 * rate:.1f} %")
            tpl = c.get("template", c.get("name"))
            unsure_of[tpl] = unsure_of.get(tpl, 0) + 1
            continue
        out.append(f"campaign {c.get('name')}: abandon rate {100 * rate:.2f} % "
                   f"[{100 * lo:.2f} %, {100 * hi:.2f} %] is clearly over its "
                   f"{100 * limit:g} % limit ({rule}; {live:,.0f} live answers over "
                   f"{replications} replication(s))")
    if unsure:
        shown = ", ".join(unsure[:5]) + (f" and {len(unsure) - 5} more" if len(unsure) > 5
                                         else "")
        out.append(f"campaigns possibly over their {100 * limit:g} % abandon limit (each "
                   f"interval straddles it: too few live answers to tell; run longer or more "
                   f"replications): {len(unsure)}: {shown} ({rule})"
                   + _copies_note(campaigns, unsure_of, key, limit, replications, interval))
    return out


def _pooled(c: Mapping[str, Any], key: str, replications: int) -> tuple[float, float]:
    """A campaign's abandons and live answers (Ofcom: live calls) pooled over the
    replications, in the terms of the rate ``key`` (``RATE_PARTS``), from its mean counts;
    the rate times the live answers where the counts are not given. Its ``key`` is the mean
    of the replications' rates, which is not the pooled rate when they differ in size."""
    if "abandons" in c:
        num, den = RATE_PARTS[key]({"amd_false_positives": 0.0, **c})
        return float(num) * replications, float(den) * replications
    live = float(c.get("live_answers", 0.0)) * replications
    return float(c.get(key) or 0.0) * live, live


def _copies_note(campaigns: Sequence[Mapping[str, Any]], unsure_of: Mapping[str, int],
                 key: str, limit: float, replications: int,
                 interval: Callable[[float, float], tuple[float, float]]) -> str:
    """For the templates whose copies are among those possibly over: the copies' pooled
    rate when it is surely under ``limit`` and they spread no more than chance
    (``sim.plan.stats.copies_spread``): each copy's hour is then mostly luck."""
    notes = []
    for tpl, k in unsure_of.items():
        copies = [c for c in campaigns if c.get("template", c.get("name")) == tpl
                  and c.get("channel") == "voice_agent"]
        pooled = [_pooled(c, key, replications) for c in copies]
        ab, live = [p[0] for p in pooled], [p[1] for p in pooled]
        if not enough_copies(live):
            continue
        rate, tau2 = copies_spread(ab, live)
        lo, hi = interval(math.fsum(ab), math.fsum(live))
        if tau2 == 0.0 and hi < limit:
            notes.append(f"{k} of them are copies of {tpl}, whose {len(copies)} copies pool "
                         f"to {100 * rate:.2f} % [{100 * lo:.2f} %, {100 * hi:.2f} %] and "
                         "spread no more than chance: each copy's rate is mostly its luck "
                         "(P(over limit) reads it with its copies)")
    return "; " + "; ".join(notes) if notes else ""

"""Scenario variants side by side on identical traffic: blending on / off, threshold
settings, or any other set of key overrides.

A variant is a label and dotted-key overrides (``off:campaigns.blending.enabled=false``,
``tight:campaigns.blending.queue_high=1,campaigns.blending.sl_low=0.8``). Every variant runs
the same seeds (common random numbers: each campaign and each inbound skill draws from its
own streams) and is judged on the outbound abandon limit like a pacing policy in
``sim.plan.compare``. The KPIs shown together are the blended centre's trade: outbound
occupancy and abandon rate against inbound service level, abandons and speed of answer,
in total and per inbound skill (``sim.plan.stats.skill_summary``), with 95 % intervals.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.plan.batch import Listener, run_all, tasks_for
from sim.plan.cache import ResultCache
from sim.plan.executors import Executor
from sim.plan.limits import limit_verdict
from sim.plan.stats import KPI_KEYS, Verdict, skill_summary, summarise_rows
from sim.scenario import load, override_value, read_raw

VARIANT_KEYS = ("occupancy_outbound", "abandon_rate", "inbound_service_level",
                "inbound_abandon_rate", "inbound_asa_s", "occupancy_inbound", "occupancy",
                "bhcc", "bhcc_agent")
_LABEL = re.compile(r"^[A-Za-z0-9_.+-]+$")


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """``LABEL`` or ``LABEL:KEY=VALUE[,KEY=VALUE...]`` -> (label, overrides).

    Raises:
        ValueError: naming the variant and what was expected.
    """
    label, _, rest = text.partition(":")
    label = label.strip()
    if not label or not _LABEL.match(label):
        raise ValueError(f"--variant {text!r}: expected LABEL[:KEY=VALUE,...] with a label of "
                         "letters, digits, . _ + -")
    out: dict[str, Any] = {}
    for item in (p.strip() for p in rest.split(",")) if rest.strip() else ():
        key, eq, value = item.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise ValueError(f"--variant {text!r}: expected KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = override_value(value.strip())
        except ValueError as exc:
            raise ValueError(f"--variant {label!r}: {key.strip()}: {exc}") from None
    return label, out


@dataclass
class VariantResult:
    """One variant's KPIs over the replications, 95 % intervals and abandon verdict."""

    label: str
    overrides: dict[str, Any]
    kpis: dict[str, float]
    ci95: dict[str, list[float] | None]
    verdict: Verdict
    runs: list[dict] = field(default_factory=list, repr=False)
    skills: dict[str, dict] = field(default_factory=dict)  # per inbound skill (skill_summary)

    def as_dict(self) -> dict:
        return {"variant": self.label, "overrides": self.overrides,
                **{k: self.kpis[k] for k in VARIANT_KEYS},
                "meets_limit": self.verdict.met, "verdict": self.verdict.as_dict(),
                "ci95": {k: self.ci95[k] for k in VARIANT_KEYS},
                "skills": self.skills}


def evaluate_variants(path: str | Path, variants: Sequence[tuple[str, Mapping[str, Any]]],
                      seed: int | None, replications: int, base: Mapping[str, Any] | None = None,
                      executor: Executor | None = None, cache: ResultCache | None = None,
                      listener: Listener | None = None) -> list[VariantResult]:
    """Run every variant of the scenario at ``path`` (with ``base`` overrides under each)
    on the same seeds, in one batch.

    Raises:
        ScenarioError: a variant makes the scenario invalid (before anything runs).
    """
    raw = read_raw(path)
    scns = [load(path, {**(base or {}), **ov}, raw) for _, ov in variants]
    seed = scns[0].seed if seed is None else seed
    tasks = [t for s in scns for t in tasks_for(s, seed, replications)]
    recs = run_all(tasks, executor, cache, listener, label=", ".join(v for v, _ in variants))
    out = []
    for k, ((label, ov), scn) in enumerate(zip(variants, scns, strict=True)):
        mine = recs[k * replications:(k + 1) * replications]
        rows = [r["kpis"] for r in mine]
        means, ci = summarise_rows(rows, KPI_KEYS)
        verdict = limit_verdict(scn, mine, means, ci)
        out.append(VariantResult(label, dict(ov), means, ci, verdict,
                                 [{"seed": r["seed"], **r["kpis"]} for r in mine],
                                 skill_summary(mine)))
    return out

"""Declared targets (a scenario's ``[targets]``) and the verdict on a run's KPIs.

A scenario may declare what the planner needs, with the bound's direction in the key:

.. code-block:: toml

    [targets]
    min_bhcc = 60000                  # attempts completed per hour, every channel
    min_attempts_per_hour = { voice_agent = 48000, sms = 5000 }
    max_abandon_rate = 0.03           # fraction 0..1 (3 % is 0.03)
    min_occupancy = 0.85
    min_service_level = 0.9
    max_agent_wait_mean_s = 20

Every KPI of :data:`TARGET_KPIS` takes ``min_<kpi>`` and ``max_<kpi>``. A target is judged
on the 95 % interval of its KPI (``sim.plan.stats.judge``): met when the whole interval is
on the right side, missed when it is wholly on the wrong side, undecided otherwise, with the
replications that would decide. Pure: no SimPy, no I/O.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.attempt import CHANNEL_NAMES

# KPI -> (unit for messages, is a fraction 0..1).
TARGET_KPIS: dict[str, tuple[str, bool]] = {
    "bhcc": ("attempts per hour", False),
    "bhcc_agent": ("agent-based attempts per hour", False),
    "abandon_rate": ("fraction 0..1", True),
    "abandon_rate_ofcom": ("fraction 0..1", True),
    "service_level": ("fraction 0..1", True),
    "occupancy": ("fraction 0..1", True),
    "agent_wait_mean_s": ("seconds", False),
    "ports_peak": ("ports", False),
    "ports_mean": ("ports", False),
    "blocked": ("attempts", False),
}
PER_CHANNEL = "attempts_per_hour"


@dataclass(frozen=True)
class TargetSpec:
    """One declared target: ``kpi op value`` (``op`` is ``<=`` or ``>=``).

    ``name`` is the scenario key (``min_bhcc``, ``min_attempts_per_hour.sms``); ``kpi`` the
    KPI judged (``attempts_per_hour_sms`` for a channel's attempts per hour).
    """

    name: str
    kpi: str
    op: str
    value: float

    @property
    def text(self) -> str:
        return f"{self.kpi} {self.op} {self.value:g}"


def _hint(value: float, fraction: bool, key: str) -> str:
    if fraction and 1.0 < value <= 100.0:
        return f" ({value:g} % is {value / 100:g})"
    return ""


def parse_targets(table: Any, where: str = "targets") -> tuple[list[TargetSpec], list[str]]:
    """The targets of a ``[targets]`` table and the problems found (every one, by key path).

    Args:
        table: the parsed TOML table (a mapping), or ``None`` for no targets.
        where: the key path to name in problems (``targets``).

    Returns:
        ``(specs, problems)``; ``problems`` is empty when the table is valid.
    """
    if table is None:
        return [], []
    if not isinstance(table, Mapping):
        return [], [f"{where}: expected a table of min_<kpi> / max_<kpi> keys, got "
                    f"{type(table).__name__}"]
    specs: list[TargetSpec] = []
    problems: list[str] = []
    known = [f"{side}_{k}" for k in (*TARGET_KPIS, PER_CHANNEL) for side in ("min", "max")]
    for key, raw in table.items():
        path = f"{where}.{key}"
        side, _, kpi = key.partition("_")
        if side not in ("min", "max") or (kpi not in TARGET_KPIS and kpi != PER_CHANNEL):
            close = difflib.get_close_matches(key, known, n=1)
            more = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"{path}: unknown target{more}; expected min_<kpi> or max_<kpi> "
                            f"with a KPI of {', '.join(TARGET_KPIS)} or {PER_CHANNEL}")
            continue
        op = ">=" if side == "min" else "<="
        if kpi == PER_CHANNEL:
            if not isinstance(raw, Mapping):
                problems.append(f"{path}: expected a table of channel = attempts per hour, "
                                f"e.g. {{ sms = 5000 }}")
                continue
            for ch, v in raw.items():
                if ch not in CHANNEL_NAMES:
                    problems.append(f"{path}.{ch}: unknown channel; expected one of "
                                    f"{', '.join(CHANNEL_NAMES)}")
                    continue
                value = _number(f"{path}.{ch}", v, "attempts per hour", False, problems)
                if value is not None:
                    specs.append(TargetSpec(f"{key}.{ch}", f"{PER_CHANNEL}_{ch}", op, value))
            continue
        unit, fraction = TARGET_KPIS[kpi]
        value = _number(path, raw, unit, fraction, problems)
        if value is not None:
            specs.append(TargetSpec(key, kpi, op, value))
    return specs, problems


def _number(path: str, raw: Any, unit: str, fraction: bool,
            problems: list[str]) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        extra = ""
        if isinstance(raw, str) and raw.strip().endswith("%"):
            extra = f" ({raw.strip()} is {float(raw.strip()[:-1] or 0) / 100:g})" \
                if raw.strip()[:-1].replace(".", "", 1).isdigit() else ""
        elif isinstance(raw, str) and raw.strip().endswith("s") and path.endswith("_s"):
            extra = f" ({raw.strip()}: write {raw.strip()[:-1]} in a key ending _s)"
        problems.append(f"{path}: expected a number ({unit}), got {raw!r}{extra}")
        return None
    value = float(raw)
    if not math.isfinite(value) or value < 0 or (fraction and value > 1):
        bound = "a fraction 0..1" if fraction else "a finite number >= 0"
        problems.append(f"{path}: expected {bound} ({unit}), got {raw!r}"
                        f"{_hint(value, fraction, path)}")
        return None
    return value


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
        return {"name": self.name, "target": self.target, "value": self.value,
                "lo": self.lo, "hi": self.hi, "met": self.met, "margin": self.margin,
                "replications": self.replications, "needed": self.needed,
                "note": self.note}


Judge = Callable[[str, str, float, float, Sequence[float] | None, int], Any]


def evaluate(specs: Sequence[TargetSpec], total: Mapping[str, Any],
             ci95: Mapping[str, Any], replications: int, sim_hours: float,
             judge: Judge | None = None) -> list[TargetResult]:
    """Judge each declared target on ``total`` (KPI values) and ``ci95`` (their intervals).

    Per-channel attempts per hour are the channel's attempts (``attempts_<channel>`` or
    ``attempts_by_channel``) over ``sim_hours``, their interval scaled alike.

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
        from sim.plan.stats import judge as default_judge

        judge = default_judge
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
            if value is None:
                raise KeyError(f"{s.name}: the run has no KPI {s.kpi!r}")
            value = float(value)
            ci = ci95.get(s.kpi)
        v = judge(s.kpi, s.op, s.value, value, ci, replications)
        margin = None
        if v.lo is not None and v.hi is not None:
            bound = v.hi if s.op == "<=" else v.lo
            margin = s.value - bound if s.op == "<=" else bound - s.value
        out.append(TargetResult(s.name, s.text, s.kpi, s.op, s.value, value, v.lo, v.hi,
                                v.met, margin, replications, v.needed, v.note))
    return out


def verdict_line(results: Sequence[TargetResult]) -> str:
    """One line: all met, which missed, or which cannot be decided yet."""
    if not results:
        return "no targets declared"
    missed = [r.name for r in results if r.met is False]
    open_ = [r for r in results if r.met is None]
    if missed:
        return f"MISSED: {', '.join(missed)}"
    if open_:
        need = max((r.needed or 0) for r in open_)
        more = f"; about {need} replications would decide" if need else ""
        return f"UNDECIDED: {', '.join(r.name for r in open_)}{more}"
    return f"MET: all {len(results)} targets"


def campaigns_over_limit(campaigns: Sequence[Mapping[str, Any]], limit: float, mode: str,
                         replications: int,
                         interval: Callable[[float, float], tuple[float, float]] | None = None,
                         ) -> list[str]:
    """A warning for every agent-based campaign whose abandon rate is over ``limit``.

    The rate is the regulatory one (``abandon_rate`` in FCC/TSR mode, ``abandon_rate_ofcom``
    in Ofcom mode) on the campaign's counts pooled over the replications; the warning gives
    its 95 % interval (``interval(abandons, live_answers)``, default the Wilson score
    interval of ``sim.plan.stats``) and says whether it is clearly over (the whole interval
    above the limit) or only possibly. Sources: FTC Telemarketing Sales Rule, 16 CFR
    310.4(b)(4)(i), and FCC 47 CFR 64.1200(a)(7) (3 % of live answers per campaign over 30
    days); Ofcom, persistent misuse statement (3 % of live calls per campaign per 24 h).
    """
    if interval is None:
        from sim.plan.stats import wilson as interval
    key = "abandon_rate_ofcom" if mode == "ofcom" else "abandon_rate"
    rule = "Ofcom persistent-misuse policy" if mode == "ofcom" else \
        "FTC TSR 16 CFR 310.4(b)(4) / FCC 47 CFR 64.1200(a)(7)"
    out = []
    for c in campaigns:
        if c.get("channel") != "voice_agent":
            continue
        rate = float(c.get(key) or 0.0)
        if rate <= limit:
            continue
        live = float(c.get("live_answers", 0.0)) * replications
        lo, hi = interval(rate * live, live)
        how = "clearly" if lo > limit else "possibly"
        out.append(f"campaign {c.get('name')}: abandon rate {100 * rate:.2f} % "
                   f"[{100 * lo:.2f} %, {100 * hi:.2f} %] is {how} over its "
                   f"{100 * limit:g} % limit ({rule}; {live:,.0f} live answers over "
                   f"{replications} replication(s))")
    return out

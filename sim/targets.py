"""Declared targets: a scenario's ``[targets]`` table, parsed into plain objects.

A scenario may declare what the planner needs, with the bound's direction in the key:

.. code-block:: toml

    [targets]
    min_bhcc = 60000                  # attempts completed per hour, every channel
    min_attempts_per_hour = { voice_agent = 48000, sms = 5000 }
    max_abandon_rate = 0.03           # fraction 0..1 (3 % is 0.03)
    min_occupancy = 0.85
    min_service_level = 0.9
    max_agent_wait_mean_s = 20

Every KPI of :data:`TARGET_KPIS` takes ``min_<kpi>`` and ``max_<kpi>``. The verdict on them
is ``sim.plan.verdict``'s. Pure: no SimPy, no I/O.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.kpi import FRACTION_KPIS, KPIS
from engine.vocab import CHANNEL_NAMES

# Every KPI a target may bound: ``engine.kpi.KPIS`` (one definition), less the counts
# whose target would mean nothing (the window's totals; per channel use attempts_per_hour).
_NOT_TARGETS = frozenset({"attempts", "attempts_by_channel", "live_answers", "abandons",
                          "connects", "machines", "amd_false_positives",
                          "connected_in_threshold", "inbound",
                          *(f"attempts_{ch}" for ch in CHANNEL_NAMES)})


def _unit(kpi: str) -> str:
    if kpi in FRACTION_KPIS:
        return "fraction 0..1"
    if kpi.endswith("_s"):
        return "seconds"
    if kpi.startswith("bhcc"):
        return "attempts per hour"
    return "ports" if kpi.startswith("ports") else "attempts"


# KPI -> (unit for messages, is a fraction 0..1).
TARGET_KPIS: dict[str, tuple[str, bool]] = {
    k: (_unit(k), k in FRACTION_KPIS) for k in KPIS if k not in _NOT_TARGETS}
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

"""What blending and skill-based pacing share: thresholds on an inbound skill's state.

Both settings hold a skill name and hysteresis bands (``queue_low <= queue_high`` calls,
``oldest_low_s <= oldest_high_s`` seconds, ``sl_low <= sl_high`` fractions 0..1) among other
non-negative numbers; ``check_skill_thresholds`` validates such a frozen dataclass once.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

BANDS = (("queue_low", "queue_high"), ("oldest_low_s", "oldest_high_s"), ("sl_low", "sl_high"))


def check_skill_thresholds(setting: Any) -> None:
    """Raise ``ValueError`` naming the field: ``skill`` not a name, any other field not a
    number >= 0, a band inverted, or ``sl_high`` over 1."""
    for f in fields(setting):
        v = getattr(setting, f.name)
        if f.name == "skill":
            if not isinstance(v, str) or not v:
                raise ValueError("skill: expected the name of an inbound skill")
            continue
        if isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0:
            raise ValueError(f"{f.name}: expected a number >= 0, got {v!r}")
    for lo, hi in BANDS:
        if getattr(setting, lo) > getattr(setting, hi):
            raise ValueError(f"{lo}: expected <= {hi} (the hysteresis band), got "
                             f"{getattr(setting, lo)} > {getattr(setting, hi)}")
    if setting.sl_high > 1:
        raise ValueError(f"sl_high: expected a fraction 0..1, got {setting.sl_high}")

"""Skill-based pacing of agentless jobs: the notification rate follows an inbound skill.

A notification that invites a call back (or that a caller may answer by pressing a key to
reach an agent) sends its traffic to an inbound skill; when that skill is overloaded the
notification should slow down. A job with a ``SkillPacing`` setting is linked to one skill
and is, at any moment, *normal* or *slowed*, by the skill's latest state:

- normal -> slowed when the skill is in trouble on any count:
  ``calls_waiting > queue_high`` or ``oldest_call_waiting_s > oldest_high_s`` or
  ``service_level < sl_low``;
- slowed -> normal when it is comfortable on every count:
  ``calls_waiting <= queue_low`` and ``oldest_call_waiting_s <= oldest_low_s`` and
  ``service_level >= sl_high``;
- otherwise the job stays as it is (the hysteresis band: no flapping on one threshold).

While slowed, the job launches ``slow_factor`` of the attempts its time-based pacing
decides (0: paused; 0.5: half the rate), by thinning the decided attempts with a carried
fractional credit, so over time exactly that share goes out. Attempts not launched are not
blocked: their contacts stay due and go out when the rate allows. Before the first skill
report the job runs at its full rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.interfaces import SkillFeed, SkillState
from engine.skill_thresholds import check_skill_thresholds


@dataclass(frozen=True)
class SkillPacing:
    """An agentless job's link to an inbound skill (counts of calls, seconds, fractions).

    Raises ``ValueError`` naming the field for a value out of range or an inverted band.
    """

    skill: str
    queue_high: int = 5
    queue_low: int = 1
    oldest_high_s: float = 60.0
    oldest_low_s: float = 20.0
    sl_low: float = 0.70
    sl_high: float = 0.80
    slow_factor: float = 0.0

    def __post_init__(self) -> None:
        check_skill_thresholds(self)
        if self.slow_factor > 1:
            raise ValueError(f"slow_factor: expected a fraction 0..1, got {self.slow_factor}")

    def trouble(self, st: SkillState) -> bool:
        return (st.calls_waiting > self.queue_high
                or st.oldest_call_waiting_s > self.oldest_high_s
                or st.service_level < self.sl_low)

    def comfortable(self, st: SkillState) -> bool:
        return (st.calls_waiting <= self.queue_low
                and st.oldest_call_waiting_s <= self.oldest_low_s
                and st.service_level >= self.sl_high)


class SkillPacer:
    """Thins the decided attempts of skill-paced jobs (one entry per job; None: not
    skill-paced). Subscribes itself to ``feed``."""

    def __init__(self, settings: Sequence[SkillPacing | None], feed: SkillFeed):
        known = set(feed.skills())
        for j, s in enumerate(settings):
            if s is not None and s.skill not in known:
                raise ValueError(f"skill pacing of job {j}: skill {s.skill!r} is not reported "
                                 f"by the skill feed ({', '.join(sorted(known))})")
        self.settings = list(settings)
        self.rows = np.array([j for j, s in enumerate(settings) if s is not None],
                             dtype=np.int64)
        self.slowed = np.zeros(len(settings), dtype=bool)
        self.credit = np.zeros(len(settings))
        self.held = np.zeros(len(settings), dtype=np.int64)  # attempts held back, per job
        self.slowed_changes = 0
        self._by_skill: dict[str, list[int]] = {}
        for j, s in enumerate(settings):
            if s is not None:
                self._by_skill.setdefault(s.skill, []).append(j)
        feed.subscribe(self)

    def on_skill_state(self, state: SkillState) -> None:
        for j in self._by_skill.get(state.skill, ()):
            s = self.settings[j]
            assert s is not None
            was = self.slowed[j]
            if not was and s.trouble(state):
                self.slowed[j] = True
            elif was and s.comfortable(state):
                self.slowed[j] = False
            if self.slowed[j] != was:
                self.slowed_changes += 1

    def thin(self, dials: np.ndarray) -> None:
        """Cut the slowed jobs' decided attempts to their share, in place."""
        for j in self.rows.tolist():
            if not self.slowed[j] or dials[j] <= 0:
                continue
            f = self.settings[j].slow_factor  # type: ignore[union-attr]
            c = self.credit[j] + dials[j] * f
            n = int(np.floor(c + 1e-12))
            self.credit[j] = c - n
            self.held[j] += int(dials[j]) - n
            dials[j] = n

"""An inbound skill of a scenario, as a plain frozen object (the model is ``sim.inbound``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sim.distributions import Distribution

DEFAULT_SL_THRESHOLD_S = 20.0  # the common "80/20" service-level threshold
DEFAULT_SL_WINDOW_S = 300.0  # span of the real-time service level (assumption: 5 min)


class RateProfile(Protocol):
    """A rate over the run clock: ``value(t)`` at run second ``t``, and its highest value
    ``hi`` (both calls per hour)."""

    def value(self, t: float) -> float: ...

    @property
    def hi(self) -> float: ...


@dataclass(frozen=True)
class InboundSkill:
    """One inbound skill (ACD split / queue) of a scenario.

    Attributes:
        name: the skill name agents hold (``[[agents]] skills``).
        calls_per_hour: offered calls per hour (Poisson), >= 0.
        talk: handle time of an answered call, seconds.
        wrap: wrap-up after it, seconds.
        patience: time a queued caller waits before hanging up, seconds (None: forever).
        sl_threshold_s: the service-level threshold T, seconds.
        sl_window_s: span of the real-time service level, seconds.
        profile: calls per hour over the run clock (None: ``calls_per_hour`` throughout).
    """

    name: str
    calls_per_hour: float
    talk: Distribution
    wrap: Distribution
    patience: Distribution | None = None
    sl_threshold_s: float = DEFAULT_SL_THRESHOLD_S
    sl_window_s: float = DEFAULT_SL_WINDOW_S
    profile: RateProfile | None = None

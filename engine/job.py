"""A running job as the dialer, the staffing and the director see it."""

from __future__ import annotations

from dataclasses import dataclass

from engine.attempt import Channel
from pacer import CampaignPacing
from pacer.constants import DEFAULT_CONNECT_WINDOW_S


@dataclass(frozen=True)
class Job:
    """A job's channel, pacing, staffing limits and skill.

    ``skill_mask`` is a bit set of the skills an agent needs for it; ``min_agents`` /
    ``max_agents`` and ``priority`` drive license distribution; ``license`` names the agent
    license type the job's agents hold (``engine.staffing.LICENSE_TYPES``: ``manual``,
    ``preview``, ``progressive``, ``predictive``; empty: the type of its pacing);
    ``connect_window_s`` is the seconds a live answer may wait for an agent before it is
    dropped (an abandon).
    """

    name: str
    channel: Channel
    pacing: CampaignPacing
    skill_mask: int = 0
    priority: int = 1
    min_agents: int = 0
    max_agents: int = 1_000_000
    connect_window_s: float = DEFAULT_CONNECT_WINDOW_S
    license: str = ""

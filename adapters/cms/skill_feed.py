"""The CMS real-time feed as the engine's ``SkillFeed``, for every listener at once.

``CmsServer`` hands each refreshed skill to one listener; a live engine has several (the
blending controller, the skill pacer of each notification job). ``CmsSkillFeed``
subscribes to the server once and passes every skill state on to all its subscribers as an
``engine.interfaces.SkillState``. A service level the report left empty (NaN) keeps that
skill's last known value (before any: 1, nothing missed), so one empty cell never looks
like a collapse of the service level, and never reaches a threshold comparison as NaN.
"""

from __future__ import annotations

import logging
import math

from adapters.cms.server import CmsServer
from adapters.cms.server import SkillState as CmsState
from engine.interfaces import SkillListener, SkillState

log = logging.getLogger(__name__)


class CmsSkillFeed:
    """``engine.interfaces.SkillFeed`` over a ``CmsServer`` (which names the skills)."""

    def __init__(self, server: CmsServer):
        self.server = server
        self.listeners: list[SkillListener] = []
        self._sl: dict[str, float] = {}
        server.subscribe(self)

    def subscribe(self, listener: SkillListener) -> None:
        self.listeners.append(listener)

    def skills(self) -> list[str]:
        return self.server.skills()

    def on_skill_state(self, s: CmsState) -> None:
        """One skill of a CMS refresh: to every subscriber (an empty SL keeps the last)."""
        sl = s.service_level
        if sl is None or math.isnan(sl):
            sl = self._sl.get(s.skill, 1.0)
        sl = min(max(float(sl), 0.0), 1.0)
        self._sl[s.skill] = sl
        st = SkillState(s.skill, int(s.calls_waiting), float(s.oldest_call_waiting_s), sl,
                        int(s.agents_staffed), int(s.agents_available))
        for li in self.listeners:
            try:
                li.on_skill_state(st)
            except Exception:  # one listener's bug must not starve the others
                log.exception("CMS skill feed: listener %r failed", li)

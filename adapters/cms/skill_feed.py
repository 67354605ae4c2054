"""The CMS real-time feed as the engine's ``SkillFeed``: the input of blending and of
skill-based pacing on a live site.

CMS reports skills by number; the engine names them. ``CmsSkillFeed`` subscribes to a
``CmsServer`` and turns every refreshed skill it knows into an
``engine.interfaces.SkillState``. A field the report left empty keeps that skill's last
known value (before any: 0 calls waiting, 0 s, service level 1, 0 agents), so one empty
cell never looks like a sudden change. Skills the mapping does not name are skipped.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

from adapters.cms.server import CmsServer
from adapters.cms.server import SkillState as CmsState
from engine.interfaces import SkillListener, SkillState

log = logging.getLogger(__name__)


class CmsSkillFeed:
    """``engine.interfaces.SkillFeed`` over a ``CmsServer``; ``names`` maps CMS skill
    numbers to the engine's skill names."""

    def __init__(self, server: CmsServer, names: Mapping[int, str]):
        if len(set(names.values())) != len(names):
            raise ValueError("cms skill names: expected one CMS skill number per name")
        self.names = dict(names)
        self.listeners: list[SkillListener] = []
        self.last: dict[str, SkillState] = {
            n: SkillState(n, 0, 0.0, 1.0, 0, 0) for n in self.names.values()}
        server.subscribe(self)

    def subscribe(self, listener: SkillListener) -> None:
        self.listeners.append(listener)

    def skills(self) -> list[str]:
        return sorted(self.names.values())

    def on_skill_states(self, states: Sequence[CmsState]) -> None:
        """A CMS refresh: forward each named skill's state (empty fields kept)."""
        for s in states:
            name = self.names.get(s.skill)
            if name is None:
                continue
            old = self.last[name]
            new = SkillState(
                name,
                old.calls_waiting if s.calls_waiting is None else int(s.calls_waiting),
                old.oldest_call_waiting_s if s.oldest_call_s is None
                else float(s.oldest_call_s),
                old.service_level if s.service_level is None or math.isnan(s.service_level)
                else min(max(float(s.service_level), 0.0), 1.0),
                old.agents_staffed if s.agents_staffed is None else int(s.agents_staffed),
                old.agents_available if s.agents_available is None
                else int(s.agents_available))
            self.last[name] = new
            for li in self.listeners:
                try:
                    li.on_skill_state(new)
                except Exception:  # one listener's bug must not starve the others
                    log.exception("CMS skill feed: listener %r failed", li)

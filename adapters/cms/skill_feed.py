"""The CMS real-time feed as the engine's ``SkillFeed``: the input of blending and of
skill-based pacing on a live site.

CMS reports skills by number; the engine names them. ``CmsSkillFeed`` subscribes to a
``CmsServer`` and turns every refreshed skill it knows into an
``engine.interfaces.SkillState``. A field the report left empty keeps that skill's last
known value (before any: 0 calls waiting, 0 s, service level 1, 0 agents), so one empty
cell never looks like a sudden change. Skills the mapping does not name are skipped.

A CMS that goes silent (no refresh for ``stale_s``: the link down, the report stopped) is
no news that the queue stays as it was: ``watch`` puts every skill back to the state it
had before the first refresh, and forwards it, so blending lends no more agents and hands
back those it lent (and skill pacing resumes) as if no report had come, instead of going
on for ever from the last state CMS gave. The next refresh is followed again.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
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
        self.server = server
        self.listeners: list[SkillListener] = []
        self.last: dict[str, SkillState] = {n: _unknown(n) for n in self.names.values()}
        self.silent_since: float | None = None  # time.monotonic() of the last refresh
        self.silences = 0  # times CMS went silent and the states were put back
        server.subscribe(self)

    def subscribe(self, listener: SkillListener) -> None:
        self.listeners.append(listener)

    def skills(self) -> list[str]:
        return sorted(self.names.values())

    def check_silence(self, stale_s: float) -> bool:
        """True when CMS has sent nothing for ``stale_s`` seconds since a refresh; the
        first time, every skill goes back to its state before any refresh, forwarded (see
        the module), and the silence is logged."""
        age = self.server.age_s()
        if age is None or age < stale_s:
            return False
        if self.silent_since is None:
            self.silent_since = self.server.last_refresh
            self.silences += 1
            log.warning("CMS: no refresh for %.0f s; the skills' states are unknown until "
                        "CMS reports again (blending lends nothing and hands agents back, "
                        "skill pacing runs as without a report)", age)
            for name in self.last:
                self.last[name] = _unknown(name)
                self._forward(self.last[name])
        return True

    async def watch(self, stale_s: float, every_s: float = 1.0) -> None:
        """``check_silence`` every ``every_s`` seconds until cancelled."""
        while True:
            await asyncio.sleep(every_s)
            self.check_silence(stale_s)

    def on_skill_states(self, states: Sequence[CmsState]) -> None:
        """A CMS refresh: forward each named skill's state (empty fields kept)."""
        if self.silent_since is not None:
            log.warning("CMS: reporting again after %.0f s of silence",
                        time.monotonic() - self.silent_since)
            self.silent_since = None
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
            self._forward(new)

    def _forward(self, state: SkillState) -> None:
        for li in self.listeners:
            try:
                li.on_skill_state(state)
            except Exception:  # one listener's bug must not starve the others
                log.exception("CMS skill feed: listener %r failed", li)


def _unknown(name: str) -> SkillState:
    """A skill's state before CMS reported it: no call waiting, service level 1."""
    return SkillState(name, 0, 0.0, 1.0, 0, 0)

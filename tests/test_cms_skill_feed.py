"""The CMS real-time feed as the engine's SkillFeed (adapters/cms/skill_feed.py)."""

from adapters.cms.server import CmsServer
from adapters.cms.server import SkillState as CmsState
from adapters.cms.skill_feed import CmsSkillFeed
from engine.interfaces import SkillFeed, SkillState


class _Rec:
    def __init__(self):
        self.got = []

    def on_skill_state(self, s):
        self.got.append(s)


def test_refreshes_become_engine_skill_states_and_empty_cells_keep_the_last_value():
    server = CmsServer()
    feed = CmsSkillFeed(server, {11: "care", 12: "orders"})
    assert isinstance(feed, SkillFeed) and server.listener is feed
    assert feed.skills() == ["care", "orders"]
    rec = _Rec()
    feed.subscribe(rec)
    feed.on_skill_states([CmsState(11, 4, 35.0, 0.72, 20, 0), CmsState(99, 1, 1.0, 1.0, 1, 1)])
    assert rec.got == [SkillState("care", 4, 35.0, 0.72, 20, 0)]
    feed.on_skill_states([CmsState(11, None, 12.0, None, None, 2)])
    assert rec.got[-1] == SkillState("care", 4, 12.0, 0.72, 20, 2)
    feed.on_skill_states([CmsState(12, None, None, 1.7, None, None)])
    assert rec.got[-1] == SkillState("orders", 0, 0.0, 1.0, 0, 0)  # SL clamped to 0..1

"""The CMS real-time feed as the engine's SkillFeed (adapters/cms/skill_feed.py): named
skills, every engine listener served, empty cells keep the last value."""

from adapters.cms.server import CmsServer
from adapters.cms.server import SkillState as CmsState
from adapters.cms.skill_feed import CmsSkillFeed
from engine.interfaces import SkillFeed, SkillState
from engine.skill_pacing import SkillPacer, SkillPacing


class _Rec:
    def __init__(self):
        self.got = []

    def on_skill_state(self, s):
        self.got.append(s)


class _Broken:
    def on_skill_state(self, s):
        raise RuntimeError("a listener's bug")


def test_refreshes_become_engine_skill_states_and_empty_cells_keep_the_last_value():
    server = CmsServer()
    feed = CmsSkillFeed(server, {11: "care", 12: "orders"})
    assert isinstance(feed, SkillFeed) and server.listener is feed
    assert feed.skills() == ["care", "orders"]
    rec, other = _Rec(), _Rec()
    feed.subscribe(_Broken())
    feed.subscribe(rec)
    feed.subscribe(other)
    pacer = SkillPacer([SkillPacing("care", queue_high=3)], feed)
    feed.on_skill_states([CmsState(11, 4, 35.0, 0.72, 20, 0), CmsState(99, 1, 1.0, 1.0, 1, 1)])
    assert rec.got == other.got == [SkillState("care", 4, 35.0, 0.72, 20, 0)]
    assert pacer.slowed[0]  # every listener, a broken one notwithstanding
    feed.on_skill_states([CmsState(11, None, 12.0, None, None, 2)])
    assert rec.got[-1] == SkillState("care", 4, 12.0, 0.72, 20, 2)
    feed.on_skill_states([CmsState(12, None, None, 1.7, None, None)])
    assert rec.got[-1] == SkillState("orders", 0, 0.0, 1.0, 0, 0)  # SL clamped to 0..1

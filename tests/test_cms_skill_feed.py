"""The CMS real-time feed as the engine's SkillFeed (adapters/cms/skill_feed.py): every
engine listener gets every skill state; an empty service level keeps the last value."""

import numpy as np

from adapters.cms.server import CmsServer
from adapters.cms.skill_feed import CmsSkillFeed
from engine.interfaces import SkillFeed, SkillState
from engine.skill_pacing import SkillPacer, SkillPacing


class _Rec:
    def __init__(self):
        self.got = []

    def on_skill_state(self, s):
        self.got.append(s)


def _row(skill, waiting, oldest, sl):
    return {"skill": skill, "calls_waiting": waiting, "oldest_call_s": oldest,
            "service_level": sl, "agents_staffed": 20, "agents_available": 0}


def test_every_listener_gets_every_refresh_and_an_empty_sl_keeps_the_last():
    server = CmsServer()
    feed = CmsSkillFeed(server, {11: "care", 12: "orders"})
    assert isinstance(feed, SkillFeed) and feed.skills() == ["care", "orders"]
    a, b = _Rec(), _Rec()
    feed.subscribe(a)
    feed.subscribe(b)
    pacer = SkillPacer([SkillPacing("care", queue_high=5)], feed)  # a third listener
    server._refresh([_row(11, 9, 35.0, 0.72)])
    assert a.got == b.got == [SkillState("care", 9, 35.0, 0.72, 20, 0)]
    assert pacer.slowed[0]
    server._refresh([_row(11, 0, 0.0, None), _row(12, 1, 2.0, None)])
    assert a.got[-2] == SkillState("care", 0, 0.0, 0.72, 20, 0)  # SL kept, not NaN
    assert a.got[-1] == SkillState("orders", 1, 2.0, 1.0, 20, 0)  # never known: 1
    assert not np.isnan([s.service_level for s in b.got]).any()


def test_a_silent_cms_puts_the_skills_back_to_unknown_once_and_a_refresh_resumes():
    # the last refresh showed the skill in trouble; CMS then sends nothing: decisions must
    # not go on from it for ever (blending lent agent after agent on a queue long gone)
    server = CmsServer()
    feed = CmsSkillFeed(server, {11: "care"})
    rec = _Rec()
    feed.subscribe(rec)
    pacer = SkillPacer([SkillPacing("care", queue_high=5)], feed)
    assert not feed.check_silence(60.0)  # no refresh yet: nothing to forget
    server._refresh([_row(11, 9, 35.0, 0.72)])
    assert pacer.slowed[0] and not feed.check_silence(60.0)  # fresh
    server.last_refresh -= 61.0  # a minute without a refresh
    assert feed.check_silence(60.0) and feed.check_silence(60.0)
    assert rec.got[1:] == [SkillState("care", 0, 0.0, 1.0, 0, 0)]  # forwarded once
    assert not pacer.slowed[0] and feed.silences == 1 and feed.silent_since is not None
    server._refresh([_row(11, 7, 20.0, 0.8)])  # CMS is back
    assert feed.silent_since is None and rec.got[-1].calls_waiting == 7 and pacer.slowed[0]

"""A restarted run's pacer carries the live answers its regulatory window recorded before
the restart (``Pacer.restore_live``, ``engine.recovery.restore_pacer``): an excess of
abandons before a crash or a stop is still counted and paid back, not forgotten."""

import numpy as np
import pytest

from engine.attempt import Attempt
from engine.recovery import restore_pacer
from engine.store_memory import MemoryStore
from engine.vocab import Code
from pacer import CampaignPacing, Pacer, Pacing, Regulation
from pacer.decide import WINDOW_Z

DAY = 86_400.0


def _pacer():
    return Pacer([CampaignPacing(pacing=Pacing.PREDICTIVE),
                  CampaignPacing(pacing=Pacing.PREDICTIVE, regulation=Regulation.OFCOM)])


def test_the_windows_count_what_was_recorded_inside_them():
    p = _pacer()
    now = 40 * DAY
    t = np.array([now - 35 * DAY, now - 10 * DAY, now - 2 * DAY, now - 600.0,  # FCC row
                  now - 2 * DAY, now - 600.0, now - 60.0])                    # Ofcom row
    rows = np.array([0, 0, 0, 0, 1, 1, 1])
    ab = np.array([True, True, False, False, True, True, False])
    # the FCC campaign keeps its last 30 days (3 of 4), the Ofcom one its last 24 h (2 of 3)
    assert p.restore_live(rows, t, ab, now) == 5
    r = p.abandon.rates(now)
    assert r.live.tolist() == [3, 2]
    assert r.rate.tolist() == pytest.approx([1 / 3, 1 / 2])
    assert p._carried_live.tolist() == [3, 2] and p._carried_ab.tolist() == [1, 1]


def test_an_excess_before_the_restart_is_paid_back():
    """The same aim, the same run so far: the pacer that carries 40 abandons in 400 live
    answers (10 % against a 3 % limit) has that excess to pay back; a fresh one has none."""
    fresh, carried = _pacer(), _pacer()
    n = 400
    carried.restore_live(np.zeros(n, dtype=np.int64), np.linspace(100.0, 3000.0, n),
                         np.arange(n) < 40, 3600.0)
    aim = fresh._aim()
    assert fresh._excess(aim)[0] <= 0.0
    excess = carried._excess(aim)[0]
    assert excess == pytest.approx(40 - 400 * aim[0] - WINDOW_Z * np.sqrt(400 * aim[0]))
    assert excess > 20  # beyond chance by far: the price pays it back
    assert carried.model_bias.tolist() == fresh.model_bias.tolist()  # not the model's bias


def test_bad_arguments_are_named():
    p = _pacer()
    with pytest.raises(ValueError, match="rows"):
        p.restore_live(np.array([2]), np.array([1.0]), np.array([True]), 10.0)
    with pytest.raises(ValueError, match="t_s"):
        p.restore_live(np.array([0, 1]), np.array([1.0]), np.array([True, False]), 10.0)
    with pytest.raises(ValueError, match="t_s"):
        p.restore_live(np.array([0]), np.array([np.nan]), np.array([True]), 10.0)
    with pytest.raises(ValueError, match="abandoned"):
        p.restore_live(np.array([0]), np.array([1.0]), np.array([1]), 10.0)
    with pytest.raises(ValueError, match="now_s"):
        p.restore_live(np.array([0]), np.array([1.0]), np.array([True]), float("inf"))
    assert p._carried_live.tolist() == [0, 0]


class _Job:
    def __init__(self, name):
        self.name = name


class _Dialer:
    def __init__(self, names):
        self.jobs = [_Job(n) for n in names]
        self.pacer = _pacer()


def test_a_restart_replays_the_stores_live_answers_by_job_name():
    store = MemoryStore()
    codes = [Code.LIVE_CONNECTED, Code.ABANDONED, Code.CUSTOMER_HANGUP, Code.MACHINE,
             Code.NO_ANSWER, Code.LIVE_CONNECTED]
    names = ["ofcom", "fcc", "fcc", "fcc", "fcc", "gone"]  # 'gone': no longer a job
    for i, (code, name) in enumerate(zip(codes, names, strict=True)):
        a = Attempt(i, 0, i, 0, 10.0 * i, f"c{i}", "+15555550100", 0, name)
        store.attempt_started(a)
        a.code, a.t_end = int(code), 10.0 * i + 5.0
        store.save_attempt(a)
    d = _Dialer(["fcc", "ofcom"])
    assert restore_pacer(store.attempts(), d, 100.0) == 3  # three live answers of jobs still there
    assert d.pacer._carried_live.tolist() == [2, 1]
    assert d.pacer._carried_ab.tolist() == [2, 0]  # an abandon and a hang-up waiting


def test_the_pacers_windowed_accounting_is_over_the_campaigns_own_window():
    # window_s = 1 h: the live answers of two hours ago are out of it (the regulator's 30
    # days held them), as restore_live keeps them out at a restart
    p = Pacer([CampaignPacing(window_s=3600.0), CampaignPacing()])
    for row in (0, 1):
        p.observe_live(row, 10.0, True)
        p.observe_live(row, 10.0, False)
    e = np.zeros(0, dtype=np.int64)
    p.decide(20.0, e, e, np.zeros(0), e, e, np.zeros(0))
    assert p.abandon.rates(20.0).live_fcc.tolist() == [2, 2]
    assert p.abandon.rates(7300.0).live_fcc.tolist() == [0, 2]
    assert p.restore_live([0, 1], [100.0, 100.0], [True, True], 7300.0) == 1

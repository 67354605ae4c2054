"""A dialer that sleeps through the ticks where nothing can be dialled (``Dialer(sleep=
True)``, the simulator's) gives the same run, tick for tick, as one that ticks through
them: the same attempts, byte for byte, in a fraction of the ticks."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import sim.run
from engine.dialer import Dialer
from sim.run import simulate
from sim.scenario import build

WINDOWS = "Mon-Fri 09:00-17:00"


def _run(raw: dict, sleep: bool, monkeypatch) -> tuple[str, Dialer, object]:
    """The run of ``raw`` with the dialer sleeping or not: (attempts hash, dialer, run)."""
    made: list[Dialer] = []

    class Made(Dialer):
        def __init__(self, *a, **k):
            super().__init__(*a, **{**k, "sleep": sleep})
            made.append(self)

    with monkeypatch.context() as m:
        m.setattr(sim.run, "Dialer", Made)
        r = simulate(build(raw))
    digest = hashlib.sha256(r.attempts.write_csv().encode()).hexdigest()
    return digest, made[0], r


def _step(retries: bool = True) -> dict:
    return {"channel": "voice", "address": "phone",
            **({"retries": {"no_answer": [3600, 2], "busy": [600, 1]}} if retries else {})}


def _day(**campaigns) -> dict:
    """30 hours from Monday 00:00 UTC: agents come and go, jobs pause and resume, lists
    wait for their windows through the nights."""
    return {
        "scenario": {"name": "nights", "sim_hours": 30.0, "warmup_s": 300.0, "seed": 4,
                     "start": "2026-11-23T00:00:00+00:00", "tick_s": 1.0},
        "telephony": {"ports": 20},
        "agents": [{"group": "g", "count": 3, "skills": ["s", "t"],
                    "profile": {"at": [0, 30000, 40000, 90000, 100000],
                                "count": [1, 3, 0, 2, 3]}}],
        "campaigns": [
            {"name": "pred", "skill": "s", **campaigns.get("pred", {}),
             "strategy": {"windows": WINDOWS, "default_timezone": "UTC", "steps": [_step()]}},
            {"name": "prog", "skill": "t", "pacing": "progressive", "records": 300,
             "schedule": {"start_s": 20000.0}, **campaigns.get("prog", {}),
             "strategy": {"windows": "Mon-Sun 10:00-12:00,18:00-19:00",
                          "default_timezone": "America/New_York", "steps": [_step()]}},
        ],
        "timeline": [{"at": 36000, "action": "pause", "campaign": "pred"},
                     {"at": 80000, "action": "resume", "campaign": "pred"},
                     {"at": 100500, "action": "pause", "campaign": "prog"},
                     {"at": 101111, "action": "resume", "campaign": "prog"}],
    }


@pytest.mark.parametrize("raw", [
    _day(),
    # contacts arriving all day into a list whose window is mostly closed: each arrival
    # wakes the dialer (``ContactFlow.on_extend``)
    _day(prog={"profile": {"at": [0, 50000], "new_contacts_per_hour": [30, 5]},
               "schedule": {"start_s": 20000.0, "finish_when_exhausted": False}}),
    # a preview job on a list read once, and a predictive job paced on service level
    _day(pred={"target": "service_level", "target_value": 0.9},
         prog={"pacing": "preview", "records": 80}),
], ids=["windows-profiles-timeline", "arrivals", "preview-service-level"])
def test_sleeping_through_closed_windows_changes_nothing(raw, monkeypatch):
    awake, d0, r0 = _run(raw, False, monkeypatch)
    asleep, d1, r1 = _run(raw, True, monkeypatch)
    assert r0.attempts.height > 100
    assert asleep == awake
    assert r1.intervals.equals(r0.intervals) and r1.total == r0.total
    sc = raw["scenario"]
    ticks = (sc["warmup_s"] + 3600 * sc["sim_hours"]) / sc["tick_s"]
    assert d0.ticks_skipped == 0 and d1.ticks_skipped > 0.5 * ticks, d1.ticks_skipped


def _timed_day(arrivals: str) -> dict:
    """``_day``'s 30 hours with only an agentless voice job and an SMS job, timed (credit
    per tick), on weekday windows: their credit moves every tick, night or day (agent-based
    jobs are the tests above; with a predictive job the dialer wakes every few seconds for
    its price loop's upkeep)."""
    windows = {"windows": "Mon-Fri 08:00-18:00", "default_timezone": "UTC"}
    return {**_day(), "timeline": [], "agents": [{"group": "g", "count": 1, "skills": ["s"]}],
            "campaigns": [{"name": "notify", "channel": "voice_agentless",
                           "attempts_per_hour": 37.0, "max_ports": 3, "arrivals": arrivals,
                           "message": {"length_s": 20.0},
                           "strategy": {**windows, "steps": [_step(False)]}},
                          {"name": "sms", "channel": "sms", "attempts_per_hour": 53.0,
                           "arrivals": arrivals, "message": {"latency_s": 2.0},
                           "strategy": {**windows, "steps": [
                               {"channel": "sms", "address": "phone",
                                "template": "reminder"}]}}]}


@pytest.mark.parametrize("arrivals", ["paced", "poisson"])
def test_sleeping_with_timed_jobs_changes_nothing(arrivals, monkeypatch):
    """A timed job's credit (and its Poisson draws) move at every tick, whether it sends or
    not: the pacer is told the ticks slept through (``Pacer.idle_ticks``), and the run is
    the same, attempt for attempt, as one that ticked through every night."""
    raw = _timed_day(arrivals)
    awake, _, r0 = _run(raw, False, monkeypatch)
    asleep, d1, r1 = _run(raw, True, monkeypatch)
    timed = r0.attempts.filter(r0.attempts["job_name"].is_in(["notify", "sms"])).height
    assert timed > 500  # ~90 an hour over the day's 10 open hours, and the next day's
    assert asleep == awake
    assert r1.intervals.equals(r0.intervals) and r1.total == r0.total
    sc = raw["scenario"]  # asleep through most of the two nights
    ticks = (sc["warmup_s"] + 3600 * sc["sim_hours"]) / sc["tick_s"]
    assert d1.sleep and d1.ticks_skipped > 0.2 * ticks, d1.ticks_skipped


def test_the_pacer_replays_the_skipped_ticks_of_a_timed_job():
    """``Pacer.idle_ticks``: the credit after n skipped ticks is the credit n calls of
    ``decide`` with nothing in flight would have left, and bad arguments say so."""
    from pacer import CampaignPacing, Pacer, Pacing

    def pacer():
        return Pacer([CampaignPacing(pacing=Pacing.TIMED, attempts_per_s=0.37, max_ports=5),
                      CampaignPacing(pacing=Pacing.TIMED, attempts_per_s=0.11, max_ports=5,
                                     poisson_arrivals=True)], seed=3)

    none = np.zeros(0, dtype=np.int64)
    a, b = pacer(), pacer()
    for p in (a, b):
        p.decide(10.0, none, none, np.zeros(0), none, none, np.zeros(0))
    t = 10.0
    for _ in range(37):
        t += 0.25
        a.decide(t, none, none, np.zeros(0), none, none, np.zeros(0))
    b.idle_ticks(10.0, 37, 0.25)
    assert (a.timed.credit == b.timed.credit).all()
    t += 0.25
    assert (a.decide(t, none, none, np.zeros(0), none, none, np.zeros(0))
            == b.decide(t, none, none, np.zeros(0), none, none, np.zeros(0))).all()
    for bad in ({"n": -1}, {"n": 2.5}, {"tick_s": 0.0}, {"last_s": float("nan")}):
        args = {"last_s": t, "n": 3, "tick_s": 0.25, **bad}
        with pytest.raises(ValueError, match=next(iter(bad))):
            b.idle_ticks(**args)


def test_a_dialer_with_a_clock_driven_job_never_sleeps(monkeypatch):
    """Fixed-ratio (launch phase) and VICIdial-style (sampled averages) jobs move with the
    clock whether they dial or not: their dialer ticks through."""
    for pacing in ("ratio:1.2", "vicidial-hard"):
        raw = _day(prog={"pacing": pacing})
        raw["scenario"]["sim_hours"] = 6.0
        _, d, _ = _run(raw, True, monkeypatch)
        assert not d.sleep and d.ticks_skipped == 0

"""The abandon-rate formulas on hand-computed numbers, and the KPI functions on small tables."""

import polars as pl
import pytest

from engine import kpi
from engine.attempt import ATTEMPT_FIELDS, Channel, Code
from pacer.rates import fcc_abandon_rate, ofcom_abandon_rate, vicidial_ofcom_abandon_rate


def test_fcc_rate():
    assert fcc_abandon_rate(3, 100) == pytest.approx(0.03)
    assert fcc_abandon_rate(0, 0) == 0.0


def test_ofcom_rate_hand_computed():
    # Ofcom: abandons 7 + false positives 3 over live answers 307 + false positives 3
    assert ofcom_abandon_rate(7, 3, 307) == pytest.approx(10 / 310)
    assert ofcom_abandon_rate(10, 0, 100) == pytest.approx(0.1)
    assert ofcom_abandon_rate(0, 0, 0) == 0.0
    # VICIdial's variant (drops 10, connects 300, machines 100: drops' = 7.5, 7.5 / 307.5)
    assert vicidial_ofcom_abandon_rate(10, 300, 100) == pytest.approx(7.5 / 307.5)


def _table(rows):
    cols = {f: [] for f in ATTEMPT_FIELDS}
    for r in rows:
        base = dict(attempt_id=len(cols["attempt_id"]), job=0, job_name="j", contact=0,
                    contact_id="c", address="", step=0,
                    channel=int(Channel.VOICE_AGENT), code=int(Code.NO_ANSWER), agent=-1,
                    abandoned=False, amd_false_positive=False, human=False, t_created=0.0,
                    t_answer=-1.0, t_connect=-1.0, t_talk_end=-1.0, t_end=10.0)
        base.update(r)
        for f in ATTEMPT_FIELDS:
            cols[f].append(base[f])
    return pl.DataFrame(cols)


def test_kpis_on_a_small_table():
    att = _table([
        dict(code=int(Code.LIVE_CONNECTED), t_answer=5.0, t_connect=5.0),
        dict(code=int(Code.LIVE_CONNECTED), t_answer=5.0, t_connect=6.5),
        dict(code=int(Code.LIVE_CONNECTED), t_answer=5.0, t_connect=8.0),
        dict(code=int(Code.ABANDONED), t_answer=5.0, abandoned=True),
        dict(code=int(Code.MACHINE), t_answer=5.0, amd_false_positive=True, human=True),
        dict(code=int(Code.MACHINE), t_answer=5.0),
        dict(code=int(Code.BUSY)),
        dict(code=int(Code.DELIVERED), channel=int(Channel.SMS), t_end=20.0),
    ])
    c = kpi.counts(att)
    assert (c["attempts"], c["live_answers"], c["abandons"], c["connects"]) == (8, 4, 1, 3)
    assert (c["machines"], c["amd_false_positives"]) == (1, 1)
    assert kpi.abandon_rate(att) == pytest.approx(0.25)
    # (1 abandon + 1 false positive) / (4 live answers + 1 false positive)
    assert kpi.abandon_rate_ofcom(att) == pytest.approx(2 / 5)
    assert kpi.ofcom_parts(c) == (2, 5)
    # VICIdial's: drops = 2; drops' = 2 - 2*1/4 = 1.5; 1.5/(3+1.5)
    assert kpi.rate_ofcom_vicidial(c) == pytest.approx(1.5 / 4.5)
    assert kpi.service_level(att, 2.0) == pytest.approx(2 / 4)
    assert kpi.attempts_by_channel(att) == {"voice_agent": 7, "voice_agentless": 0, "sms": 1,
                                            "email": 0}
    assert kpi.bhcc(8, 1800.0) == pytest.approx(16.0)
    assert kpi.in_window(att, 0.0, 15.0).height == 7
    assert kpi.occupancy(90.0, 100.0) == pytest.approx(0.9)
    assert kpi.agent_wait_mean_s(30.0, 3) == pytest.approx(10.0)


def test_a_window_counts_completions_by_their_end_and_answers_by_their_answer():
    # the window [100, 200): calls answered before it and ending in it complete there but
    # are the earlier period's live calls; a call answered in it and still up at its end
    # (PENDING, connected) is one of its live answers; one still waiting for an agent at
    # the end is not counted yet
    att = _table([
        dict(code=int(Code.LIVE_CONNECTED), t_answer=90.0, t_connect=90.5, t_end=150.0),
        dict(code=int(Code.ABANDONED), t_answer=99.0, abandoned=True, t_end=101.0),
        dict(code=int(Code.LIVE_CONNECTED), t_answer=120.0, t_connect=120.0, t_end=180.0),
        dict(code=int(Code.ABANDONED), t_answer=150.0, abandoned=True, t_end=152.0),
        dict(code=int(Code.LIVE_CONNECTED), t_answer=190.0, t_connect=193.0, t_end=260.0),
        dict(code=int(Code.PENDING), t_answer=195.0, t_connect=195.5, t_end=-1.0),
        dict(code=int(Code.PENDING), t_answer=199.0, t_end=-1.0),
        dict(code=int(Code.NO_ANSWER), t_end=130.0),
    ])
    c = kpi.window_counts(att, 100.0, 200.0, 2.0)
    assert c["attempts"] == 5  # ended in the window: 150, 101, 180, 152, 130
    assert (c["live_answers"], c["abandons"], c["connects"]) == (4, 1, 3)
    assert c["connected_in_threshold"] == 2  # 120 at once, 195 in 0.5 s (190: 3 s)
    by_end = kpi.counts(kpi.in_window(att, 100.0, 200.0))
    assert (by_end["live_answers"], by_end["abandons"]) == (4, 2)  # what it replaced
    per = kpi.window_counts_by(att.with_columns(pl.Series("job", [0, 0, 1, 1, 1, 1, 1, 0])),
                               "job", 100.0, 200.0, 2.0)
    assert per[0]["attempts"] == 3 and per[0]["live_answers"] == 0
    assert per[1]["attempts"] == 2 and per[1]["live_answers"] == 4
    assert sum(p["connects"] for p in per.values()) == c["connects"]


def test_a_simulated_windows_live_answers_are_those_answered_in_it():
    # from a cold start, 15 minutes: the calls still talking at the end are the window's
    # live answers (by end time a fifth of them would be missing and the rate read high)
    from sim.run import simulate
    from sim.scenario import load

    scn = load("scenarios/pacing-ref-50.toml",
               overrides={"scenario.sim_hours": 0.25, "scenario.warmup_s": 0.0})
    run = simulate(scn, 11)
    up = run.attempts_up
    assert up.height > 20 and (up["code"] == int(Code.PENDING)).all()
    every = pl.concat([run.attempts, up])
    hi = scn.sim_s
    answered = every.filter((pl.col("t_answer") >= 0) & (pl.col("t_answer") < hi))
    live = answered.filter(pl.col("code").is_in(list(kpi.LIVE_CODES))
                           | ((pl.col("code") == int(Code.PENDING))
                              & (pl.col("t_connect") >= 0)))
    assert run.total["live_answers"] == live.height
    assert run.total["abandons"] == answered.filter(
        pl.col("code").is_in(list(kpi.ABANDON_CODES))).height
    ended = kpi.counts(kpi.in_window(run.attempts, 0.0, hi))
    assert ended["live_answers"] < 0.9 * live.height  # the calls up at the end
    assert run.total["attempts"] == ended["attempts"]

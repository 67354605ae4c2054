"""A blended centre simulated end to end: outbound agents lent to an inbound skill and
taken back, checked on the run's own records (attempts, inbound calls, blending moves)."""

from __future__ import annotations

import polars as pl
import pytest

from sim.run import simulate
from sim.scenario import ScenarioError, build

STAY_S = 30.0


def _raw(blending: bool = True, **blend):
    raw = {
        "scenario": {"name": "blend", "sim_hours": 0.4, "warmup_s": 300.0, "seed": 5},
        "telephony": {"ports": 200},
        "inbound": [{"skill": "care", "calls_per_hour": 450,
                     "talk": {"dist": "exponential", "mean_s": 150},
                     "wrap": {"dist": "exponential", "mean_s": 15},
                     "patience": {"dist": "exponential", "mean_s": 120},
                     "sl_threshold_s": 20}],
        "agents": [{"group": "out", "count": 25, "skills": ["sales", "care"]},
                   {"group": "desk", "count": 16, "skills": ["care"],
                    "direction": "inbound"}],
        "campaigns": [{"name": "sales", "skill": "sales",
                       "talk": {"dist": "exponential", "mean_s": 120},
                       "blending": {"skill": "care", "enabled": blending, "queue_high": 2,
                                    "oldest_high_s": 20, "min_stay_s": STAY_S,
                                    "period_s": 1.0, **blend}}],
    }
    return raw


@pytest.fixture(scope="module")
def blended():
    return simulate(build(_raw(), "blend"))


@pytest.fixture(scope="module")
def unblended():
    return simulate(build(_raw(blending=False), "blend"))


def test_same_callers_with_blending_on_and_off(blended, unblended):
    """Common random numbers: the inbound arrivals do not depend on the policy."""
    end = 300.0 + 0.4 * 3600
    early = [sorted(r.inbound_calls.filter(pl.col("t_arrive_s") < end - 900)["t_arrive_s"])
             for r in (blended, unblended)]
    assert len(early[0]) > 100 and early[0] == early[1]


def _intervals(moves: pl.DataFrame):
    """(agent, lent at, back at or None) per lend."""
    out = []
    for a, g in moves.sort("t_s").group_by("agent"):
        lends = g.filter(pl.col("move") == "lend")["t_s"].to_list()
        backs = g.filter(pl.col("move") == "back")["t_s"].to_list()
        recalls = g.filter(pl.col("move") == "recall")["t_s"].to_list()
        for k, t in enumerate(lends):
            out.append((a[0], t, recalls[k] if k < len(recalls) else None,
                        backs[k] if k < len(backs) else None))
    return out


def test_agents_are_lent_and_taken_back(blended):
    m = blended.blending_moves
    assert m is not None
    assert (m["move"] == "lend").sum() > 0 and (m["move"] == "back").sum() > 0
    assert blended.inbound["care"]["answered_by_lent"] > 0


def test_never_moves_an_agent_mid_call(blended):
    _never_mid_call(blended)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agents_taking_aux_breaks_are_lent_and_never_on_two_calls(seed):
    """An agent the blending asked to leave outbound took an aux break after its wrap-up
    (the world's draw): the break's not-ready was read as the blending's, the agent lent
    (or made ready for outbound), and the break's end made it ready while lent or on an
    outbound call: the run stopped ('lend: agent 13 is lent already', 'agent 4: event
    'ready' not allowed in state BUSY') on every seed, or connected outbound calls to a
    lent agent. Such an agent now takes no break: its not-ready is the blending's."""
    raw = _raw(queue_high=0, oldest_high_s=1.0, oldest_low_s=0.0, step=2)
    raw["scenario"].update(sim_hours=0.25, warmup_s=0.0)
    raw["agents"][0].update(count=10, aux_probability=0.5, aux_mean_s=300.0)
    run = simulate(build(raw, "blend"), seed)
    assert (run.blending_moves["move"] == "lend").sum() > 0
    _never_mid_call(run)


def _never_mid_call(blended):
    """No outbound call going on at a lend, none connected while lent, handed back between
    inbound calls."""
    att = blended.attempts.filter(pl.col("t_connect") >= 0)
    calls = blended.inbound_calls.filter(pl.col("answered"))
    for agent, t_lend, _, t_back in _intervals(blended.blending_moves):
        mine = att.filter(pl.col("agent") == agent)
        end = t_back if t_back is not None else float("inf")
        # no outbound talk going on at the lend, none connected while lent
        assert mine.filter((pl.col("t_connect") <= t_lend)
                           & (pl.col("t_talk_end") > t_lend)).height == 0
        assert mine.filter((pl.col("t_connect") >= t_lend)
                           & (pl.col("t_connect") < end)).height == 0
        if t_back is not None:  # handed back between inbound calls (talk + wrap over)
            inb = calls.filter(pl.col("agent") == agent)
            busy = inb.filter((pl.col("t_decided_s") < t_back - 1e-9)
                              & (pl.col("t_decided_s") + pl.col("handle_s") > t_back + 1e-9))
            assert busy.height == 0


def test_minimum_stay_is_kept(blended):
    for _, t_lend, t_recall, _ in _intervals(blended.blending_moves):
        if t_recall is not None:
            assert t_recall - t_lend >= STAY_S - 1e-9


def test_blending_helps_the_inbound_skill_and_costs_outbound(blended, unblended):
    off = unblended
    assert off.blending_moves is None
    on_sl = blended.inbound["care"]["service_level"]
    off_sl = off.inbound["care"]["service_level"]
    assert on_sl > off_sl
    assert blended.total["lent_agent_s"] > 0 and off.total["lent_agent_s"] == 0
    for r in (blended, off):
        for k in ("occupancy", "occupancy_outbound", "occupancy_inbound"):
            assert 0.0 <= r.total[k] <= 1.0


def test_blending_needs_an_inbound_skill():
    raw = _raw()
    raw["campaigns"][0]["blending"]["skill"] = "orders"
    with pytest.raises(ScenarioError, match=r"blending\.skill: expected an inbound skill"):
        build(raw, "blend")
    raw = _raw()
    raw["agents"][1]["skills"] = ["sales"]
    with pytest.raises(ScenarioError, match=r"agents\.desk\.skills: an inbound group needs"):
        build(raw, "blend")


def test_inbound_and_blending_keys_can_be_overridden_and_swept():
    from sim.plan.sweep import check_key, numeric_keys
    from sim.scenario import load, read_raw

    path = "scenarios/blended-centre.toml"
    scn = load(path, {"inbound.care.calls_per_hour": 500, "campaigns.blending.step": 4})
    assert {s.name: s.calls_per_hour for s in scn.inbound} == {"orders": 1000.0, "care": 500.0}
    assert all(c.blending.step == 4 for c in scn.campaigns)
    raw = read_raw(path)
    keys = numeric_keys(raw)
    assert "inbound.calls_per_hour" in keys and "campaigns.blending.queue_high" in keys
    check_key("inbound.care.sl_threshold_s", raw)
    with pytest.raises(ValueError, match="not a numeric scenario key"):
        check_key("inbound.care.skill", raw)


def test_inbound_rate_profile_over_the_day():
    raw = _raw()
    del raw["inbound"][0]["calls_per_hour"]
    raw["inbound"][0]["profile"] = {"at": [0, 900], "calls_per_hour": [0, 900]}
    scn = build(raw, "blend")
    prof = scn.inbound[0].profile
    assert prof is not None and prof.value(100.0) == 0.0 and prof.value(1000.0) == 900.0
    r = simulate(scn)
    t = r.inbound_calls["t_arrive_s"]
    assert t.min() >= 900.0 and r.inbound_calls.height > 50
    raw["inbound"][0]["profile"] = {"at": [0, 900], "calls_per_hour": [0]}
    with pytest.raises(ScenarioError, match=r"inbound\[0\]\.profile"):
        build(raw, "blend")


def test_inbound_targets_are_declared_like_any_other():
    raw = _raw()
    raw["targets"] = {"min_inbound_service_level": 0.8, "max_abandon_rate": 0.03,
                      "max_inbound_asa_s": 20}
    scn = build(raw, "blend")
    assert {(t.kpi, t.op) for t in scn.targets} == {
        ("inbound_service_level", ">="), ("abandon_rate", "<="), ("inbound_asa_s", "<=")}
    raw["targets"] = {"max_inbound_nonsense": 10}
    with pytest.raises(ScenarioError, match="unknown target"):
        build(raw, "blend")


def test_every_blended_target_is_judged_on_a_run():
    from sim.plan.stats import summarise
    from sim.plan.task import run_task
    from sim.plan.verdict import evaluate

    raw = _raw()
    raw["scenario"]["sim_hours"] = 0.1
    raw["targets"] = {"min_inbound_service_level": 0.5, "max_lent_agent_s": 1e6,
                      "max_blending_lends": 10_000, "min_inbound_answered": 1,
                      "max_port_blocked": 0, "min_occupancy_outbound": 0.1}
    scn = build(raw, "blend")
    recs = [run_task(scn, seed) for seed in (1, 2)]
    s = summarise(recs, scn.name, scn.sim_hours, 0.0)
    res = evaluate(scn.targets, s.total, s.ci95, 2, scn.sim_hours)
    assert {r.kpi for r in res} == {t.kpi for t in scn.targets}
    by = {r.kpi: r for r in res}
    assert by["lent_agent_s"].value > 0 and by["blending_lends"].value > 0
    assert by["inbound_answered"].met is True


def test_a_blended_jobs_occupancy_leaves_out_its_time_lent(blended):
    """A job's occupancy is its agents' outbound work over their time on it less the time
    they were lent to inbound, as the total's occupancy_outbound (the one job here holds
    every dialer agent, so the two are the same figure). The lent time was counted as the
    job's idle time: 0.53 against an outbound occupancy of 0.84 here, and 42 % for a job
    whose agents were 85 % busy in a centre lending half of them."""
    assert blended.total["lent_agent_s"] > 0
    assert blended.campaigns[0]["occupancy"] == pytest.approx(
        blended.total["occupancy_outbound"], rel=1e-9)


def test_per_skill_occupancy_of_one_skill_is_the_total(blended):
    """One skill: the agents serving it are all the inbound agents, so its occupancy is the
    inbound total's, and its counts are the total's."""
    (only,) = blended.inbound.values()
    assert only["occupancy_inbound"] == pytest.approx(blended.total["occupancy_inbound"])
    assert only["offered"] == blended.total["inbound"]["offered"]
    assert 0.5 < only["occupancy_inbound"] < 1.0


def test_per_skill_kpis_get_intervals_from_the_one_aggregation():
    """``skill_summary`` pools a skill's service level and abandon rate on its counts (not a
    mean of rates) and gives each KPI an interval, as the total's own KPIs get them."""
    from sim.plan.stats import rate_ci95, skill_summary

    def rec(offered, in_t, ab, asa, occ):
        blk = {"offered": offered, "answered": offered - ab, "abandoned": ab,
               "answered_in_threshold": in_t, "service_level": in_t / offered,
               "abandon_rate": ab / offered, "asa_s": asa, "occupancy_inbound": occ,
               "answered_by_lent": 3.0, "mean_wait_s": 1.0, "calls_per_hour": offered}
        return {"inbound": {"care": blk, "orders": dict(blk, offered=2 * offered)}}

    recs = [rec(100, 90, 2, 4.0, 0.8), rec(300, 210, 12, 9.0, 0.9), rec(200, 170, 5, 6.0, 0.85)]
    out = skill_summary(recs)
    care = out["care"]
    assert care["service_level"] == pytest.approx(470 / 600)  # pooled, not the mean 0.8
    sl = rate_ci95([90, 210, 170], [100, 300, 200])
    assert care["ci95"]["service_level"] == pytest.approx([sl[1], sl[2]])
    lo, hi = care["ci95"]["asa_s"]
    assert care["asa_s"] == pytest.approx(19 / 3)
    assert lo < care["asa_s"] < hi
    assert 0 <= care["ci95"]["occupancy_inbound"][0] < 0.85 < care["ci95"][
        "occupancy_inbound"][1] <= 1.0
    assert out["orders"]["offered"] == pytest.approx(400.0)
    assert skill_summary([{"inbound": {}}]) == {}


@pytest.mark.parametrize("seed", [24, 25, 26])
def test_occupancy_is_a_fraction_when_shifts_end_while_agents_are_lent(seed):
    """The dialer's agents log off at 240 s while lent to a skill of 10-minute calls: each
    finishes its inbound call after its shift (staffed on inbound, no longer logged in for
    the dialer). That time was taken out of the dialer's logged-in time and its handling
    counted against nothing: total occupancy read 3.28 (seed 24), the outbound one over 1,
    the job's was clamped to 1.0."""
    raw = {
        "scenario": {"name": "late", "sim_hours": 0.3, "warmup_s": 0.0, "seed": seed},
        "telephony": {"ports": 100},
        "inbound": [{"skill": "in", "calls_per_hour": 200,
                     "talk": {"dist": "exponential", "mean_s": 600}}],
        "agents": [{"group": "blend", "count": 4, "skills": ["out", "in"],
                    "logout_s": 240.0}],
        "campaigns": [{"name": "c", "skill": "out", "pacing": "progressive",
                       "blending": {"skill": "in", "queue_high": 0, "min_stay_s": 0,
                                    "oldest_high_s": 1, "oldest_low_s": 0}}],
    }
    r = simulate(build(raw, "late"))
    t = r.total
    assert t["lent_agent_s"] > 0 and r.inbound["in"]["answered_by_lent"] > 0
    for key in ("occupancy", "occupancy_outbound", "occupancy_inbound"):
        assert 0.0 <= t[key] <= 1.0, (key, t[key])
    assert 0.0 <= r.campaigns[0]["occupancy"] <= 1.0
    # the one job holds every dialer agent: its occupancy is the outbound total's
    assert r.campaigns[0]["occupancy"] == pytest.approx(t["occupancy_outbound"], rel=1e-9)
    # the inbound side is the lent agents alone: the total is all handling over the time
    # at work, between the outbound and the inbound figures
    lo, hi = sorted((t["occupancy_outbound"], t["occupancy_inbound"]))
    assert lo - 1e-12 <= t["occupancy"] <= hi + 1e-12

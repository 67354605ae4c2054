"""A world that changes over the day: profiles over the run clock and a supervisor's
timeline, played through the world and the engine's own calls."""

import copy
import math
from datetime import datetime

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from outdial.cli import outdial
from sim.profiles import Profile, parse_profile, run_seconds
from sim.run import simulate
from sim.scenario import ScenarioError, build

START = datetime.fromisoformat("2026-11-23T08:00:00-05:00")
TINY = {
    "scenario": {"name": "day", "sim_hours": 0.5, "warmup_s": 0.0, "seed": 4,
                 "interval_s": 900.0, "start": "2026-11-23T08:00:00-05:00"},
    "telephony": {"ports": 200, "carrier_cps": 50.0},
    "agents": [{"group": "team", "count": 6, "skills": ["sales"]}],
    "campaigns": [{"name": "sales", "skill": "sales", "talk": {"mean_s": 60.0},
                   "wrap": {"mean_s": 5.0}, "customer": {"patience_mean_s": 20.0}}],
}


def _problems(raw):
    with pytest.raises(ScenarioError) as exc:
        build(raw, "day.toml")
    return "\n".join(exc.value.problems)


def test_profiles_step_and_linear():
    step = Profile((0.0, 100.0, 200.0), (1.0, 3.0, 2.0))
    assert [step.value(t) for t in (-5, 0, 99, 100, 150, 200, 999)] == [1, 1, 1, 3, 3, 2, 2]
    line = Profile((100.0, 200.0), (0.4, 0.2), linear=True)
    assert line.value(0) == 0.4 and line.value(150) == pytest.approx(0.3)
    assert line.value(250) == 0.2
    assert line.changes(200.0, 25.0) == [0.0, 100.0, 125.0, 150.0, 175.0]
    assert step.changes(150.0, 25.0) == [0.0, 100.0]


def test_times_of_day_are_run_seconds_at_the_start_offset():
    problems = []

    def problem(path, msg):
        problems.append(f"{path}: {msg}")

    assert run_seconds("08:00", START, "at", problem) == 0.0
    assert run_seconds("09:30:15", START, "at", problem) == 5415.0
    assert run_seconds("07:00", START, "at", problem) == 23 * 3600.0  # the next day
    assert run_seconds(120, START, "at", problem) == 120.0
    for bad in ("25:00", "8h", -1, math.inf, True):
        assert run_seconds(bad, START, "at", problem) is None
    assert len(problems) == 5
    prof = parse_profile({"at": ["08:00", "12:00"], "interpolate": "linear",
                          "live": [0.35, 0.15]}, "p", START,
                         {"live": (0.0, 1.0, "a fraction")}, problem)
    assert prof["live"] == Profile((0.0, 14400.0), (0.35, 0.15), True)


def test_profile_mistakes_are_named():
    raw = copy.deepcopy(TINY)
    raw["campaigns"][0]["profile"] = {"at": [0, 600, 300], "live": [0.3, 0.2, 0.1]}
    assert "campaigns.sales.profile.at: expected increasing times" in _problems(raw)
    raw["campaigns"][0]["profile"] = {"at": [0, 600], "live": [0.3], "talk": [1, 2],
                                      "interpolate": "cubic"}
    text = _problems(raw)
    assert "campaigns.sales.profile.live: expected 2 values, one per point of 'at', got 1" in text
    assert "campaigns.sales.profile.talk: unknown key" in text
    assert "campaigns.sales.profile.interpolate: expected one of step, linear" in text
    raw["campaigns"][0]["profile"] = {"at": [0, 600], "live": [0.3, 30]}
    assert "expected values from 0 to 1 (a fraction 0..1: 3 % is 0.03), got 30" in _problems(raw)
    raw["campaigns"][0]["profile"] = {"at": [0], "new_contacts_per_hour": [10]}
    assert "campaigns.sales.records: a campaign with arriving contacts needs a finite list" \
        in _problems(raw)
    raw = copy.deepcopy(TINY)
    raw["agents"][0]["profile"] = {"at": [0, 600], "count": [6, 7]}
    assert "agents.team.profile.count: expected values from 0 to 6" in _problems(raw)
    raw["agents"][0]["profile"] = {"at": [0], "count": [2]}
    raw["agents"][0]["login_s"] = 10.0
    assert "either login_s/logout_s or a profile" in _problems(raw)
    raw = copy.deepcopy(TINY)
    raw["timeline"] = [{"at": "09:00", "action": "pause", "campaign": "nope"},
                       {"at": 60, "action": "set", "campaign": "sales"},
                       {"at": 60, "action": "logoff", "group": "team", "agents": 9},
                       {"at": 60, "action": "fly"}]
    text = _problems(raw)
    assert "timeline[0].campaign: expected a campaign name or template (sales), got 'nope'" \
        in text
    assert "timeline[1]: action 'set' needs min_agents, max_agents or priority" in text
    assert "timeline[2].agents: expected how many of the group's 6 agents, 1 to 6, got 9" \
        in text
    assert "timeline[3].action: expected one of pause, resume, stop, set, logoff" in text


def _human_share(run, lo, hi):
    att = run.attempts.filter((pl.col("t_created") >= lo) & (pl.col("t_created") < hi))
    return att["human"].sum() / att.height, att.height


def test_the_live_share_follows_its_profile():
    raw = copy.deepcopy(TINY)
    raw["campaigns"] = [{"name": "notify", "channel": "voice_agentless",
                         "attempts_per_hour": 4000.0,
                         "outcomes": {"live": 0.6, "machine": 0.2, "busy": 0.1,
                                      "no_answer": 0.05, "invalid": 0.05},
                         "profile": {"at": [0, 900], "live": [0.6, 0.2]}}]
    raw["agents"] = []
    run = simulate(build(raw), 4)
    for (lo, hi), p in (((0, 900), 0.6), ((900, 1800), 0.2)):
        share, n = _human_share(run, lo, hi)
        assert n > 800
        assert abs(share - p) < 3 * math.sqrt(p * (1 - p) / n) + 0.01


def test_talk_means_and_agent_counts_follow_their_profiles():
    raw = copy.deepcopy(TINY)
    raw["scenario"]["sim_hours"] = 1.0
    raw["campaigns"][0]["talk"] = {"dist": "gamma", "mean_s": 60.0, "cv": 0.5}
    raw["campaigns"][0]["profile"] = {"at": [0, 900], "talk_mean_s": [60, 120]}
    raw["agents"][0]["profile"] = {"at": [0, 900], "count": [6, 3]}
    run = simulate(build(raw), 4)
    att = run.attempts.filter(pl.col("t_talk_end") > pl.col("t_connect"))
    att = att.filter(pl.col("human") & (pl.col("t_connect") >= 0))
    talk = (att["t_talk_end"] - att["t_connect"]).to_numpy()
    start = att["t_connect"].to_numpy()
    for (lo, hi), mean in (((0, 800), 60.0), ((1000, 3600), 120.0)):
        x = talk[(start >= lo) & (start < hi)]
        assert x.size > 10
        assert abs(x.mean() - mean) < 3 * 0.5 * mean / math.sqrt(x.size) + 1.0
    staffed = run.intervals.group_by("interval").agg(pl.col("staffed_mean").sum()).sort(
        "interval")["staffed_mean"].to_list()
    assert staffed[0] == pytest.approx(6, abs=0.3)
    assert staffed[2] == pytest.approx(3, abs=0.3)  # 3 agents once the others finished


def test_contacts_arrive_into_a_finite_list():
    raw = copy.deepcopy(TINY)
    raw["campaigns"][0].update(records=5, profile={"at": [0], "new_contacts_per_hour": [600]})
    scn = build(raw)
    assert scn.campaigns[0].schedule.finish_when_exhausted is False  # a growing list
    run = simulate(scn, 4)
    (job,) = run.jobs
    assert job["total_contacts"] == 5 + 300  # 600 an hour for half an hour, whole minutes
    late = run.attempts.filter(pl.col("t_created") > 900)
    assert late.height > 0  # the list kept growing after the first five were dialled


def test_every_arriving_contact_is_dialled_when_the_list_runs_dry_between_arrivals():
    """One lead every two minutes to three idle agents: the list is empty most of the
    time, and each lead is still dialled as it arrives (the job is not taken for done the
    first time it runs dry)."""
    raw = copy.deepcopy(TINY)
    raw["scenario"]["sim_hours"] = 1.0
    raw["agents"][0]["count"] = 3
    raw["campaigns"][0].update(records=2, pacing="progressive", ratio=1.0,
                               profile={"at": [0], "new_contacts_per_hour": [30]})
    run = simulate(build(raw), 4)
    (job,) = run.jobs
    assert job["total_contacts"] == 2 + 30
    dialled = run.attempts["contact_id"].n_unique()
    assert dialled >= job["total_contacts"] - 1  # the last minute's lead may still wait
    assert run.attempts.filter(pl.col("t_created") > 3000).height > 0


def test_the_supervisor_pauses_resumes_and_logs_agents_off():
    raw = copy.deepcopy(TINY)
    raw["timeline"] = [{"at": "08:05", "action": "pause", "campaign": "sales"},
                       {"at": "08:10", "action": "resume", "campaign": "sales"},
                       {"at": "08:11", "action": "resume", "campaign": "sales"},
                       {"at": "08:12", "action": "set", "campaign": "sales", "priority": 3},
                       {"at": "08:20", "action": "logoff", "group": "team", "agents": 6}]
    run = simulate(build(raw), 4)
    created = run.attempts["t_created"].to_numpy()
    assert not np.any((created > 300 + 1) & (created < 600))  # paused from 08:05 to 08:10
    assert np.any((created >= 600) & (created < 1200))
    late = created[created > 1200 + 300]  # all agents were forced off at 08:20
    assert late.size == 0
    assert any("timeline[2]: resume at 660 s refused" in w for w in run.warnings)


def test_the_day_scenario_prints_its_intervals_on_the_clock(tmp_path):
    from pathlib import Path

    scn = Path(__file__).resolve().parent.parent / "scenarios" / "day-profile.toml"
    res = CliRunner().invoke(outdial, ["simulate", str(scn), "--hours", "1", "--intervals",
                                       "--no-cache"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "per interval" in res.stdout and "│ 08:00 │" in res.stdout
    assert "│ 08:30 │" in res.stdout


def test_a_point_before_the_start_is_named_as_read_the_next_day():
    """With the day starting at 08:00, agents.profile.at = ["07:00", "12:00", "16:00"] was
    refused as 'expected increasing times, got ['07:00', '12:00', '16:00']': times that are
    increasing as written. "07:00" is read as the next day's (82,800 s); the problem says so
    and gives the run seconds each point reads as."""
    raw = copy.deepcopy(TINY)
    raw["agents"][0]["profile"] = {"at": ["07:00", "12:00", "16:00"], "count": [2, 6, 3]}
    p = _problems(raw)
    assert "(run seconds 82800, 14400, 28800)" in p
    assert "'07:00' is before the start (08:00), so read as the next day's" in p
    raw["agents"][0]["profile"]["at"] = ["09:00", "08:30", "16:00"]  # out of order: no hint
    p = _problems(raw)
    assert "(run seconds 3600, 1800, 28800)" in p and "before the start" not in p

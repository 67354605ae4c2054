"""Scenario files: the shipped ones load; every mistake gets one message naming file and key."""

import tomllib
from pathlib import Path

import pytest

from sim.scenario import ScenarioError, apply_overrides, build, load, parse_policy, with_policy

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"

MINIMAL = {
    "scenario": {"name": "t"},
    "telephony": {"ports": 10},
    "agents": [{"group": "a", "count": 3, "skills": ["s"]}],
    "campaigns": [{"name": "c", "skill": "s"}],
}


def _problems(raw, tmp_path=None):
    with pytest.raises(ScenarioError) as exc:
        build(raw, "x.toml")
    return exc.value.problems


def _is_live_config(path):
    """A live run configuration (``outdial run``) names endpoints and a scenario: no scenario."""
    return "run" in tomllib.loads(path.read_text())


@pytest.mark.parametrize("path", sorted(p for p in SCENARIOS.glob("*.toml")
                                        if not _is_live_config(p)), ids=lambda p: p.name)
def test_shipped_scenarios_load(path):
    scn = load(path)
    assert scn.campaigns and scn.ports > 0


def test_reference_scenario_is_the_documented_load():
    scn = load(SCENARIOS / "pom-60k-bhcc.toml")
    assert scn.total_agents == 1000
    assert len(scn.campaigns) == 200
    rate = {}
    for c in scn.campaigns:
        rate[c.channel] = rate.get(c.channel, 0.0) + c.attempts_per_hour
    assert rate["voice_agentless"] == pytest.approx(2000)
    assert rate["sms"] == pytest.approx(5000)
    assert rate["email"] == pytest.approx(5000)


def test_minimal_defaults():
    scn = build(MINIMAL, "x.toml")
    c = scn.campaigns[0]
    assert c.pacing == "predictive" and c.outcomes.ring_no_answer_s == 20.0
    assert scn.regulation.abandon_limit == 0.03 and scn.regulation.connect_window_s == 2.0


def test_unknown_key_suggests_the_right_one():
    raw = {**MINIMAL, "campaigns": [{"name": "c", "skill": "s", "talk": {"mean": 100}}]}
    probs = _problems(raw)
    assert any("campaigns.c.talk.mean: unknown key (did you mean 'mean_s'?)" in p for p in probs)


def test_wrong_type_range_and_choice_all_reported_at_once():
    raw = {**MINIMAL,
           "telephony": {"ports": "many"},
           "regulation": {"abandon_limit": 1.5, "mode": "eu"},
           "campaigns": [{"name": "c", "skill": "s", "outcomes": {"ring_no_answer_s": 10}}]}
    probs = _problems(raw)
    text = "\n".join(probs)
    assert "telephony.ports: expected integer, got string 'many'" in text
    assert ("regulation.abandon_limit: expected a value <= 1 (a fraction 0..1: 3 % is 0.03), "
            "got 1.5") in text
    assert "regulation.mode: expected one of fcc, ofcom, got 'eu'" in text
    assert "campaigns.c.outcomes.ring_no_answer_s: expected a value >= 15" in text


def test_outcome_probabilities_must_sum_to_one():
    raw = {**MINIMAL, "campaigns": [{"name": "c", "skill": "s", "outcomes": {"live": 0.9}}]}
    assert any("live + machine + busy + no_answer + invalid = 1" in p for p in _problems(raw))


def test_unknown_skill_and_missing_ports():
    raw = {k: v for k, v in MINIMAL.items() if k != "telephony"}
    raw["campaigns"] = [{"name": "c", "skill": "nope"}]
    text = "\n".join(_problems(raw))
    assert "telephony: required section is missing" in text
    assert "campaigns.c.skill: no agent group has skill 'nope'" in text


def test_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[scenario\nname=1")
    with pytest.raises(ScenarioError, match=r"bad.toml: not valid TOML"):
        load(bad)
    with pytest.raises(ScenarioError, match="file not found"):
        load(tmp_path / "missing.toml")


def test_empirical_talk_from_csv(tmp_path):
    (tmp_path / "talk.csv").write_text("talk_s\n100\n200\n300\n")
    raw = {**MINIMAL, "campaigns": [{"name": "c", "skill": "s", "talk": {
        "dist": "empirical", "file": "talk.csv", "column": "talk_s"}}]}
    scn = build(raw, "x.toml", tmp_path)
    assert scn.campaigns[0].talk.mean == pytest.approx(200.0)
    (tmp_path / "talk.csv").write_text("talk_s\n100\n-5\n")
    with pytest.raises(ScenarioError, match=r"talk.csv line 3: expected a duration >= 0 s"):
        build(raw, "x.toml", tmp_path)


def test_copies_expand_and_overrides_apply():
    raw = {**MINIMAL, "campaigns": [{"name": "c", "skill": "s", "copies": 3}]}
    raw2 = apply_overrides(raw, {"campaigns.outcomes.live": 0.4, "campaigns.outcomes.no_answer":
                                 0.22, "telephony.ports": 99, "agents.count": 7})
    scn = build(raw2, "x.toml")
    assert [c.name for c in scn.campaigns] == ["c-001", "c-002", "c-003"]
    assert all(c.outcomes.live == 0.4 for c in scn.campaigns)
    assert scn.ports == 99 and scn.total_agents == 7
    with pytest.raises(ScenarioError, match="naming an existing entry"):
        apply_overrides(raw, {"campaigns": 1})


def test_policy_override():
    scn = with_policy(build(MINIMAL, "x.toml"), "ratio:1.8")
    assert scn.campaigns[0].pacing == "ratio" and scn.campaigns[0].ratio == 1.8
    assert parse_policy("vicidial-tapered") == ("vicidial-tapered", None)
    with pytest.raises(ValueError, match="expected one of"):
        parse_policy("magic")


def test_a_policy_without_its_ratio_keeps_a_campaigns_own_only_where_it_paces_that_way():
    """compare's 'progressive' row made a 'ratio:2' campaign (2 lines per agent) progressive
    at 2 lines per *idle* agent; a progressive campaign keeps its own ratio."""
    def camp(pacing):
        raw = {**MINIMAL, "campaigns": [{"name": "c", "skill": "s", "pacing": pacing}]}
        return build(raw, "x.toml")
    assert with_policy(camp("ratio:2"), "progressive").campaigns[0].ratio == 1.0
    assert with_policy(camp("progressive:1.5"), "progressive").campaigns[0].ratio == 1.5
    assert with_policy(camp("progressive:1.5"), "ratio:1.2").campaigns[0].ratio == 1.2
    assert with_policy(camp("ratio:2"), "ratio:3").campaigns[0].ratio == 3.0
    c = with_policy(camp("ratio:2"), "predictive").campaigns[0]
    assert c.pacing == "predictive" and c.ratio == 1.0


def test_toml_pacing_takes_the_cli_policy_strings():
    for text, (pacing, ratio) in (("progressive:1.5", ("progressive", 1.5)),
                                  ("ratio:1.2", ("ratio", 1.2)),
                                  ("vicidial-tapered", ("vicidial-tapered", 1.0))):
        raw = {**MINIMAL, "campaigns": [{"name": "c", "skill": "s", "pacing": text}]}
        c = build(raw, "x.toml").campaigns[0]
        assert (c.pacing, c.ratio) == (pacing, ratio)
    raw = {**MINIMAL, "campaigns": [{"name": "c", "skill": "s", "pacing": "ratio:1.2",
                                     "ratio": 2.0}]}
    assert any("campaigns.c.ratio: given twice" in p for p in _problems(raw))
    raw = {**MINIMAL, "campaigns": [{"name": "c", "skill": "s", "pacing": "preview:2"}]}
    assert any(p.startswith("campaigns.c.pacing:") and "preview:2" in p
               for p in _problems(raw))


@pytest.mark.parametrize("table, key, value, hint", [
    ("talk", "mean_s", "200s", "(200s: write 200 in a key ending _s)"),
    ("wrap", "mean_s", "2min", "(2min: write 120 in a key ending _s)"),
    ("amd", "accuracy", "90%", "(90% is 0.9: fractions are written 0..1)"),
    ("amd", "accuracy", 90, "3 % is 0.03"),
    ("outcomes", "ring_median_s", "9.5", "(write 9.5 without quotes)"),
])
def test_unit_mistakes_get_a_hint_and_name_the_campaign(table, key, value, hint):
    raw = {**MINIMAL, "campaigns": [{"name": "sales", "skill": "s", table: {key: value}}]}
    probs = _problems(raw)
    mine = [p for p in probs if p.startswith(f"campaigns.sales.{table}.{key}:")]
    assert len(mine) == 1 and hint in mine[0], probs
    assert not any("float()" in p for p in probs)  # no raw Python message leaks


def test_problems_from_a_file_give_their_line(tmp_path):
    from sim.scenario import load

    text = """[scenario]
name = "x"
sim_hourz = 1

[telephony]
ports = 0

[[agents]]
group = "team"
count = 5
skills = ["s"]

[[campaigns]]
skill = "s"
name = "sales"
[campaigns.talk]
mean_s = "200s"

[[campaigns]]
name = "second"
skill = "s"
[campaigns.outcomes]
live = 3
"""
    p = tmp_path / "s.toml"
    p.write_text(text)
    with pytest.raises(ScenarioError) as e:
        load(p)
    where = {q.split(": ", 2)[1]: q.split(":", 1)[0] for q in e.value.problems
             if q.startswith("line ")}
    lines = text.splitlines()

    def line_with(s: str, after: int = 0) -> str:
        return f"line {next(i for i, t in enumerate(lines, 1) if i > after and s in t)}"

    assert where["scenario.sim_hourz"] == line_with("sim_hourz")
    assert where["telephony.ports"] == line_with("ports = 0")
    assert where["campaigns.sales.talk.mean_s"] == line_with('mean_s = "200s"')
    assert where["campaigns.second.outcomes.live"] == line_with("live = 3")


def test_key_lines_names_entries_like_the_validator():
    from sim.toml_lines import key_lines, line_of

    text = ('[[agents]]\ncount = 3\ngroup = "a"\n[[agents]]\ngroup = "b-2"\n'
            '[[campaigns]]\nname = "c1"\noutcomes = { live = 0.3 }\n[[campaigns]]\n'
            'channel = "sms"\n')
    lines = key_lines(text)
    assert lines["agents.a.count"] == 2 and lines["agents.b-2.group"] == 5
    assert lines["campaigns.c1.outcomes"] == 8
    assert lines["campaigns[1].channel"] == 10
    assert line_of(lines, "campaigns.c1.outcomes.live") == 8  # inside an inline table
    assert line_of(lines, "nowhere.key") is None


def test_a_bad_default_rule_is_reported_once_at_its_own_key():
    """The top-level [rules] are every job's defaults: a bad or unknown key there is one
    problem at rules.<key>, not one per campaign, and the good defaults still apply."""
    raw = dict(MINIMAL, campaigns=[{"name": f"c{i}", "skill": "s"} for i in range(3)],
               rules={"max_attempts_per_day_contact": "x", "channels": "voice", "bogus": 1,
                      "nuisance_period_s": 60.0})
    problems = _problems(raw)
    assert len(problems) == 3, problems
    assert sum("rules.max_attempts_per_day_contact" in p for p in problems) == 1
    assert sum("rules.channels" in p for p in problems) == 1
    assert sum("unknown key(s) bogus" in p for p in problems) == 1
    assert not any("campaigns." in p for p in problems)
    ok = build(dict(MINIMAL, rules={"nuisance_period_s": 60.0, "max_attempts_per_day_contact": 2}),
               "x.toml")
    assert ok.campaigns[0].rules.max_attempts_per_day_contact == 2


def test_a_list_whose_zone_column_is_named_otherwise_validates_and_runs(tmp_path):
    """``contacts.timezone = "tz"`` names the list's zone column; the job's flow hands the
    strategy each contact's zone under the strategy's ``timezone_field`` whatever the list
    calls it, so a strategy with calling windows needs no ``timezone_field`` of its own.
    Validation once checked the strategy against the file's raw columns and refused it
    ("the list has no column 'timezone' and there is no default_timezone"). The windows
    are read in each contact's zone: at 12:00 UTC only the London contacts are open."""
    from sim.run import simulate

    rows = ["cid,phone,tz"] + [
        f"C{i},+1212555{i:04d},{'Europe/London' if i % 2 else 'America/Los_Angeles'}"
        for i in range(400)]
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
    raw = {**MINIMAL,
           "scenario": {"name": "t", "start": "2026-11-23T12:00:00+00:00",
                        "sim_hours": 0.05, "warmup_s": 0.0},
           "campaigns": [{"name": "c", "skill": "s", "pacing": "progressive",
                          "contacts": {"file": "list.csv", "id": "cid", "timezone": "tz"},
                          "strategy": {"windows": "Mon-Sun 08:00-21:00",
                                       "steps": [{"channel": "voice",
                                                  "address": "phone"}]}}]}
    scn = build(raw, "s.toml", base_dir=tmp_path)
    run = simulate(scn, 1)
    called = run.attempts["contact_id"].to_list()
    assert called and all(int(c[1:]) % 2 == 1 for c in called)


def test_a_list_with_no_zone_column_takes_the_default_timezone(tmp_path):
    """``contacts.timezone`` left out names the column ``timezone``; a file without one and
    a ``default_timezone`` puts every contact in that zone (the default stands in for the
    column, as the key's doc says). It was refused: "missing column(s) 'timezone'". With no
    default either, the problem names both keys."""
    from sim.run import simulate

    (tmp_path / "list.csv").write_text(
        "cid,phone\n" + "".join(f"C{i},+1212555{i:04d}\n" for i in range(50)))
    camp = {"name": "c", "skill": "s", "pacing": "progressive",
            "contacts": {"file": "list.csv", "id": "cid",
                         "default_timezone": "America/Los_Angeles"},
            "strategy": {"windows": "Mon-Sun 08:00-21:00",
                         "steps": [{"channel": "voice", "address": "phone"}]}}
    raw = {**MINIMAL, "scenario": {"name": "t", "start": "2026-11-23T12:00:00+00:00",
                                   "sim_hours": 0.05, "warmup_s": 0.0},
           "campaigns": [camp]}
    scn = build(raw, "s.toml", base_dir=tmp_path)
    assert simulate(scn, 1).attempts.height == 0  # 04:00 in Los Angeles: closed
    camp["contacts"]["default_timezone"] = "Europe/London"
    assert simulate(build(raw, "s.toml", base_dir=tmp_path), 1).attempts.height > 0
    del camp["contacts"]["default_timezone"]
    with pytest.raises(ScenarioError) as exc:
        build(raw, "s.toml", base_dir=tmp_path)
    [problem] = exc.value.problems
    assert "campaigns.c.contacts.timezone: list.csv has no column 'timezone'" in problem
    assert "default_timezone" in problem


@pytest.mark.parametrize("channel", ["sms", "voice_agentless"])
def test_finish_after_successes_on_a_job_that_counts_no_success_is_a_warning(channel):
    """An SMS job with finish_after_successes = 100 sent on for the whole run: a message
    step has no done_codes unless given, so no contact ends in a success; an agentless voice
    job's step defaults to a live connect to an agent, which it never makes. Validation says
    so (and how to count deliveries); with done_codes the job finishes on its count."""
    from sim.run import simulate

    camp = {"name": "m", "channel": channel, "attempts_per_hour": 3600.0,
            "schedule": {"finish_after_successes": 20}}
    raw = {**MINIMAL, "scenario": {"name": "t", "sim_hours": 0.1, "warmup_s": 0.0},
           "telephony": {"ports": 500}, "campaigns": [camp]}
    scn = build(raw)
    [w] = [w for w in scn.warnings if "finish_after_successes" in w]
    assert "campaigns.m.schedule.finish_after_successes" in w and "done_codes" in w
    assert simulate(scn, 1).campaigns[0]["attempts"] > 250
    step = {"channel": "sms", "address": "phone", "template": "hi"} if channel == "sms" \
        else {"channel": "voice", "address": "phone", "pacing": "timed"}
    camp["strategy"] = {"windows": "always", "steps": [{**step, "done_codes": ["delivered"]}]}
    scn = build(raw)
    assert not [w for w in scn.warnings if "finish_after_successes" in w]
    assert 20 <= simulate(scn, 1).campaigns[0]["attempts"] < 120  # in flight at the finish


def test_resizing_a_group_with_shifts_scales_its_profile():
    """day-profile's floor logs in 12, 30, 22 ... of its 30 agents over the day. Sweeping
    or sizing agents under 30 (`sweep --vary agents=20,40`, `size --find agents`) was
    refused at every such count (profile.count: expected values from 0 to 20 (the group's
    count), got 30.0). A new count now scales the profile, keeping the day's shape; a
    profile the overrides set themselves is left as given."""
    path = SCENARIOS / "day-profile.toml"
    raw = tomllib.loads(path.read_text())
    shape = raw["agents"][0]["profile"]["count"]
    assert shape == [12, 30, 22, 22, 30, 24, 16, 8]
    half = apply_overrides(raw, {"agents.count": 15})["agents"][0]["profile"]["count"]
    assert half == [6, 15, 11, 11, 15, 12, 8, 4]
    double = apply_overrides(raw, {"agents.floor.count": 60})["agents"][0]["profile"]
    assert double["count"] == [2 * c for c in shape]
    load(path, {"agents.count": 15})  # valid now
    # the 20:45 logoff of 4 of the 30 scales too (at least 1): 3 agents is a valid day
    small = apply_overrides(raw, {"agents.count": 3})
    assert [e.get("agents") for e in small["timeline"] if e["action"] == "logoff"] == [1]
    assert raw["timeline"][-1]["agents"] == 4
    load(path, {"agents.count": 3})
    own = apply_overrides(raw, {"agents.count": 15,
                                "agents.floor.profile.count": [1] * len(shape)})
    assert own["agents"][0]["profile"]["count"] == [1] * len(shape)


def test_a_key_of_a_table_only_some_campaigns_have_is_set_where_they_have_it():
    """`--variant off:campaigns.blending.enabled=false` (docs/blending.md) on a centre
    where one job of two is blended gave the other a blending table of one key: refused,
    'campaigns.renew.blending.skill: required key is missing'. A key of such a table
    (blending, skill_pacing, profile, strategy) is set in the entries that have it; a table
    every entry has a default for (talk, amd) is still set in every one."""
    raw = {**MINIMAL,
           "inbound": [{"skill": "care", "calls_per_hour": 60.0}],
           "agents": [{"group": "a", "count": 3, "skills": ["s", "care"]}],
           "campaigns": [{"name": "sales", "skill": "s", "blending": {"skill": "care"}},
                         {"name": "renew", "skill": "s"}]}
    out = apply_overrides(raw, {"campaigns.blending.enabled": False,
                                "campaigns.amd.enabled": True})
    assert out["campaigns"][0]["blending"] == {"skill": "care", "enabled": False}
    assert "blending" not in out["campaigns"][1]
    assert [c["amd"] for c in out["campaigns"]] == [{"enabled": True}] * 2
    scn = build(out, "x.toml")
    assert [c.blending for c in scn.campaigns] == [None, None]
    alone = {**raw, "campaigns": [{"name": "renew", "skill": "s"}]}  # nobody has one
    assert "blending.skill" in " ".join(_problems(apply_overrides(
        alone, {"campaigns.blending.enabled": False})))


def test_a_group_resized_to_no_agent_keeps_its_logoffs_as_nobody_to_log_off():
    """`--set agents.floor.count=0` (or a sweep's 0) on day-profile: the 20:45 logoff of
    4 of the floor was refused ('timeline[4].agents: expected how many of the group's 0
    agents, 1 to 0, got 4'), so no sweep could leave a shift out. An empty group's
    logoffs log off nobody; the run makes nothing of the group and says so."""
    from sim.run import simulate

    path = SCENARIOS / "day-profile.toml"
    scn = load(path, {"agents.floor.count": 0, "scenario.sim_hours": 0.05})
    [logoff] = [a for a in scn.timeline if a.action == "logoff"]
    assert logoff.agents == () and logoff.count == 0
    assert simulate(scn, 1).attempts.height == 0
    raw = tomllib.loads(path.read_text())
    raw["timeline"][-1]["agents"] = 5  # still refused over a group's count
    raw["agents"][0]["count"] = 4
    raw["agents"][0]["profile"]["count"] = [1] * 8
    assert "timeline[4].agents" in " ".join(_problems(raw))


@pytest.mark.parametrize("how", ["file", "set", "set-index"])
def test_an_agent_group_problem_names_it_as_set_takes_it(tmp_path, how):
    """A bound error on an agent group was named `agents[0].count`, where --set takes
    `agents.team.count` (campaigns were already named `campaigns.NAME...`). Now the group's
    name is the key, from the file (with its line) or from the command line."""
    from tests.cli_helpers import cli

    text = (SCENARIOS / "single-50-predictive.toml").read_text()
    p = tmp_path / "s.toml"
    p.write_text(text.replace("count = 50", "count = -1") if how == "file" else text)
    args = {"file": (), "set": ("--set", "agents.team.count=-1"),
            "set-index": ("--set", "agents[0].count=-1")}[how]
    res = cli("validate", p, *args)
    assert res.exit_code == 2
    where = "line 22: " if how == "file" else "set on the command line: "
    assert f"{where}agents.team.count: expected a value >= 0 agents, got -1" in res.stderr
    assert "agents[0]" not in res.stderr


def test_skipped_rows_count_what_is_left_in_rows_not_problems(tmp_path):
    """A row with two problems (a bad e-mail and an unknown zone) is one row skipped. The
    warning said '4 of 8 rows ... skipped: <3 problems>; and 2 more': 5 problems on 4 rows
    read as 5 rows. What is left is counted as problems on rows; with reject, the problem
    lists the rows once (the error's own list and the validator's were both appended)."""
    rows = ["id,phone,email,timezone",
            "1,+12125550001,bad,UTC", "2,+12125550002,a@b.co,UTC",
            "3,+12125550003,bad,UTC", "4,+12125550004,a@b.co,UTC",
            "5,+12125550005,bad,UTC", "6,+12125550006,bad,Mars/Base",
            "7,+12125550007,a@b.co,UTC", "8,+12125550008,a@b.co,UTC"]
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
    contacts = {"file": "list.csv", "addresses": {"phone": "voice", "email": "email"}}
    raw = {**MINIMAL, "campaigns": [{"name": "c", "skill": "s", "contacts": contacts}]}
    [warning] = [w for w in build(raw, "s.toml", base_dir=tmp_path).warnings
                 if "skipped" in w]
    assert "4 of 8 rows" in warning
    assert warning.endswith("; and 2 more problems on 1 more rows")
    contacts["on_error"] = "reject"
    with pytest.raises(ScenarioError) as exc:
        build(raw, "s.toml", base_dir=tmp_path)
    [problem] = exc.value.problems
    assert problem.count("line 2:") == 1
    assert problem.endswith("; and 2 more problems on 1 more rows")

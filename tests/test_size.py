"""``outdial size``: strict target parsing, bounds (not means) judged, and a search that finds
the minimum with its neighbours in a handful of evaluations, not a grid."""

import re
from pathlib import Path

import pytest

import sim.plan.batch
from sim.plan.size import Target, parse_targets, resource_key, size
from sim.plan.stats import KPI_KEYS, mean_ci95, rate_ci95
from sim.scenario import load
from tests.cli_helpers import cli, cli_json

SCN = Path(__file__).resolve().parent.parent / "scenarios" / "single-50-predictive.toml"
LIVE = 1_000_000.0  # live answers per fake run: Wilson's width is negligible at this count


def test_parse_targets():
    assert parse_targets("abandon_rate<=0.03, occupancy >= 0.85") == [
        Target("abandon_rate", "<=", 0.03), Target("occupancy", ">=", 0.85)]
    assert parse_targets("agent_wait_mean_s<=20") == [Target("agent_wait_mean_s", "<=", 20.0)]
    bad = {
        "": "expected comma-separated",
        "abandon_rate<=0.03,": "expected comma-separated",
        "abandon_rate<0.03": "use <= or >=",
        "occupancy=0.9": "use <= or >=",
        "occupancy>=high": "expected a number after >=",
        "occupancy>=": "expected a number",
        "ocupancy>=0.9": "unknown KPI 'ocupancy' (did you mean occupancy?)",
        "abandon_rate<=3": "fraction 0..1 (3 % is 0.03)",
        "occupancy>=-1": "finite number >= 0",
        "occupancy>=0.8,occupancy>=0.9": "given twice",
        "0.9<=occupancy": "expected KPI<=NUMBER",
    }
    for text, msg in bad.items():
        with pytest.raises(ValueError, match=re.escape(msg)):
            parse_targets(text)


def test_targets_are_judged_on_the_bound_not_the_mean():
    t = Target("abandon_rate", "<=", 0.03)
    assert t.met(0.02, [0.01, 0.03]) and not t.met(0.02, [0.01, 0.031])
    t = Target("occupancy", ">=", 0.85)
    assert t.met(0.9, [0.85, 0.95]) and not t.met(0.9, [0.849, 0.95])


def test_resource_keys():
    scn = load(SCN)
    assert resource_key(scn, "agents") == ("agents.count", 50)
    assert resource_key(scn, "ports") == ("telephony.ports", 300)
    assert resource_key(scn, "licenses") == ("licenses.predictive_agents", 50)
    prog = load(SCN, {"campaigns.pacing": "progressive"})
    assert resource_key(prog, "licenses")[0] == "licenses.progressive_agents"


def _fake_world(monkeypatch):
    """Occupancy 1 - 20/ports, +-0.001 by seed: a monotone model whose answer is known."""
    evaluated = []

    def run_task(scn, seed, tables=False, progress=None):
        evaluated.append(scn.ports)
        kpis = dict.fromkeys(KPI_KEYS, 0.0)
        kpis["occupancy"] = 1 - 20 / scn.ports + (0.001 if seed % 2 else -0.001)
        return {"seed": seed, "wall_s": 0.0, "kpis": kpis, "warnings": []}

    monkeypatch.setattr(sim.plan.batch, "run_task", run_task)
    return evaluated


def test_search_finds_the_minimum_with_neighbours_in_few_evaluations(monkeypatch):
    evaluated = _fake_world(monkeypatch)
    targets = [Target("occupancy", ">=", 0.9)]
    res = size(SCN, "ports", targets, 7, 2, max_replications=2)  # no replications added

    def lower_bound(p):
        return mean_ci95([1 - 20 / p + 0.001, 1 - 20 / p - 0.001])[1]

    truth = next(p for p in range(1, 1000) if lower_bound(p) >= 0.9)
    assert res.answer == truth
    assert [p.value for p in res.neighbours()] == [truth - 1, truth, truth + 1]
    assert [p.meets for p in res.neighbours()] == [False, True, True]
    assert len(res.points) <= 12 and len(evaluated) == 2 * len(res.points)  # not a grid
    # the value just under the minimum: on the right side on average, not at its bound
    under = ", ".join(str(p.value) for p in res.points
                      if p.value < truth and p.kpis["occupancy"] >= 0.9)
    assert under and res.warnings == [f"occupancy>=0.9 holds on average at {under} but not at "
                            "its 95 % bound: the interval of 2 replications is too wide to "
                            "decide there (more replications, -r or --max-replications, "
                            "narrow it)"]
    # the mean alone would have passed below the answer: the bound decided
    below = res.point(truth - 1)
    assert below.kpis["occupancy"] >= 0.9 > below.ci95["occupancy"][0]


def test_search_upwards_and_when_nothing_meets(monkeypatch):
    _fake_world(monkeypatch)
    res = size(SCN, "ports", [Target("occupancy", ">=", 0.95)], 7, 2, upper=5000)
    assert res.answer is not None and res.answer > 300 and res.point(res.answer).meets
    assert not res.point(res.answer - 1).meets
    res = size(SCN, "ports", [Target("occupancy", ">=", 0.99)], 7, 2, upper=1000)
    assert res.answer is None and "up to 1000" in res.warnings[0]
    with pytest.raises(ValueError, match="expected >= 2"):
        size(SCN, "ports", [Target("occupancy", ">=", 0.9)], 7, 1)


def test_size_cli_on_the_simulator(tmp_path):
    out = cli_json("size", SCN, "--find", "agents", "--target", "occupancy>=0.85", "--hours",
                   "0.1", "-r", "2", "--max", "100", "--out", tmp_path, "--plots")
    assert out["key"] == "agents.count" and out["targets"] == ["occupancy>=0.85"]
    n = out["answer"]
    assert n is not None
    by = {p["value"]: p for p in out["evaluated"]}
    assert by[n]["meets"] and by[n]["ci95"]["occupancy"][0] >= 0.85
    if n > 1:
        assert not by[n - 1]["meets"] and by[n - 1]["ci95"]["occupancy"][0] < 0.85
    assert [p["value"] for p in out["neighbours"]] == [v for v in (n - 1, n, n + 1) if v in by]
    assert len(by) <= 12
    assert (tmp_path / "size.parquet").exists() and (tmp_path / "size_runs.parquet").exists()
    assert (tmp_path / "size.png").read_bytes()[:4] == b"\x89PNG"


def test_size_cli_errors():
    r = cli("size", SCN, "--find", "agents", "--target", "occupancy>0.8")
    assert r.exit_code == 2 and "use <= or >=" in r.stderr
    r = cli("size", SCN, "--find", "agents", "--target", "occupancy>=0.8", "--key",
            "agents.hit_rate")
    assert r.exit_code == 2 and "not a numeric scenario key" in r.stderr


def _falling_occupancy_world(monkeypatch):
    """Fixed traffic: occupancy 100 / (100 + ports) falls with the resource, the abandon rate
    0.1 - ports/1000 falls too (+-0.0001 by seed)."""
    evaluated = []

    def run_task(scn, seed, tables=False, progress=None):
        evaluated.append(scn.ports)
        kpis = dict.fromkeys(KPI_KEYS, 0.0)
        noise = 0.0001 if seed % 2 else -0.0001
        kpis["occupancy"] = 100 / (100 + scn.ports) + noise
        kpis["live_answers"] = LIVE
        kpis["abandons"] = LIVE * (max(0.0, 0.1 - scn.ports / 1000) + noise)
        return {"seed": seed, "wall_s": 0.0, "kpis": kpis, "warnings": []}

    monkeypatch.setattr(sim.plan.batch, "run_task", run_task)
    return evaluated


def test_search_turns_down_when_the_missed_targets_get_worse_upwards(monkeypatch):
    evaluated = _falling_occupancy_world(monkeypatch)
    targets = parse_targets("abandon_rate<=0.03,occupancy>=0.5")
    res = size(SCN, "ports", targets, 7, 2, max_replications=2)  # starts at 300 ports

    def meets(p):
        occ = mean_ci95([100 / (100 + p) + 0.0001, 100 / (100 + p) - 0.0001])[1]
        ab = rate_ci95([LIVE * (0.1 - p / 1000 + 0.0001), LIVE * (0.1 - p / 1000 - 0.0001)],
                       [LIVE, LIVE])[2]
        return occ >= 0.5 and ab <= 0.03

    truth = next(p for p in range(1, 300) if meets(p))
    assert res.answer == truth
    assert [p.meets for p in res.neighbours()] == [False, True, True]
    assert max(evaluated) == 600  # one look upwards, then down
    assert len(res.points) <= 14
    under = ", ".join(str(p.value) for p in res.points if p.value < truth
                      and all(t.holds(p.kpis[t.kpi]) for t in targets))
    assert res.warnings[0] == (f"occupancy>=0.5 gets worse as telephony.ports grows: every "
                               f"target is met from {truth} but missed again at 150")
    assert res.warnings[1:] == [f"abandon_rate<=0.03 holds on average at {under} but not at "
                                "its 95 % bound: the interval of 2 replications is too wide "
                                "to decide there (more replications, -r or "
                                "--max-replications, narrow it)"] if under else []


def test_search_down_when_no_value_meets(monkeypatch):
    _falling_occupancy_world(monkeypatch)
    res = size(SCN, "ports", parse_targets("abandon_rate<=0.01,occupancy>=0.6"), 7, 2)
    assert res.answer is None
    assert res.warnings == ["occupancy>=0.6 gets worse as telephony.ports grows, and no "
                            "value from 1 to 300 meets every target"]


def test_no_answer_because_the_bound_is_too_wide_says_so(monkeypatch):
    """Occupancy 0.95 on average, 0.90 or 1.00 by seed at every size: two replications'
    lower bound is far under 0.92, so nothing meets, and the warning tells the planner the
    target holds on average everywhere and only the interval is too wide."""
    def run_task(scn, seed, tables=False, progress=None):
        kpis = dict.fromkeys(KPI_KEYS, 0.0)
        kpis["occupancy"] = 1.0 if seed % 2 else 0.9
        return {"seed": seed, "wall_s": 0.0, "kpis": kpis, "warnings": []}

    monkeypatch.setattr(sim.plan.batch, "run_task", run_task)
    res = size(SCN, "ports", [Target("occupancy", ">=", 0.92)], 7, 2, upper=80)
    assert res.answer is None and "up to 80" in res.warnings[0]
    values = ", ".join(str(p.value) for p in res.points)
    assert {p.replications for p in res.points} == {8}  # doubled to 4 x 2 where undecided
    assert res.warnings[1:] == [f"occupancy>=0.92 holds on average at {values} but not at "
                                "its 95 % bound: the interval of 8 replications is too wide "
                                "to decide there (more replications, -r or "
                                "--max-replications, narrow it)"]
    # 16 replications decide it: 0.95 +- t(15) x 0.0516 / 4 = 0.95 +- 0.0275, over 0.92
    res = size(SCN, "ports", [Target("occupancy", ">=", 0.92)], 7, 2, upper=80,
               max_replications=16)
    assert res.answer == 1 and res.point(1).replications == 16 and res.point(1).meets
    res = size(SCN, "ports", [Target("occupancy", ">=", 0.97)], 7, 2, upper=80)
    assert res.answer is None and len(res.warnings) == 1  # missed on average: no such note


def test_an_undecided_value_gets_replications_until_decided(monkeypatch):
    """Abandons 2.5 % on average at every size, +-0.4 points by seed, and a meaningful
    occupancy: two replications leave the abandon target undecided everywhere, so before
    this change the search walked up to where the bound happened to clear 3 %. Now each
    undecided value doubles its replications (2, 4, 8) until the interval decides, and the
    answer is the occupancy's, the abandon rate met at the mean's own level."""
    evaluated = []

    def run_task(scn, seed, tables=False, progress=None):
        evaluated.append((scn.ports, seed))
        kpis = dict.fromkeys(KPI_KEYS, 0.0)
        kpis["occupancy"] = 1 - 20 / scn.ports
        kpis["live_answers"] = 2000.0
        kpis["abandons"] = 2000.0 * (0.025 + (0.004 if seed % 2 else -0.004))
        kpis["abandon_rate"] = kpis["abandons"] / kpis["live_answers"]
        return {"seed": seed, "wall_s": 0.0, "kpis": kpis, "warnings": []}

    monkeypatch.setattr(sim.plan.batch, "run_task", run_task)
    targets = parse_targets("abandon_rate<=0.03,occupancy>=0.9")
    res = size(SCN, "ports", targets, 7, 2, max_replications=8)
    assert res.answer == 200  # occupancy 1 - 20/200 = 0.9: the only binding target
    for p in res.points:
        assert p.replications in (2, 4, 8)
        seeds = sorted(s for v, s in evaluated if v == p.value)
        assert seeds == list(range(7, 7 + p.replications))  # the same seeds, extended
        ab = p.ci95["abandon_rate"]
        assert p.verdicts["abandon_rate<=0.03"] == (ab[1] <= 0.03)
    assert all(p.verdicts["abandon_rate<=0.03"] for p in res.points
               if p.kpis["occupancy"] >= 0.9)  # elsewhere it misses whatever the abandons
    assert not any("holds on average" in w for w in res.warnings)
    with pytest.raises(ValueError, match="--max-replications: expected >= --replications"):
        size(SCN, "ports", targets, 7, 4, max_replications=3)


def test_resources_a_scenario_lacks_are_clear_errors():
    notes = SCN.parent / "notifications-2200-ports.toml"
    for find, msg in (("agents", "--find agents: the scenario has no agent group"),
                      ("licenses", "--find licenses: no agent-based campaign")):
        r = cli("size", notes, "--find", find, "--target", "occupancy>=0.8")
        assert r.exit_code == 2 and msg in r.stderr and "Traceback" not in r.output


def test_licenses_of_a_one_agent_scenario_say_why_there_is_nothing_to_search():
    # the search's top is the agents: 1..1 said '--min/--max: expected 0 <= min < max',
    # options the planner never gave
    r = cli("size", SCN, "--find", "licenses", "--target", "occupancy>=0.3", "--no-cache",
            "--set", "agents.count=1")
    assert r.exit_code == 2 and "--min/--max" not in r.stderr
    assert "--find licenses: the search goes from --min (1) up to the scenario's agents (1)" \
        in r.stderr


BLENDED = """
[scenario]
name = "small-blend"
sim_hours = 0.3
warmup_s = 300.0
[telephony]
ports = 100
[[inbound]]
skill = "care"
calls_per_hour = 300.0
talk = { dist = "exponential", mean_s = 160.0 }
wrap = { dist = "exponential", mean_s = 20.0 }
[[agents]]
group = "out"
count = 10
skills = ["sales"]
[[agents]]
group = "desk"
count = 20
skills = ["care"]
direction = "inbound"
[[campaigns]]
name = "sales"
skill = "sales"
"""


def test_blended_targets_inbound_and_outbound_at_once(tmp_path):
    """An inbound service level and an outbound abandon limit in one search, on a group."""
    t = parse_targets("inbound_service_level>=0.8,abandon_rate<=0.2,occupancy_outbound>=0.1")
    assert [x.kpi for x in t] == ["inbound_service_level", "abandon_rate",
                                  "occupancy_outbound"]
    with pytest.raises(ValueError, match="fraction"):
        parse_targets("inbound_service_level>=80")
    path = tmp_path / "blend.toml"
    path.write_text(BLENDED)
    # three replications: with two, the interval of a rate of a few abandons spans tens of
    # points whenever the two differ (Student t, one degree of freedom)
    r = size(path, "agents", t[:2], 5, 3, key="agents.desk.count", lower=10, upper=40)
    assert r.answer is not None and 15 < r.answer <= 40  # 15 erlangs offered
    below = r.point(r.answer - 1)
    assert below is not None and not below.meets
    assert r.point(r.answer).kpis["inbound_service_level"] >= 0.8


def test_find_agents_with_several_groups_scales_them_all_in_the_scenarios_mix():
    """A blended centre's outbound teams and inbound desks are sized together: one total,
    split in the scenario's own proportions by largest remainder, summing exactly."""
    from sim.plan.size import ALL_AGENTS, resource_key, split_agents
    from sim.scenario import load

    scn = load("scenarios/blended-centre.toml")  # 110 + 90 + 50 + 60 = 310 agents
    assert resource_key(scn, "agents") == (ALL_AGENTS, 310)
    assert split_agents(scn, 310) == {"agents.sales-blend.count": 110,
                                      "agents.retention-blend.count": 90,
                                      "agents.orders-desk.count": 50,
                                      "agents.care-desk.count": 60}
    for total in (0, 1, 7, 155, 311, 1000):
        split = split_agents(scn, total)
        assert sum(split.values()) == total
        for g in scn.agents:  # each within one agent of its exact share
            assert abs(split[f"agents.{g.group}.count"] - total * g.count / 310) < 1
    assert split_agents(scn, 31) == {"agents.sales-blend.count": 11,
                                     "agents.retention-blend.count": 9,
                                     "agents.orders-desk.count": 5,
                                     "agents.care-desk.count": 6}


def test_an_inbound_target_on_a_scenario_with_no_inbound_skill_is_refused():
    """With no [[inbound]] skill the inbound KPIs are zeros: `size` walked agents 50 to
    100 against inbound_service_level>=0.8 and concluded agents do not limit it. It is
    refused before anything runs, naming the target."""
    with pytest.raises(ValueError, match=r"inbound_service_level>=0\.8: the scenario has no "
                                         r"\[\[inbound\]\] skill"):
        size(SCN, "agents", parse_targets("inbound_service_level>=0.8"), None, 2)


def _flat_world(monkeypatch, ports_peak: float = 10.0):
    """KPIs that no resource moves (the same at every value): the search stops at the first
    doubling and says what limits instead."""
    def run_task(scn, seed, tables=False, progress=None):
        kpis = dict.fromkeys(KPI_KEYS, 0.0)
        kpis.update(bhcc=1000.0 + seed % 2, ports_peak=ports_peak)
        return {"seed": seed, "wall_s": 0.0, "kpis": kpis, "warnings": []}

    monkeypatch.setattr(sim.plan.batch, "run_task", run_task)


def test_a_resource_that_does_not_limit_says_what_does(monkeypatch):
    """60k reference: --find agents past its 1,000 predictive licenses said only 'agents.count
    does not limit it'; the planner had to guess the licenses. Now the note names the pool,
    the jobs' max_agents or the ports, whichever binds, with the key to raise."""
    _flat_world(monkeypatch)
    target = [Target("bhcc", ">=", 5000.0)]
    res = size(SCN, "agents", target, 7, 2, base={"licenses.predictive_agents": 30})
    assert res.answer is None and len(res.warnings) == 1
    assert res.warnings[0].endswith(
        "what does: the license pool (licenses.predictive_agents = 30): at most 30 of the "
        "100 agents work (raise licenses.predictive_agents, or size it with --find licenses)")
    res = size(SCN, "agents", target, 7, 2, base={"campaigns.max_agents": 40})
    assert "what does: the jobs' max_agents, 40 in all: at most 40 of the 100 agents take " \
           "calls (raise campaigns.sales.max_agents)" in res.warnings[0]
    res = size(SCN, "licenses", target, 7, 2, start=30)  # 30, then 50: all agents
    assert "what does: the agents (50): every one can hold a license" in res.warnings[0]
    _flat_world(monkeypatch, ports_peak=300.0)  # the scenario's whole pool in use
    res = size(SCN, "agents", target, 7, 2)
    assert res.warnings[0].endswith("what does: the ports: their peak reached the pool's 300 "
                                    "(raise telephony.ports, or size it with --find ports)")
    _flat_world(monkeypatch)  # nothing named binds: the note stays as it was
    res = size(SCN, "agents", target, 7, 2)
    assert res.warnings[0].endswith("the targets need something else")


def test_the_answer_carries_what_simulate_would_warn_of_it(tmp_path):
    """A search whose answer is limited by the telephony ports (8 ports, 10
    predictive agents: every port in use) says so, as `simulate` at that value does. The
    answer's assessment warnings were computed and dropped: `size` answered 9 agents on 8
    ports with no word of the port pool limiting the dialling."""
    path = tmp_path / "ports.toml"
    path.write_text('[scenario]\nname = "ports"\nsim_hours = 0.2\nwarmup_s = 60\n'
                    '[telephony]\nports = 8\n'
                    '[[agents]]\ngroup = "g"\ncount = 6\nskills = ["s"]\n'
                    '[[campaigns]]\nname = "c"\nskill = "s"\n')
    r = size(path, "agents", parse_targets("bhcc_agent>=100"), 1, 2, lower=10, upper=12)
    assert r.answer == 10
    assert r.point(10).kpis["ports_mean"] >= 0.95 * 8
    [w] = [w for w in r.warnings if "telephony ports" in w]
    assert w.startswith("at the minimum (agents.count = 10): telephony ports:")


def test_licenses_are_sized_against_the_dialers_agents_not_the_inbound_desks():
    """A blended centre of 31 outbound agents and a 10-agent inbound desk: sizing a license
    pool searched up to 41 and, where more licenses changed nothing, said 'the agents (41):
    every one can hold a license'. The desk's agents are the ACD's: they hold no dialer
    license. The search tops out at the 31, and the warning names them."""
    from sim.plan.size import what_limits
    from sim.scenario import build

    raw = {"scenario": {"name": "b"}, "telephony": {"ports": 50},
           "licenses": {"predictive_agents": 40},
           "inbound": [{"skill": "care", "calls_per_hour": 60.0}],
           "agents": [{"group": "out", "count": 31, "skills": ["s", "care"]},
                      {"group": "desk", "count": 10, "skills": ["care"],
                       "direction": "inbound"}],
           "campaigns": [{"name": "c", "skill": "s"}]}
    scn = build(raw, "b.toml")
    assert scn.total_agents == 41 and scn.dialer_agents == 31
    assert resource_key(scn, "licenses") == ("licenses.predictive_agents", 31)
    text = what_limits(scn, "licenses.predictive_agents", {})
    assert "the agents (31): every one can hold a license" in text


def test_ports_that_do_not_limit_name_the_outbound_port_licenses_that_do():
    """`size --find ports --target blocked<=10` on voice notifications blocked for want of a
    *licensed* port (licenses.outbound_ports = 30, reserved): 40 and 80 ports gave the same
    240 blocked, and the warning ended 'the targets need something else', naming nothing.
    It names the outbound-port licenses and how to raise them."""
    from sim.plan.size import what_limits
    from sim.scenario import build

    raw = {"scenario": {"name": "n"}, "telephony": {"ports": 40},
           "licenses": {"outbound_ports": 30},
           "campaigns": [{"name": "robo", "channel": "voice_agentless",
                          "attempts_per_hour": 3000.0, "max_ports": 20}]}
    scn = build(raw, "n.toml")
    text = what_limits(scn, "telephony.ports", {"port_blocked": 240.0, "ports_peak": 20.0})
    assert text.startswith("the outbound-port licenses: 240.0 notification attempts per "
                           "replication blocked for want of a licensed port "
                           "(licenses.outbound_ports = 30, split reserved")
    assert what_limits(scn, "telephony.ports", {"port_blocked": 0.0}) == ""


def test_the_table_marks_undecided_cells_apart_from_missed_ones(monkeypatch):
    """A point that misses one target (occupancy on average) and leaves another undecided
    (BHCC over its floor on average, its lower bound under it) marked both ✗; the table's
    caption said ✗ is "missed", so the undecided one read as missed."""
    def run_task(scn, seed, tables=False, events=False, progress=None):
        kpis = dict.fromkeys(KPI_KEYS, 0.0)
        kpis["occupancy"] = 0.5 + (0.001 if seed % 2 else -0.001)
        kpis["bhcc"] = 1000.0 + (300.0 if seed % 2 else -300.0)
        return {"seed": seed, "wall_s": 0.0, "kpis": kpis, "warnings": []}

    monkeypatch.setattr(sim.plan.batch, "run_task", run_task)
    res = cli("size", SCN, "--find", "ports", "--target", "occupancy>=0.9,bhcc>=900",
              "-r", "2", "--max-replications", "2", "--max", "310", "--no-cache",
              env={"COLUMNS": "250"})
    rows = [line for line in res.output.splitlines() if line.startswith("│ 300 ")]
    (row,) = rows
    cells = [c.strip() for c in row.strip("│").split("│")]
    assert cells[1].endswith("✗") and cells[2].endswith("?"), row
    assert "? where it is undecided" in " ".join(res.output.split())

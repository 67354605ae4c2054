"""A campaign's own regulation (``[campaigns.regulation]``): a centre with UK (Ofcom) and US
(FCC/TSR) jobs, each judged by its own rule: the pacer's limit and connect window, the
limit warnings, the chance of ending the window over the limit, compare's verdict and the
outputs."""

from __future__ import annotations

import math

import pytest

from pacer.modes import Regulation as PacerRegulation
from sim.plan.assess import limit_warnings
from sim.plan.limits import limit_verdict, rule_groups
from sim.plan.stats import (
    KPI_KEYS,
    RATE_PARTS,
    copies_prior,
    judge,
    limit_risks,
    p_over_limit,
    summarise,
    summarise_rows,
)
from sim.run import campaign_pacing
from sim.scenario import ScenarioError, build
from tests.cli_helpers import cli_json, cli_ok


def _raw(uk_rule=None, **top):
    uk = {"name": "uk", "skill": "uk", "amd": {"enabled": True, "accuracy": 0.8}}
    if uk_rule is not None:
        uk["regulation"] = uk_rule
    return {
        "scenario": {"name": "uk-us", "sim_hours": 0.05, "warmup_s": 30.0, "seed": 3},
        "regulation": {"mode": "fcc", "abandon_limit": 0.03, **top},
        "telephony": {"ports": 200},
        "agents": [{"group": "us", "count": 12, "skills": ["us"]},
                   {"group": "uk", "count": 8, "skills": ["uk"]}],
        "campaigns": [{"name": "us", "skill": "us"}, uk],
    }


UK = {"mode": "ofcom", "abandon_limit": 0.02, "connect_window_s": 1.0}


def test_a_campaign_rule_overrides_the_scenarios_key_by_key():
    scn = build(_raw(UK, window_s=3600.0))
    us, uk = scn.regulations
    assert us == scn.regulation and us.mode == "fcc" and us.abandon_limit == 0.03
    assert (uk.mode, uk.abandon_limit, uk.connect_window_s) == ("ofcom", 0.02, 1.0)
    assert uk.window_s == 3600.0  # not given: the scenario's
    # a partial table keeps the scenario's other keys
    only = build(_raw({"abandon_limit": 0.05})).regulations[1]
    assert (only.mode, only.abandon_limit, only.connect_window_s) == ("fcc", 0.05, 2.0)


def test_the_pacer_and_the_dialer_get_each_campaigns_own_rule():
    import simpy

    from engine.store_memory import MemoryStore
    from sim.run import assemble

    scn = build(_raw(UK))
    us, uk = (campaign_pacing(c, scn) for c in scn.campaigns)
    assert us.regulation == PacerRegulation.FCC and us.abandon_limit == 0.03
    assert uk.regulation == PacerRegulation.OFCOM and uk.abandon_limit == 0.02
    assert (us.connect_window_s, uk.connect_window_s) == (2.0, 1.0)
    assert uk.window_s == 86_400.0 and us.window_s == 30 * 86_400.0  # each regulator's
    w = assemble(scn, 1, simpy.Environment(), MemoryStore(), (30.0, 210.0))
    assert [j.connect_window_s for j in w.dialer.jobs] == [2.0, 1.0]


@pytest.mark.parametrize(("rule", "key", "says"), [
    ({"mode": "uk"}, "campaigns.uk.regulation.mode", "expected one of fcc, ofcom"),
    ({"abandon_limit": 3}, "campaigns.uk.regulation.abandon_limit", "3 % is 0.03"),
    ({"abandon_limt": 0.02}, "campaigns.uk.regulation.abandon_limt",
     "did you mean 'abandon_limit'"),
    ("ofcom", "campaigns.uk.regulation", "expected a table"),
])
def test_validation_names_the_campaigns_key(rule, key, says):
    with pytest.raises(ScenarioError) as e:
        build(_raw(rule))
    (p,) = e.value.problems
    assert p.startswith(f"{key}:") and says in p, p


def test_a_rule_on_a_notification_campaign_is_refused():
    raw = _raw()
    raw["campaigns"].append({"name": "txt", "channel": "sms", "attempts_per_hour": 100,
                             "regulation": {"mode": "ofcom"}})
    with pytest.raises(ScenarioError) as e:
        build(raw)
    (p,) = e.value.problems
    assert p.startswith("campaigns.txt.regulation:") and "agent-based" in p


TOML = """
[scenario]
name = "uk-us"
sim_hours = 0.05
warmup_s = 30
seed = 3

[regulation]
mode = "fcc"
abandon_limit = 0.03

[telephony]
ports = 200

[[agents]]
group = "us"
count = 12
skills = ["us"]

[[agents]]
group = "uk"
count = 8
skills = ["uk"]

[[campaigns]]
name = "us"
skill = "us"

[[campaigns]]
name = "uk"
skill = "uk"

[campaigns.amd]
enabled = true
accuracy = 0.8

[campaigns.regulation]   # the UK job: Ofcom, 2 %, a 1 s connect window
mode = "ofcom"
abandon_limit = 0.02
connect_window_s = 1.0
"""


def test_the_file_form_is_the_mapping_form(tmp_path):
    from sim.scenario import load

    f = tmp_path / "s.toml"
    f.write_text(TOML)
    assert load(f).regulations == build(_raw(UK)).regulations


def test_set_reaches_a_campaigns_rule(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text(TOML)
    out = cli_json("validate", f, "--set", "campaigns.uk.regulation.abandon_limit=0.04")
    assert out["valid"], out
    from sim.scenario import load

    scn = load(f, {"campaigns.uk.regulation.abandon_limit": 0.04})
    assert [r.abandon_limit for r in scn.regulations] == [0.03, 0.04]


def _camp(name, abandons, live, fp=0.0, pacing="predictive"):
    return {"name": name, "template": name, "channel": "voice_agent", "pacing": pacing,
            "abandons": abandons, "live_answers": live, "amd_false_positives": fp,
            "attempts": 3 * live}


def _records(per_rep):
    """Replications' records: ``per_rep`` is, per replication, the campaigns' counts."""
    out = []
    for i, camps in enumerate(per_rep):
        k = dict.fromkeys(KPI_KEYS, 0.0)
        for key in ("abandons", "live_answers", "amd_false_positives", "attempts"):
            k[key] = float(sum(c[key] for c in camps))
        out.append({"seed": i, "kpis": k, "campaigns": camps, "warnings": []})
    return out


def test_each_campaign_is_warned_against_its_own_limit():
    """The US job at 4 % is over the scenario's 3 %; the UK job at 4 % is under its own 5 %
    (FCC mode both): one warning, naming the US job and 3 %. Judged by the scenario's rule,
    both were warned."""
    scn = build(_raw({"abandon_limit": 0.05}))
    camps = [_camp("us", 80, 2000), _camp("uk", 80, 2000)]
    (w,) = limit_warnings(scn, camps, 1)
    assert w.startswith("campaign us:") and "3 % limit" in w


def test_an_ofcom_campaign_is_warned_in_ofcom_terms():
    """2 % FCC drops plus 2 % of AMD false positives: under the US 3 % in FCC terms, over
    the UK 3 % in Ofcom's (abandons and false positives over live calls)."""
    scn = build(_raw({"mode": "ofcom"}))
    camps = [_camp("us", 40, 2000, fp=40.0), _camp("uk", 40, 2000, fp=40.0)]
    (w,) = limit_warnings(scn, camps, 1)
    assert w.startswith("campaign uk:") and "Ofcom" in w


def test_the_chance_over_the_limit_is_each_campaigns_own():
    """p_over_limit of each campaign in its own mode, limit and window, as computed
    directly from its counts."""
    scn = build(_raw(UK))
    reps = [[_camp("us", 20, 1000, fp=15.0), _camp("uk", 15, 900, fp=20.0)],
            [_camp("us", 28, 1100, fp=18.0), _camp("uk", 12, 950, fp=25.0)]]
    recs = _records(reps)
    run_s = scn.sim_hours * 3600.0
    got = limit_risks(recs, scn.regulations, run_s)
    for i, reg in enumerate(scn.regulations):
        key = "abandon_rate_ofcom" if reg.mode == "ofcom" else "abandon_rate"
        parts = [RATE_PARTS[key](r["campaigns"][i]) for r in recs]
        nums, dens = [p[0] for p in parts], [p[1] for p in parts]
        want = p_over_limit(nums, dens, run_s, reg.judged_window_s, reg.abandon_limit,
                            copies_prior(0, [sum(nums)], [sum(dens)]))
        assert got[i] == pytest.approx(want, rel=1e-12)
    # summarise names each campaign's rule beside it
    s = summarise(recs, scn.name, scn.sim_hours, 0.0, regulation=scn.regulations)
    assert [(c["regulation"], c["abandon_limit"]) for c in s.campaigns] == [
        ("fcc", 0.03), ("ofcom", 0.02)]
    assert s.campaigns[1]["p_over_limit"] == pytest.approx(got[1])


def test_compares_verdict_is_the_worst_rule_and_names_it():
    """The US job far under its 3 % (FCC), the UK job far over its 2 % (Ofcom, its false
    positives counted): the policy misses, on the UK rule, whatever the pooled FCC rate."""
    scn = build(_raw(UK))
    reps = [[_camp("us", 10, 2000), _camp("uk", 10, 2000, fp=100.0)],
            [_camp("us", 12, 2100), _camp("uk", 9, 1900, fp=90.0)],
            [_camp("us", 8, 1900), _camp("uk", 11, 2050, fp=110.0)]]
    recs = _records(reps)
    means, ci = summarise_rows([r["kpis"] for r in recs])
    assert ci["abandon_rate"][1] < 0.03  # pooled in FCC terms, it looked fine
    v = limit_verdict(scn, recs, means, ci)
    assert v.met is False and v.kpi == "abandon_rate_ofcom" and v.limit == 0.02
    assert v.scope == "uk (Ofcom 2 %)" and v.note.startswith("uk (Ofcom 2 %): missed")
    # its figures are the UK job's alone, pooled as any rate: Ofcom's counts
    uk_rows = [{"abandons": r["campaigns"][1]["abandons"],
                "live_answers": r["campaigns"][1]["live_answers"],
                "amd_false_positives": r["campaigns"][1]["amd_false_positives"]} for r in recs]
    m, c = summarise_rows(uk_rows, ("abandon_rate_ofcom",))
    assert v.value == pytest.approx(m["abandon_rate_ofcom"]) and [v.lo, v.hi] == c[
        "abandon_rate_ofcom"]
    assert v.as_dict()["scope"] == v.scope


def test_one_rule_for_every_campaign_is_judged_as_before():
    """No campaign rule (or all alike): the pooled KPI against the one limit, no scope."""
    for raw in (_raw(), _raw({"mode": "fcc"})):
        scn = build(raw)
        assert len(rule_groups(scn)) == 1
        recs = _records([[_camp("us", 30, 1000), _camp("uk", 20, 900)],
                         [_camp("us", 25, 1000), _camp("uk", 35, 950)]])
        means, ci = summarise_rows([r["kpis"] for r in recs])
        want = judge("abandon_rate", "<=", 0.03, means["abandon_rate"], ci["abandon_rate"], 2)
        assert limit_verdict(scn, recs, means, ci) == want and "scope" not in want.as_dict()
    # every campaign under its own identical Ofcom rule: Ofcom's pooled KPI, its limit
    scn = build(_raw({"mode": "ofcom"}))
    scn2 = build({**_raw({"mode": "ofcom"}), "campaigns": [
        {"name": "us", "skill": "us", "regulation": {"mode": "ofcom"}},
        _raw({"mode": "ofcom"})["campaigns"][1]]})
    assert len(rule_groups(scn)) == 2 and len(rule_groups(scn2)) == 1
    assert rule_groups(scn2)[0].key == "abandon_rate_ofcom"


def test_simulate_and_compare_outputs_judge_each_campaign_by_its_rule(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text(TOML)
    sim = cli_json("simulate", f, "-r", "2", "--no-cache")
    rules = {c["name"]: (c["regulation"], c["abandon_limit"]) for c in sim["campaigns"]}
    assert rules == {"us": ("fcc", 0.03), "uk": ("ofcom", 0.02)}
    out = cli_json("compare", f, "-r", "2", "--no-search", "--policies", "predictive",
                   "--no-cache", "--out", tmp_path / "cmp")
    page = tmp_path / "r.html"
    cli_ok("report", tmp_path / "cmp", "-o", page)
    text = page.read_text()
    assert "abandon_limit (us): 3.00 % FCC/TSR" in text
    assert "abandon_limit (uk): 2.00 % Ofcom" in text
    regs = {tuple(g["campaigns"]): (g["mode"], g["abandon_limit"], g["window_s"],
                                    g["limit_kpi"]) for g in out["regulations"]}
    assert regs == {("us",): ("fcc", 0.03, 30 * 86_400.0, "abandon_rate"),
                    ("uk",): ("ofcom", 0.02, 86_400.0, "abandon_rate_ofcom")}
    (p,) = out["policies"]
    assert p["verdict"]["scope"] in ("us (FCC/TSR 3 %)", "uk (Ofcom 2 %)")
    assert not math.isnan(p["verdict"]["value"])


def test_a_pooled_abandon_target_under_several_rules_is_a_warning():
    raw = {**_raw(UK), "targets": {"max_abandon_rate": 0.03, "min_occupancy": 0.5}}
    (w,) = [w for w in build(raw).warnings if w.startswith("targets.")]
    assert w.startswith("targets.max_abandon_rate:") and "FCC/TSR 3 %, Ofcom 2 %" in w
    one = {**_raw(), "targets": {"max_abandon_rate": 0.03}}
    assert not [w for w in build(one).warnings if w.startswith("targets.")]


def test_an_abandon_target_left_out_aims_at_the_limit_that_applies():
    """Ofcom at 5 %, AMD accuracy 0.88 (false positives 3 % of live calls): a campaign with
    the default target (abandon_rate, no target_value) was paced against 3 %, so the pacer
    found the limit used up by the false positives (abandon_limit_infeasible) and dropped
    no human although 2 % was left for them."""
    raw = {"scenario": {"name": "uk5", "sim_hours": 0.02, "warmup_s": 30.0, "seed": 1},
           "regulation": {"mode": "ofcom", "abandon_limit": 0.05},
           "telephony": {"ports": 60},
           "agents": [{"group": "g", "count": 10, "skills": ["s"]}],
           "campaigns": [{"name": "a", "skill": "s",
                          "amd": {"enabled": True, "accuracy": 0.88}},
                         {"name": "b", "skill": "s", "regulation": {"abandon_limit": 0.04}},
                         {"name": "c", "skill": "s", "target_value": 0.02}]}
    scn = build(raw)
    a, b, c = scn.campaigns
    assert [x.target_value for x in (a, b, c)] == [0.05, 0.04, 0.02]
    assert [campaign_pacing(x, scn).abandon_limit for x in (a, b, c)] == [0.05, 0.04, 0.02]
    assert not [w for w in scn.warnings if "target_value" in w]
    from sim.run import simulate

    assert not simulate(scn).warning_records  # the false positives leave room: feasible
    raw["campaigns"][2]["target_value"] = 0.06  # a target cannot loosen the rule
    (w,) = [w for w in build(raw).warnings if "target_value" in w]
    assert w.startswith("campaigns.c.target_value: an abandon-rate target of 0.06 is above "
                        "the abandon limit 0.05")


def test_size_says_a_pooled_abandon_target_is_not_each_campaigns_rule():
    from sim.plan.size import Target, pooled_limit_targets

    targets = [Target("abandon_rate", "<=", 0.03), Target("occupancy", ">=", 0.8)]
    (w,) = pooled_limit_targets(build(_raw(UK)), targets)
    assert w.startswith("--target abandon_rate<=0.03: the agent-based campaigns follow "
                        "several abandon rules (us: FCC/TSR 3 %, uk: Ofcom 2 %)"), w
    assert not pooled_limit_targets(build(_raw()), targets)

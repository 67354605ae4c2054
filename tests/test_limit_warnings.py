"""An abandon limit no pacing can meet (Ofcom, AMD false positives over the limit) is said
once, as an object, in simulate's and compare's JSON and as a JOB_WARNING engine event."""

from __future__ import annotations

from pathlib import Path

from engine.events import EVENT_FIELDS
from engine.sinks import MemorySink
from sim.run import simulate
from sim.scenario import load
from tests.cli_helpers import cli_json
from tests.eventcheck import check_event

SCN = str(Path(__file__).resolve().parents[1] / "scenarios" / "pacing-amd80-50.toml")
SHORT = ["--set", "scenario.sim_hours=0.05", "--set", "scenario.warmup_s=30"]


def _objects(warnings):
    return [w for w in warnings if isinstance(w, dict)]


def test_simulate_json_carries_the_infeasible_limit_as_an_object():
    (w,) = _objects(cli_json("simulate", SCN, *SHORT)["warnings"])
    assert w["code"] == "abandon_limit_infeasible" and w["campaign"] == "sales"
    assert w["mode"] == "ofcom" and w["limit"] == 0.03
    assert w["estimated_floor"] > w["limit"]  # the false positives alone are over it
    assert w["message"].startswith("campaign sales:")


def test_compare_json_carries_it_for_each_policy_that_hits_it():
    out = cli_json("compare", SCN, *SHORT, "-r", "2", "--policies", "predictive,progressive:1.5")
    pol = {p["policy"]: p for p in out["policies"]}
    (w,) = _objects(pol["predictive"]["warnings"])
    assert w["code"] == "abandon_limit_infeasible" and w["mode"] == "ofcom"
    # not a pacer's choice there; but its false positives alone break the limit all the same
    (w,) = _objects(pol["progressive:1.5"].get("warnings", []))
    assert w["code"] == "abandon_limit_at_risk" and w["estimated_floor"] > w["limit"]


def test_the_engine_publishes_a_job_warning_event():
    sink = MemorySink()
    scn = load(SCN, overrides={"scenario.sim_hours": 0.02, "scenario.warmup_s": 10.0})
    simulate(scn, sink=sink)
    warned = [(t, e) for t, e in sink.events if e["type"] == "JOB_WARNING"]
    (topic, event), = warned
    check_event(topic, event)
    assert set(event) == set(EVENT_FIELDS["JOB_WARNING"])
    assert event["code"] == "abandon_limit_infeasible" and event["job_name"] == "sales"
    assert event["estimated_floor"] > event["limit"]
    assert event["message"].startswith("campaign sales:")  # the job, not the pacer's row


def test_a_small_ofcom_team_whose_false_positives_alone_risk_the_limit_is_warned():
    # 10 agents, AMD accuracy 0.9: the false positives are ~2.4 % of live calls on average,
    # under the 3 % limit, but a day of this team's live calls spreads them over it often
    small = [*SHORT[:2], "--set", "scenario.sim_hours=0.5", "--set", "agents.team.count=10",
             "--set", "campaigns.sales.amd.accuracy=0.9"]
    for out in (cli_json("simulate", SCN, *small, "-r", "2"),
                cli_json("compare", SCN, *small, "-r", "2", "--policies",
                         "predictive")["policies"][0]):
        (w,) = [w for w in _objects(out["warnings"]) if w["code"] == "abandon_limit_at_risk"]
        assert w["campaign"] == "sales" and w["mode"] == "ofcom" and w["limit"] == 0.03
        assert 0 < w["estimated_floor"] and w["p_over_limit"] >= 0.05
        assert "abandon_limit_at_risk" in w["message"]


def test_the_risk_is_the_false_positives_chance_alone():
    from sim.plan.stats import AMD_RISK_WARN, amd_limit_risks, p_over_limit
    from sim.scenario import Regulation

    def rec(fp, live):
        return {"campaigns": [{"name": "a", "amd_false_positives": fp, "live_answers": live}]}

    ofcom = Regulation(mode="ofcom", abandon_limit=0.03, connect_window_s=2.0)
    few = [rec(6, 244), rec(5, 245)]  # 2.2 % of 500 live calls in two half hours
    (w,) = amd_limit_risks(few, ofcom, 1800.0)
    assert w["p_over_limit"] == p_over_limit([6, 5], [250, 250], 1800.0,
                                             ofcom.judged_window_s, 0.03) >= AMD_RISK_WARN
    many = [rec(60, 2940), rec(50, 2950)]  # the same share, ten times the calls
    assert amd_limit_risks(many, ofcom, 1800.0) == []
    fcc = Regulation(mode="fcc", abandon_limit=0.03, connect_window_s=2.0)
    assert amd_limit_risks(few, fcc, 1800.0) == []
    # where the pacer's abandon_limit_infeasible names the campaign, that one says it
    said = [{"code": "abandon_limit_infeasible", "campaign": "a"}]
    assert amd_limit_risks(few, ofcom, 1800.0, said) == []


def test_compare_says_the_warning_objects_in_its_text_output_too():
    # the table has no room for them: each message once, after it, naming its policies
    from tests.cli_helpers import cli_ok

    res = cli_ok("compare", SCN, *SHORT, "-r", "2", "--policies",
                 "predictive,progressive:1.5", "--no-search")
    text = res.output
    assert "predictive: campaign sales:" in text and "abandon_limit_infeasible" in text
    assert "progressive:1.5: campaign sales:" in text and "abandon_limit_at_risk" in text

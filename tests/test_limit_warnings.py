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
    assert not _objects(pol["progressive:1.5"].get("warnings", []))  # not a pacer's choice


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

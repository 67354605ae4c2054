"""A missed answering machine: it holds its agent for a scenario parameter
(amd.machine_talk_s), and its agent says it was a machine: coded MACHINE, not a live
answer, and retried as the strategy retries machines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engine import kpi
from engine.vocab import Code
from pacer import CampaignPacing, Pacer
from sim.run import simulate
from sim.scenario import load

SCN = Path(__file__).resolve().parent.parent / "scenarios" / "pacing-amd80-50.toml"


def test_machine_talk_is_a_scenario_parameter_with_a_default():
    assert load(SCN).campaigns[0].amd.machine_talk_s == 8.0
    scn = load(SCN, overrides={"campaigns.sales.amd.machine_talk_s": 30.0})
    assert scn.campaigns[0].amd.machine_talk_s == 30.0


def test_a_negative_machine_talk_is_named():
    with pytest.raises(Exception, match="machine_talk_s"):
        load(SCN, overrides={"campaigns.sales.amd.machine_talk_s": -1.0})


def test_a_machine_its_agent_found_is_a_machine_not_a_live_answer():
    # AMD off: every machine that answers is put through to an agent, who hears it
    scn = load(SCN, overrides={
        "campaigns.sales.amd.enabled": False, "scenario.sim_hours": 0.1,
        "scenario.warmup_s": 0.0,
        "campaigns.sales.strategy.steps": [{"channel": "voice", "address": "phone",
                                            "retries": {"answering_machine": [30, 1]}}]})
    att = simulate(scn).attempts
    talked = att.filter(pl.col("t_connect") >= 0)
    machines = talked.filter(~pl.col("human"))
    assert machines.height > 20 and talked.filter(pl.col("human")).height > 20
    # coded by what the agent heard
    assert (machines["code"] == int(Code.MACHINE)).all()
    assert (talked.filter(pl.col("human"))["code"] == int(Code.LIVE_CONNECTED)).all()
    # the live answers (and so the abandon rate's denominator) are humans' and the dropped
    # calls nobody heard; the connects are humans'
    c = kpi.counts(att)
    assert c["connects"] == talked.filter(pl.col("human")).height
    assert c["live_answers"] == att.filter(pl.col("code").is_in(
        [int(Code.LIVE_CONNECTED), int(Code.ABANDONED), int(Code.CUSTOMER_HANGUP)])).height
    # and the strategy's answering-machine retry dials the contact again
    again = att.filter(pl.col("contact_id").is_in(machines["contact_id"].to_list())
                       & (pl.col("step") >= 0)).group_by("contact_id").len()
    early = machines.filter(pl.col("t_end") < scn.sim_hours * 3600.0 - 300.0).height
    assert (again["len"] >= 2).sum() >= 0.5 * early > 0


def test_the_pacer_takes_a_machine_its_agent_found_out_of_the_live_answers():
    p = Pacer([CampaignPacing()])
    for _ in range(30):
        p.observe_live(0, 10.0, False)
    p.observe_live(0, 12.0, True)
    for _ in range(3):
        p.observe_machine_connected(0, 10.0)
    e = np.zeros(0, dtype=np.int64)
    p.decide(20.0, e, e, np.zeros(0), e, e, np.zeros(0))  # folds the observations in
    r = p.abandon.rates(20.0)
    assert r.live_fcc.tolist() == [28] and r.fcc[0] == pytest.approx(1 / 28)


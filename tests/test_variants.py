"""compare --variant: scenario variants on the same seeds (sim/plan/variants.py)."""

from __future__ import annotations

import pytest

from sim.plan.variants import VARIANT_KEYS, evaluate_variants, parse_variant
from tests.cli_helpers import cli, cli_json

SCN = "scenarios/blended-centre.toml"
SHORT = {"scenario.sim_hours": 0.1, "scenario.warmup_s": 900.0}  # a queue builds up


def test_parse_variant():
    assert parse_variant("on") == ("on", {})
    assert parse_variant("off:campaigns.blending.enabled=false") == (
        "off", {"campaigns.blending.enabled": False})
    assert parse_variant("t:campaigns.blending.queue_high=1, campaigns.blending.sl_low=0.8") \
        == ("t", {"campaigns.blending.queue_high": 1, "campaigns.blending.sl_low": 0.8})
    for bad in ("", ":a=1", "x y", "v:novalue", "v:=3"):
        with pytest.raises(ValueError, match="--variant"):
            parse_variant(bad)


def test_variants_run_on_the_same_seeds_and_differ_where_they_should():
    res = evaluate_variants(SCN, [("on", {}), ("off", {"campaigns.blending.enabled": False}),
                                  ("on2", {})], None, 1, SHORT)
    on, off, on2 = res
    assert on.kpis == on2.kpis  # same seeds, same scenario: identical
    assert on.kpis["inbound_service_level"] > off.kpis["inbound_service_level"]
    d = on.as_dict()
    assert all(k in d for k in VARIANT_KEYS) and d["variant"] == "on"
    assert "bhcc" in d and d["bhcc"] >= d["bhcc_agent"]  # every channel, as everywhere


def test_cli_compare_variants_json():
    payload = cli_json("compare", SCN, "--hours", "0.05", "--set", "scenario.warmup_s=120",
                       "-r", "1", "--no-cache", "--variant", "on", "--variant",
                       "off:campaigns.blending.enabled=false")
    assert [v["variant"] for v in payload["variants"]] == ["on", "off"]
    for v in payload["variants"]:  # per inbound skill, as in total
        assert set(v["skills"]) == {"orders", "care"}
        care = v["skills"]["care"]
        assert 0 <= care["service_level"] <= 1 and "ci95" in care
        assert set(care["ci95"]) >= {"service_level", "abandon_rate", "asa_s",
                                     "occupancy_inbound"}
    bad = cli("compare", SCN, "--variant", "on", "--variant", "on", "--no-cache")
    assert bad.exit_code != 0 and "labels must differ" in bad.output
    bad = cli("compare", SCN, "--variant", "x:campaigns.blending.sl_low=7", "--no-cache", "-r",
              "1")
    assert bad.exit_code != 0 and "sl_low" in bad.output

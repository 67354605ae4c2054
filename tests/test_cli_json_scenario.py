"""Every planning command's ``--json`` names the scenario the same way: ``scenario`` is its
name (``scenario.name``), ``scenario_file`` the file read, here a file whose stem is not the
name, so a path in ``scenario`` would show."""

from __future__ import annotations

import json

import pytest

from tests.cli_helpers import SCENARIOS, cli_json

SHORT = ("--hours", "0.02", "-r", "2", "--set", "scenario.warmup_s=30")
COMMANDS = {
    "simulate": ((), "kpis.json"),
    "compare": (("--policies", "predictive", "--no-search"), "compare.json"),
    "compare --variant": (("--variant", "a", "--variant", "b:agents.count=40"),
                          "compare_variants.json"),
    "sweep": (("--vary", "agents.count=40"), "sweep.json"),
    "size": (("--find", "agents", "--target", "occupancy>=0.5", "--min", "40", "--max", "41"),
             "size.json"),
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_json_gives_the_scenario_name_and_its_file(tmp_path, command):
    scenario = tmp_path / "on-disk.toml"
    text = (SCENARIOS / "single-50-predictive.toml").read_text()
    scenario.write_text(text.replace('name = "single-50-predictive"', 'name = "the-plan"', 1))
    args, written = COMMANDS[command]
    out = cli_json(command.split()[0], scenario, *args, *SHORT, "--out", tmp_path / "out")
    assert (out["scenario"], out["scenario_file"]) == ("the-plan", str(scenario))
    saved = json.loads((tmp_path / "out" / written).read_text())
    assert (saved["scenario"], saved["scenario_file"]) == ("the-plan", str(scenario))

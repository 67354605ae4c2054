"""What a capacity planner ran into with scenarios of their own (session 23): each test
reproduces one and fails before its fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import SCENARIOS, cli

SMALL = SCENARIOS / "single-50-predictive.toml"


def _contacts_scn(tmp_path: Path, name: str, data: bytes) -> Path:
    (tmp_path / name).write_bytes(data)
    f = tmp_path / "s.toml"
    f.write_text(SMALL.read_text() + f'\n[campaigns.contacts]\nfile = "{name}"\n'
                 'addresses = { phone = "voice" }\n')
    return f


@pytest.mark.parametrize(("name", "data", "says"), [
    ("c.csv", b"id;phone;timezone\nc1;+12025550001;UTC\n", "separated by ';'; expected commas"),
    ("c.csv", b"id\tphone\ttimezone\nc1\t+12025550001\tUTC\n", "separated by a tab; expected "
     "commas (save the list as comma-separated CSV, or name it .tsv when tab-separated)"),
    ("c.tsv", b"id,phone,timezone\nc1,+12025550001,UTC\n", "separated by ','; expected a tab"),
])
def test_a_list_split_by_another_character_is_named_as_such(tmp_path, name, data, says):
    """A semicolon-separated export (Excel's in much of Europe) is one column to the CSV
    reader: validation said the list had no column 'timezone', naming neither the
    separator nor the file's one column."""
    res = cli("validate", _contacts_scn(tmp_path, name, data))
    assert res.exit_code == 2
    (line,) = [ln for ln in res.stderr.splitlines() if "campaigns." in ln]
    assert "campaigns.sales.contacts.file: " in line and "header is one column" in line
    assert says in line, line


def test_a_maximum_lowered_by_the_timeline_is_no_license_starvation():
    """A supervisor lowers a job's max_agents from 8 to 2 at 10 minutes; the 10 agents
    holding its skill have no other job. The license usage kept counting the job short up
    to its first maximum: 'license-starved: a (predictive_agents): 2.5 licenses short on
    average, 41 % of the time' on a pool of 100,000 licenses."""
    from sim.run import simulate
    from sim.scenario import build

    raw = {"scenario": {"name": "cap", "sim_hours": 0.25, "warmup_s": 0.0, "seed": 2},
           "telephony": {"ports": 60},
           "agents": [{"group": "g", "count": 10, "skills": ["a"]}],
           "campaigns": [{"name": "a", "skill": "a", "max_agents": 8}],
           "timeline": [{"at": 600, "action": "set", "campaign": "a", "max_agents": 2}]}
    (c,) = simulate(build(raw)).campaigns
    assert c["licenses_in_use_peak"] == 8  # the first maximum held before the change
    assert c["licenses_short_mean"] == 0.0 and c["license_starved_share"] == 0.0


def test_agents_logged_in_on_no_job_are_a_warning():
    """10 agents, one job of at most 4: 6 agents sat logged in with no job all run, idle and
    counted in the occupancy (0.4 at most), and nothing said so."""
    from sim.plan.assess import assess_records
    from sim.plan.task import run_task
    from sim.scenario import build

    raw = {"scenario": {"name": "cap", "sim_hours": 0.1, "warmup_s": 60.0, "seed": 2},
           "telephony": {"ports": 60},
           "agents": [{"group": "g", "count": 10, "skills": ["a"]}],
           "campaigns": [{"name": "a", "skill": "a", "max_agents": 4}]}
    scn = build(raw)
    recs = [run_task(scn, s) for s in (1, 2)]
    (w,) = [w for w in assess_records(scn, recs).warnings if w.startswith("agents on no job")]
    assert w.startswith("agents on no job: 6.0 of the 10.0 agents logged in on average "
                        "(60 % of their time)"), w
    full = build({**raw, "campaigns": [{"name": "a", "skill": "a"}]})
    recs = [run_task(full, s) for s in (1, 2)]
    assert not [w for w in assess_records(full, recs).warnings if "no job" in w]


def test_a_window_shorter_than_any_call_is_among_the_reasons_given():
    """One measured second, no warm-up: no call can end in it. The warning listed a
    missing agent, contact or schedule, none of which was the cause."""
    from sim.plan.stats import summarise
    from sim.plan.task import run_task
    from sim.scenario import build

    raw = {"scenario": {"name": "blink", "sim_hours": 1 / 3600, "warmup_s": 0.0},
           "telephony": {"ports": 1},
           "agents": [{"group": "g", "count": 1, "skills": ["a"]}],
           "campaigns": [{"name": "a", "skill": "a"}]}
    scn = build(raw)
    s = summarise([run_task(scn, 1)], scn.name, scn.sim_hours, 0.0)
    (w,) = [w for w in s.warnings if w.startswith("no attempt completed")]
    assert "a measured window shorter than a call: sim_hours?" in w

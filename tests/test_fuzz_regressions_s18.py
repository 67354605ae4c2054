"""Crashes and silent failures a third crash hunt found (every scenario mutated, contact files
of every odd shape, every command's options): one test per class, parametrised over the
inputs that hit it. Each asserts the clear error (file, key or option, what was expected) or
that the command works, never a traceback."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from outdial.cli import outdial

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
SMALL = SCENARIOS / "pacing-small-8.toml"


def _cli(*args):
    return CliRunner().invoke(outdial, [str(a) for a in args], catch_exceptions=False)


# ------------- values TOML reads but Python cannot hold (ValueError, RecursionError)

LONG_INT = "9" * 5000  # past sys.get_int_max_str_digits(): int() raises ValueError


def test_an_integer_of_thousands_of_digits_in_the_file(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text(SMALL.read_text().replace("ports = 60", f"ports = {LONG_INT}", 1))
    res = _cli("validate", f)
    assert res.exit_code == 2
    assert "not valid TOML: expected numbers of at most 4300 digits, got a longer integer " \
           "(at line 18)" in res.stderr


@pytest.mark.parametrize("value, expect", [
    (LONG_INT, "--set telephony.ports: expected numbers of at most 4300 digits"),
    ("[" * 3000 + "]" * 3000, "--set telephony.ports: tables and arrays nested deeper than 32"),
])
def test_a_set_value_python_cannot_hold(value, expect):
    res = _cli("validate", SMALL, "--set", f"telephony.ports={value}")
    assert res.exit_code == 2 and expect in res.stderr
    res = _cli("compare", SMALL, "--no-cache", "-r", "1", "--hours", "0.01",
               "--variant", f"a:telephony.ports={value}")
    assert res.exit_code == 2 and "--variant 'a': telephony.ports: " in res.stderr


# ------------- synthetic records are made before the run (50M took > 3 GB: MemoryError)


@pytest.mark.parametrize("sets, expect", [
    (["campaigns.sales.records=50000000"], "campaigns.sales.records: expected a value <= 5e+06 "
                                           "contacts (each is held in memory"),
    (["campaigns.sales.records=3000000", "campaigns.sales.copies=2"],
     "campaigns.records: the campaigns' records (copies included) and arrivals make up to "
     "6,000,000 contacts (sales: 6,000,000); expected at most 5,000,000 in all"),
])
def test_contacts_made_in_memory_are_bounded(sets, expect):
    res = _cli("validate", SMALL, *(a for s in sets for a in ("--set", s)))
    assert res.exit_code == 2 and expect in res.stderr


def test_records_and_arrivals_count_together():
    # 4,999,000 records and up to 300 arrivals an hour over the 13 h day: 5,002,900
    res = _cli("validate", SCENARIOS / "day-profile.toml", "--set",
               "campaigns.leads.records=4999000")
    assert res.exit_code == 2 and "arrivals make up to" in res.stderr
    assert _cli("validate", SCENARIOS / "day-profile.toml", "--set",
                "campaigns.leads.records=1000").exit_code == 0


def test_a_scenario_file_over_the_size_bound_is_still_named_as_such(tmp_path):
    f = tmp_path / "big.toml"  # a ScenarioError inside the reader is not a TOML ValueError
    f.write_bytes(b"# " + b"x" * (17 * 1024 * 1024) + b"\n")
    res = _cli("validate", f)
    assert res.exit_code == 2 and "expected a scenario file of at most 16 MiB" in res.stderr


# ------- size: a --max/--min the scenario refuses (ran doubling agents for minutes first)


@pytest.mark.parametrize("args, expect", [
    (["--find", "agents", "--max", "10000000"],
     "--max 10000000: the search may reach it, but agents.count=10000000 makes the scenario "
     "invalid: set on the command line: agents[0].count: expected a value <= 100000 agents"),
    (["--find", "ports", "--min", "0", "--max", "5"],
     "--min 0: the search may reach it, but telephony.ports=0 makes the scenario invalid"),
])
def test_size_bounds_the_scenario_refuses_are_refused_before_any_run(args, expect):
    res = _cli("size", SMALL, "--hours", "0.01", "--no-cache", "--target",
               "abandon_rate<=0.03", *args)
    assert res.exit_code == 2 and expect in res.stderr
    assert "agents.count=8: " not in res.stderr  # nothing ran


# ----------- --set KEY for every entry (agents.count) was blamed on the file's line


@pytest.mark.parametrize("dotted, said", [
    ("agents.count=1e400", "set on the command line: agents[0].count: expected integer"),
    ("campaigns.talk.mean_s=-1", "set on the command line: campaigns.sales.talk.mean_s: "
                                 "expected a value >= 0 s"),
])
def test_a_set_on_every_entry_is_not_blamed_on_the_file(dotted, said):
    res = _cli("validate", SMALL, "--set", dotted)
    assert res.exit_code == 2 and said in res.stderr and " line " not in res.stderr

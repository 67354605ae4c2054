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

"""``outdial erlang b|c|a``: JSON and table output, and one-line errors on bad options."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from outdial.cli import outdial
from sim.erlang import erlang_a_metrics

C_ARGS = ["--calls-per-hour", "200", "--aht-s", "180", "--agents", "14"]
A_ARGS = [*C_ARGS, "--patience-s", "60"]


def run(*args: str):
    return CliRunner().invoke(outdial, ["erlang", *args])


def run_json(*args: str) -> dict:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --------------------------------------------------------------------------- JSON


def test_b_json():
    payload = run_json("b", "--traffic-erlangs", "8.108", "--servers", "15")
    assert list(payload) == ["inputs", "blocking"]
    assert payload["inputs"] == {"traffic_erlangs": 8.108, "servers": 15}
    assert payload["blocking"] == pytest.approx(0.01, abs=2e-6)


def test_c_json_published_example():
    payload = run_json("c", *C_ARGS, "--target-s", "20")
    assert set(payload) == {"inputs", "p_wait", "asa_s", "service_level", "occupancy"}
    assert payload["inputs"] == {
        "calls_per_hour": 200.0,
        "aht_s": 180.0,
        "agents": 14,
        "target_s": 20.0,
    }
    assert payload["p_wait"] == pytest.approx(0.1741, abs=5e-5)
    assert payload["service_level"] == pytest.approx(0.8884, abs=5e-5)
    assert payload["asa_s"] == pytest.approx(7.84, abs=5e-3)
    assert payload["occupancy"] == pytest.approx(10.0 / 14.0)


def test_c_target_defaults_to_20_s():
    assert run_json("c", *C_ARGS)["inputs"]["target_s"] == 20.0


def test_a_json():
    payload = run_json("a", *A_ARGS, "--target-s", "15")
    assert set(payload) == {
        "inputs",
        "p_wait",
        "p_abandon",
        "mean_wait_s",
        "service_level",
        "occupancy",
    }
    assert payload["inputs"]["patience_s"] == 60.0
    assert payload["inputs"]["target_s"] == 15.0
    expected = erlang_a_metrics(200.0, 180.0, 14, 60.0, 15.0)
    for key in ("p_wait", "p_abandon", "mean_wait_s", "service_level", "occupancy"):
        assert payload[key] == pytest.approx(getattr(expected, key), rel=1e-12)


def test_c_overloaded_is_strict_json_with_a_warning():
    result = run("c", "--calls-per-hour", "800", "--aht-s", "180", "--agents", "14", "--json")
    assert result.exit_code == 0
    payload = json.loads(result.stdout)  # no "Infinity": strict JSON
    assert payload["asa_s"] is None
    assert payload["p_wait"] == 1.0
    assert payload["service_level"] == 0.0
    assert "warning:" in result.stderr and "40.00 E" in result.stderr


def test_quiet_silences_warnings():
    result = CliRunner().invoke(
        outdial,
        ["-q", "erlang", "c", "--calls-per-hour", "800", "--aht-s", "180", "--agents", "14"],
    )
    assert result.exit_code == 0
    assert result.stderr == ""


def test_a_overloaded_is_stable():
    payload = run_json(
        "a", "--calls-per-hour", "800", "--aht-s", "180", "--agents", "14", "--patience-s", "30"
    )
    assert 1.0 - 14.0 / 40.0 <= payload["p_abandon"] < 1.0
    assert 0.0 < payload["service_level"] < 1.0


# --------------------------------------------------------------------------- tables


def test_b_table():
    result = run("b", "--traffic-erlangs", "8.108", "--servers", "15")
    assert result.exit_code == 0
    assert "Erlang B" in result.stdout
    assert "1.00 %" in result.stdout
    assert "8.027 E" in result.stdout  # carried traffic


def test_c_table():
    result = run("c", *C_ARGS)
    assert result.exit_code == 0
    out = result.stdout
    assert "Erlang C" in out
    for text in ("17.41 %", "7.84 s", "88.84 %", "71.43 %", "within 20 s"):
        assert text in out


def test_a_table():
    result = run("a", *A_ARGS)
    assert result.exit_code == 0
    out = result.stdout
    assert "Erlang A" in out
    for label in ("P(wait)", "P(abandon)", "Mean wait", "Service level", "Occupancy"):
        assert label in out
    m = erlang_a_metrics(200.0, 180.0, 14, 60.0, 20.0)
    assert f"{100 * m.p_abandon:.2f} %" in out


def test_group_help_lists_the_calculators():
    result = CliRunner().invoke(outdial, ["erlang", "--help"])
    assert result.exit_code == 0
    for name in ("a ", "b ", "c "):
        assert f"  {name}" in result.stdout


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["b", "--traffic-erlangs", "-2", "--servers", "5"],
            "--traffic-erlangs must be a number >= 0",
        ),
        (
            ["b", "--traffic-erlangs", "2", "--servers", "0"],
            "--servers must be a whole number >= 1",
        ),
        (
            ["c", "--calls-per-hour", "200", "--aht-s", "180", "--agents", "-3"],
            "--agents must be a whole number >= 1, got -3",
        ),
        (
            ["c", "--calls-per-hour", "200", "--aht-s", "0", "--agents", "3"],
            "--aht-s must be a number of seconds > 0, got 0.0",
        ),
        (
            ["c", "--calls-per-hour", "200", "--aht-s", "nan", "--agents", "3"],
            "--aht-s must be a number of seconds > 0",
        ),
        (
            ["c", "--calls-per-hour", "-1", "--aht-s", "180", "--agents", "3"],
            "--calls-per-hour must be a number >= 0",
        ),
        (["c", *C_ARGS, "--target-s", "-1"], "--target-s must be a number of seconds >= 0"),
        (["a", *C_ARGS, "--patience-s", "0"], "--patience-s must be a number of seconds > 0"),
        (["a", *C_ARGS, "--patience-s", "inf"], "--patience-s must be a number of seconds > 0"),
        (
            ["a", "--calls-per-hour", "1", "--aht-s", "1", "--agents", "0", "--patience-s", "5"],
            "--agents must be a whole number >= 1",
        ),
    ],
)
def test_bad_options_fail_with_one_line(args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_missing_option_is_a_usage_error():
    result = run("c", "--calls-per-hour", "200", "--aht-s", "180")
    assert result.exit_code == 2
    assert "--agents" in result.stderr

"""``outdial erlang b|c|a``: JSON and table output, and one-line errors on bad options."""

from __future__ import annotations

import json
import math

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
    assert list(payload) == ["inputs", "blocking", "carried_erlangs"]
    assert payload["inputs"] == {"traffic_erlangs": 8.108, "servers": 15}
    assert payload["blocking"] == pytest.approx(0.01, abs=2e-6)
    # the figures the table prints (carried traffic too), as docs/outputs.md lists them
    assert payload["carried_erlangs"] == pytest.approx(8.108 * (1 - payload["blocking"]))


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


def test_a_at_a_load_equal_to_the_agents_warns_of_nothing():
    """Erlang A's overload warning gives the least share abandoning, 1 - agents / load: 0
    at a load equal to the agents, where it read 'at least 0.0% of calls abandon' (Erlang
    C's queue is unbounded there; A's is not). Over the agents it is said."""
    result = run("a", "--calls-per-hour", "200", "--aht-s", "180", "--agents", "10",
                 "--patience-s", "60", "--json")
    assert result.exit_code == 0 and "warning" not in result.stderr
    result = run("a", "--calls-per-hour", "220", "--aht-s", "180", "--agents", "10",
                 "--patience-s", "60", "--json")
    assert "at least 9.1% of calls abandon" in result.stderr


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


def test_no_agents_and_no_goal_is_a_usage_error():
    result = run("c", "--calls-per-hour", "200", "--aht-s", "180")
    assert result.exit_code == 2
    assert "give --agents N, --agents FROM:TO, or a goal" in result.stderr


# --------------------------------------------------------------------------- solving


def _erlang_c_sl(cph: float, aht: float, n: int, t: float) -> float:
    """Erlang C service level from the factorial sum, independent of sim.erlang."""
    a = cph * aht / 3600.0
    if a >= n:
        return 0.0
    top = a**n / math.factorial(n) * n / (n - a)
    c = top / (sum(a**k / math.factorial(k) for k in range(n)) + top)
    return 1.0 - c * math.exp(-(n / aht - cph / 3600.0) * t)


@pytest.mark.parametrize("cph, aht, sl, t", [(200, 180, 0.8, 20), (450, 240, 0.9, 15),
                                             (60, 600, 0.7, 30)])
def test_c_solves_for_agents_like_brute_force_and_agrees_with_forward(cph, aht, sl, t):
    base = ["c", "--calls-per-hour", str(cph), "--aht-s", str(aht), "--target-s", str(t)]
    solved = run_json(*base, "--service-level", str(sl))
    brute = next(n for n in range(1, 200) if _erlang_c_sl(cph, aht, n, t) >= sl)
    assert solved["agents"] == brute
    assert solved["scheduled_agents"] == brute
    forward = run_json(*base, "--agents", str(brute))
    for key in ("p_wait", "asa_s", "service_level", "occupancy"):
        assert solved[key] == forward[key]  # exactly the forward figures
    assert solved["service_level"] >= sl
    assert run_json(*base, "--agents", str(brute - 1))["service_level"] < sl


def test_c_shrinkage_and_occupancy_goal():
    payload = run_json("c", "--calls-per-hour", "200", "--aht-s", "180",
                       "--max-occupancy", "0.6", "--shrinkage", "0.25")
    # Occupancy is load / n = 10 / n: 17 agents give 0.588, 16 give 0.625.
    assert payload["agents"] == 17
    assert payload["occupancy"] == pytest.approx(10.0 / 17.0)
    assert payload["scheduled_agents"] == math.ceil(17 / 0.75)
    assert payload["inputs"]["goal_max_occupancy"] == 0.6
    assert payload["inputs"]["shrinkage"] == 0.25


def test_a_solves_with_max_abandon():
    base = ["a", "--calls-per-hour", "200", "--aht-s", "180", "--patience-s", "60"]
    solved = run_json(*base, "--max-abandon", "0.02")
    n = solved["agents"]
    below = erlang_a_metrics(200.0, 180.0, n - 1, 60.0, 20.0)
    at = erlang_a_metrics(200.0, 180.0, n, 60.0, 20.0)
    assert at.p_abandon <= 0.02 < below.p_abandon
    assert solved["p_abandon"] == at.p_abandon
    forward = run_json(*base, "--agents", str(n), "--max-abandon", "0.02")
    assert forward["meets_goals"] is True and forward["agents_needed"] == n
    assert run_json(*base, "--agents", str(n - 1), "--max-abandon", "0.02")["meets_goals"] is False


def test_staffing_table_rows_are_the_forward_figures():
    payload = run_json("a", "--calls-per-hour", "200", "--aht-s", "180", "--patience-s", "60",
                       "--agents", "10:16:2", "--service-level", "0.9")
    assert [r["agents"] for r in payload["rows"]] == [10, 12, 14, 16]
    for r in payload["rows"]:
        m = erlang_a_metrics(200.0, 180.0, r["agents"], 60.0, 20.0)
        assert r["service_level"] == m.service_level and r["p_abandon"] == m.p_abandon
        assert r["meets"] == (m.service_level >= 0.9)
    needed = payload["agents_needed"]
    assert erlang_a_metrics(200.0, 180.0, needed, 60.0, 20.0).service_level >= 0.9
    assert erlang_a_metrics(200.0, 180.0, needed - 1, 60.0, 20.0).service_level < 0.9


def test_staffing_table_text():
    result = run("c", "--calls-per-hour", "200", "--aht-s", "180", "--agents", "12:15",
                 "--service-level", "0.8")
    assert result.exit_code == 0, result.output
    assert "Erlang C staffing table" in result.stdout
    assert "agents meeting the goals: 14" in result.stdout
    assert result.stdout.count("yes") == 2 and result.stdout.count(" no ") >= 2


def _erlang_b(a: float, n: int) -> float:
    terms = [a**k / math.factorial(k) for k in range(n + 1)]
    return terms[-1] / sum(terms)


def test_b_solves_servers_capacity_and_table():
    solved = run_json("b", "--traffic-erlangs", "8.108", "--blocking", "0.01")
    brute = next(n for n in range(1, 100) if _erlang_b(8.108, n) <= 0.01)
    assert solved["servers"] == brute == 15
    assert solved["blocking"] == run_json("b", "--traffic-erlangs", "8.108",
                                          "--servers", "15")["blocking"]
    cap = run_json("b", "--servers", "15", "--blocking", "0.01")
    assert _erlang_b(cap["traffic_erlangs"], 15) == pytest.approx(0.01, rel=1e-9)
    table = run_json("b", "--traffic-erlangs", "8.108", "--servers", "12:16",
                     "--blocking", "0.01")
    assert [r["servers"] for r in table["rows"]] == [12, 13, 14, 15, 16]
    for r in table["rows"]:
        assert r["blocking"] == pytest.approx(_erlang_b(8.108, r["servers"]), rel=1e-12)
        assert r["meets"] == (r["servers"] >= 15)
    assert table["servers_needed"] == 15


@pytest.mark.parametrize("args", [
    ["b", "--traffic-erlangs", "8.108", "--blocking", "0.01"],
    ["c", "--calls-per-hour", "200", "--aht-s", "180", "--agents", "8:20"],
    ["a", *A_ARGS, "--max-abandon", "0.05"],
])
def test_plot_writes_a_png(tmp_path, args):
    target = tmp_path / "curve.png"
    result = run(*args, "--plot", str(target))
    assert result.exit_code == 0, result.output
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert f"wrote {target}" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["c", "--calls-per-hour", "200", "--aht-s", "180", "--service-level", "80"],
     "--service-level must be a fraction in (0, 1), got 80 (80 % is 0.8)"),
    (["c", "--calls-per-hour", "200", "--aht-s", "180", "--agents", "20:10"],
     "--agents must be a whole number >= 1 or FROM:TO[:STEP]"),
    (["b", "--traffic-erlangs", "5"], "give --servers N (or FROM:TO) or --blocking"),
    (["b", "--blocking", "0.01"], "give two of --traffic-erlangs, --servers N and --blocking"),
    (["a", *A_ARGS, "--shrinkage", "1"], "--shrinkage must be a fraction in [0, 1)"),
])
def test_bad_solver_options_fail_with_one_line(args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"error: {message}"] or \
        message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_c_solves_for_the_calls_the_agents_take():
    payload = run_json("c", "--aht-s", "180", "--agents", "14", "--service-level", "0.8")
    cph = payload["calls_per_hour"]
    # the test's own factorial-form Erlang C: the goal holds at cph, not 0.01 % above it
    assert _erlang_c_sl(cph, 180.0, 14, 20.0) >= 0.8 - 1e-9
    assert _erlang_c_sl(cph * 1.0001, 180.0, 14, 20.0) < 0.8
    assert payload["service_level"] == pytest.approx(0.8, abs=1e-6)
    assert payload["traffic_erlangs"] == pytest.approx(cph * 180.0 / 3600.0)
    result = run("c", "--aht-s", "180", "--agents", "10:12", "--service-level", "0.8")
    assert result.exit_code == 2 and "give --calls-per-hour, or --agents N" in result.stderr

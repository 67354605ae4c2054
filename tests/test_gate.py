"""``bench/gate.py``: judging ratios against their floors and the messages CI shows, with the
measurements replaced by fixed figures (nothing heavy runs here)."""

import json

import pytest

from bench import gate
from bench.gate import Check

FLOORS = """\
[pacer_speedup]
floor = 3000.0
figures = "2026-11-23, commit abc1234, 2-core VM: decision 100 us, reference 900 ms"

[busy_hour_speed]
floor = 0.2
figures = "2026-11-23, commit abc1234: 60k hour 4 s, M/M/c hour 1.1 s"

[occupancy_vs_tapered]
floor = 0.9
figures = "predictive 0.9144, tapered 0.9899"

[occupancy_vs_hard]
floor = 1.0
figures = "predictive 0.9144, hard-limit 0.8159"
"""


@pytest.fixture
def floors_file(tmp_path):
    path = tmp_path / "floors.toml"
    path.write_text(FLOORS)
    return path


def _fake(monkeypatch, values: dict[str, float], abandon: float = 0.018):
    """Replace the three measurements: each ratio is ``values[name]``, judged by the gate's
    own ``_judge`` against the floors it is given."""
    def pacer(floors):
        return gate._judge("pacer_speedup", values["pacer_speedup"], floors, "pacer detail")

    def busy_hour(floors):
        return gate._judge("busy_hour_speed", values["busy_hour_speed"], floors, "hour detail")

    def policies(floors):
        return [gate._judge(n, values[n], floors, f"{n} detail")
                for n in ("occupancy_vs_tapered", "occupancy_vs_hard")] + [
            Check("predictive_abandon_at_limit", abandon, 0.03,
                  f"predictive abandon rate {100 * abandon:.2f} % against the limit 3 %",
                  abandon <= 0.03)]

    monkeypatch.setattr(gate, "measure_pacer", pacer)
    monkeypatch.setattr(gate, "measure_busy_hour", busy_hour)
    monkeypatch.setattr(gate, "measure_policies", policies)
    monkeypatch.setattr(gate, "measure_pacing", lambda floors: [])


GOOD = {"pacer_speedup": 8000.0, "busy_hour_speed": 0.3, "occupancy_vs_tapered": 0.92,
        "occupancy_vs_hard": 1.12}


def test_all_passing_exits_0(monkeypatch, floors_file, capsys):
    _fake(monkeypatch, GOOD)
    assert gate.main(["--floors", str(floors_file)]) == 0
    out, err = capsys.readouterr()
    assert "gate: 5/5 passed" in out and err == ""
    assert "ok   busy_hour_speed = 0.3 (floor 0.2): hour detail" in out


def test_a_ratio_under_its_floor_exits_1_naming_check_value_floor_and_origin(
        monkeypatch, floors_file, capsys):
    _fake(monkeypatch, {**GOOD, "busy_hour_speed": 0.15})
    assert gate.main(["--floors", str(floors_file)]) == 1
    out, err = capsys.readouterr()
    assert "FAIL busy_hour_speed = 0.15 (floor 0.2)" in out
    (line,) = err.strip().splitlines()
    assert line.startswith("gate FAILED: busy_hour_speed: 0.15 is under its floor 0.2 "
                           "(25.0 % short); hour detail")
    assert "[floor from: 2026-11-23, commit abc1234: 60k hour 4 s, M/M/c hour 1.1 s]" in line


def test_every_failure_gets_its_own_line_and_json_says_not_ok(monkeypatch, floors_file,
                                                               capsys):
    _fake(monkeypatch, {**GOOD, "pacer_speedup": 1000.0, "occupancy_vs_hard": 0.99},
          abandon=0.035)
    assert gate.main(["--floors", str(floors_file), "--json"]) == 1
    out, err = capsys.readouterr()
    payload = json.loads(out)
    assert payload["ok"] is False
    assert [c["name"] for c in payload["checks"] if not c["ok"]] == [
        "pacer_speedup", "occupancy_vs_hard", "predictive_abandon_at_limit"]
    lines = err.strip().splitlines()
    assert len(lines) == 3
    assert "pacer_speedup: 1000 is under its floor 3000" in lines[0]
    assert "occupancy_vs_hard: 0.99 is under its floor 1" in lines[1]
    assert "[floor from: predictive 0.9144, hard-limit 0.8159]" in lines[1]
    assert "predictive_abandon_at_limit: predictive abandon rate 3.50 %" in lines[2]
    assert "over the limit" in lines[2] and "single-50-predictive.toml" in lines[2]


def test_a_ratio_exactly_at_its_floor_passes(monkeypatch, floors_file):
    _fake(monkeypatch, {**GOOD, "occupancy_vs_hard": 1.0})
    assert gate.main(["--floors", str(floors_file)]) == 0


def test_no_floors_reports_only(monkeypatch, tmp_path, capsys):
    empty = tmp_path / "none.toml"
    empty.write_text("")
    _fake(monkeypatch, {k: v / 100 for k, v in GOOD.items()})
    assert gate.main(["--floors", str(empty)]) == 0
    out = capsys.readouterr().out
    assert out.count("note: no floor set: reported only") == 4
    assert "(floor" not in out and "gate: 5/5 passed" in out


@pytest.mark.parametrize(("text", "message"), [
    (None, "cannot read"),
    ("[pacer_speedup\nfloor = 1", "is not valid TOML"),
    ("[pacer_speedup]\nfigures = 'x'\n", "[pacer_speedup] needs a numeric 'floor' > 0, got None"),
    ("[pacer_speedup]\nfloor = 'high'\nfigures = 'x'\n", "needs a numeric 'floor' > 0, got 'high'"),
    ("[pacer_speedup]\nfloor = 0\nfigures = 'x'\n", "needs a numeric 'floor' > 0, got 0"),
    ("[pacer_speedup]\nfloor = 3000.0\n", "[pacer_speedup] needs 'figures'"),
    ("pacer_speedup = 3000.0\n", "pacer_speedup must be a table [pacer_speedup]"),
    ("[pacer_speedupp]\nfloor = 1.0\nfigures = 'x'\n",
     "[pacer_speedupp] is not a gated check; expected one of pacer_speedup, busy_hour_speed"),
])
def test_a_broken_floors_file_exits_2_with_a_clear_message(monkeypatch, tmp_path, capsys,
                                                            text, message):
    def never(floors):
        raise AssertionError("nothing is measured with a broken floors file")

    for name in ("measure_pacer", "measure_busy_hour", "measure_policies"):
        monkeypatch.setattr(gate, name, never)
    path = tmp_path / "floors.toml"
    if text is not None:
        path.write_text(text)
    assert gate.main(["--floors", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("gate: broken floors file: ") and message in err
    assert str(path) in err


def test_the_repository_floors_file_is_valid():
    floors = gate._floors(gate.FLOORS)
    assert set(floors) == set(gate.CHECKS)


def test_both_mmc_references_are_the_same_queue():
    """The plain SimPy and the Ciw M/M/c models the busy hour is compared with agree with
    the queue they model: arrivals ~ Poisson(lambda T), utilisation ~ lambda / (c mu)."""
    pytest.importorskip("ciw")
    from bench.mmc import ciw_mmc_hour, mmc_hour

    lam_h, mean_s, c, hours = 720.0, 18.0, 4, 2.0  # rho = 720 * 18 / (4 * 3600) = 0.9
    for run in (mmc_hour(c, lam_h, mean_s, hours, seed=3),
                ciw_mmc_hour(c, lam_h, mean_s, hours, seed=3)):
        n = lam_h * hours
        assert abs(run["served"] - n) < 4 * n ** 0.5 + 0.1 * n  # minus those still queued
        assert run["utilisation"] == pytest.approx(0.9, abs=0.08)


def test_frontier_fixed_price_holds_theta_through_the_price_loop_and_restores_it():
    import numpy as np

    from bench.pacing_frontier import fixed_price
    from pacer import CampaignPacing, Pacer, Pacing

    def refreshed(p):
        p.theta[:] = 0.2  # where the price loop would have moved it
        p._refresh(100.0)  # the loop's refresh re-reads the price
        return float(p._limit[0])

    with fixed_price(0.0123):
        held = refreshed(Pacer([CampaignPacing(pacing=Pacing.PREDICTIVE)]))
    assert held == 0.0123
    free = refreshed(Pacer([CampaignPacing(pacing=Pacing.PREDICTIVE)]))
    assert free != 0.0123 and np.isfinite(free)  # restored: the loop's own price again


def test_the_hour_profile_sorts_time_into_parts(tmp_path, capsys):
    """``bench/hour_profile.py``: kernels are told from the pacer's Python, every part's
    time adds up to the profiled total, and a bad argument is one clear line."""
    from bench import hour_profile as hp

    assert hp.part_of(str(hp.ROOT / "pacer" / "lookahead.py"), "_lookahead_curve") == \
        "pacer kernels"
    assert hp.part_of(str(hp.ROOT / "pacer" / "decide.py"), "decide") == "pacer"
    assert hp.part_of(str(hp.ROOT / "engine" / "flow.py"), "take") == "engine"
    assert hp.part_of("/usr/lib/python3/site-packages/simpy/core.py", "step") == "simpy"
    out = tmp_path / "p.json"
    scn = hp.ROOT / "scenarios" / "pacing-small-8.toml"
    assert hp.main([str(scn), "--hours", "0.02", "--top", "5", "--json", str(out)]) == 0
    got = json.loads(out.read_text())
    assert got["parts_s"]["pacer kernels"] > 0 and got["parts_s"]["engine"] > 0
    assert len(got["functions"]) == 5
    assert hp.main([str(scn), "--hours", "0"]) == 2
    assert "--hours: expected 0 < hours <= 24" in capsys.readouterr().err

"""Crashes, hangs and blow-ups a mutation campaign over the repository's scenarios found in
``validate``, ``simulate`` and ``--set``: one test per class, parametrised over the
mutations that hit it. Each asserts the clear error (file, key, what was expected) or that
the run works, never a traceback."""

import copy
import tomllib
from pathlib import Path

import pytest

from sim.scenario import ScenarioError, apply_overrides, build
from tests.cli_helpers import cli

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def _raw(name: str) -> dict:
    return tomllib.loads((SCENARIOS / name).read_text())


def _problems(raw: dict, source: str = "s.toml") -> list[str]:
    with pytest.raises(ScenarioError) as e:
        build(raw, source, SCENARIOS)
    return e.value.problems


# ------------------------------------------ --set through a value that is not a table


@pytest.mark.parametrize("dotted, where", [
    ("scenario.name.x", "scenario.name is string"),
    ("campaigns.outcomes.live.x", "campaigns.outcomes.live is number"),
    ("agents.count.x", "agents.count is integer"),
    ("campaigns.sales.talk.mean_s.deep", "campaigns.talk.mean_s is number"),
])
def test_set_through_a_value_names_the_key(dotted, where):
    with pytest.raises(ScenarioError) as e:
        apply_overrides(_raw("single-50-predictive.toml"), {dotted: 1})
    assert len(e.value.problems) == 1
    assert e.value.problems[0].startswith(f"{dotted}: {where}")
    assert "not a table" in e.value.problems[0]


@pytest.mark.parametrize("dotted", [".", "a..b", "scenario.", ".sim_hours", " . "])
def test_set_with_an_empty_key_part_is_refused(dotted):
    with pytest.raises(ScenarioError, match="expected a dotted key path"):
        apply_overrides(_raw("single-50-predictive.toml"), {dotted: 1})


def test_set_on_a_section_that_is_not_an_array(tmp_path):
    raw = _raw("single-50-predictive.toml")
    raw["campaigns"] = 3  # a scenario whose campaigns is not an array of tables
    with pytest.raises(ScenarioError, match="naming an existing entry"):
        apply_overrides(raw, {"campaigns.max_agents": 1})


def test_set_through_a_value_is_a_clean_cli_error():
    res = cli("validate", SCENARIOS / "single-50-predictive.toml", "--set", "scenario.name.x=1")
    assert res.exit_code == 2
    assert "scenario.name.x: scenario.name is string" in res.stderr
    assert "Traceback" not in res.output


# ------------------------------------ a table with a bad key is not built into an object


@pytest.mark.parametrize("mutate, key", [
    (lambda r: r["agents"][0].pop("count"), "agents.sales-blend.count: required key is missing"),
    (lambda r: r["agents"][0].pop("group"), "agents[0].group: required key is missing"),
    (lambda r: r["agents"][0].__setitem__("count", "many"),
     "agents.sales-blend.count: expected integer"),
    (lambda r: r["inbound"][0].__setitem__("calls_per_hour", "Sun-Mon 21:00-08:00"),
     "inbound[0].calls_per_hour: expected number"),
    (lambda r: r["inbound"][0].pop("skill"), "inbound[0].skill: required key is missing"),
    (lambda r: r["inbound"][0].__setitem__("sl_window_s", "5min"),
     "inbound[0].sl_window_s: expected number"),
])
def test_a_table_with_a_bad_key_is_one_clean_problem(mutate, key):
    raw = _raw("blended-centre.toml")
    mutate(raw)
    assert any(p.startswith(key) for p in _problems(raw)), key


def test_blending_with_a_bad_key_is_reported_once():
    raw = _raw("blended-centre.toml")
    camp = next(c for c in raw["campaigns"] if "blending" in c)
    camp["blending"]["queue_high"] = "three"
    probs = _problems(raw)
    assert len([p for p in probs if ".blending" in p]) == 1, probs


# ---------------------------------------------- bounds on inbound and blending numbers


@pytest.mark.parametrize("key, value, expect", [
    ("calls_per_hour", 2**63 - 1, "calls per hour"),
    ("calls_per_hour", 1e300, "calls per hour"),
    ("sl_threshold_s", 1e300, "s ("),
    ("sl_window_s", 1e12, "s ("),
])
def test_inbound_numbers_are_bounded(key, value, expect):
    raw = _raw("blended-centre.toml")
    raw["inbound"][0][key] = value
    probs = _problems(raw)
    assert any(p.startswith(f"inbound[0].{key}: expected a value <=") and expect in p
               for p in probs), probs


@pytest.mark.parametrize("key, value", [
    ("period_s", 1e-300), ("period_s", 0.001), ("min_stay_s", 1e300), ("step", 2**63),
    ("queue_high", 10**30), ("sl_low", 1.5), ("max_released", 2**62),
])
def test_blending_thresholds_are_bounded(key, value):
    raw = _raw("blended-centre.toml")
    camp = next(c for c in raw["campaigns"] if "blending" in c)
    camp["blending"][key] = value
    probs = _problems(raw)
    assert any(f".blending.{key}: expected a value" in p for p in probs), probs


def test_blending_defaults_still_valid():
    raw = copy.deepcopy(_raw("blended-centre.toml"))
    assert build(raw, "s.toml", SCENARIOS).campaigns


# ------------------------ raw values used before their type is checked (unhashable skill)


@pytest.mark.parametrize("value", [[1, "a"], [{}], {"a": 1}, 3, True])
def test_a_campaign_skill_of_the_wrong_type_is_a_problem(value):
    raw = _raw("pacing-lowhit-50.toml")
    raw["campaigns"][0]["skill"] = value
    assert any(p.startswith("campaigns.") and ".skill: expected string" in p
               for p in _problems(raw))


@pytest.mark.parametrize("contacts", ["abc", [1], 3])
def test_arrivals_beside_contacts_of_the_wrong_type(contacts):
    raw = _raw("day-profile.toml")
    raw["campaigns"][1]["contacts"] = contacts  # the campaign with new_contacts_per_hour
    assert any(".contacts: expected a table" in p for p in _problems(raw))


# ------------------------------------------- a live run's configuration is not a scenario


@pytest.mark.parametrize("name", ["live-emulated.toml", "live-blended-emulated.toml"])
def test_a_live_configuration_is_named_as_such(name):
    res = cli("validate", SCENARIOS / name)
    assert res.exit_code == 2
    assert "1 problem" in res.stderr and "outdial run" in res.stderr
    assert "unknown section" not in res.stderr


# ------------------------------------------------ command-line numbers out of their range


@pytest.mark.parametrize("seed", ["-1", str(2**62 + 1), str(2**70)])
def test_seed_out_of_range_is_a_usage_error(seed):
    res = cli("simulate", SCENARIOS / "pacing-small-8.toml", "--hours", "0.01",
               "--no-cache", "--seed", seed)
    assert res.exit_code == 2 and "--seed" in res.stderr and "range" in res.stderr


@pytest.mark.parametrize("policy", ["ratio:1e300", "progressive:500", "ratio:100.5"])
def test_a_policy_ratio_past_the_campaign_bound_is_refused(policy):
    from sim.scenario import parse_policy

    with pytest.raises(ValueError, match=r"expected a ratio <= 100 lines per agent"):
        parse_policy(policy)
    res = cli("simulate", SCENARIOS / "pacing-small-8.toml", "--hours", "0.01",
               "--no-cache", "--policy", policy)
    assert res.exit_code == 2 and "--policy" in res.stderr


def test_workers_are_bounded():
    res = cli("simulate", SCENARIOS / "pacing-small-8.toml", "--workers", str(10**9))
    assert res.exit_code == 2 and "--workers" in res.stderr


@pytest.mark.parametrize("spec, expect", [
    ("agents.count=1:1000000000:1", "expected at most 10000"),
    ("agents.count=1:2:1e-300", "expected at most 10000"),
    ("agents.count=1:inf:1", "expected finite numbers"),
    ("agents.count=-inf:1:1", "expected finite numbers"),
    ("agents.count=1,nan", "expected finite numbers"),
    ("agents.count=" + ",".join(["1"] * 10_001), "expected at most 10000"),
])
def test_sweep_axes_are_finite_and_bounded(spec, expect):
    from sim.plan.sweep import parse_vary

    with pytest.raises(ValueError, match=expect):
        parse_vary(spec)


@pytest.mark.parametrize("spec, values", [
    ("x=1e-300:1:1", (1e-300, 1.0)),  # was (0, 1): a tiny start rounded to 0 silently
    ("x=1e-300:3e-300:1e-300", (1e-300, 2e-300, 3e-300)),
    ("x=0:1:0.1", tuple(k / 10 for k in range(11))),  # no 0.30000000000000004
    ("x=-0.3:0.3:0.1", (-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3)),  # an exact 0 on the way
    ("x=40:60:10", (40, 50, 60)),
])
def test_sweep_ranges_keep_their_values(spec, values):
    from sim.plan.sweep import parse_vary

    got = parse_vary(spec).values
    assert got == values
    assert all(type(a) is type(b) for a, b in zip(got, values, strict=True))


def test_a_tiny_value_for_a_count_is_an_error_not_zero_agents():
    from sim.plan.sweep import parse_vary, sweep
    from sim.scenario import ScenarioError

    with pytest.raises(ScenarioError, match="expected integer, got number 1e-300"):
        sweep(SCENARIOS / "pacing-small-8.toml", [parse_vary("agents.count=1e-300:1:1")], 1, 1)


def test_sweep_grid_is_bounded():
    from sim.plan.sweep import parse_vary, sweep

    axes = [parse_vary("agents.count=1:200:1"), parse_vary("telephony.ports=1:100:1")]
    with pytest.raises(ValueError, match="the grid has 20,000 points"):
        sweep(SCENARIOS / "pacing-small-8.toml", axes, 1, 1)


@pytest.mark.parametrize("mutate", [
    lambda g: g.__setitem__("count", float("nan")),
    lambda g: g.__setitem__("skills", "sales"),
    lambda g: g.__setitem__("logout_s", 0.0),
    lambda g: g.pop("group"),
])
def test_a_broken_group_does_not_also_orphan_its_campaigns(mutate):
    raw = _raw("pacing-small-8.toml")
    mutate(raw["agents"][0])
    probs = _problems(raw)
    assert probs and not any("no agent group has skill" in p for p in probs), probs


# ------------------------------ what the pacer refuses is refused by validate, not the run


@pytest.mark.parametrize("ratio", [0.0, 1e-6, 0.999])
def test_progressive_ratio_under_one_is_a_problem_not_a_crash(ratio):
    raw = _raw("day-profile.toml")
    leads = raw["campaigns"][1]
    assert leads["pacing"] == "progressive"
    leads["ratio"] = ratio
    probs = _problems(raw)
    assert probs == [f"campaigns.leads.ratio: the pacer cannot take it: progressive takes "
                     f"ratio >= 1, got {ratio}"]


# --------------------- a file value an option replaces is still checked (validate agrees)


@pytest.mark.parametrize("text, opts", [
    ('sim_hours = "1e999"', ["--hours", "0.01"]),
    ("sim_hours = nan", ["--hours", "0.01"]),
    ("sim_hours = 1000000.0", ["--hours", "0.01"]),
    ("warmup_s = -5.0", ["--hours", "0.01", "--warmup-s", "0"]),
])
def test_simulate_refuses_a_file_validate_refuses_even_when_an_option_replaces_the_value(
        tmp_path, text, opts):
    src = (SCENARIOS / "pacing-small-8.toml").read_text()
    key = text.split(" = ")[0]
    lines = [text if ln.startswith(f"{key} =") else ln for ln in src.splitlines()]
    assert text in lines
    f = tmp_path / "s.toml"
    f.write_text("\n".join(lines) + "\n")
    assert cli("validate", f).exit_code == 2
    res = cli("simulate", f, "--no-cache", *opts)
    assert res.exit_code == 2, res.output
    assert f"scenario.{key}:" in res.stderr and "replaced by an option" in res.stderr


# ------------------------------------------------- contact files: one line, what was found

HEADER = "id,phone,timezone\n"


def _with_contacts(tmp_path, data: bytes) -> list[str]:
    (tmp_path / "c.csv").write_bytes(data)
    raw = _raw("single-50-predictive.toml")
    raw["campaigns"][0]["contacts"] = {"file": "c.csv", "default_timezone": "UTC"}
    with pytest.raises(ScenarioError) as e:
        build(raw, "s.toml", tmp_path)
    return e.value.problems


def test_an_unreadable_csv_is_one_line_without_library_hints(tmp_path):
    probs = _with_contacts(tmp_path, (HEADER + "c1,+12125550001,UTC\n\"unterminated\n").encode())
    assert len(probs) == 1 and "cannot read" in probs[0] and "not properly escaped" in probs[0]
    assert "\n" not in probs[0] and "You might want to try" not in probs[0]
    assert "```" not in probs[0]


@pytest.mark.parametrize("data", [
    bytes(range(256)) * 4,
    HEADER.encode() + b"c1,\x00+1212,UTC\n",
])
def test_a_binary_contact_file_is_named_as_binary(tmp_path, data):
    probs = _with_contacts(tmp_path, data)
    assert len(probs) == 1 and "expected a CSV text file, found binary data" in probs[0]
    assert probs[0].startswith("campaigns.sales.contacts.file: ")


def test_a_missing_address_column_lists_the_file_columns(tmp_path):
    probs = _with_contacts(tmp_path, b"c0,+12125550000,UTC\nc1,+12125550001,UTC\n")
    assert len(probs) == 1 and "no column 'phone'" in probs[0]
    assert "c.csv's columns: 'c0', '+12125550000', 'UTC'" in probs[0]


def test_one_line_keeps_short_messages_and_caps_long_ones():
    from sim.scenario import MAX_MESSAGE, _one_line

    assert _one_line("a: b") == "a: b"
    assert len(_one_line("x" * 10_000)) == MAX_MESSAGE
    assert _one_line("bad\n\nYou might want to try:\n- this\n\nOriginal error: ```boom```") \
        == "bad — boom"


# ---------------------------- the line finder on long lines (it backtracked for minutes)


def test_problem_lines_on_a_long_line_inside_a_multiline_string(tmp_path):
    lines = (SCENARIOS / "pacing-small-8.toml").read_text().splitlines()
    text = "\n".join('description = """\n[' + " " * 50_000 + 'x\n"""'
                     if ln.startswith("description =") else ln for ln in lines) + "\n"
    text = text.replace("ports = ", "ports = -", 1)
    f = tmp_path / "s.toml"
    f.write_text(text)
    res = cli("validate", f)
    line = next(n for n, ln in enumerate(text.splitlines(), 1) if ln.startswith("ports = -"))
    assert res.exit_code == 2 and f"line {line}: telephony.ports: expected a value >= 1" \
        in res.stderr


# ----------------------- devices and pipes: refused, never read (MemoryError, a hang)


@pytest.mark.parametrize("dev, kind", [("/dev/zero", "a character device"),
                                       ("/dev/urandom", "a character device")])
def test_a_device_as_the_scenario_is_refused(dev, kind):
    res = cli("validate", dev)
    assert res.exit_code == 2 and f"{dev}: expected a scenario file, got {kind}" in res.stderr


def test_a_pipe_as_the_scenario_is_refused(tmp_path):
    import os

    fifo = tmp_path / "s.toml"
    os.mkfifo(fifo)
    res = cli("validate", fifo)
    assert res.exit_code == 2 and "got a pipe (FIFO)" in res.stderr


@pytest.mark.parametrize("where", ["contacts", "dnc", "empirical"])
def test_a_device_as_a_data_file_is_refused(where):
    raw = _raw("single-50-predictive.toml")
    camp = raw["campaigns"][0]
    if where == "contacts":
        camp["contacts"] = {"file": "/dev/zero", "default_timezone": "UTC"}
    elif where == "dnc":
        raw["dnc"] = {"files": ["/dev/zero"]}
    else:
        camp["talk"] = {"dist": "empirical", "file": "/dev/zero", "column": "talk_s"}
    probs = _problems(raw)
    assert any("expected a file, got a character device: /dev/zero" in p for p in probs), probs


def test_cr_only_line_ends_still_read(tmp_path):
    text = (SCENARIOS / "pacing-small-8.toml").read_text().replace("\n", "\r")
    f = tmp_path / "s.toml"
    f.write_bytes(text.encode())
    assert cli("validate", f).exit_code == 0


# ---------------------------------------- --out that cannot be written: before the run


@pytest.mark.parametrize("out", ["/proc/outdial-nope", "/dev/null/x"])
def test_an_unwritable_out_fails_before_the_run(out):
    res = cli("simulate", SCENARIOS / "pacing-small-8.toml", "--hours", "0.01",
               "--no-cache", "--out", out)
    assert res.exit_code == 2
    assert f"--out: cannot write the results into {out}" in res.stderr


def test_an_out_below_a_file_names_the_file(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("a file, not a folder")
    res = cli("simulate", SCENARIOS / "pacing-small-8.toml", "--hours", "0.01",
               "--no-cache", "--out", blocker / "r")
    assert res.exit_code == 2
    assert f"cannot write the results into {blocker / 'r'}: {blocker} is a file, not a " \
        "folder" in res.stderr


def test_a_failed_write_names_the_option_and_what_was_written(tmp_path, monkeypatch):
    from outdial.app import Application

    app = Application()
    done = tmp_path / "a.parquet"

    def tables(d):
        done.write_text("x")
        return [done]

    def figures(d):
        raise OSError(28, "No space left on device")

    with pytest.raises(SystemExit) as e:
        app.write_outputs(tmp_path, True, tables, figures)
    assert e.value.code == 2


# ------------------------- a group asked back while its agents are leaving after a call


@pytest.mark.parametrize("at, count", [
    ([0, 1, 2, 3, 4, 5, 6, 7], [30, 0, 30, 0, 30, 0, 30, 0]),
    ([0, 100, 101, 102, 103, 104, 105, 106], [30, 10, 30, 5, 30, 0, 30, 1]),
])
def test_a_group_profile_that_returns_before_a_call_ends_runs(at, count):
    from sim.run import simulate

    raw = _raw("day-profile.toml")
    raw["scenario"]["sim_hours"] = 0.05
    raw["agents"][0]["profile"] = {"at": at, "count": count}
    res = simulate(build(raw, "s.toml", SCENARIOS))  # InvalidTransition: login while leaving
    assert res.total["attempts"] > 0


# ------------------------------------------- report on results files of another shape
# (one without its totals, '{}' included, was rendered as a whole, empty report)


@pytest.mark.parametrize("text", ['{"total": 5}', '{"total": {"bhcc": [1]}, "campaigns": 3}',
                                  '{"ci95": 1, "warnings": 5, "platform": 3}', '{}',
                                  '{"scenario": "x", "total": {}}', '{"total": {"bhcc": "x"}}'])
def test_report_on_a_kpis_json_of_another_shape(tmp_path, text):
    (tmp_path / "kpis.json").write_text(text)
    res = cli("report", tmp_path)
    assert res.exit_code == 2
    assert "kpis.json: not the file simulate --out writes" in res.stderr
    assert "no 'total' table with its 'attempts'" in res.stderr
    assert not (tmp_path / "report.html").exists()


# ----------------------------------- erlang: counts bounded, unreachable loads, --plot


@pytest.mark.parametrize("args, expect", [
    (["b", "--traffic-erlangs", "10", "--servers", "1000000000"], "(at most 10,000,000)"),
    (["b", "--traffic-erlangs", "10", "--servers", "9999990:10000001"], "<= 10,000,000"),
    (["c", "--calls-per-hour", "1e12", "--aht-s", "200", "--service-level", "0.8",
      "--target-s", "20"], "the load alone needs 55,555,555,556"),
])
def test_erlang_counts_are_bounded(args, expect):
    res = cli("erlang", *args)
    assert res.exit_code == 2 and expect in res.stderr


@pytest.mark.parametrize("name", ["x.weird", "no/such/dir/../../x.png"])
def test_erlang_plot_that_cannot_be_written(tmp_path, name):
    target = tmp_path / "f"
    target.write_text("a file, not a folder")
    path = target / "x.png" if "/" in name else tmp_path / name
    res = cli("erlang", "b", "--traffic-erlangs", "10", "--servers", "1:20", "--plot", path)
    assert res.exit_code == 2 and "--plot" in res.output and "cannot write" in res.output


def test_agent_group_names_are_unique():
    raw = _raw("pacing-small-8.toml")
    raw["agents"].append(copy.deepcopy(raw["agents"][0]))
    assert "agents: expected unique group names, repeated: team" in _problems(raw)


def test_a_broken_inbound_skill_does_not_also_orphan_its_desk():
    raw = _raw("blended-centre.toml")
    raw["inbound"][0]["patience"] = {"dist": "exponential", "mean_s": -1}
    probs = _problems(raw)
    assert any(p.startswith("inbound[0].patience") for p in probs)
    assert not any("an inbound group needs an inbound skill" in p for p in probs), probs


def test_inbound_rate_bound_applies_to_its_profile_too():
    raw = _raw("blended-live-small.toml")
    ib = next(r for r in raw["inbound"] if "profile" in r)
    ib["profile"]["calls_per_hour"] = [2_000_000.0] * len(ib["profile"]["at"])
    assert any("calls_per_hour" in p and "1e+06" in p for p in _problems(raw))


# ------------------------------------------------ empirical durations: finite, bounded


@pytest.mark.parametrize("rows, expect", [
    (["inf", "2"], "line 2: expected a duration >= 0 s and <= 86400 s"),
    (["3", "1e300"], "line 3: expected a duration >= 0 s and <= 86400 s"),
    (["100000"], "line 2: expected a duration >= 0 s and <= 86400 s"),
    ([], "holds no durations"),
])
def test_empirical_durations_are_finite_and_bounded(tmp_path, rows, expect):
    (tmp_path / "d.csv").write_text("talk_s\n" + "".join(f"{r}\n" for r in rows))
    raw = _raw("single-50-predictive.toml")
    raw["campaigns"][0]["talk"] = {"dist": "empirical", "file": "d.csv", "column": "talk_s"}
    with pytest.raises(ScenarioError) as e:
        build(raw, "s.toml", tmp_path)
    assert len(e.value.problems) == 1 and expect in e.value.problems[0]
    assert e.value.problems[0].startswith("campaigns.sales.talk.file: ")

"""Crashes, hangs and silent refusals a crash hunt over every command's options and over
mutated copies of every scenario found (beyond ``test_fuzz_regressions``: ``run``'s
configuration, the option ranges of every command, the measured window's floor). One test
per class, parametrised over the inputs that hit it; each asserts the clear error (file,
key or option, what was expected) or that the command works, never a traceback."""

import re

import pytest

from tests.cli_helpers import SCENARIOS, cli

SMALL = SCENARIOS / "pacing-small-8.toml"


# ------------------- run's configuration is read as a scenario is (encoding, nesting)


@pytest.mark.parametrize("data, expect", [
    (b"\x80\x81 not text", "not a UTF-8 text file (line 1 holds byte 0x80); save it as UTF-8"),
    (b'[run]\nscenario = "caf\xe9.toml"\n', "not a UTF-8 text file (line 2 holds byte 0xe9)"),
    (b"a = " + b"[" * 1200 + b"]" * 1200 + b"\n", "nested deeper than 32 levels"),
])
def test_a_run_configuration_that_is_not_text_or_too_deep_is_one_clear_error(tmp_path, data,
                                                                             expect):
    cfg = tmp_path / "live.toml"
    cfg.write_bytes(data)
    res = cli("run", cfg, "--emulate", "--no-view")
    assert res.exit_code == 2, res.output
    assert f"{cfg}: cannot read the run configuration: " in res.output and expect in res.output


def test_a_run_configuration_device_is_refused_unread():
    res = cli("run", "/dev/zero", "--emulate", "--no-view")
    assert res.exit_code == 2
    assert "expected a run configuration file, got a character device" in res.output


# ------------------------------ a UTF-8 byte-order mark (Windows editors) is not TOML's


def test_a_scenario_saved_with_a_byte_order_mark_validates(tmp_path):
    f = tmp_path / "s.toml"
    f.write_bytes(b"\xef\xbb\xbf" + SMALL.read_bytes().replace(b"ports = 60", b"ports = 0"))
    res = cli("validate", f)  # the mark is dropped, the line numbers still right
    assert res.exit_code == 2 and "line 18: telephony.ports: expected a value >= 1" in res.stderr
    f.write_bytes(b"\xef\xbb\xbf" + SMALL.read_bytes())
    assert cli("validate", f).exit_code == 0


# --------------------------------- a measured window too short to divide by (ZeroDivision)


@pytest.mark.parametrize("hours", ["1e-300", "1e-9", "0.0002"])
def test_a_measured_window_under_one_second_is_refused(hours):
    res = cli("simulate", SMALL, "--hours", hours, "--warmup-s", "30", "--no-cache", "-r", "1")
    assert res.exit_code == 2
    assert "scenario.sim_hours: expected a value >= 0.000277778 h (one second" in res.stderr


# ---------------------------------------- replications bounded on every command (a hang)


@pytest.mark.parametrize("cmd", [
    ["simulate", SMALL], ["compare", SMALL], ["sweep", SMALL, "--vary", "agents=2,3"],
    ["size", SMALL, "--find", "agents", "--target", "abandon_rate<=0.05"]])
@pytest.mark.parametrize("reps", ["10001", str(10**20)])
def test_replications_are_bounded_on_every_command(cmd, reps):
    res = cli(*cmd, "--no-cache", "-r", reps)
    assert res.exit_code == 2 and "'--replications' / '-r'" in res.stderr
    assert "10000" in res.stderr


def test_the_cli_replication_bound_is_the_scenario_one():
    from outdial.cli._batch import MAX_REPLICATIONS
    from sim.scenario import MAX_REPLICATIONS as SCENARIO_MAX

    assert MAX_REPLICATIONS == SCENARIO_MAX


# ------------------- a --policy the pacer refuses is refused before the run (a ValueError)


@pytest.mark.parametrize("policy", ["progressive:1e-320", "progressive:0.5"])
def test_a_policy_the_pacer_refuses_is_a_usage_error(policy):
    res = cli("simulate", SMALL, "--hours", "0.01", "--no-cache", "--policy", policy)
    assert res.exit_code == 2
    assert f"--policy: policy '{policy}': campaigns.sales.ratio: the pacer cannot take it: " \
           "progressive takes ratio >= 1" in res.stderr
    res = cli("compare", SMALL, "--hours", "0.01", "--no-cache", "--policies",
               f"predictive,{policy}")
    assert res.exit_code == 2 and f"--policies: policy '{policy}'" in res.stderr


def test_an_empty_policy_is_refused_not_ignored():
    res = cli("simulate", SMALL, "--hours", "0.01", "--no-cache", "--policy", "")
    assert res.exit_code == 2 and "--policy: policy '': expected one of predictive" in res.stderr


# -------------- an attempt cap of 0 calls nobody (the 60k list took minutes per minute)


@pytest.mark.parametrize("key", ["rules.max_attempts_per_day_contact",
                                 "rules.max_attempts_total_address",
                                 "campaigns.sales.rules.max_attempts_per_day_address"])
def test_an_attempt_cap_of_zero_is_refused(key):
    res = cli("validate", SMALL, "--set", f"{key}=0")
    assert res.exit_code == 2
    assert f"{key}: expected at least 1 attempt, got 0 (a cap of 0 calls nobody" in res.stderr
    assert cli("validate", SMALL, "--set", f"{key}=1").exit_code == 0


# ------------------------ erlang: an offered load past any float (OverflowError in floor)


@pytest.mark.parametrize("cph, aht", [("1e308", "200"), ("300", "1e308")])
def test_erlang_a_load_beyond_any_float_is_one_clear_error(cph, aht):
    res = cli("erlang", "c", "--calls-per-hour", cph, "--aht-s", aht, "--service-level",
               "0.8")
    assert res.exit_code == 2 and "is beyond any float" in res.stderr


def test_agents_for_service_level_is_bounded_not_a_walk():
    from sim.erlang import agents_for_service_level

    assert agents_for_service_level(200, 180, 20, 0.8) == 14
    with pytest.raises(ValueError, match="the load alone needs 55,555,555,556"):
        agents_for_service_level(1e12, 200, 20, 0.8)  # walked up one agent at a time


# ----------------------------- report: a results file that is not UTF-8 or nests too deep


@pytest.mark.parametrize("data, expect", [
    (b"\x91\x92{}", "not UTF-8 text"), (b'{"total": "caf\xe9"}', "not UTF-8 text"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deep"),
])
def test_report_on_a_kpis_json_that_is_not_text_or_too_deep(tmp_path, data, expect):
    (tmp_path / "kpis.json").write_bytes(data)
    res = cli("report", tmp_path)
    assert res.exit_code == 2
    assert "kpis.json: not a readable JSON file (" in res.stderr and expect in res.stderr


# ---------------------------------------------- a path holding a NUL character (ValueError)


def test_a_run_scenario_path_with_a_nul_is_refused(tmp_path):
    cfg = tmp_path / "live.toml"
    cfg.write_text('[run]\nscenario = "a\\u0000b.toml"\n[store]\nsqlite = "x.sqlite"\n')
    res = cli("run", cfg, "--emulate", "--no-view")
    assert res.exit_code == 2
    assert "run.scenario: expected a scenario file path, got 'a\\x00b.toml'" in res.output
    from sim.scenario import ScenarioError, read_raw

    with pytest.raises(ScenarioError, match="got one holding a NUL character"):
        read_raw("a\0b.toml")  # Path.exists raised ValueError


# ------------- contact settings of the wrong type (TypeError, ValueError in validate itself)


@pytest.mark.parametrize("key, value, expect", [
    ("addresses.phone", [], "contacts.addresses.phone: expected a channel name"),
    ("addresses.phone", {}, "contacts.addresses.phone: expected a channel name"),
    ("timezones.UTC", "x", "contacts.timezones.UTC: expected a relative weight > 0"),
    ("timezones.UTC", [], "contacts.timezones.UTC: expected a relative weight > 0"),
    ("timezones.UTC", float("nan"), "contacts.timezones.UTC: expected a relative weight > 0"),
    ("timezones.UTC", float("inf"), "contacts.timezones.UTC: expected a relative weight > 0"),
    ("timezones.UTC", 1e308, "and <= 1e9"),
])
def test_contact_settings_of_the_wrong_type_are_problems(key, value, expect):
    import tomllib

    from sim.scenario import ScenarioError, build

    raw = tomllib.loads(SMALL.read_text())
    table, sub = key.split(".")
    raw["campaigns"][0]["contacts"] = {"records": 50, table: {sub: value}}
    with pytest.raises(ScenarioError) as e:
        build(raw, "s.toml", SCENARIOS)
    assert any(expect in p for p in e.value.problems), e.value.problems


# ------------ run: hours and speed the clock can hold (inf ran forever, 1e308x was a NaN)


LIVE = SCENARIOS / "live-emulated.toml"


@pytest.mark.parametrize("opt, value, expect", [
    ("--hours", "inf", "--hours: expected hours > 0 and <= 8784 (a year; omit --hours"),
    ("--hours", "1e308", "--hours: expected hours > 0 and <= 8784"),
    ("--hours", "nan", "--hours: expected hours > 0"),
    ("--speed", "inf", "--speed: expected run seconds per wall second from 0.01 to 1000"),
    ("--speed", "1e308", "--speed: expected run seconds per wall second from 0.01 to 1000"),
    ("--speed", "1e-300", "--speed: expected run seconds per wall second from 0.01"),
])
def test_run_hours_and_speed_are_bounded(tmp_path, opt, value, expect):
    res = cli("run", LIVE, "--emulate", "--no-view", "--store", tmp_path / "s.sqlite", opt,
               value)
    assert res.exit_code == 2 and expect in res.output


@pytest.mark.parametrize("key, value, expect", [
    ("hours", "inf", "run.hours: expected hours > 0 and <= 8784"),
    ("speed", "1e308", "run.speed: expected run seconds per wall second from 0.01 to 1000"),
    ("drain_s", "inf", "run.drain_s: expected seconds from 0 to 3600"),
])
def test_run_configuration_numbers_are_bounded(tmp_path, key, value, expect):
    from outdial.live.config import ConfigError, load_config

    cfg = tmp_path / "live.toml"
    cfg.write_text(f'[run]\nscenario = "{SMALL}"\n{key} = {value}\n'
                   '[store]\nsqlite = "x.sqlite"\n')
    with pytest.raises(ConfigError) as e:
        load_config(cfg, env={}, emulate=True)
    assert expect in str(e.value)


# ---------------------------------- a strategy's retry delay past a year (the 60k run hung)


@pytest.mark.parametrize("delay", [1e308, float("inf"), 1e9])
def test_a_retry_delay_past_a_year_is_refused(delay):
    import tomllib

    from sim.scenario import ScenarioError, build

    raw = tomllib.loads((SCENARIOS / "pom-60k-bhcc.toml").read_text())
    raw["campaigns"][0]["strategy"]["steps"][0]["retries"]["busy"] = [delay, 2]
    with pytest.raises(ScenarioError) as e:
        build(raw, "s.toml", SCENARIOS)
    assert e.value.problems == [
        "campaigns.sales.strategy.steps[0].retries['busy'].delay_s: must be a number of "
        f"seconds from 0 to 31,622,400 (a year; leave the code out for no retry), got {delay!r}"]


def test_the_engine_refuses_what_the_scenario_refuses():
    """Retry and ListSpec check their own arguments (an embedding caller has no scenario)."""
    from engine.contacts import ListSpec
    from engine.strategy import Retry, StrategyError

    with pytest.raises(StrategyError, match="a year"):
        Retry(float("inf"), 1)
    with pytest.raises(ValueError, match="unknown channel"):
        ListSpec(addresses={"phone": ["voice"]})


# ------------- names are data, not rich markup ('[/x]' was a MarkupError, ':-1:' a thumb)


@pytest.mark.parametrize("cmd", [
    ["validate", SMALL],
    ["simulate", SMALL, "--hours", "0.01", "-r", "1", "--intervals", "--no-cache"],
    ["compare", SMALL, "--hours", "0.01", "-r", "1", "--policies", "predictive", "--no-cache"],
])
def test_names_that_look_like_markup_are_printed_as_written(cmd):
    res = cli(*cmd, "--set", 'scenario.name="[/x] :-1: [bold]b"',
               "--set", 'campaigns.sales.name="[/y]"')
    assert res.exit_code == 0, res.output
    assert "[/x] :-1: [bold]b" in res.output


def test_a_missing_path_with_an_emoji_code_is_named_as_written(tmp_path):
    f = tmp_path / "progressive:-1:.toml"
    res = cli("validate", f)
    assert res.exit_code == 2 and f"{f}: file not found" in res.stderr


# ---------- float options: NaN and infinities pass click's FloatRange (compare crashed)


@pytest.mark.parametrize("opt, value", [
    ("--ratio-max", "nan"), ("--ratio-max", "inf"), ("--ratio-max", "1e308"),
    ("--ratio-step", "nan"), ("--ratio-step", "inf"), ("--hours", "nan"), ("--hours", "inf"),
])
def test_compare_float_options_are_finite_and_bounded(opt, value):
    res = cli("compare", SMALL, "--hours", "0.01", "-r", "2", "--no-cache", "--policies",
               "predictive", opt, value)
    assert res.exit_code == 2 and f"Invalid value for '{opt}'" in res.stderr
    assert "not a finite number" in res.stderr or "<=48.0" in res.stderr


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_simulate_warmup_is_finite(value):
    res = cli("simulate", SMALL, "--no-cache", "--warmup-s", value)
    assert res.exit_code == 2 and "'--warmup-s'" in res.stderr and "not a finite" in res.stderr


def test_the_cli_ratio_top_is_the_search_one():
    from outdial.cli._batch import RATIO_MAX_TOP
    from sim.plan.compare import RATIO_WIDEN_TO

    assert RATIO_MAX_TOP == RATIO_WIDEN_TO


@pytest.mark.parametrize("lo, hi, step, expect", [
    (1.0, float("inf"), 0.01, "ratio range: expected finite"),
    (1.0, 3.0, float("nan"), "ratio step: expected a finite step > 0"),
    (1.0, 3.0, 1e-9, "at most 1,000,000 points"),
])
def test_best_ratio_refuses_a_range_it_cannot_grid(lo, hi, step, expect):
    from sim.plan.compare import best_ratio
    from sim.scenario import load

    with pytest.raises(ValueError, match=expect):
        best_ratio(load(SMALL), "ratio", 1, 2, None, None, lo=lo, hi=hi, step=step)


# -------------------- options compare ignores with --variant are refused, not ignored


@pytest.mark.parametrize("extra, named", [
    (["--policies", "predictive"], "--policies"), (["--plots"], "--plots"),
    (["--ratio-max", "4"], "--ratio-max"), (["--no-search"], "--no-search"),
])
def test_compare_options_variants_ignore_are_refused(extra, named):
    res = cli("compare", SMALL, "--hours", "0.01", "-r", "1", "--no-cache",
               "--variant", "a:agents.count=2", *extra)
    assert res.exit_code == 2 and f"{named}: not used with --variant" in res.stderr


# ------------------- a sweep value past any scenario bound (1e308 became a 309-digit count)


@pytest.mark.parametrize("spec", ["agents=1e308", "agents.count=1,1e16",
                                  "telephony.ports=-1e300:1:1e299"])
def test_sweep_values_are_bounded_in_magnitude(spec):
    res = cli("sweep", SMALL, "--vary", spec, "--no-cache", "-r", "1", "--hours", "0.01")
    assert res.exit_code == 2 and "expected values within +-1e+15" in res.stderr
    assert len(res.stderr) < 400


# --------- run: a blank or NUL name in the configuration (ran into a 20 s session timeout)


@pytest.mark.parametrize("table, key, value, expect", [
    ("aes", "user", '""', "aes.user: expected a user name"),
    ("aes", "user", '"a\\u0000b"', "aes.user: expected a user name"),
    ("epm", "host", '" "', "epm.host: expected a host name or address"),
    ("run", "scenario", '""', "run.scenario: expected a scenario file path"),
    ("events", "jsonl", '""', "events.jsonl: expected an events file path"),
])
def test_run_configuration_names_are_not_blank(tmp_path, table, key, value, expect):
    from outdial.live.config import ConfigError, load_config

    tables = {"run": {"scenario": f'"{SMALL}"'}, "store": {"sqlite": '"x.sqlite"'}}
    tables.setdefault(table, {})[key] = value
    cfg = tmp_path / "live.toml"
    cfg.write_text("".join(f"[{t}]\n" + "".join(f"{k} = {v}\n" for k, v in kv.items())
                           for t, kv in tables.items()))
    with pytest.raises(ConfigError) as e:
        load_config(cfg, env={}, emulate=True)
    assert expect in str(e.value) and "missing" not in str(e.value)


# ------------------------------- scenario.start as TOML's own date-time (was refused)


@pytest.mark.parametrize("value, ok", [
    ("2026-11-23T08:00:00-05:00", True), ("1970-01-01T00:00:00Z", True),
    ("2026-03-08T02:30:00", False),  # no offset: still refused, as the quoted form is
])
def test_scenario_start_as_a_toml_datetime(tmp_path, value, ok):
    f = tmp_path / "s.toml"
    f.write_text(SMALL.read_text().replace("[scenario]\n", f"[scenario]\nstart = {value}\n", 1))
    res = cli("validate", f)
    if ok:
        assert res.exit_code == 0, res.output
    else:
        assert res.exit_code == 2 and "scenario.start: expected a time with its UTC offset" \
            in res.stderr


# ---------- one broken campaign does not orphan the timeline's actions on every campaign


@pytest.mark.parametrize("profile", [
    '{at=[120, 60], live=[0.3, 0.2]}', '{at=[0, 60], talk_mean_s=[0, 1e308]}',
    '{at=[0, 60], interpolate="cubic", live=[0.3, 0.2]}'])
def test_a_broken_campaign_profile_is_one_problem(profile):
    res = cli("validate", SCENARIOS / "day-profile.toml", "--set",
               f"campaigns.sales.profile={profile}")
    assert res.exit_code == 2 and "1 problem in" in res.stderr, res.stderr
    assert "campaigns.sales.profile" in res.stderr and "timeline[" not in res.stderr


def test_a_bad_set_value_is_not_also_called_missing():
    res = cli("validate", SCENARIOS / "day-profile.toml", "--set",
               'timeline=[{at=10, action="set", campaign="sales", priority=1e308}]')
    assert res.exit_code == 2 and "1 problem in" in res.stderr
    assert "timeline[0].priority: expected an integer from 1 to 1000000" in res.stderr


# -------------------------------- --cache beside --no-cache: one was silently ignored


@pytest.mark.parametrize("cmd", [["simulate", SMALL], ["sweep", SMALL, "--vary", "agents=2,3"]])
def test_cache_and_no_cache_together_are_refused(tmp_path, cmd):
    res = cli(*cmd, "--hours", "0.01", "-r", "1", "--cache", tmp_path / "c", "--no-cache")
    assert res.exit_code == 2 and "--no-cache: choose one" in res.stderr
    assert not (tmp_path / "c").exists()


def test_compare_refuses_a_policy_given_twice():
    res = cli("compare", SMALL, "--hours", "0.01", "-r", "1", "--no-cache", "--policies",
               "predictive, ratio:1.5,predictive")
    assert res.exit_code == 2
    assert "--policies: predictive given twice; expected each policy once" in res.stderr


# ------------- a value from the command line was blamed on the file's line that it replaced


@pytest.mark.parametrize("cmd, args, said", [
    ("simulate", ["--hours", "1e-300"],
     "set on the command line: scenario.sim_hours: expected a value >="),
    ("validate", ["--set", "agents.team.count=-1"],
     "set on the command line: agents.team.count: expected"),
    ("validate", ["--set", "campaigns.sales.talk.mean_s=-5"],
     "set on the command line: campaigns.sales.talk.mean_s: expected"),
])
def test_a_bad_value_from_the_command_line_is_not_blamed_on_the_file(cmd, args, said):
    res = cli(cmd, SCENARIOS / "single-50-predictive.toml", *args)
    assert res.exit_code != 0 and said in res.stderr
    assert not re.search(r"line \d+: ", res.stderr)


def test_a_bad_value_in_the_file_keeps_its_line(tmp_path):
    text = (SCENARIOS / "single-50-predictive.toml").read_text()
    bad = tmp_path / "s.toml"
    bad.write_text(text.replace("count = 50", "count = -1", 1))
    res = cli("validate", bad, "--set", "campaigns.sales.talk.mean_s=100")
    assert res.exit_code != 0 and re.search(r"line \d+: agents\.team\.count", res.stderr)
    assert "set on the command line" not in res.stderr

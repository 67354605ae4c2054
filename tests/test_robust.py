"""No scenario crashes the simulator: every number is bounded (unit and reason in the
message), everything a run needs is checked by validation, and validation and a short run
agree on generated scenarios, valid and mutated. Each crash once reported has its test."""

import copy
import json
import math
import time
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.contacts import ListSpec, load_csv
from sim.plan.stats import NO_ATTEMPT
from sim.plan.task import run_task
from sim.scenario import (
    _AGENTS,
    _AMD,
    _CAMPAIGN,
    _CUSTOMER,
    _DIST,
    _MESSAGE,
    _OUTCOMES,
    _SCHEDULE,
    _SECTIONS,
    ScenarioError,
    build,
)
from tests.cli_helpers import cli

BASE = Path(__file__).resolve().parent.parent / "scenarios" / "single-50-predictive.toml"
# A small world with every channel: a short run takes a fraction of a second.
TINY = {
    "scenario": {"name": "tiny", "sim_hours": 0.05, "warmup_s": 30.0, "seed": 3},
    "telephony": {"ports": 20, "carrier_cps": 10.0},
    "agents": [{"group": "team", "count": 4, "skills": ["sales"]}],
    "campaigns": [
        {"name": "sales", "skill": "sales", "amd": {"enabled": True},
         "customer": {"patience_mean_s": 8.0}, "talk": {"mean_s": 60.0},
         "wrap": {"mean_s": 5.0}},
        {"name": "notify", "channel": "voice_agentless", "attempts_per_hour": 300.0,
         "max_ports": 4},
        {"name": "texts", "channel": "sms", "attempts_per_hour": 200.0},
    ],
}


def _write(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _base(**replace):
    text = BASE.read_text()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    return text


# ------------------------------------------------------------ the crashes once reported


def test_zero_agents_run_and_say_why_nothing_happened(tmp_path):
    p = _write(tmp_path, _base(**{"count = 50": "count = 0"}))
    res = cli("validate", p)
    assert res.exit_code == 0 and "no agent with skill 'sales' logs in" in res.stderr
    res = cli("simulate", p, "--hours", "0.05", "--warmup-s", "0", "--json", "--no-cache")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["total"]["attempts"] == 0 and NO_ATTEMPT in out["warnings"]
    assert any("no agent with skill" in w for w in out["warnings"])


@pytest.mark.parametrize(("old", "new", "message"), [
    ("mean_s = 200.0", "mean_s = inf", "campaigns.sales.talk.mean_s: expected a finite number "
                                       "(s), got inf"),
    ("carrier_cps = 20.0", "carrier_cps = inf", "telephony.carrier_cps: expected a finite "
                                                "number (per s), got inf"),
    ("seed = 7", 'seed = 7\nstart = "9999-12-31T20:00:00+00:00"',
     "scenario.start: expected a year from 1970 to 2200"),
    ("warmup_s = 300.0", "warmup_s = 1e9", "scenario.warmup_s: expected a value <= 86400 s "
                                           "(longer runs belong in several runs)"),
    ('name = "sales"', 'name = "sales"\ncopies = 10000000',
     "campaigns: expected at most 10000 jobs in all, copies included (a larger value would "
     "not fit in memory), got 10000000"),
    ("count = 50", "count = 50\naux_mean_s = nan", "agents.team.aux_mean_s: expected a number"),
])
def test_reported_crashes_are_one_clear_error(tmp_path, old, new, message):
    p = _write(tmp_path, _base(**{old: new}))
    t0 = time.perf_counter()
    for cmd in (("validate", p), ("simulate", p, "--hours", "0.05", "--no-cache")):
        res = cli(*cmd)
        assert res.exit_code == 2, res.output
        assert message in res.stderr and "Traceback" not in res.stderr
    assert time.perf_counter() - t0 < 30  # refused up front, nothing allocated or run


def test_toml_nested_1200_deep_is_a_clear_error(tmp_path):
    p = _write(tmp_path, BASE.read_text() + "\n[rules]\nx = " + "[" * 1200 + "]" * 1200 + "\n")
    res = cli("validate", p)
    assert res.exit_code == 2 and "nested deeper than 32 levels" in res.stderr
    deep: dict = {}
    node = deep
    for _ in range(40):  # deep but parseable: caught before anything walks it recursively
        node["x"] = {}
        node = node["x"]
    with pytest.raises(ScenarioError, match="nested deeper than 32"):
        build({**TINY, "rules": deep})


def _contacts(n=100, eol="\n", note=""):
    rows = ["id,phone,timezone,note"]
    rows += [f"c{i},+1202555{i:04d},America/New_York,{note}" for i in range(n)]
    return eol.join(rows) + eol


def test_cr_only_line_ends_load_every_contact(tmp_path):
    p = tmp_path / "mac.csv"
    p.write_bytes(_contacts(eol="\r").encode())
    cl = load_csv(p, ListSpec(addresses={"phone": "voice"}))
    assert len(cl) == 100 and not cl.problems
    assert cl.line(99) == 101


def test_a_field_over_128_kb_loads(tmp_path):
    p = tmp_path / "big.csv"
    p.write_text(_contacts(n=5, note="x" * 200_000))
    cl = load_csv(p, ListSpec(addresses={"phone": "voice"}))
    assert len(cl) == 5 and len(cl.contact(0)["note"]) == 200_000


def _with_list(tmp_path, csv_text, on_error="skip"):
    (tmp_path / "list.csv").write_text(csv_text)
    return _write(tmp_path, _base() + (
        '\n[campaigns.contacts]\nfile = "list.csv"\n'
        f'addresses = {{phone = "voice"}}\non_error = "{on_error}"\n'))


def test_skipped_contact_rows_are_reported_with_count_and_first_lines(tmp_path):
    lines = _contacts(n=20).splitlines()
    lines[3] = "c2,+1202555x,America/New_York,"  # a bad phone on line 4
    lines[8] = "c7,+12025550007,Mars/Olympus,"  # an unknown zone on line 9
    p = _with_list(tmp_path, "\n".join(lines) + "\n")
    res = cli("validate", p, "--json")
    out = json.loads(res.stdout)
    assert out["valid"] is True
    (w,) = out["warnings"]
    assert "2 of 20 rows of" in w and "line 4" in w and "line 9" in w
    res = cli("simulate", p, "--hours", "0.02", "--warmup-s", "0", "--no-cache")
    assert res.exit_code == 0 and "2 of 20 rows" in res.stderr
    p = _with_list(tmp_path, "\n".join(lines) + "\n", on_error="reject")
    res = cli("validate", p)
    assert res.exit_code == 2 and "load rejected" in res.stderr and "line 4" in res.stderr


def test_a_contact_file_without_its_key_columns_is_refused_by_validate(tmp_path):
    p = _with_list(tmp_path, "id,phone,zone\nc1,+12025550001,UTC\n")  # no 'timezone' column
    for cmd in (("validate", p), ("simulate", p, "--hours", "0.02", "--no-cache")):
        res = cli(*cmd)
        assert res.exit_code == 2 and "contacts.timezone: list.csv has no column " \
            "'timezone'" in res.stderr and "default_timezone" in res.stderr
    p.write_text(p.read_text().replace('file = "list.csv"',
                                      'file = "list.csv"\ntimezone = "zone"\nid = "nope"'))
    res = cli("validate", p)
    assert res.exit_code == 2 and "missing column(s) 'nope'" in res.stderr


def test_bad_filter_and_spec_are_refused_before_the_run():
    raw = copy.deepcopy(TINY)
    raw["campaigns"][0]["contacts"] = {"filter": "pl.col('nope') > 3"}
    with pytest.raises(ScenarioError, match=r"campaigns.sales.contacts.filter: .*nope"):
        build(raw)
    raw["campaigns"][0]["contacts"] = {"id": "phone"}
    with pytest.raises(ScenarioError, match="cannot be address columns"):
        build(raw)


def test_deterministic_handling_and_zero_handling_are_refused():
    raw = copy.deepcopy(TINY)
    raw["campaigns"][0]["talk"] = {"dist": "deterministic", "mean_s": 60.0}
    raw["campaigns"][0]["wrap"] = {"dist": "deterministic", "mean_s": 5.0}
    with pytest.raises(ScenarioError, match="both deterministic"):
        build(raw)
    raw["campaigns"][0]["talk"] = {"dist": "deterministic", "mean_s": 0.0}
    raw["campaigns"][0]["wrap"] = {"dist": "deterministic", "mean_s": 0.0}
    with pytest.raises(ScenarioError, match="more than 0 s together"):
        build(raw)


def test_too_many_timed_attempts_and_interval_cells_are_refused():
    raw = copy.deepcopy(TINY)
    raw["campaigns"][2]["attempts_per_hour"] = 30_000_000.0
    raw["scenario"].update(sim_hours=2.0, warmup_s=0.0)
    with pytest.raises(ScenarioError, match="60,000,600 attempts over the run's 2 h"):
        build(raw)
    raw = copy.deepcopy(TINY)
    raw["scenario"].update(sim_hours=168.0, interval_s=1.0)
    raw["campaigns"][0]["copies"] = 40
    with pytest.raises(ScenarioError, match=r"scenario.interval_s: .* table cells"):
        build(raw)


# ------------------------------------------------------------ generated scenarios

_NUMERIC = [("scenario", k, f) for k, f in _SECTIONS["scenario"].items()]
_NUMERIC += [(sec, k, f) for sec in ("regulation", "telephony", "licenses")
             for k, f in _SECTIONS[sec].items()]
_NUMERIC += [("agents", k, f) for k, f in _AGENTS.items()]
_NUMERIC += [("campaigns", k, f) for k, f in _CAMPAIGN.items()]
_NUMERIC += [(f"campaigns.{t}", k, f) for t, spec in
             (("outcomes", _OUTCOMES), ("amd", _AMD), ("customer", _CUSTOMER), ("talk", _DIST),
              ("wrap", _DIST), ("message", _MESSAGE), ("schedule", _SCHEDULE))
             for k, f in spec.items()]
KEYS = [(sec, k) for sec, k, _ in _NUMERIC]
ODD = [0, -1, 1, 2, 0.5, 1e-9, 1e9, 1e300, math.inf, -math.inf, math.nan, "x", "200s", True,
       [], {}, 2**62, -(2**62)]


def _boundary(f):
    """Values at and around a key's own bounds."""
    out = []
    for b in (f.lo, f.hi):
        if b is not None and math.isfinite(b):
            out += [b, b - 1e-6, b + 1e-6, b * 10 + 1]
    return out


def _mutate(raw, sec, key, value, campaign):
    if sec == "agents":
        raw["agents"][0][key] = value
    elif sec.startswith("campaigns"):
        c = raw["campaigns"][campaign]
        if sec == "campaigns":
            c[key] = value
        else:
            c.setdefault(sec.split(".")[1], {})[key] = value
    else:
        raw.setdefault(sec, {})[key] = value


def _run(raw):
    """Validate, then (when valid) run 0.05 h as ``simulate --hours 0.05`` does: returns the
    scenario or the clear error."""
    try:
        scn = build(raw, "gen.toml")
    except ScenarioError as exc:
        assert exc.problems and all(": " in p for p in exc.problems)
        return exc
    short = build({**raw, "scenario": {**raw["scenario"], "sim_hours": 0.05}}, "gen.toml")
    rec = run_task(short, scn.seed)
    assert rec["kpis"]["attempts"] >= 0
    for k in ("abandon_rate", "abandon_rate_ofcom", "occupancy", "service_level"):
        assert 0.0 <= rec["kpis"][k] <= 1.0
    return scn


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_scenarios_are_refused_clearly_or_run(data):
    i = data.draw(st.integers(0, len(_NUMERIC) - 1), label="key")
    sec, key, f = _NUMERIC[i]
    value = data.draw(st.sampled_from(ODD + _boundary(f)) | st.floats(-1e6, 1e6)
                      | st.integers(-10, 10**6), label="value")
    raw = copy.deepcopy(TINY)
    _mutate(raw, sec, key, value, data.draw(st.integers(0, 2), label="campaign"))
    _run(raw)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(agents=st.integers(0, 8), ports=st.integers(1, 30), live=st.floats(0.0, 0.9),
       talk=st.floats(1.0, 400.0), patience=st.floats(0.5, 60.0),
       pacing=st.sampled_from(["predictive", "progressive", "preview", "ratio",
                               "vicidial-hard", "vicidial-tapered", "vicidial-average"]),
       rate=st.floats(0.0, 2000.0), cps=st.floats(0.5, 50.0))
def test_valid_generated_scenarios_run_and_validate_agrees(agents, ports, live, talk,
                                                           patience, pacing, rate, cps):
    raw = copy.deepcopy(TINY)
    raw["agents"][0]["count"] = agents
    raw["telephony"].update(ports=ports, carrier_cps=cps)
    c = raw["campaigns"][0]
    rest = (1.0 - live) / 4
    c.update(pacing=pacing, outcomes={"live": live, "machine": rest, "busy": rest,
                                      "no_answer": rest, "invalid": rest},
             talk={"mean_s": talk}, customer={"patience_mean_s": patience})
    raw["campaigns"][2]["attempts_per_hour"] = rate
    out = _run(raw)
    if rate > 0:  # every generated value is inside its documented range
        assert not isinstance(out, ScenarioError), out
    else:
        assert isinstance(out, ScenarioError)
        assert "campaigns.texts.attempts_per_hour: sms campaigns need a rate > 0" in out.problems


def test_validate_and_simulate_agree_on_the_command_line(tmp_path):
    cases = {"ok": _base(), "bad": _base(**{"ports = 300": "ports = 0"}),
             "nan": _base(**{"ports = 300": "ports = nan"})}
    for name, text in cases.items():
        p = _write(tmp_path, text, f"{name}.toml")
        v = cli("validate", p)
        s = cli("simulate", p, "--hours", "0.01", "--warmup-s", "0", "--no-cache", "--json")
        assert (v.exit_code == 0) == (s.exit_code == 0), (name, v.output, s.output)
        assert "Traceback" not in v.output + s.output
    assert pl.__version__  # polars imported by the runs above


_JUNK = (st.none() | st.booleans() | st.integers(-5, 10**7) | st.floats(allow_nan=True)
         | st.text(max_size=6) | st.lists(st.integers(-2, 5000), max_size=4)
         | st.dictionaries(st.sampled_from(["at", "live", "count", "action", "campaign",
                                            "group", "agents", "x"]),
                           st.integers(-2, 100) | st.text(max_size=5)
                           | st.lists(st.integers(-1, 5000) | st.just("12:00"), max_size=4),
                           max_size=4)
         | st.sampled_from(["progressive:1.5", "ratio:0", "ratio:x",
                            {"at": [0, 60], "live": [0.3, 0.1]},
                            {"at": ["08:00"], "count": [2]},
                            {"at": [0], "new_contacts_per_hour": [100]},
                            [{"at": 30, "action": "pause", "campaign": "sales"},
                             {"at": 60, "action": "logoff", "group": "team", "agents": 2}]]))
_WHERE = [("campaigns", 0, "profile"), ("campaigns", 1, "profile"), ("agents", 0, "profile"),
          ("timeline",), ("campaigns", 0, "contacts"), ("campaigns", 0, "strategy"),
          ("campaigns", 0, "rules"), ("campaigns", 0, "schedule"), ("campaigns", 0, "pacing"),
          ("campaigns", 0, "talk"), ("scenario", "start"), ("agents", 0, "skills"),
          ("campaigns",), ("agents",), ("dnc",), ("targets",)]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_structurally_mutated_scenarios_are_refused_clearly_or_run(data):
    raw = copy.deepcopy(TINY)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        *path, last = data.draw(st.sampled_from(_WHERE), label="where")
        node = raw
        for k in path:
            node = node[k] if (isinstance(node, dict) and k in node) or (
                isinstance(node, list) and isinstance(k, int) and k < len(node)) else None
            if node is None:
                break
        if isinstance(node, dict) or (isinstance(node, list) and isinstance(last, int)
                                      and last < len(node)):
            node[last] = data.draw(_JUNK, label="value")
    _run(raw)

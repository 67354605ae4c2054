"""docs/scenarios.md against the scenario loader: every key, default and range.

The accepted keys come from the loader itself, never from a list kept here: the field specs
of ``sim.scenario`` (``_SECTIONS``, ``_AGENTS``, ``_CAMPAIGN``, ...), the dataclasses the
loader builds (``RuleConfig``, ``Strategy``'s ``Step``, ``AgentGroup``, ``InboundSkill``),
``sim.targets``' KPIs, and, for the tables the loader checks inline (top-level sections,
``[dnc]``, profiles, ``[[timeline]]``, ``[campaigns.strategy]``), the "expected one of ..."
list the loader prints when a probe scenario carries an unknown key. Adding a key to the
loader without documenting it (or documenting one it refuses) fails here.

Each key table of the doc sits under a heading naming its TOML table in backticks
(``### `[campaigns.amd]` ...``) and has the columns ``key | unit | default | range |
meaning / source``; for the loader's field specs the default and the range cells are read
and compared with the spec (``a..b`` closed, ``> a`` open, a lower bound alone meaning the
key takes ``inf``; backticked choices for a text key).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import sim.scenario as s
from engine.rules import RuleConfig
from engine.strategy import Retry, Step, Strategy
from sim.inbound_config import InboundSkill
from sim.profiles import ACTIONS
from sim.targets import PER_CHANNEL, TARGET_KPIS

DOC = Path(__file__).resolve().parent.parent / "docs" / "scenarios.md"
_NAME = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")
_TAG = re.compile(r"`(\[\[?[a-z_.]+\]\]?)`")


# --------------------------------------------------------------------------- the doc


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def doc_tables(text: str) -> dict[str, list[dict[str, str]]]:
    """Every key table (first header cell ``key`` or ``keys``) under each TOML table named
    in backticks in the heading above it."""
    out: dict[str, list[dict[str, str]]] = {}
    tags: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            tags = _TAG.findall(line)
        elif line.startswith("| key"):
            header = _cells(line)
            i += 2  # the header and its |---| line
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(dict(zip(header, _cells(lines[i]), strict=True)))
                i += 1
            assert tags, f"docs/scenarios.md: a key table without a [table] heading: {line}"
            for t in tags:
                out.setdefault(t, []).extend(rows)
            continue
        i += 1
    return out


def row_keys(row: Mapping[str, str]) -> list[str]:
    return _NAME.findall(row.get("key", row.get("keys", "")))


# --------------------------------------------------------------------------- the loader

_BASE: dict[str, Any] = {
    "scenario": {"name": "probe"},
    "telephony": {"ports": 10},
    "agents": [{"group": "g", "count": 2, "skills": ["s"]}],
    "inbound": [{"skill": "in", "calls_per_hour": 1.0}],
    "campaigns": [{"name": "c", "skill": "s"}],
}
_PROBE = "zz_probe"
_EXPECTED = re.compile(r"unknown (?:key|section)[^;]*; expected (?:one of )?(.+)$")


def _loader_expects(patch) -> set[str]:
    """The keys the loader lists when the probe scenario, changed by ``patch``, carries an
    unknown key ``zz_probe``."""
    raw = copy.deepcopy(_BASE)
    patch(raw)
    with pytest.raises(s.ScenarioError) as exc:
        s.build(raw)
    found = [m.group(1) for p in exc.value.problems
             if _PROBE in p and (m := _EXPECTED.search(p))]
    assert len(found) == 1, f"the probe found {exc.value.problems}"
    return {k.strip() for k in found[0].split(",")}


def _set(path: tuple, value: Any):
    def patch(raw: dict) -> None:
        d = raw
        for p in path[:-1]:
            d = d[p]
        d[path[-1]] = value
    return patch


def _fields(cls) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls) if not f.name.startswith("_")}


def loader_tables() -> dict[str, tuple[set[str], Mapping[str, Any]]]:
    """TOML table -> (the keys the loader accepts there, the defaults it knows: a field
    spec ``_F`` or a dataclass field per key)."""
    out: dict[str, tuple[set[str], Mapping[str, Any]]] = {}
    for name, spec in s._SECTIONS.items():
        out[f"[{name}]"] = (set(spec), spec)
    rules = _fields(RuleConfig)
    assert set(rules) == set(s._RULE_KEYS)
    out["[rules]"] = out["[campaigns.rules]"] = (set(rules), rules)
    out["[dnc]"] = (_loader_expects(_set(("dnc",), {_PROBE: 1})), {})
    groups = _fields(s.AgentGroup)
    assert set(s._AGENTS) <= set(groups)
    out["[[agents]]"] = (set(groups), s._AGENTS)
    inbound = {("skill" if k == "name" else k) for k in _fields(InboundSkill)}
    assert set(s._INBOUND) <= inbound
    out["[[inbound]]"] = (inbound, s._INBOUND)
    out["[[campaigns]]"] = (set(s._CAMPAIGN), s._CAMPAIGN)
    for name, spec in s._CAMPAIGN_TABLES.items():
        out[f"[campaigns.{name}]"] = (set(spec), spec)
    out["[campaigns.contacts]"] = (set(s._CONTACTS), s._CONTACTS)
    out["[campaigns.schedule]"] = (set(s._SCHEDULE), s._SCHEDULE)
    out["[campaigns.blending]"] = (set(s._BLENDING), s._BLENDING)
    out["[campaigns.skill_pacing]"] = (set(s._SKILL_PACING), s._SKILL_PACING)
    step = {"steps": [{"channel": "voice", "address": "phone"}], _PROBE: 1}
    strategy = _loader_expects(_set(("campaigns", 0, "strategy"), step))
    assert strategy == set(_fields(Strategy))
    out["[campaigns.strategy]"] = (strategy, _fields(Strategy))
    out["[[campaigns.strategy.steps]]"] = (set(_fields(Step)), _fields(Step))
    out["[campaigns.profile]"] = (_loader_expects(_set(
        ("campaigns", 0, "profile"), {"at": [0], "live": [0.3], _PROBE: [1]})), {})
    out["[agents.profile]"] = (_loader_expects(_set(
        ("agents", 0, "profile"), {"at": [0], "count": [1], _PROBE: [1]})), {})
    out["[inbound.profile]"] = (_loader_expects(_set(
        ("inbound", 0, "profile"), {"at": [0], "calls_per_hour": [1], _PROBE: [1]})), {})
    timeline: set[str] = set()
    for act in ACTIONS:
        timeline |= _loader_expects(_set(("timeline",), [{"at": 0, "action": act,
                                                          _PROBE: 1}]))
    out["[[timeline]]"] = (timeline, {})
    out["[targets]"] = ({f"{side}_{k}" for k in (*TARGET_KPIS, PER_CHANNEL)
                         for side in ("min", "max")
                         if not (side == "max" and k == PER_CHANNEL)}, {})
    return out


@pytest.fixture(scope="module")
def doc() -> dict[str, list[dict[str, str]]]:
    return doc_tables(DOC.read_text())


@pytest.fixture(scope="module")
def loader() -> dict[str, tuple[set[str], Mapping[str, Any]]]:
    return loader_tables()


# --------------------------------------------------------------------------- keys


def test_the_probe_scenario_is_valid():
    assert s.build(copy.deepcopy(_BASE)).campaigns[0].name == "c"


def test_every_section_and_campaign_table_has_its_doc_table(doc, loader):
    sections = _loader_expects(_set((_PROBE,), 1))
    # every top-level section, [name] or [[name]], and every table a campaign takes
    for name in sections:
        assert f"[{name}]" in doc or f"[[{name}]]" in doc, f"no doc table for [{name}]"
    subtables = (*s._CAMPAIGN_TABLES, *s._ENGINE_TABLES, *s._BLEND_TABLES, "profile")
    for name in subtables:
        assert f"[campaigns.{name}]" in doc, f"no doc table for [campaigns.{name}]"
    unknown = set(doc) - set(loader)
    assert not unknown, f"docs/scenarios.md documents tables the loader lacks: {unknown}"


def test_every_accepted_key_is_documented_and_no_other(doc, loader):
    problems = []
    for table, (accepted, _) in loader.items():
        documented = [k for row in doc.get(table, []) for k in row_keys(row)]
        missing = sorted(accepted - set(documented))
        extra = sorted(set(documented) - accepted)
        twice = sorted({k for k in documented if documented.count(k) > 1})
        if missing:
            problems.append(f"{table}: accepted, not documented: {missing}")
        if extra:
            problems.append(f"{table}: documented, refused by the loader: {extra}")
        if twice:
            problems.append(f"{table}: documented twice: {twice}")
    assert not problems, "docs/scenarios.md:\n" + "\n".join(problems)


def test_every_key_row_gives_a_unit(doc):
    empty = [(t, row_keys(r)) for t, rows in doc.items() if t != "[targets]" for r in rows
             if not r.get("unit")]
    assert not empty, f"rows without a unit: {empty}"


# --------------------------------------------------------------------------- values

_NUM = r"-?[\d,]+(?:\.\d+)?(?:[/^]\d+)?"
_REQ = object()
_TEXT = object()


def _number(t: str) -> float:
    t = t.replace(",", "")
    if "^" in t:
        a, b = t.split("^")
        return float(int(a) ** int(b))
    if "/" in t:
        a, b = t.split("/")
        return float(a) / float(b)
    return float(t)


def _is_spec(f: Any) -> bool:
    return isinstance(f, s._F)


def parse_range(cell: str) -> tuple[float, bool, float] | None:
    """``(lo, lo_open, hi)`` of a range cell, or None when it states no number range."""
    head = re.split(r" \(|;|, after", cell)[0].strip()
    if m := re.fullmatch(rf"({_NUM})\.\.({_NUM})", head):
        return _number(m.group(1)), False, _number(m.group(2))
    if m := re.fullmatch(rf"(>=?) ({_NUM})(?:, <= ({_NUM}))?", head):
        hi = _number(m.group(3)) if m.group(3) else math.inf
        return _number(m.group(2)), m.group(1) == ">", hi
    return None


def parse_default(cell: str) -> Any:
    c = cell.strip()
    if c.startswith("required"):
        return _REQ
    if c.startswith(("never", "infinite")):
        return math.inf
    if c in ("true", "false"):
        return c == "true"
    if m := re.match(r'`"(.*?)"`', c):
        return m.group(1)
    if m := re.match(rf"({_NUM})(?:\s|$)", c):
        return _number(m.group(1))
    return _TEXT


def test_parsers():
    assert parse_range("> 0, <= 86,400 (a day or more is no window)") == (0, True, 86400)
    assert parse_range("1/3600..168") == (1 / 3600, False, 168)
    assert parse_range(">= 0 (inf: never), after `login_s`") == (0, False, math.inf)
    assert parse_range("0..2^62") == (0, False, 2.0 ** 62)
    assert parse_range("-1..1,000,000") == (-1, False, 1e6)
    assert parse_range("`fcc`, `ofcom`") is None
    assert parse_default("259200 (72 h)") == 259200 and parse_default("never") == math.inf
    assert parse_default('`"fcc"`') == "fcc" and parse_default("0.03") == 0.03
    assert parse_default("talk 200, wrap 25") is _TEXT


def _defaults(table: str, key: str, f: Any, cell: str) -> list[tuple[Any, str]]:
    """(the loader's default, the documented cell) pairs to compare for one row; a
    dataclass field without a default is required, one with a factory is not compared."""
    if table in ("[campaigns.talk]", "[campaigns.wrap]"):
        m = re.fullmatch(r"talk (.+), wrap (.+)", cell)
        cells = (m.group(1), m.group(2)) if m else (cell, cell)
        return [(s._DIST_DEFAULTS[w].get(key, f.default), c)
                for w, c in zip(("talk", "wrap"), cells, strict=True)]
    if isinstance(f, dataclasses.Field):
        if f.default is dataclasses.MISSING:
            return [] if f.default_factory is not dataclasses.MISSING else [(s._REQUIRED, cell)]
    return [(f.default, cell)]


def test_documented_defaults_are_the_loaders(doc, loader):
    problems = []
    for table, (_, specs) in loader.items():
        for row in doc.get(table, []):
            for key in row_keys(row):
                f = specs.get(key)
                if f is None:
                    continue
                for want, cell in _defaults(table, key, f, row["default"]):
                    got = parse_default(cell)
                    if want is s._REQUIRED:
                        ok = got is _REQ
                    elif isinstance(want, bool):
                        ok = got is want
                    elif isinstance(want, int | float):
                        ok = isinstance(got, float) and math.isclose(got, want)
                    elif isinstance(want, str) and want:
                        ok = got == want
                    elif want is None:
                        ok = got is _TEXT  # "none", "all": what the loader does instead
                    else:  # "" and collections: the doc says what an empty value means
                        ok = got is not _REQ
                    if not ok:
                        problems.append(f"{table} {key}: documented default {cell!r}, the "
                                        f"loader's is {want!r}")
    assert not problems, "docs/scenarios.md:\n" + "\n".join(problems)


def test_documented_ranges_are_the_loaders(doc, loader):
    problems = []
    for table, (_, specs) in loader.items():
        for row in doc.get(table, []):
            for key in row_keys(row):
                f = specs.get(key)
                if not _is_spec(f):
                    continue
                cell = row["range"]
                if f.choices is not None:
                    got = set(_NAME.findall(cell.replace("-", "_")))
                    want = {c.replace("-", "_") for c in f.choices}
                    if got != want:
                        problems.append(f"{table} {key}: documented {sorted(got)}, the loader "
                                        f"takes {sorted(want)}")
                    continue
                if f.lo is None:
                    continue
                got = parse_range(cell)
                want = (float(f.lo), f.lo_open, float(f.hi))
                if got is None or not (math.isclose(got[0], want[0]) and got[1] == want[1]
                                       and (got[2] == want[2] or math.isclose(got[2],
                                                                              want[2]))):
                    problems.append(f"{table} {key}: documented range {cell!r}, the loader's "
                                    f"is {'>' if f.lo_open else '>='} {f.lo:g}, <= {f.hi:g}")
    assert not problems, "docs/scenarios.md:\n" + "\n".join(problems)


def test_retry_keys_are_documented(doc):
    steps = {k: r for r in doc["[[campaigns.strategy.steps]]"] for k in row_keys(r)}
    for k in _fields(Retry):
        assert k in steps["retries"]["range"], f"retries: {k} is not documented"


def test_the_loaders_limits_across_keys_are_the_documented_ones():
    from engine.filters import MAX_SORT_KEYS
    from sim.day import ARRIVAL_STEP_S, LINEAR_STEP_S
    from sim.profiles import MAX_POINTS

    text = " ".join(DOC.read_text().split())  # line breaks as spaces
    said = {
        "jobs": f"more than {s.MAX_CAMPAIGNS:,} jobs",
        "intervals x jobs": f"more than {s.MAX_INTERVAL_CELLS:,} intervals x jobs",
        "timed attempts": f"more than {s.MAX_TIMED_ATTEMPTS:,} attempts",
        "nesting": f"nested deeper than {s.MAX_DEPTH} levels",
        "file size": f"over {s.MAX_FILE_BYTES // 2**20} MiB",
        "profile points": f"at most {MAX_POINTS:,} points",
        "sort keys": f"up to {MAX_SORT_KEYS} keys",
        "contacts made": f"more than {s.MAX_MADE_CONTACTS:,} contacts made in memory",
        "strategy steps": f"more than {s.MAX_STEPS} steps",
        "contact columns": f"more than {s.MAX_LIST_COLUMNS:,} columns",
        "names": f"more than {s.MAX_NAME} characters",
        "text": f"text over {s.MAX_TEXT:,} characters",
    }
    missing = [k for k, phrase in said.items() if phrase not in text]
    assert not missing, f"docs/scenarios.md does not state the loader's limits: {missing}"
    assert LINEAR_STEP_S == ARRIVAL_STEP_S == 60.0  # the doc's "one-minute steps"
    assert "one-minute steps" in text and "a minute's worth at a time" in text

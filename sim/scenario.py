"""Scenario files: TOML in, validated frozen objects out, before any SimPy object exists.

Units are in the key names (``talk.mean_s``, ``attempts_per_hour``). Every problem found is
reported at once as ``file: key.path: expected ..., got ...`` (``ScenarioError``), never as a
traceback. A ``[[campaigns]]`` entry with ``copies = N`` stands for N identical jobs
(``name-001`` ...), which is how the 200-job reference scenario stays readable.
"""

from __future__ import annotations

import copy
import difflib
import io
import math
import re
import reprlib
import sys
import tomllib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.blending import BlendSetting
from engine.contacts import (
    ContactListError,
    ListSpec,
    load_contacts,
    utf8_text,
    with_problems,
    zone,
)
from engine.director import JobPlan
from engine.dnc import DncList
from engine.filters import FilterError, validate_selection
from engine.flow import strategy_columns
from engine.rules import RuleConfig, RuleConfigError
from engine.skill_pacing import SkillPacing
from engine.staffing import AGENT_PLACED, LICENSE_TYPES, POOL_KEYS, POOL_OF_PACING
from engine.strategy import Strategy, StrategyError
from engine.vocab import (
    CHANNEL_NAMES,
    PACING_BY_NAME,
    PACINGS,
    TARGETS,
    Code,
    parse_pacing,
    step_channel,
)
from pacer.constants import (
    DEFAULT_ABANDON_LIMIT,
    DEFAULT_CONNECT_WINDOW_S,
    DEFAULT_INITIAL_HIT_RATE,
    DEFAULT_MAX_LINES_PER_AGENT,
    DEFAULT_RING_NO_ANSWER_S,
    DEFAULT_TICK_S,
    LICENSE_MAX_PRIORITY,
    MIN_RING_NO_ANSWER_S,
    VICIDIAL_DROPPED_PERCENTAGE,
    VICIDIAL_MAX_LEVEL,
)
from pacer.modes import LicenseKind
from sim.distributions import (
    Deterministic,
    Distribution,
    Empirical,
    Exponential,
    Gamma,
    Lognormal,
)
from sim.inbound_config import InboundSkill
from sim.profiles import CAMPAIGN_KEYS, Action, Profile, parse_profile, parse_timeline
from sim.targets import TargetSpec, parse_targets
from sim.toml_lines import with_lines

CHANNELS = CHANNEL_NAMES  # one vocabulary: engine.vocab spells every enum
# Monday 10:00 US Eastern: inside the default 08:00-21:00 calling windows of every US zone.
DEFAULT_START = "2026-11-23T15:00:00+00:00"
STRATEGY_CHANNEL = {name: step_channel(c) for c, name in enumerate(CHANNEL_NAMES)}
DEFAULT_ADDRESS = {"voice": "phone", "sms": "phone", "email": "email"}
REGULATIONS = ("fcc", "ofcom")
DISTS = ("exponential", "lognormal", "gamma", "deterministic", "empirical")


class ScenarioError(ValueError):
    """A scenario is invalid; ``problems`` lists every ``key.path: what was expected``."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {source}: {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"{len(problems)} {noun} in {source}:\n{lines}")


# --------------------------------------------------------------------------- field specs

_REQUIRED = object()

# Upper bounds: what a run can hold in memory and time on one machine, and the ranges the
# models are meant for. Each carries its reason, printed with the bound.
MAX_SIM_HOURS = 168.0  # a week of simulated time
MIN_SIM_HOURS = 1.0 / 3600.0  # one second: the measured window every rate divides by
MAX_WARMUP_S = 86_400.0
MAX_INTERVAL_CELLS = 20_000_000  # intervals x campaigns of the per-interval table
MAX_AGENTS = 100_000
MAX_CAMPAIGNS = 10_000
MAX_PORTS = 1_000_000
MAX_RECORDS = 50_000_000
# Contacts a run makes before or while it runs (synthetic ``records`` lists, copies included,
# and the contacts a profile's arrivals add): each is held in memory, about 400 bytes with
# its flow state (measured: 3,000,000 records took 1.3 GB where 100,000 took 0.26 GB).
MAX_MADE_CONTACTS = 5_000_000
_MADE = ("each is held in memory, about 400 bytes, so a larger list would not fit; a run "
         "reads only the contacts it dials: records = 0 makes them as it needs them")
MAX_REPLICATIONS = 10_000
MAX_INBOUND_PER_HOUR = 1_000_000.0  # calls offered to one inbound skill
MAX_TIMED_ATTEMPTS = 20_000_000  # paced attempts a run would make (a record each in memory)
MAX_DEPTH = 32  # nesting of TOML tables and arrays
MAX_FILE_BYTES = 16 * 1024 * 1024  # a scenario file (contact lists live in their own files)
MIN_START_YEAR, MAX_START_YEAR = 1970, 2200
_MEM = "a larger value would not fit in memory"
_ENDED = "the longest run ends by then"
_RUN_END_S = MAX_WARMUP_S + MAX_SIM_HOURS * 3600
_TIME = "longer runs belong in several runs"
_DAY = "a longer span is outside what the model describes"
_HOUR = "longer is outside what the model describes"
_CALLS = ("more than any contact centre's skill is offered; each call is simulated, so a run "
          "takes time in proportion")


@dataclass(frozen=True)
class _F:
    """One key: its type, default, bounds (with unit and reason) and choices.

    Numbers must be finite unless ``inf_ok`` (an infinite default means "never").
    """

    kind: type | tuple[type, ...]
    default: Any = _REQUIRED
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    choices: tuple[str, ...] | None = None
    doc: str = ""
    unit: str = ""
    why: str = ""
    inf_ok: bool = False
    lo_why: str = ""  # the reason for ``lo`` when it is not the obvious zero
    name: bool = False  # a name (of a job, group, skill): short, one line of printable text


def _num(default: Any = _REQUIRED, lo: float | None = None, hi: float | None = None,
         lo_open: bool = False, doc: str = "", unit: str = "", why: str = "",
         inf_ok: bool = False, lo_why: str = "") -> _F:
    return _F((int, float), default, lo, hi, lo_open, None, doc, unit, why, inf_ok, lo_why)


def _int(default: Any = _REQUIRED, lo: float | None = None, hi: float | None = None,
         doc: str = "", unit: str = "", why: str = "") -> _F:
    return _F(int, default, lo, hi, False, None, doc, unit, why)


def _str(default: Any = _REQUIRED, choices: tuple[str, ...] | None = None) -> _F:
    return _F(str, default, choices=choices)


def _name(default: Any = _REQUIRED) -> _F:
    return _F(str, default, name=True)


MAX_STEPS = 64  # steps of one contact strategy
_STEPS_WHY = ("a strategy tries a few addresses and channels in turn, and every decision on "
              "a contact reads its steps: 1,000 made the 60k hour take 30 times as long")
MAX_LIST_COLUMNS = 2000  # columns of a contact file
_COLUMNS_WHY = ("each column is typed one by one as the list loads, in time growing with the "
                "square of their number: 20,000 took 40 s; keep the ones the campaign reads")
MAX_TEXT = 4096  # characters of any text value (a file path at most PATH_MAX)
MAX_NAME = 100  # characters of a name: it is in every table, message, event and contact id
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _secs(default: Any = _REQUIRED, lo: float = 0.0, hi: float = 3600.0, why: str = _HOUR,
          lo_open: bool = False, doc: str = "", inf_ok: bool = False, lo_why: str = "") -> _F:
    return _num(default, lo, hi, lo_open, doc, "s", why, inf_ok, lo_why)


def _frac(default: Any = _REQUIRED, doc: str = "") -> _F:
    return _num(default, 0.0, 1.0, doc=doc, why="a fraction 0..1: 3 % is 0.03")


_SCENARIO = {
    "name": _name(),
    "description": _str(""),
    "sim_hours": _num(1.0, lo=MIN_SIM_HOURS, hi=MAX_SIM_HOURS, unit="h", why=_TIME,
                      doc="measured hours, after the warm-up",
                      lo_why=" (one second: a shorter window measures nothing)"),
    "warmup_s": _secs(300.0, hi=MAX_WARMUP_S, why=_TIME),
    "tick_s": _secs(DEFAULT_TICK_S, lo=0.01, hi=10.0,
                    why="the pacer decides at least every 10 s"),
    "interval_s": _secs(60.0, lo=1.0, hi=86_400.0, why="one interval per day at most"),
    "seed": _int(1, lo=0, hi=2**62, why="seeds are 63-bit"),
    "replications": _int(1, lo=1, hi=MAX_REPLICATIONS, why=_TIME),
    "start": _str(DEFAULT_START),  # wall-clock start of the run, ISO 8601 with offset
}
_REGULATION = {
    "mode": _str("fcc", REGULATIONS),
    "abandon_limit": _frac(DEFAULT_ABANDON_LIMIT),
    "connect_window_s": _secs(DEFAULT_CONNECT_WINDOW_S, lo_open=True, hi=86_400.0,
                              why="regulators allow 2 s; a day or more is no window at all"),
    "window_s": _secs(0.0, hi=366 * 86_400.0, why="a regulatory window is at most a year",
                      doc="span the abandon rate is judged over (0 = the regulator's: "
                          "30 days under the FCC/TSR, 24 h under Ofcom)"),
}
_TELEPHONY = {
    "ports": _int(_REQUIRED, lo=1, hi=MAX_PORTS, doc="EPM telephony ports (MPP capacity)",
                  unit="ports", why=_MEM),
    "carrier_cps": _num(1000.0, lo=0.0, lo_open=True, hi=1_000_000.0, unit="per s",
                        why="no carrier sets up more calls", doc="call setups per second",
                        lo_why="(at 0 the carrier would set up no call)"),
}
_LICENSES = {
    "mode": _str("reserved", ("reserved", "dynamic")),
    "predictive_agents": _int(100000, lo=0, hi=MAX_AGENTS, unit="licenses", why=_MEM),
    "progressive_agents": _int(100000, lo=0, hi=MAX_AGENTS, unit="licenses", why=_MEM),
    "preview_agents": _int(100000, lo=0, hi=MAX_AGENTS, unit="licenses", why=_MEM),
    "manual_agents": _int(100000, lo=0, hi=MAX_AGENTS, unit="licenses", why=_MEM),
    "outbound_ports": _int(-1, lo=-1, hi=MAX_AGENTS * 10,
                           doc="port pool of notification jobs; -1 = none"),
}
_AGENTS = {
    "group": _name(),
    "count": _int(_REQUIRED, lo=0, hi=MAX_AGENTS, unit="agents", why=_MEM),
    "skills": _F(list, _REQUIRED),
    "login_s": _secs(0.0, hi=_RUN_END_S, why=_ENDED),
    "logout_s": _secs(math.inf, hi=math.inf, inf_ok=True),
    "aux_probability": _frac(0.0, doc="chance of an aux break after a call"),
    "aux_mean_s": _secs(300.0, hi=86_400.0, why=_DAY,
                        doc="mean aux break, exponential (0: a break ends as it starts)"),
    "direction": _str("outbound", ("outbound", "inbound")),
}
_INBOUND = {
    "skill": _name(),
    "calls_per_hour": _num(_REQUIRED, lo=0.0, hi=MAX_INBOUND_PER_HOUR, unit="calls per hour",
                           why=_CALLS),
    "sl_threshold_s": _secs(20.0),
    "sl_window_s": _secs(300.0, lo=1.0, hi=86_400.0, why=_DAY,
                         doc="span of the real-time service level"),
}
_INBOUND_DIST_DEFAULTS = {
    "talk": {"dist": "lognormal", "mean_s": 240.0, "cv": 1.0},
    "wrap": {"dist": "exponential", "mean_s": 30.0},
}


def _threshold_spec(name: str, default: Any) -> _F:
    """Bounds of a blending / skill-pacing threshold, by what its name says it counts."""
    if name.endswith("_s"):
        lo = 0.01 if name == "period_s" else 0.0
        return _secs(default, lo=lo, hi=86_400.0, why=_DAY)
    if name.startswith("sl_") or name == "slow_factor":
        return _frac(default)
    if isinstance(default, int):
        return _int(default, lo=1 if name == "step" else 0, hi=1_000_000, unit="agents"
                    if name in ("step", "min_outbound", "max_released") else "calls", why=_MEM)
    return _num(default, lo=0.0, hi=1_000_000.0, why=_MEM)


_BLENDING = {
    "enabled": _F(bool, True),
    "skill": _name(),
    **{f.name: _threshold_spec(f.name, f.default)
       for f in BlendSetting.__dataclass_fields__.values() if f.name != "skill"},
}
_SKILL_PACING = {
    "skill": _name(),
    **{f.name: _threshold_spec(f.name, f.default)
       for f in SkillPacing.__dataclass_fields__.values() if f.name != "skill"},
}
_BLEND_TABLES = ("blending", "skill_pacing")
_CAMPAIGN = {
    "name": _name(),
    "copies": _int(1, lo=1, hi=MAX_CAMPAIGNS, unit="jobs", why=_MEM),
    "channel": _str("voice_agent", CHANNELS),
    "pacing": _str("predictive", PACINGS),
    "skill": _name(""),
    "priority": _int(1, lo=1, hi=LICENSE_MAX_PRIORITY, why="the license arithmetic's range"),
    "license": _str("", tuple(LICENSE_TYPES)),
    "min_agents": _int(0, lo=0, hi=MAX_AGENTS, unit="agents", why=_MEM),
    "max_agents": _int(1000000, lo=0, hi=1000000, unit="agents", why=_MEM),
    "ratio": _num(1.0, lo=0.0, hi=100.0, unit="lines per agent", why="no dialer dials more"),
    "max_lines_per_agent": _num(DEFAULT_MAX_LINES_PER_AGENT, lo=1.0, hi=100.0,
                                unit="lines per agent", why="no dialer dials more"),
    "target": _str("abandon_rate", TARGETS),
    "target_value": _num(DEFAULT_ABANDON_LIMIT, lo=0.0, hi=3600.0,
                         why="a fraction, or seconds of agent wait up to an hour"),
    "sl_threshold_s": _secs(DEFAULT_CONNECT_WINDOW_S),
    "initial_hit_rate": _frac(DEFAULT_INITIAL_HIT_RATE),
    "horizon_s": _secs(0.0, doc="look-ahead; 0 = estimated mean time to answer"),
    "attempts_per_hour": _num(0.0, lo=0.0, hi=36_000_000.0, unit="per hour", why=_MEM),
    "arrivals": _str("paced", ("paced", "poisson")),
    "min_ports": _int(0, lo=0, hi=MAX_PORTS, unit="ports", why=_MEM),
    "max_ports": _int(1000000, lo=0, hi=MAX_PORTS, unit="ports", why=_MEM),
    "records": _int(0, lo=0, hi=MAX_MADE_CONTACTS, unit="contacts", why=_MADE,
                    doc="contact records; 0 = unlimited"),
    "vicidial_intensity": _num(0.0, lo=-100.0, hi=100.0, unit="%", why="VICIdial's range"),
    "vicidial_dl_diff_target": _num(0.0, lo=-1000.0, hi=1000.0, unit="agents",
                                    why="VICIdial's range"),
    "vicidial_max_level": _num(VICIDIAL_MAX_LEVEL, lo=1.0, hi=100.0, unit="lines per agent",
                               why="no dialer dials more"),
    "vicidial_dropped_percentage": _num(VICIDIAL_DROPPED_PERCENTAGE, lo=0.0, hi=100.0,
                                        unit="%", why="a percentage"),
    "vicidial_start_hhmm": _int(900, lo=0, hi=2359, unit="HHMM", why="a time of day"),
    "vicidial_latest_hhmm": _int(2100, lo=0, hi=2359, unit="HHMM", why="a time of day"),
}
_OUTCOMES = {
    "live": _frac(0.30),
    "machine": _frac(0.25),
    "busy": _frac(0.08),
    "no_answer": _frac(0.32),
    "invalid": _frac(0.05),
    "ring_median_s": _secs(9.5, lo_open=True, hi=600.0,
                           lo_why="(the median of a log-normal ringing time)"),
    "ring_sigma": _num(0.55, lo=0.0, lo_open=True, hi=5.0, why="a log-normal shape",
                       lo_why="(a log-normal shape; give a small value for a near-constant "
                              "ringing time)"),
    "ring_no_answer_s": _secs(DEFAULT_RING_NO_ANSWER_S, lo=MIN_RING_NO_ANSWER_S, hi=600.0),
    "busy_signal_s": _secs(4.0, hi=600.0),
    "invalid_s": _secs(2.0, hi=600.0),
    "machine_message_s": _secs(0.0, doc="hold time of a message left on a machine"),
}
_AMD = {
    "enabled": _F(bool, False),
    "delay_s": _secs(2.5, hi=60.0),
    "accuracy": _frac(0.9),
    "errors_on_humans": _frac(0.25),
    "machine_talk_s": _secs(8.0, hi=3600.0),
}
_CUSTOMER = {"patience_mean_s": _num(
    math.inf, lo=0.0, lo_open=True, hi=math.inf, unit="s", inf_ok=True,
    lo_why="(0 s: every answered person would hang up before an agent is connected, and the "
           "pacer models hang-ups at the rate 1 / patience; leave the key out for people who "
           "wait)")}
_SHAPED = ("exponential", "lognormal", "gamma")  # families given by mean_s (and cv)
_DIST = {
    "dist": _str("exponential", DISTS),
    "mean_s": _secs(_REQUIRED, hi=86_400.0, why=_DAY),
    "cv": _num(1.0, lo=0.0, lo_open=True, hi=20.0, why="a coefficient of variation",
               lo_why='(a lognormal or gamma of cv 0 is a constant: use dist = "deterministic")'),
    "file": _str(""),
    "column": _str(""),
}
_MESSAGE = {
    "length_s": _secs(30.0),
    "delivery": _frac(0.97),
    "latency_s": _secs(1.0, hi=86_400.0, why=_DAY),
}

_SECTIONS = {
    "scenario": _SCENARIO,
    "regulation": _REGULATION,
    "telephony": _TELEPHONY,
    "licenses": _LICENSES,
}
_CAMPAIGN_TABLES = {
    "outcomes": _OUTCOMES,
    "amd": _AMD,
    "customer": _CUSTOMER,
    "talk": _DIST,
    "wrap": _DIST,
    "message": _MESSAGE,
}
_CONTACTS = {
    "file": _str(""),
    "id": _str("id"),
    "addresses": _F(dict, None),
    "timezone": _str("timezone"),
    "default_timezone": _str(""),
    "default_country_code": _str(""),
    "attribute_types": _F(dict, None),
    "filter": _str(""),
    "sort": _F(list, None),
    "on_error": _str("skip", ("skip", "reject")),
    "timezones": _F(dict, None),
    "dnc_files": _F(list, None),
}
_SCHEDULE = {
    "start_s": _secs(0.0, hi=_RUN_END_S, why=_ENDED,
                     doc="run-clock seconds from the run start"),
    "end_s": _secs(math.inf, lo_open=True, hi=math.inf, inf_ok=True),
    "finish_when_exhausted": _F(bool, True),
    "finish_after_successes": _int(0, lo=0, hi=MAX_RECORDS, unit="successes", why=_MEM,
                                   doc="0 = no such criterion"),
}
_DIST_DEFAULTS = {
    "talk": {"dist": "lognormal", "mean_s": 200.0, "cv": 1.0},
    "wrap": {"dist": "exponential", "mean_s": 25.0},
}


# --------------------------------------------------------------------------- plain objects


# The regulators' windows: the FTC Telemarketing Sales Rule (16 CFR 310.4(b)(4)(i)), as the
# FCC's 47 CFR 64.1200(a)(7), counts abandons per campaign over each 30-day period; Ofcom's
# persistent-misuse statement over each 24 hours.
REGULATORY_WINDOW_S = {"fcc": 30 * 86_400.0, "ofcom": 86_400.0}


@dataclass(frozen=True)
class Regulation:
    mode: str
    abandon_limit: float
    connect_window_s: float
    window_s: float = 0.0  # 0 = the regulator's (REGULATORY_WINDOW_S)

    @property
    def judged_window_s(self) -> float:
        """The span the abandon rate is judged over, seconds."""
        return self.window_s if self.window_s > 0 else REGULATORY_WINDOW_S[self.mode]


@dataclass(frozen=True)
class Outcomes:
    """PSTN outcome model of one campaign: probabilities (sum 1) and times in seconds."""

    live: float
    machine: float
    busy: float
    no_answer: float
    invalid: float
    ring_median_s: float
    ring_sigma: float
    ring_no_answer_s: float
    busy_signal_s: float
    invalid_s: float
    machine_message_s: float

    @property
    def ring(self) -> Lognormal:
        """Ring time to answer of answered calls (live and machine), untruncated."""
        return Lognormal.from_median(self.ring_median_s, self.ring_sigma)


@dataclass(frozen=True)
class Amd:
    enabled: bool
    delay_s: float
    accuracy: float
    errors_on_humans: float
    machine_talk_s: float = 8.0  # an agent reached by a missed machine is held this long

    @property
    def p_false_positive(self) -> float:
        """P(a human is classified as a machine): errors times the share that fall on humans."""
        return (1.0 - self.accuracy) * self.errors_on_humans if self.enabled else 0.0

    @property
    def p_false_negative(self) -> float:
        """P(a machine is classified as a human)."""
        return (1.0 - self.accuracy) * (1.0 - self.errors_on_humans) if self.enabled else 1.0


@dataclass(frozen=True)
class Message:
    length_s: float
    delivery: float
    latency_s: float


@dataclass(frozen=True)
class ContactsConfig:
    """Where a campaign's contacts come from: a CSV / Parquet ``file`` (columns named by
    ``id``, ``addresses``, ``timezone``), or, without a file, a synthetic list of
    ``Campaign.records`` contacts (0: as many as the run needs) whose time zones follow
    the ``timezones`` weights."""

    file: Path | None
    id: str
    addresses: dict[str, str]
    timezone: str | None
    default_timezone: str | None
    default_country_code: str | None
    attribute_types: dict[str, str]
    filter: str | None
    sort: tuple[str, ...]
    on_error: str
    timezones: tuple[tuple[str, float], ...]
    dnc_files: tuple[Path, ...]

    def list_spec(self) -> ListSpec:
        """The ``engine.contacts.ListSpec`` of the list (a synthetic list has the columns
        ``id``, the address columns and ``timezone``).

        Raises:
            ValueError: when the columns contradict each other (``ListSpec``'s checks).
        """
        return ListSpec(addresses=self.addresses, id=self.id,
                        timezone=self.timezone if self.file is not None else "timezone",
                        default_timezone=self.default_timezone,
                        default_country_code=self.default_country_code,
                        attribute_types=self.attribute_types)


@dataclass(frozen=True)
class Campaign:
    """One job of the scenario (after ``copies`` expansion)."""

    name: str
    template: str
    channel: str
    pacing: str
    skill: str
    priority: int
    min_agents: int
    max_agents: int
    ratio: float
    max_lines_per_agent: float
    target: str
    target_value: float
    sl_threshold_s: float
    initial_hit_rate: float
    horizon_s: float
    attempts_per_hour: float
    arrivals: str
    min_ports: int
    max_ports: int
    records: int
    vicidial_intensity: float
    vicidial_dl_diff_target: float
    vicidial_max_level: float
    vicidial_dropped_percentage: float
    vicidial_start_hhmm: int
    vicidial_latest_hhmm: int
    outcomes: Outcomes
    amd: Amd
    patience_mean_s: float
    talk: Distribution
    wrap: Distribution
    message: Message
    contacts: ContactsConfig | None = None
    strategy: Strategy | None = None
    rules: RuleConfig | None = None
    schedule: JobPlan = field(default_factory=JobPlan)
    blending: BlendSetting | None = None
    skill_pacing: SkillPacing | None = None
    license: str = ""  # agent license type (engine.staffing.LICENSE_TYPES); "": by pacing
    profile: dict[str, Profile] = field(default_factory=dict)  # sim.profiles.CAMPAIGN_KEYS
    # its own ``[campaigns.regulation]`` over the scenario's (None: the scenario's; read it
    # through ``Scenario.regulation_of``)
    regulation: Regulation | None = None

    @property
    def agent_based(self) -> bool:
        return self.channel == "voice_agent"

    @property
    def license_pool(self) -> str:
        """The ``[licenses]`` pool (``predictive_agents``...) an agent-based job draws from:
        its ``license`` type, else its pacing's (``engine.staffing.license_type``)."""
        kind = LICENSE_TYPES[self.license] if self.license else \
            POOL_OF_PACING.get(PACING_BY_NAME[self.pacing], LicenseKind.PREDICTIVE_AGENT)
        return next(k for k, v in POOL_KEYS.items() if v == kind)


@dataclass(frozen=True)
class AgentGroup:
    group: str
    count: int
    skills: tuple[str, ...]
    login_s: float
    logout_s: float
    aux_probability: float = 0.0
    aux_mean_s: float = 300.0
    profile: Profile | None = None  # agents logged in over the run (replaces the shift)
    direction: str = "outbound"


@dataclass(frozen=True)
class Scenario:
    """A validated scenario; ``raw`` keeps the parsed TOML for overrides and hashing."""

    name: str
    description: str
    source: str
    sim_hours: float
    warmup_s: float
    tick_s: float
    interval_s: float
    seed: int
    replications: int
    regulation: Regulation
    ports: int
    carrier_cps: float
    license_mode: str
    license_pools: dict[str, int]
    agents: tuple[AgentGroup, ...]
    campaigns: tuple[Campaign, ...]
    raw: dict = field(repr=False, compare=False, default_factory=dict)
    start: datetime = field(default_factory=lambda: datetime.fromisoformat(DEFAULT_START))
    dnc_files: tuple[Path, ...] = ()
    warnings: tuple[str, ...] = ()  # what validation found odd but runnable (skipped rows...)
    inbound: tuple[InboundSkill, ...] = ()
    port_pool: int | None = None
    timeline: tuple[Action, ...] = ()  # supervisor actions, in time order
    start_local: datetime | None = None  # ``start`` at the UTC offset it was written with

    @property
    def end_s(self) -> float:
        """The run's last second on the run clock: warm-up plus measured time."""
        return self.warmup_s + self.sim_s
    targets: tuple[TargetSpec, ...] = ()  # the [targets] table (sim.targets)

    @property
    def sim_s(self) -> float:
        return self.sim_hours * 3600.0

    @property
    def interval_origin_s(self) -> float:
        """Run-clock second (-interval_s < origin <= 0) the interval grid counts from: an
        interval boundary falls at the warm-up's end, so the measured window is whole
        intervals from its start (a warm-up of 300 s and intervals of 900 s: the first
        measured interval is 300-1200 s, not 900-1800 s with 300-900 s in no row)."""
        w = self.interval_s
        return self.warmup_s - math.ceil(self.warmup_s / w - 1e-9) * w

    @property
    def n_intervals(self) -> int:
        """Intervals of the grid (``interval_origin_s``) covering the run, warm-up included."""
        return max(1, math.ceil((self.end_s - self.interval_origin_s) / self.interval_s
                                - 1e-9))

    @property
    def total_agents(self) -> int:
        return sum(g.count for g in self.agents)

    def regulation_of(self, c: Campaign) -> Regulation:
        """The rule campaign ``c`` is held to: its own ``[campaigns.regulation]`` (merged
        over the scenario's ``[regulation]``), else the scenario's."""
        return c.regulation if c.regulation is not None else self.regulation

    @property
    def regulations(self) -> tuple[Regulation, ...]:
        """``regulation_of`` each campaign, in the campaigns' order."""
        return tuple(self.regulation_of(c) for c in self.campaigns)

    @property
    def dialer_agents(self) -> int:
        """Agents of the outbound groups: the dialer's (dedicated inbound desks are the
        ACD's, never staffed on a job nor holding a dialer license)."""
        return sum(g.count for g in self.agents if g.direction == "outbound")


# --------------------------------------------------------------------------- validation


_LIBRARY_HINTS = re.compile(r"The current offset in the file is \d+ bytes\.|You might want to "
                            r"try:.*?(?=Original error:|$)", re.S)
MAX_MESSAGE = 1000  # characters of one problem: a reader's line, not a library's dump


def _one_line(message: str) -> str:
    """A problem on one line: a library's multi-line error (polars' CSV errors list calls
    to try, meaningless to a scenario's author) reduced to what it found, the quoted text
    capped."""
    if "\n" not in message and len(message) <= MAX_MESSAGE:
        return message
    text = _LIBRARY_HINTS.sub(" ", message).replace("Original error:", "—").replace("```", "")
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 1] + "…"


class _Checker:
    def __init__(self, source: str, base_dir: Path | None):
        self.source = source
        self.base_dir = base_dir
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {_one_line(message)}")

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(f"{path}: {_one_line(message)}")

    def contact_list(self, ct: ContactsConfig, path: str) -> None:
        """Read the whole contact file as the run will, and check the filter and sort
        against its columns: a key column missing, an unreadable file or (``on_error =
        "reject"``) a bad row is a problem; skipped rows are a warning naming the first."""
        try:
            spec = ct.list_spec()
        except ValueError as e:
            self.problem(path, str(e))
            return
        schema: Mapping[str, Any]
        if ct.file is None:
            import polars as pl

            schema = {c: pl.String for c in spec.key_columns}
        else:
            try:
                lst = load_contacts(ct.file, spec, ct.on_error)
            except ContactListError as e:
                self.problem(f"{path}.file", with_problems(e.summary, e.problems, 3))
                return
            schema = lst.schema
            if lst.problems:
                rows = len({p.line for p in lst.problems})
                self.warn(f"{path}.file", with_problems(
                    f"{rows} of {rows + len(lst)} rows of {ct.file} skipped", lst.problems, 3))
            if not len(lst):
                self.warn(f"{path}.file", f"{ct.file} holds no valid contact: the campaign "
                          "will dial nothing")
        if ct.filter or ct.sort:
            try:
                validate_selection(schema, ct.filter, ct.sort)
            except FilterError as e:
                self.problem(f"{path}.filter" if ct.filter else f"{path}.sort",
                             "; ".join(e.errors))

    def dnc_list(self, p: Path, path: str) -> None:
        """Read a DNC file as the run will; unreadable is a problem, bad entries a warning."""
        try:
            if p.suffix.lower() not in (".parquet", ".pq") and p.is_file():
                utf8_text(p.read_bytes(), p)  # a Latin-1 list: the line and byte named
            dnc = DncList.from_file(p)
        except Exception as e:  # ContactListError, OSError...; polars raises several types
            # the list's own errors start with its path: said once
            self.problem(path, f"cannot read the DNC list {p}: "
                         + str(e).removeprefix(f"{p}: "))
            return
        if dnc.problems:
            n = len(dnc.problems)
            self.warn(path, f"{n} {'entry' if n == 1 else 'entries'} of {p} "
                      f"{'is' if n == 1 else 'are'} neither a phone number nor an e-mail "
                      f"address and {'is' if n == 1 else 'are'} ignored, e.g. "
                      f"{dnc.problems[0]}")
        if not len(dnc):
            self.warn(path, f"{p} holds no phone number or e-mail address: the list blocks "
                      "nobody")

    def table(self, raw: Any, spec: Mapping[str, _F], path: str) -> dict[str, Any]:
        """Check one table against its spec; returns the values with defaults filled."""
        if not isinstance(raw, Mapping):
            self.problem(path, f"expected a table, got {_tname(raw)}")
            return {k: f.default for k, f in spec.items() if f.default is not _REQUIRED}
        out: dict[str, Any] = {}
        for key in raw:
            if key not in spec:
                hint = difflib.get_close_matches(key, list(spec), n=1)
                more = f" (did you mean '{hint[0]}'?)" if hint else ""
                self.problem(f"{path}.{key}", f"unknown key{more}; expected one of "
                             f"{', '.join(sorted(spec))}")
        for key, f in spec.items():
            kp = f"{path}.{key}" if path else key
            if key not in raw:
                if f.default is _REQUIRED:
                    self.problem(kp, "required key is missing")
                else:
                    out[key] = f.default
                continue
            out[key] = self.value(raw[key], f, kp)
        return out

    def path(self, value: Any, key: str) -> Path | None:
        """A file path relative to the scenario's folder; a problem if it does not exist."""
        if not isinstance(value, str) or not value:
            self.problem(key, f"expected a file path, got {_tname(value)} {value!r}")
            return None
        p = Path(value)
        if not p.is_absolute() and self.base_dir is not None:
            p = self.base_dir / p
        if not p.exists():
            self.problem(key, f"file not found: {p}")
            return None
        if not p.is_file():
            self.problem(key, f"expected a file, got {_file_kind(p)}: {p}")
            return None
        return p

    def value(self, v: Any, f: _F, path: str) -> Any:
        kinds = f.kind if isinstance(f.kind, tuple) else (f.kind,)
        ok = isinstance(v, kinds) and not (isinstance(v, bool) and bool not in kinds)
        if not ok:
            want = "number" if float in kinds else " or ".join(_tname_t(k) for k in kinds)
            hint = _unit_hint(v, path) if float in kinds or int in kinds else ""
            self.problem(path, f"expected {want}, got {_tname(v)} {v!r}{hint}")
            return f.default if f.default is not _REQUIRED else None
        if f.choices is not None and v not in f.choices:
            self.problem(path, f"expected one of {', '.join(f.choices)}, got {v!r}")
        if isinstance(v, str):
            top = MAX_NAME if f.name else MAX_TEXT
            if len(v) > top:
                what = "a name" if f.name else "text"
                self.problem(path, f"expected {what} of at most {top:,} characters, got "
                             f"{len(v):,} ({reprlib.repr(v)})")
            elif f.name and (m := _CONTROL.search(v)):
                self.problem(path, f"expected a name of printable characters on one line, "
                             f"got {v!r} (holding {m.group()!r})")
        if isinstance(v, int | float) and not isinstance(v, bool):
            unit = f" {f.unit}" if f.unit else ""
            why = f" ({f.why})" if f.why else ""
            if isinstance(v, float) and math.isnan(v):
                self.problem(path, f"expected a number{unit}, got nan")
                return f.default if f.default is not _REQUIRED else None
            if isinstance(v, float) and math.isinf(v) and not f.inf_ok:
                self.problem(path, f"expected a finite number{f' ({f.unit})' if f.unit else ''}, "
                             f"got {v!r}")
                return f.default if f.default is not _REQUIRED else None
            if f.lo is not None and (v < f.lo or (f.lo_open and v == f.lo)):
                op = ">" if f.lo_open else ">="
                lo_why = f" {f.lo_why.strip()}" if f.lo_why else ""
                self.problem(path, f"expected a value {op} {f.lo:g}{unit}{lo_why}, got {v!r}")
            if f.hi is not None and v > f.hi:
                hint = f" ({v:g} % is {v / 100:g})" if f.hi == 1.0 and 1.0 < v <= 100.0 \
                    and "%" not in why else ""
                self.problem(path, f"expected a value <= {f.hi:g}{unit}{why}, got {v!r}{hint}")
        return v

    def distribution(self, raw: Any, path: str, default: dict) -> Distribution | None:
        merged = dict(default)
        if isinstance(raw, Mapping):
            merged.update(raw)
            if "dist" in raw and raw["dist"] != default.get("dist"):
                merged = dict(raw)  # a different family: the default's shape keys do not apply
        elif raw is not None:
            self.problem(path, f"expected a table, got {_tname(raw)}")
        if merged.get("dist") == "empirical" and "mean_s" not in merged:
            merged["mean_s"] = 0.0
        n0 = len(self.problems)
        d = self.table(merged, _DIST, path)
        if len(self.problems) > n0:
            return None
        kind = d.get("dist")
        if kind in _SHAPED and d.get("mean_s") == 0:
            # a duration is never negative: one of mean 0 s is 0 s every time, whatever the
            # family (no wrap-up, a caller who never waits); cv has nothing to shape
            return Deterministic(0.0)
        try:
            if kind == "exponential":
                return Exponential(float(d["mean_s"]))
            if kind == "lognormal":
                return Lognormal(float(d["mean_s"]), float(d["cv"]))
            if kind == "gamma":
                return Gamma(float(d["mean_s"]), float(d["cv"]))
            if kind == "deterministic":
                return Deterministic(float(d["mean_s"]))
            if kind == "empirical":
                return self.empirical(d, path)
        except (TypeError, ValueError) as exc:
            self.problem(path, str(exc))
        return None

    def empirical(self, d: dict, path: str) -> Distribution | None:
        if not d.get("file") or not d.get("column"):
            self.problem(path, "an empirical distribution needs 'file' (CSV) and 'column'")
            return None
        p = self.path(d["file"], f"{path}.file")
        if p is None:
            return None
        import polars as pl

        try:
            frame = pl.read_csv(p)
        except Exception as exc:  # polars raises several types for unreadable CSV
            self.problem(f"{path}.file", f"cannot read CSV {p}: {exc}")
            return None
        if d["column"] not in frame.columns:
            self.problem(f"{path}.column", f"column {d['column']!r} not in {p} "
                         f"(columns: {', '.join(frame.columns)})")
            return None
        col = frame[d["column"]]
        if not len(col):
            self.problem(f"{path}.file", f"{p} holds no durations (a header and no rows)")
            return None
        if not col.dtype.is_numeric():
            self.problem(f"{path}.column", f"expected numeric durations in seconds, "
                         f"got {col.dtype}")
            return None
        col = col.cast(pl.Float64)
        top = _DIST["mean_s"].hi
        bad = (col.is_null() | col.is_nan() | (col < 0) | (col > top)).fill_null(True)
        if bad.any():
            first = int(bad.arg_max())
            self.problem(f"{path}.file", f"{p} line {first + 2}: expected a duration >= 0 s "
                         f"and <= {top:g} s ({_DAY}), got {col[first]!r}")
            return None
        return Empirical(tuple(float(x) for x in col.to_list()))


_SECONDS_IN = {"ms": 0.001, "s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0}
_NUMBER_UNIT = re.compile(r"^\s*([-+]?\d+(?:\.\d*)?|[-+]?\.\d+)\s*([A-Za-z%]*)\s*$")


def _unit_hint(v: Any, path: str) -> str:
    """A hint for a number written as text: ``"3%"`` is 0.03, ``"200s"`` is written 200 in a
    key ending ``_s``, ``"5min"`` is 300 there, ``"12"`` loses its quotes."""
    if not isinstance(v, str):
        return ""
    m = _NUMBER_UNIT.match(v)
    if not m:
        return ""
    num, unit = float(m.group(1)), m.group(2).lower()
    if unit == "%":
        return f" ({v.strip()} is {num / 100:g}: fractions are written 0..1)"
    if unit in _SECONDS_IN and path.endswith("_s"):
        return f" ({v.strip()}: write {num * _SECONDS_IN[unit]:g} in a key ending _s)"
    if not unit:
        return f" (write {m.group(1)} without quotes)"
    return ""


def _campaign_path(raw: Any, i: int) -> str:
    """How errors name a campaign: ``campaigns.<name>`` (the ``--set`` form), else by index."""
    name = raw.get("name") if isinstance(raw, Mapping) else None
    if isinstance(name, str) and len(name) <= MAX_NAME and re.fullmatch(r"[A-Za-z0-9_-]+", name):
        return f"campaigns.{name}"
    return f"campaigns[{i}]"


def _group_path(raw: Any, i: int) -> str:
    """How errors name an agent group: ``agents.<group>`` (the ``--set`` form), else by
    index."""
    name = raw.get("group") if isinstance(raw, Mapping) else None
    if isinstance(name, str) and len(name) <= MAX_NAME and re.fullmatch(r"[A-Za-z0-9_-]+", name):
        return f"agents.{name}"
    return f"agents[{i}]"


def _tname(v: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "table"}.get(type(v), type(v).__name__)


def _tname_t(t: type) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "table"}.get(t, t.__name__)


_ENGINE_TABLES = ("contacts", "strategy", "rules", "schedule")
# The keys a [rules] table may hold: RuleConfig's public fields, sorted.
_RULE_KEYS = tuple(sorted(f for f in RuleConfig.__dataclass_fields__ if not f.startswith("_")))
_CAPS = ("max_attempts_per_day_contact", "max_attempts_total_contact",
         "max_attempts_per_day_address", "max_attempts_total_address")


def _declared_names(raw: Mapping[str, Any]) -> set[str]:
    """The campaign names the file declares, built or not."""
    camps = raw.get("campaigns")
    return {c["name"] for c in camps if isinstance(c, Mapping) and isinstance(c.get("name"), str)
            } if isinstance(camps, list) else set()


def _no_zero_caps(chk: _Checker, table: Mapping[str, Any], path: str) -> None:
    """An attempt cap of 0 calls nobody: every contact would be examined and refused, a
    long run doing nothing (a 60k-BHCC list took minutes per simulated minute)."""
    for k in _CAPS:
        v = table.get(k)
        if isinstance(v, int) and not isinstance(v, bool) and v == 0:
            chk.problem(f"{path}.{k}", "expected at least 1 attempt, got 0 (a cap of 0 "
                        "calls nobody: leave the key out for no cap, or pause the job)")


def _top_rules(chk: _Checker, rules: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level [rules] (every job's defaults) checked once: a bad or unknown key is
    reported at its own line, once, and left out of what the campaigns inherit (else each
    job would repeat the same problem against its own line)."""
    good = dict(rules)
    unknown = sorted(k for k in good if k not in _RULE_KEYS)
    if unknown:
        chk.problem("rules", f"unknown key(s) {', '.join(unknown)}; expected one of "
                    f"{', '.join(_RULE_KEYS)}")
        for k in unknown:
            del good[k]
    for _ in range(len(good)):
        try:
            RuleConfig(**good)
            break
        except RuleConfigError as e:
            key = str(e).split(":", 1)[0]
            if key not in good:  # a problem of several keys together: said once, here
                chk.problem("rules", str(e))
                return {}
            chk.problem(f"rules.{key}", str(e).split(":", 1)[1].strip())
            del good[key]
    return good


def _build_campaign(chk: _Checker, raw: Any, i: int, rules: Mapping[str, Any],
                    start: datetime | None = None,
                    regulation: Mapping[str, Any] | None = None) -> list[Campaign]:
    path = _campaign_path(raw, i)
    if not isinstance(raw, Mapping):
        chk.problem(path, f"expected a table, got {_tname(raw)}")
        return []
    flat = {k: v for k, v in raw.items()
            if k not in _CAMPAIGN_TABLES and k not in _ENGINE_TABLES
            and k not in _BLEND_TABLES and k not in ("profile", "regulation")}
    pacing = flat.get("pacing")
    if isinstance(pacing, str) and ":" in pacing:  # the CLI's policy strings: "ratio:1.2"
        try:
            name, ratio = parse_policy(pacing)
        except ValueError as exc:
            chk.problem(f"{path}.pacing", str(exc))
            flat.pop("pacing")
        else:
            if "ratio" in flat and flat["ratio"] != ratio:
                chk.problem(f"{path}.ratio", f"given twice: {flat['ratio']!r} here and "
                            f"{ratio:g} in pacing = {pacing!r}")
            flat = {**flat, "pacing": name, "ratio": ratio}
    blend = _blend_tables(chk, raw, path, c_channel=raw.get("channel", "voice_agent"))
    c = chk.table(flat, _CAMPAIGN, path)
    sub = {k: chk.table(raw.get(k, {}), spec, f"{path}.{k}")
           for k, spec in _CAMPAIGN_TABLES.items() if k not in ("talk", "wrap")}
    talk = chk.distribution(raw.get("talk"), f"{path}.talk", _DIST_DEFAULTS["talk"])
    wrap = chk.distribution(raw.get("wrap"), f"{path}.wrap", _DIST_DEFAULTS["wrap"])
    o = sub["outcomes"]
    probs = [o.get(k) for k in ("live", "machine", "busy", "no_answer", "invalid")]
    if all(isinstance(p, int | float) and 0 <= p <= 1 for p in probs) \
            and abs(sum(probs) - 1.0) > 1e-6:
        chk.problem(f"{path}.outcomes", "expected live + machine + busy + no_answer + "
                    f"invalid = 1, got {sum(probs):.6g}")
    if c.get("min_agents", 0) > c.get("max_agents", 0):
        chk.problem(f"{path}.min_agents", f"expected <= max_agents ({c.get('max_agents')}), "
                    f"got {c.get('min_agents')}")
    if c.get("min_ports", 0) > c.get("max_ports", 0):
        chk.problem(f"{path}.min_ports", f"expected <= max_ports ({c.get('max_ports')}), "
                    f"got {c.get('min_ports')}")
    channel, pacing = c.get("channel"), c.get("pacing")
    if channel == "voice_agent" and pacing == "timed" and not c.get("attempts_per_hour"):
        chk.problem(f"{path}.attempts_per_hour", "a timed agent-based campaign needs a rate > 0")
    if channel in ("voice_agentless", "sms", "email"):
        if "pacing" in raw and pacing != "timed":
            chk.problem(f"{path}.pacing", f"{channel} campaigns are paced 'timed', got {pacing!r}")
        c["pacing"] = "timed"
        if not c.get("attempts_per_hour"):
            chk.problem(f"{path}.attempts_per_hour", f"{channel} campaigns need a rate > 0")
    _check_license(chk, path, raw, channel, c.get("pacing"), c.get("license", ""))
    if channel == "voice_agent" and not c.get("skill"):
        chk.problem(f"{path}.skill", "agent-based campaigns need the skill their agents have")
    if c.get("target") == "service_level" and c.get("target_value", 0) > 1:
        chk.problem(f"{path}.target_value", "a service-level target is a fraction 0..1")
    if c.get("target") == "abandon_rate" and c.get("target_value", 0) > 1:
        chk.problem(f"{path}.target_value", "an abandon-rate target is a fraction 0..1")
    profile = _campaign_profile(chk, raw, path, start, c, o, talk, wrap)
    own_rule = _campaign_regulation(chk, raw, path, channel, regulation or {})
    _abandon_target(chk, c, flat, path, own_rule, regulation or {})
    n_before = len(chk.problems)
    engine = _engine_tables(chk, raw, path, channel, rules) if channel in CHANNELS else None
    if chk.problems or talk is None or wrap is None or engine is None:
        return []
    if len(chk.problems) > n_before:
        return []
    copies = c.pop("copies")
    name = c.pop("name")
    if "new_contacts_per_hour" in profile:
        sched = raw.get("schedule", {})
        if sched.get("finish_when_exhausted") is True:
            chk.warn(f"{path}.schedule.finish_when_exhausted", "the campaign receives new "
                     "contacts: it may finish between arrivals")
        else:  # a list that grows does not end when it runs dry
            engine["schedule"] = replace(engine["schedule"], finish_when_exhausted=False)
    out = []
    for k in range(copies):
        out.append(Campaign(
            name=name if copies == 1 else f"{name}-{k + 1:03d}", template=name,
            outcomes=Outcomes(**o), amd=Amd(**sub["amd"]),
            patience_mean_s=float(sub["customer"]["patience_mean_s"]), talk=talk, wrap=wrap,
            message=Message(**sub["message"]), profile=profile, regulation=own_rule,
            **engine, **blend, **c))
    return out


def _abandon_target(chk: _Checker, c: dict[str, Any], given: Mapping[str, Any], path: str,
                    own: Regulation | None, top: Mapping[str, Any]) -> None:
    """An abandon-rate target (``target = "abandon_rate"``, the default) without a
    ``target_value`` aims at the abandon limit that applies to the campaign (its own
    ``[campaigns.regulation]``, else the scenario's; in place in ``c``), not at 3 %
    whatever the limit: a scenario allowing 5 % was paced against 3 %. A value given over
    that limit is a warning: the pacer aims at the limit, a target cannot loosen the rule."""
    if c.get("target") != "abandon_rate":
        return
    limit = own.abandon_limit if own is not None else top.get("abandon_limit")
    if not isinstance(limit, int | float) or isinstance(limit, bool) or not 0 <= limit <= 1:
        return  # the limit's own problem is reported where it is
    value = c.get("target_value")
    if "target_value" not in given:
        c["target_value"] = float(limit)
    elif isinstance(value, int | float) and not isinstance(value, bool) and value > limit:
        chk.warn(f"{path}.target_value", f"an abandon-rate target of {value:g} is above the "
                 f"abandon limit {limit:g} that applies to the campaign (its "
                 f"{'[campaigns.regulation]' if own is not None else '[regulation]'}): the "
                 "pacer aims at the limit; leave target_value out to aim at the limit")


def _campaign_regulation(chk: _Checker, raw: Mapping[str, Any], path: str, channel: Any,
                         top: Mapping[str, Any]) -> Regulation | None:
    """A campaign's own ``[campaigns.regulation]``: the keys it gives over the scenario's
    ``[regulation]`` (``top``, checked there), e.g. a UK job under Ofcom in a centre whose
    US jobs follow the FCC; None without the table. Agent-based campaigns only: the rule
    judges live answers left without an agent."""
    if "regulation" not in raw:
        return None
    own = raw["regulation"]
    where = f"{path}.regulation"
    if channel != "voice_agent":
        chk.problem(where, f"a regulation is for agent-based voice campaigns (the abandon "
                    f"limit judges live answers left without an agent), got channel "
                    f"{channel!r}: leave the table out")
        return None
    n0 = len(chk.problems)
    vals = chk.table(own, _REGULATION, where)
    if len(chk.problems) > n0 or not isinstance(own, Mapping):
        return None
    merged = {k: v for k, v in top.items() if k in _REGULATION}
    merged.update({k: vals[k] for k in own})
    return Regulation(**{k: merged.get(k, f.default) for k, f in _REGULATION.items()})


def _check_license(chk: _Checker, path: str, raw: Mapping[str, Any], channel: Any,
                   pacing: Any, lic: Any) -> None:
    """A campaign's agent license type against its channel and pacing: manual and preview
    jobs (the agent places each call) dial with preview pacing, and a preview job holds a
    manual or preview license."""
    if "license" in raw and channel != "voice_agent":
        chk.problem(f"{path}.license", f"agent license types are for agent-based campaigns, "
                    f"got a {channel} campaign (notification jobs draw outbound ports)")
    elif lic in AGENT_PLACED and pacing != "preview":
        chk.problem(f"{path}.license", f"a {lic} job's agent places each call: expected "
                    f"pacing = \"preview\", got {pacing!r}")
    elif lic and lic not in AGENT_PLACED and pacing == "preview":
        chk.problem(f"{path}.license", f"a preview job holds a manual or preview license, "
                    f"got {lic!r}")


def _blend_tables(chk: _Checker, raw: Mapping[str, Any], path: str, c_channel: Any
                  ) -> dict[str, Any]:
    """A campaign's ``[blending]`` (agent-based) and ``[skill_pacing]`` (agentless) tables."""
    out: dict[str, Any] = {}
    for key, spec, cls in (("blending", _BLENDING, BlendSetting),
                           ("skill_pacing", _SKILL_PACING, SkillPacing)):
        if key not in raw:
            continue
        want = "voice_agent" if key == "blending" else "agentless"
        if (c_channel == "voice_agent") != (want == "voice_agent"):
            chk.problem(f"{path}.{key}", f"expected only in {want} campaigns, got a "
                        f"{c_channel} campaign")
            continue
        n0 = len(chk.problems)
        vals = chk.table(raw[key], spec, f"{path}.{key}")
        if len(chk.problems) > n0 or vals.pop("enabled", True) is False \
                or "skill" not in vals:
            continue
        try:
            out[key] = cls(**vals)
        except (TypeError, ValueError) as exc:
            chk.problem(f"{path}.{key}", str(exc))
    return out


def _campaign_profile(chk: _Checker, raw: Mapping[str, Any], path: str,
                      start: datetime | None, c: Mapping[str, Any], o: Mapping[str, Any],
                      talk: Distribution | None, wrap: Distribution | None
                      ) -> dict[str, Profile]:
    """The campaign's ``profile`` table (``sim.profiles``), checked against its model."""
    if "profile" not in raw or start is None:
        return {}
    where = f"{path}.profile"
    prof = parse_profile(raw["profile"], where, start, CAMPAIGN_KEYS, chk.problem)
    others = sum(o.get(k, 0) for k in ("machine", "busy", "no_answer", "invalid")
                 if isinstance(o.get(k, 0), int | float))
    if "live" in prof and prof["live"].lo < 1 and not others > 0:
        chk.problem(f"{where}.live", "the other outcome shares are all 0, so nothing can take "
                    "the share the live answers give up")
    for key, dist in (("talk_mean_s", talk), ("wrap_mean_s", wrap)):
        if key in prof and dist is not None and not dist.mean > 0:
            chk.problem(f"{where}.{key}", f"the campaign's {key.split('_')[0]} mean is 0 s: a "
                        "profile scales it, so give it a mean > 0")
    if "new_contacts_per_hour" in prof:
        contacts = raw.get("contacts")
        if isinstance(contacts, Mapping) and contacts.get("file"):
            chk.problem(f"{where}.new_contacts_per_hour", "arrivals add synthetic contacts: "
                        "use them on a campaign without contacts.file")
        elif not c.get("records"):
            chk.problem(f"{path}.records", "a campaign with arriving contacts needs a finite "
                        "list: set records (the contacts at the start, >= 1)")
    return prof


def _engine_tables(chk: _Checker, raw: Mapping[str, Any], path: str, channel: str,
                   rules: Mapping[str, Any]) -> dict[str, Any] | None:
    """The engine side of a campaign: contact list, strategy, rules and schedule."""
    n0 = len(chk.problems)
    sch = STRATEGY_CHANNEL[channel]
    ct = chk.table(raw.get("contacts", {}), _CONTACTS, f"{path}.contacts")
    file = None
    if ct.get("file"):
        file = chk.path(ct["file"], f"{path}.contacts.file")
    addresses = dict(ct.get("addresses") or {DEFAULT_ADDRESS[sch]: sch})
    for col, kind in list(addresses.items()):
        if not isinstance(kind, str):  # the list reader hashes it: a list was a TypeError
            chk.problem(f"{path}.contacts.addresses.{col}", f"expected a channel name "
                        f"(voice, sms, email...), got {_tname(kind)} {kind!r:.60}")
            del addresses[col]
    addresses = addresses or {DEFAULT_ADDRESS[sch]: sch}
    zones = ct.get("timezones") or {"UTC": 1.0}
    weights = []
    for z, w in zones.items():
        if not isinstance(w, int | float) or isinstance(w, bool) or not 0 < w <= 1e9:
            chk.problem(f"{path}.contacts.timezones.{z}", "expected a relative weight > 0 "
                        f"and <= 1e9 (shares are normalised), got {w!r:.60}")
        else:
            weights.append((z, float(w)))
        try:
            zone(z)
        except ValueError as e:
            chk.problem(f"{path}.contacts.timezones", str(e))
    dnc = tuple(p for k, f in enumerate(ct.get("dnc_files") or [])
                if (p := chk.path(f, f"{path}.contacts.dnc_files[{k}]")) is not None)
    for k, p in enumerate(dnc):
        chk.dnc_list(p, f"{path}.contacts.dnc_files[{k}]")
    contacts = ContactsConfig(
        file=file, id=ct.get("id", "id"), addresses=dict(addresses),
        timezone=ct.get("timezone") or None, default_timezone=ct.get("default_timezone") or None,
        default_country_code=ct.get("default_country_code") or None,
        attribute_types=dict(ct.get("attribute_types") or {}), filter=ct.get("filter") or None,
        sort=tuple(ct.get("sort") or ()), on_error=ct.get("on_error", "skip"),
        timezones=tuple(weights) or (("UTC", 1.0),), dnc_files=dnc)

    st_raw = raw.get("strategy")
    if st_raw is None:
        step = {"channel": sch, "address": next(iter(addresses)), "windows": "always"}
        if channel == "voice_agentless":
            step["pacing"] = "timed"
        if sch in ("sms", "email"):
            step["template"] = "Message for {id}"
        st_raw = {"steps": [step], "windows": "always", "default_timezone": "UTC"}
    strategy = None
    steps = st_raw.get("steps") if isinstance(st_raw, Mapping) else None
    if not isinstance(st_raw, Mapping):
        chk.problem(f"{path}.strategy", f"expected a table, got {_tname(st_raw)}")
    elif isinstance(steps, list) and len(steps) > MAX_STEPS:
        chk.problem(f"{path}.strategy.steps", f"expected at most {MAX_STEPS} steps, got "
                    f"{len(steps):,} ({_STEPS_WHY})")
    else:
        try:
            strategy = Strategy.from_dict(st_raw)
        except StrategyError as e:
            chk.problem(f"{path}.strategy" + (f".{e.field}" if e.field else ""), e.message)
    if strategy is not None:
        for k, step in enumerate(strategy.steps):
            if step.channel != sch:
                chk.problem(f"{path}.strategy.steps[{k}].channel",
                            f"expected {sch!r} in a {channel} campaign (the simulator runs "
                            f"one channel per campaign; use another campaign), got "
                            f"{step.channel!r}")
        columns = _list_columns(chk, contacts, f"{path}.contacts")
        if columns is not None:
            contacts = _zone_column(chk, contacts, columns, raw.get("contacts"),
                                    f"{path}.contacts")
        if columns is not None and not chk.problems[n0:]:
            try:
                strategy.validate(strategy_columns(columns, strategy))
            except StrategyError as e:
                shown = ", ".join(repr(c[:40]) for c in columns[:12])
                more = f" and {len(columns) - 12} more" if len(columns) > 12 else ""
                chk.problem(f"{path}.strategy", e.message + (
                    f" ({file.name}'s columns: {shown}{more})" if file is not None
                    and "no column" in e.message else ""))
        if not chk.problems[n0:]:
            chk.contact_list(contacts, f"{path}.contacts")

    merged = dict(rules)
    cr = raw.get("rules", {})
    if not isinstance(cr, Mapping):
        chk.problem(f"{path}.rules", f"expected a table, got {_tname(cr)}")
        cr = {}
    merged.update(cr)
    _no_zero_caps(chk, cr, f"{path}.rules")
    rule_cfg = None
    try:
        rule_cfg = RuleConfig(**merged)
    except RuleConfigError as e:
        chk.problem(f"{path}.rules", str(e))
    except TypeError:
        bad = sorted(set(merged) - set(_RULE_KEYS))
        chk.problem(f"{path}.rules", f"unknown key(s) {', '.join(bad)}; expected one of "
                    f"{', '.join(_RULE_KEYS)}")

    sd = chk.table(raw.get("schedule", {}), _SCHEDULE, f"{path}.schedule")
    plan = None
    try:
        plan = JobPlan(start_s=float(sd.get("start_s", 0.0)),
                       end_s=None if math.isinf(sd.get("end_s", math.inf))
                       else float(sd["end_s"]),
                       finish_when_exhausted=bool(sd.get("finish_when_exhausted", True)),
                       finish_after_successes=sd.get("finish_after_successes") or None)
    except (ValueError, TypeError) as e:
        chk.problem(f"{path}.schedule", str(e))
    if (plan is not None and plan.finish_after_successes and strategy is not None
            and not any(step.done_codes & _ENDS[channel] for step in strategy.steps)):
        chk.warn(f"{path}.schedule.finish_after_successes", "no step of the campaign's "
                 f"strategy has done_codes a {channel} attempt can end with (a message step "
                 "has none unless given, a voice step's default is a live connect to an "
                 "agent), so no contact ends in a success and the job never finishes on this "
                 "count: give the step done_codes = [\"delivered\"] (or the codes that are "
                 "a success)")
    if len(chk.problems) > n0 or strategy is None or rule_cfg is None or plan is None:
        return None
    return {"contacts": contacts, "strategy": strategy, "rules": rule_cfg, "schedule": plan}


def _zone_column(chk: _Checker, ct: ContactsConfig, columns: list[str], raw: Any,
                 path: str) -> ContactsConfig:
    """The list's zone column as the run reads it. ``timezone`` left out names the column
    ``timezone`` when the file has one; a file without it puts every contact in
    ``default_timezone`` (which stands in for the column), and with no default either, the
    problem names both keys."""
    given = isinstance(raw, Mapping) and "timezone" in raw
    if ct.file is None or given or ct.timezone is None or ct.timezone in columns:
        return ct
    if ct.default_timezone is None:
        chk.problem(f"{path}.timezone", f"{ct.file.name} has no column {ct.timezone!r} for "
                    "the contacts' time zones: name its zone column with timezone = "
                    "\"COLUMN\", or put every contact in one zone with default_timezone = "
                    "\"ZONE\" (an IANA name)")
    return replace(ct, timezone=None)


# The completion codes an attempt of each channel can end with in the simulated world.
_ENDS = {
    "voice_agent": frozenset(int(c) for c in (
        Code.LIVE_CONNECTED, Code.ABANDONED, Code.MACHINE, Code.BUSY, Code.NO_ANSWER,
        Code.INVALID, Code.CUSTOMER_HANGUP)),
    "voice_agentless": frozenset(int(c) for c in (
        Code.DELIVERED, Code.BUSY, Code.NO_ANSWER, Code.INVALID)),
    "sms": frozenset((int(Code.DELIVERED), int(Code.UNDELIVERED))),
    "email": frozenset((int(Code.DELIVERED), int(Code.UNDELIVERED))),
}


def _too_many_columns(chk: _Checker, ct: ContactsConfig, path: str, cols: list[str]) -> bool:
    """Whether the list's header has over MAX_LIST_COLUMNS columns (a problem, then)."""
    if len(cols) <= MAX_LIST_COLUMNS:
        return False
    chk.problem(f"{path}.file", f"{ct.file} has {len(cols):,} columns; expected at most "
                f"{MAX_LIST_COLUMNS:,} ({_COLUMNS_WHY})")
    return True


def _list_columns(chk: _Checker, ct: ContactsConfig, path: str) -> list[str] | None:
    """The columns a campaign's list will have (read from the file's header)."""
    if ct.file is None:
        return ["id", *ct.addresses, "timezone"]
    import polars as pl

    try:
        if ct.file.suffix.lower() in (".parquet", ".pq"):
            cols = list(pl.read_parquet_schema(ct.file))
            return None if _too_many_columns(chk, ct, path, cols) else cols
        with ct.file.open("rb") as fh:
            head = fh.read(65_536)
        nul = head.find(b"\x00")
        if nul >= 0:
            chk.problem(f"{path}.file", f"{ct.file}: expected a CSV text file, found binary "
                        f"data (a NUL byte at offset {nul})")
            return None
        sep = "\t" if ct.file.suffix.lower() == ".tsv" else ","
        cr, lf = head.find(b"\r"), head.find(b"\n")
        src: Path | io.BytesIO = ct.file
        if cr >= 0 and (lf < 0 or cr < lf) and lf != cr + 1:
            # a header ending in CR alone (old Mac line ends): polars reads no line end
            # there and would take the whole file for the header, as the list does not
            src = io.BytesIO(head[:cr] + b"\n")
        cols = pl.read_csv(src, n_rows=0, separator=sep, infer_schema=False).columns
        if _too_many_columns(chk, ct, path, cols):
            return None
        if len(cols) == 1 and cols[0] != ct.id and (
                other := next((c for c in ";\t|," if c != sep and c in cols[0]), None)):
            # a list split by another character: one column named by the whole header
            name = {";": "';'", "\t": "a tab", "|": "'|'", ",": "','"}[other]
            want = "a tab (a .tsv file)" if sep == "\t" else "commas"
            chk.problem(f"{path}.file", f"{ct.file}'s header is one column "
                        f"{reprlib.repr(cols[0])}: its fields look separated by {name}; "
                        f"expected {want} (save the list as "
                        + ("comma-separated CSV, or name it .tsv when tab-separated)"
                           if sep == "," else "tab-separated, or name it .csv)"))
            return None
        used = {ct.id, ct.timezone, *ct.addresses}
        repeated = dict.fromkeys(  # polars renames a repeated column NAME_duplicated_K
            m.group(1) for c in cols if (m := re.fullmatch(r"(.*)_duplicated_\d+", c))
            and m.group(1) in cols and c not in used)
        for name in repeated:
            if name in used:
                chk.problem(f"{path}.file", f"{ct.file}'s header repeats column {name!r}: "
                            "expected each column the list reads once (which one holds it?)")
            else:
                chk.warn(f"{path}.file", f"{ct.file}'s header repeats column {name!r}: "
                         "the list keeps the first, renames the others")
        return cols
    except Exception as exc:  # polars raises several types for unreadable files
        chk.problem(f"{path}.file", f"cannot read {ct.file}: {exc}")
        return None


def build(raw: Mapping[str, Any], source: str = "<scenario>",
          base_dir: Path | None = None) -> Scenario:
    """Validate a parsed scenario mapping; raises ``ScenarioError`` listing every problem."""
    if not isinstance(raw, Mapping):
        raise ScenarioError(source, [f"expected a table of sections, got {_tname(raw)}"])
    _check_depth(raw, source)
    if isinstance(raw.get("run"), Mapping) and "campaigns" not in raw:
        jobs = raw["run"].get("scenario")
        named = f" (its jobs come from run.scenario = {jobs!r})" if isinstance(jobs, str) else ""
        raise ScenarioError(source, [f"run: expected a scenario file; this is the "
                                     f"configuration of a live run, for `outdial run`{named}: "
                                     "validate or simulate the scenario file it names"])
    chk = _Checker(source, base_dir)
    allowed = {*_SECTIONS, "agents", "campaigns", "rules", "dnc", "targets", "timeline",
               "inbound"}
    for key in raw:
        if key not in allowed:
            hint = difflib.get_close_matches(key, list(allowed), n=1) or [
                f"{sec}.{key}" for sec, keys in _SECTIONS.items() if key in keys][:1]
            more = f" (did you mean '{hint[0]}'?)" if hint else ""  # warmup_s: scenario's
            chk.problem(key, f"unknown section{more}; expected one of {', '.join(sorted(allowed))}")
    sc = raw.get("scenario")
    if isinstance(sc, Mapping) and isinstance(sc.get("start"), datetime):
        # TOML's own date-time (start = 2026-11-23T08:00:00-05:00, unquoted) is the ISO
        # text a user means; one without an offset is still refused by _start
        raw = {**raw, "scenario": {**sc, "start": sc["start"].isoformat()}}
    sec = {k: chk.table(raw.get(k, {}), spec, k) for k, spec in _SECTIONS.items()}
    if "telephony" not in raw:
        chk.problem("telephony", "required section is missing (it holds 'ports')")
    start = _start(chk, sec["scenario"])
    groups: list[AgentGroup] = []
    raw_groups = _as_list(chk, raw.get("agents", []), "agents")
    for i, g in enumerate(raw_groups):
        g_prof = g.get("profile") if isinstance(g, Mapping) else None
        if isinstance(g, Mapping):
            g = {k: v for k, v in g.items() if k != "profile"}
        n0 = len(chk.problems)
        where = _group_path(g, i)
        a = chk.table(g, _AGENTS, where)
        skills = a.get("skills")
        if len(chk.problems) > n0:  # a key missing or of the wrong type: no group to build
            continue
        if skills is not None and not (isinstance(skills, list)
                                       and all(isinstance(s, str) for s in skills)):
            chk.problem(f"{where}.skills", "expected an array of skill names (strings)")
        elif skills is not None and a.get("logout_s", 0) <= a.get("login_s", 0):
            chk.problem(f"{where}.logout_s", "expected a logout after login_s")
        elif skills is not None:
            prof = _group_profile(chk, g, g_prof, where, start, a.get("count"))
            shift = (math.inf, math.inf) if prof else (float(a["login_s"]),
                                                       float(a["logout_s"]))
            groups.append(AgentGroup(a["group"], a["count"], tuple(skills), *shift,
                                     float(a["aux_probability"]), float(a["aux_mean_s"]),
                                     prof, a["direction"]))
            if prof is not None and a["direction"] == "inbound":
                chk.problem(f"{where}.profile", "an inbound desk follows login_s/logout_s; "
                            "a profile of agents logged in is for the dialer's groups")
    groups_lost = len(groups) < len(raw_groups)  # a group with a problem: skills unknown
    repeated = sorted(n for n, k in Counter(g.group for g in groups).items() if k > 1)
    if repeated:  # --set agents.NAME..., [[timeline]] group = NAME would be ambiguous
        chk.problem("agents", f"expected unique group names, repeated: {', '.join(repeated)}")
    inbound = _inbound(chk, raw.get("inbound", []), groups, start)
    campaigns: list[Campaign] = []
    raw_campaigns = _as_list(chk, raw.get("campaigns", []), "campaigns")
    if not raw_campaigns:
        chk.problem("campaigns", "expected at least one [[campaigns]] entry")
    rules = raw.get("rules", {})
    if not isinstance(rules, Mapping):
        chk.problem("rules", f"expected a table, got {_tname(rules)}")
        rules = {}
    _no_zero_caps(chk, rules, "rules")
    rules = _top_rules(chk, rules)
    dnc = chk.table(raw.get("dnc", {}), {"files": _F(list, [])}, "dnc")
    dnc_files = tuple(p for k, f in enumerate(dnc.get("files") or [])
                      if (p := chk.path(f, f"dnc.files[{k}]")) is not None)
    for k, p in enumerate(dnc_files):
        chk.dnc_list(p, f"dnc.files[{k}]")
    jobs = sum(rc.get("copies", 1) for rc in raw_campaigns if isinstance(rc, Mapping)
               and isinstance(rc.get("copies", 1), int) and rc.get("copies", 1) > 0)
    if jobs > MAX_CAMPAIGNS:
        chk.problem("campaigns", f"expected at most {MAX_CAMPAIGNS} jobs in all, copies "
                    f"included ({_MEM}), got {jobs}")
        raw_campaigns = []
    for i, rc in enumerate(raw_campaigns):
        campaigns.extend(_build_campaign(chk, rc, i, rules, start, sec["regulation"]))
    names = [c.name for c in campaigns]
    dupes = sorted(n for n, k in Counter(names).items() if k > 1)
    if dupes:
        chk.problem("campaigns", f"expected unique names, repeated: {', '.join(dupes)}")
    skills_known = {s for g in groups for s in g.skills}
    in_known = {s.name for s in inbound}
    for c in campaigns:
        for key, st in (("blending", c.blending), ("skill_pacing", c.skill_pacing)):
            if st is not None and st.skill not in in_known:
                chk.problem(f"campaigns ({c.name}).{key}.skill", f"expected an inbound skill "
                            f"([[inbound]] skill: {', '.join(sorted(in_known)) or 'none'}), "
                            f"got {st.skill!r}")
    for i, rc in enumerate(raw_campaigns):
        if not groups_lost and isinstance(rc, Mapping) and isinstance(rc.get("skill"), str) \
                and rc.get("skill") \
                and rc.get("skill") not in skills_known \
                and rc.get("channel", "voice_agent") == "voice_agent":
            chk.problem(f"{_campaign_path(rc, i)}.skill", f"no agent group has skill "
                        f"{rc['skill']!r} "
                        f"(known: {', '.join(sorted(skills_known)) or 'none'})")
    targets, target_problems = parse_targets(raw.get("targets"))
    for p in target_problems:
        chk.problems.append(p)
    if not raw.get("inbound"):
        for t in targets:
            if "inbound" in t.kpi:  # judged on zeros, they would read met or missed
                chk.problem(f"targets.{t.name}", "the scenario has no [[inbound]] skill, so "
                            f"there is no {t.kpi} to judge: add the inbound skills (and the "
                            "agents serving them) or leave the target out")
    rows = raw.get("campaigns") if isinstance(raw.get("campaigns"), list) else []
    have = {rc.get("channel", "voice_agent") for rc in rows if isinstance(rc, Mapping)}
    for t in targets:
        ch = t.kpi.removeprefix("attempts_per_hour_")
        if ch != t.kpi and t.op == ">=" and t.value > 0 and ch not in have:
            chk.problem(f"targets.{t.name}", f"no campaign has channel {ch!r}, so no "
                        f"{ch} attempt is made and the target is missed whatever the plan: "
                        f"add the {ch} campaigns or leave the target out")
    s = sec["scenario"]
    timeline: tuple[Action, ...] = ()
    if "timeline" in raw and start is not None:
        dialer = [g for g in groups if g.direction == "outbound"]  # inbound desks: the ACD's
        firsts = [sum(g.count for g in dialer[:k]) for k in range(len(dialer))]
        timeline = parse_timeline(raw["timeline"], start,
                                  [(c.name, c.template) for c in campaigns],
                                  [(g.group, f, g.count) for g, f in zip(dialer, firsts,
                                                                         strict=True)],
                                  chk.problem, _declared_names(raw) - {c.template
                                                                       for c in campaigns},
                                  {c.name: c.channel for c in campaigns if not c.agent_based})
    if not chk.problems:
        _run_checks(chk, s, groups, campaigns, timeline)
        _pooled_limit_targets(chk, targets, campaigns, Regulation(**sec["regulation"]))
    if chk.problems or start is None:
        raise ScenarioError(source, chk.problems)
    lic = sec["licenses"]
    _pool_checks(chk, campaigns, lic, int(sec["telephony"]["ports"]))
    scn = Scenario(
        name=s["name"], description=s["description"], source=source,
        sim_hours=float(s["sim_hours"]), warmup_s=float(s["warmup_s"]),
        tick_s=float(s["tick_s"]), interval_s=float(s["interval_s"]), seed=int(s["seed"]),
        replications=int(s["replications"]), regulation=Regulation(**sec["regulation"]),
        ports=int(sec["telephony"]["ports"]), carrier_cps=float(sec["telephony"]["carrier_cps"]),
        license_mode=lic["mode"],
        license_pools={k: int(v) for k, v in lic.items() if k not in ("mode", "outbound_ports")},
        agents=tuple(groups), campaigns=tuple(campaigns), raw=copy.deepcopy(dict(raw)),
        start=start.astimezone(UTC), dnc_files=dnc_files, warnings=tuple(chk.warnings),
        timeline=timeline, start_local=start, targets=tuple(targets), inbound=inbound,
        port_pool=None if lic["outbound_ports"] < 0 else int(lic["outbound_ports"]))
    _pacer_checks(chk, scn)
    if chk.problems:
        raise ScenarioError(source, chk.problems)
    return scn


def _pooled_limit_targets(chk: _Checker, targets: Sequence[TargetSpec],
                          campaigns: Sequence[Campaign], top: Regulation) -> None:
    """A warning for each abandon-rate target when the agent-based campaigns follow several
    rules (``[campaigns.regulation]``): the target pools every one of them in the terms its
    key names, not each in its own; each is checked against its own rule anyway."""
    rules = {(r.mode, r.abandon_limit) for c in campaigns if c.agent_based
             for r in [c.regulation or top]}
    if len(rules) < 2:
        return
    shown = ", ".join(f"{'Ofcom' if m == 'ofcom' else 'FCC/TSR'} {100 * v:g} %"
                      for m, v in sorted(rules))
    for t in targets:
        if t.kpi in ("abandon_rate", "abandon_rate_ofcom"):
            terms = "Ofcom's" if t.kpi.endswith("ofcom") else "FCC/TSR"
            chk.warn(f"targets.{t.name}", f"the agent-based campaigns follow several abandon "
                     f"rules ({shown}), and this target pools them all in {terms} terms; "
                     "each campaign is also judged by its own rule (its warnings, compare's "
                     "verdict)")


def _pool_checks(chk: _Checker, campaigns: Sequence[Campaign], lic: Mapping[str, Any],
                 ports: int) -> None:
    """Warnings where the scenario's minimums cannot be held: the ``min_agents`` of a
    license pool's jobs (copies counted) over the pool, the notification jobs' ``min_ports``
    over ``licenses.outbound_ports``, and a port pool larger than the voice portal's ports
    (the portal's ports cap the notification calls). The distributor then gives the
    minimums in priority order until the pool runs out: the run goes on, short of them."""
    need: dict[str, int] = {}
    for c in campaigns:
        if c.agent_based and c.min_agents:
            need[c.license_pool] = need.get(c.license_pool, 0) + c.min_agents
    for pool, n in need.items():
        if n > int(lic[pool]):
            chk.warn(f"licenses.{pool}", f"the min_agents of its jobs add up to {n:,} "
                     f"(copies counted), more than the pool's {int(lic[pool]):,} licenses: "
                     "the minimums are held in priority order until the pool runs out")
    pool = int(lic["outbound_ports"])
    if pool < 0:
        return
    held = sum(c.min_ports for c in campaigns if c.channel == "voice_agentless")
    if held > pool:
        chk.warn("licenses.outbound_ports", f"the notification jobs' min_ports add up to "
                 f"{held:,}, more than the {pool:,} outbound ports licensed: the minimums "
                 "are held in priority order until the pool runs out")
    if pool > ports:
        chk.warn("licenses.outbound_ports", f"{pool:,} outbound ports licensed, more than "
                 f"the voice portal's {ports:,} (telephony.ports): at most {ports:,} "
                 "notification calls go out at once")


def _pacer_checks(chk: _Checker, scn: Scenario) -> None:
    """Build each campaign's pacer settings as the run will (``sim.run.campaign_pacing``,
    once per template: copies share them) so a value the pacer refuses is a problem here,
    naming the campaign and the key, instead of an error when the run starts."""
    from sim.run import campaign_pacing

    seen: set[str] = set()
    for c in scn.campaigns:
        if c.template in seen:
            continue
        seen.add(c.template)
        try:
            campaign_pacing(c, scn)
        except ValueError as exc:
            m = re.match(r"CampaignPacing\.(\w+): (.*)", str(exc), re.S)
            key, why = (m.group(1), m.group(2)) if m else ("", str(exc))
            chk.problem(f"campaigns.{c.template}" + (f".{key}" if key else ""),
                        f"the pacer cannot take it: {why}")


def _inbound(chk: _Checker, raw: Any, groups: list[AgentGroup], start: datetime | None
             ) -> tuple[InboundSkill, ...]:
    """The ``[[inbound]]`` skills: arrivals (a constant rate, or ``[inbound.profile]``
    ``calls_per_hour`` over the day), talk, wrap-up, patience, service level."""
    out: list[InboundSkill] = []
    items = _as_list(chk, raw, "inbound")
    for i, r in enumerate(items):
        path = f"inbound[{i}]"
        if not isinstance(r, Mapping):
            chk.problem(path, f"expected a table, got {_tname(r)}")
            continue
        flat = {k: v for k, v in r.items() if k not in ("talk", "wrap", "patience", "profile")}
        if "profile" in r and "calls_per_hour" not in flat:
            flat["calls_per_hour"] = 0.0  # the profile gives the rate
        n0 = len(chk.problems)
        v = chk.table(flat, _INBOUND, path)
        bad = len(chk.problems) > n0  # a key missing or of the wrong type: no skill to build
        profile = None
        if "profile" in r and start is not None:
            profile = parse_profile(r["profile"], f"{path}.profile", start,
                                    {"calls_per_hour": (0.0, MAX_INBOUND_PER_HOUR,
                                                        "calls per hour")},
                                    chk.problem).get("calls_per_hour")
        talk = chk.distribution(r.get("talk"), f"{path}.talk", _INBOUND_DIST_DEFAULTS["talk"])
        wrap = chk.distribution(r.get("wrap"), f"{path}.wrap", _INBOUND_DIST_DEFAULTS["wrap"])
        patience = None
        if "patience" in r:
            patience = chk.distribution(r["patience"], f"{path}.patience",
                                        {"dist": "exponential"})
        if bad or "skill" not in v or talk is None or wrap is None or (
                "patience" in r and patience is None):
            continue
        if any(s.name == v["skill"] for s in out):
            chk.problem(f"{path}.skill", f"expected unique inbound skills, {v['skill']!r} "
                        "is repeated")
            continue
        out.append(InboundSkill(v["skill"], float(v["calls_per_hour"]), talk, wrap, patience,
                                float(v["sl_threshold_s"]), float(v["sl_window_s"]), profile))
    names = {s.name for s in out}
    lost = len(out) < len(items)  # a skill with a problem is not built: the groups' check waits
    for k, g in enumerate(groups):
        if g.direction == "inbound" and not lost and not names & set(g.skills):
            chk.problem(f"{_group_path({'group': g.group}, k)}.skills", "an inbound group "
                        f"needs an inbound skill "
                        f"({', '.join(sorted(names)) or 'no [[inbound]] skill defined'}), got "
                        f"{', '.join(g.skills) or 'none'}")
    return tuple(out)


def _start(chk: _Checker, s: Mapping[str, Any]) -> datetime | None:
    """``scenario.start``: an ISO 8601 time with its UTC offset, in the supported years."""
    try:
        start = datetime.fromisoformat(str(s.get("start", DEFAULT_START)))
    except ValueError:
        chk.problem("scenario.start", f"expected an ISO 8601 time like {DEFAULT_START!r}, "
                    f"got {s.get('start')!r}")
        return None
    if start.tzinfo is None:
        chk.problem("scenario.start", f"expected a time with its UTC offset, like "
                    f"{DEFAULT_START!r}, got {s.get('start')!r}")
        return None
    if not MIN_START_YEAR <= start.year <= MAX_START_YEAR:
        chk.problem("scenario.start", f"expected a year from {MIN_START_YEAR} to "
                    f"{MAX_START_YEAR} (time-zone rules and the run clock's calendar), "
                    f"got {start.year}")
        return None
    return start


def _group_profile(chk: _Checker, g: Mapping[str, Any], raw: Any, path: str,
                   start: datetime | None, count: Any) -> Profile | None:
    """An agent group's ``profile`` (agents logged in over the run), or None."""
    if raw is None or start is None:
        return None
    where = f"{path}.profile"
    if "login_s" in g or "logout_s" in g:
        chk.problem(where, "give the group either login_s/logout_s or a profile, not both")
        return None
    top = float(count) if isinstance(count, int) and not isinstance(count, bool) else 0.0
    prof = parse_profile(raw, where, start, {"count": (0.0, top, "the group's count")},
                         chk.problem).get("count")
    if prof is not None and not all(float(v).is_integer() for v in prof.values):
        chk.problem(f"{where}.count", "expected whole numbers of agents")
        return None
    if prof is not None and prof.linear:
        chk.problem(f"{where}.interpolate", "agents log in and out whole: use \"step\"")
        return None
    return prof


def _past_end(t_s: float, end_s: float) -> str:
    """Where run second ``t_s`` (>= ``end_s``) is: at the run's end or after it (a time
    equal to the end read 'after the run ends (1200 s)' of 1200 s)."""
    return ("the run's end" if t_s == end_s
            else f"after the run ends ({end_s:g} s)")


def _run_checks(chk: _Checker, s: Mapping[str, Any], groups: Sequence[AgentGroup],
                campaigns: Sequence[Campaign], timeline: Sequence[Action] = ()) -> None:
    """Checks across sections, on valid values: the sizes a run allocates, what a campaign
    needs to dial at all (agents with its skill, a start inside the run), and the pacer's
    handling-time model."""
    end_s = float(s["warmup_s"]) + float(s["sim_hours"]) * 3600.0
    cells = math.ceil(end_s / float(s["interval_s"])) * max(1, len(campaigns))
    if cells > MAX_INTERVAL_CELLS:
        chk.problem("scenario.interval_s", f"the run's warm-up and measured time make "
                    f"{math.ceil(end_s / float(s['interval_s'])):,} intervals of "
                    f"{float(s['interval_s']):g} s for {len(campaigns)} job(s), "
                    f"{cells:,} table cells; expected at most {MAX_INTERVAL_CELLS:,} ({_MEM}): "
                    "raise interval_s or shorten the run")
    timed = sum(c.attempts_per_hour for c in campaigns if c.pacing == "timed") * end_s / 3600
    if timed > MAX_TIMED_ATTEMPTS:
        chk.problem("campaigns.attempts_per_hour", f"the timed campaigns would make "
                    f"{timed:,.0f} attempts over the run's {end_s / 3600:g} h; expected at most "
                    f"{MAX_TIMED_ATTEMPTS:,} ({_MEM}): shorten the run or lower the rates")
    made: dict[str, float] = {}  # contacts made per campaign template, copies included
    one_over = False  # one campaign's own arrivals over the bound: named below on their own
    for c in campaigns:
        arrivals = c.profile.get("new_contacts_per_hour")
        arriving = arrivals.hi * end_s / 3600 if arrivals is not None else 0.0
        one_over = one_over or arriving > MAX_MADE_CONTACTS
        made[c.template] = made.get(c.template, 0.0) + c.records + arriving
    if sum(made.values()) > MAX_MADE_CONTACTS and not one_over:
        most = max(made, key=made.__getitem__)
        chk.problem("campaigns.records", f"the campaigns' records (copies included) and "
                    f"arrivals make up to {sum(made.values()):,.0f} contacts ({most}: "
                    f"{made[most]:,.0f}); expected at most {MAX_MADE_CONTACTS:,} in all "
                    f"({_MADE})")
    for a in timeline:
        if a.at_s >= end_s:
            chk.warn(f"{a.where}.at", f"at run second {a.at_s:g}, {_past_end(a.at_s, end_s)}: "
                     "never happens")
    staffed: dict[str, int] = {}  # the dialer's agents (inbound desks are the ACD's)
    for g in groups:
        for sk in g.skills:
            staffed[sk] = staffed.get(sk, 0) + (g.count if g.direction == "outbound" else 0)
        if g.profile is None and g.login_s >= end_s and g.count:
            chk.warn(f"agents.{g.group}.login_s", f"the group logs in at {g.login_s:g} s, "
                     f"{_past_end(g.login_s, end_s)}: its agents take no call")
    seen: set[str] = set()
    for c in campaigns:
        if c.template in seen:
            continue
        seen.add(c.template)
        where = f"campaigns.{c.template}"
        if c.agent_based:
            if not staffed.get(c.skill):
                desk = any(c.skill in g.skills and g.count for g in groups
                           if g.direction != "outbound")
                chk.warn(f"{where}.skill", f"no agent with skill {c.skill!r} logs in ("
                         + ("only inbound desks hold it, and the dialer never staffs a job "
                            "with them" if desk else "every group having it counts 0")
                         + "): the campaign dials nothing")
            elif c.blending is not None and not any(
                    c.skill in g.skills and c.blending.skill in g.skills and g.count
                    for g in groups if g.direction == "outbound"):
                chk.warn(f"{where}.blending.skill", f"no outbound agent holds both the job's "
                         f"skill {c.skill!r} and {c.blending.skill!r}: the blending has nobody "
                         "to lend (an agent is lent only to a skill it holds)")
            if not c.talk.mean + c.wrap.mean > 0:
                chk.problem(f"{where}.talk.mean_s", "talk and wrap of an agent-based campaign "
                            "must last more than 0 s together (the pacer plans on the "
                            "handling time)")
            elif not c.talk.variance + c.wrap.variance > 0:
                chk.problem(f"{where}.talk.dist", "talk and wrap are both deterministic: the "
                            "pacer's handling-time model needs some spread; give one of them "
                            "a gamma or lognormal dist with a small cv")
        arrivals = c.profile.get("new_contacts_per_hour")
        if arrivals is not None and arrivals.hi * end_s / 3600 > MAX_MADE_CONTACTS:
            chk.problem(f"{where}.profile.new_contacts_per_hour", f"up to "
                        f"{arrivals.hi * end_s / 3600:,.0f} contacts would arrive over the "
                        f"run; expected at most {MAX_MADE_CONTACTS:,} ({_MADE})")
        if c.schedule.start_s >= end_s:
            chk.warn(f"{where}.schedule.start_s", f"the campaign starts at "
                     f"{c.schedule.start_s:g} s, {_past_end(c.schedule.start_s, end_s)}: it "
                     "makes no attempt")


def _as_list(chk: _Checker, v: Any, path: str) -> list:
    if isinstance(v, list):
        return v
    chk.problem(path, f"expected an array of tables ([[{path}]]), got {_tname(v)}")
    return []


def read_raw(path: str | Path, what: str = "scenario file",
             aside: str = " (contact lists go in their own files)") -> dict:
    """The parsed TOML of a scenario file (``ScenarioError`` when missing or not TOML).

    ``what`` names the kind of file in the messages (``outdial run`` reads its configuration
    through here too); ``aside`` follows the size limit. The file is read bounded (never a
    device, a pipe or more than ``MAX_FILE_BYTES``), a UTF-8 byte-order mark (what Windows
    editors write) is dropped, and nesting is bounded before anything walks it."""
    p = Path(path)
    if "\0" in str(p):  # the OS cannot take it: Path.exists raised ValueError
        raise ScenarioError(repr(str(p)), ["expected a file path, got one holding a NUL "
                                           "character"])
    too_big = ScenarioError(str(p), [f"expected a {what} of at most "
                                     f"{MAX_FILE_BYTES // 2**20} MiB{aside}"])
    try:
        if p.exists() and not p.is_file():
            raise ScenarioError(str(p), [f"expected a {what}, got {_file_kind(p)}"])
        if p.stat().st_size > MAX_FILE_BYTES:
            raise too_big
        with p.open("rb") as fh:  # bounded: a file can grow, or report a size of 0
            data = fh.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise too_big
        data = data.removeprefix(b"\xef\xbb\xbf")
        text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
        raw = tomllib.loads(text)
    except ScenarioError:
        raise
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise ScenarioError(str(p), ["file not found"]) from None
    except OSError as exc:
        raise ScenarioError(str(p), [f"cannot read: {exc.strerror or exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(p), [f"not valid TOML: {exc}"]) from None
    except UnicodeDecodeError as exc:
        line = data[:exc.start].replace(b"\r\n", b"\n").replace(b"\r", b"\n").count(b"\n") + 1
        raise ScenarioError(str(p), [f"not a UTF-8 text file (line {line} holds byte "
                                     f"{data[exc.start]:#04x}); save it as UTF-8"]) from None
    except RecursionError:
        raise ScenarioError(str(p), [_too_deep(None, what)]) from None
    except ValueError:  # int() past sys.get_int_max_str_digits(): tomllib lets it through
        raise ScenarioError(str(p), [f"not valid TOML: {_long_integer(text)}"]) from None
    _check_depth(raw, str(p), what)
    return raw


def _long_integer(text: str) -> str:
    """Why TOML text holding an integer too long for Python to convert cannot be read,
    with the line of the first such integer."""
    limit = sys.get_int_max_str_digits()
    m = re.search("[0-9][0-9_]{" + str(limit) + ",}", text)
    at = f" (at line {text.count(chr(10), 0, m.start()) + 1})" if m else ""
    return (f"expected numbers of at most {limit} digits, got a longer integer{at}; no "
            "scenario value needs more than a few digits")


def _file_kind(p: Path) -> str:
    """What a path that is not a regular file is, in words."""
    import stat

    try:
        mode = p.stat().st_mode
    except OSError:
        return "something unreadable"
    for test, what in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a pipe (FIFO)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return "not a regular file"


def _too_deep(where: str | None, what: str = "scenario file") -> str:
    at = f"{where}: " if where else ""
    return (f"{at}tables and arrays nested deeper than {MAX_DEPTH} levels; a {what} needs "
            "a handful")


def _check_depth(raw: Any, source: str, what: str = "scenario file") -> None:
    """Raise ``ScenarioError`` when tables/arrays nest deeper than ``MAX_DEPTH`` (checked
    without recursion, before anything copies or walks the structure recursively)."""
    stack: list[tuple[Any, int, str]] = [(raw, 0, "")]
    while stack:
        node, depth, where = stack.pop()
        if depth > MAX_DEPTH:
            raise ScenarioError(source, [_too_deep(where or None, what)])
        if isinstance(node, Mapping):
            stack.extend((v, depth + 1, f"{where}.{k}" if where else str(k))
                         for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, depth + 1, f"{where}[{i}]") for i, v in enumerate(node))


def load(path: str | Path, overrides: Mapping[str, Any] | None = None,
         raw: Mapping[str, Any] | None = None) -> Scenario:
    """Read, override and validate a scenario file. Raises ``ScenarioError`` on any problem.

    ``raw`` (the file's parsed TOML, ``read_raw``) skips reading the file again; overrides
    go through ``apply_overrides``.
    """
    p = Path(path)
    if raw is None:
        raw = read_raw(p)
    hidden = _overridden_mistakes(raw, overrides or {})
    if overrides:
        raw = apply_overrides(raw, overrides, str(p))
    try:
        scn = build(raw, str(p), p.parent)
        if hidden:
            raise ScenarioError(str(p), hidden)
        return scn
    except ScenarioError as exc:  # say where in the file each problem is
        problems = [*hidden, *exc.problems] if exc.problems != hidden else hidden
        try:
            text = p.read_text(encoding="utf-8").removeprefix("\ufeff")
        except (OSError, UnicodeDecodeError):
            raise ScenarioError(exc.source, problems) from None
        raise ScenarioError(exc.source, with_lines(text, problems,
                                                   _override_paths(raw, overrides or {}))) \
            from None


def _override_paths(raw: Mapping[str, Any], overrides: Mapping[str, Any]) -> list[str]:
    """The dotted keys ``overrides`` replaced, each also as the problems may spell it: an
    agent group or campaign named in the key (``agents.team.count``) by its index too
    (``agents[0].count``)."""
    out = []
    for key in overrides:
        out.append(key)
        parts = key.split(".")
        at = re.fullmatch(r"(campaigns|agents)\[(\d+)\]", parts[0].strip())
        rows = raw.get(at.group(1)) if at else None
        if at and isinstance(rows, list) and int(at.group(2)) < len(rows) \
                and isinstance(rows[int(at.group(2))], Mapping):
            name = _campaign_path if at.group(1) == "campaigns" else _group_path
            out.append(".".join([name(rows[int(at.group(2))], int(at.group(2))), *parts[1:]]))
        table = {"agents": "group", "campaigns": "name"}.get(parts[0])
        rows = raw.get(parts[0]) if table else None
        if len(parts) < 2 or not isinstance(rows, list):
            continue
        named = [i for i, row in enumerate(rows)
                 if isinstance(row, Mapping) and row.get(table) == parts[1]]
        for i in named:
            out.append(".".join([f"{parts[0]}[{i}]", *parts[2:]]))
        if named:
            continue
        for i, row in enumerate(rows):  # the form for every entry: agents.count
            out.append(".".join([f"{parts[0]}[{i}]", *parts[1:]]))
            if isinstance(row, Mapping) and isinstance(row.get(table), str):
                out.append(".".join([parts[0], row[table], *parts[1:]]))
    return out


def _overridden_mistakes(raw: Mapping[str, Any], overrides: Mapping[str, Any]) -> list[str]:
    """Problems of the file's own values of the section keys an override replaces
    (``--hours`` replacing ``sim_hours = "1h"``): a file that only runs with an option is
    still refused, so ``validate`` and every command agree on it."""
    chk = _Checker("", None)
    for dotted in overrides:
        sec, _, key = dotted.partition(".")
        spec = _SECTIONS.get(sec, {}).get(key)
        table = raw.get(sec)
        if spec is None or not isinstance(table, Mapping) or key not in table:
            continue
        n0 = len(chk.problems)
        chk.value(table[key], spec, dotted)
        for k in range(n0, len(chk.problems)):
            chk.problems[k] += " (the file's value, replaced by an option: fix the file)"
    return chk.problems


def apply_overrides(raw: Mapping[str, Any], overrides: Mapping[str, Any],
                    source: str = "<scenario>") -> dict[str, Any]:
    """Set dotted key paths on a copy of ``raw``.

    ``scenario.sim_hours``, ``telephony.ports`` address tables; ``campaigns.outcomes.live``
    sets the key in every campaign; ``campaigns.NAME.max_agents`` in the campaign whose
    ``name`` is NAME; ``agents.count`` in every agent group (``agents.GROUP.count`` in one).
    """
    out = copy.deepcopy(dict(raw))
    problems = []
    counts_before = _group_counts(out)
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        if not all(part.strip() for part in parts):
            problems.append(f"{dotted}: expected a dotted key path such as "
                            "scenario.sim_hours or campaigns.NAME.max_agents")
            continue
        at = re.fullmatch(r"(campaigns|agents|inbound)\[(\d+)\]", parts[0].strip())
        if at:  # the form problems are named in: agents[0].count
            items = out.get(at.group(1), [])
            n = int(at.group(2))
            if not isinstance(items, list) or n >= len(items) or not isinstance(items[n], dict) \
                    or len(parts) < 2:
                last = len(items) - 1 if isinstance(items, list) else -1
                problems.append(f"{dotted}: expected {at.group(1)}[N].key with N the index of "
                                f"an entry (0 to {last})")
                continue
            if (why := _set_path(items[n], parts[1:], value)) is not None:
                problems.append(f"{dotted}: {at.group(1)}[{n}].{why}")
            continue
        if parts[0] in ("campaigns", "agents", "inbound"):
            key = {"campaigns": "name", "agents": "group", "inbound": "skill"}[parts[0]]
            items = out.get(parts[0], [])
            if not isinstance(items, list):
                items = []
            elif not any(isinstance(it, dict) for it in items):
                problems.append(f"{dotted}: the scenario has no [[{parts[0]}]] entry to set it "
                                "in")
                continue
            rest = parts[1:]
            keys = {**_ARRAY_KEYS[parts[0]], **{k: None for it in items if isinstance(it, dict)
                                                for k in it}}
            if len(rest) >= 2 and rest[0] not in keys and not any(
                    isinstance(it, dict) and it.get(key) == rest[0] for it in items):
                names = ", ".join(str(it.get(key)) for it in items if isinstance(it, dict))
                dotted_name = next((i for i, it in enumerate(items) if isinstance(it, dict)
                                    and ".".join(rest).startswith(f"{it.get(key)}.")), None)
                hint = "" if dotted_name is None else (  # 'sales.uk' splits at its dot
                    f"; an entry whose {key} holds a dot is set by its index: "
                    f"{parts[0]}[{dotted_name}]."
                    f"{'.'.join(rest)[len(str(items[dotted_name].get(key))) + 1:]}")
                copy_of = re.fullmatch(r"(.+)-\d{3,}", rest[0])
                if copy_of and parts[0] == "campaigns" and any(
                        isinstance(it, dict) and it.get(key) == copy_of.group(1)
                        and isinstance(it.get("copies"), int) and it["copies"] > 1
                        for it in items):
                    hint = (f"; {rest[0]!r} is a copy of {copy_of.group(1)!r} (copies = N): "
                            f"its copies are set together, campaigns.{copy_of.group(1)}."
                            f"{'.'.join(rest[1:])}; for one apart, give it an entry of its own")
                problems.append(f"{dotted}: no [[{parts[0]}]] entry has {key} {rest[0]!r} "
                                f"(they are: {names}) and {rest[0]!r} is not one of their "
                                f"keys{hint}")
                continue
            if rest and any(isinstance(it, dict) and it.get(key) == rest[0] for it in items):
                targets = [it for it in items if isinstance(it, dict)
                           and it.get(key) == rest[0]]
                rest = rest[1:]
            else:
                targets = [it for it in items if isinstance(it, dict)]
                if len(rest) >= 2 and rest[0] in _SPARSE_TABLES[parts[0]]:
                    having = [it for it in targets if isinstance(it.get(rest[0]), dict)]
                    targets = having or targets  # a blended job's, not a half table
            if not rest or not targets:
                problems.append(f"{dotted}: expected {parts[0]}[.NAME].key naming an "
                                "existing entry")
                continue
            for it in targets:
                if (why := _set_path(it, rest, value)) is not None:
                    problems.append(f"{dotted}: {parts[0]}.{why}")
                    break
        elif (why := _set_path(out, parts, value)) is not None:
            problems.append(f"{dotted}: {why}")
    if problems:
        raise ScenarioError(source, problems)
    _rebalance_outcomes(out, overrides)
    _rescale_profiles(out, counts_before, overrides)
    return out


def _group_counts(raw: Mapping[str, Any]) -> list[Any]:
    """Each ``[[agents]]`` entry's ``count`` as written (None where it is no entry)."""
    groups = raw.get("agents")
    return [g.get("count") if isinstance(g, dict) else None
            for g in (groups if isinstance(groups, list) else [])]


def _rescale_profiles(raw: dict, before: Sequence[Any], overrides: Mapping[str, Any]
                      ) -> None:
    """A group whose ``count`` an override changed keeps its day's shape: its
    ``profile.count`` values scale by new / old count (rounded, at most the new count), and
    so do the ``agents`` of the timeline's logoffs of the group (at least 1), in place,
    unless an override set the profile (the timeline) itself. So ``sweep --vary
    agents=...`` and ``size --find agents`` resize a scenario with shifts instead of
    refusing every count under the profile's peak."""
    groups = raw.get("agents")
    if not isinstance(groups, list):
        return
    own_profile = any(k.startswith("agents") and "profile" in k for k in overrides)
    own_timeline = any(k.startswith("timeline") for k in overrides)
    timeline = raw.get("timeline")
    for g, old in zip(groups, before, strict=False):
        new = g.get("count") if isinstance(g, dict) else None
        if (not isinstance(new, int) or isinstance(new, bool) or not isinstance(old, int)
                or isinstance(old, bool) or old <= 0 or new == old):
            continue
        counts = g["profile"].get("count") if isinstance(g.get("profile"), dict) else None
        if not own_profile and isinstance(counts, list) and all(
                isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c)
                for c in counts):
            g["profile"]["count"] = [min(new, max(0, math.floor(c * new / old + 0.5)))
                                     for c in counts]
        if own_timeline or not isinstance(timeline, list):
            continue
        for e in timeline:
            n = e.get("agents") if isinstance(e, dict) else None
            if (e.get("action") == "logoff" and e.get("group") == g.get("group")
                    and isinstance(n, int) and not isinstance(n, bool) and new > 0):
                e["agents"] = min(new, max(1, math.floor(n * new / old + 0.5)))


# Tables an entry may lack, whose required keys one override cannot give (a blending
# table needs its skill): `campaigns.blending.enabled=false` sets the key in the entries
# that have the table (every entry when none has it, for the problem to name it).
_SPARSE_TABLES: dict[str, tuple[str, ...]] = {
    "campaigns": ("blending", "skill_pacing", "profile", "strategy", "regulation"),
    "agents": ("profile",),
    "inbound": ("profile",),
}

# The keys an entry of each array takes (its own and its tables'): a --set naming neither an
# entry nor one of these is a misspelt name.
_ARRAY_KEYS: dict[str, dict[str, None]] = {
    "campaigns": dict.fromkeys([*_CAMPAIGN, *_CAMPAIGN_TABLES, *_ENGINE_TABLES,
                                *_BLEND_TABLES, "profile", "regulation"]),
    "agents": dict.fromkeys([*_AGENTS, "profile"]),
    "inbound": dict.fromkeys([*_INBOUND, "talk", "wrap", "patience", "profile"]),
}
OUTCOME_SHARES = ("live", "machine", "busy", "no_answer", "invalid")


def _rebalance_outcomes(raw: dict, overrides: Mapping[str, Any]) -> None:
    """Rescale the outcome shares no override set, in every campaign an override touched,
    so the five shares sum to 1 again (in place). Left alone when the set shares exceed 1 or
    the others are all 0: validation then reports the sum."""
    fixed: dict[int, set[str]] = {}
    camps = raw.get("campaigns", [])
    if not isinstance(camps, list):
        return
    for dotted in overrides:
        parts = dotted.split(".")
        if parts[0] != "campaigns" or len(parts) < 3 or parts[-2] != "outcomes" \
                or parts[-1] not in OUTCOME_SHARES:
            continue
        name = parts[1] if len(parts) == 4 else None
        for i, c in enumerate(camps):
            if isinstance(c, dict) and (name is None or c.get("name") == name):
                fixed.setdefault(i, set()).add(parts[-1])
    for i, keys in fixed.items():
        out = camps[i].setdefault("outcomes", {})
        if not isinstance(out, dict):
            continue
        share = {k: out.get(k, _OUTCOMES[k].default) for k in OUTCOME_SHARES}
        if not all(isinstance(v, int | float) and not isinstance(v, bool)
                   for v in share.values()):
            continue
        free = [k for k in OUTCOME_SHARES if k not in keys]
        s_fixed = sum(share[k] for k in keys)
        s_free = sum(share[k] for k in free)
        if not s_free > 0 or s_fixed > 1:
            continue
        for k in free:
            out[k] = share[k] * (1.0 - s_fixed) / s_free


def _set_path(d: dict, parts: list[str], value: Any) -> str | None:
    """Set ``value`` at ``parts`` under ``d`` (tables made as needed); returns why not when
    the path runs through a value that is not a table (``scenario.name.x``)."""
    for k, p in enumerate(parts[:-1]):
        d = d.setdefault(p, {})
        if not isinstance(d, dict):
            return (f"{'.'.join(parts[:k + 1])} is {_tname(d)} {reprlib.repr(d)}, not a table: "
                    "expected a key path ending at a value")
    d[parts[-1]] = value
    return None


def override_value(text: str) -> Any:
    """Parse a command-line override value with TOML's rules (``3`` int, ``0.5`` float...);
    text TOML cannot read is taken as a string.

    Raises:
        ValueError: for a value TOML reads but Python cannot hold: arrays or tables nested
            past the recursion limit, an integer of thousands of digits.
    """
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    except RecursionError:
        raise ValueError(_too_deep(None, "scenario value")) from None
    except ValueError:  # int() past sys.get_int_max_str_digits()
        raise ValueError(_long_integer(text).replace(" (at line 1)", "")) from None


def parse_policy(policy: str) -> tuple[str, float | None]:
    """``predictive``, ``progressive``, ``vicidial-tapered``, ``ratio:1.5`` -> (pacing, ratio)
    (``engine.vocab.parse_pacing``, agent pacings only)."""
    spec = parse_pacing(policy, agent_only=True, what="policy")
    top = _CAMPAIGN["ratio"]
    if spec.ratio is not None and spec.ratio > top.hi:
        raise ValueError(f"policy {policy!r}: expected a ratio <= {top.hi:g} {top.unit} "
                         f"({top.why}), got {spec.ratio:g}")
    return spec.name, spec.ratio


def with_policy(scn: Scenario, policy: str) -> Scenario:
    """The scenario with every agent-based campaign paced by ``policy`` (jobs of a manual or
    preview license, whose agents place each call, keep their preview pacing: made
    progressive, a preview-licensed job ran as no scenario may write it). A policy without
    its ratio
    (``progressive``) keeps a campaign's own where it already paces that way, else takes the
    ratio's default: a ratio means lines per agent to a ``ratio`` campaign and lines per idle
    agent to a progressive one, so ``ratio:2`` made progressive at 2 would dial twice per
    idle agent. ``ValueError`` names the policy and the campaign when the pacer would refuse
    the result (``progressive:0.5``)."""
    pacing, ratio = parse_policy(policy)
    default = _CAMPAIGN["ratio"].default
    camps = []
    chk = _Checker("", None)
    for c in scn.campaigns:
        if c.agent_based and c.license not in AGENT_PLACED:
            own = c.ratio if c.pacing == pacing else default
            c = replace(c, pacing=pacing, ratio=ratio if ratio is not None else own)
            _check_license(chk, f"campaigns.{c.template}", {}, c.channel, c.pacing, c.license)
        camps.append(c)
    out = replace(scn, campaigns=tuple(camps))
    _pacer_checks(chk, out)
    if chk.problems:
        raise ValueError(f"policy {policy!r}: " + "; ".join(chk.problems))
    return out

"""The ``outdial run`` configuration: a TOML file naming the jobs (a scenario file), the
store, the events sink, the three live endpoints and their credentials.

Credentials are never written in the file itself: each ``password_env`` names an
environment variable and each ``password_file`` a file holding the secret. They are read
once here, kept out of every ``repr``, message and log, and handed only to the adapters.
Every problem is reported together, each naming the file, the key and what was expected.

Example (``scenarios/live-emulated.toml`` ships one)::

    [run]
    scenario = "single-50-predictive.toml"   # the jobs: campaigns, contacts, agents
    hours = 0.05                              # run length (omit: until stopped)
    [store]
    sqlite = "live.sqlite"
    [events]
    jsonl = "live-events.jsonl"             # and/or kafka = "broker1:9092,broker2:9092"
    [epm]
    url = "https://127.0.0.1:8443/axis2/services/AppIntfWS"
    user = "outdial"
    password_env = "OUTDIAL_EPM_PASSWORD"
    ca_file = "ca.pem"
    [aes]
    host = "127.0.0.1"
    port = 4722
    tls = true
    user = "outdial"
    password_file = "/etc/outdial/aes.secret"
    [cms]
    port = 5300
    skills = { sales = 12, care = 14 }     # skill names by their number in the report
    [control]
    socket = "/run/outdial/sales.control"  # outdial control's socket (default: beside
                                           # the SQLite store, <store>.control)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """One or more problems in the run configuration (each names file and key)."""


class Secret:
    """A credential: its value is only reachable through ``reveal()``."""

    __slots__ = ("_value", "origin")

    def __init__(self, value: str, origin: str):
        self._value = value
        self.origin = origin

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret(from {self.origin})"

    __str__ = __repr__


@dataclass(frozen=True)
class Endpoint:
    """One live system's address and credentials (``password`` None: not configured)."""

    host: str = "127.0.0.1"
    port: int = 0
    url: str = ""
    user: str = "outdial"
    password: Secret | None = None
    tls: bool = True
    ca_file: str | None = None
    poll_s: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LiveConfig:
    source: Path
    scenario: Path
    hours: float | None
    speed: float
    drain_s: float
    seed: int | None
    store_sqlite: Path | None
    store_postgres: Secret | None
    store_schema: str | None
    synchronous: str
    events_jsonl: Path | None
    events_kafka: str | None
    epm: Endpoint
    aes: Endpoint
    cms: Endpoint
    first_station: int
    cms_layout: Any = None  # adapters.cms.framing.Layout
    cms_skills: dict[int, str] = field(default_factory=dict)  # report number -> skill name
    cms_stale_s: float = 60.0  # wall seconds without a CMS refresh: the skills are unknown
    aes_stale_s: float = 10.0  # wall seconds without AES: ready agents are held not ready
    emulate_tls: bool = True
    control: bool = True  # the control socket (``outdial control``) is served
    control_socket: Path | None = None  # None: ``control_path``'s default

    def control_path(self) -> Path:
        """The control socket: ``[control] socket``, else ``beside_store(".control")``."""
        if self.control_socket is not None:
            return self.control_socket
        return self.beside_store(".control")

    def beside_store(self, suffix: str) -> Path:
        """A path beside the SQLite store (``<store><suffix>``), or with PostgreSQL beside
        this file (``<file stem><suffix>``)."""
        if self.store_sqlite is not None:
            return self.store_sqlite.with_name(self.store_sqlite.name + suffix)
        return self.source.with_name(self.source.stem + suffix)


_TOP = {"run", "store", "events", "epm", "aes", "cms", "emulate", "control"}
_SECRET = ("password_env", "password_file", "password")  # ``password``: refused by name
# The keys each table takes: any other is a problem (a typo such as ``hourz`` would
# otherwise be dropped silently, the run going on until stopped).
_KEYS: dict[str, tuple[str, ...]] = {
    "run": ("scenario", "hours", "speed", "drain_s", "seed"),
    "store": ("sqlite", "postgres_env", "postgres_file", "postgres", "synchronous",
              "schema"),
    "events": ("jsonl", "kafka"),
    "epm": ("url", "user", *_SECRET, "ca_file", "application", "poll_s"),
    "aes": ("host", "port", "tls", "ca_file", "user", *_SECRET, "first_station", "poll_s",
            "stale_s"),
    "cms": ("listen", "port", "layout", "skills", "stale_s"),
    "emulate": ("tls",),
    "control": ("enabled", "socket"),
}


class _Reader:
    def __init__(self, path: Path, data: dict[str, Any]):
        self.path, self.data = path, data
        self.problems: list[str] = []

    def bad(self, key: str, expected: str, got: Any = None) -> None:
        got_s = "" if got is None else f", got {got!r}"
        self.problems.append(f"{self.path}: {key}: expected {expected}{got_s}")

    def table(self, name: str) -> dict[str, Any]:
        t = self.data.get(name, {})
        if not isinstance(t, dict):
            self.bad(name, "a table")
            return {}
        return t

    def get(self, t: dict[str, Any], sect: str, key: str, kind: type | tuple, default: Any,
            check: Any = None, what: str = "") -> Any:
        if key not in t:
            return default
        v = t[key]
        if kind is float and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if not isinstance(v, kind) or (isinstance(v, bool) and kind is not bool):
            self.bad(f"{sect}.{key}", what or getattr(kind, "__name__", str(kind)), v)
            return default
        if check is not None and not check(v):
            self.bad(f"{sect}.{key}", what, v)
            return default
        return v

    def path_of(self, value: str | None) -> Path | None:
        if value is None:
            return None
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.path.parent / p)

    def secret(self, t: dict[str, Any], sect: str, env: dict[str, str],
               env_key: str = "password_env", file_key: str = "password_file"
               ) -> Secret | None:
        if "password" in t and env_key == "password_env":
            self.problems.append(f"{self.path}: {sect}.password: secrets are not written in "
                                 "the file; use password_env (a variable name) or "
                                 "password_file (a file holding it)")
        name = self.get(t, sect, env_key, str, None)
        file = self.get(t, sect, file_key, str, None)
        if name is not None and file is not None:
            self.bad(f"{sect}", f"{env_key} or {file_key}, not both")
            return None
        if name is not None:
            if name not in env:
                self.problems.append(f"{self.path}: {sect}.{env_key}: the environment "
                                     f"variable {name} is not set")
                return None
            return Secret(env[name], f"${name}")
        if file is not None:
            p = self.path_of(file)
            try:
                return Secret(p.read_text(encoding="utf-8").rstrip("\r\n"), str(p))
            except OSError as e:
                self.problems.append(f"{self.path}: {sect}.{file_key}: cannot read {p} "
                                     f"({e.strerror})")
        return None


MAX_SEED = 2**62  # as a scenario's seed
MAX_HOURS = 8784.0  # a (leap) year: a longer run is one left to run until stopped
MIN_SPEED, MAX_SPEED = 0.01, 1000.0  # run seconds per wall second (emulated runs)
HOURS_WHAT = f"hours > 0 and <= {MAX_HOURS:g} (a year; omit it to run until stopped)"
SPEED_WHAT = (f"run seconds per wall second from {MIN_SPEED:g} to {MAX_SPEED:g} (faster, "
              "the emulators' clock arithmetic breaks down; slower, nothing happens)")


def _text(v: str) -> bool:
    """A name or path: not blank, no NUL (the OS and the protocols cannot carry one)."""
    return bool(v.strip()) and "\0" not in v


def hours_ok(v: float) -> bool:
    """A run length in hours the clock can hold (NaN and infinities refused)."""
    return 0 < v <= MAX_HOURS


def speed_ok(v: float) -> bool:
    """A clock speed the emulated run can keep (NaN and infinities refused)."""
    return MIN_SPEED <= v <= MAX_SPEED


def _user_ok(endpoint: str):
    """A user name check: printable text (no control character can travel in a header or
    an XML login); for the web service's HTTP Digest also Latin-1 without quotes."""
    def ok(v: str) -> bool:
        if not _text(v) or not v.isprintable():
            return False
        if endpoint == "epm":
            return '"' not in v and all(ord(c) < 256 for c in v)
        return True
    return ok


MIN_POLL_S, MAX_POLL_S = 0.01, 3600.0
POLL_WHAT = f"seconds from {MIN_POLL_S:g} to {MAX_POLL_S:g}"


def _poll(v: float) -> bool:
    return MIN_POLL_S <= v <= MAX_POLL_S


def url_problem(url: str) -> str | None:
    """What is wrong with the outcall web service's URL (None: nothing): an http(s) URL
    with a host, a port 1..65535 if one is given, and no credentials in it."""
    import urllib.parse
    try:
        u = urllib.parse.urlsplit(url)
        port = u.port
    except ValueError as e:  # an unclosed IPv6 bracket, a port that is no port
        return f"an http:// or https:// URL ({e})"
    if u.scheme not in ("http", "https") or not u.hostname:
        return "an http:// or https:// URL with a host"
    if port == 0:
        return "a port 1..65535"
    if u.username or u.password:
        return "no credentials in the URL (user, and password_env or password_file)"
    if any(c.isspace() or c == "\0" for c in url):
        return "no spaces or NUL in the URL"
    return None


def kafka_problem(servers: str) -> str | None:
    """What is wrong with a ``host:port[,host:port...]`` bootstrap list (None: nothing)."""
    for item in servers.split(","):
        host, sep, port = item.strip().rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if not sep or not host or (":" in host and not item.strip().startswith("[")) \
                or any(c.isspace() for c in host) or not (port.isascii() and port.isdigit()
                                                          and 0 < int(port) < 65536):
            return f"{item.strip()!r} is not host:port (port 1..65535)"
    return None


def load_config(path: str | os.PathLike[str], env: dict[str, str] | None = None,
                emulate: bool = False) -> LiveConfig:
    """Read and check the configuration at ``path``; ``ConfigError`` lists every problem.

    With ``emulate`` missing credentials are allowed (the emulators get generated ones)."""
    path = Path(path)
    env = dict(os.environ) if env is None else env
    from sim.scenario import ScenarioError, read_raw

    try:  # read as a scenario is: bounded size and nesting, UTF-8, never a device or pipe
        data = read_raw(path, "run configuration file", "")
    except ScenarioError as e:
        raise ConfigError("\n".join(f"{path}: cannot read the run configuration: {p}"
                                     for p in e.problems)) from None
    r = _Reader(path, data)
    for k in data:
        if k not in _TOP:
            r.bad(k, f"one of the tables {', '.join(sorted(_TOP))}")
        elif isinstance(data[k], dict):
            for key in data[k]:
                if key not in _KEYS[k]:
                    shown = ", ".join(x for x in _KEYS[k] if x not in ("password", "postgres"))
                    r.problems.append(f"{path}: {k}.{key}: unknown key; [{k}] takes "
                                      f"{shown}")
    run = r.table("run")
    scenario = r.get(run, "run", "scenario", str, None, _text, "a scenario file path")
    if scenario is None and "scenario" not in run:
        r.problems.append(f"{path}: run.scenario: missing (the scenario file whose "
                          "[[campaigns]] are the jobs)")
    hours = r.get(run, "run", "hours", float, None, hours_ok, HOURS_WHAT)
    speed = r.get(run, "run", "speed", float, 1.0, speed_ok, SPEED_WHAT)
    drain_s = r.get(run, "run", "drain_s", float, 10.0, lambda v: 0 <= v <= 3600.0,
                    "seconds from 0 to 3600")
    seed = r.get(run, "run", "seed", int, None, lambda v: 0 <= v <= MAX_SEED,
                 f"an integer from 0 to {MAX_SEED} (the emulated platform's random seed)")
    st = r.table("store")
    sqlite = r.get(st, "store", "sqlite", str, None, _text, "a database file path")
    pg = (r.secret(st, "store", env, "postgres_env", "postgres_file")
          if "postgres_env" in st or "postgres_file" in st else None)
    if "postgres" in st:
        r.problems.append(f"{path}: store.postgres: a connection string carries a password; "
                          "use postgres_env (a variable holding it) or postgres_file")
    has_pg = "postgres_env" in st or "postgres_file" in st
    if (sqlite is None) == (not has_pg):
        r.bad("store", "exactly one of sqlite (a file) or postgres_env / postgres_file")
    sync = r.get(st, "store", "synchronous", str, "FULL",
                 lambda v: v.upper() in ("NORMAL", "FULL", "EXTRA"), "NORMAL, FULL or EXTRA")
    schema = r.get(st, "store", "schema", str, None)
    ev = r.table("events")
    jsonl = r.get(ev, "events", "jsonl", str, None, _text, "an events file path")
    kafka = r.get(ev, "events", "kafka", str, None, lambda v: kafka_problem(v) is None,
                  "bootstrap servers host:port[,host:port...] (ports 1..65535)")

    def endpoint(name: str, default_port: int) -> Endpoint:
        t = r.table(name)
        pw = r.secret(t, name, env)
        if pw is None and not emulate and not any(p.startswith(f"{path}: {name}.")
                                                  for p in r.problems):
            r.problems.append(f"{path}: {name}: no credentials (password_env or "
                              "password_file)")
        ca = r.get(t, name, "ca_file", str, None, _text, "a CA certificate file path")
        if ca and not emulate:  # an emulated run makes its own CA
            try:
                with open(r.path_of(ca), "rb") as fh:
                    fh.read(1)
            except OSError as e:
                r.problems.append(f"{path}: {name}.ca_file: cannot read {r.path_of(ca)} "
                                  f"({e.strerror})")
        url = r.get(t, name, "url", str, "")
        if url and (why := url_problem(url)) is not None:
            r.bad(f"{name}.url", why, url.split("@")[-1])  # never echo credentials
            url = ""
        lo = 0 if emulate else 1  # a client cannot connect to port 0
        extra = {k: v for k, v in t.items() if k in ("layout", "listen")}
        if "application" in t:
            extra["application"] = r.get(t, name, "application", str, "outdial", _text,
                                         "the application's name on the voice portal")
        return Endpoint(
            host=r.get(t, name, "host", str, "127.0.0.1", _text, "a host name or address"),
            port=r.get(t, name, "port", int, default_port, lambda v: lo <= v < 65536,
                       f"a port {lo}..65535"),
            url=url,
            user=r.get(t, name, "user", str, "outdial", _user_ok(name),
                       "a user name of printable characters"
                       + (" in Latin-1, without quotes (HTTP Digest carries it so)"
                          if name == "epm" else "")),
            password=pw,
            tls=r.get(t, name, "tls", bool, True),
            ca_file=str(r.path_of(ca)) if ca else None,
            poll_s=r.get(t, name, "poll_s", float, 1.0 if name == "aes" else 0.25,
                         _poll, POLL_WHAT),
            extra=extra,
        )

    epm = endpoint("epm", 443)
    if not epm.url and not emulate and "url" not in r.table("epm"):
        r.problems.append(f"{path}: epm.url: missing (the outcall web service's URL)")
    aes = endpoint("aes", 4722)
    cms_t = r.table("cms")
    cms = Endpoint(host=r.get(cms_t, "cms", "listen", str, "0.0.0.0"),
                   port=r.get(cms_t, "cms", "port", int, 0, lambda v: 0 <= v < 65536,
                              "a port 0..65535"), tls=False)
    layout = None
    if "layout" in cms_t:
        from adapters.cms.framing import SPLIT_SKILL, VDN, Layout, LayoutError
        lay = cms_t["layout"]
        if lay in ("split_skill", "vdn"):
            layout = SPLIT_SKILL if lay == "split_skill" else VDN
        elif isinstance(lay, dict):
            try:
                layout = Layout.from_config("site", lay)
            except LayoutError as e:
                r.problems.append(f"{path}: cms.layout: {e}")
        else:
            r.bad("cms.layout", "\"split_skill\", \"vdn\" or a table {key, columns}", lay)
    skills_t = r.get(cms_t, "cms", "skills", dict, {})
    cms_skills: dict[int, str] = {}
    for name, num in skills_t.items():
        if isinstance(num, int) and not isinstance(num, bool) and num >= 0:
            cms_skills[num] = str(name)
        else:
            r.bad(f"cms.skills.{name}", "the skill's number in the CMS report (an int >= 0)",
                  num)
    if len(set(cms_skills.values())) != len(cms_skills):
        r.bad("cms.skills", "one report number per skill name")
    cms_stale_s = r.get(cms_t, "cms", "stale_s", float, 60.0, lambda v: 1.0 <= v <= 86400.0,
                        "seconds from 1 to 86400 without a refresh before the skills' "
                        "states count as unknown")
    first_station = r.get(r.table("aes"), "aes", "first_station", int, 5000,
                          lambda v: v >= 0, "an extension number >= 0")
    aes_stale_s = r.get(r.table("aes"), "aes", "stale_s", float, 10.0,
                        lambda v: 1.0 <= v <= 86400.0, "seconds from 1 to 86400 without AES "
                        "before the ready agents are held not ready")
    emu = r.table("emulate")
    emulate_tls = r.get(emu, "emulate", "tls", bool, True)
    ctl = r.table("control")
    control = r.get(ctl, "control", "enabled", bool, True)
    control_socket = r.get(ctl, "control", "socket", str, None, _text, "a socket file path")
    if r.problems:
        raise ConfigError("\n".join(r.problems))
    return LiveConfig(source=path, scenario=r.path_of(scenario), hours=hours, speed=speed,
                      drain_s=drain_s, seed=seed, store_sqlite=r.path_of(sqlite),
                      store_postgres=pg, store_schema=schema, synchronous=sync.upper(),
                      events_jsonl=r.path_of(jsonl), events_kafka=kafka, epm=epm, aes=aes, cms=cms,
                      first_station=first_station, cms_layout=layout, cms_skills=cms_skills,
                      cms_stale_s=cms_stale_s, aes_stale_s=aes_stale_s,
                      emulate_tls=emulate_tls, control=control,
                      control_socket=r.path_of(control_socket))

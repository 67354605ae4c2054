"""A world that changes over the day: piecewise profiles and a supervisor's timeline.

A *profile* gives a quantity at points of the run clock and holds it (``interpolate =
"step"``, the default, as workforce plans are written per interval) or draws straight lines
between them (``"linear"``); before the first point and after the last it keeps the nearest
value. Points are run-clock seconds (numbers, 0 = the run's start, warm-up included) or
times of day ``"HH:MM"`` / ``"HH:MM:SS"`` at the scenario's UTC offset, read as the first
such time at or after ``scenario.start``::

    [campaigns.profile]                 # one campaign's day
    at = ["08:00", "12:00", "21:00"]
    interpolate = "linear"
    live = [0.35, 0.25, 0.15]           # live-answer share (machine, busy, no_answer and
                                        # invalid keep their proportions of the rest)
    talk_mean_s = [180, 200, 240]       # talk and wrap means, seconds (shape kept)
    wrap_mean_s = [20, 20, 30]
    new_contacts_per_hour = [0, 400, 0] # contacts arriving into the list (synthetic lists)

    [agents.profile]                    # agents of the group logged in (shifts, breaks)
    at = ["08:00", "10:00", "12:30", "13:30", "20:00"]
    count = [20, 40, 30, 40, 10]

    [[timeline]]                        # what a supervisor does, when
    at = "14:00"
    action = "pause"                    # pause | resume | stop | set | logoff
    campaign = "sales"                  # a campaign's name (one copy) or template (all)

This module parses and checks them into plain objects (no SimPy); ``sim.day`` plays them.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

Problem = Callable[[str, str], None]
INTERPOLATIONS = ("step", "linear")
MAX_POINTS = 10_000
ACTIONS = ("pause", "resume", "stop", "set", "logoff")
_TOD = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
# campaign profile key -> (lowest, highest, unit and reason of the bound)
CAMPAIGN_KEYS: dict[str, tuple[float, float, str]] = {
    "live": (0.0, 1.0, "a fraction 0..1: 3 % is 0.03"),
    "talk_mean_s": (0.0, 86_400.0, "s, at most a day"),
    "wrap_mean_s": (0.0, 86_400.0, "s, at most a day"),
    "new_contacts_per_hour": (0.0, 10_000_000.0, "per hour; more would not fit in memory"),
}


@dataclass(frozen=True)
class Profile:
    """A piecewise function of the run clock (seconds): ``value(t)``."""

    at_s: tuple[float, ...]
    values: tuple[float, ...]
    linear: bool = False

    def value(self, t: float) -> float:
        i = bisect.bisect_right(self.at_s, t) - 1
        if i < 0:
            return self.values[0]
        if i >= len(self.at_s) - 1 or not self.linear:
            return self.values[i]
        t0, t1 = self.at_s[i], self.at_s[i + 1]
        v0, v1 = self.values[i], self.values[i + 1]
        return v0 + (v1 - v0) * (t - t0) / (t1 - t0)

    def changes(self, end_s: float, step_s: float) -> list[float]:
        """The run-clock instants in ``[0, end_s)`` where the value may change: each point,
        and every ``step_s`` between points of a linear profile."""
        out = {0.0}
        for k, t in enumerate(self.at_s):
            if t < end_s:
                out.add(t)
            if self.linear and k + 1 < len(self.at_s):
                x = t + step_s
                while x < min(self.at_s[k + 1], end_s):
                    out.add(x)
                    x += step_s
        return sorted(out)

    @property
    def lo(self) -> float:
        return min(self.values)

    @property
    def hi(self) -> float:
        return max(self.values)


@dataclass(frozen=True)
class Action:
    """One supervisor action at ``at_s`` (run clock): on the jobs ``jobs`` (indices), or
    forcing the logoff of ``count`` of the agents ``agents`` (indices; those logged in at
    the time, the last first)."""

    at_s: float
    action: str
    jobs: tuple[int, ...] = ()
    agents: tuple[int, ...] = ()
    count: int = 0
    min_agents: int | None = None
    max_agents: int | None = None
    priority: int | None = None
    where: str = ""


def run_seconds(v: Any, start: datetime, path: str, problem: Problem) -> float | None:
    """A profile point: run-clock seconds (a number >= 0) or ``"HH:MM[:SS]"`` at the
    start's offset, the first such time at or after the start."""
    if isinstance(v, int | float) and not isinstance(v, bool):
        if not math.isfinite(v) or v < 0:
            problem(path, f"expected run-clock seconds >= 0 or a time \"HH:MM\", got {v!r}")
            return None
        return float(v)
    m = _TOD.match(v) if isinstance(v, str) else None
    if m is None:
        problem(path, f"expected run-clock seconds or a time of day \"HH:MM\", got {v!r}")
        return None
    h, mi, se = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if h > 23 or mi > 59 or se > 59:
        problem(path, f"expected a time of day 00:00..23:59, got {v!r}")
        return None
    local = start.astimezone(start.tzinfo)
    at = local.replace(hour=h, minute=mi, second=se, microsecond=0)
    if at < local:
        at += timedelta(days=1)
    return (at - local).total_seconds()


def _numbers(v: Any, path: str, problem: Problem) -> list[float] | None:
    if not isinstance(v, list) or not v:
        problem(path, f"expected a non-empty array of numbers, got {type(v).__name__} {v!r}")
        return None
    if len(v) > MAX_POINTS:
        problem(path, f"expected at most {MAX_POINTS} points, got {len(v)}")
        return None
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in v):
        problem(path, "expected numbers only")
        return None
    if not all(math.isfinite(x) for x in v):
        problem(path, "expected finite numbers")
        return None
    return [float(x) for x in v]


def parse_profile(raw: Any, path: str, start: datetime, keys: Mapping[str, tuple],
                  problem: Problem) -> dict[str, Profile]:
    """Check a ``profile`` table (``at``, ``interpolate`` and the keys of ``keys``, each an
    array as long as ``at``) into ``{key: Profile}``; every mistake goes to ``problem``."""
    if not isinstance(raw, Mapping):
        problem(path, f"expected a table, got {type(raw).__name__}")
        return {}
    allowed = {"at", "interpolate", *keys}
    for k in raw:
        if k not in allowed:
            problem(f"{path}.{k}", f"unknown key; expected one of {', '.join(sorted(allowed))}")
    interp = raw.get("interpolate", "step")
    if interp not in INTERPOLATIONS:
        problem(f"{path}.interpolate", f"expected one of {', '.join(INTERPOLATIONS)}, "
                f"got {interp!r}")
    at_raw = raw.get("at")
    if not isinstance(at_raw, list) or not at_raw:
        problem(f"{path}.at", "expected a non-empty array of run-clock seconds or \"HH:MM\" "
                "times")
        return {}
    if len(at_raw) > MAX_POINTS:
        problem(f"{path}.at", f"expected at most {MAX_POINTS} points, got {len(at_raw)}")
        return {}
    at = [run_seconds(v, start, f"{path}.at[{i}]", problem) for i, v in enumerate(at_raw)]
    if any(t is None for t in at):
        return {}
    times = [float(t) for t in at if t is not None]
    if any(b <= a for a, b in itertools.pairwise(times)):
        local = start.astimezone(start.tzinfo)
        early = [v for v, t in zip(at_raw, times, strict=True)
                 if isinstance(v, str) and t >= 86400 - (local - local.replace(
                     hour=0, minute=0, second=0, microsecond=0)).total_seconds()]
        why = (f"; {', '.join(map(repr, early))} {'is' if len(early) == 1 else 'are'} "
               f"before the start ({local:%H:%M}), so read as the next day's: give the "
               "points from the start on, or in run seconds") if early else ""
        problem(f"{path}.at", f"expected increasing times, got {at_raw!r} (run seconds "
                f"{', '.join(f'{t:g}' for t in times)}){why}")
        return {}
    named = [k for k in keys if k in raw]
    if not named:
        problem(path, f"expected at least one of {', '.join(keys)}")
    out = {}
    for k in named:
        vals = _numbers(raw[k], f"{path}.{k}", problem)
        if vals is None:
            continue
        if len(vals) != len(times):
            problem(f"{path}.{k}", f"expected {len(times)} values, one per point of 'at', "
                    f"got {len(vals)}")
            continue
        lo, hi, why = keys[k]
        bad = [x for x in vals if not lo <= x <= hi]
        if bad:
            problem(f"{path}.{k}", f"expected values from {lo:g} to {hi:g} ({why}), "
                    f"got {bad[0]!r}")
            continue
        out[k] = Profile(tuple(times), tuple(vals), interp == "linear")
    return out


def parse_timeline(raw: Any, start: datetime, campaigns: Sequence[tuple[str, str]],
                   groups: Sequence[tuple[str, int, int]], problem: Problem,
                   broken: Collection[str] = (),
                   agentless: Mapping[str, str] | None = None) -> tuple[Action, ...]:
    """Check ``[[timeline]]`` entries into ``Action``s, in time order.

    ``campaigns`` are the jobs' (name, template); ``groups`` the agent groups' (name,
    first agent index, count); ``broken`` names campaigns the file declares that did not
    build (their own problems are reported: an action naming one is not a second problem);
    ``agentless`` maps the jobs no agent staffs (by name) to their channel: ``set`` (agent
    minimum, maximum and priority, the agent manager's limits) cannot name one.
    """
    agentless = agentless or {}
    if not isinstance(raw, list):
        problem("timeline", f"expected an array of tables ([[timeline]]), got "
                f"{type(raw).__name__}")
        return ()
    out = []
    for i, e in enumerate(raw):
        path = f"timeline[{i}]"
        if not isinstance(e, Mapping):
            problem(path, f"expected a table, got {type(e).__name__}")
            continue
        act = e.get("action")
        if act not in ACTIONS:
            problem(f"{path}.action", f"expected one of {', '.join(ACTIONS)}, got {act!r}")
            continue
        keys = {"at", "action"} | ({"group", "agents", "agent"} if act == "logoff" else
                                   {"campaign"}) | ({"min_agents", "max_agents", "priority"}
                                                   if act == "set" else set())
        for k in e:
            if k not in keys:
                problem(f"{path}.{k}", f"unknown key for action {act!r}; expected one of "
                        f"{', '.join(sorted(keys))}")
        if "at" not in e:
            problem(f"{path}.at", "required key is missing")
            continue
        at = run_seconds(e["at"], start, f"{path}.at", problem)
        if at is None:
            continue
        if act == "logoff":
            picked = _logoff_agents(e, path, groups, problem)
            if picked is not None:
                out.append(Action(at, act, agents=picked[0], count=picked[1], where=path))
            continue
        name = e.get("campaign")
        jobs = tuple(j for j, (n, t) in enumerate(campaigns) if name in (n, t))
        if isinstance(name, str) and not jobs and name in broken:
            continue
        if not isinstance(name, str) or not jobs:
            known = sorted({t for _, t in campaigns})
            problem(f"{path}.campaign", f"expected a campaign name or template "
                    f"({', '.join(known)}), got {name!r}")
            continue
        idle = [campaigns[j][0] for j in jobs if campaigns[j][0] in agentless]
        if act == "set" and idle:
            problem(f"{path}.campaign", f"campaign {idle[0]!r} is {agentless[idle[0]]}: no "
                    "agent staffs it, so it has no agent minimum, maximum or priority to set "
                    "(action 'set' changes agent-based campaigns)")
            continue
        limits: dict[str, int | None] = {}
        for k in ("min_agents", "max_agents", "priority"):
            v = e.get(k)
            lo = 1 if k == "priority" else 0
            if v is not None and (not isinstance(v, int) or isinstance(v, bool)
                                  or not lo <= v <= 1_000_000):
                problem(f"{path}.{k}", f"expected an integer from {lo} to 1000000, got {v!r}")
                v = None
            limits[k] = v
        if act == "set" and all(v is None for v in limits.values()):
            if not any(k in e for k in limits):  # a bad one is reported above
                problem(path, "action 'set' needs min_agents, max_agents or priority")
            continue
        mn, mx = limits["min_agents"], limits["max_agents"]
        if mn is not None and mx is not None and mn > mx:
            problem(f"{path}.min_agents", f"expected <= max_agents ({mx}), got {mn}")
            continue
        out.append(Action(at, act, jobs=jobs, where=path, **limits))
    return tuple(sorted(out, key=lambda a: a.at_s))


def _logoff_agents(e: Mapping[str, Any], path: str, groups: Sequence[tuple[str, int, int]],
                   problem: Problem) -> tuple[tuple[int, ...], int] | None:
    """The candidate agents and how many of them to log off."""
    total = sum(n for _, _, n in groups)
    if "agent" in e:
        a = e["agent"]
        if not isinstance(a, int) or isinstance(a, bool) or not 0 <= a < total:
            problem(f"{path}.agent", f"expected an agent index from 0 to {total - 1} "
                    f"(agents are numbered group by group), got {a!r}")
            return None
        return (a,), 1
    name = e.get("group")
    match = [(first, n) for g, first, n in groups if g == name]
    if not match:
        problem(f"{path}.group", f"expected an agent group ({', '.join(g for g, _, _ in groups)}"
                f") or 'agent', got {name!r}")
        return None
    first, n = match[0]
    k = e.get("agents", n)
    if n == 0 and isinstance(k, int) and not isinstance(k, bool) and k >= 0:
        return (), 0  # an empty group (count = 0, a sweep's or --set's): nobody to log off
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= n:
        problem(f"{path}.agents", f"expected how many of the group's {n} agents, 1 to {n}, "
                f"got {k!r}")
        return None
    return tuple(range(first, first + n)), k

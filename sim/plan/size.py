"""Sizing: the minimum agents, ports or licenses meeting every target with confidence.

A target such as ``abandon_rate<=0.03`` is met when the *upper* 95 % confidence bound of
the KPI is at or under 0.03; ``occupancy>=0.85`` when the *lower* bound is at or over 0.85
(never the mean). The search assumes the values meeting every target form one range: it
brackets the answer by doubling or halving from the scenario's own value, then bisects on
integers until a meeting value sits one above a failing one, and evaluates the value above
too, so the report shows both neighbours. When the scenario's value misses and doubling it
makes no missed target better and some worse (occupancy falls with more agents when the
traffic is fixed), the range lies below, and the search halves towards it instead. Every
value runs the same seeds (common random numbers), which keeps the comparison between
neighbours sharp; points that break the monotone assumption (noise, too few replications)
are reported as warnings.

A value whose target sits *undecided* (the mean on the right side, the interval across the
limit) is neither met nor missed: judged on the first replications it reads as missed, and
the search walks on to values whose intervals happen to be narrower (a 50-agent campaign's
abandon rate, held near its aim by the pacer at every size, "needed" 216 agents to meet
``abandon_rate<=0.03`` at 3 replications). So such a value gets more replications,
doubling up to ``max_replications`` (4x by default: sequential sampling), until every
target is decided (not where some target is missed on average: no replication helps
there); one still undecided then counts as missed and is named in a warning.

``--find agents`` on a scenario with several agent groups (a blended centre's outbound
teams and inbound desks) searches the total, every group scaled together in the scenario's
own mix (``split_agents``), so one search meets an inbound service level and an outbound
abandon limit at once; ``--key agents.GROUP.count`` sizes one group alone.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.plan.assess import Assessment, assess_records
from sim.plan.batch import Listener, run_all, tasks_for
from sim.plan.cache import ResultCache
from sim.plan.executors import Executor
from sim.plan.limits import rule_groups
from sim.plan.stats import FRACTION_KEYS, KPI_DOC, KPI_KEYS, MIN_REPLICATIONS, summarise_rows
from sim.plan.sweep import check_key
from sim.scenario import Scenario, ScenarioError, load, read_raw

RESOURCES = ("agents", "ports", "licenses")
ALL_AGENTS = "agents.*.count"  # every agent group scaled together (``split_agents``)
FRACTION_KPIS = FRACTION_KEYS
UPPER_FACTOR = 8  # the search looks up to 8x the scenario's value unless told otherwise
ADAPTIVE_FACTOR = 4  # an undecided value's replications may grow to this many times -r


@dataclass(frozen=True)
class Target:
    """One requirement on a KPI: ``kpi <= value`` or ``kpi >= value``."""

    kpi: str
    op: str
    value: float

    def bound(self, mean: float, ci: list[float] | None) -> float:
        """The confidence bound the target is judged on (upper for <=, lower for >=)."""
        if ci is None:
            raise ValueError(f"{self}: no confidence interval (one replication)")
        return ci[1] if self.op == "<=" else ci[0]

    def holds(self, value: float) -> bool:
        """Whether ``value`` itself (a mean, no interval) is on the right side."""
        return value <= self.value if self.op == "<=" else value >= self.value

    def undecided(self, mean: float, ci: list[float] | None) -> bool:
        """The mean on the right side, its bound not: more replications may decide."""
        return self.holds(mean) and not self.met(mean, ci)

    def met(self, mean: float, ci: list[float] | None) -> bool:
        return self.slack(mean, ci) >= 0

    def slack(self, mean: float, ci: list[float] | None) -> float:
        """How far the judged bound is on the right side of the value (negative: missed)."""
        b = self.bound(mean, ci)
        return self.value - b if self.op == "<=" else b - self.value

    def __str__(self) -> str:
        return f"{self.kpi}{self.op}{self.value:g}"


_TARGET = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|==|=<|=>|<|>|=)\s*(.*)$")


def parse_targets(text: str) -> list[Target]:
    """Parse ``"abandon_rate<=0.03,occupancy>=0.85"`` strictly.

    Each comma-separated item is ``KPI<=NUMBER`` or ``KPI>=NUMBER``; KPIs are those of
    ``sim.plan.stats.KPI_KEYS``; rates and occupancy are fractions 0..1.

    Raises:
        ValueError: naming the item and what was expected.
    """
    items = [t.strip() for t in text.split(",")]
    if not text.strip() or not all(items):
        raise ValueError(f"--target {text!r}: expected comma-separated KPI<=NUMBER or "
                         "KPI>=NUMBER, e.g. abandon_rate<=0.03,occupancy>=0.85")
    out: list[Target] = []
    for item in items:
        m = _TARGET.match(item)
        if not m:
            raise ValueError(f"--target {item!r}: expected KPI<=NUMBER or KPI>=NUMBER")
        kpi, op, num = m.group(1), m.group(2), m.group(3).strip()
        if kpi not in KPI_KEYS:
            hint = difflib.get_close_matches(kpi, KPI_KEYS, n=1)
            more = f" (did you mean {hint[0]}?)" if hint else ""
            raise ValueError(f"--target {item!r}: unknown KPI {kpi!r}{more}; expected one of "
                             f"{', '.join(KPI_KEYS)}")
        if op not in ("<=", ">="):
            raise ValueError(f"--target {item!r}: use <= or >= (a bound at or under / at or "
                             f"over the value), not {op!r}")
        try:
            value = float(num)
        except ValueError:
            raise ValueError(f"--target {item!r}: expected a number after {op}, got "
                             f"{num!r}") from None
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"--target {item!r}: expected a finite number >= 0")
        if kpi in FRACTION_KPIS and value > 1:
            raise ValueError(f"--target {item!r}: {kpi} is a fraction 0..1 "
                             f"(3 % is 0.03), got {num}")
        if any(t.kpi == kpi and t.op == op for t in out):
            raise ValueError(f"--target {item!r}: {kpi}{op} is given twice")
        out.append(Target(kpi, op, value))
    return out


def resource_key(scn: Scenario, find: str) -> tuple[str, int]:
    """The dotted key ``find`` resizes in this scenario and its current value.

    Raises:
        ValueError: for an unknown resource, or when the key is ambiguous (several agent
            groups, several license pools in use): the message says how to name one.
    """
    if find == "ports":
        return "telephony.ports", scn.ports
    if find == "agents":
        if not scn.agents:
            raise ValueError("--find agents: the scenario has no agent group (no agent-based "
                             "campaign): size ports or licenses, or add [[agents]]")
        if len(scn.agents) != 1:  # every group together, in the scenario's mix
            return ALL_AGENTS, scn.total_agents
        return "agents.count", scn.agents[0].count
    if find == "licenses":
        pools = sorted({c.license_pool for c in scn.campaigns if c.agent_based})
        if not pools:
            raise ValueError("--find licenses: no agent-based campaign, so no agent license "
                             "pool to size; size ports instead")
        if len(pools) != 1:
            raise ValueError(f"--find licenses: the agent-based campaigns use the pools "
                             f"{', '.join(pools) or 'none'}; name one with --key "
                             "licenses.POOL")
        return f"licenses.{pools[0]}", min(scn.license_pools[pools[0]], scn.dialer_agents)
    raise ValueError(f"--find {find!r}: expected one of {', '.join(RESOURCES)}")


def split_agents(scn: Scenario, total: int) -> dict[str, int]:
    """``total`` agents split among the scenario's groups in its own mix: each group gets
    ``total * count / all agents`` rounded by largest remainder (ties: the earlier group),
    as ``{"agents.GROUP.count": n}`` overrides; a group of 0 agents stays at 0."""
    counts = [g.count for g in scn.agents]
    whole = sum(counts)
    if whole <= 0:
        raise ValueError("--find agents: every agent group has 0 agents; size one group "
                         "with --key agents.GROUP.count")
    exact = [total * c / whole for c in counts]
    out = [math.floor(x) for x in exact]
    order = sorted(range(len(counts)), key=lambda i: (-(exact[i] - out[i]), i))
    for i in order[:total - sum(out)]:
        out[i] += 1
    return {f"agents.{g.group}.count": n for g, n in zip(scn.agents, out, strict=True)}


def _value_at(raw: dict, key: str) -> Any:
    node: Any = raw
    parts = key.split(".")
    if parts[0] in ("agents", "campaigns", "inbound"):
        entries = [e for e in raw.get(parts[0], []) if isinstance(e, dict)]
        field_ = {"agents": "group", "campaigns": "name", "inbound": "skill"}[parts[0]]
        named = [e for e in entries if e.get(field_) == parts[1]] if len(parts) > 2 else []
        node, parts = (named[0], parts[2:]) if named else (entries[0] if entries else {},
                                                           parts[1:])
    for p in parts:
        node = node.get(p) if isinstance(node, dict) else None
    return node


@dataclass
class Point:
    """One evaluated value: KPI means, 95 % intervals, the verdict of each target."""

    value: int
    kpis: dict[str, float]
    ci95: dict[str, list[float] | None]
    verdicts: dict[str, bool]
    runs: list[dict] = field(default_factory=list, repr=False)
    assessment: Assessment | None = field(default=None, repr=False)

    @property
    def replications(self) -> int:
        return len(self.runs)

    @property
    def meets(self) -> bool:
        return all(self.verdicts.values())


@dataclass
class SizeResult:
    """The minimum value meeting every target (None if none up to ``upper``), every point
    evaluated (sorted), and warnings about the search."""

    find: str
    key: str
    targets: list[Target]
    answer: int | None
    lower: int
    upper: int
    points: list[Point]
    replications: int
    seed: int
    scenario: str  # the scenario's name (``scenario.name``, overrides applied)
    warnings: list[str] = field(default_factory=list)
    max_replications: int = 0  # an undecided value's replications grow up to this
    groups: dict[str, int] = field(default_factory=dict)  # the answer's split (ALL_AGENTS)

    def point(self, value: int) -> Point | None:
        return next((p for p in self.points if p.value == value), None)

    def neighbours(self) -> list[Point]:
        """The answer and the values one below and one above it (those evaluated)."""
        if self.answer is None:
            return []
        return [p for v in (self.answer - 1, self.answer, self.answer + 1)
                if (p := self.point(v)) is not None]


def size(path: str | Path, find: str, targets: list[Target], seed: int | None,
         replications: int, executor: Executor | None = None,
         cache: ResultCache | None = None, base: dict | None = None, key: str | None = None,
         lower: int | None = None, upper: int | None = None, start: int | None = None,
         listener: Listener | None = None, max_replications: int | None = None
         ) -> SizeResult:
    """Search the minimum integer value of the resource meeting every target.

    ``key`` overrides the dotted key ``find`` would resize (e.g. ``agents.team.count``).
    ``lower`` defaults to 1; ``upper`` to 8x the scenario's value (licenses: the agents);
    ``start`` (where bracketing begins) to the scenario's value. A value with a target
    undecided gets more replications, doubling up to ``max_replications`` (default
    ``ADAPTIVE_FACTOR`` x ``replications``; equal to ``replications``: never more).

    Raises:
        ValueError: bad resource, key, bounds or too few replications (nothing runs).
        ScenarioError: when a probed value makes the scenario invalid.
    """
    if replications < MIN_REPLICATIONS:
        raise ValueError(f"--replications: sizing judges confidence bounds, expected >= "
                         f"{MIN_REPLICATIONS}, got {replications}")
    if not targets:
        raise ValueError("--target: expected at least one target")
    max_replications = ADAPTIVE_FACTOR * replications if max_replications is None \
        else max_replications
    if max_replications < replications:
        raise ValueError(f"--max-replications: expected >= --replications ({replications}), "
                         f"got {max_replications}")
    raw = read_raw(path)
    scn = load(path, base, raw)
    if not scn.inbound:
        for t in targets:
            if "inbound" in t.kpi:  # judged on zeros, more of any resource never meets it
                raise ValueError(f"--target {t.kpi}{t.op}{t.value:g}: the scenario has no "
                                 "[[inbound]] skill, so there is no inbound KPI to size for")
    if key is None or key == ALL_AGENTS:
        key, current = resource_key(scn, "agents" if key == ALL_AGENTS else find)
    else:
        check_key(key, raw)
        value = _value_at(scn.raw, key)
        current = int(value) if isinstance(value, int | float) else (start or lower or 1)
    seed = scn.seed if seed is None else seed
    given_lower, given_upper = lower, upper
    lower = 1 if lower is None else lower
    if upper is None:
        upper = scn.dialer_agents if find == "licenses" and key.startswith("licenses.") \
            else max(UPPER_FACTOR * max(current, 1), lower + 1)

    def overrides(n: int) -> dict[str, Any]:
        return split_agents(scn, n) if key == ALL_AGENTS else {key: n}
    if not 0 <= lower < upper:
        if given_upper is None and find == "licenses" and lower >= 0:
            raise ValueError(f"--find licenses: the search goes from --min ({lower}) up to "
                             f"the scenario's agents ({upper}), nothing to search; expected "
                             "a --min under the agents")
        raise ValueError(f"--min/--max: expected 0 <= min < max, got {lower}..{upper}")
    for given, bound, opt in ((given_upper, upper, "--max"), (given_lower, lower, "--min")):
        if given is None:
            continue
        try:  # a bound the scenario refuses ran every run below it first (minutes, then this)
            load(path, {**(base or {}), **overrides(bound)}, raw)
        except ScenarioError as exc:
            raise ValueError(f"{opt} {bound}: the search may reach it, but {key}={bound} makes "
                             f"the scenario invalid: {'; '.join(exc.problems)}") from None
    start = min(max(start if start is not None else current, lower), upper)
    seen: dict[int, Point] = {}

    def evaluate(n: int) -> Point:
        if n not in seen:
            s = load(path, {**(base or {}), **overrides(n)}, raw)
            recs = run_all(tasks_for(s, seed, replications), executor, cache, listener,
                           label=f"{key}={n}")
            means, ci = summarise_rows([r["kpis"] for r in recs])
            while len(recs) < max_replications and any(
                    t.undecided(means[t.kpi], ci[t.kpi]) for t in targets) and all(
                    t.holds(means[t.kpi]) for t in targets):  # else it misses whatever
                more = min(2 * len(recs), max_replications) - len(recs)
                recs = recs + run_all(tasks_for(s, seed + len(recs), more), executor, cache,
                                      listener, label=f"{key}={n} (undecided)")
                means, ci = summarise_rows([r["kpis"] for r in recs])
            verdicts = {str(t): t.met(means[t.kpi], ci[t.kpi]) for t in targets}
            seen[n] = Point(n, means, ci, verdicts,
                            [{"seed": r["seed"], **r["kpis"]} for r in recs],
                            assess_records(s, recs))
        return seen[n]

    def slack(pt: Point) -> dict[str, float]:
        return {str(t): t.slack(pt.kpis[t.kpi], pt.ci95[t.kpi]) for t in targets}

    def down_from(best: int) -> tuple[int, int | None]:
        """From a meeting value, halve until a value fails (or ``lower`` meets)."""
        while best > lower:
            probe = max(lower, best // 2)
            if evaluate(probe).meets:
                best = probe
            else:
                return best, probe
        return best, None

    def limiting(n: int, pt: Point) -> str:
        """``what_limits`` at value ``n`` (evaluated: ``pt``), as the end of a note."""
        what = what_limits(load(path, {**(base or {}), **overrides(n)}, raw), key, pt.kpis)
        return f"; what does: {what}" if what else ""

    notes: list[str] = []
    capped: set[str] = set()  # targets that get worse as the resource grows
    best: int | None
    fail: int | None
    if evaluate(start).meets:
        best, fail = down_from(start)
    else:
        best, fail = None, start
        probe = start
        missed = [str(t) for t in targets if not seen[start].verdicts[str(t)]]
        while probe < upper:
            probe = min(upper, probe * 2 if probe > 0 else 1)
            p = evaluate(probe)
            if p.meets:
                best = probe
                break
            if p.kpis == seen[fail].kpis:
                notes.append(f"raising {key} from {fail} to {probe} changes no KPI: it no "
                             "longer limits, the targets need something else"
                             + limiting(probe, p))
                break
            if fail == start and not any(slack(p)[m] > slack(seen[start])[m]
                                         for m in missed):
                worse = [m for m in missed if slack(p)[m] < slack(seen[start])[m]]
                if not worse or start <= lower:
                    notes.append(f"raising {key} from {start} to {probe} does not bring "
                                 f"{', '.join(missed)} closer: {key} does not limit it"
                                 + limiting(probe, p))
                    break
                # the missed targets get no better upwards and some get worse: look below
                capped = set(worse)
                prev, probe = seen[start], start
                while probe > lower and best is None:
                    probe = max(lower, probe // 2)
                    pt = evaluate(probe)
                    if pt.meets:
                        best, fail = down_from(probe)
                    elif not any(slack(pt)[m] > slack(prev)[m] for m in missed):
                        break  # no better than the value above: nothing to gain lower
                    prev = pt
                if best is None:
                    notes.append(f"{', '.join(worse)} gets worse as {key} grows, and no "
                                 f"value from {probe} to {start} meets every target")
                break
            fail = probe
    if best is not None and fail is not None:
        while best - fail > 1:
            mid = (best + fail) // 2
            if evaluate(mid).meets:
                best = mid
            else:
                fail = mid
    answer = best
    warnings = list(notes)
    if answer is not None:
        if answer + 1 <= upper:
            evaluate(answer + 1)
        if answer > lower:
            evaluate(answer - 1)
        above = [p for p in seen.values() if p.value > answer and not p.meets]
        capped_at = [p.value for p in above
                     if capped and {k for k, ok in p.verdicts.items() if not ok} <= capped]
        if capped_at:
            warnings.append(f"{', '.join(sorted(capped))} gets worse as {key} grows: "
                            f"every target is met from {answer} but missed again at "
                            f"{min(capped_at)}")
        odd = sorted(p.value for p in seen.values()
                     if (p.value < answer and p.meets)
                     or (p.value > answer and not p.meets and p.value not in capped_at))
        if odd:
            warnings.append(f"the targets are not monotone in {key} at "
                            f"{', '.join(map(str, odd))} (noise or a real effect): more "
                            "replications sharpen the bounds")
        if answer == lower:
            warnings.append(f"the lowest value searched ({lower}) meets every target")
        found = seen[answer].assessment
        if found is not None:  # what simulate would say of the answer (ports, platform)
            warnings += [f"at the minimum ({key} = {answer}): {w}" for w in found.warnings]
    points = sorted(seen.values(), key=lambda p: p.value)
    if answer is None and not notes:
        warnings.append(f"no value of {key} up to {upper} meets every target")
    if not notes:
        warnings.extend(_bound_only([p for p in points if answer is None or p.value < answer],
                                    targets))
    warnings += pooled_limit_targets(scn, targets)
    groups = {k.split(".")[1]: v for k, v in overrides(answer).items()} \
        if key == ALL_AGENTS and answer is not None else {}
    return SizeResult(find, key, targets, answer, lower, upper, points, replications, seed,
                      scn.name, warnings, max_replications=max_replications, groups=groups)


def pooled_limit_targets(scn: Scenario, targets: list[Target]) -> list[str]:
    """A warning for each abandon-rate ``--target`` when the agent-based campaigns follow
    several abandon rules (``[campaigns.regulation]``): it pools them all in the terms it
    names, not each campaign in its own (as ``validate`` says of such a ``[targets]``
    entry); the answer's own warnings still judge each campaign by its rule."""
    groups = rule_groups(scn)
    if len(groups) < 2:
        return []
    rules = ", ".join(f"{', '.join(g.templates)}: {g.label}" for g in groups)
    terms = {"abandon_rate": "FCC/TSR", "abandon_rate_ofcom": "Ofcom"}
    return [f"--target {t}: the agent-based campaigns follow several abandon rules ({rules}) "
            f"and this target pools them all in {terms[t.kpi]} terms, not each in its own; "
            "a campaign over its own limit is warned of at the minimum"
            for t in targets if t.kpi in terms]


def what_limits(scn: Scenario, key: str, kpis: dict[str, float]) -> str:
    """What holds the agent-based work of ``scn`` back where raising ``key`` changed
    nothing (``kpis``: the means evaluated there): the license pools its campaigns draw
    from, when they hold fewer licenses than there are agents (the agents past them wait
    unlicensed); the jobs' ``max_agents``, when they add up to fewer than the agents; the
    agents themselves, when every one holds a license (sizing licenses); the ports, when
    their peak reached the pool; the outbound-port licenses, when notification attempts
    were blocked for want of one. Each with the key to raise; "" when none of these binds
    (the contacts, the calling windows or the pacing may: more of no resource helps)."""
    out = []
    blocked = kpis.get("port_blocked", 0.0)
    if scn.port_pool is not None and blocked > 0 and key != "licenses.outbound_ports":
        out.append(f"the outbound-port licenses: {blocked:,.1f} notification attempts per "
                   f"replication blocked for want of a licensed port (licenses.outbound_ports "
                   f"= {scn.port_pool:,}, split {scn.license_mode}: raise it or a job's "
                   "max_ports / min_ports, or split it by demand with licenses.mode = "
                   "\"dynamic\")")
    jobs = [c for c in scn.campaigns if c.agent_based]
    if not jobs:
        return "; ".join(out)
    agents = scn.dialer_agents  # inbound desks hold no dialer license
    pools = sorted({c.license_pool for c in jobs})
    held = sum(scn.license_pools[k] for k in pools)
    take = sum(c.max_agents for c in jobs)
    if key.startswith("licenses."):
        if agents <= min(held, take):
            out.append(f"the agents ({agents:,}): every one can hold a license (raise "
                       "agents.count, or size it with --find agents)")
    elif held < min(agents, take):
        named = " + ".join(f"licenses.{k} = {scn.license_pools[k]:,}" for k in pools)
        out.append(f"the license pool{'s' if len(pools) > 1 else ''} ({named}): at most "
                   f"{held:,} of the {agents:,} agents work (raise {named.split(' = ')[0]}, "
                   "or size it with --find licenses)")
    if take < min(agents, held) and not key.endswith("max_agents"):
        names = sorted({c.template for c in jobs})
        raise_ = f"campaigns.{names[0]}.max_agents" if len(names) == 1 else \
            "campaigns.NAME.max_agents"
        out.append(f"the jobs' max_agents, {take:,} in all: at most {take:,} of the "
                   f"{agents:,} agents take calls (raise {raise_})")
    peak = kpis.get("ports_peak", 0.0)
    if key != "telephony.ports" and peak >= scn.ports:
        out.append(f"the ports: their peak reached the pool's {scn.ports:,} (raise "
                   "telephony.ports, or size it with --find ports)")
    return "; ".join(out)


def _bound_only(points: list[Point], targets: list[Target]) -> list[str]:
    """Targets still undecided at some of ``points`` after their replications, where every
    target holds on average (elsewhere no replication makes the value meet): the mean on
    the right side, the interval across the limit (more replications narrow it, and may
    decide), named per target."""
    out = []
    hold = [p for p in points if all(u.holds(p.kpis[u.kpi]) for u in targets)]
    for t in targets:
        at = [p for p in hold if t.undecided(p.kpis[t.kpi], p.ci95[t.kpi])]
        if at:
            reps = sorted({p.replications for p in at})
            out.append(f"{t} holds on average at {', '.join(str(p.value) for p in at)} but "
                       f"not at its 95 % bound: the interval of "
                       f"{'/'.join(map(str, reps))} replications is too wide to decide there "
                       "(more replications, -r or --max-replications, narrow it)")
    return out


def describe_kpis() -> str:
    """One line per KPI a target can name (for --help and error messages)."""
    return "\n".join(f"{k}: {KPI_DOC[k]}" for k in KPI_KEYS)

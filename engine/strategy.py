"""Contact strategies: what to try next for one contact, and when.

A ``Strategy`` is an ordered tuple of ``Step``s. Each step names a channel (voice, sms,
email, custom), the contact's address field to use, the pacing, its calling windows (in
the contact's LOCAL time zone), retries per completion code (delay and count) and a cap on
attempts. ``Strategy.next_action(contact, history, now)`` is a pure function of the
contact's fields and its attempts so far, an edge over ``Strategy.decide``, which takes
and gives run-clock seconds (the engine's one clock, see ``engine.calendar``); it returns
one of:

- ``Next``: attempt ``step`` on ``address`` at ``at`` (``at == now``: at once; later: a
  retry whose delay has not passed yet);
- ``Blocked``: every step that could go now is outside its calling window; the earliest
  opening is ``until`` (``next`` says what will go then);
- ``Done``: nothing more to do (a success code, every step finished, or the attempt cap).

Step order and skipping. The current step is the first unfinished one. When it is due but
its window is closed, the strategy skips to the next unfinished step whose window is open
(another address or channel); skipped steps stay unfinished and are tried again when their
windows open. A step waiting for a retry delay holds the steps after it (retries on one
address come before moving on). A step is finished when its address is empty, its last
code has no retry rule (or that code's retries are used up) or it reached ``max_attempts``.

Attempts the platform blocked for capacity (``Code.BLOCKED``) never reached the contact
and are ignored here; so are trapped attempts (``Code.TRAPPED``: in flight at a crash,
outcome unknown) unless the step has a retry rule for ``trapped``.
``Code.CUSTOMER_HANGUP`` (an abandon) uses the ``ABANDONED`` retry rule unless it has
its own.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from engine.calendar import OpenSpans, RunCalendar
from engine.contacts import zone
from engine.vocab import PACINGS, STEP_CHANNELS, Channel, Code, parse_code

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_S = 86_400
# Default calling window: 08:00-21:00 local every day, the US limit (47 CFR 64.1200(c)(1));
# set a campaign's own windows explicitly.
DEFAULT_WINDOWS_TEXT = "Mon-Sun 08:00-21:00"
_MAX_SEARCH_STEPS = 1000  # window / retry events examined before giving up (never reached)

_PENDING, _BLOCKED, _TRAPPED = int(Code.PENDING), int(Code.BLOCKED), int(Code.TRAPPED)
_ABANDONED, _HANGUP = int(Code.ABANDONED), int(Code.CUSTOMER_HANGUP)

class StrategyError(ValueError):
    """A strategy is misconfigured or cannot be applied to a contact; ``field`` names the
    configuration path (``steps[1].retries['busy'].delay_s``) or the contact field."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


class TemplateError(StrategyError):
    """A message template is malformed, or a contact lacks a field it uses."""


def code_of(value: Code | int | str, field: str = "code") -> Code:
    """A completion code (``engine.vocab.parse_code``: a ``Code``, its int, its name or an
    alias); ``StrategyError`` naming ``field`` otherwise."""
    try:
        return parse_code(value)
    except ValueError as e:
        raise StrategyError(field, str(e)) from None


def as_utc(t: datetime | float, run_start: datetime | None = None, field: str = "now"
           ) -> datetime:
    """An aware UTC datetime from an aware datetime, or from seconds since ``run_start``
    (the engine clock). Naive datetimes are refused: local time is ambiguous."""
    if isinstance(t, datetime):
        if t.tzinfo is None or t.utcoffset() is None:
            raise StrategyError(field, f"{t!r} is a naive datetime; give a time zone (UTC)")
        return t.astimezone(UTC)
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        if run_start is None:
            raise StrategyError(field, f"{t!r} seconds need run_start (a UTC datetime)")
        return as_utc(run_start, None, "run_start") + timedelta(seconds=float(t))
    raise StrategyError(field, f"{t!r} is neither a datetime nor seconds")


# ---------------------------------------------------------------------- calling windows


def _parse_clock(text: str, field: str, end: bool) -> int:
    parts = text.strip().split(":")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        h, m = int(parts[0]), int(parts[1])
        sec = int(parts[2]) if len(parts) == 3 else 0
    except ValueError:
        raise StrategyError(field, f"{text.strip()!r} is not a time like 09:00") from None
    total = h * 3600 + m * 60 + sec
    if not (0 <= m < 60 and 0 <= sec < 60 and 0 <= h <= 24) or total > DAY_S or (
            total == DAY_S and not end):
        raise StrategyError(field, f"{text.strip()!r} is not a time of day (00:00-24:00)")
    return total


def _parse_days(text: str, field: str) -> list[int]:
    t = text.strip().lower()
    if t in ("daily", "every day", "all", "*"):
        return list(range(7))
    if t == "weekdays":
        return list(range(5))
    if t == "weekends":
        return [5, 6]
    days: list[int] = []
    for part in t.split(","):
        ends = [p.strip()[:3] for p in part.split("-")]
        if len(ends) > 2 or any(e not in WEEKDAYS for e in ends):
            raise StrategyError(field, f"{part.strip()!r} is not a day or day range like "
                                       "Mon-Sat (days: " + ", ".join(WEEKDAYS) + ")")
        a = WEEKDAYS.index(ends[0])
        b = WEEKDAYS.index(ends[-1])
        days.extend((a + k) % 7 for k in range((b - a) % 7 + 1))
    return days


def _parse_ranges(text: str, field: str) -> tuple[tuple[int, int], ...]:
    out = []
    for part in text.split(","):
        if not part.strip():
            continue
        if part.count("-") != 1:
            raise StrategyError(field, f"{part.strip()!r} is not a range like 09:00-21:00")
        a, b = part.split("-")
        s, e = _parse_clock(a, field, False), _parse_clock(b, field, True)
        if e <= s:
            raise StrategyError(field, f"{part.strip()!r}: the end must be after the start "
                                       "(split a window past midnight over two days)")
        out.append((s, e))
    return tuple(sorted(out))


@dataclass(frozen=True)
class CallingWindows:
    """Weekly calling windows in the contact's local wall-clock time.

    ``days[k]`` (Monday = 0) holds sorted, non-overlapping ``(start_s, end_s)`` ranges in
    seconds of the local day, the end excluded (24:00 = 86400). An instant is inside when
    the contact's wall clock reads a time inside a range of that weekday, so windows follow
    DST changes. Build with ``CallingWindows.parse``.
    """

    days: tuple[tuple[tuple[int, int], ...], ...]

    def __hash__(self) -> int:
        return self._hash  # computed once: the engine looks windows up per decision

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash(self.days))
        if len(self.days) != 7:
            raise StrategyError("windows", f"need 7 weekdays, got {len(self.days)}")
        any_open = False
        for k, ranges in enumerate(self.days):
            prev_end = -1
            for s, e in ranges:
                if not (0 <= s < e <= DAY_S) or s < prev_end:
                    raise StrategyError(f"windows.{WEEKDAYS[k]}",
                                        f"ranges must be sorted, disjoint, within 0-86400 s; "
                                        f"got {ranges}")
                prev_end = e
                any_open = True
        if not any_open:
            raise StrategyError("windows", "no open time in the whole week")

    @classmethod
    def parse(cls, spec: CallingWindows | str | Mapping[str, str], field: str = "windows"
              ) -> CallingWindows:
        """From text ``"Mon-Sat 09:00-21:00"``, ``"Mon-Fri 09:00-12:00,14:00-21:00; Sat
        10:00-14:00"`` (a later clause replaces the days it names), ``"always"``; or a
        mapping ``{"mon-fri": "09:00-21:00", "sat": "10:00-14:00"}`` (empty text: closed).
        Errors name ``field``."""
        if isinstance(spec, CallingWindows):
            return spec
        days: list[tuple[tuple[int, int], ...]] = [()] * 7
        if isinstance(spec, str):
            if spec.strip().lower() == "always":
                return cls.always()
            clauses = [c.strip() for c in spec.split(";") if c.strip()]
            if not clauses:
                raise StrategyError(field, "empty calling windows")
            pairs = []
            for c in clauses:
                bits = c.split(None, 1)
                if len(bits) != 2:
                    raise StrategyError(field, f"{c!r} is not like 'Mon-Sat 09:00-21:00'")
                pairs.append((bits[0], bits[1]))
        elif isinstance(spec, Mapping):
            pairs = list(spec.items())
        else:
            raise StrategyError(field, f"{spec!r} is not a calling-window text or mapping")
        for day_text, range_text in pairs:
            if not isinstance(day_text, str) or not isinstance(range_text, str):
                raise StrategyError(field, f"{day_text!r}: {range_text!r} is not text")
            sub = f"{field}[{day_text!r}]"
            ranges = _parse_ranges(range_text, sub)
            for i in range(1, len(ranges)):
                if ranges[i][0] < ranges[i - 1][1]:
                    raise StrategyError(sub, f"ranges overlap in {range_text!r}")
            for d in _parse_days(day_text, sub):
                days[d] = ranges
        try:
            return cls(tuple(days))
        except StrategyError as e:
            raise StrategyError(field + e.field[len("windows"):], e.message) from None

    @classmethod
    def always(cls) -> CallingWindows:
        return cls(tuple(((0, DAY_S),) for _ in range(7)))

    def is_open(self, t: datetime, tz: ZoneInfo) -> bool:
        """Is the aware instant ``t`` inside a window, on the wall clock of ``tz``?"""
        local = t.astimezone(tz)
        sod = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond * 1e-6
        return any(s <= sod < e for s, e in self.days[local.weekday()])

    def next_open(self, t: datetime, tz: ZoneInfo) -> datetime:
        """The earliest instant at or after ``t`` inside a window (UTC).

        Exact across DST changes: the opening is where the wall clock reaches a range's
        start (either reading of an ambiguous local time), or a clock change that jumps
        into a range (a start inside a skipped hour opens when the clock jumps). The
        engine asks ``RunCalendar.windows`` in run-clock seconds; this is the same answer
        for one aware instant.
        """
        t = t.astimezone(UTC)
        cal = RunCalendar(t)
        return cal.at(cal.windows(self, tz.key).next_open(0.0))


# ---------------------------------------------------------------------- templates


def template_fields(template: str, field: str = "template") -> tuple[str, ...]:
    """The contact fields a ``{first_name}``-style template uses, in order, without repeats.

    Only plain names are allowed (no ``{0}``, ``{a.b}``, ``{a[0]}``, ``!r`` or nested
    specs), so a template can read contact fields and nothing else. Literal braces are
    written ``{{`` and ``}}``. Raises ``TemplateError`` naming ``field``.
    """
    if not isinstance(template, str):
        raise TemplateError(field, f"{template!r} is not text")
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as e:
        raise TemplateError(field, f"malformed template ({e}); write literal braces as "
                                   "{{ and }}") from None
    for _, name, spec, conv in parsed:
        if name is None:
            continue
        if not name.isidentifier():
            raise TemplateError(field, f"placeholder {{{name}}} is not allowed; use a field "
                                       "name like {first_name}")
        if conv:
            raise TemplateError(field, f"conversion !{conv} in {{{name}}} is not allowed")
        if spec and ("{" in spec or "}" in spec):
            raise TemplateError(field, f"nested placeholder in {{{name}:{spec}}}")
        if name not in names:
            names.append(name)
    return tuple(names)


def render(template: str, contact: Mapping[str, Any], field: str = "template") -> str:
    """Fill a template from the contact's fields; ``TemplateError`` names a missing or empty
    field (an SMS saying "Dear None" is worse than none)."""
    values = {}
    for name in template_fields(template, field):
        if name not in contact:
            raise TemplateError(field, f"needs contact field {name!r}, which the contact "
                                       f"lacks (it has: {', '.join(map(str, contact))})")
        v = contact[name]
        if v is None or (isinstance(v, str) and not v.strip()):
            cid = contact.get("id", "?")
            raise TemplateError(field, f"needs contact field {name!r}, which is empty for "
                                       f"contact {cid!r}")
        values[name] = v
    try:
        return template.format_map(values)
    except (ValueError, TypeError) as e:
        raise TemplateError(field, f"cannot format: {e}") from None


@dataclass(frozen=True)
class Message:
    """A personalised SMS / email / custom message."""

    body: str
    subject: str | None = None


# ---------------------------------------------------------------------- configuration


MAX_RETRY_DELAY_S = 366 * 86_400.0  # the longest retry delay, seconds (a year)


@dataclass(frozen=True)
class Retry:
    """Retry after a completion code: wait ``delay_s`` from the attempt's end, at most
    ``max_retries`` times for that code on the step (0: never)."""

    delay_s: float
    max_retries: int

    def __post_init__(self) -> None:
        if isinstance(self.delay_s, bool) or not isinstance(self.delay_s, (int, float)) or not (
                0 <= self.delay_s <= MAX_RETRY_DELAY_S):  # 1e308 s hung a run's calendar
            raise StrategyError("delay_s", f"must be a number of seconds from 0 to "
                                           f"{MAX_RETRY_DELAY_S:,.0f} (a year; leave the code "
                                           f"out for no retry), got {self.delay_s!r}")
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int) or (
                self.max_retries < 0):
            raise StrategyError("max_retries", f"must be an integer >= 0, got "
                                               f"{self.max_retries!r}")

    @classmethod
    def of(cls, spec: Retry | Sequence[Any] | Mapping[str, Any], field: str) -> Retry:
        """From a Retry, ``(delay_s, max_retries)`` or ``{"delay_s": .., "max_retries": ..}``."""
        try:
            if isinstance(spec, Retry):
                return spec
            if isinstance(spec, Mapping):
                unknown = set(spec) - {"delay_s", "max_retries"}
                if unknown:
                    raise StrategyError("", f"unknown key(s) {', '.join(sorted(unknown))}; "
                                            "expected delay_s, max_retries")
                if "delay_s" not in spec or "max_retries" not in spec:
                    raise StrategyError("", "needs delay_s and max_retries")
                return cls(spec["delay_s"], spec["max_retries"])
            if isinstance(spec, (list, tuple)) and len(spec) == 2:
                return cls(spec[0], spec[1])
        except StrategyError as e:
            raise type(e)(f"{field}.{e.field}" if e.field else field, e.message) from None
        raise StrategyError(field, f"{spec!r} is not a retry: give (delay_s, max_retries)")


def _windows_or_none(w: Any, field: str) -> CallingWindows | None:
    return None if w is None else CallingWindows.parse(w, field)


@dataclass(frozen=True)
class Step:
    """One step of a strategy: a channel on one of the contact's address fields.

    ``retries`` maps completion codes (``Code``, int or name: busy, no_answer,
    answering_machine, abandon...) to ``Retry`` (or ``(delay_s, max_retries)``); a code
    without a rule finishes the step. ``done_codes`` finish the whole contact (default: a
    live connect for voice, none for messages, whose steps just finish). ``windows``
    default to the strategy's. ``pacing`` defaults to predictive for voice and timed for
    messages (which must be timed). ``template`` / ``subject`` personalise messages.
    """

    channel: str
    address: str
    pacing: str | None = None
    windows: CallingWindows | str | Mapping[str, str] | None = None
    retries: Mapping[Any, Any] = field(default_factory=dict)
    max_attempts: int = 10
    template: str | None = None
    subject: str | None = None
    done_codes: Iterable[Any] | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if self.channel not in STEP_CHANNELS:
            raise StrategyError("channel", f"{self.channel!r} is not one of "
                                           f"{', '.join(STEP_CHANNELS)}")
        if not isinstance(self.address, str) or not self.address:
            raise StrategyError("address", "name the contact's address field")
        pacing = self.pacing
        if pacing is None:
            pacing = "predictive" if self.channel == "voice" else "timed"
        if pacing not in PACINGS:
            raise StrategyError("pacing", f"{pacing!r} is not one of {', '.join(PACINGS)}")
        if self.channel != "voice" and pacing != "timed":
            raise StrategyError("pacing", f"{self.channel} steps use timed pacing, not "
                                          f"{pacing!r}")
        object.__setattr__(self, "pacing", pacing)
        object.__setattr__(self, "windows", _windows_or_none(self.windows, "windows"))
        if not isinstance(self.retries, Mapping):
            raise StrategyError("retries", "must map completion codes to (delay_s, "
                                           "max_retries)")
        retries = {}
        for k, v in self.retries.items():
            code = code_of(k, f"retries[{k!r}]")
            retries[code] = Retry.of(v, f"retries[{k!r}]")
        object.__setattr__(self, "retries", retries)
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or (
                self.max_attempts < 1):
            raise StrategyError("max_attempts", f"must be an integer >= 1, got "
                                                f"{self.max_attempts!r}")
        done = self.done_codes
        if done is None:
            done = (Code.LIVE_CONNECTED,) if self.channel == "voice" else ()
        if isinstance(done, (str, int)):
            raise StrategyError("done_codes", "must be a list of completion codes")
        object.__setattr__(self, "done_codes",
                           frozenset(code_of(c, "done_codes") for c in done))
        if self.template is not None:
            template_fields(self.template, "template")
        if self.subject is not None:
            if self.channel != "email":
                raise StrategyError("subject", "only email steps have a subject")
            template_fields(self.subject, "subject")
        # Per completion code (plain ints): the code its retries are counted under and the
        # rule. A hang-up waiting for an agent is an abandon unless it has its own rule.
        rules = {int(c): (int(c), r) for c, r in retries.items()}
        if _HANGUP not in rules and _ABANDONED in rules:
            rules[_HANGUP] = rules[_ABANDONED]
        object.__setattr__(self, "_rules", rules)
        # ``retry_after([code])`` per code with a rule (no rule: None): a step's first
        # result, the most common case, is then one look-up (``Strategy.decide``).
        object.__setattr__(self, "_after_one", {c: self.retry_after([c]) for c in rules})

    def __hash__(self) -> int:
        return hash((self.channel, self.address, self.pacing, self.name))

    def retry_for(self, code: int) -> tuple[Code, Retry] | None:
        """The retry rule for ``code`` and the code it is kept under."""
        rule = self._rules.get(int(code))
        return None if rule is None else (Code(rule[0]), rule[1])

    def retry_after(self, codes: Sequence[int]) -> float | None:
        """Seconds from the last attempt to the next on this step, given the codes of the
        step's attempts so far in time order (capacity blocks and trapped attempts left
        out); None when the step is finished (no rule for the last code, that code's
        retries used up, or ``max_attempts`` reached)."""
        if len(codes) >= self.max_attempts:
            return None
        rules = self._rules
        rule = rules.get(codes[-1])
        if rule is None:
            return None
        key, retry = rule
        used = 0
        for c in codes:
            r = rules.get(c)
            used += r is not None and r[0] == key
        return None if used > retry.max_retries else float(retry.delay_s)

    @property
    def engine_channel(self) -> Channel | None:
        """The dialer's ``Channel`` (voice with timed pacing is agentless); None for custom."""
        if self.channel == "voice":
            return Channel.VOICE_AGENTLESS if self.pacing == "timed" else Channel.VOICE_AGENT
        return {"sms": Channel.SMS, "email": Channel.EMAIL}.get(self.channel)

    def fields(self) -> tuple[str, ...]:
        """Contact fields this step reads (address and template fields)."""
        out = [self.address]
        for t, f in ((self.template, "template"), (self.subject, "subject")):
            if t is not None:
                out.extend(x for x in template_fields(t, f) if x not in out)
        return tuple(out)

    def message(self, contact: Mapping[str, Any]) -> Message:
        """The personalised message for ``contact``; ``TemplateError`` names a missing field."""
        if self.template is None:
            raise TemplateError("template", f"the {self.channel} step on {self.address!r} "
                                            "has no template")
        subject = None if self.subject is None else render(self.subject, contact, "subject")
        return Message(render(self.template, contact, "template"), subject)


class PastAttempt(NamedTuple):
    """One finished attempt in a contact's history, as the strategy and rules read it.

    ``at`` is when it ended: run-clock seconds inside the engine (``decide``), an aware
    datetime or seconds since ``run_start`` at the datetime edges (``next_action``,
    ``RuleEngine.check``); ``step`` the strategy step it belonged to; ``address`` and
    ``channel`` what was tried. A named tuple: the engine appends one per finished attempt
    (tens of thousands per hour).
    """

    at: datetime | float
    code: int
    step: int = 0
    address: str = ""
    channel: str = "voice"
    job: Any = None


class Next(NamedTuple):
    """Attempt ``step`` (index ``step_index``) on ``address`` at ``at``; ``skipped`` lists
    earlier unfinished steps passed over because their window is closed at ``at``.

    ``at`` is run-clock seconds from ``Strategy.decide``, a UTC datetime from
    ``next_action``. (A named tuple: the engine makes two per attempt.)"""

    step_index: int
    step: Step
    address: str
    at: float | datetime
    skipped: tuple[int, ...] = ()

    @property
    def channel(self) -> str:
        return self.step.channel

    @property
    def field(self) -> str:
        return self.step.address


@dataclass(frozen=True, slots=True)
class Blocked:
    """Nothing may be tried now: every step that could go is outside its calling window.
    ``until`` is the earliest opening (same clock as ``Next.at``); ``next`` what goes
    then."""

    until: float | datetime
    next: Next
    reason: str = "window"

    @property
    def at(self) -> float | datetime:
        return self.until


@dataclass(frozen=True, slots=True)
class Done:
    """No more attempts: ``success`` (a done code), ``completed`` (every step finished)
    or ``max_attempts`` (the strategy's cap)."""

    reason: str


Action = Next | Blocked | Done


@dataclass(frozen=True)
class Strategy:
    """A campaign's contact strategy: ordered steps plus the defaults they share.

    ``windows`` apply to steps without their own (default: 08:00-21:00 every day, local).
    The contact's IANA zone comes from ``timezone_field``, else ``default_timezone``.
    ``max_attempts`` caps attempts per contact over all steps (None: no cap).
    """

    steps: tuple[Step, ...]
    name: str = "strategy"
    windows: CallingWindows | str | Mapping[str, str] = DEFAULT_WINDOWS_TEXT
    timezone_field: str = "timezone"
    default_timezone: str | None = None
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        steps = tuple(self.steps)
        if not steps:
            raise StrategyError("steps", "a strategy needs at least one step")
        for i, s in enumerate(steps):
            if not isinstance(s, Step):
                raise StrategyError(f"steps[{i}]", f"{s!r} is not a Step")
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "windows", CallingWindows.parse(self.windows, "windows"))
        object.__setattr__(self, "_step_windows", tuple(
            s.windows if s.windows is not None else self.windows for s in steps))
        object.__setattr__(self, "_span_cache", _NO_SPANS)
        if self.default_timezone is not None:
            try:
                zone(self.default_timezone)
            except ValueError as e:
                raise StrategyError("default_timezone", str(e)) from None
        if self.max_attempts is not None and (
                isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int)
                or self.max_attempts < 1):
            raise StrategyError("max_attempts", f"must be an integer >= 1 or None, got "
                                                f"{self.max_attempts!r}")

    # The spans cache belongs to a run's calendar: a copy or a pickle starts without it.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_span_cache"] = _NO_SPANS
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def _spans(self, calendar: RunCalendar) -> dict[tuple[int, str], OpenSpans]:
        """Step ``i``'s open spans in zone ``tz`` as ``calendar.windows`` gives them, by
        ``(i, tz)``: a speed shortcut for the per-decision look-up (which hashes the
        windows). Kept for the last calendar asked; swapped whole, so threads deciding on
        different calendars at once only miss the cache, never read another's spans."""
        cache = self._span_cache
        if cache[0] is not calendar:
            cache = (calendar, {})
            object.__setattr__(self, "_span_cache", cache)
        return cache[1]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Strategy:
        """From plain data (a TOML table): ``steps`` is a list of step tables with the
        ``Step`` field names. Errors name the path, e.g. ``steps[1].retries['busy']``."""
        known = {"steps", "name", "windows", "timezone_field", "default_timezone",
                 "max_attempts"}
        if not isinstance(d, Mapping):
            raise StrategyError("", f"a strategy must be a table, got {type(d).__name__}")
        unknown = set(d) - known
        if unknown:
            raise StrategyError("", f"unknown key(s) {', '.join(sorted(unknown))}; expected "
                                    f"{', '.join(sorted(known))}")
        raw_steps = d.get("steps")
        if not isinstance(raw_steps, Sequence) or isinstance(raw_steps, str):
            raise StrategyError("steps", "must be a list of step tables")
        step_keys = set(Step.__dataclass_fields__)
        steps = []
        for i, sd in enumerate(raw_steps):
            if not isinstance(sd, Mapping):
                raise StrategyError(f"steps[{i}]", "must be a table")
            unknown = {str(k) for k in sd} - step_keys
            if unknown:
                raise StrategyError(f"steps[{i}]", f"unknown key(s) "
                                                   f"{', '.join(sorted(unknown))}")
            for req in ("channel", "address"):
                if req not in sd:
                    raise StrategyError(f"steps[{i}].{req}", "missing")
            try:
                steps.append(Step(**sd))
            except StrategyError as e:
                raise type(e)(f"steps[{i}].{e.field}", e.message) from None
        rest = {k: v for k, v in d.items() if k != "steps"}
        return cls(tuple(steps), **rest)

    # ------------------------------------------------------------------ checks

    def validate(self, columns: Iterable[str]) -> None:
        """Check the strategy fits a contact list's columns before a job starts: address and
        template fields, and the time-zone field (unless a default zone is set)."""
        cols = set(columns)
        errors = []
        for i, s in enumerate(self.steps):
            if s.address not in cols:
                errors.append(f"steps[{i}].address: the list has no column {s.address!r}")
            for t, f in ((s.template, "template"), (s.subject, "subject")):
                if t is None:
                    continue
                for name in template_fields(t, f"steps[{i}].{f}"):
                    if name not in cols:
                        errors.append(f"steps[{i}].{f}: uses {{{name}}}, but the list has no "
                                      f"column {name!r}")
            if s.channel in ("sms", "email") and s.template is None:
                errors.append(f"steps[{i}].template: a {s.channel} step needs a template")
        if self.timezone_field not in cols and self.default_timezone is None:
            errors.append(f"timezone_field: the list has no column {self.timezone_field!r} "
                          "and there is no default_timezone")
        if errors:
            raise StrategyError(self.name, "; ".join(errors))

    def zone_name(self, contact: Mapping[str, Any]) -> str:
        """The contact's IANA zone name; ``StrategyError`` when there is none."""
        name = contact.get(self.timezone_field) or self.default_timezone
        if not name:
            raise StrategyError(self.timezone_field, f"contact {contact.get('id', '?')!r} has "
                                                     "no time zone and there is no default")
        return name

    def zone_of(self, contact: Mapping[str, Any]) -> ZoneInfo:
        """The contact's time zone; ``StrategyError`` when missing or unknown."""
        try:
            return zone(self.zone_name(contact))
        except ValueError as e:
            raise StrategyError(self.timezone_field, str(e)) from None

    def windows_of(self, i: int) -> CallingWindows:
        w = self.steps[i].windows
        return w if w is not None else self.windows  # type: ignore[return-value]

    # ------------------------------------------------------------------ the decision

    def decide(self, contact: Mapping[str, Any], history: Iterable[PastAttempt],
               now_s: float, calendar: RunCalendar, finished: Iterable[int] = ()) -> Action:
        """What to do next for ``contact`` given its finished attempts (any order), all on
        the run clock: ``now_s`` and history times are run-clock seconds of ``calendar``,
        and so are the answer's ``at`` / ``until``.

        ``finished`` lists steps the caller ended by other means (e.g. the rule engine
        refused that address for good: DNC, block list, wrong number). Pure: the same
        inputs give the same answer. Raises ``StrategyError`` for a contact without a
        step's address field or a known time zone, and for history entries naming an
        unknown step or still pending.
        """
        steps = self.steps
        per_step: list[list[tuple[float, int]] | None] | None = None
        total = 0
        for k, h in enumerate(history):
            code = int(h.code)
            if code == _PENDING:
                raise StrategyError(f"history[{k}]", "attempt still pending; give finished "
                                                     "attempts (re-code trapped ones)")
            if code == _BLOCKED:
                continue
            i = h.step
            if not 0 <= i < len(steps):
                raise StrategyError(f"history[{k}].step", f"{h.step} is not a step of "
                                                          f"{self.name!r}")
            step = steps[i]
            if code == _TRAPPED and _TRAPPED not in step.retries:
                continue  # in flight at a crash, outcome unknown: the step goes again
            if code in step.done_codes:
                return _SUCCESS
            if per_step is None:
                per_step = [None] * len(steps)
            tries = per_step[i]
            if tries is None:
                per_step[i] = [(h.at, code)]
            else:
                tries.append((h.at, code))
            total += 1
        if self.max_attempts is not None and total >= self.max_attempts:
            return _MAX_ATTEMPTS

        pending: list[tuple[int, float, str]] = []  # unfinished steps: due time, address
        for i, step in enumerate(steps):
            addr = contact.get(step.address, _MISSING)
            if addr is _MISSING:
                raise StrategyError(step.address, f"contact {contact.get('id', '?')!r} has no "
                                                  f"field {step.address!r} (steps[{i}])")
            if addr is None or i in finished:
                continue
            addr = (addr if addr.__class__ is str else str(addr)).strip()
            if not addr:
                continue
            tries = per_step[i] if per_step is not None else None
            if not tries:
                pending.append((i, now_s, addr))
                continue
            if len(tries) == 1:
                at, code = tries[0]
                delay = step._after_one.get(code)
            else:
                tries.sort()
                delay = step.retry_after(list(map(_SECOND, tries)))
                at = tries[-1][0]
            if delay is None:
                continue
            due = at + delay
            pending.append((i, due if due > now_s else now_s, addr))
        if not pending:
            return _COMPLETED

        tz = contact.get(self.timezone_field) or self.default_timezone
        if not tz:
            tz = self.zone_name(contact)  # raises the clear error
        windows = self._step_windows
        cache = self._span_cache
        spans = cache[1] if cache[0] is calendar else self._spans(calendar)
        # The search starts when the first unfinished step is due (never before ``now_s``):
        # until then a retry delay holds every step, so there is nothing to look at.
        first_due = t = pending[0][1]
        if len(pending) == 1:  # one step left, open when due: the search's first answer
            i, _, addr = pending[0]
            w = spans.get((i, tz))
            if w is not None and w.is_open(t):
                return _new_tuple(Next, (i, steps[i], addr, t, ()))
        for _ in range(_MAX_SEARCH_STEPS):
            skipped: list[int] = []
            events: list[float] = []
            for i, due, addr in pending:
                if due > t:
                    events.append(due)  # a retry delay holds the steps after it
                    break
                w = spans.get((i, tz))
                if w is None:
                    try:
                        w = spans[(i, tz)] = calendar.windows(windows[i], tz)
                    except ValueError as e:
                        raise StrategyError(self.timezone_field, str(e)) from None
                if w.is_open(t):
                    nxt = _new_tuple(Next, (i, steps[i], addr, t, tuple(skipped)))
                    return nxt if t <= first_due else Blocked(t, nxt)
                skipped.append(i)
                events.append(w.next_open(t))
            t = min(events)
        raise StrategyError("windows", "no time found for the next attempt")  # unreachable

    def first(self, contact: Mapping[str, Any], now_s: float, calendar: RunCalendar
              ) -> Next | None:
        """``decide``'s answer for a contact with no history and no finished steps when it
        is to attempt now, or None (then call ``decide``).

        With nothing tried, every step with an address is due at ``now_s``, so ``decide``
        answers ``Next`` on the first of them at ``now_s`` if that step's window is open
        then, which is all this checks (the engine reads the same answer for many contacts
        at once: ``first_addresses`` and ``open_span``). A missing field or zone, or a
        closed window, gives None.
        """
        for i, step in enumerate(self.steps):
            addr = contact.get(step.address, _MISSING)
            if addr is None:
                continue
            if addr is _MISSING:
                return None
            addr = (addr if addr.__class__ is str else str(addr)).strip()
            if not addr:
                continue
            tz = contact.get(self.timezone_field) or self.default_timezone
            cache = self._span_cache
            w = (cache[1] if cache[0] is calendar else self._spans(calendar)).get((i, tz))
            if w is None or not w.is_open(now_s):
                return None  # not looked up yet, or closed: ``decide`` searches
            return _new_tuple(Next, (i, step, addr, now_s, ()))
        return None

    def first_addresses(self, columns: Mapping[str, Sequence[Any]], rows: Iterable[int]
                        ) -> tuple[list[int], list[str | None]]:
        """``first``'s step and address for many contacts at once: for each row in ``rows``
        of ``columns`` (the contacts' fields, one list per field, every step's address field
        among them), the first step whose address is not empty once stripped, and that
        address stripped; -1 and None for a contact with no address at all."""
        cols = [columns[s.address] for s in self.steps]
        if len(cols) == 1:  # one step, the most common strategy: no Python loop per step
            addrs = [None if v is None else ((v if v.__class__ is str else str(v)).strip()
                                             or None) for v in map(cols[0].__getitem__, rows)]
            return [-1 if v is None else 0 for v in addrs], addrs
        steps: list[int] = []
        addrs = []
        for c in rows:
            for i, col in enumerate(cols):
                v = col[c]
                if v is None:
                    continue
                v = (v if v.__class__ is str else str(v)).strip()
                if v:
                    steps.append(i)
                    addrs.append(v)
                    break
            else:
                steps.append(-1)
                addrs.append(None)
        return steps, addrs

    def open_span(self, i: int, tz: str | None, t_s: float, calendar: RunCalendar
                  ) -> tuple[float, float] | None:
        """The open span (run-clock seconds, ``OpenSpans.span_at``) of step ``i``'s calling
        windows in zone ``tz`` holding ``t_s``, as ``first`` and ``decide`` read it; None
        when the window is closed at ``t_s`` or ``decide`` has not looked it up yet."""
        cache = self._span_cache
        w = (cache[1] if cache[0] is calendar else self._spans(calendar)).get((i, tz))
        return None if w is None else w.span_at(t_s)

    def recheck(self, nxt: Next, contact: Mapping[str, Any], now_s: float,
                calendar: RunCalendar) -> Next | None:
        """``decide``'s answer at ``now_s`` without the full search, or None (then call
        ``decide``).

        For a contact whose last answer from ``decide`` was ``nxt`` (a ``Next``, or a
        ``Blocked``'s ``next``), asked again with the same history, finished steps and
        calendar at ``now_s >= nxt.at``: when ``nxt`` skipped no step, its step is the first
        unfinished one and due, so ``decide`` answers ``nxt`` at ``now_s`` if that step's
        window is open then, which is all this checks. A retry queued by the engine is so
        re-checked when it comes due instead of decided twice.
        """
        if nxt.skipped or not nxt.at <= now_s:
            return None
        tz = contact.get(self.timezone_field) or self.default_timezone
        if not tz:
            return None
        w = self._spans(calendar).get((nxt.step_index, tz))
        if w is None:
            return None  # decide looks it up (and raises the clear error)
        if not w.is_open(now_s):
            return None
        return _new_tuple(Next, (nxt.step_index, nxt.step, nxt.address, now_s, nxt.skipped))

    def next_action(self, contact: Mapping[str, Any], history: Iterable[PastAttempt],
                    now: datetime | float, run_start: datetime | None = None,
                    finished: Iterable[int] = ()) -> Action:
        """``decide`` for callers on date-times: ``now`` and history times are aware
        datetimes, or seconds since ``run_start``; the answer's ``at`` / ``until`` are UTC
        datetimes. Raises as ``decide`` does, and for naive datetimes.
        """
        now_utc = as_utc(now, run_start, "now")
        cal = RunCalendar(as_utc(run_start, None, "run_start") if run_start is not None
                          else now_utc)
        hist = [h._replace(at=cal.seconds(as_utc(h.at, run_start, f"history[{k}].at")))
                for k, h in enumerate(history)]
        a = self.decide(contact, hist, cal.seconds(now_utc), cal, frozenset(finished))
        if isinstance(a, Next):
            return a._replace(at=cal.at(a.at))
        if isinstance(a, Blocked):
            return Blocked(cal.at(a.until), a.next._replace(at=cal.at(a.next.at)), a.reason)
        return a


_SUCCESS, _COMPLETED, _MAX_ATTEMPTS = Done("success"), Done("completed"), Done("max_attempts")
# Speed shortcut: a named tuple made from a full tuple of its fields by ``tuple.__new__``
# (what its ``_make`` does) skips the generated Python ``__new__``, once per decision.
_new_tuple = tuple.__new__
_SECOND = itemgetter(1)
_NO_SPANS: tuple[Any, dict] = (None, {})  # never filled: ``_spans`` swaps in a new pair
_MISSING = object()

"""Rule engine: may this attempt go now? Every refusal is counted per job by rule name.

``RuleEngine.check(job, contact, address, channel, now, history)`` applies, in order:

=========================  ==============================================================
``contact_block``          the contact id is on the block list
``channel``                the channel is not allowed
``invalid_address``        the address is not a phone number / email address
``address_block``          the address is on the block list
``dnc_global``             the address is on the global do-not-contact list
``dnc_campaign``           ... or on the job's campaign DNC list
``completion_code``        an earlier attempt ended with a final code (wrong number on this
                           address, or a contact-wide final code)
``nuisance``               a voice call within ``nuisance_period_s`` (72 h, Ofcom) after an
                           abandoned call to the contact, unless an agent is guaranteed
``attempts_total_contact`` / ``attempts_total_address``: caps over the whole history
``attempts_per_day_contact`` / ``attempts_per_day_address``: caps per day (the contact's
                           local day by default)
=========================  ==============================================================

The first rule that refuses gives the ``Decision`` (with ``until`` when the refusal ends
by itself: nuisance and per-day caps). The engine asks ``RuleEngine.decide`` in run-clock
seconds (local days come from the run's ``engine.calendar.RunCalendar``); ``check`` is the
same decision for callers on date-times. ``history`` is the contact's attempts across jobs
(``engine.strategy.PastAttempt``; in-flight ones included, since they count towards caps;
``Code.BLOCKED`` attempts never reached anyone and are not counted).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from engine.addresses import MAX_PHONE_DIGITS, MIN_PHONE_DIGITS, normalize_address
from engine.attempt import Channel, Code
from engine.calendar import RunCalendar
from engine.contacts import zone
from engine.dnc import DncRegistry
from engine.strategy import PastAttempt, as_utc, code_of
from engine.vocab import STEP_CHANNELS, step_channel

# Ofcom persistent-misuse policy: no repeat call within 72 h of an abandoned call unless an
# agent is guaranteed (Ofcom, persistent misuse statement, 2016).
OFCOM_NUISANCE_PERIOD_S = 72 * 3600.0

RULES = (
    "contact_block",
    "channel",
    "invalid_address",
    "address_block",
    "dnc_global",
    "dnc_campaign",
    "completion_code",
    "nuisance",
    "attempts_total_contact",
    "attempts_total_address",
    "attempts_per_day_contact",
    "attempts_per_day_address",
)


class RuleConfigError(ValueError):
    """A rule setting is invalid; the message starts with the field name."""


@lru_cache(maxsize=4096)
def _norm(address: str, channel: str, cc: str | None) -> str:
    """An address in the form lists and history are compared in (raw text if unparsable)."""
    kind = "email" if "@" in address else ("phone" if channel in ("voice", "sms") else channel)
    try:
        return normalize_address(address, kind, cc)
    except ValueError:
        return address.strip().lower()


def _canonical(addr: str, channel: str) -> bool:
    """True when ``_norm(addr, channel, cc)`` is ``addr`` itself whatever ``cc``: an e-mail
    address already trimmed and lower-cased, or ``+`` and 6-15 digits on a phone channel.
    Speed shortcut: a history entry holding the checked address itself then needs no
    normalising (``_norm``'s cache misses on the thousands of new addresses an hour that
    get a retry)."""
    if "@" in addr:
        return addr == addr.strip().lower()
    digits = addr[1:]
    return (addr[:1] == "+" and digits.isdigit() and digits.isascii()
            and MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS
            and channel in ("voice", "sms"))


def _codes(values: Iterable[Any], name: str) -> frozenset[Code]:
    if isinstance(values, (str, int)):
        raise RuleConfigError(f"{name}: must be a list of completion codes")
    try:
        return frozenset(code_of(v, name) for v in values)
    except ValueError as e:
        raise RuleConfigError(str(e)) from None
    except TypeError:
        raise RuleConfigError(f"{name}: must be a list of completion codes, got "
                              f"{values!r:.60}") from None


def _strings(name: str, values: Iterable[Any]) -> frozenset[str]:
    """A collection of ids, addresses or channels as strings (each a str or a number)."""
    try:
        if isinstance(values, bytes | bytearray):
            raise TypeError
        items = list(values)
    except TypeError:
        raise RuleConfigError(f"{name}: must be a collection, got {values!r:.60}") from None
    bad = [x for x in items if isinstance(x, bool) or not isinstance(x, str | int)]
    if bad:
        raise RuleConfigError(f"{name}: expected strings, got {bad[0]!r:.60}")
    return frozenset(str(x) for x in items)


@dataclass(frozen=True)
class RuleConfig:
    """The restrictions of one campaign. ``None`` caps are off.

    Codes are ``Code`` values, ints or names (``wrong_number`` is ``Code.INVALID``).
    ``day`` is ``"contact"`` (days run midnight to midnight in the contact's zone, from
    ``timezone_field``, else ``default_timezone``) or a fixed IANA zone such as ``"UTC"``.
    """

    blocked_contacts: Iterable[str] = frozenset()
    blocked_addresses: Iterable[str] = frozenset()
    channels: Iterable[str] | None = None  # allowed channels; None: all
    max_attempts_per_day_contact: int | None = None
    max_attempts_total_contact: int | None = None
    max_attempts_per_day_address: int | None = None
    max_attempts_total_address: int | None = None
    final_codes_address: Iterable[Any] = frozenset({Code.INVALID})
    final_codes_contact: Iterable[Any] = frozenset()
    nuisance_period_s: float = OFCOM_NUISANCE_PERIOD_S
    nuisance_codes: Iterable[Any] = frozenset({Code.ABANDONED, Code.CUSTOMER_HANGUP})
    nuisance_channels: Iterable[str] = frozenset({"voice"})
    day: str = "contact"
    id_field: str = "id"
    timezone_field: str = "timezone"
    default_timezone: str = "UTC"
    default_country_code: str | None = None
    _blocked_norm: frozenset[str] = field(default=frozenset(), init=False, repr=False,
                                          compare=False)

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        for name in ("blocked_contacts", "blocked_addresses", "nuisance_channels"):
            v = getattr(self, name)
            if isinstance(v, str):
                raise RuleConfigError(f"{name}: must be a collection, not one string")
            put(name, _strings(name, v))
        if self.channels is not None:
            if isinstance(self.channels, str):
                raise RuleConfigError("channels: must be a collection, not one string")
            put("channels", _strings("channels", self.channels))
        for name in ("channels", "nuisance_channels"):
            bad = sorted(set(getattr(self, name) or ()) - set(STEP_CHANNELS))
            if bad:
                raise RuleConfigError(f"{name}: unknown channel(s) {', '.join(bad)}; expected "
                                      f"{', '.join(STEP_CHANNELS)}")
        for name in ("max_attempts_per_day_contact", "max_attempts_total_contact",
                     "max_attempts_per_day_address", "max_attempts_total_address"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                raise RuleConfigError(f"{name}: must be an integer >= 0 or None, got {v!r}")
        for name in ("final_codes_address", "final_codes_contact", "nuisance_codes"):
            put(name, _codes(getattr(self, name), name))
        if not isinstance(self.day, str):
            raise RuleConfigError(f"day: expected 'contact' or an IANA zone, got "
                                  f"{self.day!r:.60}")
        p = self.nuisance_period_s
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not p >= 0:
            raise RuleConfigError(f"nuisance_period_s: must be seconds >= 0, got {p!r}")
        for name in ("default_timezone",) + (() if self.day == "contact" else ("day",)):
            try:
                zone(getattr(self, name))
            except ValueError as e:
                what = "'contact' or an IANA zone" if name == "day" else "an IANA zone"
                raise RuleConfigError(f"{name}: {e} ({name} is {what})") from None
        cc = self.default_country_code
        if cc is not None and not (isinstance(cc, str) and cc.lstrip("+").isdigit()):
            raise RuleConfigError(f"default_country_code: {cc!r:.40} is not a country calling "
                                  "code like '44' or '+1'")
        put("_blocked_norm", frozenset(_norm(a, "voice", self.default_country_code)
                                       for a in self.blocked_addresses))


@dataclass(frozen=True)
class Decision:
    """The answer for one attempt: ``allowed``, else the refusing ``rule`` with a
    human-readable ``detail`` and, when the refusal lapses by itself, ``until`` (run-clock
    seconds from ``decide``, a UTC datetime from ``check``)."""

    allowed: bool
    rule: str | None = None
    detail: str = ""
    until: float | datetime | None = None

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Decision(True)


class RuleEngine:
    """Checks attempts against a ``RuleConfig`` (per job overrides in ``job_configs``) and
    the DNC lists, counting checks and refusals per job.

    ``campaigns`` maps a job to its campaign key in ``dnc.campaigns`` (default: the job).
    """

    def __init__(self, config: RuleConfig | None = None, dnc: DncRegistry | None = None,
                 campaigns: Mapping[Any, Any] | None = None,
                 job_configs: Mapping[Any, RuleConfig] | None = None):
        self.config = config if config is not None else RuleConfig()
        self.dnc = dnc
        self.campaigns = dict(campaigns or {})
        self.job_configs = dict(job_configs or {})
        self._counts: dict[Any, dict[str, int]] = {}
        self._admits: dict[tuple[Any, str], bool] = {}  # admits_fresh, configuration part

    def counts(self, job: Any) -> dict[str, int]:
        """``checked``, ``allowed`` and one refusal count per rule name (zeros included)."""
        c = self._counts.get(job)
        return dict(c) if c is not None else _zero_counts()

    def all_counts(self) -> dict[Any, dict[str, int]]:
        """``counts`` of every job checked so far."""
        return {j: dict(c) for j, c in self._counts.items()}

    def reset(self, job: Any) -> None:
        self._counts.pop(job, None)

    def admits_fresh(self, job: Any, channel: str) -> bool:
        """True when no rule can refuse ``job`` an attempt on ``channel`` to a contact with
        no history at a valid, normalised address: no blocks, no DNC entries, the channel
        allowed, no zero caps. The dialer may then skip ``check`` for fresh contacts and
        only ``count_allowed`` (DNC lists are looked at each call: they change at runtime).
        """
        key = (job, channel)
        static = self._admits.get(key)
        if static is None:
            cfg = self.job_configs.get(job, self.config)
            static = self._admits[key] = not (
                cfg.blocked_contacts or cfg.blocked_addresses
                or (cfg.channels is not None and channel not in cfg.channels)
                or 0 in (cfg.max_attempts_per_day_contact, cfg.max_attempts_total_contact,
                         cfg.max_attempts_per_day_address, cfg.max_attempts_total_address))
        if not static:
            return False
        return self.dnc is None or self.dnc.empty_for(self.campaigns.get(job, job))

    def count_allowed(self, job: Any, n: int = 1) -> None:
        """Count ``n`` checks that allowed (the ``admits_fresh`` short cut)."""
        c = self._counts.get(job)
        if c is None:
            c = self._counts[job] = _zero_counts()
        c["checked"] += n
        c["allowed"] += n

    def check(self, job: Any, contact: Mapping[str, Any] | str | int, address: str,
              channel: Channel | int | str, now: datetime | float,
              history: Iterable[PastAttempt] = (), *, agent_guaranteed: bool = False,
              run_start: datetime | None = None) -> Decision:
        """May ``job`` try ``address`` of ``contact`` on ``channel`` at ``now``?

        ``decide`` for callers on date-times: ``now`` and history times are aware
        datetimes or seconds since ``run_start``; ``until`` comes back as a UTC datetime.
        ``contact`` is the contact's fields (id and time zone read from them) or its id.
        ``agent_guaranteed`` (e.g. preview pacing) lifts the nuisance rule, as Ofcom allows.
        """
        now_utc = as_utc(now, run_start, "now")
        cal = RunCalendar(as_utc(run_start, None, "run_start") if run_start is not None
                          else now_utc)
        hist = [h._replace(at=cal.seconds(as_utc(h.at, run_start, f"history[{k}].at")))
                for k, h in enumerate(history)]
        d = self.decide(job, contact, address, step_channel(channel), cal.seconds(now_utc),
                        hist, cal, agent_guaranteed=agent_guaranteed)
        return d if d.until is None else replace(d, until=cal.at(d.until))

    def decide(self, job: Any, contact: Mapping[str, Any] | str | int, address: str,
               channel: Channel | int | str, now_s: float, history: Sequence[PastAttempt],
               calendar: RunCalendar, agent_guaranteed: bool = False,
               normalised: bool = False) -> Decision:
        """May ``job`` try ``address`` of ``contact`` on ``channel`` at run-clock ``now_s``?

        History times and the answer's ``until`` are run-clock seconds of ``calendar``.
        ``normalised``: ``address`` is already in canonical form (a contact list's loader
        normalised and validated it), so a contact with no history needs no rule but the
        ones ``admits_fresh`` rules out: such a check is only counted. Counts every check.
        """
        ch = channel if channel.__class__ is str else step_channel(channel)
        if normalised and not history:
            static = self._admits.get((job, ch))
            if static is None:
                static = self.admits_fresh(job, ch)
            elif static and self.dnc is not None:
                static = self.dnc.empty_for(self.campaigns.get(job, job))
            if static:  # ``admits_fresh``, inlined with ``count_allowed`` (once per attempt)
                c = self._counts.get(job)
                if c is None:
                    c = self._counts[job] = _zero_counts()
                c["checked"] += 1
                c["allowed"] += 1
                return ALLOWED
        d = self._decide(job, contact, address, ch, now_s, history, agent_guaranteed,
                         calendar, normalised)
        c = self._counts.get(job)
        if c is None:
            c = self._counts[job] = _zero_counts()
        c["checked"] += 1
        c["allowed" if d.allowed else d.rule] += 1
        return d

    def _decide(self, job: Any, contact: Mapping[str, Any] | str | int, address: str,
                ch: str, now: float, history: Iterable[PastAttempt], agent_guaranteed: bool,
                cal: RunCalendar, normalised: bool = False) -> Decision:
        cfg = self.job_configs.get(job, self.config)
        if contact.__class__ is dict or isinstance(contact, Mapping):  # the engine's first
            cid = contact.get(cfg.id_field)
            tz_name = contact.get(cfg.timezone_field) or cfg.default_timezone
        else:
            cid, tz_name = contact, cfg.default_timezone
        cid = None if cid is None else str(cid)

        if cid is not None and cid in cfg.blocked_contacts:
            return Decision(False, "contact_block", f"contact {cid!r} is blocked")
        if cfg.channels is not None and ch not in cfg.channels:
            return Decision(False, "channel", f"channel {ch} is not allowed")
        if normalised:
            addr = address
        else:
            kind = "email" if ch == "email" else ("phone" if ch in ("voice", "sms") else
                                                  "custom")
            try:
                addr = normalize_address(address, kind, cfg.default_country_code)
            except ValueError as e:
                return Decision(False, "invalid_address", str(e))
        if addr in cfg._blocked_norm:
            return Decision(False, "address_block", f"address {addr} is blocked")
        if self.dnc is not None:
            hit = self.dnc.check(addr, self.campaigns.get(job, job))
            if hit == "global":
                return Decision(False, "dnc_global", f"{addr} is on the global DNC list")
            if hit == "campaign":
                return Decision(False, "dnc_campaign", f"{addr} is on the campaign's DNC list")

        cc = cfg.default_country_code
        tries = []  # (at, code, same_address, channel)
        for h in history:
            code = int(h.code)
            if code == _BLOCKED:
                continue
            hch = h.channel if h.channel.__class__ is str else step_channel(h.channel)
            ha = h.address
            same = bool(ha) and ((ha == addr and _canonical(addr, hch))
                                 or _norm(ha, hch, cc) == addr)
            tries.append((h.at, code, same, hch))

        for at, code, same, _ in tries:
            if code in cfg.final_codes_contact:
                return Decision(False, "completion_code",
                                f"an attempt at {_stamp(cal, at)} ended {Code(code).name}")
            if same and code in cfg.final_codes_address:
                return Decision(False, "completion_code",
                                f"{addr}: an attempt at {_stamp(cal, at)} ended "
                                f"{Code(code).name}")

        if (cfg.nuisance_period_s > 0 and ch in cfg.nuisance_channels
                and not agent_guaranteed):
            last = None  # the latest nuisance call (a loop: once per retry handed out)
            for at, code, _, hch in tries:
                if (code in cfg.nuisance_codes and hch in cfg.nuisance_channels
                        and (last is None or at > last)):
                    last = at
            if last is not None:
                until = last + cfg.nuisance_period_s
                if now < until:
                    return Decision(False, "nuisance",
                                    f"abandoned call at {_stamp(cal, last)}; no new call "
                                    f"within {cfg.nuisance_period_s / 3600:g} h", until)

        n_contact = len(tries)
        n_address = 0
        for t in tries:
            n_address += t[2]
        if cfg.max_attempts_total_contact is not None and (
                n_contact >= cfg.max_attempts_total_contact):
            return Decision(False, "attempts_total_contact",
                            f"{n_contact} attempts, at most {cfg.max_attempts_total_contact}")
        if cfg.max_attempts_total_address is not None and (
                n_address >= cfg.max_attempts_total_address):
            return Decision(False, "attempts_total_address",
                            f"{n_address} attempts on {addr}, at most "
                            f"{cfg.max_attempts_total_address}")
        if (cfg.max_attempts_per_day_contact is not None
                or cfg.max_attempts_per_day_address is not None):
            day_zone = cfg.day if cfg.day != "contact" else tz_name
            try:
                days = cal.days(day_zone)
            except ValueError:
                day_zone = cfg.default_timezone
                days = cal.days(day_zone)
            start, end = days.bounds(now)
            today = [t for t in tries if start <= t[0] < end]
            lim = cfg.max_attempts_per_day_contact
            if lim is not None and len(today) >= lim:
                return Decision(False, "attempts_per_day_contact",
                                f"{len(today)} attempts today ({day_zone}), at most {lim}", end)
            lim = cfg.max_attempts_per_day_address
            n = 0
            for t in today:
                n += t[2]
            if lim is not None and n >= lim:
                return Decision(False, "attempts_per_day_address",
                                f"{n} attempts on {addr} today ({day_zone}), at most {lim}",
                                end)
        return ALLOWED


_BLOCKED = int(Code.BLOCKED)


def _stamp(cal: RunCalendar, t_s: float) -> str:
    """A run-clock time for a message, as UTC to the minute."""
    return f"{cal.at(t_s):%Y-%m-%d %H:%M}Z"


def _zero_counts() -> dict[str, int]:
    return {"checked": 0, "allowed": 0, **dict.fromkeys(RULES, 0)}


"""One vocabulary: every enum and code set of the engine, and the one place that parses and
formats them.

Enums are ``IntEnum``s whose values are stored (attempt records, events, results) and
never renumbered. Names are what people, files and events read:

- ``Channel`` (``voice_agent``, ``voice_agentless``, ``sms``, ``email``) is an attempt's
  channel; a strategy step names the medium only (``STEP_CHANNELS``: ``voice``, ``sms``,
  ``email``, ``custom``), a voice step being agent-based or agentless by its pacing.
- Pacing (``pacer.modes.Pacing``, which the pacer keeps to itself) is spelt ``predictive``,
  ``progressive``, ``preview``, ``ratio``, ``vicidial-hard``, ``vicidial-tapered``,
  ``vicidial-average``, ``timed``; with its parameter ``progressive:1.5`` / ``ratio:2.5``.
- ``Code`` (completion codes) by name, lower case in files (``no_answer``), with aliases
  (``wrong_number``, ``answering_machine``...); upper case in events (``NO_ANSWER``).
- ``AgentState`` by name (``WORK_NOT_READY``).

Code sets (``LIVE_CODES``, ``ABANDON_CODES``) and the agent-state split behind occupancy
(``TALK_STATES``, ``WRAP_STATES``, ...) are defined here and nowhere else.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from enum import IntEnum

from pacer.modes import Pacing, Target

# ---------------------------------------------------------------------- channels


class Channel(IntEnum):
    """An attempt's channel."""

    VOICE_AGENT = 0  # a call an agent takes when answered
    VOICE_AGENTLESS = 1  # a call playing a message (notification), no agent
    SMS = 2
    EMAIL = 3


CHANNEL_NAMES = ("voice_agent", "voice_agentless", "sms", "email")  # by Channel value
STEP_CHANNELS = ("voice", "sms", "email", "custom")
VOICE_CHANNELS = frozenset((int(Channel.VOICE_AGENT), int(Channel.VOICE_AGENTLESS)))


def channel_name(channel: Channel | int) -> str:
    """``voice_agent`` / ``voice_agentless`` / ``sms`` / ``email``."""
    return CHANNEL_NAMES[int(channel)]


def parse_channel(text: str) -> Channel:
    """A ``Channel`` from its name; ``ValueError`` naming the choices."""
    try:
        return Channel(CHANNEL_NAMES.index(text))
    except ValueError:
        raise ValueError(f"unknown channel {text!r}; expected one of "
                         f"{', '.join(CHANNEL_NAMES)}") from None


def step_channel(channel: Channel | int | str) -> str:
    """A strategy step's channel (``voice``, ``sms``, ``email``, ``custom``) from a step
    channel name or an attempt's ``Channel`` (both voice channels are ``voice``)."""
    if isinstance(channel, str):
        if channel in STEP_CHANNELS:
            return channel
        raise ValueError(f"unknown channel {channel!r}; expected one of "
                         f"{', '.join(STEP_CHANNELS)}")
    c = int(Channel(channel))
    return "voice" if c in VOICE_CHANNELS else CHANNEL_NAMES[c]


# ---------------------------------------------------------------------- pacing

PACING_NAMES: dict[Pacing, str] = {
    Pacing.PREDICTIVE: "predictive",
    Pacing.PROGRESSIVE: "progressive",
    Pacing.PREVIEW: "preview",
    Pacing.FIXED_RATIO: "ratio",
    Pacing.VICIDIAL_HARD_LIMIT: "vicidial-hard",
    Pacing.VICIDIAL_TAPERED: "vicidial-tapered",
    Pacing.VICIDIAL_AVERAGE: "vicidial-average",
    Pacing.TIMED: "timed",
}
PACING_BY_NAME: dict[str, Pacing] = {name: p for p, name in PACING_NAMES.items()}
AGENT_PACINGS = tuple(name for p, name in PACING_NAMES.items() if p != Pacing.TIMED)
PACINGS = tuple(PACING_NAMES.values())
RATIO_PACINGS = frozenset((Pacing.PROGRESSIVE, Pacing.FIXED_RATIO))  # take ``:R``


@dataclass(frozen=True)
class PacingSpec:
    """A pacing and its parameter: ``progressive:1.5`` is (PROGRESSIVE, 1.5); ``ratio`` is
    lines per agent for ``progressive`` and ``ratio`` (None: the campaign's own)."""

    pacing: Pacing
    ratio: float | None = None

    @property
    def name(self) -> str:
        return PACING_NAMES[self.pacing]

    def __str__(self) -> str:
        return self.name if self.ratio is None else f"{self.name}:{self.ratio:g}"


def pacing_name(pacing: Pacing | int) -> str:
    """The name of a ``Pacing`` (``vicidial-hard``)."""
    return PACING_NAMES[Pacing(pacing)]


def parse_pacing(text: str, agent_only: bool = False, what: str = "pacing") -> PacingSpec:
    """``predictive``, ``vicidial-tapered``, ``progressive:1.5``, ``ratio:2.5`` -> a
    ``PacingSpec``; ``agent_only`` refuses ``timed``. ``ValueError`` says what is expected,
    naming the text as ``what`` (``pacing``, ``policy``)."""
    choices = AGENT_PACINGS if agent_only else PACINGS
    name, sep, arg = str(text).strip().partition(":")
    if name not in choices:
        raise ValueError(f"{what} {text!r}: expected one of {', '.join(choices)} "
                         "(ratio and progressive take ':R', e.g. ratio:1.5)")
    pacing = PACING_BY_NAME[name]
    if not sep:
        return PacingSpec(pacing)
    if pacing not in RATIO_PACINGS:
        raise ValueError(f"{what} {text!r}: only ratio and progressive take ':R'")
    try:
        r = float(arg)
    except ValueError:
        raise ValueError(f"{what} {text!r}: expected a number after ':'") from None
    if not (math.isfinite(r) and r > 0):
        raise ValueError(f"{what} {text!r}: expected a ratio > 0")
    return PacingSpec(pacing, r)


TARGET_NAMES: dict[Target, str] = {
    Target.ABANDON_RATE: "abandon_rate",
    Target.SERVICE_LEVEL: "service_level",
    Target.AGENT_WAIT: "agent_wait",
}
TARGET_BY_NAME: dict[str, Target] = {name: t for t, name in TARGET_NAMES.items()}
TARGETS = tuple(TARGET_NAMES.values())


# ---------------------------------------------------------------------- completion codes


class Code(IntEnum):
    """Completion codes. ``LIVE_CODES`` are live answers, ``ABANDON_CODES`` abandons."""

    PENDING = 0
    LIVE_CONNECTED = 1  # live answer, talked to an agent
    ABANDONED = 2  # live answer, no agent within the connect window (or dropped)
    MACHINE = 3  # answering machine detected (includes AMD false positives on humans)
    BUSY = 4
    NO_ANSWER = 5
    INVALID = 6
    BLOCKED = 7  # no port / no capacity: never went out, never a completion
    DELIVERED = 8  # agentless message, SMS or email delivered
    UNDELIVERED = 9
    CUSTOMER_HANGUP = 10  # live answer, the person hung up before an agent came (an abandon)
    TRAPPED = 11  # in flight when the engine stopped (a crash): outcome unknown, re-queued


# Live answers: a human answered, as the dialer saw it (connected, or abandoned: dropped at
# the connect window or hung up waiting). Answering machines misclassified as human count.
LIVE_CODES = frozenset((int(Code.LIVE_CONNECTED), int(Code.ABANDONED),
                        int(Code.CUSTOMER_HANGUP)))
ABANDON_CODES = frozenset((int(Code.ABANDONED), int(Code.CUSTOMER_HANGUP)))
# Contact reached: a live connect, or a message delivered.
CONNECT_CODES = frozenset((int(Code.LIVE_CONNECTED), int(Code.DELIVERED)))
# Not completions: still in flight, or never went out for want of a port.
NOT_COMPLETED_CODES = frozenset((int(Code.PENDING), int(Code.BLOCKED)))

CODE_ALIASES: dict[str, Code] = {
    "answering_machine": Code.MACHINE,
    "machine": Code.MACHINE,
    "abandon": Code.ABANDONED,
    "nuisance": Code.ABANDONED,
    "hangup": Code.CUSTOMER_HANGUP,
    "wrong_number": Code.INVALID,
    "connected": Code.LIVE_CONNECTED,
    "live": Code.LIVE_CONNECTED,
}
_CODE_NAMES = tuple(c.name for c in Code)


def code_name(code: Code | int) -> str:
    """A code's event name: ``NO_ANSWER``."""
    return _CODE_NAMES[int(code)]


def parse_code(value: Code | int | str) -> Code:
    """A completion code from a ``Code``, its int, its name or an alias (``wrong_number``,
    ``answering_machine``, ``abandon``...), case-insensitive; ``ValueError`` otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a completion code")
    if isinstance(value, int):
        try:
            return Code(value)
        except ValueError:
            raise ValueError(f"{value} is not a completion code") from None
    if isinstance(value, str):
        key = value.strip().lower().replace(" ", "_").replace("-", "_")
        if key in CODE_ALIASES:
            return CODE_ALIASES[key]
        try:
            return Code[key.upper()]
        except KeyError:
            pass
    known = list(dict.fromkeys([c.name.lower() for c in Code] + list(CODE_ALIASES)))
    close = difflib.get_close_matches(str(value).strip().lower(), known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"{value!r} is not a completion code{hint}; expected one of "
                     f"{', '.join(known)}")


# ---------------------------------------------------------------------- agent states


class AgentState(IntEnum):
    """An agent's state in the agent manager."""

    LOGGED_OUT = 0
    LOGGED_IN = 1
    READY = 2
    BUSY = 3  # on a call (reserved for or talking to a contact)
    WORK_NOT_READY = 4  # wrap-up after a call
    NOT_READY = 5  # aux / break
    PENDING_NOT_READY = 6  # on a call or in wrap; goes NOT_READY when done
    PENDING_LOGOUT = 7  # on a call or in wrap; logs out when done


# The split behind occupancy and agent statistics: talk + wrap is handling time; every
# state but LOGGED_OUT is logged-in time. The pending states are a call or its wrap-up
# with a break or logout asked for, counted as wrap.
TALK_STATES = (int(AgentState.BUSY),)
WRAP_STATES = (int(AgentState.WORK_NOT_READY), int(AgentState.PENDING_NOT_READY),
               int(AgentState.PENDING_LOGOUT))
HANDLING_STATES = TALK_STATES + WRAP_STATES
READY_STATES = (int(AgentState.READY),)
NOT_READY_STATES = (int(AgentState.NOT_READY), int(AgentState.LOGGED_IN))
OFF_STATES = (int(AgentState.LOGGED_OUT),)
_STATE_NAMES = tuple(s.name for s in AgentState)


def state_name(state: AgentState | int) -> str:
    """An agent state's name: ``WORK_NOT_READY``."""
    return _STATE_NAMES[int(state)]


def parse_agent_state(text: str) -> AgentState:
    """An ``AgentState`` from its name (any case); ``ValueError`` naming the choices."""
    try:
        return AgentState[str(text).strip().upper()]
    except KeyError:
        raise ValueError(f"unknown agent state {text!r}; expected one of "
                         f"{', '.join(_STATE_NAMES)}") from None

"""Integer codes shared by the kernels and the Python layer.

Kernels take plain int64 arrays, so every enumeration here is an ``IntEnum`` whose values
are stable: they are stored in scenario results and must not be renumbered.
"""

from enum import IntEnum


class Pacing(IntEnum):
    """How a campaign decides the number of new attempts each tick."""

    PREVIEW = 0  # one dial per agent request
    PROGRESSIVE = 1  # ``ratio`` lines per idle agent
    PREDICTIVE = 2  # model-based, one optimisation target (see ``Target``)
    TIMED = 3  # attempts per second within min/max ports (agentless voice, SMS, email)
    FIXED_RATIO = 4  # baseline: VICIdial RATIO semantics
    VICIDIAL_HARD_LIMIT = 5  # baseline: ADAPT_HARD_LIMIT
    VICIDIAL_TAPERED = 6  # baseline: ADAPT_TAPERED
    VICIDIAL_AVERAGE = 7  # baseline: ADAPT_AVERAGE


class Target(IntEnum):
    """The one optimisation target of a predictive campaign."""

    ABANDON_RATE = 0  # max abandons / live answers (fraction 0..1)
    SERVICE_LEVEL = 1  # X (fraction 0..1) of live answers connected within T seconds
    AGENT_WAIT = 2  # target mean agent wait between calls (seconds)


class Regulation(IntEnum):
    """Which regulatory abandon-rate definition a campaign is held to."""

    FCC = 0  # US FTC TSR / FCC 47 CFR 64.1200: abandons / live answers, campaign or 30 days
    OFCOM = 1  # UK Ofcom: per 24 h, AMD false positives counted as abandoned live calls


class LicenseKind(IntEnum):
    """Pools handed out by the agent manager's license distribution."""

    PREDICTIVE_AGENT = 0
    PROGRESSIVE_AGENT = 1
    PREVIEW_AGENT = 2
    OUTBOUND_PORT = 3
    SMS_THROUGHPUT = 4
    EMAIL_THROUGHPUT = 5
    MANUAL_AGENT = 6  # agents attached to manual-dial jobs (the agent places each call)


class AgentStatus(IntEnum):
    """How the pacer sees one agent (the engine maps its richer states onto these)."""

    OFF = 0  # logged out
    IDLE = 1  # ready now: surely free
    BUSY = 2  # on a call; or on a call or in wrap-up, where the caller never reports WRAP
    BUSY_LEAVING = 3  # on a call or in wrap-up, but goes not-ready/logs out afterwards
    PAUSED = 4  # logged in but not ready (aux, break): counted by VICIdial, never dialled for
    WRAP = 5  # in wrap-up (after-call work) after a call; free again when it ends


class CallStatus(IntEnum):
    """How the pacer sees one call slot."""

    FREE = 0  # slot unused
    RINGING = 1  # dialled, not answered yet
    WAITING = 2  # live answer waiting for an agent
    CONNECTED = 3  # live answer talking to an agent

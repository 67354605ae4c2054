"""The attempt: one outbound try on one address and channel, and its completion codes."""

from __future__ import annotations

from enum import IntEnum


class Channel(IntEnum):
    VOICE_AGENT = 0
    VOICE_AGENTLESS = 1
    SMS = 2
    EMAIL = 3


CHANNEL_NAMES = ("voice_agent", "voice_agentless", "sms", "email")


class Code(IntEnum):
    """Completion codes. ``LIVE_CONNECTED`` and ``ABANDONED`` are the two live-answer ends."""

    PENDING = 0
    LIVE_CONNECTED = 1  # live answer, talked to an agent
    ABANDONED = 2  # live answer, no agent within the connect window (or dropped)
    MACHINE = 3  # answering machine detected (includes AMD false positives on humans)
    BUSY = 4
    NO_ANSWER = 5
    INVALID = 6
    BLOCKED = 7  # no port / no capacity
    DELIVERED = 8  # agentless message, SMS or email delivered
    UNDELIVERED = 9
    CUSTOMER_HANGUP = 10  # live answer, the person hung up before an agent came (an abandon)
    TRAPPED = 11  # in flight when the engine stopped (a crash): outcome unknown, re-queued


# The attempt record every store keeps and every ATTEMPT event carries: (field, SQL type).
# Times are seconds on the run clock (``t_* < 0``: did not happen); ``job`` is the job's
# index, ``job_name`` its name; ``contact`` the contact's row in the job's list and
# ``contact_id`` its id; ``step`` the strategy step; ``code`` a ``Code`` value.
ATTEMPT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("attempt_id", "INTEGER"),
    ("job", "INTEGER"),
    ("job_name", "TEXT"),
    ("contact", "INTEGER"),
    ("contact_id", "TEXT"),
    ("address", "TEXT"),
    ("step", "INTEGER"),
    ("channel", "INTEGER"),
    ("code", "INTEGER"),
    ("agent", "INTEGER"),
    ("abandoned", "BOOLEAN"),
    ("amd_false_positive", "BOOLEAN"),
    ("human", "BOOLEAN"),
    ("t_created", "REAL"),
    ("t_answer", "REAL"),
    ("t_connect", "REAL"),
    ("t_talk_end", "REAL"),
    ("t_end", "REAL"),
)
ATTEMPT_FIELDS = tuple(name for name, _ in ATTEMPT_COLUMNS)


class Attempt:
    """One attempt's mutable record while in flight; flat fields, seconds on the run clock.

    ``truth_*`` fields are set by a telephony that knows the ground truth (the simulator);
    live adapters leave them unset.
    """

    __slots__ = (
        "abandoned",
        "address",
        "agent",
        "channel",
        "code",
        "contact",
        "contact_id",
        "id",
        "job",
        "job_name",
        "slot",
        "step",
        "t_answer",
        "t_connect",
        "t_created",
        "t_end",
        "t_talk_end",
        "truth_amd_false_positive",
        "truth_human",
    )

    def __init__(self, id: int, job: int, contact: int, channel: int, t_created: float,
                 contact_id: str = "", address: str = "", step: int = 0, job_name: str = ""):
        self.id = id
        self.job = job
        self.job_name = job_name
        self.contact = contact
        self.contact_id = contact_id
        self.address = address
        self.step = step
        self.channel = channel
        self.t_created = t_created
        self.t_answer = -1.0
        self.t_connect = -1.0
        self.t_talk_end = -1.0
        self.t_end = -1.0
        self.code = 0  # Code.PENDING (a plain int: this runs once per attempt)
        self.agent = -1
        self.abandoned = False
        self.slot = -1
        self.truth_human = False
        self.truth_amd_false_positive = False

    def record(self) -> dict:
        """The attempt as a flat record with the ``ATTEMPT_FIELDS`` keys (plain values)."""
        return {
            "attempt_id": self.id, "job": self.job, "job_name": self.job_name,
            "contact": self.contact, "contact_id": self.contact_id, "address": self.address,
            "step": self.step, "channel": int(self.channel), "code": int(self.code),
            "agent": self.agent, "abandoned": bool(self.abandoned),
            "amd_false_positive": bool(self.truth_amd_false_positive),
            "human": bool(self.truth_human), "t_created": self.t_created,
            "t_answer": self.t_answer, "t_connect": self.t_connect,
            "t_talk_end": self.t_talk_end, "t_end": self.t_end,
        }

    @property
    def live(self) -> bool:
        """A live answer as the dialer saw it: connected, abandoned or hung up waiting."""
        return self.code in (Code.LIVE_CONNECTED, Code.ABANDONED, Code.CUSTOMER_HANGUP)

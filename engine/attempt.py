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


class Attempt:
    """One attempt's mutable record while in flight; flat fields, seconds on the run clock.

    ``truth_*`` fields are set by a telephony that knows the ground truth (the simulator);
    live adapters leave them unset.
    """

    __slots__ = (
        "abandoned",
        "agent",
        "channel",
        "code",
        "contact",
        "id",
        "job",
        "slot",
        "t_answer",
        "t_connect",
        "t_created",
        "t_end",
        "t_talk_end",
        "truth_amd_false_positive",
        "truth_human",
    )

    def __init__(self, id: int, job: int, contact: int, channel: int, t_created: float):
        self.id = id
        self.job = job
        self.contact = contact
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

    @property
    def live(self) -> bool:
        """A live answer as the dialer saw it: connected, abandoned or hung up waiting."""
        return self.code in (Code.LIVE_CONNECTED, Code.ABANDONED, Code.CUSTOMER_HANGUP)

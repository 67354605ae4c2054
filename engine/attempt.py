"""The attempt: one outbound try on one address and channel, and its record."""

from __future__ import annotations

from operator import attrgetter

from engine.vocab import CHANNEL_NAMES, LIVE_CODES, Channel, Code

__all__ = ["ATTEMPT_COLUMNS", "ATTEMPT_FIELDS", "CHANNEL_NAMES", "Attempt", "Channel", "Code"]


# The attempt record every store keeps and every ATTEMPT event carries, defined once:
# (field, SQL type, ``Attempt`` attribute). Times are seconds on the run clock (``t_* < 0``:
# did not happen); ``job`` is the job's index, ``job_name`` its name; ``contact`` the
# contact's row in the job's list and ``contact_id`` its id; ``step`` the strategy step;
# ``code`` a ``Code`` value; ``amd_false_positive`` and ``human`` are ground truth a
# simulator knows (live adapters leave them False).
ATTEMPT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("attempt_id", "INTEGER", "id"),
    ("job", "INTEGER", "job"),
    ("job_name", "TEXT", "job_name"),
    ("contact", "INTEGER", "contact"),
    ("contact_id", "TEXT", "contact_id"),
    ("address", "TEXT", "address"),
    ("step", "INTEGER", "step"),
    ("channel", "INTEGER", "channel"),
    ("code", "INTEGER", "code"),
    ("agent", "INTEGER", "agent"),
    ("abandoned", "BOOLEAN", "abandoned"),
    ("amd_false_positive", "BOOLEAN", "truth_amd_false_positive"),
    ("human", "BOOLEAN", "truth_human"),
    ("t_created", "REAL", "t_created"),
    ("t_answer", "REAL", "t_answer"),
    ("t_connect", "REAL", "t_connect"),
    ("t_talk_end", "REAL", "t_talk_end"),
    ("t_end", "REAL", "t_end"),
)
ATTEMPT_FIELDS = tuple(name for name, _, _ in ATTEMPT_COLUMNS)
CODE_INDEX = ATTEMPT_FIELDS.index("code")
_CHANNEL_INDEX = ATTEMPT_FIELDS.index("channel")
_ROW = attrgetter(*(attr for _, _, attr in ATTEMPT_COLUMNS))
_PLAIN = tuple({"INTEGER": int, "TEXT": str, "BOOLEAN": bool, "REAL": float}[sql]
               for _, sql, _ in ATTEMPT_COLUMNS)


class Attempt:
    """One attempt's mutable record while in flight; flat fields, seconds on the run clock.

    Its attributes are ``ATTEMPT_COLUMNS``' plus ``slot`` (the dialer's call slot, -1:
    none), all plain values (ints, floats, bools, strings). ``truth_*`` fields are set by a
    telephony that knows the ground truth (the simulator); live adapters leave them unset.
    """

    __slots__ = (*(attr for _, _, attr in ATTEMPT_COLUMNS), "slot")

    def __init__(self, id: int, job: int, contact: int, channel: int, t_created: float,
                 contact_id: str = "", address: str = "", step: int = 0, job_name: str = ""):
        self.id = id
        self.job = job
        self.job_name = job_name
        self.contact = contact
        self.contact_id = contact_id
        self.address = address
        self.step = step
        self.channel = channel if channel.__class__ is int else int(channel)
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

    def row(self) -> tuple:
        """The attempt's values in ``ATTEMPT_FIELDS`` order, as set (the engine sets plain
        values; code and channel are made plain ints here, as callers may set enums)."""
        r = _ROW(self)
        if r[CODE_INDEX].__class__ is not int or r[_CHANNEL_INDEX].__class__ is not int:
            r = tuple(int(v) if k in (CODE_INDEX, _CHANNEL_INDEX) else v
                      for k, v in enumerate(r))
        return r

    def plain_row(self) -> tuple:
        """``row`` with every value of its column's plain type (int, str, bool, float)."""
        return tuple(t(v) for t, v in zip(_PLAIN, _ROW(self), strict=True))

    def record(self) -> dict:
        """The attempt as a flat record with the ``ATTEMPT_FIELDS`` keys (plain values)."""
        return dict(zip(ATTEMPT_FIELDS, self.plain_row(), strict=True))

    @property
    def live(self) -> bool:
        """A live answer as the dialer saw it: connected, abandoned or hung up waiting."""
        return self.code in LIVE_CODES

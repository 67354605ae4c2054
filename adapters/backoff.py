"""Reconnect delays for the live adapters: exponential backoff with full jitter, capped."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays (s) before reconnect attempts: ``first_s * 2**n`` capped at ``max_s``, each
    drawn uniformly in [half, full] so many clients do not reconnect in step."""

    first_s: float = 0.2
    max_s: float = 30.0
    stable_s: float = 10.0  # a connection up this long was a success (see ``ended``)
    failures: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_s(self) -> float:
        """The delay before the next try; each call counts one more failure."""
        full = min(self.first_s * (2 ** min(self.failures, 30)), self.max_s)
        self.failures += 1
        return full * (0.5 + 0.5 * self.rng.random())

    def reset(self) -> None:
        """A connection succeeded: the next failure starts over at ``first_s``."""
        self.failures = 0

    def ended(self, up_s: float) -> None:
        """A connection that was up ``up_s`` seconds ended. One that lasted ``stable_s``
        starts the delays over; a shorter one does not, so a far end that accepts and
        then drops at once is retried ever more slowly (up to ``max_s``), not in a loop
        at ``first_s``."""
        if up_s >= self.stable_s:
            self.reset()

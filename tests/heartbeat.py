"""A heartbeat on the running event loop, for tests that check nothing holds the loop up."""

from __future__ import annotations

import asyncio
import time


class Heartbeat:
    """``async with Heartbeat() as hb:`` beats every ``period_s`` on the running loop from
    ``settle_s`` before the block's body to its end; ``hb.max_gap`` is then the longest
    time between two beats (seconds): how long the loop was held up at most."""

    def __init__(self, period_s: float = 0.005, settle_s: float = 0.02):
        self.period_s = period_s
        self.settle_s = settle_s
        self.gaps: list[float] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def _beat(self) -> None:
        last = time.perf_counter()
        while not self._stop.is_set():
            await asyncio.sleep(self.period_s)
            now = time.perf_counter()
            self.gaps.append(now - last)
            last = now

    async def __aenter__(self) -> Heartbeat:
        self._task = asyncio.create_task(self._beat())
        await asyncio.sleep(self.settle_s)
        return self

    async def __aexit__(self, *exc) -> None:
        self._stop.set()
        await self._task  # its last gap: up to the body's end

    @property
    def max_gap(self) -> float:
        return max(self.gaps)

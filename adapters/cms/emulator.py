"""A loopback CMS: connects to the adapter's server and streams report refreshes.

Each ``interval_s`` it asks the world for the rows of its report (one dict per skill,
keys as the layout's columns, durations in seconds, service level 0..1) and sends them as
CMS does; a lost connection is retried with backoff, as CMS retries its socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from adapters.backoff import Backoff
from adapters.cms.framing import SPLIT_SKILL, Layout, encode_batch

log = logging.getLogger(__name__)


class SkillWorld(Protocol):
    """What the CMS emulator asks the world: the report's rows right now."""

    def skill_rows(self) -> Sequence[Mapping[str, Any]]: ...


class CmsEmulator:
    """Stream ``world``'s report to ``host``:``port`` every ``interval_s`` seconds."""

    def __init__(self, world: SkillWorld, port: int, host: str = "127.0.0.1",
                 layout: Layout = SPLIT_SKILL, interval_s: float = 1.0,
                 backoff: Backoff | None = None):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"the CMS emulator connects to loopback only, not {host!r}")
        self.world = world
        self.host, self.port = host, port
        self.layout = layout
        self.interval_s = interval_s
        self.backoff = backoff or Backoff()
        self.sent = 0
        self.connects = 0
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.drop()

    def drop(self) -> None:
        """Cut the connection now (the emulator reconnects, as CMS would)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def send_raw(self, data: bytes) -> None:
        """Put ``data`` on the wire as it is (to test how the server takes bad input)."""
        if self._writer is None:
            raise ConnectionError("CMS emulator: not connected")
        self._writer.write(data)
        await self._writer.drain()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            up_since = None
            try:
                _, w = await asyncio.open_connection(self.host, self.port)
                self._writer = w
                self.connects += 1
                up_since = loop.time()
                while self._writer is w:
                    w.write(encode_batch(list(self.world.skill_rows()), self.layout))
                    await w.drain()
                    self.sent += 1
                    await asyncio.sleep(self.interval_s)
            except (ConnectionError, OSError):
                pass
            if up_since is not None:
                self.backoff.ended(loop.time() - up_since)
            self.drop()
            await asyncio.sleep(self.backoff.next_s())

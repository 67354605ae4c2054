"""The CMS real-time socket server: CMS connects out to us and streams report refreshes.

``CmsServer`` listens (CMS is the TCP client; a dropped connection is simply accepted
again when CMS reconnects), decodes each refresh with the site's ``Layout`` and keeps the
latest state per skill. It is the live skill feed: ``subscribe`` a listener and it gets
``on_skill_states`` with every refresh; ``snapshot()`` returns the latest at any time.
Report rows keep CMS's numbers and its empty cells (None); ``adapters.cms.skill_feed``
names them and makes them the engine's ``SkillFeed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from adapters.cms.framing import SPLIT_SKILL, Layout, ReportDecoder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SkillState:
    """One inbound skill (or VDN) at one refresh. Times in seconds; ``service_level`` a
    fraction 0..1; None where the report left the field empty or has no such column."""

    skill: int
    calls_waiting: int | None
    oldest_call_s: float | None
    service_level: float | None
    agents_staffed: int | None
    agents_available: int | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any], key: str) -> SkillState:
        """A decoded report row as a skill state; ValueError naming the column when a
        value is not what it must be (the key a skill number, counts whole numbers >= 0,
        the oldest call's age finite seconds >= 0, the service level a fraction 0..1)."""
        skill = _count(key, row.get(key))
        if skill is None:
            raise ValueError(f"{key}: empty")
        age = row.get("oldest_call_s")
        if age is not None and not (isinstance(age, int | float) and 0 <= age < math.inf):
            raise ValueError(f"oldest_call_s: {age!r:.30} is not seconds >= 0")
        sl = row.get("service_level")
        if sl is not None and not (isinstance(sl, int | float) and 0.0 <= sl <= 1.0):
            raise ValueError(f"service_level: {sl!r:.30} is not a fraction 0..1")
        return cls(skill, _count("calls_waiting", row.get("calls_waiting")), age, sl,
                   _count("agents_staffed", row.get("agents_staffed")),
                   _count("agents_available", row.get("agents_available")))


def _count(name: str, v: Any) -> int | None:
    """A report cell as a whole number >= 0 (None stays None); ValueError naming it."""
    if v is None:
        return None
    if isinstance(v, str):
        try:
            v = int(v.strip())
        except ValueError:
            raise ValueError(f"{name}: {v!r:.30} is not a whole number") from None
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < 2**53 \
            or v != int(v):
        raise ValueError(f"{name}: {v!r:.30} is not a whole number >= 0")
    return int(v)


class SkillListener(Protocol):
    def on_skill_states(self, states: Sequence[SkillState]) -> None:
        """A refresh arrived: the state of every skill it reported."""


class CmsServer:
    """Listen on ``host``:``port`` (0: any free port) for CMS real-time report streams."""

    def __init__(self, layout: Layout = SPLIT_SKILL, host: str = "127.0.0.1", port: int = 0,
                 max_line: int = 4096):
        self.layout = layout
        self.host = host
        self.port = port
        self.max_line = max_line
        self.listener: SkillListener | None = None
        self.states: dict[int, SkillState] = {}
        self.batches = 0
        self.connections = 0
        self.bad_lines = 0
        self.last_refresh: float | None = None  # time.monotonic() of the last batch
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def subscribe(self, listener: SkillListener) -> None:
        self.listener = listener

    def snapshot(self) -> dict[int, SkillState]:
        """The latest state per skill (empty until the first refresh)."""
        return dict(self.states)

    def age_s(self) -> float | None:
        """Seconds since the last refresh (None before the first)."""
        return None if self.last_refresh is None else time.monotonic() - self.last_refresh

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        for w in list(self._writers):
            w.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        peer = writer.get_extra_info("peername")
        dec = ReportDecoder(self.layout, max_line=self.max_line)
        counted = 0
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                for rows in dec.feed(data):
                    self._refresh(rows)
                for e in dec.errors:
                    log.warning("CMS %s: %s", peer, e)
                # every bad line counts, also past the decoder's last ``keep_errors``
                self.bad_lines += dec.bad_lines - counted
                counted = dec.bad_lines
                dec.errors.clear()
        except (ConnectionError, OSError) as e:
            log.warning("CMS %s: connection lost (%s)", peer, type(e).__name__)
        except asyncio.CancelledError:
            pass  # the server is closing
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _refresh(self, rows: list[dict[str, Any]]) -> None:
        states = []
        for r in rows:  # a row that makes no skill state is logged and skipped
            try:
                states.append(SkillState.from_row(r, self.layout.key))
            except ValueError as e:
                self.bad_lines += 1
                log.warning("CMS: row skipped: %s", e)
        for s in states:
            self.states[s.skill] = s
        self.batches += 1
        self.last_refresh = time.monotonic()
        if self.listener is not None:
            try:
                self.listener.on_skill_states(states)
            except Exception:  # a listener's bug must not stop the feed
                log.exception("CMS: skill listener failed")

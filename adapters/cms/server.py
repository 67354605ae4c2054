"""The CMS real-time socket server: CMS connects out to us and streams report refreshes.

``CmsServer`` listens (CMS is the TCP client; a dropped connection is simply accepted
again when CMS reconnects), decodes each refresh with the site's ``Layout`` and keeps the
latest state per skill. It is the live skill feed: ``subscribe`` a listener and it gets
``on_skill_state`` for every skill of every refresh; ``snapshot()`` returns the latest at
any time. ``names`` maps the report's skill (or VDN) numbers to the site's skill names;
an unnamed number is reported as its digits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from adapters.cms.framing import SPLIT_SKILL, Layout, ReportDecoder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SkillState:
    """One inbound skill at one refresh. Counts in calls or agents, times in seconds,
    ``service_level`` a fraction 0..1 (NaN when the report has no such column or left it
    empty; empty counts and times read 0)."""

    skill: str
    calls_waiting: int
    oldest_call_waiting_s: float
    service_level: float
    agents_staffed: int
    agents_available: int

    @classmethod
    def from_row(cls, row: Mapping[str, Any], key: str, name: str) -> SkillState:
        def n(k: str) -> Any:
            v = row.get(k)
            return 0 if v is None else v
        sl = row.get("service_level")
        return cls(name, int(n("calls_waiting")), float(n("oldest_call_s")),
                   float("nan") if sl is None else float(sl), int(n("agents_staffed")),
                   int(n("agents_available")))


class SkillListener(Protocol):
    def on_skill_state(self, state: SkillState) -> None:
        """A skill's state at this refresh (replaces the previous one)."""


class CmsServer:
    """Listen on ``host``:``port`` (0: any free port) for CMS real-time report streams."""

    def __init__(self, layout: Layout = SPLIT_SKILL, host: str = "127.0.0.1", port: int = 0,
                 max_line: int = 4096, names: Mapping[int, str] | None = None):
        self.layout = layout
        self.names = dict(names or {})
        self.host = host
        self.port = port
        self.max_line = max_line
        self.listener: SkillListener | None = None
        self.states: dict[str, SkillState] = {}
        self.batches = 0
        self.connections = 0
        self.bad_lines = 0
        self.last_refresh: float | None = None  # time.monotonic() of the last batch
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def subscribe(self, listener: SkillListener) -> None:
        self.listener = listener

    def skills(self) -> list[str]:
        """The skills reported so far (and every named one), sorted."""
        return sorted(set(self.states) | set(self.names.values()))

    def snapshot(self) -> dict[str, SkillState]:
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
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                for rows in dec.feed(data):
                    self._refresh(rows)
                for e in dec.errors:
                    log.warning("CMS %s: %s", peer, e)
                self.bad_lines += len(dec.errors)
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
        key = self.layout.key
        states = [SkillState.from_row(r, key, self.names.get(int(r[key]), str(r[key])))
                  for r in rows]
        for st in states:
            self.states[st.skill] = st
        self.batches += 1
        self.last_refresh = time.monotonic()
        if self.listener is not None:
            for st in states:
                try:
                    self.listener.on_skill_state(st)
                except Exception:  # a listener's bug must not stop the feed
                    log.exception("CMS: skill listener failed")

"""Event sinks: memory, JSON lines, tee; and the one serialiser of an event.

Each implements ``engine.interfaces.EventSink``. The Kafka sink lives in ``adapters.kafka``.
Events are serialised by orjson (a simulated busy hour publishes ~315,000 of them, and the
standard library's encoder took a fifth of a planner's run measuring their volume).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import orjson

from engine.interfaces import EventSink

log = logging.getLogger(__name__)
_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
_NULL = re.compile(rb"null")  # found faster than by `b"null" in`, in JSON full of commas


class SinkError(RuntimeError):
    """A sink could not take or deliver events (the message names the file or broker)."""


class SinkBusy(SinkError):
    """The sink holds events it has not confirmed yet (a broker slow or away for now):
    nothing is lost, they stay in the outbox; ask again later. A live run keeps going."""


def dump_bytes(event: dict[str, Any] | tuple[Any, ...]) -> bytes:
    """One event (or its values, a JSON array) as compact, strict JSON in UTF-8
    (``ValueError`` on NaN or infinity, ``TypeError`` on a value JSON cannot hold)."""
    try:  # plain Python values (the engine's events): ~30 % faster without the options
        out = orjson.dumps(event)
    except orjson.JSONEncodeError:  # numpy scalars or arrays, non-string keys
        out = orjson.dumps(event, option=_OPTIONS)
    if _NULL.search(out):  # orjson writes NaN and infinities as null: tell them from None
        _check_finite(event)
    return out


def dumps(event: dict[str, Any]) -> str:
    """``dump_bytes`` as text."""
    return dump_bytes(event).decode()


def _check_finite(value: Any) -> None:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"an event holds {value!r}: not strict JSON")
    elif isinstance(value, dict):
        for v in value.values():
            _check_finite(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _check_finite(v)


class MemorySink:
    """Keeps every ``(topic, event)`` in ``events``, in publication order."""

    enabled: bool = True

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        self.events.append((topic, event))

    def by_topic(self) -> dict[str, list[dict[str, Any]]]:
        """Events grouped by topic, each list in publication order."""
        out: dict[str, list[dict[str, Any]]] = {}
        for t, e in self.events:
            out.setdefault(t, []).append(e)
        return out

    def __len__(self) -> int:
        return len(self.events)


class JsonlSink:
    """Appends one JSON object ``{"topic": ..., "event": ...}`` per line to ``path``.

    The file is line-buffered, so each event reaches the OS as soon as it is written and a
    crash loses at most the line being written. ``append=False`` truncates an existing file;
    ``append=True`` first cuts off a last line left without its newline (a write a full disk
    or a kill cut short: its event was never confirmed, so the outbox offers it again), so
    the next line does not run into it. Raises ``SinkError`` naming the path when the file
    cannot be opened or written, or when publishing after ``close()``.
    """

    enabled: bool = True

    def __init__(self, path: str | Path, append: bool = False):
        self.path = Path(path)
        if append:
            _cut_torn_tail(self.path)
        try:
            self._f = open(self.path, "a" if append else "w", encoding="utf-8",
                           buffering=1)
        except OSError as exc:
            raise SinkError(f"cannot open event file {self.path} for writing: "
                            f"{exc.strerror or exc}") from exc
        self.count = 0

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        if self._f.closed:
            raise SinkError(f"event file {self.path} is closed")
        line = dumps({"topic": topic, "event": event}) + "\n"
        try:
            self._f.write(line)
        except OSError as exc:
            raise SinkError(f"cannot write event file {self.path}: "
                            f"{exc.strerror or exc}") from exc
        self.count += 1

    def flush(self) -> None:
        """Push buffered bytes to the OS (lines already are; this covers partial writes)."""
        if not self._f.closed:
            self._f.flush()

    def close(self) -> None:
        """Flush and close the file (idempotent)."""
        if not self._f.closed:
            try:
                self._f.close()
            except OSError as exc:
                raise SinkError(f"cannot close event file {self.path}: "
                                f"{exc.strerror or exc}") from exc

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _cut_torn_tail(path: Path) -> int:
    """Truncate a regular file after its last newline when what follows it is a JSON line
    cut short (it starts with ``{``); the bytes cut (0: none, not such a tail, or not a
    regular file). ``SinkError`` naming the path when it cannot be read or truncated."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return 0
        with open(path, "rb+") as f:
            size = end = f.seek(0, os.SEEK_END)
            while end > 0:
                start = max(end - 65536, 0)
                f.seek(start)
                i = f.read(end - start).rfind(b"\n")
                if i >= 0:
                    end = start + i + 1
                    break
                end = start
            if end == size:
                return 0
            f.seek(end)
            if f.read(1) != b"{":  # not a JSON line cut short: not ours to cut
                return 0
            f.truncate(end)
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise SinkError(f"cannot open event file {path} for appending: "
                        f"{exc.strerror or exc}") from exc
    log.warning("%s: its last %d bytes were a line cut off (no newline); removed, its "
                "event is published again", path, size - end)
    return size - end


def read_jsonl(path: str | Path) -> list[tuple[str, dict[str, Any]]]:
    """The ``(topic, event)`` pairs of a ``JsonlSink`` file, in order.

    Raises ``SinkError`` naming the file and line for a malformed line. A last line without
    its newline (a crash mid-write) is malformed too unless it parses.
    """
    return list(iter_jsonl(path))


def iter_jsonl(path: str | Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Like ``read_jsonl``, one pair at a time."""
    p = Path(path)
    try:
        f = open(p, "rb")
    except OSError as exc:
        raise SinkError(f"cannot read event file {p}: {exc.strerror or exc}") from exc
    with f:
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise SinkError(f"{p}:{n}: not UTF-8 ({exc.reason} at byte {exc.start})"
                                ) from None
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                topic, event = rec["topic"], rec["event"]
            except (ValueError, KeyError, TypeError) as exc:
                raise SinkError(f"{p}:{n}: not a {{\"topic\", \"event\"}} JSON line "
                                f"({exc})") from None
            if not isinstance(topic, str) or not isinstance(event, dict):
                raise SinkError(f"{p}:{n}: topic must be a string and event an object")
            yield topic, event


class TeeSink:
    """Publishes every event to each enabled sink, in the order given."""

    def __init__(self, *sinks: EventSink):
        self.sinks = tuple(s for s in sinks if getattr(s, "enabled", True))
        self.enabled = bool(self.sinks)

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        for s in self.sinks:
            s.publish(topic, event)

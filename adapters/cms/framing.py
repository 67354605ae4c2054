"""CMS real-time socket framing: bytes -> lines -> typed rows -> report batches. Pure.

Avaya CMS's real-time socket interface ("Avaya CMS Open Interfaces", real-time socket
reports) sends each refresh of a report as ASCII lines of ``|``-separated, space-padded
fields. Data rows start with the record type ``F1``; the refresh ends with
``F3|END_OF_RECORDS``. Durations are ``m:ss`` (or ``h:mm:ss``), an empty field is a null.
Which column holds what is the site's report configuration: a ``Layout`` names them.

Untrusted input: an over-long line, a non-ASCII line, a row with the wrong field count or
a value that does not parse is reported in ``errors`` and skipped; the next line is read
as usual. A refresh of more than ``max_rows`` rows is reported and skipped whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

END_OF_RECORDS = "F3|END_OF_RECORDS"
DATA = "F1"
KINDS = ("int", "float", "percent", "duration", "text")


class LayoutError(ValueError):
    """A report layout that is not usable (unknown kind, duplicate or missing key)."""


class RowError(ValueError):
    """A data row that does not fit its layout."""


@dataclass(frozen=True)
class Column:
    """One report column: its name and kind (``int``, ``float``, ``percent``: 0..100 in
    the feed, given as a fraction 0..1; ``duration``: seconds; ``text``)."""

    name: str
    kind: str


@dataclass(frozen=True)
class Layout:
    """A report's columns after the record type, and the column that keys a row."""

    name: str
    columns: tuple[Column, ...]
    key: str

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise LayoutError(f"layout {self.name}: duplicate column names in {names}")
        for c in self.columns:
            if c.kind not in KINDS:
                raise LayoutError(f"layout {self.name}: column {c.name!r} has kind "
                                  f"{c.kind!r}; expected one of {', '.join(KINDS)}")
        if self.key not in names:
            raise LayoutError(f"layout {self.name}: key column {self.key!r} is not one of "
                              f"{names}")

    @classmethod
    def from_config(cls, name: str, spec: Mapping[str, Any]) -> Layout:
        """From ``{"key": "skill", "columns": [["skill", "int"], ["waiting", "int"], ...]}``
        (a site's report as configured); ``LayoutError`` names what is wrong."""
        try:
            cols = tuple(Column(str(n), str(k)) for n, k in spec["columns"])
            return cls(name, cols, str(spec["key"]))
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, LayoutError):
                raise
            raise LayoutError(f"layout {name}: expected keys 'key' and 'columns' (a list of "
                              f"[name, kind] pairs); {e}") from e


# The split/skill and VDN real-time reports as shipped: the fields the skill feed needs.
SPLIT_SKILL = Layout("split_skill", (
    Column("skill", "int"),
    Column("calls_waiting", "int"),
    Column("oldest_call_s", "duration"),
    Column("agents_staffed", "int"),
    Column("agents_available", "int"),
    Column("agents_on_acd", "int"),
    Column("acd_calls", "int"),
    Column("abandoned", "int"),
    Column("service_level", "percent"),
    Column("avg_speed_answer_s", "duration"),
), key="skill")

VDN = Layout("vdn", (
    Column("vdn", "int"),
    Column("calls_waiting", "int"),
    Column("oldest_call_s", "duration"),
    Column("acd_calls", "int"),
    Column("abandoned", "int"),
    Column("service_level", "percent"),
    Column("avg_speed_answer_s", "duration"),
), key="vdn")


def parse_duration(text: str) -> float:
    """``m:ss`` / ``h:mm:ss`` / plain seconds -> seconds. Raises ``ValueError``."""
    parts = text.split(":")
    if len(parts) > 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"duration {text!r}: expected m:ss")
    if len(parts) > 1 and any(int(p) > 59 for p in parts[1:]):
        raise ValueError(f"duration {text!r}: seconds/minutes above 59")
    s = 0
    for p in parts:
        s = s * 60 + int(p)
    return float(s)


def format_duration(seconds: float) -> str:
    """Seconds -> ``m:ss`` (minutes unbounded), as CMS prints them."""
    s = round(seconds)
    return f"{s // 60}:{s % 60:02d}"


def _value(col: Column, text: str) -> Any:
    text = text.strip()
    if text == "":
        return None
    if col.kind == "int":
        return int(text)
    if col.kind == "float":
        return float(text)
    if col.kind == "percent":
        v = float(text.rstrip("%"))
        if not 0.0 <= v <= 100.0:
            raise ValueError(f"{v} is not a percentage 0..100")
        return v / 100.0
    if col.kind == "duration":
        return parse_duration(text)
    return text


def parse_row(line: str, layout: Layout) -> dict[str, Any]:
    """A ``F1|...`` line -> ``{column: value}`` (None for empty fields).

    Raises ``RowError`` naming the column for a wrong field count or a bad value."""
    fields = line.split("|")
    if fields[0].strip() != DATA:
        raise RowError(f"not a data row (record type {fields[0].strip()!r})")
    vals = fields[1:]
    if len(vals) != len(layout.columns):
        raise RowError(f"{layout.name} row has {len(vals)} fields; the layout has "
                       f"{len(layout.columns)}")
    out: dict[str, Any] = {}
    for col, text in zip(layout.columns, vals, strict=True):
        try:
            out[col.name] = _value(col, text)
        except ValueError as e:
            raise RowError(f"{layout.name} column {col.name}: {text.strip()!r} is not "
                           f"{col.kind} ({e})") from None
    if out[layout.key] is None:
        raise RowError(f"{layout.name} row has no {layout.key}")
    return out


def format_row(row: Mapping[str, Any], layout: Layout, width: int = 6) -> str:
    """A row as CMS sends it: ``F1|`` then space-padded fields (None -> empty)."""
    out = [DATA]
    for col in layout.columns:
        v = row.get(col.name)
        if v is None:
            text = ""
        elif col.kind == "duration":
            text = format_duration(float(v))
        elif col.kind == "percent":
            text = f"{round(float(v) * 100.0)}"
        else:
            text = str(v)
        out.append(text.rjust(width))
    return "|".join(out)


@dataclass
class ReportDecoder:
    """Incremental: ``feed(bytes)`` returns the batches (lists of rows) completed so far."""

    layout: Layout
    max_line: int = 4096
    max_rows: int = 10000  # rows one refresh may hold (a report of skills or VDNs)
    keep_errors: int = 100
    errors: list[str] = field(default_factory=list)
    bad_lines: int = 0
    _buf: bytearray = field(default_factory=bytearray)
    _rows: list[dict[str, Any]] = field(default_factory=list)
    _overlong: bool = False
    _overfull: bool = False  # this refresh passed max_rows: dropped at its end

    def _error(self, msg: str) -> None:
        self.bad_lines += 1
        self.errors.append(msg)
        del self.errors[: -self.keep_errors]

    def feed(self, data: bytes) -> list[list[dict[str, Any]]]:
        self._buf += data
        batches: list[list[dict[str, Any]]] = []
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > self.max_line:
                    if not self._overlong:  # one report per over-long line
                        self._error(f"line longer than {self.max_line} bytes; skipped")
                    self._buf.clear()
                    self._overlong = True
                break
            raw = bytes(self._buf[:nl])
            del self._buf[: nl + 1]
            if self._overlong:  # the tail of a line already reported
                self._overlong = False
                continue
            if len(raw) > self.max_line:
                self._error(f"line longer than {self.max_line} bytes; skipped")
                continue
            batch = self._line(raw)
            if batch is not None:
                batches.append(batch)
        return batches

    def _line(self, raw: bytes) -> list[dict[str, Any]] | None:
        try:
            line = raw.decode("ascii").rstrip("\r")
        except UnicodeDecodeError:
            self._error("non-ASCII line; skipped")
            return None
        if not line.strip():
            return None
        if line.replace(" ", "") == END_OF_RECORDS:
            rows, self._rows = self._rows, []
            if self._overfull:  # a refresh cut short is no refresh: skipped whole
                self._overfull = False
                return None
            return rows
        kind = line.split("|", 1)[0].strip()
        if kind != DATA:
            return None  # other record types (headers, report names) carry nothing we use
        if self._overfull:
            return None
        if len(self._rows) >= self.max_rows:  # rows without an end: memory stays bounded
            self._error(f"refresh longer than {self.max_rows} rows (no {END_OF_RECORDS}?); "
                        "skipped to its end")
            self._rows.clear()
            self._overfull = True
            return None
        try:
            self._rows.append(parse_row(line, self.layout))
        except RowError as e:
            self._error(str(e))
        return None


def encode_batch(rows: Sequence[Mapping[str, Any]], layout: Layout) -> bytes:
    """One report refresh as bytes: the rows then the end-of-records line."""
    lines = [format_row(r, layout) for r in rows] + [END_OF_RECORDS]
    return ("\n".join(lines) + "\n").encode("ascii")

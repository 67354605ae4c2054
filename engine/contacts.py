"""Contact lists: loading (CSV, Parquet, SQL), row validation, selection and splitting.

A contact list is a polars DataFrame with one row per contact: an id column, any number of
address columns (phone numbers, email addresses, custom addresses), a time-zone column
(IANA names) and every other column kept as a custom attribute. Loading validates each row;
a malformed row (missing or duplicate id, bad address, unknown time zone, wrong field
count) is reported as a ``Problem`` carrying its line number and is either skipped or makes
the whole load fail (``on_error="skip" | "reject"``). Nothing is dropped silently: skipped
rows are in ``ContactList.problems`` and wholly blank lines in ``ContactList.blank_lines``.

Addresses are normalised by ``engine.addresses``; a job's filter and sort conditions
(``engine.filters``) select and order the list; do-not-contact lists are ``engine.dnc``'s.
Which contact of a list goes next, and when it comes back, is ``engine.flow.ContactFlow``'s.
"""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import polars as pl

from engine.addresses import ADDRESS_KINDS, normalize_address
from engine.filters import Filter, SortKey, validate_selection

LINE_COLUMN = "__line__"  # hidden column: each contact's line in its source (see Problem)

OnError = Literal["skip", "reject"]


def with_problems(message: str, problems: Sequence[Problem], first: int = 10) -> str:
    """``message`` followed by the first ``first`` row problems and what is left: more
    problems than rows when a row has several (``and 141 more problems on 131 more rows``)."""
    if not problems:
        return message
    shown = "; ".join(str(p) for p in problems[:first])
    rest = problems[first:]
    if not rest:
        return f"{message}: {shown}"
    rows = len({p.line for p in rest} - {p.line for p in problems[:first]})
    more = (f"{len(rest)} more problems on {rows} more rows" if rows != len(rest)
            else f"{rows} more rows")
    return f"{message}: {shown}; and {more}"


class ContactListError(ValueError):
    """A contact list could not be loaded; ``problems`` lists every malformed row found,
    ``summary`` is the message without them."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()):
        self.problems = list(problems)
        self.summary = message
        super().__init__(with_problems(message, self.problems))


@dataclass(frozen=True)
class Problem:
    """One malformed row.

    ``line`` is the 1-based line in the file, the header being line 1 (for CSV this is the
    line where the record starts, quoted line breaks accounted for); for Parquet and SQL
    sources, which have no header line, it is the 1-based row number.
    """

    line: int
    message: str
    column: str | None = None
    value: str | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def zone(name: str) -> ZoneInfo:
    """The ``ZoneInfo`` of an IANA name; ``ValueError`` naming it when unknown."""
    if not isinstance(name, str) or not name or name != name.strip():
        raise ValueError(f"unknown time zone {name!r:.60}")
    return _zone(name)


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as e:
        raise ValueError(f"unknown time zone {name!r}") from e


# ---------------------------------------------------------------------- list spec


@dataclass(frozen=True)
class ListSpec:
    """Which columns of a source mean what.

    ``addresses`` maps each address column to its channel (voice, sms, email, custom; or
    phone): phone-like columns are normalised with ``normalize_phone``, email ones with
    ``normalize_email``. A contact needs at least one non-empty address. ``timezone``
    names the column holding IANA zone names; ``default_timezone`` fills empty cells (and
    stands in for the column when ``timezone`` is None). ``attribute_types`` casts
    attribute columns ("str", "int", "float", "bool", "date", "datetime"); other CSV
    attributes are inferred (int, float, bool or text; text keeps leading zeros).
    """

    addresses: Mapping[str, str]
    id: str = "id"
    timezone: str | None = "timezone"
    default_timezone: str | None = None
    default_country_code: str | None = None
    attribute_types: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.addresses:
            raise ValueError("ListSpec.addresses: name at least one address column")
        for col, kind in self.addresses.items():
            if not isinstance(kind, str) or kind not in ADDRESS_KINDS:
                raise ValueError(f"ListSpec.addresses[{col!r}]: unknown channel {kind!r}; "
                                 f"expected one of {', '.join(ADDRESS_KINDS)}")
        if self.id in self.addresses or (self.timezone and self.timezone in self.addresses):
            raise ValueError("ListSpec: the id and time-zone columns cannot be address columns")
        if self.timezone is None and self.default_timezone is None:
            raise ValueError("ListSpec.timezone: give a time-zone column or default_timezone")
        if self.default_timezone is not None:
            try:
                zone(self.default_timezone)
            except ValueError as e:
                raise ValueError(f"ListSpec.default_timezone: {e}") from None
        for col, t in self.attribute_types.items():
            if t not in _CASTS:
                raise ValueError(f"ListSpec.attribute_types[{col!r}]: unknown type {t!r}; "
                                 f"expected one of {', '.join(_CASTS)}")
        if self.default_country_code is not None and not (
                isinstance(self.default_country_code, str)
                and self.default_country_code.lstrip("+").isdigit()):
            raise ValueError(f"ListSpec.default_country_code: {self.default_country_code!r} "
                             "is not a country calling code like '44' or '+1'")

    @property
    def key_columns(self) -> tuple[str, ...]:
        tz = (self.timezone,) if self.timezone else ()
        return (self.id, *self.addresses, *tz)


_CASTS = {"str": pl.String, "int": pl.Int64, "float": pl.Float64, "bool": pl.Boolean,
          "date": pl.Date, "datetime": pl.Datetime}


# ---------------------------------------------------------------------- the list


class ContactList:
    """A validated contact list: ``frame`` has the key columns as text (addresses
    normalised, time zones filled), the typed attributes and a hidden ``__line__`` column.

    Contacts are addressed by row index (0..len-1), as ``engine.flow`` hands them out.
    """

    def __init__(self, frame: pl.DataFrame, spec: ListSpec, problems: Sequence[Problem] = (),
                 blank_lines: Sequence[int] = (), source: str = "<frame>"):
        self.frame = frame
        self.spec = spec
        self.problems = list(problems)
        self.blank_lines = list(blank_lines)
        self.source = source
        self._ids: list[str] | None = None

    def __len__(self) -> int:
        return self.frame.height

    def __repr__(self) -> str:
        return (f"ContactList({self.source!r}, {len(self)} contacts, "
                f"{len(self.problems)} problems)")

    @property
    def schema(self) -> dict[str, pl.DataType]:
        """Column names and types a filter or sort may use (the hidden line column excluded)."""
        return {k: v for k, v in self.frame.schema.items() if k != LINE_COLUMN}

    def contact(self, index: int) -> dict[str, Any]:
        """One contact's fields as a dict (without the hidden line column)."""
        row = self.frame.row(index, named=True)
        row.pop(LINE_COLUMN, None)
        return row

    def contact_id(self, index: int) -> str:
        if self._ids is None:
            self._ids = self.frame[self.spec.id].to_list()
        return self._ids[index]

    def line(self, index: int) -> int:
        return int(self.frame[LINE_COLUMN][index])

    def addresses(self, index: int) -> dict[str, str | None]:
        """The contact's address columns (normalised; None where empty)."""
        row = self.frame.row(index, named=True)
        return {c: row[c] for c in self.spec.addresses}

    def select(self, filter: Filter | str | None = None,
               sort: Sequence[SortKey | str | tuple[str, bool]] = ()) -> np.ndarray:
        """Row indices of the contacts passing ``filter``, in ``sort`` order (else file order).

        Validates both against the schema first; raises ``FilterError`` naming every bad
        column and operator.
        """
        expr, keys = validate_selection(self.schema, filter, sort)
        df = self.frame.with_row_index("__row__")
        if expr is not None:
            df = df.filter(expr)
        if keys:
            df = df.sort([k.column for k in keys], descending=[k.descending for k in keys],
                         nulls_last=True, maintain_order=True)
        return df["__row__"].to_numpy().astype(np.int64)

    def subset(self, rows: Sequence[int] | np.ndarray, source: str | None = None) -> ContactList:
        """A new list holding ``rows`` (in that order); problems stay with the master."""
        idx = np.asarray(rows, dtype=np.int64)
        return ContactList(self.frame[idx], self.spec, source=source or self.source)

    def split(self, parts: int, by: Literal["rows", "hash"] = "rows") -> list[ContactList]:
        """Split into ``parts`` lists; see ``split_assignments``. Deterministic."""
        which = split_assignments(self.frame[self.spec.id].to_list(), parts, by)
        return [self.subset(np.flatnonzero(which == k), f"{self.source}[part {k + 1}/{parts}]")
                for k in range(parts)]


# ---------------------------------------------------------------------- loading


def load_contacts(source: str | Path, spec: ListSpec, on_error: OnError = "skip",
                  separator: str = ",", encoding: str = "utf8") -> ContactList:
    """Load a CSV (``.csv``, ``.txt``, ``.tsv``) or Parquet (``.parquet``, ``.pq``) list.

    Raises ``ContactListError`` when the file lacks a key column, or, with
    ``on_error="reject"``, when any row is malformed (all problems listed).
    """
    p = Path(source)
    suffix = p.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return load_parquet(p, spec, on_error)
    if suffix in (".csv", ".txt", ".tsv"):
        return load_csv(p, spec, on_error, separator="\t" if suffix == ".tsv" else separator,
                        encoding=encoding)
    raise ContactListError(f"{p}: unknown contact list format {suffix!r}; expected .csv, "
                           ".tsv, .txt, .parquet or .pq")


def load_csv(path: str | Path, spec: ListSpec, on_error: OnError = "skip",
             separator: str = ",", encoding: str = "utf8") -> ContactList:
    """Load a CSV list with a header line; every cell is read as text, then validated.

    Line ends may be LF, CRLF or CR alone (old Mac exports); fields of any length are read.
    Line numbers come from a ``csv`` module pass over the file (so quoted line breaks and
    rows with a wrong number of fields are reported exactly).
    """
    _check_on_error(on_error)
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ContactListError(f"{path}: cannot read ({e.strerror or e})") from e
    if b"\r" in data:  # CR-only line ends, or some (a file edited on two systems): one
        # "line" to every parser, two rows run together
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    text = _utf8_text(data, path) if encoding.replace("-", "").lower() == "utf8" \
        else data.decode("utf-8", errors="replace")
    try:
        frame = pl.read_csv(data, separator=separator, infer_schema=False, encoding=encoding,
                            truncate_ragged_lines=True, raise_if_empty=True)
    except pl.exceptions.PolarsError as e:
        raise ContactListError(f"{path}: cannot read as CSV ({e})") from e
    lines, ragged = _csv_lines(text, separator, frame.width, str(path))
    if len(lines) != frame.height:  # should not happen; fall back to one line per record
        lines, ragged = list(range(2, frame.height + 2)), []
    frame = frame.with_columns(pl.Series(LINE_COLUMN, lines, dtype=pl.Int64))
    return _validate(frame, spec, on_error, str(path), infer=True, extra=ragged)


def _utf8_text(data: bytes, path: Path) -> str:
    """``data`` decoded as UTF-8; else ``ContactListError`` naming the line and byte (a list
    exported as Latin-1 or Windows-1252 read 'cannot read as CSV (invalid utf-8 sequence)',
    with no line to look at)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ContactListError(
            f"{path}: line {line}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset "
            f"{e.start:,}): save the list as UTF-8 (a Latin-1 or Windows-1252 export, "
            "e.g. Excel's plain 'CSV', is not)") from None


def load_parquet(path: str | Path, spec: ListSpec, on_error: OnError = "skip") -> ContactList:
    """Load a Parquet list; ``Problem.line`` is the 1-based row number."""
    _check_on_error(on_error)
    path = Path(path)
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as e:
        raise ContactListError(f"{path}: cannot read as Parquet ({e})") from e
    frame = _number_rows(frame)
    return _validate(frame, spec, on_error, str(path), infer=False)


def load_sql(query: str, connection: Any, spec: ListSpec, on_error: OnError = "skip",
             source: str = "sql") -> ContactList:
    """Load a list from a SQL query through a DB-API (e.g. ``sqlite3``) or ADBC connection.

    Uses ``polars.read_database``; ``Problem.line`` is the 1-based row number of the result.
    """
    _check_on_error(on_error)
    try:
        frame = pl.read_database(query, connection)
    except Exception as e:  # drivers raise their own DB-API error classes
        raise ContactListError(f"{source}: query failed ({type(e).__name__}: {e})") from e
    frame = _number_rows(frame)
    return _validate(frame, spec, on_error, source, infer=False)


def from_frame(frame: pl.DataFrame, spec: ListSpec, on_error: OnError = "skip",
               source: str = "<frame>") -> ContactList:
    """Validate an in-memory DataFrame as a list; ``Problem.line`` is the 1-based row."""
    _check_on_error(on_error)
    frame = _number_rows(frame)
    return _validate(frame, spec, on_error, source, infer=False)


def _number_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """Add the hidden line column: 1-based row numbers (sources without a header line)."""
    return frame.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(LINE_COLUMN))


def _check_on_error(on_error: str) -> None:
    if on_error not in ("skip", "reject"):
        raise ValueError(f"on_error must be 'skip' or 'reject', got {on_error!r}")


def _csv_lines(text: str, separator: str, width: int, source: str
               ) -> tuple[list[int], list[Problem]]:
    """The start line of each data record and the records with a wrong field count."""
    starts: list[int] = []
    ragged: list[Problem] = []
    # the csv module refuses fields over 128 KB by default; the file's size bounds them all
    if csv.field_size_limit() < len(text) + 1:
        csv.field_size_limit(len(text) + 1)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    prev = 0
    try:
        for rec in reader:
            start = prev + 1
            prev = reader.line_num
            if start == 1:  # the header
                continue
            starts.append(start)
            if rec and len(rec) != width:
                ragged.append(Problem(start, f"has {len(rec)} fields, the header has {width}"))
    except csv.Error as e:
        raise ContactListError(f"{source}: line {reader.line_num}: not valid CSV ({e})") from e
    return starts, ragged


def _validate(frame: pl.DataFrame, spec: ListSpec, on_error: OnError, source: str,
              infer: bool, extra: Sequence[Problem] = ()) -> ContactList:
    missing = [c for c in spec.key_columns if c not in frame.columns]
    if missing:
        have = ", ".join(c for c in frame.columns if c != LINE_COLUMN)
        raise ContactListError(f"{source}: missing column(s) {', '.join(map(repr, missing))}; "
                               f"the list has {have}")
    keys = list(spec.key_columns)
    frame = frame.with_columns(
        pl.col(c).cast(pl.String).str.strip_chars().replace("", None) for c in keys)
    data_cols = [c for c in frame.columns if c != LINE_COLUMN]
    blank = frame.select(pl.all_horizontal(pl.col(data_cols).is_null())).to_series()
    blank_lines = frame.filter(blank)[LINE_COLUMN].to_list()
    frame = frame.filter(~blank)

    lines = frame[LINE_COLUMN].to_list()
    bad = np.zeros(frame.height, dtype=bool)
    problems: list[Problem] = []
    line_row = {ln: i for i, ln in enumerate(lines)}
    for p in extra:
        if p.line in line_row:
            bad[line_row[p.line]] = True
            problems.append(p)

    def report(i: int, message: str, column: str | None = None, value: Any = None) -> None:
        bad[i] = True
        problems.append(Problem(lines[i], message, column,
                                None if value is None else str(value)))

    seen: dict[str, int] = {}
    for i, cid in enumerate(frame[spec.id].to_list()):
        if cid is None:
            report(i, f"missing contact id (column {spec.id!r})", spec.id)
        elif cid in seen:
            report(i, f"duplicate contact id {cid!r} (first on line {seen[cid]})", spec.id, cid)
        else:
            seen[cid] = lines[i]

    replaced = []
    present = np.zeros(frame.height, dtype=bool)
    for col, kind in spec.addresses.items():
        out: list[str | None] = []
        for i, raw in enumerate(frame[col].to_list()):
            if raw is None:
                out.append(None)
                continue
            try:
                out.append(normalize_address(raw, kind, spec.default_country_code))
                present[i] = True
            except ValueError as e:
                out.append(None)
                report(i, f"bad {ADDRESS_KINDS[kind]} address in column {col!r}: {e}", col, raw)
        replaced.append(pl.Series(col, out, dtype=pl.String))
    for i in np.flatnonzero(~present).tolist():
        if not bad[i]:
            report(i, f"no address in any of {', '.join(spec.addresses)}")
    frame = frame.with_columns(replaced)

    if spec.timezone:
        tz_col = spec.timezone
        frame = frame.with_columns(pl.col(tz_col).fill_null(pl.lit(spec.default_timezone)))
        ok: dict[str, bool] = {}
        for i, name in enumerate(frame[tz_col].to_list()):
            if name is None:
                report(i, f"missing time zone (column {tz_col!r})", tz_col)
                continue
            if name not in ok:
                try:
                    zone(name)
                    ok[name] = True
                except ValueError:
                    ok[name] = False
            if not ok[name]:
                report(i, f"unknown time zone {name!r} in column {tz_col!r}", tz_col, name)

    frame, cast_problems = _type_attributes(frame, spec, infer)
    for i, msg, col, val in cast_problems:
        report(i, msg, col, val)

    problems.sort(key=lambda p: p.line)
    if problems and on_error == "reject":
        raise ContactListError(f"{source}: {len(set(p.line for p in problems))} malformed "
                               "row(s), load rejected", problems)
    frame = frame.filter(pl.Series(~bad))
    return ContactList(frame, spec, problems, blank_lines, source)


_INT_TEXT = r"^[-+]?(0|[1-9][0-9]*)$"
_FLOAT_TEXT = r"^[-+]?((0|[1-9][0-9]*)(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$"
_BOOL_TEXT = {"true": True, "false": False}
_BOOL_CAST = {**_BOOL_TEXT, "yes": True, "no": False, "y": True, "n": False, "t": True,
              "f": False, "1": True, "0": False}
_TYPE_WORDS = {"str": "text", "int": "an integer", "float": "a number", "bool": "true/false",
               "date": "a date (YYYY-MM-DD)", "datetime": "a date and time (ISO 8601)"}


def _type_attributes(frame: pl.DataFrame, spec: ListSpec, infer: bool
                     ) -> tuple[pl.DataFrame, list[tuple[int, str, str, Any]]]:
    """Cast attribute columns as asked, or infer types of text columns from a CSV."""
    problems: list[tuple[int, str, str, Any]] = []
    keys = set(spec.key_columns) | {LINE_COLUMN}
    casts = []
    for col, dtype in frame.schema.items():
        if col in keys:
            continue
        s = frame[col]
        want = spec.attribute_types.get(col)
        if want is not None:
            target = _CASTS[want]
            if s.dtype == pl.String:
                s = s.str.strip_chars().replace("", None)
                lowered = s.str.to_lowercase()
                if want == "bool":
                    out = lowered.replace_strict(_BOOL_CAST, default=None, return_dtype=pl.Boolean)
                elif want == "date":
                    out = s.str.to_date(strict=False)
                elif want == "datetime":
                    out = s.str.to_datetime(strict=False)
                else:
                    out = s.cast(target, strict=False)
            else:
                out = s.cast(target, strict=False)
            failed = out.is_null() & s.is_not_null()
            for i in np.flatnonzero(failed.to_numpy()).tolist():
                problems.append((i, f"column {col!r}: {s[i]!r} is not {_TYPE_WORDS[want]}",
                                 col, s[i]))
            casts.append(out.alias(col))
        elif infer and dtype == pl.String:
            s = s.str.strip_chars().replace("", None)
            vals = s.drop_nulls()
            if vals.len() == 0:
                casts.append(s)
            elif vals.str.contains(_INT_TEXT).all():
                out = s.cast(pl.Int64, strict=False)
                # a value past int64 stays text rather than losing digits
                casts.append(out if out.null_count() == s.null_count() else s)
            elif vals.str.contains(_FLOAT_TEXT).all():
                casts.append(s.cast(pl.Float64, strict=False))
            elif vals.str.to_lowercase().is_in(list(_BOOL_TEXT)).all():
                casts.append(s.str.to_lowercase().replace_strict(_BOOL_TEXT,
                                                                 return_dtype=pl.Boolean))
            else:
                casts.append(s)
    if casts:
        frame = frame.with_columns(casts)
    return frame, problems


# ---------------------------------------------------------------------- splitting


def split_assignments(ids: Sequence[str], parts: int,
                      by: Literal["rows", "hash"] = "rows") -> np.ndarray:
    """The part (0..parts-1) of each contact; every contact is in exactly one part.

    ``rows``: contiguous blocks in list order, sizes differing by at most one (the first
    ``len % parts`` parts one larger). ``hash``: CRC-32 of the contact id's UTF-8 bytes
    modulo ``parts``, so a contact lands in the same part whatever the file's order or
    other rows (stable across processes and polars versions, unlike ``Series.hash``).
    """
    if not isinstance(parts, int) or parts < 1:
        raise ValueError(f"parts must be an integer >= 1, got {parts!r}")
    n = len(ids)
    if by == "rows":
        q, r = divmod(n, parts)
        sizes = [q + (k < r) for k in range(parts)]
        return np.repeat(np.arange(parts, dtype=np.int64), sizes)
    if by == "hash":
        return np.fromiter((zlib.crc32(str(i).encode("utf-8")) % parts for i in ids),
                           dtype=np.int64, count=n)
    raise ValueError(f"split by must be 'rows' or 'hash', got {by!r}")


def split_file(path: str | Path, parts: int, out_dir: str | Path,
               by: Literal["rows", "hash"] = "rows", id_column: str = "id",
               separator: str = ",") -> list[Path]:
    """Split a large master CSV or Parquet file into ``parts`` files of the same format.

    Cells are copied as text without validation (each part is validated when loaded);
    parts are named ``<stem>.part-<k>-of-<n><suffix>`` (k from 1) in ``out_dir``.
    """
    path = Path(path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    parquet = path.suffix.lower() in (".parquet", ".pq")
    if parquet:
        frame = pl.read_parquet(path)
    else:
        frame = pl.read_csv(path, separator=separator, infer_schema=False)
    if id_column not in frame.columns:
        raise ContactListError(f"{path}: no id column {id_column!r} to split by")
    ids = frame[id_column].cast(pl.String).to_list()
    which = pl.Series(split_assignments(ids, parts, by))
    width = len(str(parts))
    paths = []
    for k in range(parts):
        p = out / f"{path.stem}.part-{k + 1:0{width}d}-of-{parts}{path.suffix}"
        part = frame.filter(which == k)
        if parquet:
            part.write_parquet(p)
        else:
            part.write_csv(p, separator=separator)
        paths.append(p)
    return paths

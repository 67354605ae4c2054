"""Contact lists: loading (CSV, Parquet, SQL), row validation, filters, sorting, splitting, DNC.

A contact list is a polars DataFrame with one row per contact: an id column, any number of
address columns (phone numbers, email addresses, custom addresses), a time-zone column
(IANA names) and every other column kept as a custom attribute. Loading validates each row;
a malformed row (missing or duplicate id, bad address, unknown time zone, wrong field
count) is reported as a ``Problem`` carrying its line number and is either skipped or makes
the whole load fail (``on_error="skip" | "reject"``). Nothing is dropped silently: skipped
rows are in ``ContactList.problems`` and wholly blank lines in ``ContactList.blank_lines``.

Filters are a small, safe expression language (a whitelisted subset of the polars
expression syntax, parsed, never evaluated) or a list of ``{column, op, value}``
conditions; both are checked against the list's schema before a job starts.

Which contact of a list goes next, and when it comes back, is ``engine.flow.ContactFlow``'s.
"""

from __future__ import annotations

import ast
import csv
import io
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import polars as pl

LINE_COLUMN = "__line__"  # hidden column: each contact's line in its source (see Problem)
# Implementing Avaya Proactive Outreach Manager documents 10 sort conditions per list.
MAX_SORT_KEYS = 10
MAX_FILTER_CHARS = 10_000
MIN_PHONE_DIGITS = 6  # assumption: the shortest numbering plans have 5-6 digit subscriber numbers
MAX_PHONE_DIGITS = 15  # ITU-T E.164: at most 15 digits including the country code

ADDRESS_KINDS = {"voice": "phone", "sms": "phone", "phone": "phone", "email": "email",
                 "custom": "custom"}
OnError = Literal["skip", "reject"]


class ContactListError(ValueError):
    """A contact list could not be loaded; ``problems`` lists every malformed row found."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()):
        self.problems = list(problems)
        if self.problems:
            shown = "; ".join(str(p) for p in self.problems[:10])
            more = len(self.problems) - 10
            message = f"{message}: {shown}" + (f"; and {more} more" if more > 0 else "")
        super().__init__(message)


class FilterError(ValueError):
    """A filter or sort condition is malformed or does not fit the list's schema.

    ``errors`` holds one message per problem found (all are collected before raising).
    """

    def __init__(self, errors: Sequence[str]):
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


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


# ---------------------------------------------------------------------- addresses


_PHONE_JUNK = re.compile(r"[\s\-().\/]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.][^@\s]*\.[^@\s.]+$")


def normalize_phone(raw: str, default_country_code: str | None = None) -> str:
    """A phone number as E.164-ish digits: ``+<country><number>`` or national digits.

    Spaces, dashes, dots, slashes and parentheses are removed. ``+`` or ``00`` starts an
    international number (a written trunk prefix ``(0)`` after it is dropped). A national
    number (no prefix) gets ``default_country_code`` after its trunk prefix (``0``, or
    ``1`` in the NANP's 11-digit form) is removed; with no default country it is returned
    as bare digits. Idempotent.

    Raises ``ValueError`` saying why when the text is not a phone number.
    """
    s = str(raw).strip()
    if s.startswith(("+", "00")):
        s = s.replace("(0)", "", 1)  # "+44 (0)20 ...": the national trunk 0, not dialled
    s = _PHONE_JUNK.sub("", s)
    if not s:
        raise ValueError("empty phone number")
    international = False
    if s.startswith("+"):
        s, international = s[1:], True
    elif s.startswith("00"):
        s, international = s[2:], True
    if not s.isdigit() or not s.isascii():
        raise ValueError(f"phone number {raw!r} has characters other than digits")
    if not international and default_country_code:
        cc = default_country_code.lstrip("+")
        if cc == "1" and len(s) == 11 and s.startswith("1"):
            s = s[1:]
        elif s.startswith("0"):
            s = s[1:]
        s, international = cc + s, True
    if not MIN_PHONE_DIGITS <= len(s) <= MAX_PHONE_DIGITS:
        raise ValueError(f"phone number {raw!r} has {len(s)} digits, expected "
                         f"{MIN_PHONE_DIGITS} to {MAX_PHONE_DIGITS}")
    return "+" + s if international else s


def normalize_email(raw: str) -> str:
    """An email address trimmed and lower-cased; ``ValueError`` when it is not one."""
    s = str(raw).strip().lower()
    if not _EMAIL.match(s):
        raise ValueError(f"email address {raw!r} is not of the form name@domain.tld")
    return s


def normalize_address(raw: str, kind: str, default_country_code: str | None = None) -> str:
    """Normalise an address of ``kind`` (a channel name, or phone / email / custom)."""
    k = ADDRESS_KINDS.get(kind)
    if k is None:
        raise ValueError(f"unknown address kind {kind!r}; expected one of "
                         f"{', '.join(ADDRESS_KINDS)}")
    if k == "phone":
        return normalize_phone(raw, default_country_code)
    if k == "email":
        return normalize_email(raw)
    s = str(raw).strip()
    if not s:
        raise ValueError("empty address")
    return s


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The ``ZoneInfo`` of an IANA name; ``ValueError`` naming it when unknown."""
    if not isinstance(name, str) or not name or name != name.strip():
        raise ValueError(f"unknown time zone {name!r}")
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
            if kind not in ADDRESS_KINDS:
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
                self.default_country_code.lstrip("+").isdigit()):
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
    if b"\r" in data and b"\n" not in data:  # CR-only line ends: one "line" to every parser
        data = data.replace(b"\r", b"\n")
    try:
        frame = pl.read_csv(data, separator=separator, infer_schema=False, encoding=encoding,
                            truncate_ragged_lines=True, raise_if_empty=True)
    except pl.exceptions.PolarsError as e:
        raise ContactListError(f"{path}: cannot read as CSV ({e})") from e
    lines, ragged = _csv_lines(data.decode("utf-8", errors="replace"), separator,
                               frame.width, str(path))
    if len(lines) != frame.height:  # should not happen; fall back to one line per record
        lines, ragged = list(range(2, frame.height + 2)), []
    frame = frame.with_columns(pl.Series(LINE_COLUMN, lines, dtype=pl.Int64))
    return _validate(frame, spec, on_error, str(path), infer=True, extra=ragged)


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


# ---------------------------------------------------------------------- DNC


class DncList:
    """A do-not-contact list: a set of normalised addresses (phone numbers and emails).

    An entry containing ``@`` is an email address, anything else a phone number; entries
    that are neither are kept in ``problems`` (never silently dropped).
    """

    def __init__(self, addresses: Iterable[str] = (), name: str = "dnc",
                 default_country_code: str | None = None):
        self.name = name
        self.default_country_code = default_country_code
        self._set: set[str] = set()
        self.problems: list[str] = []
        for a in addresses:
            self.add(a)

    @classmethod
    def from_file(cls, path: str | Path, column: str | None = None, name: str | None = None,
                  default_country_code: str | None = None) -> DncList:
        """Read a CSV / Parquet file (``column``, else its first column) or a text file
        with one address per line (``column`` None and suffix ``.txt``)."""
        p = Path(path)
        if p.suffix.lower() == ".txt" and column is None:
            values = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines()
                      if ln.strip()]
        else:
            frame = (pl.read_parquet(p) if p.suffix.lower() in (".parquet", ".pq")
                     else pl.read_csv(p, infer_schema=False))
            col = column or frame.columns[0]
            if col not in frame.columns:
                raise ContactListError(f"{p}: no column {col!r} in DNC list")
            values = [v for v in frame[col].cast(pl.String).to_list() if v]
        return cls(values, name or p.stem, default_country_code)

    def normalize(self, address: str) -> str:
        kind = "email" if "@" in str(address) else "phone"
        return normalize_address(address, kind, self.default_country_code)

    def add(self, address: str) -> None:
        try:
            self._set.add(self.normalize(address))
        except ValueError as e:
            self.problems.append(f"{self.name}: {e}")

    def discard(self, address: str) -> None:
        try:
            self._set.discard(self.normalize(address))
        except ValueError:
            pass

    def update(self, other: DncList) -> None:
        """Add every address of ``other`` (and its problems) to this list."""
        self._set |= other._set
        self.problems.extend(other.problems)

    def __contains__(self, address: object) -> bool:
        if not self._set:
            return False
        try:
            return self.normalize(str(address)) in self._set
        except ValueError:
            return False

    def __len__(self) -> int:
        return len(self._set)


class DncRegistry:
    """The global DNC list and one list per campaign; both may change while jobs run."""

    def __init__(self, global_list: DncList | None = None,
                 campaigns: Mapping[Any, DncList] | None = None):
        self.global_list = global_list if global_list is not None else DncList(name="global")
        self.campaigns: dict[Any, DncList] = dict(campaigns or {})

    def check(self, address: str, campaign: Any = None) -> str | None:
        """``"global"`` or ``"campaign"`` when ``address`` is listed, else None."""
        if address in self.global_list:
            return "global"
        lst = self.campaigns.get(campaign)
        if lst is not None and address in lst:
            return "campaign"
        return None


# ---------------------------------------------------------------------- filters

_CMP_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">",
            ast.GtE: ">="}
_ARITH_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%"}
_STR_TESTS = ("starts_with", "ends_with", "contains")
_STR_MAPS = ("to_lowercase", "to_uppercase", "len_chars")
CONDITION_OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "not_in", "is_null", "is_not_null",
                 "between", *_STR_TESTS)
_ALLOWED = ("columns as pl.col(\"name\"), col(\"name\") or bare names; text, number, "
            "true/false and None literals; == != < <= > >=; in / not in [..]; & | ~ and or "
            "not; + - * / %; .is_in([..]) .is_null() .is_not_null() .is_between(a, b); "
            ".str.starts_with/.ends_with/.contains/.to_lowercase/.to_uppercase/.len_chars")


@dataclass(frozen=True)
class _Col:
    name: str


@dataclass(frozen=True)
class _Lit:
    value: Any


@dataclass(frozen=True)
class _Cmp:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class _In:
    expr: Any
    values: tuple
    negate: bool = False


@dataclass(frozen=True)
class _Between:
    expr: Any
    lo: Any
    hi: Any


@dataclass(frozen=True)
class _Null:
    expr: Any
    negate: bool = False


@dataclass(frozen=True)
class _StrTest:
    method: str
    expr: Any
    arg: str
    literal: bool = False


@dataclass(frozen=True)
class _StrMap:
    method: str
    expr: Any


@dataclass(frozen=True)
class _Arith:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class _Bool:
    op: str  # "and" | "or"
    items: tuple


@dataclass(frozen=True)
class _Not:
    expr: Any


class _Parser:
    """Turns filter text into the node tree above; anything outside the grammar is an error.

    Python's ``ast`` module only parses (it runs nothing); each node type is whitelisted.
    """

    def __init__(self, text: str, name: str):
        self.text = text
        self.name = name

    def fail(self, node: ast.AST | None, message: str) -> FilterError:
        where = f" at column {node.col_offset + 1}" if node is not None and hasattr(
            node, "col_offset") else ""
        return FilterError([f"filter {self.name!r}{where}: {message}"])

    def parse(self) -> Any:
        if len(self.text) > MAX_FILTER_CHARS:
            raise FilterError([f"filter {self.name!r}: longer than {MAX_FILTER_CHARS} chars"])
        try:
            tree = ast.parse(self.text.strip(), mode="eval")
        except SyntaxError as e:
            raise FilterError([f"filter {self.name!r}: syntax error at column {e.offset}: "
                               f"{e.msg}"]) from None
        except (RecursionError, MemoryError, ValueError):
            raise FilterError([f"filter {self.name!r}: too deeply nested"]) from None
        try:
            return self.node(tree.body)
        except RecursionError:
            raise FilterError([f"filter {self.name!r}: too deeply nested"]) from None

    def const(self, n: ast.AST) -> Any:
        if isinstance(n, ast.Constant) and isinstance(n.value, (str, int, float, bool,
                                                                 type(None))):
            if (isinstance(n.value, int) and not isinstance(n.value, bool)
                    and not -(2**63) <= n.value < 2**63):
                raise self.fail(n, f"number {n.value} does not fit in 64 bits")
            return n.value
        if isinstance(n, ast.Name) and n.id in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[n.id]
        if (isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub)
                and isinstance(n.operand, ast.Constant)
                and isinstance(n.operand.value, (int, float))
                and not isinstance(n.operand.value, bool)):
            return -n.operand.value
        raise self.fail(n, f"expected a literal value, got {ast.unparse(n)!r}")

    def values(self, n: ast.AST) -> tuple:
        if not isinstance(n, (ast.List, ast.Tuple, ast.Set)):
            raise self.fail(n, f"expected a list of values, got {ast.unparse(n)!r}")
        return tuple(self.const(e) for e in n.elts)

    def node(self, n: ast.AST) -> Any:
        if isinstance(n, ast.BoolOp):
            op = "and" if isinstance(n.op, ast.And) else "or"
            return _Bool(op, tuple(self.node(v) for v in n.values))
        if isinstance(n, ast.UnaryOp):
            if isinstance(n.op, (ast.Not, ast.Invert)):
                return _Not(self.node(n.operand))
            if isinstance(n.op, ast.USub):
                if isinstance(n.operand, ast.Constant):
                    return _Lit(self.const(n))
                return _Arith("-", _Lit(0), self.node(n.operand))
            raise self.fail(n, f"operator {type(n.op).__name__} is not allowed")
        if isinstance(n, ast.BinOp):
            if isinstance(n.op, ast.BitAnd):
                return _Bool("and", (self.node(n.left), self.node(n.right)))
            if isinstance(n.op, ast.BitOr):
                return _Bool("or", (self.node(n.left), self.node(n.right)))
            op = _ARITH_OPS.get(type(n.op))
            if op is None:
                raise self.fail(n, f"operator {type(n.op).__name__} is not allowed")
            return _Arith(op, self.node(n.left), self.node(n.right))
        if isinstance(n, ast.Compare):
            parts = []
            left = n.left
            for op, right in zip(n.ops, n.comparators, strict=True):
                if isinstance(op, (ast.In, ast.NotIn)):
                    parts.append(_In(self.node(left), self.values(right),
                                     isinstance(op, ast.NotIn)))
                elif type(op) in _CMP_OPS:
                    parts.append(_Cmp(_CMP_OPS[type(op)], self.node(left), self.node(right)))
                else:
                    raise self.fail(n, f"comparison {type(op).__name__} is not allowed "
                                       "(use == / !=, or .is_null())")
                left = right
            return parts[0] if len(parts) == 1 else _Bool("and", tuple(parts))
        if isinstance(n, ast.Constant):
            return _Lit(self.const(n))
        if isinstance(n, ast.Name):
            if n.id in ("true", "false", "null"):
                return _Lit(self.const(n))
            return _Col(n.id)
        if isinstance(n, ast.Call):
            return self.call(n)
        raise self.fail(n, f"{ast.unparse(n)!r} is not allowed; allowed: {_ALLOWED}")

    def call(self, n: ast.Call) -> Any:
        f = n.func
        kw = {k.arg: k.value for k in n.keywords}
        if None in kw:
            raise self.fail(n, "** arguments are not allowed")
        fname = None
        if isinstance(f, ast.Name):
            fname = f.id
        elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and (
                f.value.id == "pl"):
            fname = f.attr
        if fname in ("col", "lit"):
            if len(n.args) != 1 or kw:
                raise self.fail(n, f"{fname}() takes exactly one argument")
            v = self.const(n.args[0])
            if fname == "col":
                if not isinstance(v, str):
                    raise self.fail(n, "col() takes a column name as text")
                return _Col(v)
            return _Lit(v)
        if not isinstance(f, ast.Attribute) or fname is not None:
            raise self.fail(n, f"call {ast.unparse(f)!r} is not allowed; allowed: {_ALLOWED}")
        method = f.attr
        target = f.value
        if isinstance(target, ast.Attribute) and target.attr == "str":
            inner = self.node(target.value)
            if method in _STR_TESTS:
                literal = kw.pop("literal", None)
                if len(n.args) != 1 or kw:
                    raise self.fail(n, f".str.{method}() takes one text argument"
                                       + (" and literal=" if method == "contains" else ""))
                arg = self.const(n.args[0])
                if not isinstance(arg, str):
                    raise self.fail(n, f".str.{method}() takes a text argument")
                lit = False
                if literal is not None:
                    if method != "contains":
                        raise self.fail(n, f".str.{method}() takes no literal=")
                    lit = self.const(literal)
                    if not isinstance(lit, bool):
                        raise self.fail(n, "literal= must be True or False")
                return _StrTest(method, inner, arg, lit)
            if method in _STR_MAPS:
                if n.args or kw:
                    raise self.fail(n, f".str.{method}() takes no arguments")
                return _StrMap(method, inner)
            raise self.fail(n, f".str.{method}() is not allowed; allowed: {_ALLOWED}")
        inner = self.node(target)
        if method in ("is_null", "is_not_null"):
            if n.args or kw:
                raise self.fail(n, f".{method}() takes no arguments")
            return _Null(inner, method == "is_not_null")
        if method == "is_in":
            if len(n.args) != 1 or kw:
                raise self.fail(n, ".is_in() takes one list of values")
            return _In(inner, self.values(n.args[0]))
        if method == "is_between":
            if len(n.args) != 2 or kw:
                raise self.fail(n, ".is_between() takes two values")
            return _Between(inner, _Lit(self.const(n.args[0])), _Lit(self.const(n.args[1])))
        raise self.fail(n, f".{method}() is not allowed; allowed: {_ALLOWED}")


def _kind_of(dtype: pl.DataType) -> str:
    if dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum)):
        return "text"
    if dtype.is_numeric():
        return "number"
    if dtype == pl.Boolean:
        return "boolean"
    if dtype == pl.Date:
        return "date"
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    if dtype == pl.Null:
        return "null"
    return str(dtype)


def _lit_kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    return "text"


def _describe(node: Any) -> str:
    if isinstance(node, _Col):
        return f"column {node.name!r}"
    if isinstance(node, _Lit):
        return repr(node.value)
    return "an expression"


class _Checker:
    """Type-checks a node tree against a schema, collecting every error."""

    def __init__(self, schema: Mapping[str, pl.DataType], name: str):
        self.schema = schema
        self.name = name
        self.errors: list[str] = []

    def err(self, msg: str) -> str:
        self.errors.append(f"filter {self.name!r}: {msg}")
        return "error"

    def comparable(self, a: str, b: str, lit: Any) -> bool:
        if a == b or "error" in (a, b):
            return True
        if a in ("date", "datetime") and b == "text" and isinstance(lit, _Lit):
            try:
                (date if a == "date" else datetime).fromisoformat(lit.value)
                return True
            except ValueError:
                return False
        return False

    def kind(self, n: Any) -> str:
        if isinstance(n, _Col):
            if n.name not in self.schema:
                cols = ", ".join(self.schema)
                return self.err(f"unknown column {n.name!r}; the list has columns: {cols}")
            return _kind_of(self.schema[n.name])
        if isinstance(n, _Lit):
            return _lit_kind(n.value)
        if isinstance(n, _Cmp):
            a, b = self.kind(n.left), self.kind(n.right)
            if "null" in (a, b):
                if n.op not in ("==", "!="):
                    return self.err(f"operator {n.op!r} cannot compare with None; use "
                                    ".is_null() / .is_not_null()")
                return "boolean"
            if not (self.comparable(a, b, n.right) or self.comparable(b, a, n.left)):
                return self.err(f"operator {n.op!r} cannot compare {_describe(n.left)} ({a}) "
                                f"with {_describe(n.right)} ({b})")
            if n.op not in ("==", "!=") and a == "boolean":
                return self.err(f"operator {n.op!r} does not order {_describe(n.left)} "
                                "(boolean)")
            return "boolean"
        if isinstance(n, (_In, _Between)):
            a = self.kind(n.expr)
            vals = n.values if isinstance(n, _In) else (n.lo.value, n.hi.value)
            op = ("not in" if n.negate else "in") if isinstance(n, _In) else "is_between"
            for v in vals:
                if v is None and isinstance(n, _In):
                    continue
                if not self.comparable(a, _lit_kind(v), _Lit(v)):
                    return self.err(f"operator {op!r} cannot compare {_describe(n.expr)} ({a}) "
                                    f"with {v!r} ({_lit_kind(v)})")
            return "boolean"
        if isinstance(n, _Null):
            self.kind(n.expr)
            return "boolean"
        if isinstance(n, (_StrTest, _StrMap)):
            a = self.kind(n.expr)
            if a not in ("text", "error"):
                return self.err(f".str.{n.method}() needs text, but {_describe(n.expr)} is {a}")
            if isinstance(n, _StrTest) and n.method == "contains" and not n.literal:
                try:
                    re.compile(n.arg)
                except re.error as e:
                    return self.err(f".str.contains(): bad pattern {n.arg!r} ({e}); "
                                    "pass literal=True to match text as is")
            return "number" if n.method == "len_chars" else ("boolean" if isinstance(
                n, _StrTest) else "text")
        if isinstance(n, _Arith):
            a, b = self.kind(n.left), self.kind(n.right)
            for side, k in ((n.left, a), (n.right, b)):
                if k not in ("number", "error"):
                    return self.err(f"operator {n.op!r} needs numbers, but {_describe(side)} "
                                    f"is {k}")
            return "number"
        if isinstance(n, _Bool):
            op = "&" if n.op == "and" else "|"
            for it in n.items:
                k = self.kind(it)
                if k not in ("boolean", "error"):
                    self.err(f"operator {op!r} combines conditions, but {_describe(it)} is {k}"
                             " (as in polars, & and | bind tighter than comparisons: put "
                             "each comparison in parentheses)")
            return "boolean"
        if isinstance(n, _Not):
            k = self.kind(n.expr)
            if k not in ("boolean", "error"):
                return self.err(f"operator '~' negates a condition, but {_describe(n.expr)} "
                                f"is {k}")
            return "boolean"
        raise TypeError(f"unknown filter node {n!r}")


def _lit_for(kind: str, v: Any) -> Any:
    """A literal converted for a date / datetime column (ISO text accepted)."""
    if isinstance(v, str) and kind == "date":
        return date.fromisoformat(v)
    if isinstance(v, str) and kind == "datetime":
        return datetime.fromisoformat(v)
    return v


def _compile(n: Any, schema: Mapping[str, pl.DataType]) -> pl.Expr:
    def colkind(x: Any) -> str:
        return _kind_of(schema[x.name]) if isinstance(x, _Col) else ""

    if isinstance(n, _Col):
        return pl.col(n.name)
    if isinstance(n, _Lit):
        return pl.lit(n.value)
    if isinstance(n, _Cmp):
        left, right = n.left, n.right
        if isinstance(right, _Lit) and right.value is None:
            e = _compile(left, schema)
            return e.is_not_null() if n.op == "!=" else e.is_null()
        if isinstance(left, _Lit) and left.value is None:
            e = _compile(right, schema)
            return e.is_not_null() if n.op == "!=" else e.is_null()
        a = (pl.lit(_lit_for(colkind(right), left.value)) if isinstance(left, _Lit)
             else _compile(left, schema))
        b = (pl.lit(_lit_for(colkind(left), right.value)) if isinstance(right, _Lit)
             else _compile(right, schema))
        return {"==": a.__eq__, "!=": a.__ne__, "<": a.__lt__, "<=": a.__le__,
                ">": a.__gt__, ">=": a.__ge__}[n.op](b)
    if isinstance(n, _In):
        k = colkind(n.expr)
        vals = [_lit_for(k, v) for v in n.values if v is not None]
        e = _compile(n.expr, schema)
        out = e.is_in(vals)
        if None in n.values:
            out = out | e.is_null()
        # "not in" keeps rows whose value is null (they are in no list), unlike SQL's NOT IN
        return (~out).fill_null(True) if n.negate else out.fill_null(False)
    if isinstance(n, _Between):
        k = colkind(n.expr)
        return _compile(n.expr, schema).is_between(_lit_for(k, n.lo.value),
                                                   _lit_for(k, n.hi.value))
    if isinstance(n, _Null):
        e = _compile(n.expr, schema)
        return e.is_not_null() if n.negate else e.is_null()
    if isinstance(n, _StrTest):
        e = _compile(n.expr, schema).str
        if n.method == "contains":
            return e.contains(n.arg, literal=n.literal)
        return getattr(e, n.method)(n.arg)
    if isinstance(n, _StrMap):
        return getattr(_compile(n.expr, schema).str, n.method)()
    if isinstance(n, _Arith):
        a, b = _compile(n.left, schema), _compile(n.right, schema)
        return {"+": a.__add__, "-": a.__sub__, "*": a.__mul__, "/": a.__truediv__,
                "%": a.__mod__}[n.op](b)
    if isinstance(n, _Bool):
        exprs = [_compile(i, schema) for i in n.items]
        return pl.all_horizontal(exprs) if n.op == "and" else pl.any_horizontal(exprs)
    if isinstance(n, _Not):
        return ~_compile(n.expr, schema)
    raise TypeError(f"unknown filter node {n!r}")


class Filter:
    """A filter template: a named condition on a contact list, safe by construction.

    Build it from text in the polars expression style (``Filter.parse``), e.g.
    ``pl.col("region") == "north" & (pl.col("age") >= 18)`` or ``region in ["north",
    "east"] and not opted_out``; or from ``{column, op, value}`` conditions, all of
    which must hold (``Filter.from_conditions``). Text is parsed into a small tree of
    whitelisted operations and compiled to a polars expression; nothing is evaluated.
    Rows where the condition is null (a missing value) are filtered out.
    """

    def __init__(self, node: Any, name: str = "filter", text: str = ""):
        self.node = node
        self.name = name
        self.text = text

    def __repr__(self) -> str:
        return f"Filter({self.name!r}, {self.text!r})"

    @classmethod
    def parse(cls, text: str, name: str = "filter") -> Filter:
        """Parse filter text; ``FilterError`` naming the position and what is not allowed."""
        if not isinstance(text, str) or not text.strip():
            raise FilterError([f"filter {name!r}: empty filter text"])
        return cls(_Parser(text, name).parse(), name, text)

    @classmethod
    def from_conditions(cls, conditions: Sequence[Mapping[str, Any]],
                        name: str = "filter") -> Filter:
        """All of ``[{"column": c, "op": op, "value": v}, ...]``; ops: ``CONDITION_OPS``
        (``between`` takes ``[lo, hi]``, ``in`` / ``not_in`` a list, ``is_null`` none)."""
        errors: list[str] = []
        nodes = []
        for i, c in enumerate(conditions):
            where = f"filter {name!r} condition {i + 1}"
            if not isinstance(c, Mapping):
                errors.append(f"{where}: expected a mapping with column, op, value")
                continue
            unknown = set(c) - {"column", "op", "value"}
            if unknown:
                errors.append(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
            col, op, val = c.get("column"), c.get("op"), c.get("value")
            if not isinstance(col, str) or not col:
                errors.append(f"{where}: 'column' must be a column name")
                continue
            if op not in CONDITION_OPS:
                errors.append(f"{where}: unknown operator {op!r}; expected one of "
                              f"{', '.join(CONDITION_OPS)}")
                continue
            node = _condition(_Col(col), op, val)
            if isinstance(node, str):
                errors.append(f"{where} (operator {op!r}): {node}")
            else:
                nodes.append(node)
        if errors:
            raise FilterError(errors)
        if not nodes:
            raise FilterError([f"filter {name!r}: no conditions"])
        text = " & ".join(f"({c['column']} {c['op']} {c.get('value')!r})" for c in conditions)
        return cls(nodes[0] if len(nodes) == 1 else _Bool("and", tuple(nodes)), name, text)

    def validate(self, schema: Mapping[str, pl.DataType]) -> None:
        """Raise ``FilterError`` listing every unknown column and ill-typed operator."""
        chk = _Checker(schema, self.name)
        k = chk.kind(self.node)
        if k not in ("boolean", "error"):
            chk.err(f"must be a condition (true/false), but it gives {k}")
        if chk.errors:
            raise FilterError(chk.errors)

    def expr(self, schema: Mapping[str, pl.DataType]) -> pl.Expr:
        """The polars expression, validated against ``schema`` first."""
        self.validate(schema)
        return _compile(self.node, schema)


def _condition(col: _Col, op: str, val: Any) -> Any:
    """One ``{column, op, value}`` condition as a node, or an error message."""
    def scalar(v: Any) -> bool:
        return v is None or isinstance(v, (str, int, float, bool))

    if op in ("is_null", "is_not_null"):
        if val is not None:
            return "takes no value"
        return _Null(col, op == "is_not_null")
    if op in ("in", "not_in"):
        if not isinstance(val, (list, tuple, set, frozenset)) or not all(map(scalar, val)):
            return "value must be a list of literals"
        return _In(col, tuple(val), op == "not_in")
    if op == "between":
        if (not isinstance(val, (list, tuple)) or len(val) != 2 or not all(map(scalar, val))
                or None in val):
            return "value must be [low, high]"
        return _Between(col, _Lit(val[0]), _Lit(val[1]))
    if op in _STR_TESTS:
        if not isinstance(val, str):
            return "value must be text"
        return _StrTest(op, col, val, literal=True)
    if not scalar(val):
        return "value must be a text, number, boolean or null literal"
    return _Cmp(op, col, _Lit(val))


@dataclass(frozen=True)
class SortKey:
    """One sort condition: a column, ascending unless ``descending``; nulls sort last."""

    column: str
    descending: bool = False

    @classmethod
    def of(cls, spec: SortKey | str | tuple[str, bool] | Mapping[str, Any]) -> SortKey:
        """From a SortKey, ``"col"`` / ``"col desc"`` / ``"-col"``, ``(col, descending)``
        or ``{"column": c, "descending": bool}``."""
        if isinstance(spec, SortKey):
            return spec
        if isinstance(spec, tuple) and len(spec) == 2:
            return cls(str(spec[0]), bool(spec[1]))
        if isinstance(spec, Mapping):
            order = spec.get("order")
            desc = spec.get("descending", order in ("desc", "descending"))
            return cls(str(spec.get("column", "")), bool(desc))
        if isinstance(spec, str):
            s = spec.strip()
            if s.startswith("-"):
                return cls(s[1:].strip(), True)
            parts = s.rsplit(None, 1)
            if len(parts) == 2 and parts[1].lower() in ("asc", "desc", "ascending",
                                                        "descending"):
                return cls(parts[0], parts[1].lower().startswith("desc"))
            return cls(s)
        raise FilterError([f"sort condition {spec!r}: expected a column name"])


def validate_selection(schema: Mapping[str, pl.DataType], filter: Filter | str | None,
                       sort: Sequence[SortKey | str | tuple[str, bool]] = ()
                       ) -> tuple[pl.Expr | None, list[SortKey]]:
    """Check a job's filter and sort conditions against a list's schema before it starts.

    Returns the compiled expression and sort keys; raises ``FilterError`` with every
    problem (unknown column, operator that does not fit the column's type, too many or
    unsortable sort keys).
    """
    errors: list[str] = []
    expr = None
    if isinstance(filter, str):
        try:
            filter = Filter.parse(filter)
        except FilterError as e:
            errors.extend(e.errors)
            filter = None
    if filter is not None:
        try:
            expr = filter.expr(schema)
        except FilterError as e:
            errors.extend(e.errors)
    keys: list[SortKey] = []
    for s in sort:
        try:
            keys.append(SortKey.of(s))
        except FilterError as e:
            errors.extend(e.errors)
    if len(keys) > MAX_SORT_KEYS:
        errors.append(f"sort: {len(keys)} sort conditions, at most {MAX_SORT_KEYS}")
    for k in keys:
        if k.column not in schema:
            errors.append(f"sort: unknown column {k.column!r}; the list has columns: "
                          f"{', '.join(schema)}")
        elif isinstance(schema[k.column], (pl.List, pl.Struct, pl.Object, pl.Array)):
            errors.append(f"sort: column {k.column!r} ({schema[k.column]}) cannot be sorted")
    if errors:
        raise FilterError(errors)
    return expr, keys

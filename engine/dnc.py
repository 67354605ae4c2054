"""Do-not-contact lists: sets of normalised addresses, global and per campaign."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from engine.addresses import normalize_address
from engine.contacts import ContactListError


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
        with one address per line (``column`` None and suffix ``.txt``).

        A CSV's line ends may be LF, CRLF or CR alone (read as one "line" before: an empty
        list). A CSV read by its first column whose header is itself an address has no
        header line: that first address is on the list too (it was taken for a column name,
        and dialled)."""
        p = Path(path)
        try:
            return cls._read(p, column, name, default_country_code)
        except (pl.exceptions.PolarsError, UnicodeDecodeError, OSError) as exc:
            raise ContactListError(f"{p}: not a readable DNC list ({exc})") from None

    @classmethod
    def _read(cls, p: Path, column: str | None, name: str | None,
              default_country_code: str | None) -> DncList:
        if p.suffix.lower() == ".txt" and column is None:
            values = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines()
                      if ln.strip()]
        else:
            if p.suffix.lower() in (".parquet", ".pq"):
                frame = pl.read_parquet(p)
            else:
                data = p.read_bytes()
                if b"\r" in data:
                    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
                frame = pl.read_csv(data, infer_schema=False)
            if not frame.columns:
                raise ContactListError(f"{p}: the DNC list has no column")
            col = column or frame.columns[0]
            if col not in frame.columns:
                raise ContactListError(f"{p}: no column {col!r} in DNC list")
            values = [v for v in frame[col].cast(pl.String).to_list() if v]
            if column is None and p.suffix.lower() not in (".parquet", ".pq") \
                    and _is_address(col, default_country_code):
                values.insert(0, col)
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


def _is_address(text: str, default_country_code: str | None) -> bool:
    """Whether ``text`` reads as a phone number or an e-mail address."""
    kind = "email" if "@" in text else "phone"
    try:
        normalize_address(text, kind, default_country_code)
    except ValueError:
        return False
    return True


class DncRegistry:
    """The global DNC list and one list per campaign; both may change while jobs run."""

    def __init__(self, global_list: DncList | None = None,
                 campaigns: Mapping[Any, DncList] | None = None):
        self.global_list = global_list if global_list is not None else DncList(name="global")
        self.campaigns: dict[Any, DncList] = dict(campaigns or {})

    def empty_for(self, campaign: Any = None) -> bool:
        """True when neither the global list nor ``campaign``'s list holds an address."""
        if self.global_list._set:
            return False
        lst = self.campaigns.get(campaign)
        return lst is None or not lst._set

    def check(self, address: str, campaign: Any = None) -> str | None:
        """``"global"`` or ``"campaign"`` when ``address`` is listed, else None."""
        if address in self.global_list:
            return "global"
        lst = self.campaigns.get(campaign)
        if lst is not None and address in lst:
            return "campaign"
        return None

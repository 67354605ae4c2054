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
    that are neither are kept in ``problems`` (never silently dropped). A phone number
    written without a country code (and no ``default_country_code``) stays national; a
    caller that knows the country of the numbers it dials matches those entries in it
    (``holds``): ``2125550001`` on a list bars ``+12125550001`` dialled in country ``1``.
    """

    def __init__(self, addresses: Iterable[str] = (), name: str = "dnc",
                 default_country_code: str | None = None):
        self.name = name
        self.default_country_code = default_country_code
        self._set: set[str] = set()
        self._national: set[str] = set()  # phone entries with no country code
        self._in_country: dict[str, set[str]] = {}  # country code -> those entries in it
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
            # utf-8-sig: a byte-order mark (Windows editors) is not part of the first number
            values = [ln.strip() for ln in p.read_text(encoding="utf-8-sig").splitlines()
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
            a = self.normalize(address)
        except ValueError as e:
            self.problems.append(f"{self.name}: {e}")
            return
        self._set.add(a)
        if a.isdigit():  # a phone number with no country code
            self._national.add(a)
            self._in_country.clear()

    def discard(self, address: str) -> None:
        try:
            a = self.normalize(address)
        except ValueError:
            return
        self._set.discard(a)
        if a in self._national:
            self._national.discard(a)
            self._in_country.clear()

    def update(self, other: DncList) -> None:
        """Add every address of ``other`` (and its problems) to this list."""
        self._set |= other._set
        if other._national:
            self._national |= other._national
            self._in_country.clear()
        self.problems.extend(other.problems)

    def holds(self, address: str, country_code: str | None = None) -> bool:
        """Whether ``address`` is listed; with ``country_code`` (the country the caller's
        numbers written without one belong to), the entries written without a country code
        count as numbers of that country too."""
        if address in self:
            return True
        if not country_code or not self._national:
            return False
        known = self._in_country.get(country_code)
        if known is None:
            known = set()
            for d in self._national:
                try:
                    known.add(normalize_address(d, "phone", country_code))
                except ValueError:
                    pass
            self._in_country[country_code] = known
        try:
            return normalize_address(str(address), "phone", country_code) in known
        except ValueError:
            return False

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
    """The global DNC list and one list per campaign; both may change while jobs run.

    ``country_codes`` gives a campaign's country calling code (its contacts'
    ``default_country_code``): an entry of either list written without a country code bars
    that campaign's numbers of that country (``DncList.holds``)."""

    def __init__(self, global_list: DncList | None = None,
                 campaigns: Mapping[Any, DncList] | None = None,
                 country_codes: Mapping[Any, str] | None = None):
        self.global_list = global_list if global_list is not None else DncList(name="global")
        self.campaigns: dict[Any, DncList] = dict(campaigns or {})
        self.country_codes: dict[Any, str] = dict(country_codes or {})

    def empty_for(self, campaign: Any = None) -> bool:
        """True when neither the global list nor ``campaign``'s list holds an address."""
        if self.global_list._set:
            return False
        lst = self.campaigns.get(campaign)
        return lst is None or not lst._set

    def check(self, address: str, campaign: Any = None) -> str | None:
        """``"global"`` or ``"campaign"`` when ``address`` is listed, else None."""
        cc = self.country_codes.get(campaign)
        if self.global_list.holds(address, cc):
            return "global"
        lst = self.campaigns.get(campaign)
        if lst is not None and lst.holds(address, cc):
            return "campaign"
        return None

"""Addresses of contacts: phone numbers to E.164, e-mail addresses, custom addresses.

One normalisation for everything that compares addresses: contact lists as they load, DNC
lists, and the rules checking an attempt's address.
"""

from __future__ import annotations

import re

MIN_PHONE_DIGITS = 6  # assumption: the shortest numbering plans have 5-6 digit subscriber numbers
MAX_PHONE_DIGITS = 15  # ITU-T E.164: at most 15 digits including the country code

ADDRESS_KINDS = {"voice": "phone", "sms": "phone", "phone": "phone", "email": "email",
                 "custom": "custom"}


_PHONE_JUNK = re.compile(r"[\s\-().\/]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.][^@\s]*\.[^@\s.]+$")


def normalize_phone(raw: str, default_country_code: str | None = None) -> str:
    """A phone number as E.164-ish digits: ``+<country><number>`` or national digits.

    Spaces, dashes, dots, slashes and parentheses are removed. ``+`` or ``00`` starts an
    international number (a written trunk prefix ``(0)`` after it is dropped). A national
    number (no prefix) gets ``default_country_code`` after its trunk prefix (``0``, or
    ``1`` in the NANP's 11-digit form) is removed; in the NANP (country code 1) it must be
    10 digits with an area code 2-9 (there is no trunk 0 to drop: ``020 7946 0001`` is not
    ``+12079460001``), and ``011`` starts an international number; with no default country
    it is returned as bare digits. Idempotent.

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
        if cc == "1":  # the NANP: no trunk 0 (a 0 dropped made another, real, number)
            if s.startswith("011"):  # its international access code
                s, cc = s[3:], ""
            else:
                if len(s) == 11 and s.startswith("1"):
                    s = s[1:]
                if len(s) != 10 or s[0] in "01":
                    raise ValueError(f"phone number {raw!r} is not a North American number "
                                     "(default_country_code 1): expected 10 digits, the area "
                                     "code first (2-9), or 1 and them")
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

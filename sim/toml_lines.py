"""Line numbers for the key paths of a scenario file, so problems can say where they are.

``tomllib`` parses values but keeps no positions. This scans the text the way a reader
does: table headers (``[telephony]``, ``[[campaigns]]``, ``[campaigns.talk]``) set the
current table, ``key = value`` lines add ``table.key``; an array-of-tables entry is named
like the validator names it (``campaigns.<name>`` once its ``name`` line is seen, else
``campaigns[i]``; ``agents`` likewise by ``group``). Dotted keys and inline tables count on
the line that starts them. A path not found falls back to its longest known prefix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# No two adjacent parts can match the same character (the name's class holds the spaces
# around it; ``_clean`` strips them), so a long line is matched in linear time: a lazy
# name between two ``\s*`` took seconds on a 2,000-space line inside a multi-line string.
_HEADER = re.compile(r"^\s*(\[\[?)([A-Za-z0-9_.\-\"' \t]+)\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=\s*(.*)$")
_NAMING = {"campaigns": "name", "agents": "group"}


def _clean(key: str) -> str:
    return ".".join(p.strip().strip("\"'") for p in key.split("."))


def key_lines(text: str) -> dict[str, int]:
    """Every key path of the TOML ``text`` -> its 1-based line number (first occurrence)."""
    lines: dict[str, int] = {}
    table = ""
    counts: dict[str, int] = {}
    entry: dict[str, str] = {}  # array name -> how its current entry is named
    pending: dict[str, list[tuple[str, int]]] = {}  # paths seen before the entry's name

    def named(path: str) -> str:
        head, _, rest = path.partition(".")
        if head in entry:
            return entry[head] + (f".{rest}" if rest else "")
        return path

    def add(path: str, n: int) -> None:
        head = path.split(".", 1)[0]
        if head in entry:
            pending.setdefault(head, []).append((path, n))
        full = named(path)
        lines.setdefault(full, n)

    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        h = _HEADER.match(line)
        if h and not _KEY.match(line):
            name = _clean(h.group(2))
            if h.group(1) == "[[":
                i = counts.get(name, 0)
                counts[name] = i + 1
                if name in _NAMING:
                    entry[name] = f"{name}[{i}]"
                    pending[name] = []
                table = name
            else:
                table = name
            add(table, n)
            continue
        k = _KEY.match(line)
        if not k:
            continue
        key = _clean(k.group(1))
        path = f"{table}.{key}" if table else key
        add(path, n)
        head = table.split(".", 1)[0] if table else ""
        if table == head and head in _NAMING and key == _NAMING[head]:
            value = k.group(2).split("#", 1)[0].strip().strip("\"'")
            if re.fullmatch(r"[A-Za-z0-9_-]+", value):
                entry[head] = f"{head}.{value}"
                for p, ln in pending.get(head, []):  # name the lines seen before it
                    lines.setdefault(named(p), ln)
    return lines


def line_of(lines: dict[str, int], path: str) -> int | None:
    """The line of ``path`` or of its longest prefix that has one (None if none does)."""
    parts = re.sub(r"\[(\d+)\]", r".[\1]", path).split(".")
    while parts:
        key = ".".join(parts).replace(".[", "[")
        if key in lines:
            return lines[key]
        parts.pop()
    return None


def with_lines(text: str, problems: list[str], overridden: Iterable[str] = ()) -> list[str]:
    """``problems`` (``key.path: message``) prefixed with ``line N: `` where known, or with
    ``set on the command line: `` where the value came from an override (``overridden``:
    the dotted keys ``--set``, ``--hours`` and the like replaced), not from that line."""
    lines = key_lines(text)
    keys = tuple(overridden)
    out = []
    for p in problems:
        path = p.split(":", 1)[0].strip()
        if path and any(path == k or path.startswith((k + ".", k + "[")) for k in keys):
            out.append(f"set on the command line: {p}")
            continue
        n = line_of(lines, path) if path and " " not in path else None
        out.append(f"line {n}: {p}" if n is not None else p)
    return out

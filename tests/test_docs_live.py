"""docs/live.md's configuration table against ``outdial.live.config.load_config``: every key
it lists is one the loader reads (a value of the wrong type is a problem naming that key),
and every default it states is the one a minimal configuration gets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from outdial.live.config import ConfigError, LiveConfig, load_config

DOC = Path(__file__).resolve().parent.parent / "docs" / "live.md"
_KEY = re.compile(r"`([a-z]+\.[a-z_]+)`")


def doc_rows() -> list[tuple[list[str], str]]:
    """(the keys of a row, its default cell) of the table under ``## Configuration``."""
    text = DOC.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in text.splitlines():
        if line.startswith("| `"):
            key_cell, default = (c.strip() for c in line.strip("|").split("|")[:2])
            rows.append((_KEY.findall(key_cell), default))
    return rows


def _write(tmp_path: Path, tables: dict[str, dict[str, str]]) -> Path:
    (tmp_path / "jobs.toml").write_text("")
    lines = []
    for name, keys in tables.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {v}" for k, v in keys.items()]
    path = tmp_path / "run.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


_MINIMAL = {"run": {"scenario": '"jobs.toml"'}, "store": {"sqlite": '"s.sqlite"'}}


def _value(cfg: LiveConfig, key: str):
    sect, name = key.split(".")
    if sect == "run":
        return getattr(cfg, name)
    if sect == "store":
        return {"synchronous": cfg.synchronous}.get(name)
    if sect == "events":
        return getattr(cfg, f"events_{name}")
    if sect == "emulate":
        return cfg.emulate_tls
    if sect == "control":
        return cfg.control if name == "enabled" else cfg.control_socket
    if key == "aes.first_station":
        return cfg.first_station
    if key == "aes.stale_s":
        return cfg.aes_stale_s
    if key == "epm.application":
        return cfg.epm.extra.get("application", "outdial")
    if key == "cms.layout":  # None: the session's default (outdial/live/session.py)
        from adapters.cms.framing import SPLIT_SKILL, VDN
        layout = cfg.cms_layout or SPLIT_SKILL
        return "split_skill" if layout is SPLIT_SKILL else "vdn" if layout is VDN else layout
    if sect == "cms":
        return {"listen": cfg.cms.host, "port": cfg.cms.port,
                "stale_s": cfg.cms_stale_s}.get(name)
    return getattr(getattr(cfg, sect), name)


def _parse(cell: str) -> list:
    """The default values a cell states, in the row's key order (``None`` for 'none')."""
    out = []
    for part in cell.split(", "):
        part = part.strip()
        if part.startswith("none"):
            out.append(None)
        elif m := re.fullmatch(r'`"(.*)"`', part):
            out.append(m.group(1))
        elif part in ("true", "false"):
            out.append(part == "true")
        elif re.fullmatch(r"[\d.]+", part):
            out.append(float(part))
    return out


def test_the_table_lists_the_run_configuration():
    keys = [k for ks, _ in doc_rows() for k in ks]
    for k in ("run.scenario", "run.hours", "store.sqlite", "epm.url", "aes.first_station",
              "cms.skills", "emulate.tls", "control.enabled", "control.socket"):
        assert k in keys, k


def test_every_documented_key_is_read_by_the_loader(tmp_path):
    for keys, _ in doc_rows():
        for key in keys:
            sect, name = key.split(".")
            tables = {t: dict(v) for t, v in _MINIMAL.items()}
            tables.setdefault(sect, {})[name] = "[1, 2]"  # no key takes a list
            with pytest.raises(ConfigError) as exc:
                load_config(_write(tmp_path, tables), env={}, emulate=True)
            assert f"{key}" in str(exc.value), f"{key}: {exc.value}"


def test_the_documented_defaults_are_the_loaders(tmp_path):
    cfg = load_config(_write(tmp_path, _MINIMAL), env={}, emulate=True)
    checked = 0
    for keys, cell in doc_rows():
        wants = _parse(cell)
        if len(wants) == 1 and len(keys) > 1:
            wants = wants * len(keys)  # one default for every key of the row
        if len(wants) != len(keys):
            continue  # a default said in words ("required", "the scenario's seed")
        for key, want in zip(keys, wants, strict=True):
            got = _value(cfg, key)
            assert got == want, f"docs/live.md: {key} defaults to {want!r}, the loader's {got!r}"
            checked += 1
    assert checked >= 15

"""``outdial report``: one self-contained HTML file from the outputs of the planner's commands.

Reads a results folder written by ``simulate --out`` (``kpis.json``), ``compare --out``
(``compare.json`` / ``compare.parquet``), ``sweep --out`` (``sweep.parquet``) and ``size
--out`` (``size.json`` / ``size.parquet``), plus every PNG in it, and renders one HTML page:
the scenario summary, the verdict on the declared targets, the platform the load needs, KPI
tables with their 95 % intervals, the plots (embedded as base64 PNG) and the policy
comparison. The page loads nothing from the network, so it can be mailed or archived as is.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.kpi import FRACTION_KPIS

# KPIs shown as percentages (fractions 0..1 in the files): engine.kpi.FRACTION_KPIS.
PERCENT_KEYS = frozenset(FRACTION_KPIS)
KPI_ORDER = ("bhcc", "attempts", "blocked", "live_answers", "abandons", "abandon_rate",
             "abandon_rate_ofcom", "occupancy", "agent_wait_mean_s", "service_level",
             "ports_peak", "ports_mean")
_MAX_ROWS = 60  # a table longer than this is cut, saying how many rows were left out


class ReportError(ValueError):
    """The results folder holds nothing a report can be made of (the message says why)."""


@dataclass
class Table:
    """One HTML table: a title, column names, formatted rows and an optional note."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""
    classes: list[list[str]] = field(default_factory=list)


@dataclass
class Section:
    title: str
    tables: list[Table] = field(default_factory=list)
    images: list[tuple[str, str]] = field(default_factory=list)  # (caption, data URI)
    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    verdict: str = ""
    verdict_class: str = ""


def fmt(key: str, v: Any) -> str:
    """A value for a table cell: percentages for rates, thousands separators, '-' for null."""
    if v is None and key == "meets_limit":
        return "undecided"
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    base = key.rsplit("_lo", 1)[0].rsplit("_hi", 1)[0]
    if isinstance(v, int | float):
        if base in PERCENT_KEYS or (base.startswith("goal_") and 0 <= v <= 1):
            return f"{100 * v:.2f} %"
        if isinstance(v, int) or float(v).is_integer():
            return f"{int(v):,}"
        return f"{v:,.2f}" if abs(v) >= 1 else f"{v:.4g}"
    if isinstance(v, list | tuple):
        return ", ".join(fmt(key, x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}: {fmt(k, x)}" for k, x in v.items())
    return str(v)


def with_interval(key: str, value: Any, lo: Any, hi: Any) -> str:
    text = fmt(key, value)
    if lo is None or hi is None:
        return text
    return f"{text} [{fmt(key, lo)}, {fmt(key, hi)}]"


def _met(met: Any) -> tuple[str, str]:
    if met is True:
        return "met", "met"
    if met is False:
        return "missed", "missed"
    return "undecided", "undecided"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ReportError(f"{path}: not a readable JSON file (not UTF-8 text)") from None
    except (OSError, ValueError) as exc:  # ValueError: json.JSONDecodeError
        raise ReportError(f"{path}: not a readable JSON file ({exc})") from None
    except RecursionError:
        raise ReportError(f"{path}: not a readable JSON file (arrays or objects nested "
                          "too deep; outdial writes a few levels)") from None


def _read_parquet(path: Path) -> list[dict[str, Any]]:
    import polars as pl

    try:
        return pl.read_parquet(path).to_dicts()
    except Exception as exc:  # polars raises several kinds for a damaged file
        raise ReportError(f"{path}: not a readable Parquet file ({exc})") from None


def _inbound_kpi(key: str) -> bool:
    """An inbound KPI: left out of a table with no inbound call anywhere (no [[inbound]]
    skill), where it is zeros and its rates the interval of no evidence ('0.00 % [0.00 %,
    100.00 %]'), not figures."""
    return key.startswith("inbound_") or key == "occupancy_inbound"


def _table_from_rows(title: str, rows: list[dict[str, Any]], lead: list[str] | None = None,
                     note: str = "") -> Table:
    """Rows of dicts as a table; ``k``/``k_lo``/``k_hi`` columns become one "k [lo, hi]"."""
    if not rows:
        return Table(title, [], [], note or "no rows")
    keys: list[str] = []
    for r in rows:
        for k in r:
            if k not in keys:
                keys.append(k)
    bounds = {k for k in keys if (k.endswith("_lo") or k.endswith("_hi"))
              and k[:-3] in keys}
    order = [k for k in (lead or []) if k in keys]
    order += [k for k in KPI_ORDER if k in keys and k not in order]
    order += [k for k in keys if k not in order and k not in bounds
              and not isinstance(rows[0].get(k), dict | list)]
    if not any(r.get("inbound_offered") for r in rows):
        order = [k for k in order if not _inbound_kpi(k)]
    out_rows = []
    for r in rows[:_MAX_ROWS]:
        out_rows.append([with_interval(k, r.get(k), r.get(f"{k}_lo"), r.get(f"{k}_hi"))
                         if f"{k}_lo" in bounds else fmt(k, r.get(k)) for k in order])
    if len(rows) > _MAX_ROWS:
        note = (note + " " if note else "") + \
            f"First {_MAX_ROWS} of {len(rows)} rows; the file has them all."
    return Table(title, order, out_rows, note)


def _summary_section(k: dict[str, Any]) -> Section:
    s = Section("Scenario")
    rows = [[name, fmt(name, k.get(name))] for name in
            ("scenario", "seed", "replications", "sim_hours", "warmup_s", "wall_s")
            if name in k]
    res = k.get("resources") or {}
    rows += [[name.replace("_", " "), fmt(name, v)] for name, v in res.items()]
    s.tables.append(Table("Run", ["quantity", "value"], rows))
    return s


def _texts(warnings: Any) -> list[str]:
    """Warnings as lines: a warning object (``{"code": ..., "message": ...}``, the pacer's
    that a program acts on) by its message."""
    return [str(w.get("message", w)) if isinstance(w, dict) else str(w)
            for w in warnings or []]


def _is_verdict_warning(w: str) -> bool:
    """A campaign over its abandon limit or a missed target (shown with the verdict)."""
    return w.startswith(("campaign ", "campaigns possibly", "target "))


def _verdict_section(k: dict[str, Any]) -> Section | None:
    targets = k.get("targets")
    campaign_warnings = [w for w in _texts(k.get("warnings")) if _is_verdict_warning(w)]
    if not targets and not campaign_warnings:
        return None
    s = Section("Verdict")
    if targets:
        rows, classes = [], []
        for t in targets:
            label, css = _met(t.get("met"))
            name = t.get("name", "")
            kpi = t.get("kpi") or name.split("_", 1)[-1]
            rows.append([name, str(t.get("target", "")),
                         with_interval(kpi, t.get("value"), t.get("lo"), t.get("hi")),
                         label, fmt(kpi, t.get("margin")), str(t.get("note", ""))])
            classes.append(["", "", "", css, "", ""])
        s.tables.append(Table("Declared targets (judged on the 95 % interval)",
                              ["target", "bound", "value [95 % interval]", "verdict",
                               "margin", "note"], rows, classes=classes))
        states = {_met(t.get("met"))[0] for t in targets}
        s.verdict = k.get("verdict") or (
            "missed" if "missed" in states else "undecided" if "undecided" in states
            else "met")
        s.verdict_class = "missed" if "missed" in states else \
            "undecided" if "undecided" in states else "met"
    s.warnings = campaign_warnings
    return s


def _platform_section(k: dict[str, Any]) -> Section | None:
    p = k.get("platform")
    if not p:
        return None
    s = Section("Platform the load needs")
    rows = []
    for name, v in p.items():
        if name in ("warnings", "notes", "attempts_per_hour", "source"):
            continue
        rows.append([name, fmt(name, v)])
    for ch, v in (p.get("attempts_per_hour") or {}).items():
        rows.append([f"attempts_per_hour {ch}", fmt("", v)])
    s.tables.append(Table("Sizing against the documented platform", ["quantity", "value"], rows,
                          note=f"Source of the documented facts: {p.get('source', '')}"))
    s.warnings = _texts(p.get("warnings"))
    s.lines = list(p.get("notes", []))
    return s


def _kpi_section(k: dict[str, Any]) -> Section | None:
    total = k.get("total")
    if not total:
        return None
    ci = k.get("ci95") or {}
    s = Section("KPIs")
    rows = []
    keys = [x for x in KPI_ORDER if x in total] + \
        [x for x in total if x not in KPI_ORDER and not isinstance(total[x], dict)]
    if not total.get("inbound_offered"):
        keys = [x for x in keys if not _inbound_kpi(x)]
    for name in keys:
        bounds = ci.get(name) or [None, None]
        rows.append([name, fmt(name, total[name]), "" if bounds[0] is None else
                     f"[{fmt(name, bounds[0])}, {fmt(name, bounds[1])}]"])
    for ch, v in (total.get("attempts_by_channel") or {}).items():
        if f"attempts_{ch}" not in total:
            rows.append([f"attempts {ch}", fmt("", v), ""])
    s.tables.append(Table(f"Totals over the measured window ({k.get('replications', 1)} "
                          "replication(s))", ["KPI", "value", "95 % interval"], rows))
    camps = k.get("campaigns") or []
    if camps:
        lead = ["name", "channel", "pacing", "attempts", "live_answers", "abandon_rate",
                "occupancy", "service_level"]
        flat = [{c: r.get(c) for c in lead if c in r} for r in camps]
        s.tables.append(_table_from_rows("Campaigns", flat, lead))
    platform = set(_texts((k.get("platform") or {}).get("warnings")))
    other = [w for w in _texts(k.get("warnings"))
             if not _is_verdict_warning(w) and w not in platform]
    s.warnings = other
    return s


def _images(folder: Path) -> list[tuple[str, str]]:
    out = []
    for p in sorted(folder.glob("*.png")):
        data = base64.b64encode(p.read_bytes()).decode("ascii")
        out.append((p.stem.replace("_", " "), f"data:image/png;base64,{data}"))
    return out


def _compare_section(folder: Path) -> Section | None:
    path = folder / "compare.parquet"
    if not path.exists():
        return None
    rows = _read_parquet(path)
    lead = ["policy", "ratio", "meets_limit", "targets_verdict", "platform_tier", "occupancy",
            "abandon_rate", "abandon_rate_ofcom", "service_level", "agent_wait_mean_s", "bhcc"]
    keep = set(lead) | {f"{x}_{b}" for x in lead for b in ("lo", "hi")}
    rows = [{c: r[c] for c in r if c in keep or c.startswith("meets")} for r in rows]
    s = Section("Policy comparison")
    s.tables.append(_table_from_rows("Policies on identical traffic (mean [95 % interval])",
                                     rows, lead))
    meta = folder / "compare.json"
    if meta.exists():
        payload = _read_json(meta)
        if isinstance(payload, dict):
            s.lines = [f"{name}: {fmt(name, payload[name])}" for name in
                       ("scenario", "replications", "seed", "sim_hours", "abandon_limit")
                       if name in payload]
            regs = payload.get("regulations")
            if isinstance(regs, list) and len(regs) > 1:  # campaigns under several rules
                s.lines[-1:] = [
                    f"abandon_limit ({', '.join(map(str, g.get('campaigns', [])))}): "
                    f"{fmt('abandon_rate', g.get('abandon_limit'))} "
                    f"{'Ofcom' if g.get('mode') == 'ofcom' else 'FCC/TSR'}"
                    for g in regs if isinstance(g, dict)]
            s.warnings = _texts(payload.get("warnings"))
    return s


def _sweep_section(folder: Path) -> Section | None:
    path = folder / "sweep.parquet"
    if not path.exists():
        return None
    s = Section("Parameter sweep")
    rows = _read_parquet(path)
    meta = _read_json(folder / "sweep.json") if (folder / "sweep.json").exists() else {}
    axes = list((meta.get("axes") or {}).keys()) if isinstance(meta, dict) else []
    s.tables.append(_table_from_rows("One row per point (mean [95 % interval])", rows, axes))
    return s


def _size_section(folder: Path) -> Section | None:
    path = folder / "size.parquet"
    if not path.exists():
        return None
    s = Section("Sizing search")
    meta = _read_json(folder / "size.json") if (folder / "size.json").exists() else {}
    if isinstance(meta, dict):
        answer = meta.get("answer")
        s.verdict = (f"minimum {meta.get('key', '')} = {answer}" if answer is not None
                     else f"no {meta.get('key', 'value')} found meeting every target")
        s.verdict_class = "met" if answer is not None else "missed"
        s.lines = [f"targets: {', '.join(map(str, meta.get('targets', [])))}",
                   f"replications per value: {meta.get('replications', '')}"]
        s.warnings = _texts(meta.get("warnings"))
        lead = [meta.get("key", "")]
    else:
        lead = []
    s.tables.append(_table_from_rows("Every value evaluated (mean [95 % interval])",
                                     _read_parquet(path), lead))
    return s


# What reading a results file of another shape raises (a field of the wrong type, missing).
_SHAPE_ERRORS = (TypeError, KeyError, AttributeError, ValueError, IndexError)


def _not_ours(path: Path, writer: str, exc: Exception) -> ReportError:
    """The error for a results file that reads but is not what ``writer`` writes."""
    return ReportError(f"{path}: not the file {writer} writes (edited, or from another "
                       f"version?): {type(exc).__name__}: {exc}")


def build(folder: Path) -> tuple[str, list[Section]]:
    """The report's title and sections from a results folder.

    Raises:
        ReportError: when the folder does not exist or holds no known output.
    """
    if not folder.is_dir():
        raise ReportError(f"{folder}: not a folder (give the --out folder of simulate, "
                          "compare, sweep or size)")
    sections: list[Section] = []
    title = folder.name
    kpis_path = folder / "kpis.json"
    if kpis_path.exists():
        k = _read_json(kpis_path)
        if not isinstance(k, dict):
            raise ReportError(f"{kpis_path}: expected a JSON object")
        total = k.get("total")
        if not (isinstance(total, dict) and isinstance(total.get("attempts"), int | float)):
            # '{}' rendered an empty report as if it were whole
            raise ReportError(f"{kpis_path}: not the file simulate --out writes (edited, or "
                              "from another version?): no 'total' table with its 'attempts'")
        title = str(k.get("scenario", title))
        try:
            sections.append(_summary_section(k))
            for make in (_verdict_section, _platform_section, _kpi_section):
                sec = make(k)
                if sec is not None:
                    sections.append(sec)
        except _SHAPE_ERRORS as exc:
            raise _not_ours(kpis_path, "simulate --out", exc) from None
    for make_folder, name in ((_compare_section, "compare"), (_sweep_section, "sweep"),
                              (_size_section, "size")):
        try:
            sec = make_folder(folder)
        except _SHAPE_ERRORS as exc:
            raise _not_ours(folder / f"{name}.parquet", f"{name} --out", exc) from None
        if sec is not None:
            sections.append(sec)
    images = _images(folder)
    if images:
        sections.append(Section("Plots", images=images))
    if not sections:
        raise ReportError(f"{folder}: no kpis.json, compare.parquet, sweep.parquet, "
                          "size.parquet or PNG here (write them with --out DIR --plots)")
    return title, sections


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>outdial report: {{ title }}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #1d232a; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #d6dde5;
       padding-bottom: 0.2em; margin-top: 1.8em; }
.meta { color: #5b6773; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 0.88em; }
caption { text-align: left; font-weight: 600; padding: 0.3em 0; }
th, td { border: 1px solid #d6dde5; padding: 0.25em 0.6em; text-align: right; }
th { background: #eef2f6; } td:first-child, th:first-child { text-align: left; }
.note { color: #5b6773; font-size: 0.85em; margin-top: -0.8em; }
.met { background: #dff3e4; color: #13622e; font-weight: 600; }
.missed { background: #fbe0e0; color: #8a1c1c; font-weight: 600; }
.undecided { background: #fff3cd; color: #7a5a00; font-weight: 600; }
.verdict { display: inline-block; padding: 0.3em 0.8em; border-radius: 4px; }
.warn { background: #fff3cd; border-left: 4px solid #e0a800; padding: 0.4em 0.8em;
        margin: 0.3em 0; font-size: 0.9em; }
.line { margin: 0.2em 0; font-size: 0.92em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #d6dde5; }
figcaption { color: #5b6773; font-size: 0.85em; }
</style></head>
<body>
<h1>outdial report: {{ title }}</h1>
<div class="meta">Generated {{ generated }} from {{ folder }} by outdial {{ version }}.</div>
{% for s in sections %}
<section id="{{ s.title | lower | replace(' ', '-') }}">
<h2>{{ s.title }}</h2>
{% if s.verdict %}<p><span class="verdict {{ s.verdict_class }}">{{ s.verdict }}</span></p>
{% endif %}
{% for line in s.lines %}<p class="line">{{ line }}</p>{% endfor %}
{% for w in s.warnings %}<div class="warn">&#9888; {{ w }}</div>{% endfor %}
{% for t in s.tables %}
<table>
<caption>{{ t.title }}</caption>
{% if t.columns %}<thead><tr>{% for c in t.columns %}<th>{{ c }}</th>{% endfor %}</tr>
</thead>{% endif %}
<tbody>
{% for r in t.rows %}{% set rowclass = t.classes[loop.index0] if t.classes else [] %}
<tr>{% for cell in r %}<td{% if rowclass and rowclass[loop.index0] %} class="{{
rowclass[loop.index0] }}"{% endif %}>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}
</tbody></table>
{% if t.note %}<p class="note">{{ t.note }}</p>{% endif %}
{% endfor %}
{% for caption, uri in s.images %}
<figure><img src="{{ uri }}" alt="{{ caption }}"><figcaption>{{ caption }}</figcaption>
</figure>
{% endfor %}
</section>
{% endfor %}
</body></html>
"""


def render(folder: Path) -> str:
    """The whole report as one HTML string (every plot inline; no network needed).

    Raises:
        ReportError: as :func:`build`.
    """
    from importlib.metadata import PackageNotFoundError, version

    import jinja2

    title, sections = build(folder)
    try:
        ver = version("outdial")
    except PackageNotFoundError:
        ver = "(not installed)"
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    return env.from_string(_TEMPLATE).render(
        title=title, sections=sections, folder=str(folder), version=ver,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))

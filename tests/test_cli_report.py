"""``outdial report``: one self-contained HTML page, checked as text and in headless Chromium."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.cli_helpers import cli, cli_ok

SCN = Path(__file__).resolve().parent.parent / "scenarios" / "single-50-predictive.toml"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A results folder holding simulate's and compare's outputs and plots."""
    out = tmp_path_factory.mktemp("results")
    scn = out.parent / "with-targets.toml"
    scn.write_text(SCN.read_text() + "\n[targets]\nmin_occupancy = 0.999\nmin_bhcc = 100\n")
    cli_ok("-q", "simulate", str(scn), "--hours", "0.1", "-r", "2", "--out", str(out),
           "--plots")
    cli_ok("-q", "compare", str(scn), "--hours", "0.05", "-r", "2", "--no-search",
           "--policies", "predictive,progressive", "--out", str(out), "--plots")
    cli_ok("-q", "sweep", str(scn), "--vary", "agents.count=40:50:10", "--hours", "0.05", "-r",
           "2", "--out", str(out))
    return out


@pytest.fixture(scope="module")
def page(results) -> Path:
    target = results / "report.html"
    result = cli_ok("report", str(results), "-o", str(target))
    assert f"wrote {target}" in result.stderr
    return target


def test_report_is_self_contained(results, page):
    html = page.read_text()
    # every plot inline as base64 PNG, each the exact bytes of a PNG in the folder
    inline = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    pngs = sorted(results.glob("*.png"))
    assert len(inline) == len(pngs) >= 5
    assert sorted(base64.b64decode(x) for x in inline) == sorted(p.read_bytes() for p in pngs)
    # nothing to fetch: no external scripts, styles, images or fonts
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script" not in html


def test_report_shows_the_kpis_and_the_comparison(results, page):
    html = page.read_text()
    kpis = json.loads((results / "kpis.json").read_text())
    total, ci = kpis["total"], kpis["ci95"]
    assert f"<td>{100 * total['occupancy']:.2f} %</td>" in html
    lo, hi = ci["occupancy"]
    assert f"[{100 * lo:.2f} %, {100 * hi:.2f} %]" in html
    assert "Policy comparison" in html and ">predictive<" in html and ">progressive<" in html
    for section in ("Scenario", "Verdict", "Platform the load needs", "KPIs",
                    "Policy comparison", "Parameter sweep", "Plots"):
        assert f"<h2>{section}</h2>" in html
    # the verdict and the platform as kpis.json has them
    assert 'class="verdict' in html and kpis["verdict"] in html
    for t in kpis["targets"]:
        assert f"<td>{t['name']}</td>" in html
    plat = kpis["platform"]
    assert f"<td>{plat['tier_description']}</td>" in html
    assert f"<td>{plat['voice_portal_ports']:,}</td>" in html


def test_a_scenario_without_inbound_shows_no_inbound_columns(results, page):
    """The sweep's table of a scenario with no [[inbound]] skill listed inbound_service_level
    and inbound_abandon_rate as '0.00 % [0.00 %, 100.00 %]' on every row: the interval of
    no evidence, read as a figure. With no inbound call anywhere the columns are left out;
    a blended folder keeps them (``_table_from_rows``)."""
    from outdial.html_report import _table_from_rows

    text = page.read_text()
    assert "Parameter sweep" in text and "inbound_service_level" not in text
    row = {"agents.count": 10, "inbound_offered": 0.0, "inbound_service_level": 0.0,
           "inbound_service_level_lo": 0.0, "inbound_service_level_hi": 1.0,
           "occupancy_inbound": 0.0, "occupancy": 0.8}
    assert _table_from_rows("t", [row]).columns == ["occupancy", "agents.count"]
    served = [row, dict(row, inbound_offered=12.0, inbound_service_level=0.9)]
    assert "inbound_service_level" in _table_from_rows("t", served).columns


def test_report_errors_are_one_line(tmp_path):
    r = cli("report", str(tmp_path / "missing"))
    assert r.exit_code == 2 and "not a folder" in r.stderr and "Traceback" not in r.output
    r = cli("report", str(tmp_path))
    assert r.exit_code == 2 and "no kpis.json" in r.stderr
    (tmp_path / "kpis.json").write_text("{not json")
    r = cli("report", str(tmp_path))
    assert r.exit_code == 2 and "kpis.json: not a readable JSON file" in r.stderr


def test_a_report_path_through_a_file_names_the_file(results, tmp_path):
    """The OS says only "File exists" when a part of the path is a file: the message names
    that file."""
    blocker = tmp_path / "afile"
    blocker.write_text("a file, not a folder")
    r = cli("report", str(results), "-o", str(blocker / "x.html"))
    assert r.exit_code == 2
    assert f"{blocker} is a file, not a folder" in r.stderr and "File exists" not in r.stderr


def _chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", "--no-first-run", *args],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(not CHROMIUM.exists(),
                    reason="Debian's chromium is not installed (/usr/bin/chromium; .ci/run "
                           "installs it with apt-get install -y chromium)")
def test_report_in_headless_chromium(page, tmp_path):
    # The browser's DOM: the tables and every image decoded (naturalWidth would be 0 if not).
    dom = _chromium("--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<table") >= 3 and dom.stdout.count("<img") >= 5
    assert "Totals over the measured window" in dom.stdout
    # A screenshot: the page renders tables and plots (many colours, not a blank page).
    shot = tmp_path / "report.png"
    run = _chromium(f"--screenshot={shot}", "--window-size=1200,2400", page.as_uri())
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    import matplotlib.image as mpimg

    img = mpimg.imread(shot)[..., :3]
    assert img.shape[0] == 2400 and img.shape[1] == 1200
    colours = np.unique((img.reshape(-1, 3) * 255).astype(np.uint8), axis=0)
    assert len(colours) > 200  # text, table borders, the plots' lines and anti-aliasing
    non_white = (img.sum(axis=2) < 2.9).mean()
    assert 0.02 < non_white < 0.6


def test_the_plots_ports_are_every_campaigns_and_occupancy_counts_agents_on_no_job():
    """The report's per-interval figures pool the campaigns as the run's own intervals do:
    the ports plot adds up each campaign's ports (four jobs here), the occupancy plot's
    agents include those logged in on no job."""
    from outdial.report import _per_interval
    from sim.plan.stats import interval_summary
    from sim.plan.task import run_task
    from sim.scenario import load

    scn = load(SCN.parent / "notifications-reserved-ports.toml", {"scenario.sim_hours": 0.1})
    recs = [run_task(scn, s, tables=True) for s in (1, 2)]
    per = _per_interval(recs, scn)
    total = interval_summary(recs)
    assert per.height == len(total) > 0
    assert np.allclose(per["ports_mean"].to_numpy(), [r["ports_mean"] for r in total])
    assert np.allclose(per["unassigned_mean"].to_numpy(),
                       [r["unassigned_mean"] for r in total])
    assert (per["ports_mean"] > per["staffed_mean"]).all()  # voice notifications hold ports


def test_the_attempts_plot_rates_the_last_interval_on_its_measured_seconds():
    """A 15-minute run in 10-minute intervals: the last row holds 5 measured minutes, so
    its attempts per hour are its attempts over 5 minutes (they were read over 10, a false
    halving at the end of the plot); the rows add up to the run's attempts."""
    from outdial.report import _per_interval
    from sim.plan.task import run_task
    from sim.scenario import load

    scn = load(SCN.parent / "notifications-2200-ports.toml",
               {"scenario.sim_hours": 0.25, "scenario.interval_s": 600.0})
    recs = [run_task(scn, 1, tables=True)]
    per = _per_interval(recs, scn)
    assert per["width_s"].to_list() == [600.0, 300.0]
    assert per["attempts"].sum() == recs[0]["kpis"]["attempts"]
    rate = (per["attempts"] / per["width_s"] * 3600).to_list()
    assert rate[1] == pytest.approx(rate[0], rel=0.2)  # paced channels: a steady rate

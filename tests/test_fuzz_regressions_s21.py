"""Silent failures and unclear messages a planner's trial of unshipped scenarios found
(session 21): odd contact and DNC files (CR-only line ends, byte-order marks), --set keys a
planner writes (a name holding a dot, a key without its section), targets nothing can meet,
misspelt codes and zones, interval labels. One test per class; each fails on the code
before its fix."""

import json
import re

from engine.dnc import DncList
from tests.cli_helpers import SCENARIOS, cli

SMALL = SCENARIOS / "pacing-small-8.toml"


def test_a_cr_only_list_keeps_its_last_header_column(tmp_path):
    # the header was read by polars alone, which sees no line end in CR: the last column
    # ran into the first row ('timezone\rc0'), so validate refused a list the run reads
    rows = "".join(f"c{i},+1202555{i:04d},America/New_York\r" for i in range(3))
    (tmp_path / "c.csv").write_bytes(("id,phone,timezone\r" + rows).encode())
    f = tmp_path / "s.toml"
    f.write_text(SMALL.read_text() + '\n[campaigns.contacts]\nfile = "c.csv"\n')
    res = cli("validate", f)
    assert res.exit_code == 0, res.output
    assert "no column 'timezone'" not in res.stderr


def test_a_dnc_text_file_with_a_byte_order_mark_bars_its_first_number(tmp_path):
    (tmp_path / "dnc.txt").write_bytes("\ufeff2125550003\r\n+1 212 555 0004\r\n"
                                       .encode("utf-8"))
    dnc = DncList.from_file(tmp_path / "dnc.txt", default_country_code="1")
    assert not dnc.problems
    assert "+12125550003" in dnc and "+12125550004" in dnc


def test_a_set_on_a_campaign_named_with_a_dot_says_how_to_address_it(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text(SMALL.read_text().replace('name = "sales"', 'name = "sales.uk"', 1))
    assert cli("validate", f).exit_code == 0
    res = cli("validate", f, "--set", "campaigns.sales.uk.talk.mean_s=100")
    assert res.exit_code == 2
    assert "an entry whose name holds a dot is set by its index: campaigns[0].talk.mean_s" \
        in res.stderr
    assert cli("validate", f, "--set", "campaigns[0].talk.mean_s=100").exit_code == 0


def test_a_misspelt_retry_code_and_a_bad_default_zone_say_what_was_meant(tmp_path):
    from engine.rules import RuleConfig, RuleConfigError
    from engine.vocab import parse_code

    try:
        parse_code("no_anwser")
    except ValueError as e:
        msg = str(e)
    assert "(did you mean 'no_answer'?)" in msg
    listed = msg.split("expected one of ")[1].split(", ")
    assert len(listed) == len(set(listed))  # 'machine' was listed twice
    try:
        RuleConfig(default_timezone="BST")
    except RuleConfigError as e:
        msg = str(e)
    assert "default_timezone is an IANA zone" in msg and "day is" not in msg


def test_a_set_of_a_key_without_its_section_names_the_section():
    res = cli("validate", SMALL, "--set", "warmup_s=30")
    assert res.exit_code == 2 and "(did you mean 'scenario.warmup_s'?)" in res.stderr


def test_a_channel_target_without_a_campaign_of_that_channel_is_refused(tmp_path):
    # it validated and every run then read 'MISSED: min_attempts_per_hour.sms'
    f = tmp_path / "s.toml"
    f.write_text(SMALL.read_text() + "\n[targets]\nmin_attempts_per_hour = { sms = 100 }\n")
    res = cli("validate", f)
    assert res.exit_code == 2
    assert "targets.min_attempts_per_hour.sms: no campaign has channel 'sms'" in res.stderr
    f.write_text(SMALL.read_text() + "\n[targets]\nmin_attempts_per_hour = "
                 "{ voice_agent = 100 }\n")
    assert cli("validate", f).exit_code == 0


def test_intervals_shorter_than_a_minute_get_labels_of_their_own():
    res = cli("simulate", SMALL, "--intervals", "--no-cache", "--hours", "0.02",
              "--warmup-s", "13", "--set", "scenario.interval_s=20",
              env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    labels = re.findall(r"│ (\d\d:\d\d(?::\d\d)?) │", res.stdout)
    assert len(labels) >= 3 and len(set(labels)) == len(labels), labels


def test_a_fraction_of_1_is_read_as_100_percent_not_1_percent():
    res = cli("erlang", "c", "--calls-per-hour", "200", "--aht-s", "180",
              "--service-level", "1", "--target-s", "20")
    assert res.exit_code == 2
    assert "got 1 (1 is 100 %; 1 % is 0.01)" in res.stderr
    res = cli("erlang", "c", "--calls-per-hour", "200", "--aht-s", "180",
              "--service-level", "80", "--target-s", "20")
    assert "got 80 (80 % is 0.8)" in res.stderr


def test_the_report_reads_a_run_whose_warnings_hold_a_warning_object(tmp_path):
    # simulate --out wrote the pacer's abandon_limit_infeasible object among the warnings;
    # outdial report refused the folder ('dict' object has no attribute 'startswith')
    out = tmp_path / "out"
    res = cli("simulate", SMALL, "--no-cache", "--hours", "0.02", "--out", out,
              "--set", 'regulation.mode="ofcom"', "--set", "campaigns.amd.enabled=true",
              "--set", "campaigns.amd.accuracy=0.5", "--set",
              "campaigns.amd.errors_on_humans=1.0")
    assert res.exit_code == 0, res.output
    warnings = json.loads((out / "kpis.json").read_text())["warnings"]
    assert any(isinstance(w, dict) for w in warnings)
    res = cli("report", out, "-o", tmp_path / "r.html")
    assert res.exit_code == 0, res.output
    assert "is used up by the estimated AMD false positives" in (tmp_path / "r.html").read_text()

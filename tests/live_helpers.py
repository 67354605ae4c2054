"""Helpers for the live-run tests: a run configuration in a temporary folder, the store's
rows and the events file's records."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "single-50-predictive.toml"


def write_config(folder: Path, hours: float = 0.01, speed: float = 6.0, drain_s: float = 3.0,
                 extra: str = "", scenario: Path = SCENARIO, aes_poll_s: float | None = None
                 ) -> Path:
    """A run configuration for an emulated run of ``scenario`` (the 50-agent one)."""
    cfg = folder / "run.toml"
    poll = "" if aes_poll_s is None else f"poll_s = {aes_poll_s}"
    cfg.write_text(f"""
[run]
scenario = "{scenario.as_posix()}"
hours = {hours}
speed = {speed}
drain_s = {drain_s}
[store]
sqlite = "store.sqlite"
synchronous = "NORMAL"
[events]
jsonl = "events.jsonl"
[epm]
user = "outdial"
password_env = "OUTDIAL_TEST_EPM_PW"
[aes]
user = "outdial"
password_env = "OUTDIAL_TEST_AES_PW"
{poll}
[cms]
listen = "127.0.0.1"
{extra}
""", encoding="utf-8")
    return cfg


def kafka_config(folder: Path, monkeypatch, producer: type, hours: float) -> Path:
    """``write_config`` with a Kafka sink at 127.0.0.1:9 whose producer is ``producer`` (a
    ``tests.test_kafka.FakeProducer``, its list of made producers emptied) instead of
    confluent-kafka's: the config file's path."""
    from types import SimpleNamespace

    from adapters import kafka as kafka_mod
    from tests.test_kafka import FakeProducer

    FakeProducer.made = []  # every fake producer is listed there
    mod = SimpleNamespace(Producer=producer, KafkaException=RuntimeError,
                          libversion=lambda: ("2.5.0", 0x020500FF))
    monkeypatch.setattr(kafka_mod, "_confluent", lambda: mod)
    p = write_config(folder, hours=hours, speed=5.0, drain_s=1.0)
    p.write_text(p.read_text().replace('jsonl = "events.jsonl"',
                                       'jsonl = "events.jsonl"\nkafka = "127.0.0.1:9"'))
    return p


def run_cmd(cfg: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "outdial.cli", "run", str(cfg), "--emulate",
                             "--json", "--no-view", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env=env)


def rows(store: Path) -> dict[int, dict]:
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10)
    db.row_factory = sqlite3.Row
    try:
        return {r["attempt_id"]: dict(r) for r in db.execute("SELECT * FROM attempts")}
    finally:
        db.close()


def events(path: Path) -> list[dict]:
    out = []
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # the line being written at a kill
    return out


def attempt_events(path: Path, kind: str) -> set[int]:
    return {e["event"]["attempt_id"] for e in events(path) if e["event"].get("type") == kind}

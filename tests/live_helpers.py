"""Helpers for the live-run tests: a run configuration in a temporary folder, the store's
rows and the events file's records, waiting on the loop for a condition, and an EPM
telephony dialling attempts until they end."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "single-50-predictive.toml"
# the endpoints' passwords, from the environment variables ``write_config`` names (with
# the characters a URL or a shell would mangle)
ENV = {"OUTDIAL_TEST_EPM_PW": "e@p%m'\"x", "OUTDIAL_TEST_AES_PW": "a@e%s'\"y"}


async def until(cond: Callable[[], bool], timeout_s: float = 5.0, step_s: float = 0.01
                ) -> None:
    """Wait on the event loop until ``cond()`` holds, looking every ``step_s`` seconds;
    AssertionError after ``timeout_s``."""
    for _ in range(int(timeout_s / step_s)):
        if cond():
            return
        await asyncio.sleep(step_s)
    raise AssertionError("condition not met in time")


def epm_telephony(client: Any, **cfg: Any) -> Any:
    """An ``EpmTelephony`` over ``client`` polling fast (20 ms, resources every 50 ms,
    retries after 20 ms; ``cfg``: more ``EpmTelephonyConfig`` fields), not yet listened to."""
    from adapters.epm.telephony import EpmTelephony, EpmTelephonyConfig

    tel = EpmTelephony(client, EpmTelephonyConfig(**{"poll_s": 0.02, "resources_s": 0.05,
                                                     **cfg}))
    tel.backoff.first_s = tel.backoff.max_s = 0.02
    return tel


async def dial_until_done(tel: Any, attempts: Sequence[Any], wait_s: float = 5.0
                          ) -> list[str]:
    """Run ``tel``, dial ``attempts`` and wait (at most ``wait_s``; TimeoutError after)
    until none is PENDING and nothing is being launched or sent; then stop and close it.
    The attempts' codes, by name."""
    from engine.attempt import Code

    runner = asyncio.create_task(tel.run())
    try:
        for a in attempts:
            tel.dial(a)
        async with asyncio.timeout(wait_s):
            while any(a.code == Code.PENDING for a in attempts) or tel.launching \
                    or tel.messages:
                assert not runner.done(), runner.exception()
                await asyncio.sleep(0.01)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        tel.close()
    return [Code(a.code).name for a in attempts]


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

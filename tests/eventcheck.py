"""Shared checks for event tests: an event matches the contract in ``engine.events``."""

from __future__ import annotations

import json
from typing import Any

from engine.events import EVENT_FIELDS, EVENT_TOPIC

SCENARIO = "scenarios/single-50-predictive.toml"
SHORT = {"scenario.sim_hours": 0.05, "scenario.warmup_s": 30.0}


def check_event(topic: str, event: Any, org: str = "Default") -> None:
    """Assert ``event`` has exactly its type's fields, each of exactly the contract's type."""
    assert isinstance(event, dict), f"{topic}: event is not an object: {event!r}"
    kind = event.get("type")
    assert kind in EVENT_FIELDS, f"{topic}: unknown event type {kind!r}"
    assert topic == f"POM.{org}.{EVENT_TOPIC[kind]}", f"{kind} published on {topic}"
    spec = EVENT_FIELDS[kind]
    assert list(event) == list(spec), (
        f"{kind}: fields differ; missing {sorted(set(spec) - set(event))}, "
        f"extra {sorted(set(event) - set(spec))}")
    for name, (t, _) in spec.items():
        v = event[name]
        assert type(v) is t, f"{kind}.{name} = {v!r} is {type(v).__name__}, not {t.__name__}"
        if t is dict:
            assert all(type(k) is str and type(x) in (int, float, bool, str)
                       for k, x in v.items()), f"{kind}.{name} = {v!r}: not flat"
    assert event["org"] == org
    json.dumps(event, allow_nan=False)  # strict JSON


def simulate_into(sink: Any, seed: int = 1) -> None:
    """The short simulated campaign every sink test runs, publishing into ``sink``."""
    from sim.run import simulate
    from sim.scenario import load

    simulate(load(SCENARIO, SHORT), seed=seed, sink=sink)

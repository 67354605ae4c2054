"""World behaviours not covered by the closed forms: aux breaks, ports, channel mix."""

from pathlib import Path

import polars as pl
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.attempt import Code
from sim.run import run_until, simulate
from sim.scenario import build, load
from sim.world import _later, _PortGauge

SCN = Path(__file__).resolve().parent.parent / "scenarios"
SHORT = {"scenario.sim_hours": 0.25, "scenario.warmup_s": 120.0}


def test_aux_breaks_lower_occupancy_and_keep_agents_cycling():
    base = simulate(load(SCN / "single-50-predictive.toml", SHORT), 4)
    aux = simulate(load(SCN / "single-50-predictive.toml",
                        {**SHORT, "agents.aux_probability": 0.5, "agents.aux_mean_s": 200.0}), 4)
    # half the calls followed by ~200 s of aux on ~225 s of handling: clearly less occupancy
    assert aux.total["occupancy"] < base.total["occupancy"] - 0.1
    assert aux.total["live_answers"] > 50  # agents come back from their breaks


def test_notification_only_platform_uses_ports_not_agents():
    r = simulate(load(SCN / "notifications-2200-ports.toml", SHORT), 2)
    by = r.total["attempts_by_channel"]
    assert by["voice_agent"] == 0 and by["sms"] > 0 and by["email"] > 0
    # 2,000 voice notifications per hour at ~43 s mean hold: ~24 ports busy on average
    assert 12 < r.total["ports_mean"] < 40
    assert r.total["ports_peak"] <= 2200
    # ports are accounted per campaign too: the means add up to the total exactly
    assert sum(c["ports_mean"] for c in r.campaigns) == pytest.approx(r.total["ports_mean"])
    assert max(c["ports_peak"] for c in r.campaigns) <= r.total["ports_peak"]


def test_each_campaigns_interval_rows_hold_its_own_ports():
    """The intervals table's ``ports_mean`` is the campaign's (an SMS or email job holds
    none), and an interval's rows add up to the ports in use (the 5-s samples of the
    time-weighted total)."""
    import polars as pl

    r = simulate(load(SCN / "notifications-2200-ports.toml", SHORT), 2)
    iv = r.intervals.filter(pl.col("t_start_s") >= SHORT["scenario.warmup_s"])
    kind = {c["name"]: c["channel"] for c in r.campaigns}
    text = iv.filter(pl.col("campaign").replace_strict(kind) != "voice_agentless")
    assert text.height > 0 and (text["ports_mean"] == 0).all()
    voice = iv.filter(pl.col("campaign").replace_strict(kind) == "voice_agentless")
    assert (voice["ports_mean"] > 0).all()
    per = iv.group_by("interval").agg(pl.col("ports_mean").sum())["ports_mean"]
    assert per.mean() == pytest.approx(r.total["ports_mean"], rel=0.1)


@pytest.mark.parametrize("seed", [1, 2])
def test_same_scenario_and_seed_identical(seed):
    scn = load(SCN / "single-50-predictive.toml", SHORT)
    a, b = simulate(scn, seed), simulate(scn, seed)
    assert a.total == b.total
    assert a.attempts.equals(b.attempts)


def test_a_paused_job_launches_nothing_until_resumed():
    import simpy

    from engine.store_memory import MemoryStore
    from sim.run import assemble

    env = simpy.Environment()
    store = MemoryStore()
    w = assemble(load(SCN / "single-50-predictive.toml", SHORT), 3, env, store, (0.0, 1200.0))
    w.feed.start()
    w.director.start()
    w.dialer.start()
    w.director.pause(0)
    env.run(until=600.0)
    assert store.cols["t_created"] == []
    w.director.resume(0)
    env.run(until=1200.0)
    t_created = store.cols["t_created"]
    assert min(t_created) >= 600.0 and len(t_created) > 50


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1), st.integers(0, 400)),
                max_size=40),
       st.integers(0, 200), st.integers(1, 200), st.integers(0, 500))
def test_port_gauges_match_a_step_by_step_integral(changes, lo, span, ask):
    """Peak and time-weighted mean of ports in use, per campaign and in total, clipped to
    the measurement window, against summing in-use x time over every interval."""
    hi = lo + span
    total = _PortGauge((lo, hi))
    jobs = [_PortGauge((lo, hi), total) for _ in range(4)]
    in_use, t_last, area, peak = [0] * 4, 0.0, [0.0] * 4, [0] * 4
    events, t = [], 0.0
    for job, up, gap in changes:
        t += gap / 4.0
        if up or in_use[job] == 0:
            events.append((t, job, +1))
            in_use[job] += 1
        else:
            events.append((t, job, -1))
            in_use[job] -= 1
    in_use, total_peak = [0] * 4, 0
    for t, job, delta in events:
        jobs[job].change(delta, t)
        a, b = max(t_last, lo), min(t, hi)  # the interval before this change, clipped
        if b > a:
            for j in range(4):
                area[j] += in_use[j] * (b - a)
        t_last = t
        in_use[job] += delta
        if lo <= t < hi:
            peak[job] = max(peak[job], in_use[job])
            total_peak = max(total_peak, sum(in_use))
    now = max(t_last, float(ask))
    a, b = max(t_last, lo), min(now, hi)
    if b > a:
        for j in range(4):
            area[j] += in_use[j] * (b - a)
    seen = min(now, hi) - lo
    for j in range(4):
        assert jobs[j].peak == peak[j]
        assert jobs[j].in_use == in_use[j]
        want = area[j] / seen if seen > 0 else 0.0
        assert jobs[j].mean(now) == pytest.approx(want, abs=1e-9)
    assert total.in_use == sum(in_use)
    assert total.peak == total_peak
    assert total.mean(now) == pytest.approx(sum(area) / seen if seen > 0 else 0.0, abs=1e-9)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.sampled_from([0.0, 0.5, 1.0, 2.5])),
                min_size=1, max_size=30))
def test_bare_world_events_run_in_the_order_timeouts_would(plan):
    # the world's per-attempt steps skip SimPy's Timeout (``_later``): mixed with timeouts,
    # callbacks run by time, then in scheduling order, and the clock reads their time
    env = simpy.Environment()
    ran = []
    for k, (bare, delay) in enumerate(plan):
        def fn(ev, k=k, delay=delay):
            ran.append((env.now, k))
            assert env.now == delay
            assert ev.value == k  # the step's payload, as a Timeout's value
        if bare:
            _later(env, delay, fn, k)
        else:
            env.timeout(delay, k).callbacks.append(fn)
    env.run(until=10.0)
    assert ran == sorted((d, k) for k, (_, d) in enumerate(plan))
    with pytest.raises(ValueError, match="negative delay"):
        _later(env, -1.0, lambda _ev: None)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from([0.0, 1.0, 2.0, 3.0]), min_size=1, max_size=12),
       st.sampled_from([1.0, 2.0, 2.5]))
def test_run_until_runs_what_simpy_run_does(delays, until):
    # sim.run steps SimPy's queue itself: the same callbacks and processes run, in the
    # same order, events due at ``until`` wait, and the clock ends at ``until``
    def world(env, log):
        def proc(k, d):
            yield env.timeout(d)
            log.append((env.now, "p", k))
            yield env.timeout(d)
            log.append((env.now, "q", k))
        for k, d in enumerate(delays):
            env.process(proc(k, d))
            _later(env, d, lambda _ev, k=k: log.append((env.now, "c", k)))

    logs = []
    for use_simpy in (True, False):
        env, log = simpy.Environment(), []
        world(env, log)
        if use_simpy:
            env.run(until=until)
        else:
            run_until(env, until)
        run_until(env, until + 10.0)  # and on from there
        logs.append((log, env.now))
    assert logs[0] == logs[1]


def test_run_until_stops_with_an_unhandled_failure():
    env = simpy.Environment()

    def boom():
        yield env.timeout(1.0)
        raise KeyError("x")

    env.process(boom())
    with pytest.raises(KeyError):
        run_until(env, 5.0)
    with pytest.raises(ValueError, match="greater than"):
        run_until(env, 0.5)


def test_a_night_with_every_zone_closed_neither_searches_nor_decides_at_every_tick(
        monkeypatch):
    """03:00 US Eastern: no contact may be called. The flow pauses its search of the
    (growing) synthetic list and the dialer tells the pacer, so the look-ahead runs a few
    times, not once per 0.25 s tick; at the opening (08:00 Eastern) dialling starts."""
    from pacer.decide import Pacer

    runs = []
    orig = Pacer._look_ahead

    def counted(self, now, *args):
        runs.append(now)
        return orig(self, now, *args)

    monkeypatch.setattr(Pacer, "_look_ahead", counted)
    scn = Path(__file__).resolve().parent.parent / "scenarios" / "pacing-small-8.toml"
    night = load(scn, {"scenario.start": "2026-11-23T12:50:00+00:00", "scenario.warmup_s": 60.0,
                       "scenario.sim_hours": 0.2,  # 07:50 Eastern; opens at 13:00 UTC
                       "campaigns.contacts.timezones": {"America/New_York": 1.0},
                       "campaigns.strategy.windows": "Mon-Sun 08:00-21:00",
                       "campaigns.strategy.steps": [{"channel": "voice", "address": "phone"}]})
    res = simulate(night)
    opening = 600.0  # run seconds from the start (warm-up included)
    before = [t for t in runs if t < opening]
    assert len(before) <= 20, len(before)  # 2400 ticks before the opening
    assert len(runs) - len(before) > 50  # and it decides again once open (98 in 3 min)
    times = res.attempts["t_created"]
    assert times.min() == pytest.approx(opening) and res.attempts.height > 20



@pytest.mark.parametrize("cps", [0.5, 0.2])
def test_a_carrier_under_one_call_per_second_sets_up_calls_at_its_rate(cps):
    """``carrier_cps`` under 1 (valid: > 0) once let no call out: the telephony offered
    ``int(1 s / gap)`` = 0 setups every tick, so agent-based jobs dialled nothing and every
    timed call was blocked. The carrier now takes a call whenever its next setup starts
    within the second: a notification job asking for more goes out at the carrier's rate
    (the rest blocked), and an agent-based job dials too."""
    raw = {"scenario": {"name": "slow-carrier", "sim_hours": 0.1, "warmup_s": 0.0},
           "telephony": {"ports": 100, "carrier_cps": cps},
           "agents": [{"group": "team", "count": 10, "skills": ["sales"]}],
           "campaigns": [{"name": "notify", "channel": "voice_agentless",
                          "attempts_per_hour": 7200.0}]}
    scn = build(raw)
    r = simulate(scn, 3)
    launched = r.attempts.filter(pl.col("code") != int(Code.BLOCKED)).height
    cap = cps * scn.sim_s
    assert 0.9 * cap <= launched <= cap + 1
    raw["campaigns"] = [{"name": "sales", "skill": "sales"}]
    r = simulate(build(raw), 3)
    dialled = r.attempts.filter(pl.col("code") != int(Code.BLOCKED)).height
    assert 0.2 * cap <= dialled <= cap + 1  # 10 agents want ~0.15 calls per second


def test_interval_rows_count_completed_attempts_only_as_the_kpis_do():
    """A port pool too small for a notification job blocks most of its calls: blocked
    attempts never went out, so the interval rows (``intervals.parquet``, ``--intervals``,
    the plots) leave them out as the KPIs do, and the measured rows add up to the run's
    attempts (they once counted the blocked ones too: 166 a row where the run had none)."""
    raw = {"scenario": {"name": "few-ports", "sim_hours": 0.1, "warmup_s": 60.0,
                        "interval_s": 60.0},
           "telephony": {"ports": 3},
           "agents": [{"group": "team", "count": 5, "skills": ["sales"]}],
           "campaigns": [{"name": "sales", "skill": "sales"},
                         {"name": "notify", "channel": "voice_agentless",
                          "attempts_per_hour": 3600.0}]}
    scn = build(raw)
    r = simulate(scn, 2)
    assert r.total["blocked"] > 50
    measured = r.intervals.filter(pl.col("t_start_s") >= scn.warmup_s)
    assert int(measured["attempts"].sum()) == r.total["attempts"]
    for c in r.campaigns:
        mine = measured.filter(pl.col("campaign") == c["name"])
        assert int(mine["attempts"].sum()) == c["attempts"]


def test_a_national_dnc_file_bars_a_campaigns_numbers_written_nationally(tmp_path):
    """Contacts written nationally with ``default_country_code = "1"`` are dialled as
    ``+1...``; a global DNC file listing the same numbers nationally bars them (it once
    barred only the entry written with its ``+1``)."""
    (tmp_path / "list.csv").write_text(
        "id,phone\n" + "".join(f"N{i},(212) 555-{i:04d}\n" for i in range(1, 41)))
    (tmp_path / "dnc.txt").write_text("2125550001\n2125550002\n(212) 555-0003\n"
                                      "+1 212 555 0004\n")
    raw = {"scenario": {"name": "dnc", "sim_hours": 0.1, "warmup_s": 0.0},
           "telephony": {"ports": 50}, "dnc": {"files": ["dnc.txt"]},
           "agents": [{"group": "team", "count": 20, "skills": ["sales"]}],
           "campaigns": [{"name": "sales", "skill": "sales", "pacing": "progressive",
                          "contacts": {"file": "list.csv", "timezone": "",
                                       "default_timezone": "America/New_York",
                                       "default_country_code": "1"},
                          "strategy": {"windows": "always", "steps": [
                              {"channel": "voice", "address": "phone"}]}}]}
    r = simulate(build(raw, "s.toml", base_dir=tmp_path), 1)
    called = set(r.attempts["contact_id"].to_list())
    assert called and not called & {"N1", "N2", "N3", "N4"}
    assert r.campaigns[0]["attempts"] > 20

"""One simulation run: a pure ``(scenario, seed) -> RunResult`` call, and its KPIs.

Builds the SimPy world, the engine's dialer (with the in-memory store) and the staffing,
runs ``sim_hours``, deletes the warm-up and computes every KPI with ``engine.kpi``.
Randomness comes from one ``numpy.random.SeedSequence(seed)``: the same scenario and seed
give identical results on any executor.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from heapq import heappop

import numpy as np
import polars as pl
import simpy

from engine import kpi
from engine.agents import AgentManager
from engine.blending import Blending
from engine.dialer import Dialer, Job
from engine.director import CampaignDirector
from engine.events import EventPublisher, JobInfo
from engine.flow import ContactFlow
from engine.interfaces import EventSink, Store
from engine.rules import RuleEngine
from engine.staffing import Licenses
from engine.store_memory import MemoryStore
from engine.vocab import (
    NOT_COMPLETED_CODES,
    PACING_BY_NAME,
    TARGET_BY_NAME,
    parse_channel,
)
from pacer import CampaignPacing
from pacer.modes import AgentStatus, CallStatus, Regulation
from sim.blended import (
    PortCounters,
    blended_kpis,
    blending_for,
    inbound_parts,
    moves_table,
    outbound_groups,
)
from sim.day import Day
from sim.inbound import SimInbound
from sim.population import build_flows
from sim.scenario import Campaign, Scenario
from sim.world import SimAgentFeed, SimClock, SimTelephony


@dataclass
class RunResult:
    """Everything one replication produced. Tables are polars DataFrames."""

    scenario: str
    seed: int
    sim_hours: float
    wall_s: float
    total: dict
    campaigns: list[dict]
    attempts: pl.DataFrame = field(repr=False)  # the attempts that ended
    intervals: pl.DataFrame = field(repr=False)
    # the attempts still up at the end, PENDING as they stood (a live answer they hold is
    # one of the measured window's: ``engine.kpi.window_counts``)
    attempts_up: pl.DataFrame | None = field(default=None, repr=False)

    @property
    def every_attempt(self) -> pl.DataFrame:
        """The attempts that ended and those still up at the end (PENDING)."""
        if self.attempts_up is None:
            return self.attempts
        return pl.concat([self.attempts, self.attempts_up])
    warnings: list[str] = field(default_factory=list)
    inbound: dict[str, dict] = field(default_factory=dict)  # inbound KPIs per skill
    inbound_calls: pl.DataFrame | None = field(default=None, repr=False)
    inbound_intervals: pl.DataFrame | None = field(default=None, repr=False)
    blending_moves: pl.DataFrame | None = field(default=None, repr=False)  # t_s, move, agent, job
    restrictions: dict[str, dict[str, int]] = field(default_factory=dict)  # rule counts by job
    jobs: list[dict] = field(default_factory=list)  # engine.director.JobStats per job, at the end
    # the pacer's warnings as objects (``Pacer.warning_records``, campaign by name)
    warning_records: list[dict] = field(default_factory=list)
    # per interval: mean agents logged in on no job (no job of theirs running)
    unassigned_mean: np.ndarray | None = field(default=None, repr=False)


def campaign_pacing(c: Campaign, scn: Scenario) -> CampaignPacing:
    """The pacer's view of one campaign (units as in the scenario), under its own
    regulation (``Scenario.regulation_of``)."""
    reg = scn.regulation_of(c)
    o = c.outcomes
    talk_mean_s, talk_cv = _prior(c.talk)
    wrap_mean_s, wrap_cv = _prior(c.wrap)
    return CampaignPacing(
        pacing=PACING_BY_NAME[c.pacing],
        target=TARGET_BY_NAME[c.target],
        target_value=c.target_value,
        sl_threshold_s=c.sl_threshold_s,
        ratio=c.ratio,
        max_lines_per_agent=c.max_lines_per_agent,
        initial_hit_rate=c.initial_hit_rate,
        horizon_s=c.horizon_s,
        ring_timeout_s=o.ring_no_answer_s,
        ring_median_s=o.ring_median_s,
        connect_window_s=reg.connect_window_s,
        abandon_limit=min(reg.abandon_limit, c.target_value)
        if c.target == "abandon_rate" else reg.abandon_limit,
        regulation=Regulation.OFCOM if reg.mode == "ofcom" else Regulation.FCC,
        amd_false_positive_rate=c.amd.p_false_positive,
        attempts_per_s=c.attempts_per_hour / 3600.0,
        poisson_arrivals=c.arrivals == "poisson",
        min_ports=c.min_ports,
        max_ports=c.max_ports,
        handling_mean_s=c.talk.mean + c.wrap.mean,
        handling_cv=_handling_cv(c),
        talk_mean_s=talk_mean_s,
        talk_cv=talk_cv,
        wrap_mean_s=wrap_mean_s,
        wrap_cv=wrap_cv,
        vicidial_intensity=c.vicidial_intensity,
        vicidial_dl_diff_target=c.vicidial_dl_diff_target,
        vicidial_max_level=c.vicidial_max_level,
        vicidial_dropped_percentage=c.vicidial_dropped_percentage,
        vicidial_start_hhmm=c.vicidial_start_hhmm,
        vicidial_latest_hhmm=c.vicidial_latest_hhmm,
        window_s=reg.judged_window_s,
        patience_mean_s=c.patience_mean_s,
    )


def _prior(dist) -> tuple[float, float]:
    """A duration's (mean seconds, CV) as the pacer's prior: at least 1 s and a CV of 0.05
    (the pacer's lognormal prior needs both positive; a constant is a narrow lognormal)."""
    mean = float(dist.mean)
    cv = float(np.sqrt(dist.variance) / mean) if mean > 0 else 1.0
    return max(mean, 1.0), max(cv, 0.05)


def _handling_cv(c: Campaign) -> float:
    var = c.talk.variance + c.wrap.variance
    mean = c.talk.mean + c.wrap.mean
    return float(np.sqrt(var) / mean) if mean > 0 else 1.0


def skill_masks(scn: Scenario) -> dict[str, int]:
    names = sorted({s for g in scn.agents for s in g.skills})
    return {s: 1 << i for i, s in enumerate(names)}


class _Sampler:
    """Every 5 s per campaign: ports its calls hold, calls in flight, agents staffed and
    busy."""

    def __init__(self, env, dialer: Dialer, tel: SimTelephony, n_jobs: int, interval_s: float,
                 n_intervals: int, origin_s: float = 0.0):
        self.env, self.dialer, self.tel, self.n = env, dialer, tel, n_jobs
        self.interval_s = interval_s
        self.origin_s = origin_s  # the grid's origin (``Scenario.interval_origin_s``)
        shape = (n_intervals, n_jobs)
        self.samples = np.zeros(n_intervals)
        self.ports = np.zeros(shape)
        self.in_flight = np.zeros(shape)
        self.staffed = np.zeros(shape)
        self.busy = np.zeros(shape)
        self.unassigned = np.zeros(n_intervals)  # logged in on no job (idle, yet paid)

    def run(self, period_s: float = 5.0):
        d, n = self.dialer, self.n
        # plain ints: a numpy comparison with an IntEnum member converts it every time
        free, off, paused = int(CallStatus.FREE), int(AgentStatus.OFF), int(AgentStatus.PAUSED)
        while True:
            k = min(int((self.env.now - self.origin_s) // self.interval_s),
                    len(self.samples) - 1)
            self.samples[k] += 1
            self.ports[k] += [g.in_use for g in self.tel.job_gauges]
            active = d.call_status != free
            self.in_flight[k] += np.bincount(d.call_job[active], minlength=n)
            st, job = d.agents.status, d.agents.job
            logged = (st != off) & (st != paused)
            on = logged & (job >= 0)
            self.staffed[k] += np.bincount(job[on], minlength=n)
            self.unassigned[k] += int(np.count_nonzero(logged)) - int(np.count_nonzero(on))
            busy = d.agents.handling() & (job >= 0)
            self.busy[k] += np.bincount(job[busy], minlength=n)
            yield self.env.timeout(period_s)


@dataclass
class World:
    """One assembled run: the SimPy world and the engine wired to it."""

    env: simpy.Environment
    dialer: Dialer
    director: CampaignDirector
    telephony: SimTelephony
    agents: AgentManager
    feed: SimAgentFeed
    rules: RuleEngine
    flows: list[ContactFlow]
    inbound: SimInbound | None = None
    blending: Blending | None = None


def assemble(scn: Scenario, seed: int, env: simpy.Environment, store: Store,
             window: tuple[float, float], sink: EventSink | None = None,
             first_attempt_id: int = 0) -> World:
    """Build the world and the engine on ``env`` (nothing is started). ``window`` is the
    measured span (seconds) for time accounting; ``store`` the engine's store."""
    seq = np.random.SeedSequence(seed)
    camps = list(scn.campaigns)
    masks = skill_masks(scn)
    jobs = [Job(name=c.name, channel=parse_channel(c.channel),
                pacing=campaign_pacing(c, scn), skill_mask=masks.get(c.skill, 0),
                priority=c.priority, min_agents=c.min_agents, max_agents=c.max_agents,
                connect_window_s=scn.regulation_of(c).connect_window_s, license=c.license)
            for c in camps]
    skills, shifts, aux = [], [], []
    for g in outbound_groups(scn):
        m = 0
        for s in g.skills:
            m |= masks[s]
        skills += [m] * g.count
        shifts += [(g.login_s, g.logout_s)] * g.count
        aux += [(g.aux_probability, g.aux_mean_s)] * g.count
    agents = AgentManager(len(skills), np.array(skills, dtype=np.int64), len(jobs), window)
    clock = SimClock(env)
    # Stream order is part of the result: campaigns' worlds, then the pacer, then the feed.
    camp_seeds = seq.spawn(len(camps))
    pacer_seq, feed_seq = seq.spawn(2)
    pacer_seed = int(pacer_seq.generate_state(1)[0])
    feed = SimAgentFeed(env, shifts, aux, feed_seq)
    tel = SimTelephony(env, camps, scn.ports, scn.carrier_cps, camp_seeds, window, feed)
    flows, rules = build_flows(scn, camps)
    blend = inbound_parts(scn, env, seq.spawn(1)[0], window)
    events = EventPublisher(sink, jobs=[JobInfo(c.name, c.template, c.pacing, c.channel)
                                        for c in camps], clock=clock.now, epoch=scn.start)
    dialer = Dialer(jobs, agents, clock, tel, feed, store, flows,
                    licenses=Licenses(scn.license_pools, scn.license_mode),
                    ports=blend.ports, skill_pacer=blend.skill_pacer, events=events,
                    tick_s=scn.tick_s, seed=pacer_seed,
                    first_attempt_id=first_attempt_id, sleep=True)
    director = CampaignDirector(dialer, flows, [c.schedule for c in camps])
    blending = blending_for(scn, dialer, blend.desk, masks, window)
    if blending is not None:
        feed.leaving = blending.leaving.__contains__
    return World(env, dialer, director, tel, agents, feed, rules, flows, blend.desk, blending)


def simulate(scn: Scenario, seed: int | None = None,
             progress: Callable[[float], None] | None = None,
             sink: EventSink | None = None) -> RunResult:
    """Run one replication of ``scn`` with ``seed`` (default: the scenario's).

    ``progress``, if given, is called with the simulated fraction done (0..1) about every
    simulated minute. ``sink``, if given, receives the engine's events (``engine.events``).
    """
    # Speed shortcut: the cyclic garbage collector is off for the whole run. The run makes
    # hundreds of thousands of containers, and the collector would scan them, and
    # everything alive before the run, time and again (~10-15 % of the hour's time);
    # reference counting frees as usual meanwhile. Every object of the run is then young:
    # once the run's world is unreachable (``_run`` returned), one young-generation pass
    # frees it here, its cycles (dialer and telephony, SimPy events and their callbacks)
    # included, instead of leaving them to a later full collection of the whole heap in
    # the caller's time (~100-150 ms of the 60k-BHCC hour). ``_run`` empties the bulkiest
    # containers first, so that pass has ~20,000 objects to free, not ~73,000 (~30 ms).
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        result = _run(scn, scn.seed if seed is None else seed, progress, sink)
    finally:
        if gc_was_on:
            gc.enable()
    if gc_was_on:
        gc.collect(0)
    return result


def _run(scn: Scenario, seed: int, progress: Callable[[float], None] | None,
         sink: EventSink | None) -> RunResult:
    t_wall = time.perf_counter()
    env = simpy.Environment()
    end_s = scn.warmup_s + scn.sim_s  # the warm-up is simulated before the measured hours
    window = (scn.warmup_s, end_s)
    store = MemoryStore()
    w = assemble(scn, seed, env, store, window, sink)
    dialer, director, tel, agents = w.dialer, w.director, w.telephony, w.agents
    w.feed.start()
    if w.inbound is not None:
        w.inbound.start()
    director.start()
    dialer.start()
    if w.blending is not None:
        w.blending.start()
    ports_at_warmup = PortCounters(dialer, env, scn.warmup_s)
    day = Day(env, scn, tel.camp, w.feed, director, dialer, w.flows,
              lambda a: int(agents.state[a]))  # profiles and supervisor actions
    day.start()
    jobs = dialer.jobs
    sampler = _Sampler(env, dialer, tel, len(jobs), scn.interval_s, scn.n_intervals,
                       scn.interval_origin_s)
    env.process(sampler.run())
    if progress is None:
        run_until(env, end_s)
    else:
        for t in np.append(np.arange(60.0, end_s, 60.0), end_s):
            run_until(env, float(t))
            progress(float(t) / end_s)
    result = _results(scn, seed, t_wall, w, store, sampler, day, ports_at_warmup, end_s,
                      window)
    # The bulkiest containers, emptied: reference counting frees them now, so the
    # collector's last pass (see ``simulate``) need not trace them.
    store.rows.clear()
    for f in w.flows:
        f.history.clear()  # shared by the jobs: cleared once, the rest are empty
        f.release()  # its retry queues and decisions: ~60,000 tuples in the 60k hour
    return result


def run_until(env: simpy.Environment, until_s: float) -> None:
    """``env.run(until=until_s)``: every event due before ``until_s`` runs, in SimPy's
    order, and the clock then reads ``until_s`` (events due at ``until_s`` wait, as SimPy's
    own stop event, scheduled first at that time, leaves them).

    Speed shortcut: SimPy's ``run`` calls ``Environment.step`` once per event (~130,000
    in the 60k-BHCC hour); this is that method's body in one loop. A failed event nobody
    handled stops the run with its error, as in SimPy.
    """
    if not until_s > env.now:
        raise ValueError(f"until ({until_s}) must be greater than the current simulation time")
    queue = env._queue
    while queue and queue[0][0] < until_s:
        env._now, _, _, event = heappop(queue)
        callbacks, event.callbacks = event.callbacks, None
        for callback in callbacks:
            callback(event)
        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc
    env._now = until_s


def _results(scn: Scenario, seed: int, t_wall: float, w: World, store: MemoryStore,
             sampler: _Sampler, day: Day, ports_at_warmup: PortCounters, end_s: float,
             window: tuple[float, float]) -> RunResult:
    """The run's tables and KPIs, once the simulated time is over."""
    dialer, director, tel, agents, rules = w.dialer, w.director, w.telephony, w.agents, w.rules
    camps = list(scn.campaigns)
    agents.close(end_s)
    if w.inbound is not None:
        w.inbound.close(end_s)
    if w.blending is not None:
        w.blending.close(end_s)
    # an explicit schema: a run without a single attempt still has typed columns
    attempts = kpi.attempt_table(store.rows)
    attempts = attempts.with_columns(pl.col("job_name").alias("campaign"))
    up = kpi.attempt_table([a.row() for a in sorted(dialer.in_flight.values(),
                                                    key=lambda a: a.id)])
    up = up.with_columns(pl.col("job_name").alias("campaign"))
    measured = pl.concat([attempts, up])
    total, per_camp = _kpis(scn, measured, agents, tel, window)
    ports_at_warmup.subtract()
    at = kpi.agent_times(agents.time_in)
    skills = blended_kpis(scn, total, per_camp, w.inbound, w.blending, dialer,
                          at["handling_s"], at["logged_in_s"])
    intervals = _intervals(scn, measured, sampler, camps)
    return RunResult(scenario=scn.name, seed=seed, sim_hours=scn.sim_hours,
                     wall_s=time.perf_counter() - t_wall, total=total, campaigns=per_camp,
                     attempts=attempts, intervals=intervals, attempts_up=up,
                     warnings=dialer.warnings() + day.warnings,
                     warning_records=[{**w, "campaign": camps[w["campaign"]].name}
                                      for w in dialer.warning_records()],
                     restrictions={c.name: rules.counts(j) for j, c in enumerate(camps)},
                     jobs=[director.stats(j).as_dict() for j in range(len(camps))],
                     inbound=skills,
                     inbound_calls=w.inbound.calls() if w.inbound is not None else None,
                     inbound_intervals=w.inbound.intervals() if w.inbound is not None
                     else None,
                     blending_moves=moves_table(w.blending),
                     unassigned_mean=sampler.unassigned / np.maximum(sampler.samples, 1))


def campaign_kpis(scn: Scenario, attempts: pl.DataFrame, agents: AgentManager,
                  window: tuple[float, float]) -> tuple[dict, list[dict]]:
    """Total and per-campaign KPIs (``engine.kpi.kpi_block``) of ``window`` (run seconds):
    the attempts that ended in it, the live answers answered in it (``kpi.window_counts``)
    and the agents' time in it; every live answer is held to its own campaign's
    service-level threshold, in the total too. A simulated run's and a live run's
    (``outdial run``) figures."""
    lo, hi = window
    span = hi - lo
    sl = np.array([c.sl_threshold_s for c in scn.campaigns], dtype=np.float64)
    att = attempts.with_columns(pl.Series("_sl", sl[attempts["job"].to_numpy()],
                                          dtype=pl.Float64))
    total = kpi.kpi_block(kpi.window_counts(att, lo, hi, pl.col("_sl")), span,
                          kpi.agent_times(agents.time_in))
    rows = kpi.window_counts_by(att, "job", lo, hi, pl.col("_sl"))
    zero = kpi.counts(att.clear())
    per = []
    for j, c in enumerate(scn.campaigns):
        block = kpi.kpi_block(rows.get(j, zero), span, kpi.agent_times(agents.job_time_in[j]))
        per.append({"name": c.name, "template": c.template, "channel": c.channel,
                    "pacing": c.pacing, **block})
    return total, per


def _kpis(scn: Scenario, attempts: pl.DataFrame, agents: AgentManager, tel: SimTelephony,
          window: tuple[float, float]) -> tuple[dict, list[dict]]:
    """``campaign_kpis`` with the voice ports the simulated platform used (peak, mean)."""
    total, per = campaign_kpis(scn, attempts, agents, window)
    total["ports_peak"] = tel.ports_peak
    total["ports_mean"] = tel.ports_mean()
    for j, block in enumerate(per):
        gauge = tel.job_gauges[j]
        block["ports_peak"] = gauge.peak
        block["ports_mean"] = gauge.mean(window[1])
    return total, per


def _intervals(scn: Scenario, attempts: pl.DataFrame, s: _Sampler,
               camps: list[Campaign]) -> pl.DataFrame:
    """One row per interval and campaign: outcomes (attempts completed, blocked ones left
    out as in the KPIs), in-flight, staffing, dial level."""
    n_int, n_job = s.in_flight.shape
    k = np.repeat(np.arange(n_int), n_job)
    j = np.tile(np.arange(n_job), n_int)
    ns = np.maximum(s.samples, 1)[:, None]
    staffed = (s.staffed / ns).ravel()
    inflight = (s.in_flight / ns).ravel()
    base = pl.DataFrame({
        "interval": k, "job": j,
        "t_start_s": np.maximum(scn.interval_origin_s + k * scn.interval_s, 0.0),
        "campaign": np.array([c.name for c in camps])[j],
        "in_flight_mean": inflight, "staffed_mean": staffed,
        "busy_mean": (s.busy / ns).ravel(),
        "dial_level": np.where(staffed > 0, inflight / np.maximum(staffed, 1e-12), 0.0),
        "ports_mean": (s.ports / ns).ravel(),
    })
    code = pl.col("code")

    def by_interval(t: str) -> pl.Expr:
        return ((pl.col(t) - scn.interval_origin_s) // scn.interval_s).cast(pl.Int64) \
            .alias("interval")
    # an attempt BLOCKED for want of a port never went out: not completed, as in the KPIs;
    # completions by the interval they ended in, answers by the one they were answered in
    done = (attempts.filter(code.is_in(list(NOT_COMPLETED_CODES)).not_())
            .with_columns(by_interval("t_end")).group_by("interval", "job")
            .agg(pl.len().alias("attempts")))
    answered = kpi.counts_by(attempts.filter(pl.col("t_answer") >= 0)
                             .with_columns(by_interval("t_answer")), ["interval", "job"]) \
        .select("interval", "job", "live_answers", "abandons")
    out = (base.join(done, on=["interval", "job"], how="left")
           .join(answered, on=["interval", "job"], how="left").fill_null(0))
    return out.sort("interval", "job")

"""The blended centre's parts of one run: the inbound ACD, blending, skill pacing, ports.

``sim.run`` calls ``inbound_parts`` while it assembles a world and ``blended_kpis`` when
the run is over; everything here is built from the validated scenario.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import simpy

from engine import kpi
from engine.blending import Blending
from engine.dialer import Dialer
from engine.ports import PortPool
from engine.skill_pacing import SkillPacer
from sim import inbound_kpi
from sim.inbound import SimInbound
from sim.scenario import Scenario


@dataclass
class InboundParts:
    """What a blended scenario adds before the dialer exists."""

    desk: SimInbound | None
    skill_pacer: SkillPacer | None
    ports: PortPool | None


def outbound_groups(scn: Scenario):
    """The agent groups the dialer sees (dedicated inbound agents are the ACD's alone)."""
    return [g for g in scn.agents if g.direction == "outbound"]


def inbound_parts(scn: Scenario, env: simpy.Environment, seed: np.random.SeedSequence,
                  window: tuple[float, float]) -> InboundParts:
    """The inbound ACD (None without ``[[inbound]]``), the skill pacer (None without a
    skill-paced job) and the port pool (None without ``licenses.outbound_ports``)."""
    ports = PortPool(scn.port_pool, scn.license_mode, scn.ports) \
        if scn.port_pool is not None else None
    if not scn.inbound:
        return InboundParts(None, None, ports)
    index = {s.name: i for i, s in enumerate(scn.inbound)}
    dedicated, outbound = [], []
    for g in scn.agents:
        serves = [index[s] for s in g.skills if s in index]
        rows = dedicated if g.direction == "inbound" else outbound
        rows += [(serves, g.login_s, g.logout_s)] * g.count
    desk = SimInbound(env, scn.inbound, dedicated, outbound, seed, window, scn.interval_s,
                      scn.n_intervals, scn.interval_origin_s)
    settings = [c.skill_pacing for c in scn.campaigns]
    pacer = SkillPacer(settings, desk) if any(s is not None for s in settings) else None
    return InboundParts(desk, pacer, ports)


def blending_for(scn: Scenario, dialer: Dialer, desk: SimInbound | None,
                 masks: dict[str, int], window: tuple[float, float]) -> Blending | None:
    """The blending controller (None when no job is blended or there is no inbound)."""
    settings = [c.blending for c in scn.campaigns]
    if desk is None or not any(s is not None for s in settings):
        return None
    return Blending(dialer, desk, desk, settings, masks, window)


def blended_kpis(scn: Scenario, total: dict, per_camp: list[dict], desk: SimInbound | None,
                 blending: Blending | None, dialer: Dialer, handling_out_s: float,
                 logged_out_s: float) -> dict:
    """Add inbound, blending, port and agent-license figures to the run's ``total`` and
    per-campaign KPIs (in place); returns the per-skill inbound KPIs (empty without
    inbound). Agent-based campaigns get their license pool, licenses allocated, in use and
    short (starvation) from ``engine.staffing.LicenseUsage``.

    Occupancy by direction: outbound = outbound handling / (dialer agents' logged-in time -
    their time lent to inbound while logged in); inbound = inbound handling / inbound
    staffed time (dedicated and lent), per skill the same for the agents serving it (their
    handling of any skill / their time serving it; an agent serving several skills counts
    in each); ``occupancy`` = all handling / all time at work: the dialer agents' logged-in
    time not lent, plus the inbound staffed time. A lent agent whose shift ends finishes its
    inbound call after logging off: that time is staffed on inbound, never logged in for
    the dialer (counting it against the dialer's logged-in time read occupancies over 1).
    """
    lo, hi = scn.warmup_s, scn.warmup_s + scn.sim_s
    lent_s = blending.lent_s if blending is not None else 0.0
    lent_in_s = blending.lent_logged_in_s if blending is not None else 0.0
    total["lent_agent_s"] = lent_s
    total["occupancy_outbound"] = inbound_kpi.occupancy(handling_out_s,
                                                        max(logged_out_s - lent_in_s, 0.0))
    if blending is not None:  # a blended job's occupancy is on outbound work, as the total's
        lent = blending.lent_logged_in_by_job
        for j in np.flatnonzero(lent > 0).tolist():
            t = kpi.agent_times(dialer.agents.job_time_in[j])
            per_camp[j]["occupancy"] = inbound_kpi.occupancy(
                t["handling_s"], max(t["logged_in_s"] - float(lent[j]), 0.0))
    skills: dict[str, dict] = {}
    if desk is not None:
        calls = inbound_kpi.in_window(desk.calls(), lo, hi)
        thr = {s.name: s.sl_threshold_s for s in scn.inbound}
        calls = calls.with_columns(pl.col("skill").replace_strict(
            thr, default=0.0, return_dtype=pl.Float64).alias("_t"))
        total_c = inbound_kpi.counts(calls, pl.col("_t"))
        for i, s in enumerate(scn.inbound):
            c = inbound_kpi.counts(calls.filter(pl.col("skill") == s.name), s.sl_threshold_s)
            skills[s.name] = inbound_kpi.block(c, hi - lo)
            skills[s.name]["occupancy_inbound"] = inbound_kpi.occupancy(
                float(desk.skill_handling_s[i]), float(desk.skill_staffed_s[i]))
        total["inbound"] = inbound_kpi.block(total_c, hi - lo)
        total["occupancy_inbound"] = inbound_kpi.occupancy(desk.handling_s, desk.staffed_s)
        total["occupancy"] = inbound_kpi.occupancy(
            handling_out_s + desk.handling_s,
            max(logged_out_s - lent_in_s, 0.0) + desk.staffed_s)
    if blending is not None:
        total["blending_lends"] = blending.lends
        total["blending_recalls"] = blending.recalls
    st = dialer.staffing
    if st is not None:
        st.close(hi)
    p = dialer.ports
    for j, c in enumerate(per_camp):
        pool = st.pool_name(j) if st is not None else None
        if pool is not None:
            c["license_pool"] = pool
            c["license_pool_size"] = int(st.licenses.pool_sizes[st.pool_of_job[j]])
            c.update(st.usage.job_figures(j))
        if p is not None:
            c["port_blocked"] = int(p.blocked[j])
            c["port_delayed"] = int(p.delayed[j])
            c["ports_allocated"] = int(p.alloc[j])
        sp = dialer.skill_pacer
        if sp is not None and scn.campaigns[j].skill_pacing is not None:
            c["skill_paced_held"] = int(sp.held[j])
    if p is not None:
        total["port_blocked"] = int(p.blocked.sum())
        total["port_delayed"] = int(p.delayed.sum())
    return skills


class PortCounters:
    """The dialer's port starvation counters as they stood at the end of the warm-up, so
    the outputs count the measured window only (``subtract`` when the run is over)."""

    def __init__(self, dialer: Dialer, env: simpy.Environment, at_s: float):
        self.ports = dialer.ports
        self.blocked = self.delayed = None
        if self.ports is not None:
            env.timeout(at_s).callbacks.append(lambda _ev: self._take())

    def _take(self) -> None:
        p = self.ports
        self.blocked, self.delayed = p.blocked.copy(), p.delayed.copy()

    def subtract(self) -> None:
        p = self.ports
        if p is not None and self.blocked is not None:
            p.blocked -= self.blocked
            p.delayed -= self.delayed
            self.blocked = self.delayed = None


def moves_table(blending: Blending | None) -> pl.DataFrame | None:
    """Every blending move of the run (``t_s``, ``move`` ask / lend / recall / back, ``agent``,
    ``job``), or None without blending."""
    if blending is None:
        return None
    log = blending.log
    return pl.DataFrame({"t_s": [e[0] for e in log], "move": [e[1] for e in log],
                         "agent": [e[2] for e in log], "job": [e[3] for e in log]},
                        schema={"t_s": pl.Float64, "move": pl.Utf8, "agent": pl.Int64,
                                "job": pl.Int64})

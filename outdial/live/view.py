"""The live terminal view of ``outdial run``: one rich table per second.

Per job: state, attempts, live answers, abandons, abandon rate today and over the
regulatory window (FCC/TSR: since the job started, at most 30 days; Ofcom: the last 24 h,
shown as today), in flight; then the platform: agents and occupancy, voice ports in use,
the adapters' links, the outbox and the tick lateness; the inbound skills CMS reports and,
with blending, the agents lent to them now.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from engine.agents import AgentManager, AgentState
from engine.kpi import agent_times, occupancy


def _pct(x: float) -> str:
    return "-" if x != x else f"{100.0 * x:.2f} %"


def occupancy_now(agents: AgentManager, now: float) -> float:
    """The agents' occupancy up to ``now``, each one's current stretch included (an agent
    talking since the start has all its time in talk though no state of it has ended);
    NaN before any agent was logged in."""
    t = agent_times(agents.times_so_far(now))
    return occupancy(t["handling_s"], t["logged_in_s"]) if t["logged_in_s"] > 0 else math.nan


def snapshot(s: Any) -> dict[str, Any]:
    """The figures the view shows, as plain values (also used by tests)."""
    d, director, tel = s.dialer, s.director, s.telephony
    jobs = []
    for j in range(len(d.jobs)):
        st = director.stats(j)
        c = director.flows[j].counts(d.clock.now())
        jobs.append({"job": st.job_name, "state": st.state, "attempts": st.attempted,
                     "live": c.live, "abandons": c.abandons,
                     "abandon_today": st.nuisance_rate_today,
                     "abandon_window": st.nuisance_rate, "in_flight": st.in_flight})
    am = d.agents
    logged = int(np.count_nonzero(am.state != AgentState.LOGGED_OUT))
    late = sorted(s.clock.late_s) or [0.0]
    res = tel.resources
    return {
        "run_s": d.clock.now(), "jobs": jobs, "agents_logged_in": logged,
        "occupancy": occupancy_now(am, d.clock.now()),
        "ports_total": res.total, "ports_in_use": max(res.total - res.free, 0),
        "epm_sessions": len(tel.sessions), "epm_errors": tel.errors,
        "dmcc_connected": s.dmcc.connected.is_set(), "dmcc_reconnects": max(
            s.dmcc.connects - 1, 0),
        "cms_refreshes": s.cms.batches,
        "cms_silent": s.skill_feed.silent_since is not None,
        "outbox_pending": s.runner.relay.pending(),
        "skills": ({k: (v.calls_waiting, v.agents_available, v.agents_staffed)
                    for k, v in s.skill_feed.last.items()} if s.cms.batches else {}),
        "events_published": s.runner.relay.published,
        "agents_on_inbound": (len(s.blending.lent) if getattr(s, "blending", None) is not None
                              else None),
        "late_p99_ms": 1000.0 * late[min(len(late) - 1, int(0.99 * len(late)))],
    }


def render(snap: dict[str, Any], regulation: str = "fcc") -> Group:
    t = Table(title=f"outdial live - run second {snap['run_s']:.0f}", expand=False)
    window = "24 h" if regulation == "ofcom" else "job / 30 d"
    for col in ("job", "state", "attempts", "live answers", "abandons", "abandon today",
                f"abandon {window}", "in flight"):
        t.add_column(col, justify="right" if col not in ("job", "state") else "left")
    for j in snap["jobs"]:
        t.add_row(escape(str(j["job"])), j["state"], str(j["attempts"]), str(j["live"]),
                  str(j["abandons"]), _pct(j["abandon_today"]), _pct(j["abandon_window"]),
                  str(j["in_flight"]))
    plat = Text(
        f"agents logged in {snap['agents_logged_in']}  occupancy {_pct(snap['occupancy'])}  "
        f"ports {snap['ports_in_use']}/{snap['ports_total']}  "
        f"EPM sessions {snap['epm_sessions']} (errors {snap['epm_errors']})  "
        f"AES {'up' if snap['dmcc_connected'] else 'DOWN'} "
        f"(reconnects {snap['dmcc_reconnects']})  CMS refreshes {snap['cms_refreshes']}"
        f"{' SILENT' if snap.get('cms_silent') else ''}  "
        f"events {snap['events_published']} (outbox {snap['outbox_pending']})  "
        f"tick late p99 {snap['late_p99_ms']:.1f} ms")
    skills = "  ".join(f"{k}: {w} waiting, {a}/{n} available"
                       for k, (w, a, n) in sorted(snap.get("skills", {}).items()))
    lent = snap.get("agents_on_inbound")
    blend = "" if lent is None else f"  blending: {lent} agents lent to inbound"
    return Group(t, plat, Text(f"inbound skills (CMS)  {skills or '-'}{blend}"))

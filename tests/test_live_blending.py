"""Blending on the live path, in-process on 127.0.0.1: the CMS emulator reports the care
queue over its threshold, the engine lends outbound agents to it through DMCC (auto-in)
and takes them back once the queue has cleared (manual-in, pending until the inbound call
ends); the run stops by itself."""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters.dmcc.blending import AUTO_IN, MANUAL_IN
from engine.agents import AgentState
from outdial.live.config import load_config
from outdial.live.session import LiveSession
from outdial.live.view import render, snapshot
from tests.live_helpers import ENV, write_config

ROOT = Path(__file__).resolve().parent.parent
POLL_S = 0.5  # DMCC agent-state polls, wall seconds


def _cfg(tmp_path: Path, speed: float = 12.0, scenario: Path | None = None, **kw):
    """An emulated 0.1 h run of ``scenario`` (the small blended centre), DMCC polled every
    0.5 s; ``kw``: more ``write_config`` settings."""
    cfg = write_config(tmp_path, hours=0.1, speed=speed,
                       scenario=scenario or ROOT / "scenarios" / "blended-live-small.toml",
                       aes_poll_s=POLL_S, **kw)
    return load_config(cfg, env=ENV, emulate=True)


def test_an_agent_goes_to_inbound_while_the_queue_is_high_and_comes_back(tmp_path):
    cfg = _cfg(tmp_path, speed=20.0)
    seen: dict = {"queue_at_lend": None, "lent_on_switch": set(), "engine_not_ready": True}

    async def go():
        s = LiveSession(cfg, emulate=True)
        await s.start()
        b, world, desk = s.blending, s.emulated.world, s.emulated.world.desk
        assert b is not None and s.inbound_agents is not None
        run = asyncio.create_task(s.run())
        while not run.done():
            await asyncio.sleep(0.02)
            for a in list(s.inbound_agents.client.lent):
                if a in world.on_inbound:
                    seen["lent_on_switch"].add(a)
                    # the engine holds a lent agent out of outbound dialling
                    st = int(s.dialer.agents.state[a])
                    seen["engine_not_ready"] &= st in (int(AgentState.NOT_READY),
                                                       int(AgentState.LOGGED_OUT))
            if b.lends and seen.get("view") is None and b.lent:
                seen["view"] = snapshot(s)  # what the live view shows each second
                render(seen["view"])
            if b.lends and seen["queue_at_lend"] is None:
                seen["queue_at_lend"] = b.states["care"]  # what blending decided on
            if b.recalls and seen.get("at_recall") is None:
                seen["at_recall"] = b.states["care"]
            backs = [e for e in b.log if e[1] == "back"]
            if backs and not s.inbound_agents.client.lent and desk.waiting[0] == 0:
                s.runner.request_stop()  # seen both ways: stop early
        summary = run.result()
        out = (summary, list(b.log), s.inbound_agents, dict(s.emulated.dmcc.requests),
               set(world.on_inbound), dict(s.skill_feed.last))
        await s.close()
        return out

    summary, log, inbound, requests, still_on, skills = asyncio.run(asyncio.wait_for(go(), 120))
    assert summary["left_pending"] == 0 and summary["lost_events"] == 0
    lends = [e for e in log if e[1] == "lend"]
    backs = [e for e in log if e[1] == "back"]
    assert lends and backs, log
    # lent because CMS reported the skill in trouble (queue over 2, a call older than 15 s
    # or the service level under 70 %), recalled once it was comfortable again
    st = seen["queue_at_lend"]
    assert st.calls_waiting > 2 or st.oldest_call_waiting_s > 15 or st.service_level < 0.7
    st = seen["at_recall"]
    assert st.calls_waiting == 0 and st.oldest_call_waiting_s <= 5 and st.service_level >= 0.8
    assert lends[0][0] < backs[0][0]
    assert seen["lent_on_switch"], "no agent reached the ACD (auto-in) through DMCC"
    assert seen["engine_not_ready"], "a lent agent was left ready for outbound"
    # every lend went to the switch as auto-in and every return as manual-in (pending)
    assert inbound.lends == len(lends) and inbound.returns == len(backs)
    assert requests.get("SetAgentState", 0) >= len(lends) + len(backs)
    assert summary["blending_lends"] == len(lends)
    assert {a for _, m, a, _ in backs} <= {a for _, m, a, _ in lends}
    assert AUTO_IN != MANUAL_IN and skills["care"].skill == "care"
    assert not still_on  # every lent agent is back on outbound at the stop
    assert seen["view"]["agents_on_inbound"] >= 1


def test_a_lent_agents_acd_states_stay_off_the_engine_but_a_logout_does_not():
    from adapters.dmcc.client import DmccClient, DmccConfig

    heard: list[tuple[int, int]] = []

    class Listener:
        def on_agent_state(self, agent, state):
            heard.append((agent, state))

    c = DmccClient(DmccConfig("127.0.0.1", 1, "u", "p", ["5000", "5001"]))
    c.subscribe(Listener())
    c._apply(0, "agentReady")
    c._apply(1, "agentReady")
    heard.clear()
    c.lent.add(0)
    for st in ("agentBusy", "agentReady", "agentWorkingAfterCall", "agentReady"):
        c._apply(0, st)  # the ACD's inbound calls: not the engine's business
        c._apply(1, st)
    assert [a for a, _ in heard] == [1, 1]  # agent 1 (not lent): ready after each call
    heard.clear()
    c._apply(0, "agentNull")  # a lent agent logging out is reported
    assert heard == [(0, int(AgentState.LOGGED_OUT))]


def test_a_stop_recalls_every_lent_agent_at_once(tmp_path):
    """Stopped while outbound agents are lent to the care queue (each to stay 10 minutes
    there): the stop recalls them all at once, before the drain. One between inbound calls
    is back with the dialer within a few polls; one on an inbound call comes back when its
    call ends, or is still on it at the end in manual-in pending; blending lends no more
    after the stop."""
    speed = 12.0

    async def go(cfg):
        s = LiveSession(cfg, emulate=True)
        await s.start()
        world, b = s.emulated.world, s.blending
        at: dict = {}
        stop = b.stop

        def seen_at_stop(*args, **kwargs) -> int:
            with world.lock:  # the ACD's view when the recall goes out
                on = [a for a in b.lent if a in world.on_inbound and a not in b.recalling]
                at.update(t=s.clock.now(), lent=set(on),
                          idle={a for a in on if not world.desk.lent[a].busy})
            return stop(*args, **kwargs)
        b.stop = seen_at_stop
        run = asyncio.create_task(s.run())
        while not run.done():
            await asyncio.sleep(0.02)
            with world.lock:
                idle = [a for a in list(b.lent) if a in world.on_inbound
                        and not world.desk.lent[a].busy]
            if idle:  # an agent lent and between inbound calls: stop now
                s.runner.request_stop()
                break
        summary = await run
        still = {a for a in world.on_inbound if a in world.desk.lent}
        leaving = {a for a in still if world.desk.lent[a].leaving}
        out = summary, at, list(b.log), still, leaving
        await s.close()
        return out

    scn = tmp_path / "blended.toml"
    scn.write_text((ROOT / "scenarios" / "blended-live-small.toml").read_text()
                   .replace("min_stay_s = 30.0", "min_stay_s = 600.0"))
    assert "min_stay_s = 600.0" in scn.read_text()
    for k in range(3):  # each try on a store of its own (the same one would resume the run)
        (tmp_path / str(k)).mkdir()
        summary, at, log, still, leaving = asyncio.run(asyncio.wait_for(
            go(_cfg(tmp_path / str(k), speed=speed, scenario=scn, drain_s=5.0)), 120))
        if at.get("idle"):
            break
    assert at["idle"], "no lent agent was ever between inbound calls at the stop"
    assert summary["reason"] == "stop" and summary["left_pending"] == 0
    assert summary["agents_recalled_at_stop"] == len(at["lent"]) >= 1
    assert not [e for e in log if e[1] == "lend" and e[0] > at["t"]]  # no lend after it
    back = {a: t for t, move, a, _ in log if move == "back" and t >= at["t"]}
    assert summary["agents_handed_back_at_stop"] == len(back)
    assert at["idle"] <= set(back)  # between calls: handed back at once (a few polls)
    assert max(back[a] - at["t"] for a in at["idle"]) <= 4 * POLL_S * speed
    # on a call at the stop: back when it ended, or still on inbound in manual-in pending
    # (or just released by the ACD, not polled yet): none takes another ACD call
    assert still == leaving and still <= at["lent"] - set(back)
    assert summary["agents_on_inbound_at_end"] == len(at["lent"] - set(back))


def test_moves_are_retried_when_the_link_fails_and_kept_in_order():
    """A SetAgentState lost with the link is sent again (no move dropped); an agent's recall
    waits for its lend; the return comes only once the switch shows it between calls."""
    from dataclasses import dataclass as _dc

    from adapters.backoff import Backoff
    from adapters.dmcc.blending import DmccInboundAgents

    @_dc
    class _Cfg:
        poll_s: float = 0.001

    class FakeClient:
        def __init__(self):
            self.config = _Cfg()
            self.lent: set[int] = set()
            self.raw: dict[int, str] = {}
            self.sent: list[tuple[int, str, bool]] = []
            self.fail_next = 1
            self.states = iter([("agentBusy", AUTO_IN), ("agentWorkingAfterCall", AUTO_IN),
                                ("agentReady", MANUAL_IN)])

        async def set_agent_state(self, agent, state, work_mode=None, pending=False):
            await asyncio.sleep(0)
            if self.fail_next:
                self.fail_next -= 1
                raise ConnectionError("DMCC connection lost")
            self.sent.append((agent, work_mode, pending))

        async def agent_state_and_mode(self, agent):
            return next(self.states)

    async def go():
        c = FakeClient()
        back: list[int] = []
        ib = DmccInboundAgents(c, backoff=lambda: Backoff(first_s=0.001, max_s=0.002))
        ib.lend(7, "care")
        ib.recall(7, back.append)  # at once: must wait for the lend to reach the switch
        assert 7 in c.lent
        while ib.tasks:
            await asyncio.sleep(0.001)
        return c, ib, back

    c, ib, back = asyncio.run(go())
    assert c.sent == [(7, AUTO_IN, False), (7, MANUAL_IN, True)]
    assert ib.retries >= 1 and back == [7] and 7 not in c.lent
    assert c.raw[7] == "retry"  # its real state is read again at the next poll


def test_agents_a_killed_run_left_on_inbound_are_taken_back_at_start(tmp_path):
    """The switch shows an outbound agent in auto-in when the run starts (a killed run
    lent it and never handed it back): the new run takes it back between calls."""
    cfg = _cfg(tmp_path)

    async def go():
        s = LiveSession(cfg, emulate=True)
        await s.start()
        world = s.emulated.world
        st = str(world.first_station + 11)
        world.set_work_mode(st, "readyState", "AUTO_IN", False)  # left by the killed run
        assert 11 in world.on_inbound
        run = asyncio.create_task(s.run())
        for _ in range(1500):
            await asyncio.sleep(0.02)
            if "agents_reclaimed_at_start" in s.summary and 11 not in world.on_inbound \
                    and 11 not in s.inbound_agents.client.lent:
                break
        s.runner.request_stop()
        summary = await run
        out = (summary, set(world.on_inbound), int(s.dialer.agents.state[11]))
        await s.close()
        return out

    summary, still_on, state = asyncio.run(asyncio.wait_for(go(), 120))
    assert summary["agents_reclaimed_at_start"] == 1
    assert 11 not in still_on
    assert state != int(AgentState.LOGGED_OUT)  # back with the dialer, logged in


def test_a_cms_gone_silent_lends_no_more_and_hands_the_lent_agents_back(tmp_path):
    # CMS stops reporting while the care queue is in trouble: the last report must not
    # keep blending lending (it went on to all 8 agents it may lend, for good, while the
    # real queue was empty); after cms.stale_s the skill is unknown and the agents return
    from tests.live_helpers import until
    # three of the emulated CMS's 1 s refreshes: a refresh late under load is not a silence
    # (at 1 s, the refresh interval itself, a loaded machine counted four)
    cfg = _cfg(tmp_path, speed=20.0, extra="stale_s = 3.0")
    assert cfg.cms_stale_s == 3.0

    async def go():
        s = LiveSession(cfg, emulate=True)
        await s.start()
        b = s.blending
        run = asyncio.create_task(s.run())
        try:
            await until(lambda: b.lends > 0, 30.0, 0.02)
            await s.emulated.cms.close()  # silent from now on
            await until(lambda: b.states["care"].calls_waiting == 0
                        and s.skill_feed.silent_since is not None, 10.0, 0.05)
            snap = snapshot(s)
            # nothing lent on the unknown state (agents asked before to leave outbound
            # after their call may still go: the earlier decision's)
            most = b.lends + sum(lend for _, _, lend in b.leaving.values())
            await until(lambda: not b.lent and not b.recalling, 15.0, 0.05)
            assert b.lends <= most
        finally:
            s.runner.request_stop()
            summary = await asyncio.wait_for(run, 60.0)
            await s.close()
        return snap, summary
    snap, summary = asyncio.run(go())
    assert snap["cms_silent"] and "SILENT" in str(render(snap).renderables[1])
    assert summary["cms_silences"] == 1 and summary["left_pending"] == 0

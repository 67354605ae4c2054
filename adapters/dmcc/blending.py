"""Blending on a live site: outbound agents lent to the ACD and taken back through AES DMCC.

``DmccInboundAgents`` implements the engine's ``InboundAgents`` (``engine.blending`` calls
it; the skill state it decides on comes from the CMS feed). On Communication Manager an
agent takes ACD calls of its skills in *auto-in* work mode and none in *manual-in*, so:

- ``lend(agent, skill)``: the engine has just marked the agent not ready for outbound (it
  is between calls); the switch is asked for ``readyState`` in ``AUTO_IN`` work mode, and
  the ACD routes the skills' calls to it. The skill itself is the one the agent's switch
  profile gives it (DMCC moves work modes, not skill assignments).
- ``recall(agent, done)``: ``readyState`` in ``MANUAL_IN`` with *enable pending*, so the
  switch applies it after the agent's current inbound call and its after-call work; the
  agent's state is then polled until the change shows (work mode no longer auto-in, the
  agent ready or not ready, or logged out), and ``done(agent)`` hands it back to the
  engine between calls.

While an agent is lent, ``DmccClient`` keeps its ready / busy / after-call states from the
engine (``DmccClient.lent``): they are the ACD's. After the return its real state is read
again at the next poll, so an agent that went to aux while lent is seen not ready.

Requests are made in order per agent, from tasks on the event loop; a request refused or a
link lost is retried with backoff (the DMCC client reconnects meanwhile), so no move is
ever dropped. An error in ``done`` is handed to ``on_error`` (the live runner stops). At a
stop the engine recalls every agent still lent (``engine.blending.Blending.stop``); once
the run is over, ``hand_back_all`` asks the switch once more for those whose manual-in it
has not taken yet; at a start, ``reclaim_leftovers`` takes back agents a killed run left in
auto-in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from adapters.backoff import Backoff
from adapters.dmcc.client import DmccClient, DmccError

log = logging.getLogger(__name__)

AUTO_IN = "AUTO_IN"
MANUAL_IN = "MANUAL_IN"
_BETWEEN_CALLS = ("agentReady", "agentNotReady", "agentNull")
_RETRY_STATE = "retry"  # DmccClient's raw state meaning "apply the next poll again"


class DmccInboundAgents:
    """``engine.interfaces.InboundAgents`` over ``client`` (module docstring)."""

    def __init__(self, client: DmccClient, poll_s: float | None = None,
                 on_error: Callable[[BaseException], None] | None = None,
                 backoff: Callable[[], Backoff] = Backoff):
        self.client = client
        self.poll_s = client.config.poll_s if poll_s is None else poll_s
        self.on_error = on_error
        self._backoff = backoff
        self._locks: dict[int, asyncio.Lock] = {}
        self.tasks: set[asyncio.Task] = set()
        self.skill: dict[int, str] = {}
        self.recalling: set[int] = set()
        self.manual_in: set[int] = set()  # lent agents whose manual-in the switch took
        self.lends = 0
        self.returns = 0
        self.retries = 0

    # ---- InboundAgents

    def lend(self, agent: int, skill: str) -> None:
        """``agent`` (between calls, not ready for outbound) takes ``skill``'s calls."""
        if agent in self.client.lent:
            raise ValueError(f"lend: agent {agent} is lent already")
        self.client.lent.add(agent)
        self.skill[agent] = skill
        self._spawn(agent, self._lend(agent))

    def recall(self, agent: int, done: Callable[[int], None]) -> None:
        """No new ACD call for ``agent``; ``done(agent)`` once the switch shows it between
        calls in manual-in (KeyError if the agent is not lent)."""
        if agent not in self.client.lent:
            raise KeyError(agent)
        self.recalling.add(agent)
        self._spawn(agent, self._recall(agent, done))

    async def reclaim_leftovers(self) -> int:
        """At a start: agents the switch shows in auto-in were left lent by a run that
        ended without handing them back (killed); each is treated as lent and recalled
        (manual-in, pending its call), so the dialer takes it back between calls. Returns
        how many were found. Call once the DMCC session is up."""
        agents = [a for a in sorted(self.client.device_ids) if a not in self.client.lent]
        found = []
        for lo in range(0, len(agents), 200):  # pipelined, as the client's own polls
            part = agents[lo:lo + 200]
            got = await asyncio.gather(*(self.client.agent_state_and_mode(a) for a in part),
                                       return_exceptions=True)
            for a, r in zip(part, got, strict=True):
                if isinstance(r, BaseException):
                    log.info("DMCC blending: agent %d work mode not read at start: %s", a, r)
                elif r[1] == AUTO_IN:
                    found.append(a)
        for a in found:
            self.client.lent.add(a)
            self.recall(a, lambda _a: None)
        if found:
            log.warning("DMCC blending: %d agents left in auto-in by an earlier run are "
                        "taken back", len(found))
        return len(found)

    async def hand_back_all(self, timeout_s: float) -> int:
        """After a stopped run: the moves still under way are cancelled (the engine takes
        no agent back any more) and every agent still lent whose manual-in the switch has
        not taken (its recall still retrying, or never asked) is asked once more, pending
        its inbound call, so none is left taking ACD calls while the dialer is away.
        Returns how many of those requests the switch took within ``timeout_s``."""
        tasks = list(self.tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)
        agents = sorted(a for a in self.client.lent if a not in self.manual_in)

        async def one(a: int) -> bool:
            await self.client.set_agent_state(a, "readyState", MANUAL_IN, True)
            self.manual_in.add(a)
            return True
        if not agents:
            return 0
        try:
            async with asyncio.timeout(timeout_s):
                done = await asyncio.gather(*(one(a) for a in agents), return_exceptions=True)
        except TimeoutError:
            log.warning("DMCC blending: %d lent agents not handed back within %g s",
                        len(agents), timeout_s)
            return 0
        return sum(1 for d in done if d is True)

    # ---- the requests

    def _spawn(self, agent: int, coro) -> None:
        lock = self._locks.setdefault(agent, asyncio.Lock())

        async def in_order() -> None:
            async with lock:
                await coro
        task = asyncio.get_running_loop().create_task(in_order())
        self.tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            e = task.exception()
            log.error("DMCC blending: %s", e)
            if self.on_error is not None:
                self.on_error(e)

    async def _ask(self, agent: int, work_mode: str, pending: bool) -> None:
        """SetAgentState until the switch takes it (retried with backoff)."""
        backoff = self._backoff()
        while True:
            try:
                await self.client.set_agent_state(agent, "readyState", work_mode, pending)
                return
            except (ConnectionError, DmccError, TimeoutError, KeyError) as e:
                self.retries += 1
                log.info("DMCC blending: agent %d %s not applied yet: %s", agent, work_mode, e)
                await asyncio.sleep(backoff.next_s())

    async def _lend(self, agent: int) -> None:
        await self._ask(agent, AUTO_IN, pending=False)
        self.lends += 1

    async def _recall(self, agent: int, done: Callable[[int], None]) -> None:
        await self._ask(agent, MANUAL_IN, pending=True)
        self.manual_in.add(agent)
        backoff = self._backoff()
        while True:
            try:
                state, mode = await self.client.agent_state_and_mode(agent)
            except (ConnectionError, DmccError, TimeoutError, KeyError) as e:
                self.retries += 1
                log.info("DMCC blending: agent %d state not read: %s", agent, e)
                await asyncio.sleep(backoff.next_s())
                continue
            if state == "agentNull" or (state in _BETWEEN_CALLS and mode != AUTO_IN):
                break
            await asyncio.sleep(self.poll_s)
        self.client.lent.discard(agent)
        self.recalling.discard(agent)
        self.manual_in.discard(agent)
        self.client.raw[agent] = _RETRY_STATE  # its real state is read at the next poll
        self.skill.pop(agent, None)
        self.returns += 1
        done(agent)

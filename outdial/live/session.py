"""One ``outdial run``: the engine on the event loop, wired to the live adapters (and, with
``emulate``, to loopback emulators of EPM, AES and CMS driven by the simulated platform).

Order of a run: take the store (one writer), publish what an earlier run left in the
outbox, recover trapped attempts (each gets its completion event), build the jobs from
the scenario, connect the adapters, run until the end time or a stop, drain, close.
Everything a user can get wrong or the platform can break ends in ``RunError`` with one
message; nothing secret is in any message.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import secrets
import signal
import socket
import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from adapters.cms.emulator import CmsEmulator
from adapters.cms.framing import SPLIT_SKILL
from adapters.cms.server import CmsServer
from adapters.cms.skill_feed import CmsSkillFeed
from adapters.dmcc.blending import DmccInboundAgents
from adapters.dmcc.client import DmccClient, DmccConfig
from adapters.dmcc.emulator import DmccEmulator
from adapters.epm.client import EpmClient, EpmError
from adapters.epm.emulator import EpmEmulator
from adapters.epm.orphans import SessionBook, Settled, settle, unsent_review
from adapters.epm.telephony import EpmTelephony, EpmTelephonyConfig
from engine.agents import AgentManager
from engine.attempt import ATTEMPT_FIELDS, CHANNEL_NAMES, Channel, Code
from engine.blending import Blending
from engine.dialer import Dialer
from engine.director import CampaignDirector
from engine.dispositions import Dispositions
from engine.events import EventPublisher, JobInfo
from engine.job import Job
from engine.kpi import attempt_table
from engine.live import Guarded, LiveRunner, LoopClock
from engine.outbox import OutboxRelay, OutboxSink
from engine.ports import PortPool
from engine.recovery import Recovery, recover, restore_flows, restore_pacer, survey
from engine.sinks import JsonlSink, SinkBusy, SinkError
from engine.skill_pacing import SkillPacer
from engine.staffing import Licenses
from engine.store_schema import StoreError
from engine.supervisor import ForcedLogoffs, Supervisor
from outdial.live.config import Endpoint, LiveConfig, Secret
from outdial.live.control import ControlError, ControlServer
from outdial.live.imports import ContactImports, ImportReplayError
from outdial.live.view import snapshot
from outdial.live.world import SimulatedPlatform
from sim.blended import outbound_groups
from sim.population import build_flows, contact_spec
from sim.run import campaign_kpis, campaign_pacing, skill_masks
from sim.scenario import ScenarioError, load

log = logging.getLogger(__name__)

EPOCH_KEY = "run_epoch_utc"
_MESSAGES = (int(Channel.SMS), int(Channel.EMAIL))
CONNECT_TIMEOUT_S = 20.0
RESOLVE_TIMEOUT_S = 10.0  # per host name of the configuration, at start
KAFKA_WAIT_S = 0.05  # the longest the event loop waits for the broker at one relay
CANCEL_WAIT_S = 1.0  # at close, how long a cancelled task may take to end before another
CANCEL_ROUNDS = 5  # cancel, and how many cancels it gets
EPM_CLOSE_WAIT_S = 15.0  # at close, the longest the web service requests under way get


class RunError(RuntimeError):
    """The run could not start or ended on a failure (message safe to show)."""


def _open_store(cfg: LiveConfig) -> Any:
    if cfg.store_sqlite is not None:
        from engine.store_sqlite import SqliteStore
        return SqliteStore(cfg.store_sqlite, synchronous=cfg.synchronous, exclusive=True)
    from engine.store_postgres import PostgresStore
    return PostgresStore(cfg.store_postgres.reveal(), schema=cfg.store_schema, exclusive=True)


@dataclasses.dataclass
class Emulated:
    """The emulators of one ``--emulate`` run and the addresses they took."""

    world: SimulatedPlatform
    epm: EpmEmulator
    dmcc: DmccEmulator
    cms: CmsEmulator | None = None
    ca_file: str | None = None
    client_tls: ssl.SSLContext | None = None


class LiveSession:
    """Everything of one run, built by ``start`` and torn down by ``close``."""

    def __init__(self, cfg: LiveConfig, emulate: bool = False,
                 on_start: Callable[[dict[str, Any]], None] | None = None,
                 on_second: Callable[[LiveSession], None] | None = None):
        self.cfg = cfg
        self.emulate = emulate
        self.on_start = on_start
        self.on_second = on_second
        self.tasks: list[asyncio.Task] = []
        self.store: Any = None
        self.sink: Sinks | None = None
        self.emulated: Emulated | None = None
        self.telephony: EpmTelephony | None = None
        self.flows: list[Any] = []  # the jobs' contact flows: messages are filled from them
        self.dmcc: DmccClient | None = None
        self.cms: CmsServer | None = None
        self.skill_feed: CmsSkillFeed | None = None
        self.blending: Blending | None = None
        self.inbound_agents: DmccInboundAgents | None = None
        self.runner: LiveRunner | None = None
        self.control: ControlServer | None = None
        self.imports: ContactImports | None = None
        self.dispositions: Dispositions | None = None
        self.writer: Any = None  # the store's write-behind (engine.store_writer)
        self.clock: LoopClock | None = None
        self.summary: dict[str, Any] = {}
        self._stop_s = float("inf")  # run-clock time the stop began
        self._tmp: tempfile.TemporaryDirectory | None = None

    # ---- building

    async def start(self) -> None:
        cfg = self.cfg
        if cfg.speed != 1.0 and not self.emulate:
            raise RunError(f"{cfg.source}: run.speed: only an emulated run (--emulate) may "
                           f"run at another speed than the wall clock, got {cfg.speed}")
        try:
            scn = load(cfg.scenario)
        except ScenarioError as e:
            raise RunError(str(e)) from None
        if not self.emulate:  # the emulators take loopback addresses of their own
            await _check_hosts(cfg)
        _check_events_file(cfg)
        self.store = _open_store(cfg)
        store = self.store
        sinks: list[Any] = []
        if cfg.events_jsonl is not None:
            sinks.append(JsonlSink(cfg.events_jsonl, append=True))
        if cfg.events_kafka is not None:
            from adapters.kafka import KafkaSink
            sinks.append(KafkaSink(cfg.events_kafka, buffer_timeout_s=KAFKA_WAIT_S))
        self.sink = Sinks(sinks) if sinks else None
        relay = OutboxRelay(store, self.sink)
        try:
            left = relay.relay()  # what a crashed run stored and never published
        except SinkBusy as e:  # a broker away: they go once it is back, the run starts
            log.warning("events left by the last run wait in the outbox: %s", e)
            left = 0
        now_utc = dt.datetime.now(dt.UTC)
        raw = store.get_meta(EPOCH_KEY)
        # Run second 0: live, the first start's wall time (the run clock then follows the
        # wall clock across restarts); emulated, the scenario's start (its calling windows
        # and the simulated day line up), the run clock resuming where it stopped.
        epoch = (dt.datetime.fromisoformat(raw) if raw
                 else scn.start if self.emulate else now_utc)
        if raw is None:
            store.set_meta(EPOCH_KEY, epoch.isoformat())
        scn = dataclasses.replace(scn, start=epoch)
        camps = list(scn.campaigns)
        infos = [JobInfo(c.name, c.template, c.pacing, c.channel) for c in camps]
        loop = asyncio.get_running_loop()
        # the clock starts at the wall time since the epoch (speed 1) or where it stopped
        rec = survey(store)  # nothing changed yet: the portal is asked first
        wall_since = (now_utc - epoch).total_seconds()
        start_s = rec.resume_s if self.emulate else max(rec.resume_s, wall_since)
        # live, the run clock keeps to the time of day (a suspend, a clock set forward);
        # emulated, it is the scenario's own
        clock = LoopClock(loop, start_s, cfg.speed, wall=None if self.emulate else (
            lambda: (dt.datetime.now(dt.UTC) - epoch).total_seconds()))
        end_s = start_s + cfg.hours * 3600.0 if cfg.hours is not None else None
        seed = scn.seed if cfg.seed is None else cfg.seed
        if self.emulate:
            await self._start_emulators(scn, seed + rec.recorded, start_s, clock)
        groups = outbound_groups(scn)  # the dialer's agents (inbound ones are the ACD's)
        self._connect_adapters(sum(g.count for g in groups),
                               frozenset(j for j, c in enumerate(camps) if c.amd.enabled),
                               {j: c.outcomes.ring_no_answer_s for j, c in enumerate(camps)},
                               clock)
        # the calls a killed run left on the portal: hung up (or their results taken)
        # before anything is recoded or dialled
        settled = await self._settle_orphans(rec)
        pre = EventPublisher(OutboxSink(store), jobs=infos, epoch=epoch)
        rec = recover(store, rec, pre, settled.codes)
        store.forget_call_sessions()  # every one settled: the store keeps this run's
        events = EventPublisher(OutboxSink(store), jobs=infos, clock=clock.now, epoch=epoch,
                                first_seq=pre.next_seq)  # one run, one numbering
        masks = skill_masks(scn)
        jobs = [Job(name=c.name, channel=Channel(CHANNEL_NAMES.index(c.channel)),
                    pacing=campaign_pacing(c, scn), skill_mask=masks.get(c.skill, 0),
                    priority=c.priority, min_agents=c.min_agents, max_agents=c.max_agents,
                    connect_window_s=scn.regulation_of(c).connect_window_s, license=c.license)
                for c in camps]
        skills = []
        for g in groups:
            m = 0
            for s in g.skills:
                m |= masks[s]
            skills += [m] * g.count
        # the agents' time is accounted from the start to the end of the drain (the
        # summary's window: ``_kpis``), not cut at ``end_s``: the calls the drain lets end
        # are in the summary's attempts, and their talk and wrap-up in its occupancy
        agents = AgentManager(len(skills), np.array(skills, dtype=np.int64), len(jobs),
                              (start_s, float("inf")))
        flows, rules = build_flows(scn, camps)
        self.flows = flows
        pacer_seed = int(np.random.SeedSequence(seed).generate_state(1)[0])
        settings = [c.skill_pacing for c in camps]
        try:
            skill_pacer = (SkillPacer(settings, self.skill_feed)
                           if any(x is not None for x in settings) else None)
        except ValueError as e:
            raise RunError(f"{cfg.source}: cms: {e} (map the report's numbers to skill "
                           "names with cms.skills)") from None
        ports = (PortPool(scn.port_pool, scn.license_mode, scn.ports)
                 if scn.port_pool is not None else None)
        dialer = Dialer(jobs, agents, clock, self.telephony, self.dmcc, store, flows,
                        licenses=Licenses(scn.license_pools, scn.license_mode),
                        ports=ports, skill_pacer=skill_pacer,
                        events=events, tick_s=scn.tick_s, seed=pacer_seed,
                        first_attempt_id=rec.next_attempt_id)
        guard = Guarded(dialer, clock)  # adapters' events: a failure stops the run
        self.telephony.subscribe(_CallEnds(guard, self.dmcc))
        # agents a supervisor logged off stay off across restarts (held until they log
        # out at their phones)
        logoffs = ForcedLogoffs(dialer)
        logged_off = logoffs.restore()
        self.dmcc.subscribe(logoffs.listener(guard))
        self._start_adapters()
        director = CampaignDirector(dialer, flows, [c.schedule for c in camps])
        self.blending = self._blending(scn, camps, dialer, clock, masks, start_s, end_s)
        specs = [contact_spec(c) if c.contacts is not None else None for c in camps]
        self.imports = ContactImports(store, cfg.beside_store(".imports"), flows, specs,
                                      clock.now)
        try:  # contacts imported by earlier runs, back at their places in the jobs' lists
            imported = self.imports.replay()
        except ImportReplayError as e:
            raise RunError(f"{cfg.source}: {e}") from None
        records = store.attempts()  # read once, after the recovery's re-codes
        requeued = restore_flows(records, flows, start_s)
        carried = restore_pacer(records, dialer, start_s)  # the window's live answers
        director.restore(rec.job_states)
        # the agents' dispositions (DNC entries, wrong numbers, callbacks) kept by earlier
        # runs of the store, carried out again on the restored flows
        self.dispositions = Dispositions(dialer, flows, rules.dnc)
        restored_dispositions = self.dispositions.restore(start_s)
        # messages a crash caught being sent: they may have gone out, so they are not sent
        # again but kept for review
        self.dispositions.review(settled.review, start_s)
        self.dispositions.start()
        self.runner = LiveRunner(clock, dialer, director, store, relay, end_s=end_s,
                                 drain_s=cfg.drain_s,
                                 on_second=(lambda: self.on_second(self))
                                 if self.on_second else None,
                                 on_stop=self._stop_blending if self.blending else None,
                                 stop_pending=(lambda: bool(self.blending.recalling))
                                 if self.blending else None)
        resumed = self.runner.resume_after_shutdown()
        self.clock, self.dialer, self.director, self.scn = clock, dialer, director, scn
        self._first_id, self._start_s = rec.next_attempt_id, start_s
        self.summary = {"store": str(cfg.store_sqlite or "postgresql"),
                        **rec.summary(), **settled.summary(),
                        "requeued_contacts": requeued,
                        "live_answers_carried": carried,
                        "events_left_by_last_run": left, "jobs_resumed": resumed,
                        "imported_contacts_replayed": imported,
                        "dispositions_restored": restored_dispositions,
                        "start_s": start_s, "end_s": end_s, "emulated": self.emulate,
                        # the simulator's scripted supervisor: not carried out live
                        "timeline_not_run": len(scn.timeline)}
        if scn.timeline:
            log.warning("the scenario's [[timeline]] (%d actions) is not carried out live",
                        len(scn.timeline))
        supervisor = Supervisor(director, dialer, None, self.runner.request_stop, logoffs)
        # an import's file is read on a worker thread: the loop (ticks, heartbeats, the
        # adapters' frames) runs on; the job is checked again before its list grows
        supervisor.dispositions = self.dispositions
        supervisor.importer = lambda j, path: self.imports.add_async(
            j, path, supervisor.check_takes_contacts)
        self.summary["logoffs_restored"] = logged_off
        # limits a supervisor set in an earlier run of this store hold again
        self.summary["limits_restored"] = supervisor.restore_limits()
        if cfg.control:  # a supervisor's requests (outdial control) while it runs
            self.control = ControlServer(cfg.control_path(), supervisor, self._status)
            try:
                await self.control.start()
            except ControlError as e:
                raise RunError(f"{cfg.source}: {e}") from None
            self.summary["control_socket"] = str(self.control.path)
        await self._wait_connected()
        # from now on the store's writes are made behind the loop, in their order
        # (engine.store_writer): a disk's sync no longer holds the loop
        try:
            self.writer = store.write_behind(loop.call_soon_threadsafe, clock.fail)
        except NotImplementedError:  # (a store without write-behind: written on the loop)
            self.writer = None
        if self.on_start is not None:
            self.on_start(self.summary)

    def _blending(self, scn: Any, camps: list, dialer: Dialer, clock: LoopClock,
                  masks: dict[str, int], start_s: float, end_s: float | None
                  ) -> Blending | None:
        """Blending of the jobs with ``[campaigns.blending]``: decisions on the CMS skill
        feed, agents moved through AES DMCC (``adapters.dmcc.blending``); None without."""
        settings = [c.blending for c in camps]
        if not any(x is not None for x in settings):
            return None
        self.inbound_agents = DmccInboundAgents(self.dmcc, on_error=clock.fail)
        try:
            blending = Blending(dialer, self.skill_feed, self.inbound_agents, settings, masks,
                                (start_s, end_s if end_s is not None else float("inf")))
        except ValueError as e:
            raise RunError(f"{self.cfg.source}: cms: {e} (map the report's numbers to skill "
                           "names with cms.skills)") from None
        blending.start()
        return blending

    async def _start_emulators(self, scn: Any, seed: int, start_s: float,
                               clock: LoopClock) -> None:
        cfg = self.cfg
        world = SimulatedPlatform(scn, seed, start_s, cfg.first_station)
        server_tls = client_tls = None
        ca_file = None
        self._server_tls = None
        if cfg.emulate_tls:
            import trustme
            ca = trustme.CA()
            cert = ca.issue_cert("127.0.0.1", "localhost")
            server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(server_tls)
            self._server_tls = server_tls
            client_tls = ssl.create_default_context()
            ca.configure_trust(client_tls)
            self._tmp = tempfile.TemporaryDirectory(prefix="outdial-emulate-")
            ca_file = str(Path(self._tmp.name) / "ca.pem")
            ca.cert_pem.write_to_path(ca_file)
        epm_pw = _secret(cfg.epm)
        aes_pw = _secret(cfg.aes)
        epm = EpmEmulator(world, {cfg.epm.user: epm_pw.reveal()}, server_tls, lock=world.lock)
        epm.start()
        dmcc = DmccEmulator(world, {cfg.aes.user: aes_pw.reveal()}, tls=server_tls)
        await dmcc.start()
        self.emulated = Emulated(world, epm, dmcc, ca_file=ca_file, client_tls=client_tls)
        # the adapters talk to the emulators, with the same credentials
        self.cfg = cfg = dataclasses.replace(
            cfg, epm=dataclasses.replace(cfg.epm, url=epm.url, password=epm_pw,
                                         ca_file=ca_file, tls=cfg.emulate_tls),
            aes=dataclasses.replace(cfg.aes, host="127.0.0.1", port=dmcc.port,
                                    password=aes_pw, tls=cfg.emulate_tls),
            cms=dataclasses.replace(cfg.cms, host="127.0.0.1", port=0))

        async def advance() -> None:
            while True:
                world.advance(clock.now())
                await asyncio.sleep(0.01)
        self.tasks.append(asyncio.create_task(advance()))

    async def _settle_orphans(self, rec: Recovery) -> Settled:
        """The sessions the last run left on the portal (``adapters.epm.orphans``): asked
        about, those still up hung up; ``RunError`` (nothing recoded, nothing dialled)
        when the portal cannot be asked, so that no one is called twice at once."""
        sessions = self.store.call_sessions()
        unfinished = {int(r["attempt_id"]): r for r in rec.trapped}
        if not sessions:  # (messages a crash caught before the gateway's answer)
            return Settled(review=unsent_review(unfinished, sessions))
        # bounded: no request starts after ``within_s`` (each is bounded by the client's
        # timeout), so the worker thread ends soon after and the start with it
        within_s = CONNECT_TIMEOUT_S + 0.02 * len(sessions)
        try:
            settled = await asyncio.to_thread(settle, self.telephony.client, sessions,
                                              unfinished, within_s=within_s)
        except EpmError as e:
            raise RunError(f"epm: cannot settle the {len(sessions)} calls the last run left "
                           f"on the voice portal ({e or 'no answer'}); nothing was changed "
                           "and nothing dialled: start again once the outcall web service "
                           "answers") from None
        log.warning("epm: %d sessions left by the last run: %d hung up, %d left talking "
                    "to an agent, %d results taken, %d unknown to the portal",
                    len(sessions), len(settled.hung_up), len(settled.left_connected),
                    len(settled.codes), settled.unknown)
        return settled

    def _connect_adapters(self, n_agents: int, amd_jobs: frozenset[int],
                          ring_no_answer_s: dict[int, float], clock: LoopClock) -> None:
        cfg = self.cfg
        verify: str | bool = cfg.epm.ca_file or True
        client = EpmClient(cfg.epm.url, cfg.epm.user, cfg.epm.password.reveal(), verify=verify)
        stations = [str(cfg.first_station + i) for i in range(n_agents)]
        poll_s = cfg.epm.poll_s / cfg.speed
        self.telephony = EpmTelephony(client, EpmTelephonyConfig(
            application=cfg.epm.extra.get("application", "outdial"), stations=stations,
            poll_s=poll_s, resources_s=max(poll_s, 0.5), amd_jobs=amd_jobs,
            ring_no_answer_s=ring_no_answer_s),
            message=self._message, book=SessionBook(self.store, clock.fail))
        tls = None
        if cfg.aes.tls:
            if self.emulated is not None and self.emulated.client_tls is not None:
                tls = self.emulated.client_tls
            else:
                tls = ssl.create_default_context(cafile=cfg.aes.ca_file)
        self.dmcc = DmccClient(DmccConfig(cfg.aes.host, cfg.aes.port, cfg.aes.user,
                                          cfg.aes.password.reveal(), stations,
                                          poll_s=cfg.aes.poll_s / cfg.speed, tls=tls,
                                          stale_s=cfg.aes_stale_s))
        layout = cfg.cms_layout or SPLIT_SKILL
        names = dict(cfg.cms_skills)
        if self.emulated is not None and not names:  # the emulated CMS numbers them 1..
            names = {k + 1: n for k, n in enumerate(self.emulated.world.skill_names)}
        self.cms = CmsServer(layout, cfg.cms.host, cfg.cms.port)
        self.skill_feed = CmsSkillFeed(self.cms, names)  # the engine's SkillFeed
        # a silent CMS (no refresh for cms.stale_s wall seconds): skills back to unknown

    def _start_adapters(self) -> None:
        """The adapters' tasks, once the engine listens to them (a DMCC poll before the
        dialer subscribed would take agents' states no one hears)."""
        self.tasks.append(asyncio.create_task(self.skill_feed.watch(self.cfg.cms_stale_s)))
        self.tasks.append(asyncio.create_task(self.telephony.run()))
        self.tasks.append(asyncio.create_task(self.dmcc.run()))

    def _message(self, a: Any) -> tuple[str, str | None]:
        """An SMS or email attempt's text and subject: its strategy step's template (and
        subject) filled from its contact's fields (``TemplateError`` when one is missing)."""
        flow = self.flows[a.job]
        msg = flow.strategy.steps[a.step].message(flow.contact(a.contact))
        return msg.body, msg.subject

    async def _wait_connected(self) -> None:
        try:
            await self.cms.start()
        except OSError as e:
            raise RunError(f"cms: cannot listen on {self.cfg.cms.host}:{self.cfg.cms.port} "
                           f"({e.strerror})") from None
        if self.emulated is not None:
            self.emulated.cms = CmsEmulator(self.emulated.world, self.cms.port,
                                            layout=self.cms.layout)
            self.emulated.cms.start()
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                await self.dmcc.connected.wait()
        except TimeoutError:
            raise RunError(f"aes: no DMCC session with {self.cfg.aes.host}:{self.cfg.aes.port} "
                           f"within {CONNECT_TIMEOUT_S:g} s (check host, port, TLS and the "
                           "credentials)") from None
        for _ in range(int(CONNECT_TIMEOUT_S / 0.05)):
            if self.telephony.answered:
                break
            await asyncio.sleep(0.05)
        else:
            raise RunError(f"epm: no answer from the outcall web service within "
                           f"{CONNECT_TIMEOUT_S:g} s (check the URL, TLS and the credentials)")
        if not self.telephony.resources.total:  # it answered, with no port at all
            log.warning("epm: the outcall web service reports no telephony port (0 in its "
                        "resources): no call goes out until it reports some (check the "
                        "portal's MPPs and their licences)")

    # ---- running

    async def run(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        # SIGHUP: the terminal or session the run was started from went away
        for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.runner.request_stop)
        if self.inbound_agents is not None:  # agents a killed run left on inbound
            self.summary["agents_reclaimed_at_start"] = \
                await self.inbound_agents.reclaim_leftovers()
        out = await self.runner.run()
        self.summary.update(out.as_dict())
        with contextlib.suppress(StoreError):  # (a failed store: the next start settles)
            # messages the stop found still being sent: not sent again, kept for review
            self.summary["messages_for_review_at_stop"] = self.dispositions.review(
                [r["attempt_id"] for r in self.store.attempts(since_id=self._first_id)
                 if r["code"] == int(Code.TRAPPED) and r["channel"] in _MESSAGES],
                self.clock.now())
        try:
            self.summary["kpis"], self.summary["campaigns"] = self._kpis()
        except StoreError as e:  # the store failed the run (its server gone): that first
            if out.error is None:  # error is the one to say, not this read's
                raise
            log.warning("the run's KPIs cannot be read from the store: %s", e)
            self.summary["kpis"], self.summary["campaigns"] = {}, []
        self.summary["warnings"] = self.dialer.warnings()  # the pacer's, as simulate's
        if self.writer is not None:  # units of writes, and the commits that made them
            self.summary["store_writes"] = self.writer.units
            self.summary["store_commits"] = self.writer.commits
        self.summary.update(self.dispositions.summary())
        if self.control is not None:
            self.summary["control_requests"] = self.control.requests
            self.summary["control_refused"] = self.control.refused
        self.summary["epm_errors"] = self.telephony.errors
        self.summary["dmcc_reconnects"] = max(self.dmcc.connects - 1, 0)
        self.summary["dmcc_holds"] = self.dmcc.holds
        self.summary["cms_refreshes"] = self.cms.batches
        self.summary["cms_silences"] = self.skill_feed.silences
        if self.blending is not None:
            b = self.blending
            self.summary["blending_lends"] = b.lends
            self.summary["blending_recalls"] = b.recalls
            self.summary["agents_handed_back_at_stop"] = sum(
                1 for t, move, _, _ in b.log if move == "back" and t >= self._stop_s)
            self.summary["agents_on_inbound_at_end"] = len(b.lent)
            b.close(self.clock.now())
            # no agent stays in auto-in (taking ACD calls) while the dialer is away
            self.summary["agents_set_manual_in_at_end"] = \
                await self.inbound_agents.hand_back_all(CONNECT_TIMEOUT_S / 4)
        return self.summary

    def _kpis(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """This run's KPIs, in total and per campaign, as ``simulate`` reports them
        (``sim.run.campaign_kpis``): its attempts from the store (those it launched and
        that ended, those the stop ended included), its agents' time from its start to now
        (the drain's included: the window ``kpi_window_s`` says, run seconds).
        AMD false positives are known to the emulated platform only: a real one cannot
        tell them, and there the Ofcom rate counts the abandons alone."""
        now = self.clock.now()
        recs = self.store.attempts(since_id=self._first_id)
        att = attempt_table([tuple(r[f] for f in ATTEMPT_FIELDS) for r in recs])
        self.dialer.agents.close(now)
        self.summary["kpi_window_s"] = [self._start_s, now]
        # attempts the stop ended carry its time: the window closes just after it
        window = (self._start_s, float(np.nextafter(now, np.inf)))
        return campaign_kpis(self.scn, att, self.dialer.agents, window)

    def _status(self) -> dict[str, Any]:
        """A control channel's status reply: the live view's figures, each job with its
        agent limits and priority now (``Supervisor.status``)."""
        snap = snapshot(self)
        for row, st in zip(snap["jobs"], self.control.supervisor.status(), strict=True):
            row.update(st)
        return snap

    def _stop_blending(self) -> None:
        """The run is stopping (asked, at its end or on an error; the dialer has stopped):
        blending decides no more and every agent still lent is recalled at once, so the
        ACD hands back those between calls now and the others as their calls end."""
        self._stop_s = self.clock.now()
        self.summary["agents_recalled_at_stop"] = self.blending.stop(recall=True)

    async def close(self) -> None:
        if self.control is not None:
            await self.control.close()
        if self.clock is not None:
            self.clock.close()
        if self.inbound_agents is not None:
            self.tasks.extend(self.inbound_agents.tasks)
        await _cancel_all(self.tasks)
        if self.dmcc is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await self.dmcc.stop()
        if self.telephony is not None:  # hang-ups and connects sent, within a bound
            self.telephony.close(EPM_CLOSE_WAIT_S)
            self.telephony.client.close()
            if self.telephony.book is not None and self.store is not None:
                with contextlib.suppress(Exception):
                    self.telephony.book.flush()  # the sessions seen to end, forgotten
        if self.emulated is not None:
            if self.emulated.cms is not None:
                await self.emulated.cms.close()
            await self.emulated.dmcc.close()
            self.emulated.epm.close()
        if self.cms is not None:
            await self.cms.close()
        if self.sink is not None:
            with contextlib.suppress(Exception):
                self.sink.close()
        if self.store is not None:
            with contextlib.suppress(Exception):
                self.store.close()
        if self._tmp is not None:
            self._tmp.cleanup()


class _CallEnds:
    """The telephony's events to the dialer; a call's end also to the DMCC client, which
    reads its agent's state afresh at the next poll (``DmccClient.call_ended``)."""

    def __init__(self, target: Any, dmcc: DmccClient):
        self._target = target
        self._dmcc = dmcc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)

    def on_call_ended(self, a: Any, machine: bool = False) -> None:
        self._target.on_call_ended(a, machine)
        if a.agent >= 0:
            self._dmcc.call_ended(a.agent)


class Sinks:
    """The run's event sinks (a JSON-lines file, Kafka): each event to every one; ``flush``
    returns only when every sink has them (raises what a sink raises).

    A broker is never waited for on the event loop: Kafka's flush waits ``KAFKA_WAIT_S``
    and raises ``SinkBusy`` while events are unconfirmed (the relay asks again later, the
    run goes on). The relay then offers the same outbox events again: each sink is given
    an event (by its ``outbox_seq``) once, so none is written or produced twice."""

    enabled = True

    def __init__(self, sinks: list[Any]):
        self.sinks = sinks
        self._taken = [-1] * len(sinks)  # per sink, the last outbox_seq it took

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        seq = event.get("outbox_seq")
        for i, s in enumerate(self.sinks):
            if seq is not None and seq <= self._taken[i]:
                continue  # taken before; its confirmation is what is awaited
            s.publish(topic, event)
            if seq is not None:
                self._taken[i] = seq

    def flush(self) -> None:
        from adapters.kafka import KafkaSink
        for s in self.sinks:
            if isinstance(s, KafkaSink):
                s.flush(KAFKA_WAIT_S)
                continue
            flush = getattr(s, "flush", None)
            if flush is not None:
                flush()

    def close(self) -> None:
        for s in self.sinks:
            with contextlib.suppress(Exception):
                s.close()


async def _cancel_all(tasks: list[asyncio.Task], wait_s: float = CANCEL_WAIT_S,
                      rounds: int = CANCEL_ROUNDS) -> None:
    """Cancel the adapters' tasks and wait for them to end; one still running after
    ``wait_s`` seconds is cancelled again (a cancel can be lost: a library that catches it,
    or Python 3.11's ``wait_for`` when its result lands at that moment, and a retry loop
    above it then runs on), up to ``rounds`` times, then left, logged: closing never
    hangs on a task. A cancel of ``_cancel_all`` itself is not swallowed."""
    pending = set(tasks)
    for _ in range(rounds):
        if not pending:
            return
        for t in pending:
            t.cancel()
        done, pending = await asyncio.wait(pending, timeout=wait_s)
        for t in done:  # its end is taken (an error was logged where it happened)
            if not t.cancelled():
                t.exception()
    for t in pending:
        log.error("task %s did not end when cancelled; left running", t.get_name())


async def _check_hosts(cfg: LiveConfig) -> None:
    """Every host name the configuration gives resolves: ``RunError`` naming the key of
    the first that does not (a typo is told at once, not as a link that never comes)."""
    import urllib.parse
    hosts = [("aes.host", cfg.aes.host), ("cms.listen", cfg.cms.host),
             ("epm.url", urllib.parse.urlsplit(cfg.epm.url).hostname or "")]
    if cfg.events_kafka:
        hosts += [("events.kafka", h.strip().rpartition(":")[0].strip("[]"))
                  for h in cfg.events_kafka.split(",")]
    loop = asyncio.get_running_loop()
    for key, host in hosts:
        if not host:  # not configured (an emulated run's endpoints)
            continue
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT_S):
                await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except socket.gaierror as e:
            raise RunError(f"{cfg.source}: {key}: cannot resolve {host!r} "
                           f"({e.strerror})") from None
        except TimeoutError:
            raise RunError(f"{cfg.source}: {key}: no answer resolving {host!r} within "
                           f"{RESOLVE_TIMEOUT_S:g} s") from None


def _check_events_file(cfg: LiveConfig) -> None:
    """``RunError`` when the events file is one the run keeps for something else (the
    store, its journal, lock, log or control socket, the configuration, the scenario):
    events appended there destroyed it (a store so named was damaged at the next start)."""
    if cfg.events_jsonl is None:
        return
    taken = {cfg.source: "the run configuration", cfg.scenario: "the scenario file"}
    if cfg.store_sqlite is not None:
        taken[cfg.store_sqlite] = "the SQLite store"
        for suffix in ("-wal", "-shm", "-journal", ".lock", ".log"):
            taken[cfg.store_sqlite.with_name(cfg.store_sqlite.name + suffix)] = \
                f"the store's {suffix.strip('-.')} file"
    taken[cfg.control_path()] = "the control socket"
    events = cfg.events_jsonl.resolve()
    for path, what in taken.items():
        if path.resolve() == events:
            raise RunError(f"{cfg.source}: events.jsonl: {cfg.events_jsonl} is {what}; "
                           "expected a file of its own for the events")


def _secret(ep: Endpoint) -> Secret:
    return ep.password or Secret(secrets.token_urlsafe(18), "generated for the emulators")


async def _run(cfg: LiveConfig, emulate: bool, on_start: Any, on_second: Any) -> dict[str, Any]:
    s = LiveSession(cfg, emulate, on_start, on_second)
    try:
        await s.start()
        return await s.run()
    finally:
        await s.close()


def run_live(cfg: LiveConfig, emulate: bool = False,
             on_start: Callable[[dict[str, Any]], None] | None = None,
             on_second: Callable[[LiveSession], None] | None = None) -> dict[str, Any]:
    """Run ``cfg`` to its end (or a stop); the summary. Raises ``RunError`` with one clear
    message for anything that stops the run early (the store keeps what was recorded)."""
    try:
        summary = asyncio.run(_run(cfg, emulate, on_start, on_second))
    except (StoreError, SinkError) as e:
        raise RunError(str(e)) from None
    except OSError as e:
        raise RunError(f"cannot start: {e.strerror or e}") from None
    if summary.get("error"):
        raise RunError(summary["error"] + _resume_hint(summary))
    return summary


def _resume_hint(summary: dict[str, Any]) -> str:
    return (f" (the run stopped: {summary.get('attempts', 0)} attempts this run, "
            f"{summary.get('left_pending', 0)} left in flight, recovered by the next run; "
            f"{summary.get('lost_events', 0)} events kept in the store's outbox, published "
            "by the next run)")

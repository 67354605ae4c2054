"""Agents' dispositions of their calls: checked, kept in the store, and carried out on the
job's contact flow, the run's DNC list and its callbacks.

An agent ends each call it took with a disposition (the agent desktop sends it; a live
run takes it on its control socket, ``outdial.live.control``)::

    {"action": "disposition", "attempt": 1234, "agent": 7, "code": "callback",
     "callback_at": "2026-12-03T15:30:00+01:00", "personal": true}

``DISPOSITIONS`` lists the codes and what each does. ``Dispositions.request`` checks a
request against the attempt it names (recorded, connected to that agent; a request
repeated as it was is answered again, a different one refused) and raises
``DispositionError`` saying what was expected, nothing changed. A disposition is written
to the store (``dispositions``) with its ATTEMPT_DISPOSITION event in one transaction
before it acts, so a restart (``restore``) carries out again what a crash interrupted and
loses none. One given while its call is still up (the agent is quicker than the call's end
reaching the engine) acts when the attempt ends.

Callbacks: a campaign callback is queued in the job's flow at its time and dialled as the
job's pacing dials (before retries); a personal one waits for its agent to be ready on the
job, then is dialled with that agent held for it (``Dialer.launch_held``) and put through
to it; after ``personal_wait_s`` past its time without its agent, it becomes a campaign
callback. Either is placed only inside the step's calling window in the contact's zone
(one asked for at night goes at the next opening) and when the rules allow it (a DNC entry
made meanwhile cancels it). One not reached (busy, no answer, a machine) is tried again
``retry_s`` later, ``max_tries`` times in all.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from engine.agents import AgentState
from engine.attempt import Attempt, Channel, Code
from engine.dnc import DncRegistry
from engine.flow import ContactFlow, Planned
from engine.recovery import transaction
from engine.strategy import MAX_RETRY_DELAY_S

log = logging.getLogger(__name__)

DISPOSITIONS: dict[str, str] = {
    "sale": "the call's goal was met: the contact is done (a success)",
    "complete": "the contact is done (a success: nothing more to say to it)",
    "not_interested": "the contact is done, not a success",
    "callback": "call the contact back at callback_at (or callback_in_s from now) on the "
                "same address; personal: put through to the same agent",
    "dnc": "do not call: the address joins the run's DNC list (every job, kept across "
           "restarts); the contact is done",
    "wrong_number": "the person reached is not the contact: the attempt counts as an "
                    "invalid number, the address is finished and the contact's next "
                    "address is tried",
}
REVIEW = "review"
"""The run's own disposition of a message whose sending a crash or a stop cut short (it
may have gone out): its step is not tried again, the attempt is kept for review."""
KEYS = frozenset({"attempt", "agent", "code", "callback_at", "callback_in_s", "personal"})
_DONE = {"sale": True, "complete": True, "not_interested": False, "dnc": False}
_VOICE_AGENT = int(Channel.VOICE_AGENT)
_REACHED = (int(Code.LIVE_CONNECTED),)
_BLOCKED, _PENDING, _TRAPPED = int(Code.BLOCKED), int(Code.PENDING), int(Code.TRAPPED)
PAST_TOLERANCE_S = 300.0  # a callback time this far in the past is taken as "now"


class DispositionError(ValueError):
    """A disposition that cannot be taken (the message says what was expected)."""


class Dispositions:
    """The run's dispositions (see the module): ``request`` takes one, ``restore`` puts
    back a store's, ``check`` (every ``check_s`` run seconds, once ``start`` is called)
    dials the personal callbacks whose agent is ready. ``counts`` for the summary."""

    def __init__(self, dialer: Any, flows: Sequence[ContactFlow], dnc: DncRegistry,
                 *, personal_wait_s: float = 900.0, retry_s: float = 600.0,
                 max_tries: int = 3, check_s: float = 1.0):
        for name, v, lo in (("personal_wait_s", personal_wait_s, 0.0),
                            ("retry_s", retry_s, 1.0), ("check_s", check_s, 0.01)):
            if isinstance(v, bool) or not isinstance(v, int | float) or not \
                    lo <= v <= MAX_RETRY_DELAY_S:
                raise ValueError(f"{name}: expected seconds in [{lo:g}, "
                                 f"{MAX_RETRY_DELAY_S:g}], got {v!r:.40}")
        if isinstance(max_tries, bool) or not isinstance(max_tries, int) or max_tries < 1:
            raise ValueError(f"max_tries: expected an integer >= 1, got {max_tries!r:.40}")
        self.dialer = dialer
        self.flows = list(flows)
        self.dnc = dnc
        self.store = dialer.store
        self.clock = dialer.clock
        self.events = dialer.events
        self.personal_wait_s = float(personal_wait_s)
        self.retry_s = float(retry_s)
        self.max_tries = max_tries
        self.check_s = float(check_s)
        self.records: dict[int, dict[str, Any]] = {}  # by the disposed attempt's id
        self._active: dict[tuple[int, int], int] = {}  # (job, contact) -> its callback's
        self._seq: dict[int, int] = {}  # disposed attempt -> its flow queue entry's seq
        self._personal: dict[int, float] = {}  # disposed attempt -> personal callback due
        self._personal_of: dict[int, set[int]] = {}  # agent -> its personal callbacks
        self.counts: Counter[str] = Counter()
        self._jobs = {j.name: i for i, j in enumerate(dialer.jobs)}
        self._started = False
        for f in self.flows:
            f.callbacks = self

    # ------------------------------------------------------------------ requests

    def request(self, req: Mapping[str, Any]) -> dict[str, Any]:
        """Check and take one disposition (see the module); returns its record. Raises
        ``DispositionError`` naming what was expected, nothing changed."""
        try:
            rec = self._check(req)
        except DispositionError:
            self.counts["refused"] += 1
            raise
        old = self.records.get(rec["attempt"])
        if old is not None:
            if all(old[k] == rec[k] for k in ("code", "agent", "callback_s", "personal")):
                return dict(old)  # the same request again (a desktop's retry): taken once
            self.counts["refused"] += 1
            raise DispositionError(f"attempt {rec['attempt']}: already given disposition "
                                   f"{old['code']!r} by agent {old['agent']}")
        a = self.dialer.in_flight.get(rec["attempt"])
        rec["state"] = "waiting_call" if a is not None else "taken"
        with transaction(self.store):
            self._save(rec)
            self.events.disposition(rec["attempt"], rec["job_id"], rec["contact_id"],
                                    rec["address"], rec["agent"], rec["code"],
                                    rec["callback_s"], rec["personal"])
        self.records[rec["attempt"]] = rec
        self.counts[rec["code"]] += 1
        if a is not None:  # acts when its call ends (after what else waits for that end:
            prev = self.dialer.watch.get(a.id)  # a callback's result)
            self.dialer.watch[a.id] = self._call_ended if prev is None else \
                (lambda done, prev=prev: (prev(done), self._call_ended(done)))
        else:
            self._apply(rec, self.clock.now())
        return dict(rec)

    def review(self, attempt_ids: Sequence[int], now: float) -> list[int]:
        """Mark the message attempts ``attempt_ids`` (ended ``TRAPPED``: a crash or a stop
        caught them being sent) for review: kept in the store with an
        ATTEMPT_DISPOSITION event (``review``, agent -1), their step not tried again (the
        message may have gone out: it is not sent twice). Returns the ids marked."""
        done = []
        for i in attempt_ids:
            r = self.store.attempt(int(i))
            job = None if r is None else self._jobs.get(str(r["job_name"]))
            if job is None or int(i) in self.records:
                continue
            rec = {"attempt": int(i), "job": str(r["job_name"]), "job_id": job,
                   "contact": int(r["contact"]), "contact_id": str(r["contact_id"]),
                   "address": str(r["address"]), "step": int(r["step"]),
                   "t_end": float(r["t_end"]), "agent": -1, "code": REVIEW, "at_s": now,
                   "callback_s": None, "personal": False, "tries": 0,
                   "callback_attempt": -1, "state": "taken"}
            with transaction(self.store):
                self._save(rec)
                self.events.disposition(rec["attempt"], job, rec["contact_id"],
                                        rec["address"], -1, REVIEW, None, False)
            self.records[rec["attempt"]] = rec
            self.counts[REVIEW] += 1
            self._apply(rec, now)
            done.append(rec["attempt"])
        if done:
            log.warning("%d messages caught being sent are kept for review, not sent again "
                        "(attempts %s)", len(done), ", ".join(map(str, done[:20])))
        return done

    def _check(self, req: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(req, Mapping):
            raise DispositionError("expected a JSON object with attempt, agent and code")
        extra = sorted(str(k) for k in req if k not in KEYS and k != "action")
        if extra:
            raise DispositionError(f"{extra[0]!r:.40}: not a key of a disposition (expected "
                                   f"{', '.join(sorted(KEYS))})")
        attempt = _int(req.get("attempt"), "attempt")
        agent = _int(req.get("agent"), "agent")
        code = req.get("code")
        if code not in DISPOSITIONS:
            raise DispositionError(f"code: expected one of {', '.join(DISPOSITIONS)}, got "
                                   f"{code!r:.40}")
        a = self.dialer.in_flight.get(attempt)
        r = a.record() if a is not None else self.store.attempt(attempt)
        if r is None:
            raise DispositionError(f"attempt {attempt}: no such attempt in this run's store")
        if int(r["channel"]) != _VOICE_AGENT or float(r["t_connect"]) < 0:
            raise DispositionError(f"attempt {attempt}: was not put through to an agent "
                                   "(only an agent's call takes a disposition)")
        if int(r["agent"]) != agent:
            raise DispositionError(f"attempt {attempt}: was put through to agent "
                                   f"{int(r['agent'])}, not agent {agent}")
        job = self._jobs.get(str(r["job_name"]))
        if job is None:
            raise DispositionError(f"attempt {attempt}: its job {r['job_name']!r} is not in "
                                   "this run")
        callback_s, personal = self._callback(req, code)
        return {"attempt": attempt, "job": str(r["job_name"]), "job_id": job,
                "contact": int(r["contact"]), "contact_id": str(r["contact_id"]),
                "address": str(r["address"]), "step": int(r["step"]),
                "t_end": float(r["t_end"]), "agent": agent, "code": code,
                "at_s": self.clock.now(), "callback_s": callback_s, "personal": personal,
                "tries": 0, "callback_attempt": -1}

    def _callback(self, req: Mapping[str, Any], code: str) -> tuple[float | None, bool]:
        at, in_s, personal = req.get("callback_at"), req.get("callback_in_s"), \
            req.get("personal", False)
        if not isinstance(personal, bool):
            raise DispositionError(f"personal: expected true or false, got {personal!r:.40}")
        if code != "callback":
            if at is not None or in_s is not None or personal:
                raise DispositionError(f"callback_at, callback_in_s and personal go with "
                                       f"code 'callback' only, not {code!r}")
            return None, False
        if (at is None) == (in_s is None):
            raise DispositionError("code 'callback' needs one of callback_at (ISO 8601 with "
                                   "its UTC offset) or callback_in_s (seconds from now)")
        now = self.clock.now()
        if in_s is not None:
            if isinstance(in_s, bool) or not isinstance(in_s, int | float) or \
                    not math.isfinite(in_s) or not 0 <= in_s <= MAX_RETRY_DELAY_S:
                raise DispositionError(f"callback_in_s: expected seconds from 0 to "
                                       f"{MAX_RETRY_DELAY_S:,.0f}, got {in_s!r:.40}")
            return now + float(in_s), personal
        try:
            t = dt.datetime.fromisoformat(at) if isinstance(at, str) else None
        except ValueError:
            t = None
        if t is None or t.tzinfo is None:
            raise DispositionError(f"callback_at: expected an ISO 8601 time with its UTC "
                                   f"offset (2026-12-03T15:30:00+01:00), got {at!r:.60}")
        s = self.flows[0].calendar.seconds(t.astimezone(dt.UTC))
        if s < now - PAST_TOLERANCE_S:
            raise DispositionError(f"callback_at: {at} is in the past")
        if s > now + MAX_RETRY_DELAY_S:
            raise DispositionError(f"callback_at: {at} is more than a year ahead")
        return max(s, now), personal

    # ------------------------------------------------------------------ carrying out

    def _call_ended(self, a: Attempt) -> None:
        """The disposed attempt ``a`` ended: its disposition acts now."""
        rec = self.records.get(a.id)
        if rec is None:
            return
        rec["t_end"] = float(a.t_end)
        self._apply(rec, self.clock.now())

    def _apply(self, rec: dict[str, Any], now: float) -> None:
        """Carry out ``rec`` (its attempt ended) on the flow, the DNC list, the callbacks."""
        code, j, c = rec["code"], rec["job_id"], rec["contact"]
        flow = self.flows[j]
        if c >= len(flow.ids) or flow.ids[c] != rec["contact_id"]:
            log.warning("disposition of attempt %d: contact %s is not at its place in job "
                        "%s's list; not carried out", rec["attempt"], rec["contact_id"],
                        rec["job"])
            self._set(rec, "lost")
            return
        self._cancel(j, c)
        if code == "dnc":
            self.dnc.global_list.add(rec["address"])
        if code in _DONE:
            flow.finish_contact(c, _DONE[code])
            self._set(rec, "applied")
        elif code == "wrong_number":
            flow.wrong_number(c, rec["step"], rec["t_end"], now)
            self._set(rec, "applied")
        elif code == REVIEW:
            flow.end_step(c, rec["step"], now)
            self._set(rec, "applied")
        else:
            self._schedule(rec, rec["callback_s"])

    def _cancel(self, j: int, c: int) -> None:
        """A newer disposition of contact ``c`` supersedes its callback still waiting."""
        old = self._active.pop((j, c), None)
        if old is not None:
            self._unpersonal(old)
            self._set(self.records[old], "superseded")

    def _schedule(self, rec: dict[str, Any], due: float) -> None:
        j, c = rec["job_id"], rec["contact"]
        flow = self.flows[j]
        personal = rec["personal"] and not rec.get("to_campaign", False)
        try:
            seq = flow.schedule_callback(c, rec["step"], rec["address"], due,
                                         queue=not personal)
        except ValueError as e:  # an attempt of the contact in flight: after it
            log.warning("callback of attempt %d: %s; placed when it ends", rec["attempt"], e)
            self._unpersonal(rec["attempt"])
            self._set(rec, "callback")
            self._active[(j, c)] = rec["attempt"]
            self._seq[rec["attempt"]] = -1
            return
        self._seq[rec["attempt"]] = seq
        self._active[(j, c)] = rec["attempt"]
        if personal:
            self._personal[rec["attempt"]] = due
            self._personal_of.setdefault(rec["agent"], set()).add(rec["attempt"])
            self.dialer.on_ready = self.agent_ready
        rec["due_s"] = due
        self._set(rec, "callback")

    def _set(self, rec: dict[str, Any], state: str) -> None:
        rec["state"] = state
        self._save(rec)

    def _save(self, rec: dict[str, Any]) -> None:
        self.store.put_disposition(rec["attempt"], rec)

    # ------------------------------------------------------------------ the flows' hooks

    def callback_launched(self, a: Attempt) -> None:
        """The flow placed contact ``a.contact``'s callback: attempt ``a`` (recorded with
        it in the dialer's transaction)."""
        key = self._active.get((a.job, a.contact))
        if key is None:
            return
        rec = self.records[key]
        rec["tries"] += 1
        rec["callback_attempt"] = a.id
        self._unpersonal(key)
        self._set(rec, "dialling")
        self.counts["callbacks_dialled"] += 1
        self.dialer.watch[a.id] = self._callback_ended

    def callback_refused(self, job: int, contact: int, reason: str) -> None:
        key = self._active.pop((job, contact), None)
        if key is None:
            return
        self._unpersonal(key)
        rec = self.records[key]
        rec["reason"] = reason
        self._set(rec, "refused")
        self.counts["callbacks_refused"] += 1
        log.info("callback of attempt %d (contact %s) refused: %s", key, rec["contact_id"],
                 reason)

    def _callback_ended(self, a: Attempt) -> None:
        key = self._active.get((a.job, a.contact))
        if key is None or self.records[key]["callback_attempt"] != a.id:
            return
        self._result(self.records[key], int(a.code), float(a.t_end), self.clock.now())

    def _result(self, rec: dict[str, Any], code: int, t_end: float, now: float) -> None:
        """The callback attempt of ``rec`` ended with ``code`` at ``t_end``."""
        key = (rec["job_id"], rec["contact"])
        if code in _REACHED:
            self._active.pop(key, None)
            self._set(rec, "reached")
            self.counts["callbacks_reached"] += 1
            return
        if code == _BLOCKED:
            rec["tries"] -= 1  # never went out: not a try
        if rec["tries"] >= self.max_tries:
            self._active.pop(key, None)
            self._set(rec, "expired")
            self.counts["callbacks_expired"] += 1
            return
        # a try that never went out goes again at once, as does one a crash cut short (its
        # outcome unknown); one that went unanswered after ``retry_s``
        again = t_end + self.retry_s if code not in (_BLOCKED, _TRAPPED) else now
        self._schedule(rec, max(now, again))

    # ------------------------------------------------------------------ personal callbacks

    def start(self) -> None:
        """Check the personal callbacks every ``check_s`` from now on."""
        if not self._started:
            self._started = True
            self.clock.call_later(self.check_s, self._tick)

    def _tick(self) -> None:
        self.check()
        self.clock.call_later(self.check_s, self._tick)

    def check(self) -> int:
        """Dial the personal callbacks due whose agent is ready on their job; those past
        ``personal_wait_s`` go to the campaign. Returns how many were dialled."""
        if not self._personal:
            return 0
        now = self.clock.now()
        placed = 0
        for key, due in sorted(self._personal.items(), key=lambda kv: kv[1]):
            if due > now:
                break
            placed += self._try(key, now)
        return placed

    def agent_ready(self, agent: int) -> bool:
        """The dialer's hook: ``agent`` is ready now. True when it was taken for a due
        personal callback of its own (held for it: no other call may take it)."""
        keys = self._personal_of.get(agent)
        if not keys:
            return False
        now = self.clock.now()
        for key in sorted(keys, key=self._personal.__getitem__):
            if self._personal[key] <= now and self._try(key, now):
                return True
        return False

    def _try(self, key: int, now: float) -> bool:
        """Personal callback ``key`` is due at ``now``: dialled if its agent is ready on
        its job (True), handed to the campaign past ``personal_wait_s``."""
        d = self.dialer
        am = d.agents
        rec = self.records[key]
        j, c, agent = rec["job_id"], rec["contact"], rec["agent"]
        flow = self.flows[j]
        if not flow.callback_due(c, self._seq.get(key, -1)):
            self._unpersonal(key)  # superseded or finished meanwhile
            return False
        if now >= self._personal[key] + self.personal_wait_s:
            self._unpersonal(key)
            rec["to_campaign"] = True
            self.counts["callbacks_to_campaign"] += 1
            log.info("personal callback of attempt %d: agent %d not ready for %g s; now "
                     "the campaign's", key, agent, self.personal_wait_s)
            self._schedule(rec, now)
            return False
        if not (d.running[j] and agent < am.n and am.state[agent] == _READY
                and am.job[agent] == j and d.telephony.capacity(True) > 0):
            return False
        p = flow.take_callback(c, rec["step"], rec["address"], now)
        if p.__class__ is Planned:
            d.launch_held(j, p, agent)
            self.counts["callbacks_personal"] += 1
            return True
        if p is not None:
            self._schedule(rec, float(p))
        return False

    def _unpersonal(self, key: int) -> None:
        self._personal.pop(key, None)
        agent = self.records[key]["agent"]
        keys = self._personal_of.get(agent)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._personal_of[agent]

    # ------------------------------------------------------------------ restart

    def restore(self, now: float) -> int:
        """Put back the dispositions the store holds (a restart): DNC entries and wrong
        numbers again, the callbacks still to make queued at their times (one whose
        attempt a crash cut short takes that attempt's recovered result), and the
        dispositions a crash caught before their call ended carried out. Call after the
        flows are restored from the attempts. Returns how many records were read."""
        recs = self.store.dispositions()
        for key, rec in recs.items():
            self.records[key] = rec
            if rec["job"] not in self._jobs:
                log.warning("disposition of attempt %d: job %r is not in this run", key,
                            rec["job"])
                continue
            rec["job_id"] = self._jobs[rec["job"]]
            state = rec["state"]
            if state == "waiting_call":
                r = self.store.attempt(key)
                if r is None or int(r["code"]) == _PENDING:
                    continue
                rec["t_end"] = float(r["t_end"])
                self._apply(rec, now)
            elif state == "applied" or (state == "taken"):
                self._apply(rec, now)
            elif state == "callback":
                if rec.get("due_s") is None:
                    rec["due_s"] = rec["callback_s"]
                self._cancel(rec["job_id"], rec["contact"])
                self._schedule(rec, max(float(rec["due_s"]), now))
            elif state == "dialling":
                r = self.store.attempt(rec["callback_attempt"])
                self._cancel(rec["job_id"], rec["contact"])
                self._active[(rec["job_id"], rec["contact"])] = key
                if r is None or int(r["code"]) == _PENDING:
                    self._schedule(rec, now)
                else:
                    self._result(rec, int(r["code"]), float(r["t_end"]), now)
            elif rec["code"] == "dnc":  # a DNC entry holds whatever became of the rest
                self.dnc.global_list.add(rec["address"])
        self.counts["restored"] = len(recs)
        return len(recs)

    def summary(self) -> dict[str, Any]:
        """The run's counts: dispositions by code, refused requests, callbacks dialled
        (personal ones among them), reached, expired, refused by a rule, gone to the
        campaign, waiting now; the records restored at the start."""
        waiting = sum(r["state"] == "callback" for r in self.records.values())
        return {"dispositions": {k: self.counts[k] for k in (*DISPOSITIONS, REVIEW)
                                 if self.counts[k]},
                "dispositions_refused": self.counts["refused"],
                "dispositions_restored": self.counts["restored"],
                "callbacks_dialled": self.counts["callbacks_dialled"],
                "callbacks_personal": self.counts["callbacks_personal"],
                "callbacks_reached": self.counts["callbacks_reached"],
                "callbacks_expired": self.counts["callbacks_expired"],
                "callbacks_refused": self.counts["callbacks_refused"],
                "callbacks_to_campaign": self.counts["callbacks_to_campaign"],
                "callbacks_waiting": waiting}


_READY = int(AgentState.READY)


def _int(v: Any, key: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise DispositionError(f"{key}: expected an integer >= 0, got {v!r:.40}")
    return v

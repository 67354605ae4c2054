"""Engine events on topics ``POM.<org>.<TYPE>``, built only when a sink is listening.

The contract is data: ``EVENT_FIELDS`` maps every event (sub)type to its fields, each with
its Python (JSON) type and a description with units. ``EventPublisher`` builds exactly those
fields; ``events_markdown()`` renders them as ``docs/events.md`` (a test keeps the two equal;
regenerate with ``python -m engine.events > docs/events.md``).

The simulator usually runs without a sink; building a dict per attempt would then be
wasted work, so every method returns at once when no sink is enabled.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from numbers import Integral
from typing import Any

import numpy as np

from engine.attempt import Attempt
from engine.interfaces import EventSink
from engine.vocab import CHANNEL_NAMES, LIVE_CODES, Code, code_name, state_name

EVENT_TYPES = ("JOB", "JOBSTATISTICS", "AGENT", "AGENTSTATISTICS", "ATTEMPT",
               "ENRICHEDATTEMPTRESULT")

# The ``type`` field of each event -> the event type naming its topic.
EVENT_TOPIC: dict[str, str] = {
    "JOB": "JOB",
    "JOB_WARNING": "JOB",
    "JOBSTATISTICS": "JOBSTATISTICS",
    "AGENT": "AGENT",
    "AGENTSTATISTICS": "AGENTSTATISTICS",
    "ATTEMPT_CREATED": "ATTEMPT",
    "ATTEMPT_UPDATED": "ATTEMPT",
    "ATTEMPT_COMPLETED": "ATTEMPT",
    "ATTEMPT_DISPOSITION": "ATTEMPT",
    "ENRICHEDATTEMPTRESULT": "ENRICHEDATTEMPTRESULT",
}

# What an ATTEMPT_UPDATED event's `change` may be, and what it means.
ATTEMPT_CHANGES: dict[str, str] = {
    "answered": "the call was answered (`t_answer_s` set); an agentless message starts",
    "waiting": "a live answer is waiting for a ready agent (connect window running)",
    "connected": "the live answer was bridged to an agent (`agent_id`, `t_connect_s` set)",
    "talk_ended": "the agent's talk ended (`t_talk_end_s` set); wrap-up follows",
}

FieldSpec = dict[str, tuple[type, str]]

_COMMON: FieldSpec = {
    "type": (str, "event (sub)type: the topic's type, or ATTEMPT_CREATED / ATTEMPT_UPDATED / "
                  "ATTEMPT_COMPLETED / ATTEMPT_DISPOSITION on the ATTEMPT topic"),
    "org": (str, "organisation (`Default` for the default organisation)"),
    "seq": (int, "publisher sequence number, 0, 1, 2, ... over all topics of one run "
                 "(gaps mean lost events)"),
    "timestamp": (str, "when the event happened, ISO 8601 UTC with milliseconds "
                       "(`2025-01-06T09:00:12.345Z`); without a configured epoch the run "
                       "clock's 0 is 1970-01-01T00:00:00Z, so it reads as elapsed run time"),
    "time_s": (float, "when the event happened, run-clock seconds since the run started"),
}

_JOB: FieldSpec = {
    "job_id": (int, "job id: the job's index in the engine (-1: none)"),
    "job_name": (str, "job name (empty: unknown)"),
    "campaign": (str, "campaign the job runs (empty: unknown)"),
    "pacing": (str, "pacing type: predictive, progressive, preview, timed, ... (empty: "
                    "unknown)"),
}

_JOB_CHANNEL: FieldSpec = {
    "channel": (str, "channel: " + ", ".join(CHANNEL_NAMES)),
}

_ATTEMPT: FieldSpec = {
    "attempt_id": (int, "attempt id, unique within the run"),
    **_JOB,
    "contact_id": (str, "contact id (the contact's row number in its list when the list has "
                        "no id)"),
    "address": (str, "address dialled or messaged: phone number, e-mail address, ..."),
    **_JOB_CHANNEL,
    "step": (int, "strategy step the attempt belongs to (0 = first)"),
    "completion_code": (str, "completion code (`engine.attempt.Code` name; PENDING while "
                             "in flight)"),
    "agent_id": (int, "agent the call was connected to (-1: none)"),
    "nuisance": (bool, "a nuisance call: a live answer abandoned (dropped or hung up before "
                       "an agent came)"),
    "t_created_s": (float, "run-clock seconds when the attempt was created"),
    "t_answer_s": (float, "run-clock seconds when answered (-1: not answered)"),
    "t_connect_s": (float, "run-clock seconds when connected to an agent (-1: not connected)"),
    "t_talk_end_s": (float, "run-clock seconds when the talk ended (-1: no talk)"),
    "t_end_s": (float, "run-clock seconds when the attempt completed (-1: in flight)"),
}

_JOB_STATS: FieldSpec = {
    "state": (str, "job lifecycle state (`engine.director.JobState` name)"),
    "total_contacts": (int, "contacts selected for the job"),
    "processed": (int, "contacts with nothing more to do"),
    "attempted": (int, "attempts launched (capacity blocks excluded)"),
    "connects": (int, "live answers connected to an agent, plus messages delivered"),
    "pending_retries": (int, "contacts waiting for a retry, a calling window or a rule to "
                             "lapse"),
    "in_flight": (int, "attempts launched and not completed"),
    "successes": (int, "attempts that met the job's success criterion"),
    "live_answers": (int, "live answers (connected, abandoned or hung up while waiting)"),
    "abandoned": (int, "nuisance calls (live answers abandoned)"),
    "nuisance_rate_today": (float, "abandoned / live answers since the UTC day began, "
                                   "fraction 0..1"),
    "nuisance_rate": (float, "abandoned / live answers since the job started, fraction 0..1"),
    "percent_complete": (float, "selected contacts processed, percent 0..100"),
    "estimated_end_s": (float, "run-clock seconds when the job should finish at its recent "
                               "rate (-1: unknown)"),
    "restrictions": (dict, "rule engine refusals by rule name, plus `checked` and `allowed` "
                           "counts (object of integers)"),
}

_AGENT_STATS: FieldSpec = {
    "logged_in_s": (float, "seconds logged in over the measurement period"),
    "ready_s": (float, "seconds ready (idle, waiting for a call)"),
    "talk_s": (float, "seconds on calls (reserved or talking)"),
    "wrap_s": (float, "seconds in wrap-up after calls"),
    "not_ready_s": (float, "seconds not ready (aux, breaks)"),
    "calls": (int, "calls connected to the agent"),
    "occupancy": (float, "(talk_s + wrap_s) / logged_in_s, fraction 0..1"),
}

EVENT_FIELDS: dict[str, FieldSpec] = {
    "JOB": {**_COMMON, **_JOB, **_JOB_CHANNEL,
            "state": (str, "job lifecycle state (`engine.director.JobState` name)"),
            "reason": (str, "why the state changed: finish criterion, operator command, ... "
                            "(empty: not given)")},
    "JOB_WARNING": {**_COMMON, **_JOB, **_JOB_CHANNEL,
                    "code": (str, "what is wrong: `abandon_limit_infeasible` (the estimated "
                                  "AMD false positives alone reach the abandon limit, or the "
                                  "limit is 0, so the job is paced to drop no live answer)"),
                    "mode": (str, "the regulation the limit is judged under: fcc or ofcom"),
                    "limit": (float, "the abandon limit, fraction 0..1"),
                    "estimated_floor": (float, "the abandon rate no pacing can go under "
                                               "(AMD false positives), fraction 0..1"),
                    "message": (str, "the warning in words")},
    "JOBSTATISTICS": {**_COMMON, **_JOB, **_JOB_CHANNEL, **_JOB_STATS},
    "AGENT": {**_COMMON,
              "agent_id": (int, "agent id"),
              "state": (str, "the agent's new state (`engine.agents.AgentState` name)"),
              "job_id": (int, "job the agent is assigned to (-1: none)"),
              "job_name": (str, "that job's name (empty: none or unknown)")},
    "AGENTSTATISTICS": {**_COMMON,
                        "agent_id": (int, "agent id"),
                        "job_id": (int, "job the agent is assigned to (-1: none)"),
                        "job_name": (str, "that job's name (empty: none or unknown)"),
                        **_AGENT_STATS},
    "ATTEMPT_CREATED": {**_COMMON, **_ATTEMPT},
    "ATTEMPT_UPDATED": {**_COMMON, **_ATTEMPT,
                        "change": (str, "what changed: " + ", ".join(ATTEMPT_CHANGES))},
    "ATTEMPT_COMPLETED": {**_COMMON, **_ATTEMPT},
    "ATTEMPT_DISPOSITION": {
        **_COMMON,
        "attempt_id": _ATTEMPT["attempt_id"],
        **_JOB,
        "contact_id": _ATTEMPT["contact_id"],
        "address": _ATTEMPT["address"],
        "agent_id": (int, "the agent who gave the disposition (-1: the run's own)"),
        "disposition": (str, "the agent's disposition of the call (`engine.dispositions."
                             "DISPOSITIONS`): sale, complete, not_interested, callback, dnc, "
                             "wrong_number; or the run's own `review`: a message a crash or "
                             "a stop caught being sent, not sent again"),
        "callback_at": (str, "ISO 8601 UTC time of the callback asked for (empty: none)"),
        "personal": (bool, "the callback is to be put through to the same agent"),
    },
    "ENRICHEDATTEMPTRESULT": {
        **_COMMON,
        "attempt_id": _ATTEMPT["attempt_id"],
        **_JOB,
        "contact_id": _ATTEMPT["contact_id"],
        "address": _ATTEMPT["address"],
        **_JOB_CHANNEL,
        "step": _ATTEMPT["step"],
        "completion_code": (str, "final completion code (`engine.attempt.Code` name)"),
        "agent_id": _ATTEMPT["agent_id"],
        "live": (bool, "a live answer (connected, abandoned or hung up while waiting)"),
        "nuisance": _ATTEMPT["nuisance"],
        "dnc": (bool, "the contact asked not to be called again (do-not-call) on this "
                      "attempt"),
        "created_at": (str, "ISO 8601 UTC time the attempt was created"),
        "answered_at": (str, "ISO 8601 UTC time answered (empty: not answered)"),
        "connected_at": (str, "ISO 8601 UTC time connected to an agent (empty: not "
                              "connected)"),
        "ended_at": (str, "ISO 8601 UTC time the attempt completed"),
        "ring_s": (float, "seconds from creation to answer, or to the end when not answered"),
        "wait_s": (float, "seconds a live answer waited for an agent: answer to connect, or "
                          "to the end when abandoned (0: not a live answer)"),
        "talk_s": (float, "seconds connected to the agent: connect to talk end (0: not "
                          "connected)"),
        "duration_s": (float, "seconds from creation to completion"),
    },
}

# Each event type's fields in the contract's order: the order of an event's values.
EVENT_KEYS: dict[str, tuple[str, ...]] = {t: tuple(spec) for t, spec in EVENT_FIELDS.items()}

_JSON_TYPE = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object"}
_CONNECTED = int(Code.LIVE_CONNECTED)
_UNIX = datetime(1970, 1, 1, tzinfo=UTC)
_MILLIS_Z = tuple(f".{ms:03d}Z" for ms in range(1000))  # an ISO timestamp's tail
_ISO_KEPT = 1 << 16  # ISO timestamps a publisher keeps


def topic(org: str, event_type: str) -> str:
    """``POM.<org>.<TYPE>``; the default organisation is ``Default``.

    ``event_type`` is one of ``EVENT_TYPES`` or an ATTEMPT sub-type (its topic is ATTEMPT).
    Raises ``ValueError`` for anything else.
    """
    t = EVENT_TOPIC.get(event_type)
    if t is None:
        raise ValueError(f"unknown event type {event_type!r}; expected one of {EVENT_TYPES}")
    return f"POM.{org or 'Default'}.{t}"


@dataclass(frozen=True)
class JobInfo:
    """What events say about a job; the publisher's ``jobs[i]`` describes job id ``i``.

    ``pacing`` is the pacing type's name (``predictive``, ``progressive``, ...) and
    ``channel`` one of ``engine.attempt.CHANNEL_NAMES``.
    """

    name: str
    campaign: str = ""
    pacing: str = ""
    channel: str = ""


class EventPublisher:
    """Formats the engine's events and publishes them to one sink (or to nothing).

    ``jobs`` describe the jobs by id (events of other ids carry empty names). ``clock``
    returns run-clock seconds; without it an event's time is the attempt's own time for
    attempt events and the latest time seen otherwise. ``epoch`` is the UTC date-time of
    run-clock 0 (timezone-aware), used for the ISO 8601 timestamps. ``first_seq`` is the
    first event's ``seq`` (a publisher going on where another of the same run stopped:
    ``next_seq``).

    A sink receives each event as a dict through ``publish(topic, event)``. A sink that also
    has ``publish_values(topic, event_type, values)`` receives the periodic and per-attempt
    events (all but JOB, JOB_WARNING and a lone ``agent_statistics``) there instead, as the
    tuple of their values in ``EVENT_KEYS[event_type]``'s order, the dict not built: the
    event is
    ``dict(zip(EVENT_KEYS[event_type], values))`` (``engine.event_volume`` measures sizes so).
    """

    def __init__(self, sink: EventSink | None, org: str = "Default", *,
                 jobs: Sequence[JobInfo] = (), clock: Callable[[], float] | None = None,
                 epoch: datetime | None = None, first_seq: int = 0):
        if epoch is not None and epoch.utcoffset() is None:
            raise ValueError(f"epoch must be timezone-aware (UTC), got naive {epoch!r}")
        self.sink = sink
        self.org = org or "Default"
        self.enabled = bool(sink is not None and getattr(sink, "enabled", True))
        self.jobs = tuple(jobs)
        self.clock = clock
        self.epoch = _UNIX if epoch is None else epoch.astimezone(UTC)
        self._topics = {t: topic(self.org, t) for t in EVENT_TOPIC}
        self._epoch_s = self.epoch.replace(microsecond=0)
        self._epoch_us = self.epoch.microsecond
        # A sink that takes an event's values, in EVENT_KEYS' order, without the dict built
        # (``engine.event_volume.EventVolume`` measures their JSON size).
        self._publish_values = getattr(sink, "publish_values", None) if self.enabled else None
        self._iso_heads: dict[int, str] = {}
        self._iso_texts: dict[float, str] = {}
        self._seq = int(first_seq)  # the next event's ``seq``
        self._last_s = 0.0
        # Per job id: [created, completed, live answers, connected, abandoned].
        self._counts: dict[int, list[int]] = {}

    @property
    def next_seq(self) -> int:
        """The ``seq`` the next event will carry."""
        return self._seq

    # ------------------------------------------------------------------ attempts

    def attempt_created(self, a: Attempt) -> None:
        """ATTEMPT_CREATED on ATTEMPT: the attempt exists and is about to be launched."""
        if not self.enabled:
            return
        self._count(a.job)[0] += 1
        self._emit("ATTEMPT_CREATED", self._attempt("ATTEMPT_CREATED", self._now(a.t_created),
                                                     a, self._attempt_ids(a)))

    def attempt_updated(self, a: Attempt, change: str) -> None:
        """ATTEMPT_UPDATED on ATTEMPT; ``change`` is one of ``ATTEMPT_CHANGES``.

        Raises ``ValueError`` for an unknown ``change`` (only when a sink is enabled).
        """
        if not self.enabled:
            return
        if change not in ATTEMPT_CHANGES:
            raise ValueError(f"unknown attempt change {change!r}; expected one of "
                             f"{tuple(ATTEMPT_CHANGES)}")
        event = self._attempt("ATTEMPT_UPDATED", self._now(_latest(a)), a, self._attempt_ids(a))
        self._emit("ATTEMPT_UPDATED", (*event, change))

    def attempt_completed(self, a: Attempt, dnc: bool = False) -> None:
        """ATTEMPT_COMPLETED on ATTEMPT, then one ENRICHEDATTEMPTRESULT.

        ``dnc``: the contact asked not to be called again during this attempt.
        """
        if not self.enabled:
            return
        code = int(a.code)
        live = code in LIVE_CODES
        c = self._count(a.job)
        c[1] += 1
        if live:
            c[2] += 1
            c[3] += code == _CONNECTED
            c[4] += bool(a.abandoned)
        at = self._now(a.t_end if a.t_end >= 0 else _latest(a))
        ids = self._attempt_ids(a)  # both events carry them: built once
        self._emit("ATTEMPT_COMPLETED", self._attempt("ATTEMPT_COMPLETED", at, a, ids))
        self._emit("ENRICHEDATTEMPTRESULT", self._enriched(at, a, live, bool(dnc), ids))

    # ------------------------------------------------------------------ agents

    def disposition(self, attempt_id: int, job: int, contact_id: str, address: str,
                    agent: int, disposition: str, callback_s: float | None,
                    personal: bool) -> None:
        """ATTEMPT_DISPOSITION (on the ATTEMPT topic): ``agent`` ended attempt
        ``attempt_id`` with ``disposition`` (a callback at run-clock ``callback_s``)."""
        if not self.enabled:
            return
        info = self._job(int(job))
        body = {"attempt_id": int(attempt_id), "job_id": int(job), "job_name": info.name,
                "campaign": info.campaign, "pacing": info.pacing,
                "contact_id": str(contact_id),
                "address": str(address), "agent_id": int(agent),
                "disposition": str(disposition),
                "callback_at": "" if callback_s is None else self.iso(callback_s),
                "personal": bool(personal)}
        self._publish("ATTEMPT_DISPOSITION", self._now(None), body)

    def agent_state(self, agent: int, state: int | str, job: int) -> None:
        """AGENT: ``agent`` is now in ``state`` (an ``AgentState`` value or name) on ``job``."""
        if not self.enabled:
            return
        job = int(job)
        name = state if isinstance(state, str) else state_name(state)
        t = self._now(None)
        self._emit("AGENT", ("AGENT", self.org, self._seq, self.iso(t), t,
                             int(agent), name, job, self._job(job).name))

    def agent_statistics(self, agent: int, stats: Mapping[str, Any], job: int = -1) -> None:
        """AGENTSTATISTICS for ``agent`` (on ``job``) with the contract's statistic keys.

        ``stats`` holds ``logged_in_s``, ``ready_s``, ``talk_s``, ``wrap_s``, ``not_ready_s``
        and ``calls``; ``occupancy`` is derived when absent. Raises ``ValueError`` naming
        missing, unknown or non-finite statistics.
        """
        if not self.enabled:
            return
        s = dict(stats)
        if "occupancy" not in s and "logged_in_s" in s:
            from engine.kpi import occupancy

            s["occupancy"] = occupancy(float(s.get("talk_s", 0.0)) + float(s.get("wrap_s", 0.0)),
                                       float(s["logged_in_s"]))
        job = int(job)
        body: dict[str, Any] = {"agent_id": int(agent), "job_id": job,
                                "job_name": self._job(job).name}
        body.update(_checked("AGENTSTATISTICS", s, _AGENT_STATS))
        self._publish("AGENTSTATISTICS", self._now(None), body)

    def agents_statistics(self, stats: Mapping[str, np.ndarray], jobs: Sequence[int]) -> None:
        """AGENTSTATISTICS of every agent at once, in agent order: agent ``i``'s statistics
        are entry ``i`` of each array of ``stats`` (``agent_statistics``' keys), its job
        ``jobs[i]``.

        The same events as ``agent_statistics`` agent by agent, with one timestamp (the
        statistics are of one instant). Arrays that pass the contract's checks at once
        (float64 and finite seconds, integer calls) become events directly; any others go
        agent by agent, with the same refusals. Raises ``ValueError`` when the lengths differ.
        """
        if not self.enabled:
            return
        jobs = [int(j) for j in jobs]
        lengths = {k: len(v) for k, v in stats.items()}
        if any(n != len(jobs) for n in lengths.values()):
            raise ValueError(f"AGENTSTATISTICS of {len(jobs)} agents (jobs), but statistics "
                             f"of lengths {lengths}")
        columns = _agent_columns(stats)
        if columns is None:
            for agent, job in enumerate(jobs):
                self.agent_statistics(agent, {k: v[agent] for k, v in stats.items()}, job)
            return
        t = self._now(None)
        org, stamp = self.org, self.iso(t)
        for agent, (job, *statistics) in enumerate(zip(jobs, *columns, strict=True)):
            self._emit("AGENTSTATISTICS", ("AGENTSTATISTICS", org, self._seq, stamp, t, agent,
                                           job, self._job(job).name, *statistics))

    # ------------------------------------------------------------------ jobs

    def job(self, job: int, state: str, reason: str = "") -> None:
        """JOB: ``job`` entered lifecycle ``state`` (a ``JobState`` name), for ``reason``."""
        if not self.enabled:
            return
        body = self._job_fields(int(job))
        body["state"] = str(state)
        body["reason"] = str(reason)
        self._publish("JOB", self._now(None), body)

    def job_warning(self, job: int, code: str, mode: str, limit: float,
                    estimated_floor: float, message: str) -> None:
        """JOB_WARNING (on the JOB topic): a compliance warning about ``job``."""
        if not self.enabled:
            return
        body = self._job_fields(int(job))
        body.update(code=str(code), mode=str(mode), limit=float(limit),
                    estimated_floor=float(estimated_floor), message=str(message))
        self._publish("JOB_WARNING", self._now(None), body)

    def job_statistics(self, job: int, stats: Mapping[str, Any]) -> None:
        """JOBSTATISTICS for ``job`` (``engine.director.JobStats.as_dict()`` fits).

        ``stats`` holds the contract's statistic keys; ``live_answers`` and ``abandoned``
        default to the counts this publisher has seen for the job, ``estimated_end_s=None``
        becomes -1, and ``job_id`` / ``job_name`` keys are ignored (the event's come from
        ``job`` and the publisher's jobs). Raises ``ValueError`` naming missing, unknown or
        ill-typed statistics.
        """
        if not self.enabled:
            return
        job = int(job)
        counts = self.job_counts(job)
        s: dict[str, Any] = {"live_answers": counts["live_answers"],
                             "abandoned": counts["abandoned"]}
        s.update(stats)
        s.pop("job_id", None)
        name = s.pop("job_name", "")
        if s.get("estimated_end_s", 0.0) is None:
            s["estimated_end_s"] = -1.0
        info = self._job(job)
        checked = _checked("JOBSTATISTICS", s, _JOB_STATS)
        t = self._now(None)
        self._emit("JOBSTATISTICS", ("JOBSTATISTICS", self.org, self._seq, self.iso(t), t, job,
                                     info.name or str(name), info.campaign, info.pacing,
                                     info.channel, *checked.values()))

    def job_counts(self, job: int) -> dict[str, int]:
        """Attempt counts of ``job`` seen by this publisher (all zero when disabled)."""
        created, done, live, connected, abandoned = self._counts.get(int(job), (0, 0, 0, 0, 0))
        return {"attempts": created, "completed": done, "in_flight": created - done,
                "live_answers": live, "connected": connected, "abandoned": abandoned}

    # ------------------------------------------------------------------ building blocks

    def iso(self, t_s: float) -> str:
        """Run-clock seconds ``t_s`` as ISO 8601 UTC with milliseconds (``...Z``)."""
        # About 1.5 per event, mostly instants formatted before: an attempt's result repeats
        # the times of its earlier events. So the last ~65,000 answers are kept (several
        # minutes of a busy hour's events), the date-time part is cached per whole second and
        # the milliseconds come from a table. Same result as
        # (epoch + timedelta(seconds=t_s)).isoformat(timespec="milliseconds").
        text = self._iso_texts.get(t_s)
        if text is not None:
            return text
        sec, us = divmod(round(t_s * 1_000_000) + self._epoch_us, 1_000_000)
        head = self._iso_heads.get(sec)
        if head is None:
            if len(self._iso_heads) > 4096:
                self._iso_heads.clear()
            head = (self._epoch_s + timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%S")
            self._iso_heads[sec] = head
        text = head + _MILLIS_Z[us // 1000]
        if len(self._iso_texts) >= _ISO_KEPT:
            self._iso_texts.clear()
        self._iso_texts[t_s] = text
        return text

    def _now(self, fallback_s: float | None) -> float:
        if self.clock is not None:
            t = float(self.clock())
        elif fallback_s is not None and fallback_s >= 0:
            t = float(fallback_s)
        else:
            t = self._last_s
        if t > self._last_s:
            self._last_s = t
        return t

    def _publish(self, event_type: str, t_s: float, body: dict[str, Any]) -> None:
        """Publish ``body`` after the ``_COMMON`` fields (the events published seldom)."""
        event = {"type": event_type, "org": self.org, "seq": self._seq,
                 "timestamp": self.iso(t_s), "time_s": t_s}
        event.update(body)
        self._seq += 1
        assert self.sink is not None
        self.sink.publish(self._topics[event_type], event)

    def _emit(self, event_type: str, values: tuple[Any, ...]) -> None:
        """Publish the event of ``values`` (``EVENT_KEYS[event_type]``'s, built with
        ``"seq": self._seq``): to a sink that takes values as they are, to others as a dict."""
        self._seq += 1
        if self._publish_values is not None:
            self._publish_values(self._topics[event_type], event_type, values)
        else:
            assert self.sink is not None
            self.sink.publish(self._topics[event_type],
                              dict(zip(EVENT_KEYS[event_type], values, strict=True)))

    def _count(self, job: int) -> list[int]:
        c = self._counts.get(job)
        if c is None:
            c = self._counts[int(job)] = [0, 0, 0, 0, 0]
        return c

    def _job(self, job: int) -> JobInfo:
        return self.jobs[job] if 0 <= job < len(self.jobs) else _NO_JOB

    def _job_fields(self, job: int) -> dict[str, Any]:
        info = self._job(job)
        return {"job_id": job, "job_name": info.name, "campaign": info.campaign,
                "pacing": info.pacing, "channel": info.channel}

    def _attempt_ids(self, a: Attempt) -> tuple[Any, ...]:
        """What every attempt event says after ``_COMMON``'s fields, from ``attempt_id`` to
        ``agent_id``: ids, job, contact, channel, step, code, agent."""
        job = int(a.job)
        info = self._job(job)
        return (int(a.id), job, a.job_name or info.name, info.campaign, info.pacing,
                str(a.contact_id) if a.contact_id != "" else str(int(a.contact)),
                str(a.address), CHANNEL_NAMES[int(a.channel)], int(a.step), code_name(a.code),
                int(a.agent))

    def _attempt(self, event_type: str, t_s: float, a: Attempt,
                 ids: tuple[Any, ...]) -> tuple[Any, ...]:
        """The values of an ATTEMPT event of ``a`` at run-clock ``t_s``."""
        return (event_type, self.org, self._seq, self.iso(t_s), t_s, *ids,
                bool(a.abandoned), float(a.t_created), float(a.t_answer), float(a.t_connect),
                float(a.t_talk_end), float(a.t_end))

    def _enriched(self, t_s: float, a: Attempt, live: bool, dnc: bool,
                  ids: tuple[Any, ...]) -> tuple[Any, ...]:
        """The values of ``a``'s ENRICHEDATTEMPTRESULT at run-clock ``t_s``."""
        t0, ta, tc, tt = float(a.t_created), float(a.t_answer), float(a.t_connect), \
            float(a.t_talk_end)
        te = float(a.t_end) if a.t_end >= 0 else _latest(a)
        ring = (ta if ta >= 0 else te) - t0
        if tc >= 0:
            wait = tc - ta if ta >= 0 else 0.0
            talk = (tt if tt >= 0 else te) - tc
        else:
            wait = te - ta if live and ta >= 0 else 0.0
            talk = 0.0
        return ("ENRICHEDATTEMPTRESULT", self.org, self._seq, self.iso(t_s), t_s, *ids,
                live, bool(a.abandoned), dnc,
                self.iso(t0), self.iso(ta) if ta >= 0 else "", self.iso(tc) if tc >= 0 else "",
                self.iso(te),
                max(ring, 0.0), max(wait, 0.0), max(talk, 0.0), max(te - t0, 0.0))


_NO_JOB = JobInfo("")
_PLAIN = frozenset((int, float, bool, str))


def _latest(a: Attempt) -> float:
    """The attempt's latest known run-clock time (seconds)."""
    return float(max(a.t_created, a.t_answer, a.t_connect, a.t_talk_end, a.t_end))


def _checked(event_type: str, stats: Mapping[str, Any], spec: FieldSpec) -> dict[str, Any]:
    """``stats`` cast to the contract's types, in its order; ``ValueError`` on any mismatch."""
    if stats.keys() != spec.keys():
        missing = [k for k in spec if k not in stats]
        unknown = [k for k in stats if k not in spec]
        raise ValueError(f"{event_type} statistics: missing {missing}, unknown {unknown}; "
                         f"expected exactly {list(spec)}")
    out: dict[str, Any] = {}
    for k, (t, _) in spec.items():
        v = stats[k]
        if type(v) is t and t is not dict:  # already the contract's type: nothing to cast
            if t is float and not math.isfinite(v):
                raise ValueError(f"{event_type} statistic {k!r} must be finite, got {v!r}")
            out[k] = v
            continue
        if t is dict:
            if not isinstance(v, Mapping):
                raise ValueError(f"{event_type} statistic {k!r} must be a mapping, got {v!r}")
            out[k] = {str(n): _plain(x) for n, x in v.items()}
            continue
        try:
            out[k] = t(v)
            if t is int and out[k] != v:  # 2.5 is no count
                raise ValueError
        except (TypeError, ValueError):
            raise ValueError(f"{event_type} statistic {k!r} must be {t.__name__}, "
                             f"got {v!r}") from None
        if t is float and not math.isfinite(out[k]):
            raise ValueError(f"{event_type} statistic {k!r} must be finite, got {v!r}")
    return out


def _agent_columns(stats: Mapping[str, np.ndarray]) -> list[list[Any]] | None:
    """``stats``' arrays (``agents_statistics``) as plain lists in ``_AGENT_STATS``' order,
    ``occupancy`` derived when absent, if every check ``_checked`` makes passes for all
    agents at once; None otherwise (then each agent is checked alone, for its message)."""
    derive = "occupancy" not in stats
    if set(stats) | ({"occupancy"} if derive else set()) != _AGENT_STATS.keys():
        return None
    columns: dict[str, list[Any]] = {}
    for k, (t, _) in _AGENT_STATS.items():
        if k == "occupancy" and derive:
            continue
        v = stats[k]
        if not isinstance(v, np.ndarray) or v.ndim != 1:
            return None
        if t is float:
            if v.dtype != np.float64 or not np.isfinite(v).all():
                return None
        elif v.dtype.kind not in "iu":
            return None
        columns[k] = v.tolist()
    if derive:
        from engine.kpi import occupancy

        columns["occupancy"] = [
            occupancy(talk + wrap, logged_in) for talk, wrap, logged_in in
            zip(columns["talk_s"], columns["wrap_s"], columns["logged_in_s"], strict=True)]
        if not math.isfinite(sum(columns["occupancy"])):  # a huge ratio: say which agent
            return None
    return [columns[k] for k in _AGENT_STATS]


def _plain(v: Any) -> Any:
    """A statistic's nested value as a plain JSON scalar (int, float, bool or str)."""
    if v.__class__ in _PLAIN:
        return v
    if isinstance(v, bool | str):
        return v
    if isinstance(v, Integral):
        return int(v)
    return float(v)


def events_markdown() -> str:
    """``docs/events.md``: every topic, event type and field of the contract, as Markdown."""
    lines = [
        "# Engine events",
        "",
        "<!-- Generated from engine/events.py (EVENT_FIELDS) by events_markdown();",
        "     regenerate with: python -m engine.events > docs/events.md -->",
        "",
        "The engine publishes JSON events on one topic per event type and organisation,",
        "`POM.<org>.<TYPE>`; the default organisation is `Default` (`POM.Default.JOB`).",
        "Values are JSON objects; the Kafka sink keys every message by its `job_id`, so one",
        "job's events stay in order within a partition. Times named `*_s` are seconds; `t_*_s`",
        "are run-clock seconds since the run started, -1 when the moment did not happen.",
        "",
        "Events published through a store's outbox (`engine.outbox`, a live run) carry one",
        "field more, `outbox_seq` (integer, increasing): delivery is at least once, so a",
        "consumer drops an `outbox_seq` it has already seen. The JSON-lines sink",
        "(`engine.sinks.JsonlSink`, `outdial run`'s `events.jsonl`) writes one object per line,",
        '`{"topic": "POM.Default.AGENT", "event": {...}}`; `engine.sinks.read_jsonl` reads it.',
        "",
        "| topic | event `type` values |",
        "|---|---|",
    ]
    for t in EVENT_TYPES:
        subs = ", ".join(f"`{s}`" for s, tt in EVENT_TOPIC.items() if tt == t)
        lines.append(f"| `POM.<org>.{t}` | {subs} |")
    lines += ["", "ATTEMPT_UPDATED `change` values:", ""]
    lines += [f"- `{k}`: {v}" for k, v in ATTEMPT_CHANGES.items()]
    for name, fields in EVENT_FIELDS.items():
        lines += ["", f"## {name}", "", f"Topic `POM.<org>.{EVENT_TOPIC[name]}`.", "",
                  "| field | JSON type | description |", "|---|---|---|"]
        lines += [f"| `{f}` | {_JSON_TYPE[t]} | {d} |" for f, (t, d) in fields.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(events_markdown(), end="")

"""The voice portal's sessions a run left behind (a kill -9, a power cut): kept in the store
while they last, hung up or read back by the next run before it dials anything.

``SessionBook`` is what ``EpmTelephony`` tells of each session it follows: the session id
the portal gave an attempt's launch is written to the store (``call_sessions``) as the
launch answer comes back, committed before anything else happens to the attempt, and
forgotten (in batches) once the session is seen to end. At the next start ``settle`` asks
the portal (``GetStatus``) about every session still in the store:

- a session that ended tells the result of an attempt the crash left unfinished: busy,
  no answer or invalid for a call never answered, a message delivered or not, an
  agentless call delivered, a live answer that ended with no agent (the abandon the crash
  made it) or a machine; that result is recorded instead of ``TRAPPED`` (no result lost,
  and a contact who was reached is not called again);
- a session still launching, ringing or answered (a customer waiting in silence for an
  agent no run will give) is hung up (``outdial.drop``) before the restarted run dials:
  nobody is called twice at once. A live answer is then the abandon it was (a machine
  the machine), a call still ringing ``TRAPPED`` and re-queued;
- a session connected to an agent is left up (the conversation goes on; the attempt is
  recorded connected, as its record says), and so is an agentless call playing its
  message to an answer (delivered);
- a session the portal no longer knows, or whose state cannot be read, is left alone (its
  attempt to the recovery's own codes): nothing is hung up on a guess.

A portal that cannot be reached raises ``EpmError`` before anything is recoded, so the
start stops and the next one tries again (hanging up first, then dialling).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from adapters.epm.client import EpmError
from engine.attempt import Channel, Code

log = logging.getLogger(__name__)

STATUS_BATCH = 500  # session ids per GetStatus request at a restart
FORGET_BATCH = 256  # ended sessions forgotten in one store commit
FORGET_AFTER_S = 5.0  # ... or after this many seconds, whichever comes first
_FAILED = {"busy": Code.BUSY, "noanswer": Code.NO_ANSWER, "invalid": Code.INVALID}
_MESSAGES = (int(Channel.SMS), int(Channel.EMAIL))
_UP = ("launching", "ringing", "answered")  # states of a session up and not with an agent


class SessionStore(Protocol):
    """What a store offers for the portal's sessions (``SqlStore``, ``MemoryStore``)."""

    def call_session(self, attempt_id: int, session_id: str) -> None: ...

    def call_sessions(self) -> dict[int, str]: ...

    def forget_call_sessions(self, attempt_ids: Any = None) -> None: ...


class SessionBook:
    """Keeps the sessions ``EpmTelephony`` follows in ``store``; a store that fails goes
    to ``on_error`` (the run stops: a session id not kept is a call a crash would orphan)."""

    def __init__(self, store: SessionStore, on_error: Callable[[BaseException], None],
                 clock: Callable[[], float] = time.monotonic):
        self.store = store
        self.on_error = on_error
        self.clock = clock
        self._ended: list[int] = []
        self._since = clock()

    def launched(self, attempt_id: int, session_id: str) -> None:
        """The portal gave attempt ``attempt_id`` session ``session_id``: kept now."""
        try:
            self.store.call_session(attempt_id, session_id)
        except Exception as e:
            self.on_error(e)

    def ended(self, attempt_id: int) -> None:
        """The session of ``attempt_id`` ended: forgotten with the next batch."""
        self._ended.append(attempt_id)
        if len(self._ended) >= FORGET_BATCH or self.clock() - self._since >= FORGET_AFTER_S:
            self.flush()

    def flush(self) -> None:
        """Forget the ended sessions now (one commit)."""
        self._since = self.clock()
        if not self._ended:
            return
        done, self._ended = self._ended, []
        try:
            self.store.forget_call_sessions(done)
        except Exception as e:
            self.on_error(e)


@dataclass
class Settled:
    """What ``settle`` found: ``codes``, the result the portal gave each unfinished
    attempt (by attempt id; the recovery records it instead of its own guess);
    ``hung_up``, the attempts whose sessions were hung up; ``left_connected``, those left
    talking to an agent; ``unknown``, sessions the portal no longer knows; ``review``, the
    unfinished SMS and email attempts whose fate cannot be learned (no session id kept:
    the crash came before the gateway's answer; the gateway no longer knows the session;
    still being sent after ``message_wait_s``): they may have gone out, so they are not
    sent again but marked for review (``engine.dispositions``)."""

    codes: dict[int, int] = field(default_factory=dict)
    hung_up: list[int] = field(default_factory=list)
    left_connected: list[int] = field(default_factory=list)
    unknown: int = 0
    asked: int = 0
    review: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"orphan_sessions": self.asked, "orphans_hung_up": len(self.hung_up),
                "orphans_left_connected": len(self.left_connected),
                "orphan_results_taken": len(self.codes),
                "messages_for_review": sorted(self.review)}


def settle(client: Any, sessions: Mapping[int, str], unfinished: Mapping[int, Mapping],
           workers: int = 8, within_s: float = 60.0, message_wait_s: float = 10.0,
           poll_s: float = 0.5) -> Settled:
    """Ask ``client`` (an ``EpmClient``) about ``sessions`` (attempt id -> session id) and
    hang up those still up and not connected (see the module); ``unfinished`` holds the
    store records of the attempts the crash left PENDING (their codes come back in
    ``Settled.codes``). Blocking (run it in a thread); raises ``EpmError`` when the portal
    cannot be asked, or has not been asked everything within ``within_s`` seconds (no
    request starts after that, so a portal that answers slowly cannot hold the start for
    one timeout per session). A message still being sent is never hung up: it is asked
    about again every ``poll_s`` for up to ``message_wait_s`` (within ``within_s``) for
    its result, then marked for review (``Settled.review``), as are the unfinished
    messages without a session, or whose session the gateway no longer knows."""
    deadline = time.monotonic() + within_s
    out = Settled(asked=len(sessions))
    by_sid = {sid: a for a, sid in sessions.items()}
    statuses: dict[str, dict[str, Any]] = {}
    ids = list(by_sid)
    for lo in range(0, len(ids), STATUS_BATCH):
        _in_time(deadline, within_s)
        for st in client.get_status(ids[lo:lo + STATUS_BATCH]):
            if isinstance(st, dict) and st.get("sessionID") in by_sid:
                statuses[st["sessionID"]] = st
    _await_messages(client, statuses, by_sid, unfinished,
                    min(time.monotonic() + message_wait_s, deadline), poll_s)
    out.review = [a for a, rec in unfinished.items() if _message(rec) and (
        a not in sessions or statuses.get(sessions[a], {}).get("state") != "ended"
        or statuses[sessions[a]].get("result") in ("", "unknown"))]
    out.unknown = len(ids) - len(statuses) + sum(  # left out, or said unknown
        st.get("state") == "ended" and st.get("result") in ("", "unknown")
        for st in statuses.values())
    drops = []
    for sid, st in statuses.items():
        a = by_sid[sid]
        state, result, human = st.get("state", ""), st.get("result", ""), st.get("human")
        rec = unfinished.get(a)
        if state == "connected":
            out.left_connected.append(a)
            continue
        if state not in _UP and state != "ended":  # unreadable or unheard of: nothing is
            out.unknown += 1                       # hung up on a guess (it may be a
            continue                               # conversation with an agent)
        if state in _UP and not (state == "answered" and _agentless(rec)) \
                and not _message(rec):  # (a message playing to an answer is left to
            drops.append((a, sid))      # end; one being sent cannot be taken back)
        if rec is None:
            continue
        code = _result(rec, state, result, human)
        if code is not None:
            out.codes[a] = code
    if drops:
        with ThreadPoolExecutor(min(workers, len(drops))) as pool:
            sent = list(pool.map(lambda d: _drop(client, d[1], deadline), drops))
        _in_time(deadline, within_s)  # every hang-up was at least tried
        out.hung_up = [a for (a, _), ok in zip(drops, sent, strict=True) if ok]
    return out


def unsent_review(unfinished: Mapping[int, Mapping], sessions: Mapping[int, str]
                  ) -> list[int]:
    """The unfinished messages of a start whose portal kept no session at all (``settle``
    is not called): none can be asked about, each is for review."""
    return [a for a, rec in unfinished.items() if _message(rec) and a not in sessions]


def _await_messages(client: Any, statuses: dict[str, dict[str, Any]],
                    by_sid: Mapping[str, int], unfinished: Mapping[int, Mapping],
                    until: float, poll_s: float) -> None:
    """Ask again about the unfinished messages still being sent until they end or
    ``until`` (monotonic s); their statuses replace the first ones."""
    while True:
        sending = [sid for sid, st in statuses.items()
                   if st.get("state") in _UP and _message(unfinished.get(by_sid[sid]))]
        if not sending or time.monotonic() + poll_s > until:
            return
        time.sleep(poll_s)
        for st in client.get_status(sending):
            if isinstance(st, dict) and st.get("sessionID") in statuses:
                statuses[st["sessionID"]] = st


def _message(rec: Mapping | None) -> bool:
    return rec is not None and int(rec["channel"]) in _MESSAGES


def _in_time(deadline: float, within_s: float) -> None:
    if time.monotonic() > deadline:
        raise EpmError(f"the voice portal's sessions not all settled within {within_s:g} s")


def _agentless(rec: Mapping | None) -> bool:
    return rec is not None and int(rec["channel"]) == int(Channel.VOICE_AGENTLESS)


def _drop(client: Any, sid: str, deadline: float) -> bool:
    if time.monotonic() > deadline:
        return False  # out of time: not sent (the start stops; the next one tries again)
    try:
        client.send_ccxml_event(sid, "outdial.drop")
        return True
    except Exception as e:  # ended meanwhile, or refused: logged, the start goes on
        log.warning("EPM: session %.40s left by the last run not hung up: %s", sid, e)
        return False


def _result(rec: Mapping, state: str, result: str, human: Any) -> int | None:
    """The result a session's status gives its unfinished attempt, or None (the
    recovery's own code stands: a connect or a wait it recorded, an unknown outcome)."""
    if rec["t_connect"] >= 0:  # connected: a live answer, or the machine its agent found
        return int(Code.MACHINE) if state == "ended" and result == "machine" else None
    if rec["t_answer"] >= 0:
        return None  # recorded waiting: the recovery knows what it was
    channel = int(rec["channel"])
    if channel in _MESSAGES:  # (ended unknown: for review, ``settle``)
        if state != "ended" or result in ("", "unknown"):
            return None
        return int(Code.DELIVERED) if result == "delivered" else int(Code.UNDELIVERED)
    if state == "ended" and result in _FAILED:
        return int(_FAILED[result])
    answered = state == "answered" or (state == "ended" and result not in ("", "unknown"))
    if not answered:
        return None  # still ringing (hung up now), or ended unknown: re-queued
    if channel == int(Channel.VOICE_AGENTLESS):
        return int(Code.DELIVERED)  # answered: its message played (or plays to its end)
    if human is False:
        return int(Code.MACHINE)
    return int(Code.ABANDONED)  # a live answer no agent took: the crash's nuisance call

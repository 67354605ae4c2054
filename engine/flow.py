"""A job's contact flow: which contact, address and step go next, and what follows a result.

``ContactFlow`` joins a job's contact list (``engine.contacts``), its strategy
(``engine.strategy``) and the rule engine (``engine.rules``). The dialer asks it for the
next attempt on a channel (``next``) and hands every finished attempt back (``finished``);
the flow keeps each contact's history (shared across jobs, as the rules need), queues
retries and window openings per channel, and counts what the campaign director reports.

Contact states: FRESH (never handed out), QUEUED (waiting for a time: a retry delay, a
calling window, a nuisance period, a per-day cap), IN_FLIGHT (an attempt is running), DONE
(no more attempts). A contact is handed out only when its strategy says so *and* the rules
allow it; a refusal for good (DNC, block list, a final code) finishes that step, so the
strategy moves on to the contact's next address.

Every decision, for a fresh contact as for a retry, goes through ``Strategy.decide`` and
``RuleEngine.decide`` on the run clock: calling windows and local days are run-clock spans
of the run's ``engine.calendar.RunCalendar`` (converted once per windows and zone), and
histories hold run-clock seconds, so nothing is converted per decision. (A fresh contact
open now on a step no rule can refuse is handed out on ``Strategy.first``'s answer, read for
the whole list at once, and counted as the rules' check: tests keep it equal to that path.)
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, NamedTuple, Protocol

import numpy as np

from engine.attempt import Attempt, Channel, Code
from engine.calendar import RunCalendar
from engine.contacts import ContactList
from engine.filters import Filter, SortKey
from engine.rules import RuleEngine
from engine.strategy import Blocked, Done, Next, PastAttempt, Strategy
from engine.vocab import ABANDON_CODES, CONNECT_CODES, LIVE_CODES, step_channel

log = logging.getLogger(__name__)

FRESH, QUEUED, IN_FLIGHT, DONE = 0, 1, 2, 3
STATE_NAMES = ("fresh", "queued", "in_flight", "done")
_BLOCKED = int(Code.BLOCKED)
_INVALID = int(Code.INVALID)
BLOCKED_RETRY_S = 1e-3  # a contact blocked for capacity is due again from the next tick on
SCAN_LIMIT = 256  # contacts in a row giving no attempt before ``take`` gives up for this tick
# A list that grows as it is read (``more``: the simulator's synthetic lists, an endless
# supply in one mix) is a search that never ends where none of its contacts may be called
# now (every zone outside its window at night, a do-not-call list covering its numbers):
# SCAN_LIMIT contacts deep at every tick, a simulated night took minutes per simulated
# minute. After a search of such a list gave up, the next waits FRESH_PAUSE_MIN_S, doubling
# at each search in a row that gives up, to at most FRESH_PAUSE_MAX_S, and never past the
# time the earliest contact queued on the channel comes due (when the calling window it
# waits for opens). A list read from a file is searched on at every tick: its end bounds
# the search, and one sorted by zone must reach its open zones at once.
FRESH_PAUSE_MIN_S = 1.0
FRESH_PAUSE_MAX_S = 300.0
_CHANNEL_NAME = {int(c): step_channel(c) for c in Channel}
# Speed shortcut: named tuples made from a full tuple of their fields by ``tuple.__new__``
# (what their ``_make`` does), skipping the generated Python ``__new__`` (per attempt).
_new_tuple = tuple.__new__


class _KeyIndex(dict):
    """Zone -> fresh-contact key of one step (``ContactFlow.__init__``): a zone not seen
    yet gets a new key from ``new(zone)``, so a list's keys are read in one pass."""

    __slots__ = ("new",)

    def __init__(self, new: Callable[[Any], int]):
        super().__init__()
        self.new = new

    def __missing__(self, zone: Any) -> int:
        k = self[zone] = self.new(zone)
        return k


class CallbackListener(Protocol):
    """What a flow tells of the callbacks it places (``engine.dispositions``)."""

    def callback_launched(self, a: Attempt) -> None:
        """Attempt ``a`` is the callback of its contact (recorded as started)."""

    def callback_refused(self, job: int, contact: int, reason: str) -> None:
        """The callback of ``contact`` is refused for good (a DNC rule, a bad zone)."""


class Planned(NamedTuple):
    """An attempt to launch now: the contact (row in the job's list), its id, the address
    to use and the strategy step. (A named tuple: one is made per attempt.)"""

    contact: int
    contact_id: str
    address: str
    step: int


@dataclass(frozen=True)
class FlowCounts:
    """Where a job's contacts stand and what its attempts gave (counts since the start)."""

    total: int
    fresh: int
    queued: int
    in_flight: int
    done: int
    attempts: int
    connects: int
    live: int
    abandons: int
    successes: int
    live_today: int  # since the current UTC day began (run clock + epoch)
    abandons_today: int


class ContactFlow:
    """The contact side of one job (see the module docstring).

    ``calendar`` is the run's clock (or the UTC instant of run-clock 0, for a calendar of
    the flow's own): calling windows and per-day caps are in the contacts' local time.
    ``history`` maps contact id to its finished attempts (run-clock seconds) and may be
    shared by several jobs (the rules count attempts across jobs). ``agent_guaranteed``
    (preview pacing) lifts the nuisance rule, as Ofcom allows. ``arrivals``: contacts will
    join the list while the job runs (``extend``), so running out of them is a pause, not
    the end: the flow never reads as exhausted.
    """

    def __init__(self, job: int, name: str, contacts: ContactList, strategy: Strategy,
                 rules: RuleEngine, calendar: RunCalendar | datetime, *,
                 history: dict[str, list[PastAttempt]] | None = None,
                 filter: Filter | str | None = None,
                 sort: Sequence[SortKey | str | tuple[str, bool]] = (),
                 more: Callable[[int], ContactList | None] | None = None,
                 agent_guaranteed: bool = False, arrivals: bool = False):
        if not isinstance(calendar, RunCalendar):
            try:
                calendar = RunCalendar(calendar)
            except ValueError as e:
                raise ValueError(f"job {name!r}: {e}") from None
        strategy.validate(strategy_columns(contacts.frame.columns, strategy))
        self.job = job
        self.name = name
        self.strategy = strategy
        self.rules = rules
        self.calendar = calendar
        self.epoch = calendar.epoch
        self.history: dict[str, list[PastAttempt]] = {} if history is None else history
        self.agent_guaranteed = agent_guaranteed
        self._more = more
        # contacts join the list while the job runs (``extend``): it is never exhausted
        self._arrivals = arrivals
        self._filter, self._sort = filter, tuple(sort)
        self._spec = contacts.spec
        self._fields = sorted({f for s in strategy.steps for f in s.fields()})
        self.state = bytearray()  # per contact: FRESH, QUEUED, IN_FLIGHT or DONE
        self._latest: list[int] = []  # per contact: the seq of its live queue entry
        self.order: list[int] = []  # selected contacts in hand-out order
        self.ids: list[str] = []
        self.tzs: list[str | None] = []
        self.cols: dict[str, list[Any]] = {f: [] for f in self._fields}
        self._col_items = tuple(self.cols.items())  # the lists grow in place
        self._one_field = self._col_items[0] if len(self._col_items) == 1 else None
        self.cursor = 0
        self._fresh_pause = 0.0  # seconds the next fruitless search pauses fresh ones
        self._fresh_after = -math.inf  # no search for fresh contacts before this (run s)
        # called after ``extend`` (contacts joined the list): a dialer sleeping through
        # ``quiet_until`` wakes (``Dialer.wake``)
        self.on_extend: Callable[[], None] | None = None
        # Queued contacts per channel, two heaps of (due s, seq, contact): ``_queues`` holds
        # those with an attempt of this job behind them (retries), ``_waiting`` those
        # without (a first attempt waiting for its calling window, a nuisance period or a
        # per-day cap). Due ones go in that order, then fresh ones: a contact waiting for
        # its window to open is a fresh one there, as it would have been had the run
        # started after the opening, so a backlog of them does not hold back a due retry.
        self._queues: dict[str, list[tuple[float, int, int]]] = {}
        self._waiting: dict[str, list[tuple[float, int, int]]] = {}
        self._ended: dict[int, set[int]] = {}
        # Per contact with an undecided future: its fields as the strategy reads them (built
        # once, not per decision) and the strategy's last answer for it (``_decided``: a
        # ``Next`` made after its last result, re-checked when it comes due rather than
        # decided again; see ``Strategy.recheck``). Both go when the contact is done.
        self._fields_of: dict[int, dict[str, Any]] = {}
        self._decided: dict[int, Next] = {}
        self._seq = 0
        # Callbacks an agent asked for (``engine.dispositions``): per channel a heap of
        # (due s, seq, contact, step, address), before the retries; ``_cb_planned`` the
        # contacts whose callback was planned and not yet launched; ``callbacks`` hears of
        # each launch and of each refused for good (``CallbackListener``).
        self._callbacks: dict[str, list[tuple[float, int, int, int, str]]] = {}
        self._cb_planned: set[int] = set()
        self.callbacks: CallbackListener | None = None
        self._n = [0, 0, 0, 0]  # contacts per state
        self.attempts = self.connects = self.live = self.abandons = self.successes = 0
        self._today = (-1, 0, 0)  # (UTC day index, live answers, abandons) of that day
        self._step0_channel = strategy.steps[0].channel
        self._step_channels = tuple(s.channel for s in strategy.steps)
        self._tz_field = strategy.timezone_field
        # Per step: the list's loader normalised (and so validated) its address column.
        self._normalised = tuple(s.address in contacts.spec.addresses
                                 for s in strategy.steps)
        # The fresh-contact short cut (``take``). Per contact: its first step with an
        # address and that address (``Strategy.first_addresses``), the step with the
        # contact's zone as a key, an index into the (step, zone) pairs the list holds (-1:
        # no address; ``_key_of[step][zone]``: the pair's key). Per pair: whether its step
        # is the first step's channel at a normalised address, and the open span of its
        # calling window seen last (run-clock seconds; a window is looked up again only
        # once the clock leaves that span).
        self._first_key: list[int] = []
        self._first_addr: list[str | None] = []
        self._key_of = [_KeyIndex(partial(self._new_key, i))
                        for i in range(len(strategy.steps))]
        self._key_step: list[int] = []
        self._key_zone: list[Any] = []
        self._key_fresh: list[bool] = []
        self._open_lo: list[float] = []
        self._open_hi: list[float] = []
        self.extend(contacts)
        # What ``take`` reads for fresh contacts, gathered once (the lists, the bytearray
        # and the dicts grow in place as the list does).
        self._fresh_parts = (rules, job, self.history, self.ids, self._ended, self.order,
                             self.state, self._n, self._first_key, self._first_addr,
                             self._key_step, self._key_fresh, self._open_lo, self._open_hi)

    # ------------------------------------------------------------------ the list

    def extend(self, contacts: ContactList) -> int:
        """Add a list (or the next chunk of one) to the job; returns contacts selected."""
        if contacts.spec.id != self._spec.id:
            raise ValueError(f"job {self.name!r}: every list of a job needs the same id column")
        base = len(self.ids)
        sel = contacts.select(self._filter, self._sort) + base
        n = len(contacts)
        frame = contacts.frame
        self.ids.extend(frame[contacts.spec.id].cast(str).to_list())
        tz_col = contacts.spec.timezone
        if tz_col and tz_col in frame.columns:
            self.tzs.extend(frame[tz_col].to_list())
        else:
            self.tzs.extend([contacts.spec.default_timezone] * n)
        for f in self._fields:
            self.cols[f].extend(frame[f].to_list())
        self._index_first(base, n)
        state = np.full(n, DONE, dtype=np.int8)
        state[sel - base] = FRESH
        self.state.extend(state.tobytes())
        self._latest.extend([0] * n)
        self.order.extend(sel.tolist())
        self._n[FRESH] += int(sel.size)
        self._n[DONE] += n - int(sel.size)
        if self.on_extend is not None:
            self.on_extend()
        return int(sel.size)

    def _index_first(self, base: int, n: int) -> None:
        """The fresh-contact keys of contacts ``[base, base + n)`` (see ``__init__``)."""
        steps, addrs = self.strategy.first_addresses(self.cols, range(base, base + n))
        # the zone as ``contact(c)`` gives it under the strategy's zone field
        zones = self.cols.get(self._tz_field, self.ids if self._tz_field == "id" else self.tzs)
        zones = zones[base:base + n]
        default = self.strategy.default_timezone
        if default is not None:
            zones = [z or default for z in zones]
        by_step = self._key_of
        try:
            keys = [-1 if i < 0 else by_step[i][z] for i, z in zip(steps, zones, strict=True)]
        except TypeError:  # a zone that is no name: ``decide`` raises the clear error
            keys = []
            for i, z in zip(steps, zones, strict=True):
                try:
                    keys.append(-1 if i < 0 else by_step[i][z])
                except TypeError:
                    keys.append(-1)
        self._first_key.extend(keys)
        self._first_addr.extend(addrs)

    def _new_key(self, i: int, zone: Any) -> int:
        """A new fresh-contact key: step ``i`` in ``zone`` (see ``__init__``)."""
        self._key_step.append(i)
        self._key_zone.append(zone)
        self._key_fresh.append(self._normalised[i]
                               and self._step_channels[i] == self._step0_channel)
        self._open_lo.append(math.inf)  # no span seen yet
        self._open_hi.append(-math.inf)
        return len(self._key_step) - 1

    def _look_open(self, k: int, now_s: float) -> None:
        """Key ``k``'s open span at ``now_s`` (``Strategy.open_span``), kept if open."""
        span = self.strategy.open_span(self._key_step[k], self._key_zone[k], now_s,
                                       self.calendar)
        if span is not None:
            self._open_lo[k], self._open_hi[k] = span

    def contact(self, c: int) -> dict[str, Any]:
        """The fields the strategy and rules read: id, time zone and step fields."""
        one = self._one_field
        if one is not None:  # one step field, the common case: one dict display
            f, col = one
            return {self._tz_field: self.tzs[c], "id": self.ids[c], f: col[c]}
        d = {self._tz_field: self.tzs[c], "id": self.ids[c]}
        for f, col in self._col_items:
            d[f] = col[c]
        return d

    def _known(self, c: int) -> dict[str, Any]:
        """``contact(c)``, kept while the contact is not done (read-only: shared)."""
        d = self._fields_of.get(c)
        if d is None:
            d = self._fields_of[c] = self.contact(c)
        return d

    # ------------------------------------------------------------------ handing out

    def next(self, now_s: float, channel: int | str) -> Planned | None:
        """The next attempt to launch now on ``channel``, or None if nothing is due now."""
        got = self.take(now_s, channel, 1)
        return got[0] if got else None

    def take(self, now_s: float, channel: int | str, n: int) -> list[Planned]:
        """Up to ``n`` attempts to launch now on ``channel`` (fewer when fewer are due).

        Due retries come first (earliest first), then due contacts not attempted yet by the
        job (earliest first: those that waited for a window, a nuisance period or a
        per-day cap), then fresh ones in list order; the search for fresh ones gives up for
        this call after ``SCAN_LIMIT`` contacts in a row that gave no attempt. The same
        plans, in the same order, as ``n`` calls of ``next``.
        """
        ch = channel if channel.__class__ is str else _CHANNEL_NAME[int(channel)]
        out: list[Planned] = []
        if n <= 0:
            return out
        cbq = self._callbacks.get(ch)
        while cbq and cbq[0][0] <= now_s:
            _, seq, c, step, address = heapq.heappop(cbq)
            if self.state[c] != QUEUED or self._latest[c] != seq:
                continue  # superseded or finished meanwhile
            p = self.take_callback(c, step, address, now_s)
            if p.__class__ is Planned:
                out.append(p)
                if len(out) == n:
                    return out
            elif p is not None:  # not open yet: again at the opening
                self.schedule_callback(c, step, address, p)
        for queues in (self._queues, self._waiting):
            q = queues.get(ch)
            while q and q[0][0] <= now_s:
                _, seq, c = heapq.heappop(q)
                if self.state[c] != QUEUED or self._latest[c] != seq:
                    continue  # superseded or finished meanwhile
                self._n[QUEUED] -= 1  # reserved IN_FLIGHT while it is planned (``_set``)
                self._n[IN_FLIGHT] += 1
                self.state[c] = IN_FLIGHT
                p = self._plan(c, now_s, ch)
                if p is not None:
                    out.append(p)
                    if len(out) == n:
                        return out
        if ch != self._step0_channel or now_s < self._fresh_after:
            return out
        # Fresh contacts. Speed shortcut (one pass per contact, no decision search, no
        # look at its fields): a contact with no history whose first step with an address
        # is open now is that step now (``Strategy.first``, read from the keys made when
        # the list was read, and from the open span of the key's window, looked up once
        # per span: see ``__init__``), and no rule can refuse it when the rule engine
        # admits fresh contacts at the list's normalised addresses (``admits_fresh``: its
        # allowed checks are counted at the end); anything else is ``_plan``'s.
        (rules, job, history, ids, ended, order, state, counts, first_key, first_addr,
         key_step, key_fresh, open_lo, open_hi) = self._fresh_parts
        fast = rules.admits_fresh(job, ch)
        admitted = 0
        scanned = 0
        cursor = self.cursor  # written back below (``_plan`` and ``_grow`` do not read it)
        while scanned < SCAN_LIMIT:
            if cursor >= len(order):
                if self._more is None or not self._grow():
                    break  # (``_grow`` extends ``order`` and ``state`` in place)
            c = order[cursor]
            cursor += 1
            if state[c] != FRESH:
                scanned += 1
                continue
            counts[FRESH] -= 1  # ``_set(c, IN_FLIGHT)``, inlined: once per fresh contact
            counts[IN_FLIGHT] += 1
            state[c] = IN_FLIGHT
            p = None
            cid = ids[c]
            k = first_key[c]
            if k >= 0 and fast and key_fresh[k] and not history.get(cid) and c not in ended:
                if not open_lo[k] <= now_s < open_hi[k]:
                    self._look_open(k, now_s)
                if open_lo[k] <= now_s < open_hi[k]:
                    admitted += 1
                    p = _new_tuple(Planned, (c, cid, first_addr[c], key_step[k]))
            if p is None:
                p = self._plan(c, now_s, ch)
                if p is None:
                    scanned += 1
                    continue
            out.append(p)
            if len(out) == n:
                break
            scanned = 0
        self.cursor = cursor
        if admitted:
            rules.count_allowed(job, admitted)
        if scanned < SCAN_LIMIT:
            if self._fresh_pause:
                self._fresh_pause = 0.0
        elif self._more is not None:  # gave up on a growing list: pause (FRESH_PAUSE_MIN_S)
            self._fresh_pause = min(max(2.0 * self._fresh_pause, FRESH_PAUSE_MIN_S),
                                    FRESH_PAUSE_MAX_S)
            heads = [q[0][0] for q in (self._queues.get(ch), self._waiting.get(ch)) if q]
            self._fresh_after = min(now_s + self._fresh_pause,
                                    max(min(heads), now_s) if heads else math.inf)
        return out

    @property
    def growing(self) -> bool:
        """Whether the list grows by itself as it is dialled (a synthetic list's chunks)."""
        return self._more is not None

    def _grow(self) -> bool:
        chunk = self._more(len(self.ids)) if self._more is not None else None
        if chunk is None or len(chunk) == 0:
            self._more = None
            return False
        self.extend(chunk)
        return True

    def _plan(self, c: int, now_s: float, ch: str) -> Planned | None:
        """The decision for contact ``c`` (reserved IN_FLIGHT by the caller): launch now on
        ``ch``, queue for later, or finish."""
        contact = self._fields_of.get(c) or self._known(c)
        hist = self.history.get(self.ids[c], ())
        first = not hist or not self._own(hist)  # no attempt of this job yet
        cal = self.calendar
        last = self._decided.pop(c, None)
        action = None if last is None else self.strategy.recheck(last, contact, now_s, cal)
        for _ in range(len(self.strategy.steps) + 1):
            if action is None:
                action = self.strategy.decide(contact, self._own(hist) if hist else hist,
                                              now_s, cal, self._ended.get(c, ()))
            if action.__class__ is Done:
                self._finish(c, action.reason == "success")
                return None
            if action.__class__ is Blocked:
                self._queue(c, action.until, action.next.step.channel, first)
                return None
            at, step = action.at, action.step
            if at > now_s or step.channel != ch:
                self._queue(c, max(at, now_s), step.channel, first)
                return None
            d = self.rules.decide(self.job, contact, action.address, ch, now_s, hist, cal,
                                  self.agent_guaranteed, self._normalised[action.step_index])
            if d.allowed:
                return _new_tuple(Planned, (c, self.ids[c], action.address,
                                            action.step_index))
            if d.until is not None:
                self._queue(c, d.until, ch, first)
                return None
            self._ended.setdefault(c, set()).add(action.step_index)  # refused for good
            action = None
        self._finish(c, False)
        return None

    # ------------------------------------------------------------------ results

    def launched(self, a: Attempt) -> None:
        """An attempt planned by ``next`` was started (counts it)."""
        self.attempts += 1
        if self._cb_planned and a.contact in self._cb_planned:
            self._cb_planned.discard(a.contact)
            if self.callbacks is not None:
                self.callbacks.callback_launched(a)

    # ------------------------------------------------------------------ callbacks

    def schedule_callback(self, c: int, step: int, address: str, at_s: float,
                          queue: bool = True) -> int:
        """Contact ``c`` is to be called back on ``step`` at ``address`` from ``at_s`` (run
        s), whatever its strategy planned (superseded); ``queue`` False keeps it out of
        ``take`` (a personal callback, launched by its agent's turn: ``plan_callback``).
        Returns the queue entry's seq. A contact with an attempt in flight cannot be
        scheduled (``ValueError``)."""
        if self.state[c] == IN_FLIGHT:
            raise ValueError(f"job {self.name!r}: contact {self.ids[c]!r} has an attempt "
                             "in flight")
        if not 0 <= step < len(self.strategy.steps):
            raise ValueError(f"job {self.name!r}: no strategy step {step}")
        self._set(c, QUEUED)
        self._known(c)  # its fields, kept while it waits (``plan_callback`` reads them)
        self._decided.pop(c, None)
        seq = self._seq = self._seq + 1
        self._latest[c] = seq
        if queue:
            ch = self._step_channels[step]
            heapq.heappush(self._callbacks.setdefault(ch, []), (at_s, seq, c, step, address))
        return seq

    def callback_due(self, c: int, seq: int) -> bool:
        """Whether the callback ``schedule_callback`` gave ``seq`` still stands (the
        contact queued for it, nothing superseded it)."""
        return self.state[c] == QUEUED and self._latest[c] == seq

    def take_callback(self, c: int, step: int, address: str, now_s: float
                      ) -> Planned | float | None:
        """``plan_callback`` for a queued callback due now (a campaign one ``take`` reaches,
        a personal one whose agent is free: ``callback_due``); given a later time, the
        contact is queued again and the caller schedules it."""
        self._set(c, IN_FLIGHT)
        p = self.plan_callback(c, step, address, now_s)
        if p is not None and p.__class__ is not Planned:
            self._set(c, QUEUED)
        return p

    def plan_callback(self, c: int, step: int, address: str, now_s: float
                      ) -> Planned | float | None:
        """A callback of contact ``c`` (reserved IN_FLIGHT by the caller) due at
        ``now_s``: the attempt to launch now when the step's calling window is open in
        the contact's zone and the rules allow it; else the run-clock time to try again
        (the window's next opening, a nuisance period's or cap's end); None when a rule
        refuses the address for good (DNC): the contact is finished and ``callbacks``
        told."""
        contact = self._known(c)
        ch = self._step_channels[step]
        try:
            tz = self.strategy.zone_name(contact)
            w = self.calendar.windows(self.strategy.windows_of(step), tz)
        except ValueError as e:
            log.warning("job %s: callback of contact %s not placed: %s", self.name,
                        self.ids[c], e)
            self._finish(c, False)
            self._refused(c, str(e))
            return None
        if not w.is_open(now_s):
            return w.next_open(now_s)
        hist = self.history.get(self.ids[c], ())
        d = self.rules.decide(self.job, contact, address, ch, now_s, hist, self.calendar,
                              self.agent_guaranteed, self._normalised[step])
        if d.allowed:
            self._cb_planned.add(c)
            return _new_tuple(Planned, (c, self.ids[c], address, step))
        if d.until is not None:
            return max(d.until, now_s + BLOCKED_RETRY_S)
        self._finish(c, False)
        self._refused(c, d.reason)
        return None

    def _refused(self, c: int, reason: str) -> None:
        if self.callbacks is not None:
            self.callbacks.callback_refused(self.job, c, reason)

    def finish_contact(self, c: int, success: bool = False) -> bool:
        """No more attempts for contact ``c`` (an agent's disposition): done now, unless
        an attempt is in flight (False). Its queued plans and callbacks lapse."""
        if self.state[c] == IN_FLIGHT:
            return False
        if self.state[c] != DONE:
            self._finish(c, success)
        return True

    def wrong_number(self, c: int, step: int, t_end: float, now_s: float) -> None:
        """The person reached on contact ``c``'s ``step`` at the attempt that ended at
        ``t_end`` was not the contact (an agent's disposition): that attempt counts as an
        ``INVALID`` number, not a success, the step is finished, and the contact is decided
        again at ``now_s`` (its next address, if it has one). A contact with an attempt in
        flight is decided when that attempt ends."""
        hist = self.history.get(self.ids[c])
        for k, h in enumerate(hist or ()):
            if h.job == self.job and h.step == step and h.at == t_end:
                hist[k] = h._replace(code=_INVALID)
        self.end_step(c, step, now_s)

    def end_step(self, c: int, step: int, now_s: float) -> None:
        """No more attempts of contact ``c`` on ``step`` (a wrong number, a message that
        may have gone out and is kept for review): the contact is decided again at
        ``now_s`` (its next step, if it has one), or when its attempt in flight ends."""
        self._ended.setdefault(c, set()).add(step)
        if self.state[c] == IN_FLIGHT:
            return
        self._set(c, IN_FLIGHT)
        self._decided.pop(c, None)
        self._plan(c, now_s, "")  # "" matches no channel: queue or finish, never launch

    def finished(self, a: Attempt, now_s: float) -> None:
        """Attempt ``a`` of this job ended with ``a.code``: history, then queue or finish."""
        c, code = a.contact, a.code
        if code.__class__ is not int:
            code = int(code)
        ch = self._step_channels[a.step]
        if code == _BLOCKED:  # never reached the contact: hand it out again next tick
            self.attempts -= 1
            self._queue(c, now_s + BLOCKED_RETRY_S, ch)
            return
        if code in LIVE_CODES:
            self.live += 1
            ab = code in ABANDON_CODES
            self.abandons += ab
            self._count_today(now_s, ab)
        if code in CONNECT_CODES:
            self.connects += 1
        past = _new_tuple(PastAttempt, (a.t_end, code, a.step, a.address, ch, self.job))
        cid = a.contact_id
        hist = self.history.get(cid)
        if hist is None:  # its first attempt (in any job): the history is this one
            own = self.history[cid] = [past]
        else:
            hist.append(past)
            own = self._own(hist)
        # The contact's fields: kept while it waits for a retry (``_plan`` reads them then),
        # made here for one decided at once (a fresh contact's fields are not made at all
        # when it is handed out, see ``take``).
        fields_of = self._fields_of
        contact = fields_of.get(c)
        kept = contact is not None
        if not kept:
            contact = self.contact(c)
        action = self.strategy.decide(contact, own, now_s, self.calendar,
                                      self._ended.get(c, ()))
        if action.__class__ is Done:
            self._finish(c, action.reason == "success")
            return
        if not kept:
            fields_of[c] = contact
        if action.__class__ is Blocked:
            self._queue(c, action.until, action.next.step.channel)
            action = action.next
        else:
            at = action.at
            self._queue(c, at if at > now_s else now_s, action.step.channel)
        if not action.skipped:  # when due, ``Strategy.recheck`` can answer
            self._decided[c] = action

    def restore(self, records: Iterable[dict[str, Any]], now_s: float) -> int:
        """Rebuild contact states after a restart from this job's recorded attempts
        (trapped ones already re-coded): contacts with attempts are re-decided at
        ``now_s`` by the strategy. Returns the number of contacts re-queued or finished."""
        touched: dict[int, list[dict[str, Any]]] = {}
        for r in records:
            touched.setdefault(int(r["contact"]), []).append(r)
        while touched and max(touched) >= len(self.ids) and self._grow():
            pass
        for c, rs in touched.items():
            hist = self.history.setdefault(self.ids[c], [])
            for r in rs:
                if int(r["code"]) == _BLOCKED:
                    continue
                hist.append(PastAttempt(float(r["t_end"]), int(r["code"]), int(r["step"]),
                                        r["address"], self.strategy.steps[int(r["step"])]
                                        .channel, self.job))
                self.attempts += 1
                code = int(r["code"])
                self.live += code in LIVE_CODES
                self.abandons += code in ABANDON_CODES
                self.connects += code in CONNECT_CODES
                if code in LIVE_CODES:  # today's too, as ``finished`` counts them
                    self._count_today(float(r["t_end"]), code in ABANDON_CODES)
            self._set(c, IN_FLIGHT)
            self._plan(c, now_s, "")  # "" matches no channel: queue or finish, never launch
        return len(touched)

    # ------------------------------------------------------------------ bookkeeping

    def _count_today(self, t_s: float, abandoned: bool) -> None:
        """A live answer at ``t_s`` (run s) in today's counts: those of the latest UTC day
        seen (one of an earlier day, replayed at a restart, is not today's)."""
        day = self.calendar.utc_day(t_s)
        d, live, abandons = self._today
        if day == d:
            self._today = (day, live + 1, abandons + abandoned)
        elif day > d:
            self._today = (day, 1, int(abandoned))

    def _own(self, hist: Sequence[PastAttempt]) -> Sequence[PastAttempt]:
        """This job's attempts: the strategy's steps are the job's own (the shared history
        also holds other jobs' attempts, which only the rules count)."""
        job = self.job
        for h in hist:
            if h.job != job:
                return [h for h in hist if h.job == job]
        return hist

    def _set(self, c: int, new: int) -> None:
        self._n[self.state[c]] -= 1
        self._n[new] += 1
        self.state[c] = new

    def _queue(self, c: int, at_s: float, ch: str, first: bool = False) -> None:
        """Queue contact ``c`` on channel ``ch`` until ``at_s`` (run s): among the retries,
        or with ``first`` among the contacts the job has not attempted yet."""
        n, state = self._n, self.state
        n[state[c]] -= 1  # ``_set(c, QUEUED)``, inlined
        n[QUEUED] += 1
        state[c] = QUEUED
        seq = self._seq = self._seq + 1
        self._latest[c] = seq
        queues = self._waiting if first else self._queues
        q = queues.get(ch)
        if q is None:
            q = queues[ch] = []
        heapq.heappush(q, (at_s, seq, c))

    def _finish(self, c: int, success: bool) -> None:
        self._set(c, DONE)
        self.successes += success
        self._fields_of.pop(c, None)
        self._decided.pop(c, None)

    def release(self) -> None:
        """Drop the per-contact work state (queues, pending decisions, kept fields): for a
        flow whose run is over, so reference counting frees it at once (the counts stay)."""
        self._queues.clear()
        self._waiting.clear()
        self._decided.clear()
        self._fields_of.clear()

    def state_of(self, c: int) -> str:
        return STATE_NAMES[self.state[c]]

    def idle_until(self, now_s: float) -> float:
        """Run-clock time (seconds) before which ``take`` can hand out nothing: ``now_s``
        unless the search for fresh contacts is paused (FRESH_PAUSE_MIN_S), then the
        pause's end or the earliest queued contact's due time, whichever comes first."""
        if now_s >= self._fresh_after:
            return now_s
        due = self.next_due()
        return max(now_s, self._fresh_after if due is None else min(self._fresh_after, due))

    def quiet_until(self, now_s: float) -> float:
        """Run-clock time before which ``take`` can hand out nothing until the list grows
        (``extend``): ``idle_until``, and for a list that does not grow by itself with no
        fresh contact left, the earliest queued contact's due time (``inf`` with none:
        every contact done or in flight)."""
        if self._n[FRESH] or self._more is not None:
            return self.idle_until(now_s)
        due = self.next_due()
        return math.inf if due is None else max(now_s, due)

    def work_due(self, now_s: float, cap: int) -> int:
        """Contacts ``take`` could hand out by ``now_s``, counted up to ``cap``: the fresh
        ones and the queued ones due (those waiting for a later retry, window or cap not);
        ``cap`` for a list that grows by itself."""
        n = self._n[FRESH]
        if n >= cap or self._more is not None:
            return cap
        state, latest = self.state, self._latest
        for q in (*self._queues.values(), *self._waiting.values()):
            for due, seq, c in q:
                if due <= now_s and state[c] == QUEUED and latest[c] == seq:
                    n += 1
                    if n >= cap:
                        return cap
        return n

    def next_due(self) -> float | None:
        """Run-clock time of the earliest queued contact on any channel (None if none)."""
        best = None
        for q in (*self._queues.values(), *self._waiting.values()):
            while q and (self.state[q[0][2]] != QUEUED or self._latest[q[0][2]] != q[0][1]):
                heapq.heappop(q)
            if q and (best is None or q[0][0] < best):
                best = q[0][0]
        return best

    @property
    def can_exhaust(self) -> bool:
        """False for a list that grows as the run needs it (a synthetic one) or as contacts
        arrive (``arrivals``)."""
        return self._more is None and not self._arrivals

    @property
    def exhausted(self) -> bool:
        """Nothing fresh, queued or in flight, no more list to read and no contact to
        arrive."""
        return (self._n[FRESH] == 0 and self._n[QUEUED] == 0 and self._n[IN_FLIGHT] == 0
                and self._more is None and not self._arrivals)

    def counts(self, now_s: float) -> FlowCounts:
        """The job's counters at run-clock ``now_s``."""
        total = len(self.order)
        fresh, queued, flying = self._n[FRESH], self._n[QUEUED], self._n[IN_FLIGHT]
        day, live_today, abandons_today = self._today
        if day != self.calendar.utc_day(now_s):
            live_today = abandons_today = 0
        return FlowCounts(total=total, fresh=fresh, queued=queued, in_flight=flying,
                          done=total - fresh - queued - flying, attempts=self.attempts,
                          connects=self.connects, live=self.live, abandons=self.abandons,
                          successes=self.successes, live_today=live_today,
                          abandons_today=abandons_today)


def strategy_columns(columns: Sequence[str], strategy: Strategy) -> list[str]:
    """The fields a job's flow hands ``strategy`` for a list with ``columns``: the list's
    columns and the strategy's ``timezone_field``, under which the flow passes each
    contact's zone (the list's zone column, or its ``default_timezone``), whatever the
    list calls its zone column."""
    cols = list(columns)
    if strategy.timezone_field not in cols:
        cols.append(strategy.timezone_field)
    return cols


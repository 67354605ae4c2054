"""Group the engine's flat agent and call arrays by campaign, in one kernel pass.

The engine keeps one row per agent and per call slot in whatever order they arrived; the
pacing kernels want them grouped by campaign (CSR offsets). A counting sort does that in
O(agents + calls) without any Python loop, every tick.
"""

from __future__ import annotations

import numba
import numpy as np

from pacer.constants import MAX_CAMPAIGNS
from pacer.modes import AgentStatus, CallStatus
from pacer.ratio import as_array, real_number

_OFF = int(AgentStatus.OFF)
_IDLE = int(AgentStatus.IDLE)
_BUSY = int(AgentStatus.BUSY)
_LEAVING = int(AgentStatus.BUSY_LEAVING)
_PAUSED = int(AgentStatus.PAUSED)
_WRAP = int(AgentStatus.WRAP)
_STATUS_MAX = max(int(s) for s in AgentStatus)
_FREE = int(CallStatus.FREE)
_RINGING = int(CallStatus.RINGING)
_WAITING = int(CallStatus.WAITING)
_CONNECTED = int(CallStatus.CONNECTED)
MAX_TIME_S = 1e12  # largest clock reading accepted (about 31,700 years), seconds

# Column indices of the per-campaign count matrix returned by ``_gather`` (BUSY counts
# agents talking or in wrap-up: both will take a call when they free).
IDLE, BUSY, LEAVING, PAUSED, RINGING, WAITING, CONNECTED = range(7)
N_COUNTS = 7
# _gather's counting pass indexes these columns by the status codes: same order
assert (_BUSY - _IDLE, _LEAVING - _IDLE, _PAUSED - _IDLE) == (BUSY - IDLE, LEAVING - IDLE,
                                                              PAUSED - IDLE)
assert (_WAITING - _RINGING, _CONNECTED - _RINGING) == (WAITING - RINGING, CONNECTED - RINGING)
# Phases of a listed busy agent (``agent_phase``): which time the look-ahead draws its end
# from (pacer.lookahead._sample_state).
PHASE_HANDLING, PHASE_TALK, PHASE_WRAP = 0, 1, 2


@numba.njit(cache=True)
def _gather(n_camp, now, agent_job, agent_status, agent_since, call_job, call_status, call_t0,
            agent_offsets, agent_elapsed, call_offsets, call_elapsed, counts, agent_key,
            call_key, split, agent_phase):
    """Check every entry, then fill CSR groups of agents (idle or busy) and unanswered calls,
    and per-campaign counts; returns ``(code, index)`` of the first bad entry, ``(0, -1)``
    when all passed.

    Codes: 1 agent campaign row out of [-1, n_camp), 2 agent status not an AgentStatus,
    3 agent start time not finite (or beyond MAX_TIME_S), 4 call campaign row out of range,
    5 call status not a CallStatus, 6 call start time not finite, 7 ``now`` not finite. The
    checks ride on the counting pass; on a bad entry only the scratch ``counts`` has been
    written (``split``, the caller's state, is set after every entry passed).

    agent_elapsed: -1 for an idle agent (surely free), else seconds since its call connected
    (BUSY) or its wrap-up started (WRAP); only IDLE, BUSY and WRAP agents are listed
    (leaving and paused agents never take a new call). split[c] (int64, 0/1, set here
    when a WRAP agent of campaign c is seen, kept by the caller): the campaign's caller
    reports wrap-up apart, so its BUSY agents are talking. agent_phase: PHASE_HANDLING for a
    BUSY agent of a campaign that is not split, PHASE_TALK for one that is, PHASE_WRAP for
    a WRAP agent (idle: PHASE_HANDLING, not read).
    call_elapsed: seconds ringing for a RINGING call; -1 - seconds waited for a live answer
    WAITING for an agent (it surely needs one; its call_t0 is when it was answered).
    counts[c, k] uses the column constants of this module.
    agent_key / call_key: the engine's row index of each listed agent and call (identities
    that stay the same from one tick to the next).
    """
    if not abs(now) <= MAX_TIME_S:
        return 7, -1
    counts[:, :] = 0
    any_wrap = False
    for i in range(agent_job.shape[0]):
        j = agent_job[i]
        s = agent_status[i]
        if j < -1 or j >= n_camp:
            return 1, i
        if s < _OFF or s > _STATUS_MAX:
            return 2, i
        if not abs(agent_since[i]) <= MAX_TIME_S:
            return 3, i
        if j < 0 or s == _OFF:
            continue
        # IDLE, BUSY, BUSY_LEAVING, PAUSED count in their columns (in the same order), WRAP
        # as BUSY: one indexed add, no branch on the status
        counts[j, BUSY if s == _WRAP else s - _IDLE + IDLE] += 1
        any_wrap |= s == _WRAP
    for i in range(call_job.shape[0]):
        j = call_job[i]
        s = call_status[i]
        if j < -1 or j >= n_camp:
            return 4, i
        if s < 0 or s > _CONNECTED:
            return 5, i
        if not abs(call_t0[i]) <= MAX_TIME_S:
            return 6, i
        if j < 0 or s == _FREE:
            continue
        counts[j, s - _RINGING + RINGING] += 1  # RINGING, WAITING, CONNECTED in order
    if any_wrap:
        for i in range(agent_job.shape[0]):
            if agent_job[i] >= 0 and agent_status[i] == _WRAP:
                split[agent_job[i]] = 1
    agent_offsets[0] = 0
    call_offsets[0] = 0
    for c in range(n_camp):
        agent_offsets[c + 1] = agent_offsets[c] + counts[c, IDLE] + counts[c, BUSY]
        call_offsets[c + 1] = call_offsets[c] + counts[c, RINGING] + counts[c, WAITING]
    fill = agent_offsets[:n_camp].copy()
    for i in range(agent_job.shape[0]):
        j = agent_job[i]
        if j < 0:
            continue
        s = agent_status[i]
        if s == _IDLE:
            agent_elapsed[fill[j]] = -1.0
            agent_key[fill[j]] = i
            agent_phase[fill[j]] = PHASE_HANDLING
            fill[j] += 1
        elif s == _BUSY or s == _WRAP:
            agent_elapsed[fill[j]] = max(now - agent_since[i], 0.0)
            agent_key[fill[j]] = i
            agent_phase[fill[j]] = PHASE_WRAP if s == _WRAP else (
                PHASE_TALK if split[j] == 1 else PHASE_HANDLING)
            fill[j] += 1
    fill = call_offsets[:n_camp].copy()
    for i in range(call_job.shape[0]):
        j = call_job[i]
        if j < 0:
            continue
        s = call_status[i]
        if s == _RINGING:
            call_elapsed[fill[j]] = max(now - call_t0[i], 0.0)
            call_key[fill[j]] = i
            fill[j] += 1
        elif s == _WAITING:
            call_elapsed[fill[j]] = -1.0 - max(now - call_t0[i], 0.0)
            call_key[fill[j]] = i
            fill[j] += 1
    return 0, -1


class Gatherer:
    """Reusable output buffers for ``_gather`` (one allocation, grown when inputs grow)."""

    def __init__(self, n_camp: int):
        self.n = n_camp
        self.agent_offsets = np.empty(n_camp + 1, dtype=np.int64)
        self.call_offsets = np.empty(n_camp + 1, dtype=np.int64)
        self.counts = np.empty((n_camp, N_COUNTS), dtype=np.int64)
        self.agent_elapsed = np.empty(0, dtype=np.float64)
        self.call_elapsed = np.empty(0, dtype=np.float64)
        self.agent_key = np.empty(0, dtype=np.int64)
        self.agent_phase = np.empty(0, dtype=np.int64)
        self.call_key = np.empty(0, dtype=np.int64)
        self.split = np.zeros(n_camp, dtype=np.int64)  # campaigns whose caller reports WRAP

    def __call__(self, now_s, agent_job, agent_status, agent_since_s, call_job, call_status,
                 call_t0_s):
        """Group agents and calls by campaign (``checked``); returns the five arrays of
        ``gather`` as views into the buffers."""
        return self.checked(now_s, agent_job, agent_status, agent_since_s, call_job,
                            call_status, call_t0_s)[1]

    def checked(self, now_s, agent_job, agent_status, agent_since_s, call_job, call_status,
                call_t0_s):
        """Group the arrays as the engine passes them, checked: types and shapes
        (``state_arrays``), then every entry, in the kernel's counting pass (``_gather``),
        with a ValueError naming the argument and the entry, and the caller's state
        untouched, when one fails. Returns ``(now, (agent_offsets, agent_elapsed,
        call_offsets, call_elapsed, counts))``."""
        now, arrays = state_arrays(now_s, agent_job, agent_status, agent_since_s, call_job,
                                   call_status, call_t0_s)
        self._grow(arrays[0].shape[0], arrays[3].shape[0])
        code, i = _gather(self.n, now, *arrays, self.agent_offsets, self.agent_elapsed,
                          self.call_offsets, self.call_elapsed, self.counts, self.agent_key,
                          self.call_key, self.split, self.agent_phase)
        if code:
            raise ValueError(_STATE_ERRORS[code].format(i=i, n=self.n))
        return now, (self.agent_offsets, self.agent_elapsed, self.call_offsets,
                     self.call_elapsed, self.counts)

    def _grow(self, n_agents: int, n_calls: int) -> None:
        """Buffers for at least this many agents and call slots."""
        if self.agent_elapsed.shape[0] < n_agents:
            self.agent_elapsed = np.empty(n_agents, dtype=np.float64)
            self.agent_key = np.empty(n_agents, dtype=np.int64)
            self.agent_phase = np.empty(n_agents, dtype=np.int64)
        if self.call_elapsed.shape[0] < n_calls:
            self.call_elapsed = np.empty(n_calls, dtype=np.float64)
            self.call_key = np.empty(n_calls, dtype=np.int64)


def gather(n_camp: int, now_s: float, agent_job: np.ndarray, agent_status: np.ndarray,
           agent_since_s: np.ndarray, call_job: np.ndarray, call_status: np.ndarray,
           call_t0_s: np.ndarray):
    """Group agents and calls by campaign.

    Returns ``(agent_offsets, agent_elapsed_s, call_offsets, call_elapsed_s, counts)``; see
    ``_gather``. The arguments are checked as ``Pacer.decide`` checks them
    (``Gatherer.checked``): a ValueError naming the argument, never an unchecked kernel.
    """
    if isinstance(n_camp, bool) or not isinstance(n_camp, int | np.integer) or \
            not 0 <= n_camp <= MAX_CAMPAIGNS:
        raise ValueError(f"n_camp must be an int in [0, {MAX_CAMPAIGNS}], got {n_camp!r}")
    _, (ao, ae, co, ce, counts) = Gatherer(int(n_camp)).checked(
        now_s, agent_job, agent_status, agent_since_s, call_job, call_status, call_t0_s)
    return ao, ae[: ao[-1]], co, ce[: co[-1]], counts


@numba.njit(cache=True)
def _max_new(max_lines_per_agent, counts, out):
    """Lines-per-agent cap minus the unanswered calls in flight, per campaign (>= 0).

    cap = floor(max_lines_per_agent * (idle + busy agents)); unanswered = ringing + waiting.
    """
    for c in range(out.shape[0]):
        cap = int(np.floor(max_lines_per_agent[c] * (counts[c, IDLE] + counts[c, BUSY]) + 1e-9))
        out[c] = max(cap - counts[c, RINGING] - counts[c, WAITING], 0)


@numba.njit(cache=True)
def _tally_live(rows, codes, abandoned_code, connected_code, undone_code, slot, minute_drops,
                drops_today, answered_today, new_abandons, new_live):
    """Fold live-answer outcomes into the per-campaign counters (one pass, no temporaries);
    ``undone_code``: a connect its agent found to be an answering machine, taken back."""
    for i in range(rows.shape[0]):
        r = rows[i]
        k = codes[i]
        if k == abandoned_code:
            minute_drops[r, slot] += 1
            drops_today[r] += 1
            new_abandons[r] += 1.0
        if k == abandoned_code or k == connected_code:
            answered_today[r] += 1
            new_live[r] += 1.0
        elif k == undone_code:
            if answered_today[r] > 0:
                answered_today[r] -= 1
            new_live[r] -= 1.0


@numba.njit(cache=True)
def _oldest_ringing(now, call_offsets, call_elapsed, out):
    """out[c] = launch time (seconds) of campaign c's dial ringing longest (``now`` less
    its seconds ringing), +inf when none rings; from ``_gather``'s CSR calls."""
    for c in range(out.shape[0]):
        longest = -1.0
        for i in range(call_offsets[c], call_offsets[c + 1]):
            longest = max(longest, call_elapsed[i])
        out[c] = now - longest if longest >= 0.0 else np.inf


@numba.njit(cache=True)
def _tally_dials(rows, slot, minute_calls, calls_today):
    """Count completed dials into the current second of the one-minute ring and today's."""
    for i in range(rows.shape[0]):
        minute_calls[rows[i], slot] += 1
        calls_today[rows[i]] += 1


@numba.njit(cache=True)
def _tally_waits(rows, waited_s, hung_up, wait_s, hangups, hangup_rate):
    """Add live answers' waits (seconds) and hang-ups (0/1) per campaign row; hangup_rate =
    hang-ups per waiting second of the rows touched."""
    for i in range(rows.shape[0]):
        r = rows[i]
        wait_s[r] += waited_s[i]
        hangups[r] += hung_up[i]
    for i in range(rows.shape[0]):
        r = rows[i]
        hangup_rate[r] = hangups[r] / wait_s[r]


@numba.njit(cache=True)
def _account(active, out, hit, slack, max_new, added, exp_ab, now, wait_s, wait_max_s,
             next_decide, n_decided, n_bound, added_abandons, added_live, last_abandons):
    """After a look-ahead decision, for each campaign decided (``active`` 1, or 2 at its
    lines cap: the kernel left its outputs 0, a decision of no dial with slack 0): when to
    re-decide it without news (``now`` after it dialled, else ``wait_s x slack`` within
    [wait_s, wait_max_s]), decisions and those the price stopped, and the model's forecast
    sums (abandons and live answers its dials bring). Arrays updated in place."""
    for c in range(active.shape[0]):
        last_abandons[c] = exp_ab[c] + added[c]
        if active[c] == 0:
            continue
        if out[c] > 0:
            next_decide[c] = now
        else:
            next_decide[c] = now + min(max(wait_s * slack[c], wait_s), wait_max_s)
        n_decided[c] += 1.0
        if out[c] < max_new[c]:
            n_bound[c] += 1.0
        added_abandons[c] += added[c]
        added_live[c] += out[c] * hit[c]


@numba.njit(cache=True)
def _due(active_mask, dirty, ended, idle, unanswered, hit, next_decide, now, max_new,
         active):
    """active[c] = 1 for a look-ahead campaign with news or due for a decision, 2 for one
    due at its lines cap (``max_new[c]`` 0: no dial whatever the model says, so the
    look-ahead skips it and ``_account`` books it as a decision of no dial stopped by the
    cap); clears both flags; returns whether any is due. News: ``dirty[c]``, or a dial
    ended unanswered (``ended[c]``) while fewer live answers are to come from the calls in
    flight (``unanswered[c]`` x the hit rate ``hit[c]``) than agents wait (``idle[c]``):
    the line it held was an idle agent's."""
    any_due = False
    for c in range(active.shape[0]):
        news = dirty[c] or (ended[c] and hit[c] * unanswered[c] < idle[c])
        a = 1 if active_mask[c] == 1 and (news or now + 1e-9 >= next_decide[c]) else 0
        if a == 1 and max_new[c] <= 0:
            a = 2
        active[c] = a
        dirty[c] = False
        ended[c] = False
        any_due = any_due or a != 0
    return any_due


_STATE_ERRORS = {
    1: "agent_job[{i}] must be a campaign row in [-1, {n})",
    2: "agent_status[{i}] must be a pacer.modes.AgentStatus code (0..5)",
    3: "agent_since_s[{i}] must be finite seconds, |t| <= 1e12",
    4: "call_job[{i}] must be a campaign row in [-1, {n})",
    5: "call_status[{i}] must be a pacer.modes.CallStatus code (0..3)",
    6: "call_t0_s[{i}] must be finite seconds, |t| <= 1e12",
    7: "now_s must be finite seconds, |t| <= 1e12",
}


def state_arrays(now_s, agent_job, agent_status, agent_since_s, call_job, call_status,
                 call_t0_s):
    """The engine's arrays as the kernels need them (int64 / float64, 1-D, contiguous,
    matching lengths), or a ValueError naming the argument; returns ``(now, the six
    arrays)`` (a tuple or list). Their values are checked by ``_gather``."""
    # a float (the engine's case) as it is; anything else must be a real number (no str,
    # no array): ``_gather`` checks that it is finite
    now = now_s if type(now_s) is float else real_number("now_s", now_s)
    arrays = (agent_job, agent_status, agent_since_s, call_job, call_status, call_t0_s)
    if _plain(agent_job, _INT) and _plain(agent_status, _INT) and _plain(agent_since_s, _FLOAT) \
            and _plain(call_job, _INT) and _plain(call_status, _INT) \
            and _plain(call_t0_s, _FLOAT):
        out = arrays  # the engine's own arrays as they are: only lengths and values
    else:
        out = _converted(arrays)
    if not (out[0].size == out[1].size == out[2].size):
        raise ValueError("agent_job, agent_status and agent_since_s must have the same length, "
                         f"got {out[0].size}, {out[1].size}, {out[2].size}")
    if not (out[3].size == out[4].size == out[5].size):
        raise ValueError("call_job, call_status and call_t0_s must have the same length, "
                         f"got {out[3].size}, {out[4].size}, {out[5].size}")
    return now, out


_INT, _FLOAT = np.dtype(np.int64), np.dtype(np.float64)


def _plain(a, dtype: np.dtype) -> bool:
    """``a`` is a 1-D, contiguous ndarray of ``dtype`` (any other goes through
    ``_converted``)."""
    return type(a) is np.ndarray and a.dtype == dtype and a.ndim == 1 and a.flags.c_contiguous


def _converted(arrays) -> list[np.ndarray]:
    """The engine's arrays as int64 / float64, 1-D, contiguous, or a ValueError naming the
    argument."""
    out = []
    names = ("agent_job", "agent_status", "agent_since_s", "call_job", "call_status",
             "call_t0_s")
    for name, x, kind in zip(names, arrays, "iifiif", strict=True):
        a = as_array(name, x)
        if a.ndim != 1:
            raise ValueError(f"{name} must be a 1-D array, got shape {a.shape}")
        if kind == "i":
            if a.dtype.kind not in "iu" and not (a.dtype.kind == "b" and a.size == 0):
                if a.size and a.dtype.kind != "b":
                    raise ValueError(f"{name} must be an integer array, got dtype {a.dtype}")
            if a.dtype.kind == "u" and a.size and a.max() > np.iinfo(np.int64).max:
                raise ValueError(f"{name} holds values beyond int64")
            a = a.astype(np.int64) if a.dtype != np.int64 else a
        else:
            if a.dtype.kind not in "iuf" and a.size:
                raise ValueError(f"{name} must be a float array (seconds), got dtype {a.dtype}")
            a = a.astype(np.float64) if a.dtype != np.float64 else a
        out.append(np.ascontiguousarray(a))
    return out

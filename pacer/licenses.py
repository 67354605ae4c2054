"""License distribution: the agent manager's split of each license pool among running jobs.

Pools (indexed by :class:`pacer.modes.LicenseKind`): manual, preview, progressive and
predictive agent licenses (an agent attached to a job holds one license of the job's type,
as the Avaya Proactive Outreach Manager agent manager distributes its "Manual", "Preview"
and "Predictive" agent licenses), outbound ports of notification campaigns, SMS and email
throughput. A
throughput pool is modelled in integer units the caller chooses (messages per second or per
hour); every amount here is an int64 count of pool units.

Each running job draws from the one pool its kind names and has a ``priority`` (a positive
integer: higher is more important, and it is also the job's water-filling weight), a
``minimum``, a ``maximum`` and a current ``demand``. One pool of ``pool_size`` units is
split in two steps:

1. **Minimums, in priority order.** Jobs in order of priority, highest first (equal
   priorities: lower job index first), each get ``min(minimum, pool left)``. When the pool
   cannot cover every minimum, the higher-priority jobs get theirs first and nothing else is
   handed out. Minimums are guaranteed whatever the demand: a job with a demand below its
   minimum still holds its minimum (the licenses are reserved for it).
2. **The rest by priority-weighted water-filling**, each job up to its cap
   ``max(its minimum share, min(maximum, demand))``. The continuous water-fill gives job j
   ``clamp(level * priority_j, minimum share_j, cap_j)`` for the common level that spends
   the pool; a job's minimum is a floor under the water, not a bonus on top of it.

Integer rounding: unit by unit, by a divisor rule. The k-th unit of job j (k above its
minimum share, k <= cap) is handed out when the water level reaches
``(k - 1/2) / priority_j`` (Sainte-Lague/Webster: a job's continuous share is rounded to the
nearest integer at the common level); units go out in order of that level, equal levels to
the higher priority, then the lower job index, until the pool or every cap is exhausted.

Why not largest remainder: largest-remainder rounding of the continuous shares is not
*house monotone*: growing the pool can take a unit from a job (the Alabama paradox; e.g.
weights 6, 6, 2 get 4, 4, 2 of 10 units but 5, 5, 1 of 11). The divisor rule allocates a
pool of P + 1 units as the allocation of P units plus one more unit, by construction, so no
job's share ever falls when the pool grows. The price (Balinski and Young's impossibility
theorem) is that a share can occasionally stray more than one unit from the exact
continuous share; for equal priorities uncapped shares still differ by at most one unit.
Raising one job's demand only appends units to that job's end of the order, so a job with a
larger demand never gets less.

The kernel computes this order's prefix in O(n log n + n) per pool: a floating-point
bisection finds the approximate level, then exact integer comparisons
(``(2k - 1) * priority``) repair the few units at the boundary, so the result equals the
unit-by-unit definition exactly (``tests/naive_licenses.py`` is that definition).

Modes (:class:`DistributionMode`) of :class:`LicenseDistributor`:

- ``RESERVED``: an allocation is kept until a recalculation event in its pool: a job
  starts or stops, a job's minimum, maximum or priority changes, the pool size changes, or
  the caller asks (:meth:`LicenseDistributor.request_recalculation`). Demand changes alone
  do not move reserved licenses.
- ``DYNAMIC``: every :meth:`LicenseDistributor.tick` recomputes from the current demand.

In both modes changes made between ticks take effect at the next tick.
"""

from __future__ import annotations

import operator
from collections.abc import Hashable, Mapping, Sequence
from enum import IntEnum

import numba
import numpy as np

from pacer.constants import LICENSE_MAX_PRIORITY, LICENSE_MAX_UNITS
from pacer.modes import LicenseKind

N_POOLS = len(LicenseKind)  # one pool per LicenseKind, indexed by its value


class DistributionMode(IntEnum):
    """When a :class:`LicenseDistributor` recomputes its allocation."""

    RESERVED = 0  # kept until a recalculation event (job start/stop, min/max/priority, pool)
    DYNAMIC = 1  # recomputed from current demand at every tick


# --------------------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _unit_before(j1, k1, j2, k2, priority, rank):
    """True when unit ``k1`` of job ``j1`` is handed out before unit ``k2`` of job ``j2``.

    Unit k of job j comes at level (2k - 1) / (2 priority_j); compared exactly by
    cross-multiplication, ties to the lower ``rank`` (higher priority, then lower index).
    """
    lhs = (2 * k1 - 1) * priority[j2]
    rhs = (2 * k2 - 1) * priority[j1]
    if lhs != rhs:
        return lhs < rhs
    return rank[j1] < rank[j2]


@numba.njit(cache=True)
def _fill_at_level(level, priority, base, cap, alloc):
    """Give every job the units whose level is <= ``level``; return how many above base."""
    total = 0
    for j in range(priority.shape[0]):
        a = np.int64(np.floor(level * priority[j] + 0.5))
        if a < base[j]:
            a = base[j]
        elif a > cap[j]:
            a = cap[j]
        alloc[j] = a
        total += a - base[j]
    return total


@numba.njit(cache=True)
def _water_fill(extra, priority, base, cap, rank, alloc):
    """Hand out exactly ``extra`` units above ``base`` (0 < extra < available) into alloc.

    The result is the first ``extra`` units of the global order of ``_unit_before``.
    """
    n = priority.shape[0]
    hi = 0.0
    for j in range(n):
        if cap[j] > base[j]:
            h = (cap[j] + 0.5) / priority[j]
            if h > hi:
                hi = h
    lo = 0.0
    # Bisection for the largest level that hands out at most ``extra`` units; it only
    # needs to be close: the exact repair below fixes the boundary units.
    for _ in range(128):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        c = _fill_at_level(mid, priority, base, cap, alloc)
        if c <= extra:
            lo = mid
            if c == extra:
                break
        else:
            hi = mid
    total = _fill_at_level(lo, priority, base, cap, alloc)
    # Exact repair: make the handed-out units a prefix of the order, of length ``extra``.
    # ``total <= extra`` here (the bisection keeps count(lo) <= extra). Each step adds the
    # first unit not handed out, or swaps it with the last unit handed out when the two
    # are out of order (float rounding at the level); it ends because the count only
    # grows to ``extra`` and then every swap moves a unit strictly earlier in the order.
    while True:
        jin = -1  # job holding the last unit handed out
        jout = -1  # job holding the first unit not handed out
        for j in range(n):
            if alloc[j] > base[j]:
                if jin < 0 or _unit_before(jin, alloc[jin], j, alloc[j], priority, rank):
                    jin = j
            if alloc[j] < cap[j]:
                if jout < 0 or _unit_before(j, alloc[j] + 1, jout, alloc[jout] + 1, priority, rank):
                    jout = j
        if total < extra:
            alloc[jout] += 1
            total += 1
        elif (
            jin >= 0
            and jout >= 0
            and _unit_before(jout, alloc[jout] + 1, jin, alloc[jin], priority, rank)
        ):
            alloc[jin] -= 1
            alloc[jout] += 1
        else:
            break


@numba.njit(cache=True)
def _allocate(pool_size, priority, minimum, maximum, demand):
    """Split one pool of ``pool_size`` units among n jobs (all int64, shape (n,)).

    Expects priority >= 1, 0 <= minimum <= maximum, demand >= 0 (the public layer checks).
    Returns int64 alloc of shape (n,). See the module docstring for the rule.
    """
    n = priority.shape[0]
    alloc = np.zeros(n, np.int64)
    if n == 0:
        return alloc
    order = np.argsort(-priority, kind="mergesort")  # stable: equal priority by index
    rank = np.empty(n, np.int64)
    for r in range(n):
        rank[order[r]] = r
    left = pool_size
    for r in range(n):
        j = order[r]
        g = min(minimum[j], maximum[j], left)  # left >= 0 throughout
        alloc[j] = g
        left -= g
    if left <= 0:
        return alloc
    base = alloc.copy()
    cap = np.empty(n, np.int64)
    available = 0
    for j in range(n):
        c = min(maximum[j], demand[j])
        if c < base[j]:
            c = base[j]
        cap[j] = c
        available += c - base[j]
    extra = min(left, available)
    if extra == 0:
        return alloc
    if extra == available:
        return cap
    _water_fill(extra, priority, base, cap, rank, alloc)
    return alloc


@numba.njit(cache=True)
def _allocate_pools(pool_sizes, kind, priority, minimum, maximum, demand):
    """Split every pool at once: job j draws from pool ``kind[j]``.

    pool_sizes: int64 (n_pools,); kind, priority, minimum, maximum, demand: int64 (n,).
    Tie-breaking by index uses the jobs' order in these arrays. Returns int64 (n,).
    """
    n = kind.shape[0]
    alloc = np.zeros(n, np.int64)
    for p in range(pool_sizes.shape[0]):
        idx = np.nonzero(kind == p)[0]
        if idx.shape[0] == 0:
            continue
        part = _allocate(pool_sizes[p], priority[idx], minimum[idx], maximum[idx], demand[idx])
        for i in range(idx.shape[0]):
            alloc[idx[i]] = part[i]
    return alloc


# --------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------


def _int(name: str, value: object) -> int:
    """``value`` as a Python int, or a ValueError naming ``name``."""
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


def _int_array(name: str, values: object, n: int | None = None) -> np.ndarray:
    """``values`` as a fresh 1-D int64 array (length ``n`` if given), or a ValueError."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if arr.size and (arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} must have length {n}, got {arr.shape[0]}")
    if arr.size and np.issubdtype(arr.dtype, np.unsignedinteger) and arr.max() > 2**63 - 1:
        raise ValueError(f"{name} holds values beyond int64")
    return np.array(arr, dtype=np.int64)


def _check_range(name: str, arr: np.ndarray, lo: int, hi: int) -> None:
    bad = np.nonzero((arr < lo) | (arr > hi))[0]
    if bad.size:
        j = int(bad[0])
        raise ValueError(f"{name}[{j}] (job {j}) must be in [{lo}, {hi}], got {int(arr[j])}")


def _check_jobs(
    priority: np.ndarray, minimum: np.ndarray, maximum: np.ndarray, demand: np.ndarray
) -> None:
    _check_range("priority", priority, 1, LICENSE_MAX_PRIORITY)
    _check_range("minimum", minimum, 0, LICENSE_MAX_UNITS)
    _check_range("maximum", maximum, 0, LICENSE_MAX_UNITS)
    _check_range("demand", demand, 0, 2**63 - 1)
    bad = np.nonzero(minimum > maximum)[0]
    if bad.size:
        j = int(bad[0])
        raise ValueError(
            f"minimum[{j}] = {int(minimum[j])} exceeds maximum[{j}] = {int(maximum[j])} "
            f"(job {j}); expected minimum <= maximum"
        )


def pool_sizes_array(pool_sizes: Sequence[int] | Mapping[LicenseKind, int]) -> np.ndarray:
    """Pool sizes as an int64 array of shape (len(LicenseKind),), indexed by LicenseKind.

    Accepts a sequence of ``len(LicenseKind)`` sizes in LicenseKind order, or a mapping
    from LicenseKind (or its int value) to size, missing pools being 0. Sizes are pool
    units in [0, LICENSE_MAX_UNITS]. Raises ValueError otherwise.
    """
    if isinstance(pool_sizes, Mapping):
        out = np.zeros(N_POOLS, np.int64)
        for key, size in pool_sizes.items():
            k = _int("pool_sizes key", key)
            if not 0 <= k < N_POOLS:
                raise ValueError(f"pool_sizes key must be a LicenseKind, got {key!r}")
            size = _int(f"pool_sizes[{LicenseKind(k).name}]", size)
            if not 0 <= size <= LICENSE_MAX_UNITS:
                raise ValueError(f"pool_sizes[{LicenseKind(k).name}] must be in "
                                 f"[0, {LICENSE_MAX_UNITS}], got {size}")
            out[k] = size
    else:
        out = _int_array("pool_sizes", pool_sizes, N_POOLS)
    bad = np.nonzero((out < 0) | (out > LICENSE_MAX_UNITS))[0]
    if bad.size:
        k = int(bad[0])
        raise ValueError(
            f"pool_sizes[{LicenseKind(k).name}] must be in [0, {LICENSE_MAX_UNITS}], "
            f"got {int(out[k])}"
        )
    return out


# --------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------


def allocate_pool(
    pool_size: int,
    priority: Sequence[int] | np.ndarray,
    minimum: Sequence[int] | np.ndarray,
    maximum: Sequence[int] | np.ndarray,
    demand: Sequence[int] | np.ndarray,
) -> np.ndarray:
    """Split one pool of ``pool_size`` units among n jobs (module docstring: the rule).

    Args:
        pool_size: units in the pool, in [0, LICENSE_MAX_UNITS].
        priority: (n,) integers in [1, LICENSE_MAX_PRIORITY]; higher is more important
            and is the water-filling weight. Equal priorities: lower index first.
        minimum: (n,) units guaranteed when the pool covers every minimum.
        maximum: (n,) units never exceeded; minimum <= maximum <= LICENSE_MAX_UNITS.
        demand: (n,) units the job could use now (>= 0); a job gets at most
            max(its minimum share, min(maximum, demand)).

    Returns:
        int64 array (n,) of units per job; its sum never exceeds ``pool_size``.

    Raises:
        ValueError: naming the argument and job index of the first bad value.
    """
    size = _int("pool_size", pool_size)
    if not 0 <= size <= LICENSE_MAX_UNITS:
        raise ValueError(f"pool_size must be in [0, {LICENSE_MAX_UNITS}], got {size}")
    p = _int_array("priority", priority)
    n = p.shape[0]
    lo = _int_array("minimum", minimum, n)
    hi = _int_array("maximum", maximum, n)
    d = _int_array("demand", demand, n)
    _check_jobs(p, lo, hi, d)
    return _allocate(np.int64(size), p, lo, hi, d)


def allocate(
    pool_sizes: Sequence[int] | Mapping[LicenseKind, int],
    kind: Sequence[int] | np.ndarray,
    priority: Sequence[int] | np.ndarray,
    minimum: Sequence[int] | np.ndarray,
    maximum: Sequence[int] | np.ndarray,
    demand: Sequence[int] | np.ndarray,
) -> np.ndarray:
    """Split every pool at once; job j draws from pool ``kind[j]`` (a LicenseKind).

    Args:
        pool_sizes: see :func:`pool_sizes_array` (one size per LicenseKind).
        kind: (n,) LicenseKind values.
        priority, minimum, maximum, demand: (n,) as in :func:`allocate_pool`.

    Returns:
        int64 array (n,) of units per job, each pool split as by :func:`allocate_pool`
        over its own jobs in their order here.

    Raises:
        ValueError: naming the argument and job index of the first bad value.
    """
    sizes = pool_sizes_array(pool_sizes)
    k = _int_array("kind", kind)
    n = k.shape[0]
    _check_range("kind", k, 0, N_POOLS - 1)
    p = _int_array("priority", priority, n)
    lo = _int_array("minimum", minimum, n)
    hi = _int_array("maximum", maximum, n)
    d = _int_array("demand", demand, n)
    _check_jobs(p, lo, hi, d)
    return _allocate_pools(sizes, k, p, lo, hi, d)


# --------------------------------------------------------------------------------------
# Stateful distributor
# --------------------------------------------------------------------------------------


class LicenseDistributor:
    """The running jobs' license parameters and their current allocation.

    Jobs are keyed by any hashable id and kept in the order they were added: that order is
    the "job index" that breaks ties between equal priorities (an older job wins). Setters
    change the parameters at once but the allocation only at the next :meth:`tick` (or an
    explicit :meth:`allocate`), so runtime changes of minimum and priority take effect on
    the next tick.

    Args:
        pool_sizes: one size per LicenseKind (see :func:`pool_sizes_array`).
        mode: RESERVED (kept until a recalculation event in the pool) or DYNAMIC
            (recomputed from the current demand at every tick).

    Raises:
        ValueError: on bad sizes, values or mode; KeyError on an unknown job.
    """

    def __init__(
        self,
        pool_sizes: Sequence[int] | Mapping[LicenseKind, int],
        mode: DistributionMode = DistributionMode.DYNAMIC,
    ) -> None:
        self._sizes = pool_sizes_array(pool_sizes)
        self._mode = self._check_mode(mode)
        self._jobs: list[Hashable] = []
        self._row: dict[Hashable, int] = {}
        self._kind = np.zeros(0, np.int64)
        self._priority = np.zeros(0, np.int64)
        self._minimum = np.zeros(0, np.int64)
        self._maximum = np.zeros(0, np.int64)
        self._demand = np.zeros(0, np.int64)
        self._alloc = np.zeros(0, np.int64)
        self._dirty = np.ones(N_POOLS, np.bool_)  # pools awaiting a recalculation

    @staticmethod
    def _check_mode(mode: object) -> DistributionMode:
        try:
            return DistributionMode(mode)
        except ValueError:
            raise ValueError(f"mode must be a DistributionMode, got {mode!r}") from None

    # ---- read-only views -------------------------------------------------------------

    @property
    def mode(self) -> DistributionMode:
        """RESERVED or DYNAMIC; setting it schedules a recalculation of every pool."""
        return self._mode

    @mode.setter
    def mode(self, mode: DistributionMode) -> None:
        self._mode = self._check_mode(mode)
        self._dirty[:] = True

    @property
    def jobs(self) -> tuple[Hashable, ...]:
        """Job ids in row order (the order they were added)."""
        return tuple(self._jobs)

    @property
    def pool_sizes(self) -> np.ndarray:
        """Copy of the pool sizes, int64 (len(LicenseKind),), indexed by LicenseKind."""
        return self._sizes.copy()

    @property
    def allocation_array(self) -> np.ndarray:
        """Copy of the current allocation, int64 (n_jobs,), in :attr:`jobs` order."""
        return self._alloc.copy()

    def allocation(self, job: Hashable) -> int:
        """Units currently allocated to ``job`` (0 for a job added since the last tick)."""
        return int(self._alloc[self._index(job)])

    def allocations(self) -> dict[Hashable, int]:
        """Current allocation as {job id: units}."""
        return {job: int(a) for job, a in zip(self._jobs, self._alloc, strict=True)}

    def used(self) -> np.ndarray:
        """Units allocated per pool, int64 (len(LicenseKind),)."""
        return np.bincount(self._kind, weights=self._alloc, minlength=N_POOLS).astype(np.int64)

    # ---- events ------------------------------------------------------------------------

    def _index(self, job: Hashable) -> int:
        try:
            return self._row[job]
        except KeyError:
            raise KeyError(f"unknown job {job!r}") from None
        except TypeError:
            raise ValueError(f"job: expected a hashable job id, got {job!r:.60}") from None

    def set_pool_size(self, kind: LicenseKind, size: int) -> None:
        """Resize one pool (units); a recalculation event for that pool."""
        k = _int("kind", kind)
        if not 0 <= k < N_POOLS:
            raise ValueError(f"kind must be a LicenseKind, got {kind!r}")
        s = _int(f"size of pool {LicenseKind(k).name}", size)
        if not 0 <= s <= LICENSE_MAX_UNITS:
            raise ValueError(
                f"size of pool {LicenseKind(k).name} must be in [0, {LICENSE_MAX_UNITS}], got {s}"
            )
        self._sizes[k] = s
        self._dirty[k] = True

    def add_job(
        self,
        job: Hashable,
        kind: LicenseKind,
        priority: int,
        minimum: int,
        maximum: int,
        demand: int,
    ) -> None:
        """Start a job (a recalculation event for its pool); allocated at the next tick."""
        try:
            running = job in self._row
        except TypeError:
            raise ValueError(f"job: expected a hashable job id, got {job!r:.60}") from None
        if running:
            raise ValueError(f"job {job!r} is already running")
        k = _int(f"job {job!r}: kind", kind)
        if not 0 <= k < N_POOLS:
            raise ValueError(f"job {job!r}: kind must be a LicenseKind, got {kind!r}")
        p = self._check_priority(job, priority)
        hi = self._check_units(job, "maximum", maximum)
        lo = self._check_units(job, "minimum", minimum)
        self._check_min_max(job, lo, hi)
        d = self._check_demand(job, demand)
        self._row[job] = len(self._jobs)
        self._jobs.append(job)
        self._kind = np.append(self._kind, k)
        self._priority = np.append(self._priority, p)
        self._minimum = np.append(self._minimum, lo)
        self._maximum = np.append(self._maximum, hi)
        self._demand = np.append(self._demand, d)
        self._alloc = np.append(self._alloc, 0)
        self._dirty[k] = True

    def remove_job(self, job: Hashable) -> None:
        """Stop a job (a recalculation event for its pool); its units are freed now."""
        i = self._index(job)
        self._dirty[self._kind[i]] = True
        del self._jobs[i]
        self._row = {j: r for r, j in enumerate(self._jobs)}
        self._kind = np.delete(self._kind, i)
        self._priority = np.delete(self._priority, i)
        self._minimum = np.delete(self._minimum, i)
        self._maximum = np.delete(self._maximum, i)
        self._demand = np.delete(self._demand, i)
        self._alloc = np.delete(self._alloc, i)

    def set_priority(self, job: Hashable, priority: int) -> None:
        """Change a job's priority (a recalculation event); effective at the next tick."""
        i = self._index(job)
        self._priority[i] = self._check_priority(job, priority)
        self._dirty[self._kind[i]] = True

    def set_minimum(self, job: Hashable, minimum: int) -> None:
        """Change a job's minimum (a recalculation event); effective at the next tick."""
        i = self._index(job)
        lo = self._check_units(job, "minimum", minimum)
        self._check_min_max(job, lo, int(self._maximum[i]))
        self._minimum[i] = lo
        self._dirty[self._kind[i]] = True

    def set_maximum(self, job: Hashable, maximum: int) -> None:
        """Change a job's maximum (a recalculation event); effective at the next tick."""
        i = self._index(job)
        hi = self._check_units(job, "maximum", maximum)
        self._check_min_max(job, int(self._minimum[i]), hi)
        self._maximum[i] = hi
        self._dirty[self._kind[i]] = True

    def set_demand(self, job: Hashable, demand: int) -> None:
        """Update a job's current demand (units). Not a recalculation event: DYNAMIC mode
        uses it at the next tick, RESERVED mode at the next recalculation."""
        self._demand[self._index(job)] = self._check_demand(job, demand)

    def request_recalculation(self, kind: LicenseKind | None = None) -> None:
        """Signal a recalculation event for one pool (or every pool when ``kind`` is None)."""
        if kind is None:
            self._dirty[:] = True
            return
        k = _int("kind", kind)
        if not 0 <= k < N_POOLS:
            raise ValueError(f"kind must be a LicenseKind, got {kind!r}")
        self._dirty[k] = True

    # ---- computing ---------------------------------------------------------------------

    def allocate(self) -> np.ndarray:
        """Recompute every pool now from the current parameters and demand.

        Returns a copy of the allocation, int64 (n_jobs,), in :attr:`jobs` order.
        """
        self._alloc = _allocate_pools(
            self._sizes, self._kind, self._priority, self._minimum, self._maximum, self._demand
        )
        self._dirty[:] = False
        return self._alloc.copy()

    def tick(self) -> np.ndarray:
        """Advance one tick: DYNAMIC recomputes every pool; RESERVED recomputes only the
        pools with a recalculation event since the last tick and keeps the others.

        Returns a copy of the allocation, int64 (n_jobs,), in :attr:`jobs` order.
        """
        if self._mode == DistributionMode.DYNAMIC or self._dirty.all():
            return self.allocate()
        if self._dirty.any():
            fresh = _allocate_pools(
                self._sizes,
                self._kind,
                self._priority,
                self._minimum,
                self._maximum,
                self._demand,
            )
            self._alloc = np.where(self._dirty[self._kind], fresh, self._alloc)
            self._dirty[:] = False
        return self._alloc.copy()

    # ---- checks ------------------------------------------------------------------------

    @staticmethod
    def _check_priority(job: Hashable, priority: object) -> int:
        p = _int(f"job {job!r}: priority", priority)
        if not 1 <= p <= LICENSE_MAX_PRIORITY:
            raise ValueError(
                f"job {job!r}: priority must be in [1, {LICENSE_MAX_PRIORITY}], got {p}"
            )
        return p

    @staticmethod
    def _check_units(job: Hashable, name: str, value: object) -> int:
        v = _int(f"job {job!r}: {name}", value)
        if not 0 <= v <= LICENSE_MAX_UNITS:
            raise ValueError(f"job {job!r}: {name} must be in [0, {LICENSE_MAX_UNITS}], got {v}")
        return v

    @staticmethod
    def _check_min_max(job: Hashable, minimum: int, maximum: int) -> None:
        if minimum > maximum:
            raise ValueError(
                f"job {job!r}: minimum {minimum} exceeds maximum {maximum}; "
                "expected minimum <= maximum"
            )

    @staticmethod
    def _check_demand(job: Hashable, demand: object) -> int:
        d = _int(f"job {job!r}: demand", demand)
        if not 0 <= d <= 2**63 - 1:
            raise ValueError(f"job {job!r}: demand must be >= 0, got {d}")
        return d


def warmup() -> None:
    """Compile this module's kernels (cached on disk) so no live decision waits on a JIT."""
    one = np.ones(3, np.int64)
    _allocate(np.int64(5), one, one, one * 3, one * 2)
    _allocate_pools(
        np.full(N_POOLS, 5, np.int64), np.arange(3, dtype=np.int64), one, one, one * 3, one * 2
    )

"""Closed forms for the queues the simulator must reproduce: Erlang B, C and A.

Defined once here; the simulator's validation tests and ``outdial erlang`` import them.

Conventions (all functions):

- rates are per second inside the formulas; the public arguments carry their units in
  their names (``calls_per_hour``, ``aht_s``, ``patience_s``, ``target_s``);
- ``lambda`` = arrival rate, ``mu`` = 1 / mean handling time, ``theta`` = 1 / mean
  patience, ``n`` = servers (trunks or agents), ``A = lambda / mu`` offered traffic in
  erlangs, ``rho = lambda / (n * mu)``;
- probabilities are fractions in [0, 1]; "service level" is the share of *all* offered
  calls answered within ``target_s`` seconds (calls that abandon, even before
  ``target_s``, count as not answered);
- invalid arguments raise ``ValueError`` naming the argument and what was expected.

Formulas and sources are given in each docstring. The solvers (``servers_for_blocking``,
``agents_for_goals``) return the smallest count whose forward figures meet the goals, so a
solved count and the forward form at that count always agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

__all__ = [
    "ErlangAMetrics",
    "ErlangCMetrics",
    "StaffingGoals",
    "agents_for_goals",
    "agents_for_service_level",
    "erlang_a",
    "erlang_a_metrics",
    "erlang_b",
    "erlang_b_capacity",
    "erlang_c",
    "erlang_c_metrics",
    "max_calls_for_goals",
    "meets_goals",
    "scheduled_agents",
    "servers_for_blocking",
]

SECONDS_PER_HOUR = 3600.0


# --------------------------------------------------------------------------- validation


def _finite_at_least(name: str, value: float, low: float, *, open_low: bool) -> float:
    value = float(value)
    ok = math.isfinite(value) and (value > low if open_low else value >= low)
    if not ok:
        relation = ">" if open_low else ">="
        raise ValueError(f"{name} must be a finite number {relation} {low:g}, got {value!r}")
    return value


def _positive(name: str, value: float) -> float:
    return _finite_at_least(name, value, 0.0, open_low=True)


def _non_negative(name: str, value: float) -> float:
    return _finite_at_least(name, value, 0.0, open_low=False)


def _offered_load(cph: float, aht: float) -> float:
    """Offered load in erlangs (``cph * aht / 3600``); ``ValueError`` when it overflows
    (1e308 calls per hour): no staff count can carry it and ``floor`` cannot take it."""
    load = cph * aht / SECONDS_PER_HOUR
    if not math.isfinite(load):
        raise ValueError(f"no count up to {MAX_COUNT:,} meets the goal (the offered load, "
                         f"{cph:g} calls per hour x {aht:g} s, is beyond any float)")
    return load


def _count(name: str, value: int, low: int) -> int:
    """An integer count >= low; integral floats (``14.0``) are accepted, ``14.5`` is not."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}") from None
    if not math.isfinite(as_float) or as_float != math.floor(as_float) or as_float < low:
        raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
    return int(as_float)


# --------------------------------------------------------------------------- Erlang B / C


def erlang_b(traffic_erlangs: float, servers: int) -> float:
    """Blocking probability of an M/M/n/n loss system (Erlang B), e.g. ports or trunks.

    ``B(A, n) = (A^n / n!) / sum_{k=0..n} A^k / k!``, evaluated by the stable recursion
    ``B_0 = 1``, ``B_k = A * B_{k-1} / (k + A * B_{k-1})`` (every step is a ratio in
    [0, 1], so nothing overflows; n = 10^5 is fine). Source: A. K. Erlang (1917); the
    recursion is the standard one, e.g. Cooper, *Introduction to Queueing Theory* (1981).

    Args:
        traffic_erlangs: offered traffic ``A = lambda / mu`` in erlangs, >= 0.
        servers: number of servers ``n``, a whole number >= 0 (``n = 0`` blocks all: 1.0).

    Raises:
        ValueError: on a negative or non-finite traffic or a non-integral / negative count.
    """
    a = _non_negative("traffic_erlangs", traffic_erlangs)
    n = _count("servers", servers, 0)
    b = 1.0
    for k in range(1, n + 1):
        ab = a * b
        b = ab / (k + ab)
    return b


def erlang_c(traffic_erlangs: float, servers: int) -> float:
    """Probability that a call waits in an M/M/n queue (Erlang C).

    ``C(A, n) = n * B / (n - A * (1 - B))`` with ``B = erlang_b(A, n)``, for ``A < n``;
    the queue is unstable for ``A >= n`` and every call waits: 1.0. Source: A. K. Erlang
    (1917); the B-to-C relation e.g. Cooper (1981), section 3.4.

    Args:
        traffic_erlangs: offered traffic ``A = lambda / mu`` in erlangs, >= 0.
        servers: number of agents ``n``, a whole number >= 0.

    Raises:
        ValueError: as :func:`erlang_b`.
    """
    a = _non_negative("traffic_erlangs", traffic_erlangs)
    n = _count("servers", servers, 0)
    if a >= n:
        return 1.0
    b = erlang_b(a, n)
    return n * b / (n - a * (1.0 - b))


def erlang_b_capacity(servers: int, blocking: float) -> float:
    """Traffic in erlangs that ``servers`` trunks are offered at a given Erlang B blocking.

    Solves ``erlang_b(A, servers) = blocking`` for ``A`` (Brent's method; B is increasing
    in A). The root lies in ``[0, n / (1 - blocking)]`` because carried traffic
    ``A * (1 - B)`` never exceeds ``n``. Example: 15 trunks at 1 % blocking carry
    8.108 E (standard Erlang B tables).

    Args:
        servers: number of servers, a whole number >= 1.
        blocking: target blocking probability, in (0, 1).

    Returns:
        Offered traffic in erlangs (the carried traffic is ``A * (1 - blocking)``).

    Raises:
        ValueError: on ``servers < 1`` or ``blocking`` outside (0, 1).
    """
    n = _count("servers", servers, 1)
    p = float(blocking)
    if not (math.isfinite(p) and 0.0 < p < 1.0):
        raise ValueError(f"blocking must be a probability in (0, 1), got {blocking!r}")
    high = n / (1.0 - p)
    return float(optimize.brentq(lambda a: erlang_b(a, n) - p, 0.0, high, xtol=1e-12, rtol=1e-14))


@dataclass(frozen=True)
class ErlangCMetrics:
    """Steady-state M/M/n (Erlang C) figures for one staffing level.

    Attributes:
        p_wait: probability a call waits (Erlang C), in [0, 1].
        asa_s: average speed of answer in seconds, over all calls (zero waits included);
            ``inf`` when the queue is unstable (load >= agents).
        service_level: share of calls answered within the target, in [0, 1].
        occupancy: share of agent time busy, ``lambda / (n * mu)`` capped at 1.
    """

    p_wait: float
    asa_s: float
    service_level: float
    occupancy: float


def erlang_c_metrics(
    calls_per_hour: float, aht_s: float, agents: int, target_s: float = 20.0
) -> ErlangCMetrics:
    """Erlang C (M/M/n, infinite patience) waiting, service level and occupancy.

    With ``lambda = calls_per_hour / 3600``, ``mu = 1 / aht_s``, ``A = lambda / mu``,
    ``n = agents`` and ``C = erlang_c(A, n)``:

    - ``p_wait = C``;
    - ``asa_s = C / (n * mu - lambda)``;
    - ``service_level = 1 - C * exp(-(n * mu - lambda) * target_s)``;
    - ``occupancy = min(1, lambda / (n * mu))``.

    For ``A >= n`` (unstable): ``p_wait = 1``, ``asa_s = inf``, ``service_level = 0``,
    ``occupancy = 1``. Source: the standard M/M/n results (e.g. Cooper 1981; Gans, Koole
    and Mandelbaum, "Telephone call centers", MSOM 2003). Published check: 100 calls per
    30 min, AHT 180 s, 14 agents, 20 s target give P(wait) 0.1741, SL 0.8884, ASA 7.84 s.

    Args:
        calls_per_hour: offered calls per hour, >= 0.
        aht_s: average handling time (talk + wrap) in seconds, > 0.
        agents: agents staffed, a whole number >= 1.
        target_s: service-level threshold in seconds, >= 0.

    Raises:
        ValueError: naming the first invalid argument.
    """
    cph = _non_negative("calls_per_hour", calls_per_hour)
    aht = _positive("aht_s", aht_s)
    n = _count("agents", agents, 1)
    t = _non_negative("target_s", target_s)
    # A from cph x AHT (``_offered_load``, the load the calculators report): lambda / mu
    # rounded 200 calls/h x 180 s to 9.999999999999998 E, so 10 agents read as stable
    # with an ASA of 1.4e17 s
    a = _offered_load(cph, aht)
    if a >= n:
        return ErlangCMetrics(p_wait=1.0, asa_s=math.inf, service_level=0.0, occupancy=1.0)
    c = erlang_c(a, n)
    drain = (n - a) / aht  # n mu - lambda
    return ErlangCMetrics(
        p_wait=c,
        asa_s=c / drain,
        service_level=min(1.0, max(0.0, 1.0 - c * math.exp(-drain * t))),
        occupancy=a / n,
    )


def agents_for_service_level(
    calls_per_hour: float, aht_s: float, target_s: float, service_level: float
) -> int:
    """Fewest agents whose Erlang C service level reaches ``service_level``.

    The smallest ``n > A`` with ``erlang_c_metrics(calls_per_hour, aht_s, n,
    target_s).service_level >= service_level``; SL increases with ``n``, so the search
    walks up from ``floor(A) + 1``. Zero traffic needs one agent (at least one is
    staffed). Example: 200 calls/h, AHT 180 s, 80 % in 20 s needs 14 agents (13 give
    79.6 %).

    Args:
        calls_per_hour: offered calls per hour, >= 0.
        aht_s: average handling time in seconds, > 0.
        target_s: service-level threshold in seconds, >= 0.
        service_level: required share answered within ``target_s``, in (0, 1).

    Raises:
        ValueError: naming the first invalid argument.
    """
    cph = _non_negative("calls_per_hour", calls_per_hour)
    aht = _positive("aht_s", aht_s)
    t = _non_negative("target_s", target_s)
    goal = float(service_level)
    if not (math.isfinite(goal) and 0.0 < goal < 1.0):
        raise ValueError(f"service_level must be a fraction in (0, 1), got {service_level!r}")
    a = _offered_load(cph, aht)
    return _smallest(lambda n: erlang_c_metrics(cph, aht, n, t).service_level >= goal,
                     math.floor(a) + 1)


# --------------------------------------------------------------------------- Erlang A

# Above this many series terms, prefer the incomplete-gamma route (only for a shape
# parameter above ~4e8 with y just below it, where the incomplete gamma rarely underflows;
# when it does, the long series is summed after all).
_MAX_SERIES_TERMS = 200_000
_SERIES_CHUNK = 2048
# The series route is used unconditionally below this argument (at most ~y + 300 terms,
# largest term < e^60, so no overflow).
_SMALL_ARGUMENT = 60.0


def _log_kummer_m(a: float, y: float) -> tuple[float, float]:
    """``log M`` and ``1 - 1/M`` for ``M(a, y) = 1F1(1; a + 1; y)``, ``a > 0``, ``y >= 0``.

    ``M(a, y) = sum_{k>=0} y^k / ((a + 1)(a + 2)...(a + k)) = a e^y y^(-a) gamma_lower(a, y)``
    is Garnett, Mandelbaum and Reiman's ``A(x, y)`` with ``a = x``. Two routes, so that
    neither underflow nor cancellation bites:

    - the series, when it is short: ``y`` small, or ``y < a`` (terms then fall at least
      geometrically); this is the regime where ``gamma_lower(a, y)`` can underflow and
      where ``M`` is close to 1 (``M - 1`` is summed directly, without cancellation);
    - otherwise ``log M = y - a log y + gammaln(a + 1) + log P(a, y)`` with
      ``P = scipy.special.gammainc`` (regularised), which is then not small. The terms
      are of size ``a log a``, so ``log M`` carries an absolute error of about
      ``1e-16 * a log a`` (1e-12 at a = 3000): harmless for planning figures.
    """
    if y <= 0.0:
        return 0.0, 0.0
    ratio = y / (a + 1.0)
    if y <= _SMALL_ARGUMENT or ratio < 1.0:
        # Terms to reach 1e-17 relative: geometric bound, or ~9 sqrt(a) when y ~ a.
        if ratio < 1.0:
            estimate = min(40.0 / max(-math.log(ratio), 1e-300), 10.0 * math.sqrt(a) + 100.0)
        else:
            estimate = y + 300.0
        if estimate <= _MAX_SERIES_TERMS:
            return _kummer_series(a, y)
    p = float(special.gammainc(a, y))
    if p < 1e-300:  # would underflow: only for a > ~1e8 with y just below a; sum it out.
        return _kummer_series(a, y)
    log_m = y - a * math.log(y) + float(special.gammaln(a + 1.0)) + math.log(p)
    return log_m, -math.expm1(-log_m)


def _kummer_series(a: float, y: float) -> tuple[float, float]:
    """Sum ``M(a, y) - 1 = sum_{k>=1} prod_{i<=k} y / (a + i)`` in vectorised chunks."""
    tail = 0.0  # M - 1
    term = 1.0
    k0 = 1
    while True:
        k = np.arange(k0, k0 + _SERIES_CHUNK, dtype=np.float64)
        terms = term * np.cumprod(y / (a + k))
        tail += float(terms.sum())
        term = float(terms[-1])
        k0 += _SERIES_CHUNK
        # Past the peak (k > y - a) the terms fall; stop once they no longer count.
        if k0 > y - a and term <= 1e-18 * (1.0 + tail):
            break
    return math.log1p(tail), tail / (1.0 + tail)


@dataclass(frozen=True)
class ErlangAMetrics:
    """Steady-state M/M/n+M (Erlang A) figures for one staffing level.

    Attributes:
        p_wait: probability an arriving call finds all agents busy and queues, in [0, 1].
        p_abandon: probability a call abandons (hangs up while queued), in [0, 1].
        mean_wait_s: mean time in queue in seconds over all calls (answered, abandoned and
            not delayed alike).
        service_level: share of all calls answered within the target, in [0, 1]; calls
            that abandon count as not answered.
        occupancy: share of agent time busy, ``lambda * (1 - p_abandon) / (n * mu)``.
    """

    p_wait: float
    p_abandon: float
    mean_wait_s: float
    service_level: float
    occupancy: float


def erlang_a(
    arrival_rate_per_s: float,
    service_rate_per_s: float,
    agents: int,
    abandon_rate_per_s: float,
    target_s: float = 20.0,
) -> ErlangAMetrics:
    """Erlang A (M/M/n+M): Poisson calls, exponential handling and exponential patience.

    The rate form; :func:`erlang_a_metrics` takes planner units (calls per hour, seconds).
    Source: Garnett, Mandelbaum and Reiman, "Designing a call center with impatient
    customers", MSOM 4(3), 2002. With ``lambda = arrival_rate_per_s``,
    ``mu = service_rate_per_s``, ``theta = abandon_rate_per_s`` (1 / mean patience),
    ``n = agents``, ``x = n mu / theta``, ``y = lambda / theta``, ``rho = lambda / (n mu)``:

    - ``A(x, y) = x e^y y^(-x) gamma_lower(x, y)`` (computed in logs, or by its series
      ``sum_k y^k / ((x+1)...(x+k))`` where the incomplete gamma would underflow);
    - ``E = erlang_b(lambda / mu, n)``; ``pi_n = E / (1 + (A - 1) E)``;
    - ``p_wait = A pi_n``; ``P(abandon | wait) = 1/(rho A) + 1 - 1/rho``;
    - ``p_abandon = p_wait * P(abandon | wait)``; ``mean_wait_s = p_abandon / theta``
      (Little's law on the queue: ``theta E[Q] = lambda p_abandon``);
    - ``occupancy = lambda (1 - p_abandon) / (n mu)``.

    Service level (derived here, checked in the tests against the birth-death chain): a
    call arriving with ``k`` calls queued ahead reaches an agent after a sum of
    exponential stages of rates ``n mu + i theta``, ``i = k..0`` (its density is
    proportional to ``e^(-n mu v) (1 - e^(-theta v))^k``), and is still there with
    probability ``e^(-theta v)``. Weighting by the stationary ``pi_(n+k)`` and summing over
    ``k`` gives the defective density of the offered wait ``v`` over all arrivals,
    ``pi_n n mu exp(-n mu v + y (1 - e^(-theta v)))``, whence

        ``SL(t) = 1 - p_wait + pi_n x/(x+1) [M(x+1, y) - e^(y(1 - e^(-theta t)) - (n mu +
        theta) t) M(x+1, y e^(-theta t))]``

    with ``M(a, z) = 1F1(1; a+1; z)`` (so ``A(x, y) = M(x, y)``). At ``t = 0`` this is
    ``1 - p_wait``; as ``t -> inf`` it is ``1 - p_abandon``.

    Erlang A is stable at any load (``rho >= 1`` included); as patience grows it tends to
    Erlang C (for ``rho < 1``), as patience vanishes to Erlang B.

    Args:
        arrival_rate_per_s: offered calls per second, >= 0.
        service_rate_per_s: 1 / mean handling time, per second, > 0.
        agents: agents staffed, a whole number >= 1.
        abandon_rate_per_s: 1 / mean patience, per second, > 0.
        target_s: service-level threshold in seconds, >= 0.

    Raises:
        ValueError: naming the first invalid argument.
    """
    lam = _non_negative("arrival_rate_per_s", arrival_rate_per_s)
    mu = _positive("service_rate_per_s", service_rate_per_s)
    n = _count("agents", agents, 1)
    theta = _positive("abandon_rate_per_s", abandon_rate_per_s)
    t = _non_negative("target_s", target_s)
    if lam == 0.0:
        return ErlangAMetrics(0.0, 0.0, 0.0, 1.0, 0.0)
    rho = lam / (n * mu)
    x = n * mu / theta
    y = lam / theta

    log_a, one_minus_inv_a = _log_kummer_m(x, y)
    e = erlang_b(lam / mu, n)
    # p_wait = A E / (1 + (A - 1) E) = E / (E + (1 - E) / A); 1/A may underflow to 0.
    p_wait = e / (e + (1.0 - e) * (1.0 - one_minus_inv_a))
    # P(abandon | wait) = 1/(rho A) + 1 - 1/rho = 1 - (1 - 1/A) / rho.
    p_abandon_given_wait = min(1.0, max(0.0, 1.0 - one_minus_inv_a / rho))
    p_abandon = p_wait * p_abandon_given_wait
    served_after_wait = p_wait - p_abandon

    # Calls served after waiting longer than t: pi_n x/(x+1) e^(...) M(x+1, y e^(-theta t)),
    # with pi_n = p_wait / A.
    if p_wait > 0.0:
        z = y * math.exp(-theta * t)
        log_m_late, _ = _log_kummer_m(x + 1.0, z)
        log_late = (
            math.log(p_wait)
            - log_a
            + math.log(x / (x + 1.0))
            - y * math.expm1(-theta * t)
            - (n * mu + theta) * t
            + log_m_late
        )
        late = math.exp(min(log_late, 0.0))  # a probability: log > 0 only by rounding
    else:
        late = 0.0
    service_level = 1.0 - p_wait + max(0.0, served_after_wait - late)

    return ErlangAMetrics(
        p_wait=p_wait,
        p_abandon=p_abandon,
        mean_wait_s=p_abandon / theta,
        service_level=min(1.0, max(0.0, service_level)),
        occupancy=min(1.0, rho * (1.0 - p_abandon)),
    )


def erlang_a_metrics(
    calls_per_hour: float,
    aht_s: float,
    agents: int,
    patience_s: float,
    target_s: float = 20.0,
) -> ErlangAMetrics:
    """Erlang A (M/M/n+M) in planner units: :func:`erlang_a` with ``lambda =
    calls_per_hour / 3600``, ``mu = 1 / aht_s``, ``theta = 1 / patience_s``.

    Args:
        calls_per_hour: offered calls per hour, >= 0.
        aht_s: average handling time in seconds, > 0.
        agents: agents staffed, a whole number >= 1.
        patience_s: mean customer patience in seconds (exponential), > 0.
        target_s: service-level threshold in seconds, >= 0.

    Raises:
        ValueError: naming the first invalid argument.
    """
    cph = _non_negative("calls_per_hour", calls_per_hour)
    aht = _positive("aht_s", aht_s)
    patience = _positive("patience_s", patience_s)
    return erlang_a(cph / SECONDS_PER_HOUR, 1.0 / aht, agents, 1.0 / patience, target_s)


# --------------------------------------------------------------------------- solvers

# No planning question needs more servers than this; beyond it a goal is unreachable.
MAX_COUNT = 10_000_000
_MAX_COUNT = MAX_COUNT


def _smallest(ok, low: int) -> int:
    """Smallest ``n >= low`` with ``ok(n)``, for a predicate false then true as ``n`` grows.

    Doubling then bisection: ``O(log n)`` forward evaluations instead of one per count.

    Raises:
        ValueError: when no ``n`` up to ten million satisfies ``ok``.
    """
    low = max(1, int(low))
    if low > _MAX_COUNT:  # checked first: one evaluation costs O(low)
        raise ValueError(f"no count up to {_MAX_COUNT:,} meets the goal (the load alone "
                         f"needs {low:,})")
    if ok(low):
        return low
    high = low
    while not ok(high):
        low = high + 1
        high *= 2
        if high > _MAX_COUNT:
            raise ValueError(f"no count up to {_MAX_COUNT:,} meets the goal")
    while low < high:
        mid = (low + high) // 2
        if ok(mid):
            high = mid
        else:
            low = mid + 1
    return low


def servers_for_blocking(traffic_erlangs: float, blocking: float) -> int:
    """Fewest servers (ports, trunks) whose Erlang B blocking is at most ``blocking``.

    Smallest ``n >= 1`` with ``erlang_b(traffic_erlangs, n) <= blocking``; B falls as
    ``n`` grows, so the answer is exact. Example: 8.108 E at 1 % needs 15 servers
    (standard Erlang B tables).

    Args:
        traffic_erlangs: offered traffic in erlangs, >= 0.
        blocking: largest acceptable blocking probability, in (0, 1).

    Raises:
        ValueError: naming the first invalid argument.
    """
    a = _non_negative("traffic_erlangs", traffic_erlangs)
    p = float(blocking)
    if not (math.isfinite(p) and 0.0 < p < 1.0):
        raise ValueError(f"blocking must be a probability in (0, 1), got {blocking!r}")
    return _smallest(lambda n: erlang_b(a, n) <= p, 1)


@dataclass(frozen=True)
class StaffingGoals:
    """What a staffing level must achieve; ``None`` leaves a goal out.

    Attributes:
        service_level: least share of calls answered within ``target_s``, in (0, 1).
        target_s: the service-level threshold in seconds, >= 0.
        max_abandon: largest share of calls abandoning, in (0, 1) (Erlang A only).
        max_occupancy: largest agent occupancy, in (0, 1].
        max_asa_s: largest mean wait in seconds (ASA for Erlang C, mean wait of all calls
            for Erlang A), > 0.
    """

    service_level: float | None = None
    target_s: float = 20.0
    max_abandon: float | None = None
    max_occupancy: float | None = None
    max_asa_s: float | None = None

    def __post_init__(self) -> None:
        _non_negative("target_s", self.target_s)
        for name, value, top_closed in (("service_level", self.service_level, False),
                                        ("max_abandon", self.max_abandon, False),
                                        ("max_occupancy", self.max_occupancy, True)):
            if value is None:
                continue
            v = float(value)
            ok = math.isfinite(v) and 0.0 < v and (v <= 1.0 if top_closed else v < 1.0)
            if not ok:
                bound = "(0, 1]" if top_closed else "(0, 1)"
                raise ValueError(f"{name} must be a fraction in {bound}, got {value!r}")
        if self.max_asa_s is not None:
            _positive("max_asa_s", self.max_asa_s)

    @property
    def empty(self) -> bool:
        return (self.service_level is None and self.max_abandon is None
                and self.max_occupancy is None and self.max_asa_s is None)


def meets_goals(metrics: ErlangCMetrics | ErlangAMetrics, goals: StaffingGoals) -> bool:
    """Whether one staffing level's figures meet every goal set in ``goals``."""
    if goals.service_level is not None and metrics.service_level < goals.service_level:
        return False
    if goals.max_occupancy is not None and metrics.occupancy > goals.max_occupancy:
        return False
    if goals.max_abandon is not None:
        p_abandon = getattr(metrics, "p_abandon", None)
        if p_abandon is None:
            raise ValueError("max_abandon needs Erlang A (a patience): Erlang C callers never "
                             "abandon")
        if p_abandon > goals.max_abandon:
            return False
    if goals.max_asa_s is not None:
        wait = metrics.asa_s if isinstance(metrics, ErlangCMetrics) else metrics.mean_wait_s
        if not wait <= goals.max_asa_s:
            return False
    return True


def agents_for_goals(
    calls_per_hour: float,
    aht_s: float,
    goals: StaffingGoals,
    patience_s: float | None = None,
) -> int:
    """Fewest agents (on the phones) meeting every goal: Erlang C, or Erlang A with a patience.

    The smallest ``n >= 1`` for which :func:`meets_goals` holds on
    ``erlang_c_metrics(calls_per_hour, aht_s, n, goals.target_s)`` (or
    ``erlang_a_metrics(..., patience_s, ...)``). Service level rises and abandons, waits
    and occupancy fall as agents are added, so the smallest passing count is found by
    doubling then bisection and equals the brute-force scan (checked in the tests).

    Args:
        calls_per_hour: offered calls per hour, >= 0.
        aht_s: average handling time in seconds, > 0.
        goals: at least one goal.
        patience_s: mean caller patience in seconds for Erlang A; ``None`` for Erlang C.

    Raises:
        ValueError: on an invalid argument, no goal, or ``max_abandon`` without a patience.
    """
    cph = _non_negative("calls_per_hour", calls_per_hour)
    aht = _positive("aht_s", aht_s)
    if goals.empty:
        raise ValueError("give at least one goal: service_level, max_abandon, max_occupancy "
                         "or max_asa_s")
    load = _offered_load(cph, aht)
    if patience_s is None:
        if goals.max_abandon is not None:
            raise ValueError("max_abandon needs Erlang A (a patience): Erlang C callers "
                             "never abandon")

        def forward(n: int):
            return erlang_c_metrics(cph, aht, n, goals.target_s)

        low = math.floor(load) + 1  # below it the queue is unstable: no goal is met
    else:
        patience = _positive("patience_s", patience_s)

        def forward(n: int):
            return erlang_a_metrics(cph, aht, n, patience, goals.target_s)

        low = 1
    return _smallest(lambda n: meets_goals(forward(n), goals), low)


def scheduled_agents(agents: int, shrinkage: float) -> int:
    """Agents to schedule so that ``agents`` remain on the phones after ``shrinkage``.

    ``ceil(agents / (1 - shrinkage))``, ``shrinkage`` being the share of paid time off the
    phones (breaks, training, absence), in [0, 1). A quotient within 1e-9 of a whole number
    counts as that number (14 / 0.7 is 20, not 21).

    Raises:
        ValueError: on a negative count or a shrinkage outside [0, 1).
    """
    n = _count("agents", agents, 0)
    s = float(shrinkage)
    if not (math.isfinite(s) and 0.0 <= s < 1.0):
        raise ValueError(f"shrinkage must be a fraction in [0, 1), got {shrinkage!r}")
    return math.ceil(n / (1.0 - s) - 1e-9)


def max_calls_for_goals(
    aht_s: float,
    agents: int,
    goals: StaffingGoals,
    patience_s: float | None = None,
    rel_tol: float = 1e-9,
) -> float:
    """Most calls per hour ``agents`` can take while meeting every goal (Erlang C or A).

    The goals get harder as traffic grows (service level falls; waits, abandons and
    occupancy rise), so the largest passing rate is found by bisection on calls per hour
    to a relative tolerance ``rel_tol``; the returned rate meets the goals (checked).
    Erlang C is searched below the stability limit ``agents * 3600 / aht_s``.

    Args:
        aht_s: average handling time in seconds, > 0.
        agents: agents on the phones, a whole number >= 1.
        goals: at least one goal.
        patience_s: mean caller patience in seconds for Erlang A; ``None`` for Erlang C.

    Returns:
        Calls per hour (0.0 when not even a trickle of traffic meets the goals).

    Raises:
        ValueError: on an invalid argument, no goal, or ``max_abandon`` without a patience.
    """
    aht = _positive("aht_s", aht_s)
    n = _count("agents", agents, 1)
    if goals.empty:
        raise ValueError("give at least one goal: service_level, max_abandon, max_occupancy "
                         "or max_asa_s")
    if patience_s is None and goals.max_abandon is not None:
        raise ValueError("max_abandon needs Erlang A (a patience): Erlang C callers never "
                         "abandon")

    def ok(cph: float) -> bool:
        if patience_s is None:
            m: ErlangCMetrics | ErlangAMetrics = erlang_c_metrics(cph, aht, n, goals.target_s)
        else:
            m = erlang_a_metrics(cph, aht, n, patience_s, goals.target_s)
        return meets_goals(m, goals)

    capacity = n * SECONDS_PER_HOUR / aht  # calls per hour the agents handle at 100 %
    if not ok(capacity * 1e-9):
        return 0.0
    low = capacity * 1e-9
    high = capacity if patience_s is None else capacity * 2.0
    if patience_s is not None:
        while ok(high):  # impatient callers: the queue stays stable at any load
            low, high = high, high * 2.0
            if high > capacity * 1e6:
                return high
    elif ok(high * (1.0 - 1e-12)):
        return high * (1.0 - 1e-12)
    while high - low > rel_tol * high:
        mid = 0.5 * (low + high)
        if ok(mid):
            low = mid
        else:
            high = mid
    return low

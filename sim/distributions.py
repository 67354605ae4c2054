"""Duration distributions for talk, wrap, ring time-to-answer and patience (seconds).

Small objects with ``sample`` and analytic ``mean``/``variance`` (the Ciw habit), parameter
checks in the constructor, and randomness only from an explicit ``numpy.random.Generator``.
Sampling is vectorised: the simulator draws a block of values at once and hands them out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import chain

import numpy as np


class Distribution:
    """A non-negative duration distribution in seconds."""

    name = "abstract"

    @property
    def mean(self) -> float:
        raise NotImplementedError

    @property
    def variance(self) -> float:
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        raise NotImplementedError

    def cv(self) -> float:
        return math.sqrt(self.variance) / self.mean if self.mean > 0 else 0.0


@dataclass(frozen=True)
class Deterministic(Distribution):
    value_s: float
    name = "deterministic"

    def __post_init__(self) -> None:
        if not self.value_s >= 0:
            raise ValueError(f"value_s must be >= 0, got {self.value_s}")

    @property
    def mean(self) -> float:
        return self.value_s

    @property
    def variance(self) -> float:
        return 0.0

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.full(size, self.value_s)


@dataclass(frozen=True)
class Exponential(Distribution):
    mean_s: float
    name = "exponential"

    def __post_init__(self) -> None:
        if not self.mean_s > 0:
            raise ValueError(f"mean_s must be > 0, got {self.mean_s}")

    @property
    def mean(self) -> float:
        return self.mean_s

    @property
    def variance(self) -> float:
        return self.mean_s**2

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.exponential(self.mean_s, size)


@dataclass(frozen=True)
class _MeanCV(Distribution):
    """A family given by its mean (seconds) and coefficient of variation (sd / mean)."""

    mean_s: float
    cv_: float

    def __post_init__(self) -> None:
        if not self.mean_s > 0:
            raise ValueError(f"mean_s must be > 0, got {self.mean_s}")
        if not self.cv_ > 0:
            raise ValueError(f"cv must be > 0, got {self.cv_}")

    @property
    def mean(self) -> float:
        return self.mean_s

    @property
    def variance(self) -> float:
        return (self.cv_ * self.mean_s) ** 2


@dataclass(frozen=True)
class Lognormal(_MeanCV):
    """Lognormal given by its mean and coefficient of variation (sd / mean)."""

    name = "lognormal"

    @property
    def sigma(self) -> float:
        return math.sqrt(math.log1p(self.cv_**2))

    @property
    def mu(self) -> float:
        return math.log(self.mean_s) - 0.5 * self.sigma**2

    @property
    def median(self) -> float:
        return math.exp(self.mu)

    @classmethod
    def from_median(cls, median_s: float, sigma: float) -> Lognormal:
        """Build from the median (seconds) and the log-space standard deviation."""
        if not median_s > 0 or not sigma > 0:
            raise ValueError("median_s and sigma must be > 0")
        mean = median_s * math.exp(0.5 * sigma**2)
        return cls(mean, math.sqrt(math.expm1(sigma**2)))

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.lognormal(self.mu, self.sigma, size)


@dataclass(frozen=True)
class Gamma(_MeanCV):
    """Gamma given by its mean and coefficient of variation."""

    name = "gamma"

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        shape = 1.0 / self.cv_**2
        return rng.gamma(shape, self.mean_s / shape, size)


@dataclass(frozen=True)
class Empirical(Distribution):
    """Resampling of observed durations (seconds), e.g. read from a CSV column."""

    values_s: tuple[float, ...]
    name = "empirical"

    def __post_init__(self) -> None:
        if len(self.values_s) == 0:
            raise ValueError("an empirical distribution needs at least one value")
        if min(self.values_s) < 0:
            raise ValueError("empirical durations must be >= 0")

    @property
    def mean(self) -> float:
        return float(np.mean(self.values_s))

    @property
    def variance(self) -> float:
        return float(np.var(self.values_s))

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.choice(np.asarray(self.values_s), size)


FIRST_BLOCK = 16
MAX_BLOCK = 4096


def _blocks(draw_block: Callable[[int], np.ndarray], first: int, cap: int
            ) -> Iterator[list[float]]:
    """Blocks of ``first``, ``2 * first``, ... up to ``cap`` draws, as lists."""
    size = first
    while True:
        yield draw_block(size).tolist()
        size = min(2 * size, cap)


class Sampler:
    """Hands out draws of one distribution from pre-drawn blocks (one Generator call per block).

    Speed shortcut: a per-draw numpy call costs about a microsecond; blocks amortise it.
    Blocks start small and double up to ``max_block``, so a stream drawn from a few times
    (one of 200 small campaigns) pre-draws a few values, not thousands. A Generator hands
    out the same sequence whatever the block sizes, so the k-th draw is the same.
    ``draw`` is the same stream as calling the sampler, without a Python call per draw
    (``next`` over the chained blocks): the simulator's hot paths hold it.
    """

    __slots__ = ("draw",)

    def __init__(self, dist: Distribution, rng: np.random.Generator,
                 max_block: int = MAX_BLOCK):
        blocks = _blocks(partial(dist.sample, rng), min(FIRST_BLOCK, max_block), max_block)
        self.draw: Callable[[], float] = partial(next, chain.from_iterable(blocks))

    def __call__(self) -> float:
        return self.draw()


class UniformStream:
    """Uniform(0,1) draws from pre-drawn blocks growing as ``Sampler``'s do (``draw``: the
    same stream without a Python call per draw)."""

    __slots__ = ("draw",)

    def __init__(self, rng: np.random.Generator):
        blocks = _blocks(rng.random, FIRST_BLOCK, MAX_BLOCK)
        self.draw: Callable[[], float] = partial(next, chain.from_iterable(blocks))

    def __call__(self) -> float:
        return self.draw()

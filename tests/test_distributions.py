"""Duration distributions: sample moments against their analytic mean and variance."""

import math

import numpy as np
import pytest

from sim.distributions import (
    Deterministic,
    Empirical,
    Exponential,
    Gamma,
    Lognormal,
    Sampler,
)

N = 200_000


@pytest.mark.parametrize("dist", [Exponential(25.0), Lognormal(200.0, 1.0), Gamma(200.0, 0.5),
                                  Lognormal.from_median(9.5, 0.55), Empirical((1.0, 2.0, 9.0)),
                                  Deterministic(4.0)], ids=lambda d: d.name)
def test_sample_mean_within_four_standard_errors(dist):
    x = dist.sample(np.random.default_rng(7), N)
    se = math.sqrt(dist.variance / N)
    assert abs(x.mean() - dist.mean) <= 4 * se + 1e-12
    assert (x >= 0).all()


def test_lognormal_from_median():
    d = Lognormal.from_median(9.5, 0.55)
    assert d.median == pytest.approx(9.5)
    assert d.sigma == pytest.approx(0.55)


def test_sampler_hands_out_the_same_stream_as_one_block():
    d = Exponential(3.0)
    s = Sampler(d, np.random.default_rng(1), block=16)
    got = [s() for _ in range(40)]
    rng = np.random.default_rng(1)
    want = np.concatenate([d.sample(rng, 16) for _ in range(3)])[:40]
    np.testing.assert_allclose(got, want)


@pytest.mark.parametrize("make", [lambda: Exponential(0.0), lambda: Lognormal(10.0, 0.0),
                                  lambda: Gamma(-1.0, 1.0), lambda: Empirical(()),
                                  lambda: Deterministic(-1.0)])
def test_bad_parameters_are_refused(make):
    with pytest.raises(ValueError):
        make()

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
    UniformStream,
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


@pytest.mark.parametrize("dist", [Exponential(3.0), Lognormal.from_median(9.5, 0.55),
                                  Gamma(2.0, 5.0), Empirical((1.0, 2.0, 7.5))])
def test_sampler_hands_out_the_same_stream_as_one_block(dist):
    """Growing blocks (16, 32, 64, ... up to the cap) draw what one big block draws: the
    k-th value of a stream does not depend on how it was pre-drawn."""
    s = Sampler(dist, np.random.default_rng(1), max_block=64)
    got = [s() for _ in range(300)]
    want = dist.sample(np.random.default_rng(1), 300)
    np.testing.assert_allclose(got, want)


def test_draw_and_call_hand_out_one_stream():
    """``draw`` (the simulator's hot path) and calling the sampler share one stream."""
    s = Sampler(Exponential(2.0), np.random.default_rng(3), max_block=32)
    u = UniformStream(np.random.default_rng(4))
    got_s = [s() if k % 3 else s.draw() for k in range(200)]
    got_u = [u.draw() if k % 2 else u() for k in range(5000)]
    np.testing.assert_allclose(got_s, Exponential(2.0).sample(np.random.default_rng(3), 200))
    np.testing.assert_allclose(got_u, np.random.default_rng(4).random(5000))


def test_uniform_stream_is_one_generators_uniforms():
    u = UniformStream(np.random.default_rng(5))
    np.testing.assert_allclose([u() for _ in range(5000)],
                               np.random.default_rng(5).random(5000))


@pytest.mark.parametrize("make", [lambda: Exponential(0.0), lambda: Lognormal(10.0, 0.0),
                                  lambda: Gamma(-1.0, 1.0), lambda: Empirical(()),
                                  lambda: Deterministic(-1.0)])
def test_bad_parameters_are_refused(make):
    with pytest.raises(ValueError):
        make()

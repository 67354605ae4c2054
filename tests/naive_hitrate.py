"""Plain NumPy / SciPy references of the hit rate's doubted-prior posterior
(``pacer.hitrate._robust_posterior``): the closed form, vectorised, and the same moments by
numerical integration of the mixture prior times the binomial likelihood."""

from __future__ import annotations

import numpy as np
from scipy import integrate, special, stats


def robust_posterior(lv, k, ini, prior, doubt):
    """Posterior mean and sd of the mixture (1 - doubt) Beta(prior ini, prior (1 - ini)) +
    doubt Beta(1, 1) after ``lv`` successes in ``k`` trials (arrays broadcast); the plain
    Beta posterior where k, doubt or prior is 0 or ini is 0 or 1."""
    lv, k, ini, prior, doubt = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (lv, k, ini, prior, doubt)))
    f = k - lv
    den = k + prior
    with np.errstate(divide="ignore", invalid="ignore"):
        plain_m = np.where(den > 0, (lv + prior * ini) / den, ini)
        plain_sd = np.sqrt(plain_m * (1 - plain_m) / (den + 1))
        a0, b0 = prior * ini, prior * (1 - ini)
        log_a = np.log1p(-doubt) + special.betaln(a0 + lv, b0 + f) - special.betaln(a0, b0)
        log_u = np.log(doubt) + special.betaln(1 + lv, 1 + f)
        pa = special.expit(log_a - log_u)
        ma, mu = (a0 + lv) / (prior + k), (1 + lv) / (2 + k)
        m = pa * ma + (1 - pa) * mu
        second = (pa * (ma * (1 - ma) / (prior + k + 1) + ma**2)
                  + (1 - pa) * (mu * (1 - mu) / (k + 3) + mu**2))
        sd = np.sqrt(np.maximum(second - m**2, 0.0))
    robust = (k > 0) & (doubt > 0) & (prior > 0) & (ini > 0) & (ini < 1)
    return np.where(robust, m, plain_m), np.where(robust, sd, plain_sd)


def robust_posterior_by_quadrature(lv, k, ini, prior, doubt):
    """The same mean and sd by integrating the posterior density over [0, 1] (one case,
    ``lv`` >= 1 and ``k - lv`` >= 1 so that the integrand vanishes at both ends)."""
    f = k - lv

    def density(p):
        mix = (1 - doubt) * stats.beta.pdf(p, prior * ini, prior * (1 - ini)) + doubt
        return mix * p**lv * (1 - p) ** f

    opts = {"limit": 200, "epsabs": 0.0, "epsrel": 1e-10}
    z = integrate.quad(density, 0.0, 1.0, **opts)[0]
    m1 = integrate.quad(lambda p: p * density(p), 0.0, 1.0, **opts)[0] / z
    m2 = integrate.quad(lambda p: p * p * density(p), 0.0, 1.0, **opts)[0] / z
    return m1, np.sqrt(max(m2 - m1 * m1, 0.0))

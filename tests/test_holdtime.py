"""pacer.holdtime: the hazard estimate of the handling time against a NumPy reference, and
its freedom from the early-completion bias of a histogram of ended calls."""

from __future__ import annotations

import math

import numpy as np

from pacer.holdtime import HoldTime


def reference_histogram(events, exposure, bw):
    """Bin k: S(k w) - S((k + 1) w) from hazards events / exposure; the last bin the rest."""
    h = np.divide(events, exposure, out=np.zeros_like(events), where=exposure > 0)
    s = np.concatenate([[1.0], np.exp(-np.cumsum(h[:-1] * bw))])
    out = np.empty_like(events)
    out[:-1] = s[:-1] - s[1:]
    out[-1] = s[-1]
    return out


def test_histogram_matches_reference():
    rng = np.random.default_rng(3)
    ht = HoldTime(2, 10.0, 300.0, 3600.0)
    ht.events[:] = rng.uniform(0, 5, ht.events.shape)
    ht.exposure[:] = rng.uniform(0, 500, ht.exposure.shape)
    ht.exposure[0, 3] = 0.0  # an empty bin: no hazard
    counts = np.zeros_like(ht.events)
    totals = np.zeros(2)
    ht.to_histogram(np.array([0, 1]), counts, totals)
    for c in range(2):
        np.testing.assert_allclose(counts[c], reference_histogram(ht.events[c],
                                                                  ht.exposure[c], 10.0),
                                   rtol=1e-12, atol=1e-15)
        assert totals[c] == 1.0


def test_prior_alone_gives_the_configured_mean():
    ht = HoldTime(1, 2.0, 3600.0, 3600.0)
    ht.seed(0, 200.0, 1.0, 50.0)
    counts, totals = np.zeros((1, ht.n_bins)), np.zeros(1)
    ht.to_histogram(np.array([0]), counts, totals)
    mean = float(np.sum(counts[0] * (np.arange(ht.n_bins) + 0.5) * 2.0))
    assert abs(mean - 200.0) < 5.0  # binning and the clipped tail: a few seconds


def test_one_minute_into_a_cold_start_the_mean_is_not_biased_short():
    """400 agents start calls at once (lognormal, mean 205 s, CV 1); after 60 s only the
    short calls have ended. The ended-call mean is far below 205 s; the hazard estimate
    (with the ones still in progress as exposure) is not."""
    rng = np.random.default_rng(1)
    sigma = math.sqrt(math.log(2.0))
    d = rng.lognormal(math.log(205.0) - sigma**2 / 2, sigma, 400)
    ht = HoldTime(1, 10.0, 3600.0, 3600.0)
    ht.seed(0, 205.0, 1.0, 5.0)
    dt = 0.25
    for t in np.arange(0.0, 60.0, dt):
        busy = d > t
        ht.expose(np.array([0, int(busy.sum())]), np.full(int(busy.sum()), t), np.array([0]),
                  dt)
    ended = d[d <= 60.0]
    ht.ended(np.zeros(ended.size, dtype=np.int64), ended)
    counts, totals = np.zeros((1, ht.n_bins)), np.zeros(1)
    ht.to_histogram(np.array([0]), counts, totals)
    # P(D <= 60 s): truth against the estimate and the ended-only view
    truth = float(np.mean(d <= 60.0))
    est = float(counts[0, :6].sum())
    assert ended.mean() < 45.0
    assert abs(est - truth) < 3 * math.sqrt(truth * (1 - truth) / 400) + 0.01


def test_phase_exposure_and_events_match_plain_numpy():
    """One pass for the handling, talk and wrap-up estimators: each busy agent's time goes
    to its phase's exposure, each ended talk or wrap-up to its events (NumPy reference)."""
    from pacer.holdtime import ended_phases, expose_phases

    rng = np.random.default_rng(5)
    est = [HoldTime(3, w, 600.0, 3600.0) for w in (10.0, 10.0, 2.0)]
    ao = np.array([0, 4, 4, 9])
    ae = np.where(rng.random(9) < 0.3, -1.0, rng.uniform(0, 900, 9))
    ph = rng.integers(0, 3, 9)
    rows = np.array([0, 2])
    expose_phases(*est, ao, ae, ph, rows, 0.25)
    want = [np.zeros_like(h.exposure) for h in est]
    for c in rows:
        for j in range(ao[c], ao[c + 1]):
            if ae[j] >= 0:
                h = est[ph[j]]
                want[ph[j]][c, min(int(ae[j] // h.bin_width_s), h.n_bins - 1)] += 0.25
    for h, w in zip(est, want, strict=True):
        np.testing.assert_allclose(h.exposure, w)
    r, x, code = np.array([0, 1, 2, 1]), np.array([35.0, 7.0, 1e5, 3.9]), np.array([1, 2, 1, 2])
    ended_phases(est[1], est[2], r, x, code)
    assert est[1].events[0, 3] == 1 and est[1].events[2, -1] == 1
    assert est[2].events[1, 3] == 1 and est[2].events[1, 1] == 1
    assert est[1].events.sum() == 2 and est[2].events.sum() == 2 and est[0].events.sum() == 0


def test_alike_priors_computed_once_give_each_row_its_own_prior():
    # campaigns alike share one prior computation: every row holds exactly what seeding it
    # alone gives, seeding a row twice doubles it, and other parameters get their own
    many = HoldTime(4, 10.0, 600.0, 3600.0)
    for row in (0, 1, 3):
        many.seed(row, 180.0, 0.8, 20.0)
    many.seed(3, 180.0, 0.8, 20.0)
    many.seed(2, 60.0, 1.2, 20.0)
    for row, (mean, cv, times) in {0: (180.0, 0.8, 1), 1: (180.0, 0.8, 1),
                                   3: (180.0, 0.8, 2), 2: (60.0, 1.2, 1)}.items():
        alone = HoldTime(1, 10.0, 600.0, 3600.0)
        for _ in range(times):
            alone.seed(0, mean, cv, 20.0)
        assert np.array_equal(many.events[row], alone.events[0])
        assert np.array_equal(many.exposure[row], alone.exposure[0])

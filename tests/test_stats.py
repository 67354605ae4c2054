"""The one aggregation: rates pooled on counts with honest 95 % intervals, inside [0, 1];
verdicts that say how many replications they rest on and refuse when too few decide."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sim.plan.stats import (
    KPI_KEYS,
    MIN_COPIES,
    copies_prior,
    copies_spread,
    judge,
    limit_risks,
    mean_ci95,
    p_over_limit,
    rate_ci95,
    ratio_ci95,
    summarise_rows,
    wilson,
)


@pytest.mark.parametrize(("k", "n"), [(0, 1), (0, 40), (3, 40), (40, 40), (17, 1000)])
def test_wilson_matches_scipy(k, n):
    ref = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
    assert wilson(k, n) == pytest.approx((ref.low, ref.high), abs=1e-12)


def test_two_replications_without_abandons_are_not_a_point():
    rate, lo, hi = rate_ci95([0, 0], [200, 180])
    assert rate == 0.0 and lo == 0.0
    # 0 out of 380: Wilson's upper bound z^2 / (n + z^2), about 1 %
    z = stats.norm.ppf(0.975)
    assert hi == pytest.approx(z * z / (380 + z * z))


def test_overdispersed_replications_widen_the_interval():
    # the same pooled 3 % from very different runs: wider than from alike runs
    alike = rate_ci95([30, 30, 30], [1000, 1000, 1000])
    apart = rate_ci95([5, 55, 30], [1000, 1000, 1000])
    assert alike[0] == apart[0] == pytest.approx(0.03)
    assert apart[2] - apart[1] > alike[2] - alike[1]
    lo, hi = ratio_ci95([5, 55, 30], [1000, 1000, 1000])
    half = stats.t.ppf(0.975, 2) * np.std([0.005, 0.055, 0.03], ddof=1) / math.sqrt(3)
    assert (lo, hi) == pytest.approx((0.03 - half, 0.03 + half))
    assert apart[1] == pytest.approx(max(0.0, lo))


@settings(max_examples=60)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 60)), min_size=1, max_size=6))
def test_rate_intervals_stay_in_range_and_hold_the_pooled_rate(pairs):
    nums = [min(a, b) for a, b in pairs]
    dens = [b for _, b in pairs]
    rate, lo, hi = rate_ci95(nums, dens)
    assert 0.0 <= lo <= rate <= hi <= 1.0
    if sum(dens):
        assert rate == pytest.approx(sum(nums) / sum(dens))
        assert hi > lo


def test_summarise_rows_pools_rates_and_clips_the_rest():
    rows = [dict.fromkeys(KPI_KEYS, 0.0) for _ in range(2)]
    rows[0].update(live_answers=100, abandons=2, connects=98, occupancy=0.99)
    rows[1].update(live_answers=300, abandons=3, connects=297, occupancy=0.97)
    means, ci = summarise_rows(rows)
    assert means["abandon_rate"] == pytest.approx(5 / 400)  # pooled, not (0.02 + 0.01) / 2
    assert means["occupancy"] == pytest.approx(0.98)
    assert ci["occupancy"][1] == 1.0  # the t interval reaches past 1: clipped
    for k in ("abandon_rate", "abandon_rate_ofcom", "service_level"):
        assert 0.0 <= ci[k][0] <= means[k] <= ci[k][1] <= 1.0
    assert mean_ci95([1.0])[1:] == (None, None)


def test_verdicts_state_replications_and_refuse_when_too_few():
    v = judge("abandon_rate", "<=", 0.03, 0.0, [0.0, 0.01], 2)
    assert v.met is True and v.replications == 2 and "2 replications" in v.note
    v = judge("abandon_rate", "<=", 0.03, 0.0, [0.0, 0.01], 1)
    assert v.met is None and v.needed == 2 and "needs at least 2" in v.note
    v = judge("abandon_rate", "<=", 0.03, 0.05, [0.04, 0.06], 3)
    assert v.met is False
    v = judge("abandon_rate", "<=", 0.03, 0.025, [0.015, 0.035], 3)
    # half-width 0.01 must shrink to the 0.005 gap: about 3 * (0.01 / 0.005)^2 = 12
    assert v.met is None and v.needed == 12 and "about 12" in v.note
    v = judge("occupancy", ">=", 0.85, 0.85, [0.84, 0.86], 4)
    assert v.met is None and v.needed is None and "sits on the limit" in v.note
    assert judge("occupancy", ">=", 0.8, 0.9, [0.85, 0.95], 2).met is True


# --------------------------------------------------------------- p_over_limit


def _p_over_oracle(abandons, live, run_s, window_s, limit, draws=200_000, seed=3):
    """Monte Carlo of the same statement: the rate from the Jeffreys Beta posterior, then a
    window of n live answers as a binomial count (not the normal approximation)."""
    rng = np.random.default_rng(seed)
    p = rng.beta(abandons + 0.5, live - abandons + 0.5, draws)
    n = max(round(live / run_s * window_s), 1)
    return float(np.mean(rng.binomial(n, p) / n > limit))


@pytest.mark.parametrize("abandons,live,window_s", [
    (25, 1000, 3600.0), (40, 1000, 3600.0), (25, 1000, 30 * 86_400.0), (2, 300, 3600.0)])
def test_p_over_limit_matches_a_beta_binomial_simulation(abandons, live, window_s):
    got = p_over_limit([abandons], [live], 3600.0, window_s, 0.03)
    want = _p_over_oracle(abandons, live, 3600.0, window_s, 0.03)
    # the normal window and the posterior's mean (abandons + 1/2) / (live + 1) against the
    # exact binomial: a few points apart at most, far less than the quantity varies
    assert got == pytest.approx(want, abs=0.04)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 80), st.integers(100, 3000), st.floats(600.0, 40 * 86_400.0))
def test_p_over_limit_rises_with_abandons_and_stays_a_probability(abandons, live, window_s):
    abandons = min(abandons, live)
    p = p_over_limit([abandons], [live], 3600.0, window_s, 0.03)
    more = p_over_limit([min(abandons + 5, live)], [live], 3600.0, window_s, 0.03)
    assert 0.0 <= p <= 1.0 and more >= p - 1e-9


def test_a_longer_window_judges_the_true_rate_not_the_luck():
    low, high = ([10], [1000]), ([60], [1000])  # 1 % and 6 % against a 3 % limit
    assert p_over_limit(*low, 3600.0, 30 * 86_400.0, 0.03) < \
        p_over_limit(*low, 3600.0, 600.0, 0.03)
    assert p_over_limit(*high, 3600.0, 30 * 86_400.0, 0.03) > 0.99
    assert p_over_limit([], [], 3600.0, 3600.0, 0.03) == 0.0


def _p_over_reference(nums, dens, run_s, window_s, limit):
    """``p_over_limit``'s formula on scipy.stats' distributions (the module calls the
    scipy.special functions they call, without importing scipy.stats)."""
    from sim.plan.stats import RISK_QUANTILES

    total = math.fsum(dens)
    m = (math.fsum(nums) + 0.5) / (total + 1.0)
    var = m * (1.0 - m) / (total + 1.0)
    spread = ratio_ci95(nums, dens)
    if spread is not None:
        t = float(stats.t.ppf(0.975, len(nums) - 1))
        var = max(var, ((spread[1] - spread[0]) / (2.0 * t)) ** 2)
    var = min(var, 0.99 * m * (1.0 - m))
    kappa = m * (1.0 - m) / var - 1.0
    q = (np.arange(RISK_QUANTILES) + 0.5) / RISK_QUANTILES
    p = stats.beta.ppf(q, m * kappa, (1.0 - m) * kappa)
    in_window = max(total / (len(dens) * run_s) * window_s, 1.0)
    sd = np.sqrt(np.maximum(p * (1.0 - p), 1e-12) / in_window)
    return float(np.mean(stats.norm.sf((limit - p) / sd)))


@pytest.mark.parametrize("nums,dens,window_s", [
    ([25], [1000], 3600.0), ([0], [60], 3600.0), ([2, 9, 4], [300, 310, 290], 86_400.0),
    ([40, 41], [1000, 1000], 30 * 86_400.0), ([3, 0], [50, 70], 600.0)])
def test_intervals_and_risks_are_scipy_stats_own_numbers(nums, dens, window_s):
    assert p_over_limit(nums, dens, 3600.0, window_s, 0.03) == \
        _p_over_reference(nums, dens, 3600.0, window_s, 0.03)
    values = [d / 1000 for d in dens]
    mean, lo, hi = mean_ci95(values)
    if len(values) > 1:
        half = float(stats.t.ppf(0.975, len(values) - 1)) * math.sqrt(
            math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1) / len(values))
        assert (lo, hi) == (mean - half, mean + half)


# --------------------------------------------------------------- copies lend their evidence


def test_copies_spread_reads_the_spread_of_true_rates_beyond_chance():
    """Groups of 40 copies whose true rates are Beta with variance tau^2 (beta-binomial
    counts, unequal sizes): the method of moments' mean over 400 groups is within 3 standard
    errors (of those 400 estimates) of tau^2; with one true rate for all, it is about 0."""
    rng = np.random.default_rng(11)
    m, tau2 = 0.03, 0.0002
    kappa = m * (1 - m) / tau2 - 1
    est, flat = [], []
    for _ in range(400):
        n = rng.integers(200, 2000, 40)
        est.append(copies_spread(rng.binomial(n, rng.beta(m * kappa, (1 - m) * kappa, 40)),
                                 n)[1])
        flat.append(copies_spread(rng.binomial(n, m), n)[1])
    se = np.std(est, ddof=1) / math.sqrt(len(est))
    assert abs(np.mean(est) - tau2) < 3 * se
    # chance alone: the truncated estimate's mean is a small fraction of tau2
    assert np.mean(flat) < 0.25 * tau2


def test_copies_of_one_rate_are_not_read_as_risky_by_their_luck():
    """160 copies with one true rate of 1.6 % and ~90 live answers each (the 60k busy
    hour's sales jobs): alone, the unluckiest copy's hour reads as a likely breach of 3 %
    over 30 days; with its copies' evidence, none is."""
    rng = np.random.default_rng(5)
    n = np.full(160, 90.0)
    a = rng.binomial(90, 0.016, 160).astype(float)
    month = 30 * 86_400.0
    alone = max(p_over_limit([a[i]], [n[i]], 3600.0, month, 0.03) for i in range(160))
    pooled = max(p_over_limit([a[i]], [n[i]], 3600.0, month, 0.03, copies_prior(i, a, n))
                 for i in range(160))
    assert alone > 0.5 and pooled < 0.01


def test_copies_that_truly_differ_keep_their_own_risk():
    """Half the copies at 1 %, half at 6 % (3,000 live answers each): the spread is far
    beyond chance, so each keeps its own rate: the 6 % ones over a 3 % limit, the 1 % not."""
    n = np.full(20, 3000.0)
    a = np.where(np.arange(20) < 10, 30.0, 180.0)
    month = 30 * 86_400.0
    p = [p_over_limit([a[i]], [n[i]], 3600.0, month, 0.03, copies_prior(i, a, n))
         for i in range(20)]
    assert max(p[:10]) < 0.01 and min(p[10:]) > 0.99


def test_a_copys_replications_widen_its_risk_only_when_they_spread_beyond_chance():
    """Three replications of a copy, its copies pooling to 1.6 %: spread as chance gives
    (binomial draws at the pooled rate) it stays under 1 %; in bursts (0, 0 and 20 % of 90
    live answers) it is read as risky whatever its copies say."""
    rng = np.random.default_rng(8)
    others_a, others_n = list(rng.binomial(270, 0.016, 159).astype(float)), [270.0] * 159
    month = 30 * 86_400.0

    def risk(reps):
        prior = copies_prior(0, [sum(reps), *others_a], [270.0, *others_n])
        return p_over_limit(reps, [90.0] * 3, 3600.0, month, 0.03, prior)

    calm = [risk(list(rng.binomial(90, 0.016, 3).astype(float))) for _ in range(50)]
    assert max(calm) < 0.01
    assert risk([0.0, 0.0, 18.0]) > 0.2


def test_too_few_copies_or_none_use_the_jeffreys_prior_alone():
    a, n = [3.0, 1.0], [90.0, 80.0]
    assert MIN_COPIES > 2 and copies_prior(0, a, n) == (0.5, 0.5)
    assert copies_prior(0, [3.0, 0.0, 0.0], [90.0, 0.0, 0.0]) == (0.5, 0.5)


def test_p_over_limit_with_a_prior_matches_its_beta_binomial_simulation():
    """The same Monte Carlo oracle as Jeffreys' with the prior's pseudo-counts."""
    rng = np.random.default_rng(3)
    a0, b0 = 20.5, 980.5  # ~1,000 live answers' worth at 2 %
    for abandons, live, window_s in ((6, 90, 30 * 86_400.0), (6, 90, 3600.0)):
        p = rng.beta(abandons + a0, live - abandons + b0, 200_000)
        k = max(round(live / 3600.0 * window_s), 1)
        want = float(np.mean(rng.binomial(k, p) / k > 0.03))
        got = p_over_limit([abandons], [live], 3600.0, window_s, 0.03, (a0, b0))
        assert got == pytest.approx(want, abs=0.04)


def test_limit_risks_pools_copies_of_one_template_only():
    """Records of two replications: three copies of "sales" (one unlucky hour) and a lone
    "vip" campaign with the same counts as the unlucky copy: the copy is pooled, "vip" not."""
    from types import SimpleNamespace

    def camp(template, abandons, live):
        return {"template": template, "abandons": abandons, "live_answers": live}

    rec = {"campaigns": [camp("sales", 5, 90), camp("sales", 1, 90), camp("sales", 1, 90),
                         camp("vip", 5, 90)]}
    reg = SimpleNamespace(mode="fcc", judged_window_s=30 * 86_400.0, abandon_limit=0.03)
    risk = limit_risks([rec, rec], reg, 3600.0)
    alone = p_over_limit([5, 5], [90, 90], 3600.0, 30 * 86_400.0, 0.03)
    assert risk[3] == pytest.approx(alone)
    assert risk[0] < alone


def test_a_preview_campaign_cannot_go_over_the_fcc_limit():
    """Its agent is on the line before the call: 0 abandons in 25 live answers read a 21 %
    chance of ending the window over the limit (the prior's); now 0 under the FCC's rule,
    and the usual chance under Ofcom's (AMD false positives count)."""
    from types import SimpleNamespace

    rec = {"campaigns": [{"template": "callbacks", "pacing": "preview", "abandons": 0,
                          "live_answers": 25, "amd_false_positives": 1}]}
    fcc = SimpleNamespace(mode="fcc", judged_window_s=30 * 86_400.0, abandon_limit=0.03)
    assert limit_risks([rec, rec], fcc, 3600.0) == {0: 0.0}
    ofcom = SimpleNamespace(mode="ofcom", judged_window_s=86_400.0, abandon_limit=0.03)
    assert limit_risks([rec, rec], ofcom, 3600.0)[0] > 0.0


def test_a_campaign_that_completed_nothing_while_others_did_is_named():
    """An SMS job whose calling window never opened in the run made 0 attempts and said
    nothing (a 0 in its row); now one warning names such campaigns, copies by template,
    and none when every campaign completed something (or nothing did: NO_ATTEMPT)."""
    from sim.plan.stats import idle_campaigns

    camps = [{"name": "sales", "template": "sales", "attempts": 120.0},
             {"name": "sms", "template": "sms", "attempts": 0.0},
             {"name": "n-001", "template": "n", "attempts": 0.0},
             {"name": "n-002", "template": "n", "attempts": 3.5}]
    [w] = idle_campaigns(camps)
    assert "campaign(s) sms, n (1 of 2 jobs):" in w
    assert idle_campaigns(camps[:1]) == []

"""The Pacer facade: mode dispatch, caps, Ofcom fallback warning and the warm-up."""

import math

import numpy as np
import pytest

import pacer
from pacer import AgentStatus, CallStatus, CampaignPacing, Pacer, Pacing, Regulation


def _arrays(n_agents_idle, n_agents_busy, n_ringing, job=0):
    aj = np.full(n_agents_idle + n_agents_busy, job, dtype=np.int64)
    st = np.array([AgentStatus.IDLE] * n_agents_idle + [AgentStatus.BUSY] * n_agents_busy,
                  dtype=np.int64)
    since = np.zeros(aj.size)
    cj = np.full(n_ringing, job, dtype=np.int64)
    cs = np.full(n_ringing, CallStatus.RINGING, dtype=np.int64)
    return aj, st, since, cj, cs, np.zeros(n_ringing)


def test_warmup_runs_every_mode():
    pacer.warmup()


def test_progressive_and_preview_dial_for_idle_agents_only():
    p = Pacer([CampaignPacing(pacing=Pacing.PROGRESSIVE, ratio=2.0),
               CampaignPacing(pacing=Pacing.PREVIEW)])
    aj = np.array([0, 0, 0, 1, 1], dtype=np.int64)
    st = np.array([AgentStatus.IDLE, AgentStatus.IDLE, AgentStatus.BUSY, AgentStatus.IDLE,
                   AgentStatus.PAUSED], dtype=np.int64)
    cj = np.array([0], dtype=np.int64)
    cs = np.array([CallStatus.RINGING], dtype=np.int64)
    d = p.decide(10.0, aj, st, np.zeros(5), cj, cs, np.zeros(1))
    assert list(d) == [2 * 2 - 1, 1]


@pytest.mark.parametrize("idle,busy", [(0, 10), (5, 5), (10, 0), (1, 40)])
def test_predictive_never_exceeds_the_lines_per_agent_cap(idle, busy):
    p = Pacer([CampaignPacing(pacing=Pacing.PREDICTIVE, max_lines_per_agent=2.0,
                              initial_hit_rate=0.05)])
    for now in np.arange(0.0, 30.0, 0.25):
        d = p.decide(now, *_arrays(idle, busy, 3))
        assert d[0] + 3 <= 2.0 * (idle + busy)


def test_ofcom_budget_used_up_by_amd_falls_back_to_progressive_with_a_warning():
    c = CampaignPacing(pacing=Pacing.PREDICTIVE, regulation=Regulation.OFCOM,
                       abandon_limit=0.03, amd_false_positive_rate=0.04)
    p = Pacer([c])
    assert any("abandon_limit_infeasible" in w for w in p.warnings())
    (rec,) = p.warning_records()
    assert rec["code"] == "abandon_limit_infeasible" and rec["mode"] == "ofcom"
    assert rec["campaign"] == 0 and rec["estimated_floor"] == pytest.approx(0.04)
    d = p.decide(0.0, *_arrays(4, 6, 1))
    assert d[0] == 4 - 1  # progressive 1:1: one line per idle agent, minus the one ringing


def test_timed_campaign_follows_its_rate():
    p = Pacer([CampaignPacing(pacing=Pacing.TIMED, attempts_per_s=2.0)])
    e = np.zeros(0, dtype=np.int64)
    total = sum(int(p.decide(t, e, e, np.zeros(0), e, e, np.zeros(0))[0])
                for t in np.arange(0.0, 100.0, 0.25))
    assert abs(total - 2.0 * 99.75) <= 1


def test_bad_campaign_settings_name_the_field():
    with pytest.raises(ValueError, match=r"CampaignPacing\.initial_hit_rate"):
        CampaignPacing(initial_hit_rate=1.5)
    with pytest.raises(ValueError, match="progressive takes ratio >= 1"):
        CampaignPacing(pacing=Pacing.PROGRESSIVE, ratio=0.5)


def _fed(rate_per_s: float, outcomes) -> tuple[Pacer, list[float]]:
    """A pacer fed ``outcomes`` (live or not) at ``rate_per_s``, deciding every second, and
    then every second for a minute (every launch cohort complete); returns it and its hit
    rate after each decision while fed."""
    p = Pacer([CampaignPacing(initial_hit_rate=0.3)])
    e, f = np.zeros(0, dtype=np.int64), np.zeros(0)
    t = 0.0
    per_s = max(int(rate_per_s), 1)
    step = per_s / rate_per_s
    reads = []
    for i in range(0, len(outcomes), per_s):
        for live in outcomes[i:i + per_s]:
            p.observe_dial(0, bool(live), 1.0)
        t += step
        p.decide(t, e, e, f, e, e, f)
        reads.append(float(p.last_hit_rate[0]))
    for _ in range(60):  # every launch cohort complete, a second's cohorts at a time
        t += 1.0
        p.decide(t, e, e, f, e, e, f)
    return p, reads


@pytest.mark.parametrize("rate_per_s", [1.0, 20.0])
def test_the_hit_rate_follows_a_step_up_within_tens_of_dials(rate_per_s):
    """1000 dials at a hit rate of 0.2, then 100 at 0.5: the estimate reads the dials since
    the change, within 3 of its sds of 0.5 (a slow campaign's last 200 dials read 0.35, 4
    sds low, a fast one's last 1000 read 0.23)."""
    rng = np.random.default_rng(3)
    outcomes = np.r_[rng.random(1000) < 0.2, rng.random(100) < 0.5]
    p, _ = _fed(rate_per_s, outcomes)
    assert abs(p.last_hit_rate[0] - 0.5) <= 3 * p.last_hit_sd[0]
    assert p.last_hit_sd[0] < 0.06  # and not by a vague estimate


@pytest.mark.parametrize(("rate_per_s", "span"), [(1.0, 600), (20.0, 1000)])
def test_a_steady_hit_rate_reads_the_dials_of_its_last_minutes(rate_per_s, span):
    """A steady 0.3: the estimate rests on the dials of the last HIT_SPAN_S (600 at one a
    second; at most HIT_WINDOW) and varies as such a window's (within 25 %: a 200-dial
    window's sd, 0.032, is 1.8 times a 600-dial one's)."""
    from pacer import decide

    n = int(4 * decide.HIT_WINDOW * max(rate_per_s, 1.0) ** 0.5)
    rng = np.random.default_rng(4)
    p, reads = _fed(rate_per_s, rng.random(n) < 0.3)
    assert decide.HIT_SPAN_S * rate_per_s >= span or span == decide.HIT_WINDOW
    sd = np.sqrt(0.21 / span)
    assert p.last_hit_sd[0] == pytest.approx(sd, rel=0.1)
    settled = np.array(reads[len(reads) // 3:])
    assert settled.std() < 1.25 * sd
    assert abs(settled.mean() - 0.3) < 3 * sd


def test_dials_that_did_not_go_out_leave_the_forecast():
    """A caller that launched fewer than decided (ports, carrier, an empty list) says so;
    the forecast of the dials that did not go out is taken back, the rest kept."""
    p = Pacer([CampaignPacing(initial_hit_rate=0.3)], seed=4)
    n_agents = 20
    aj = np.zeros(n_agents, dtype=np.int64)
    ast = np.full(n_agents, int(AgentStatus.IDLE), dtype=np.int64)
    e, f = np.zeros(0, dtype=np.int64), np.zeros(0)
    (n,) = p.decide(0.0, aj, ast, np.zeros(n_agents), e, e, f)
    assert n > 4
    live, ab = p.added_live.copy(), p.added_abandons.copy()
    assert live[0] == pytest.approx(n * p.last_hit_rate[0])
    p.launched(np.array([n // 2]))
    assert p.added_live[0] == pytest.approx(live[0] * (n // 2) / n)
    assert p.added_abandons[0] == pytest.approx(ab[0] * (n // 2) / n)
    p.launched(np.array([0]))  # said twice for one decision: taken back once only
    assert p.added_live[0] == pytest.approx(live[0] * (n // 2) / n)
    with pytest.raises(ValueError, match="counts"):
        p.launched(np.array([1.5]))


def test_patience_prior_sets_the_hang_up_rate_until_waits_are_seen():
    """The callers' patience prior (mean 6 s) is worth PATIENCE_PRIOR_S seconds of waiting:
    the hang-up rate starts at 1/6 per second, and waits seen move it (MLE with the prior)."""
    import math

    from pacer.decide import PATIENCE_PRIOR_S

    p = Pacer([CampaignPacing(patience_mean_s=6.0), CampaignPacing()])
    np.testing.assert_allclose(p.hangup_rate, [1 / 6, 0.0])
    assert CampaignPacing().patience_mean_s == math.inf
    # 30 live answers waited 1 s each, none hung up: (prior hang-ups) / (prior + 30 s)
    for _ in range(30):
        p.observe_wait(0, 1.0, False)
    p.decide(1.0, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0),
             np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
    want = (PATIENCE_PRIOR_S / 6.0) / (PATIENCE_PRIOR_S + 30.0)
    assert p.hangup_rate[0] == pytest.approx(want, rel=1e-12)
    with pytest.raises(ValueError, match="patience_mean_s"):
        CampaignPacing(patience_mean_s=0.0)


def test_ring_ends_are_learnt_at_once_until_the_first_cohort_ends_then_by_cohort():
    """Before a campaign's first launch cohort has ended, its ring-end histogram learns
    the ends as they come (a list of busy numbers shows seconds in); once that cohort has
    ended (launch + the dial's life), the row restarts from its prior and the whole cohort
    is folded, once."""
    none_i, none_f = np.zeros(0, dtype=np.int64), np.zeros(0)

    def tick(p, now):
        p.decide(now, none_i, none_i, none_f, none_i, none_i, none_f)

    p = Pacer([CampaignPacing(ring_timeout_s=20.0)])
    prior = p.ring_end.counts[0].copy()
    for _ in range(50):  # 50 busy numbers, launched at 0, ended after 3 s
        p.observe_dial(0, False, 3.0)
    tick(p, 3.0)
    k = int(3.0 / p.ring_end.bin_width_s)
    early = p.ring_end.counts[0] - prior
    assert early[k] > 0 and early.sum() == pytest.approx(early[k])  # learnt at once
    tick(p, 30.0)  # the cohort launched at 0 has ended (life 20 s)
    want = Pacer([CampaignPacing(ring_timeout_s=20.0)]).ring_end
    for _ in range(50):
        want.add(0, 3.0)
    np.testing.assert_allclose(p.ring_end.counts[0], want.counts[0], rtol=1e-12)
    # later ends wait for their cohort: nothing is learnt at once any more
    before = p.ring_end.counts[0].copy()
    p.observe_dial(0, False, 3.0)
    tick(p, 33.0)
    np.testing.assert_array_equal(p.ring_end.counts[0], before)


def test_a_campaign_that_never_dials_leaves_the_cold_ring_path_to_the_others():
    """A campaign without dials (SMS, email, agentless) keeps its cold ring-time prior; the
    dialling one beside it learns as it would alone, and once its first cohort has ended no
    cold campaign with dials is left, so no tick looks for one any more."""
    none_i, none_f = np.zeros(0, dtype=np.int64), np.zeros(0)
    rings = [3.0, 7.5, 12.0, 19.0] * 10
    pacers = [Pacer([CampaignPacing(ring_timeout_s=20.0)]),
              Pacer([CampaignPacing(ring_timeout_s=20.0),
                     CampaignPacing(pacing=Pacing.TIMED, attempts_per_s=0.1)])]
    for p in pacers:
        for now in (3.0, 13.0, 30.0, 45.0):
            for r in rings:
                p.observe_dial(0, r == 7.5, r)
            p.decide(now, none_i, none_i, none_f, none_i, none_i, none_f)
    alone, beside = pacers
    for h in ("ring", "ring_end"):
        np.testing.assert_array_equal(getattr(beside, h).counts[0], getattr(alone, h).counts[0])
    np.testing.assert_array_equal(beside.last_hit_rate[:1], alone.last_hit_rate)
    assert not beside._cold_dialled and not beside._ring_cold[0] and beside._ring_cold[1]


def _tick_until_quiet(p: Pacer, now: float, idle: int, busy: int, ringing: list[float]):
    """Decide every 0.25 s from ``now``, adding each decision's dials as ringing calls
    (their dial times in ``ringing``), until a decision dials none; returns that time."""
    for _ in range(200):
        aj, st, since, cj, cs, _ = _arrays(idle, busy, len(ringing))
        n = int(p.decide(now, aj, st, since, cj, cs, np.array(ringing))[0])
        if n == 0:
            return now
        ringing += [now] * n
        now += 0.25
    raise AssertionError("the campaign never stopped dialling")


@pytest.mark.parametrize("idle, busy, short", [(1, 4, True), (1, 4, False)])
def test_a_line_that_ends_unanswered_is_replaced_at_once_when_agents_are_short(idle, busy,
                                                                              short):
    """A dial ending unanswered is news where fewer live answers are to come from the calls
    still ringing than agents wait (its line was an idle agent's): the campaign is decided
    again at the next tick, not after its scheduled wait. With lines to spare it is not."""
    p = Pacer([CampaignPacing(ring_timeout_s=20.0, initial_hit_rate=0.3)])
    ringing: list[float] = []
    quiet = _tick_until_quiet(p, 0.0, idle, busy, ringing)
    if not short:  # plenty of lines: ten more ringing than the decisions made
        ringing += [quiet] * 10
    scheduled = float(p._next_decide[0])
    assert scheduled > quiet + 0.5  # nothing would be decided at the next ticks
    ended = ringing.pop(0)
    p.observe_dial(0, False, quiet + 0.25 - ended)
    aj, st, since, cj, cs, _ = _arrays(idle, busy, len(ringing))
    dials = int(p.decide(quiet + 0.25, aj, st, since, cj, cs, np.array(ringing))[0])
    if short:
        assert p._next_decide[0] != scheduled and dials >= 1
    else:
        assert p._next_decide[0] == scheduled and dials == 0


def test_a_campaign_with_nothing_to_dial_is_not_decided_until_then_but_news_wakes_it():
    """``nothing_to_dial``: the caller's list has no record before a time (its zones outside
    their calling windows at night): the look-ahead is not run for the campaign before then,
    though its agents are idle; a live answer (news) is decided at once."""
    p = Pacer([CampaignPacing(ring_timeout_s=20.0, initial_hit_rate=0.3)] * 2)
    aj = np.array([0] * 5 + [1] * 5, dtype=np.int64)
    st = np.full(10, AgentStatus.IDLE, dtype=np.int64)
    none = np.zeros(0, dtype=np.int64)

    def decide(now: float) -> np.ndarray:
        return p.decide(now, aj, st, np.zeros(10), none, none, np.zeros(0))

    first = decide(0.0)
    assert (first > 0).all()  # both dial for their idle agents
    p.launched(np.array([0, first[1]]))  # campaign 0's list had none to give
    p.nothing_to_dial(0, 3600.0)
    p.nothing_to_dial(0, 60.0)  # an earlier time changes nothing
    for k in range(1, 40):  # ten seconds of ticks: campaign 0 never decided again (a
        assert decide(k * 0.25)[0] == 0  # decision would set its next time afresh)
        assert p._next_decide[0] == 3600.0
    p.observe_live(0, 10.0, False)  # news: decided at the next tick
    decide(10.25)
    assert p._next_decide[0] < 3600.0
    with pytest.raises(ValueError, match="until_s"):
        p.nothing_to_dial(1, float("nan"))
    with pytest.raises(ValueError, match="row"):
        p.nothing_to_dial(2, 10.0)


def test_a_cold_campaign_dials_no_line_beyond_its_idle_agents_until_evidence_outweighs_its_prior():
    """At a 5 % prior a 100-agent team could take 300 lines (the lines cap), but a prior is
    a guess (a true 0.8 dropped 17 % of a 400-agent start's first six minutes): one line per
    idle agent until more dials than the prior is worth have ended with their whole cohort;
    then the look-ahead's own count again."""
    c = CampaignPacing(pacing=Pacing.PREDICTIVE, initial_hit_rate=0.05, max_lines_per_agent=3.0)
    p = Pacer([c])
    assert int(p.decide(0.0, *_arrays(100, 0, 0))[0]) == 100
    assert int(p.decide(0.25, *_arrays(100, 0, 40))[0]) <= 100 - 40
    below = int(c.hit_prior_weight) - 1  # ended dials, one short of the prior's worth
    for i in range(below):
        p.observe_dial(0, i % 20 == 0, 20.0)
    assert int(p.decide(120.0, *_arrays(100, 0, 0))[0]) == 100  # folded, still too few
    for i in range(3 * below):
        p.observe_dial(0, i % 20 == 0, 20.0)
    p.decide(240.0, *_arrays(100, 0, 0))  # held until their cohort has ended
    p.decide(400.0, *_arrays(100, 0, 0))
    assert p.hit.count[0] >= c.hit_prior_weight
    assert int(p.decide(400.25, *_arrays(100, 0, 0))[0]) > 100


def _live(p, t, connected, abandoned, row=0):
    """Report live answers at ``t``: the first ``abandoned`` abandoned, the rest connected."""
    for k in range(connected + abandoned):
        p.observe_live(row, t, k < abandoned)


def test_a_campaign_over_its_aim_with_the_price_at_its_floor_dials_one_line_per_idle_agent():
    """The price cannot fall under THETA_MIN, and the model cannot tell marginal abandons
    under about one in its samples: a campaign whose realised rate with the price at that
    floor (from a dial's life after the price reached it) is over its aim beyond chance is
    paced 1:1 (no live answer dropped), with a warning, until that rate is back at the
    aim."""
    from pacer.decide import REFRESH_S, THETA_MIN, chance_count

    p = Pacer([CampaignPacing(pacing=Pacing.PREDICTIVE, initial_hit_rate=0.05)])
    aim = float(p._aim()[0])  # no forecast yet: half the limit
    p.decide(0.0, *_arrays(10, 5, 3))
    settle = float(p._life[0] + p._connect_window_s[0])
    t = 0.0
    while t < settle + 2 * REFRESH_S:  # at the floor, no news: nothing judged
        t += REFRESH_S
        p.theta[:] = THETA_MIN
        p.decide(t, *_arrays(10, 5, 3))
        assert not p._at_floor[0]
    _live(p, t, 190, 10)  # 5 % of 200 at the floor: over the aim beyond chance
    assert 10 - chance_count(aim * 200) > 0
    t += REFRESH_S
    p.theta[:] = THETA_MIN
    p.decide(t, *_arrays(10, 5, 3))
    assert p._at_floor[0] and p._active[0] == 0
    assert any("price_at_floor" in w for w in p.warnings())
    assert int(p.decide(t + 0.25, *_arrays(10, 5, 3))[0]) == 10 - 3
    _live(p, t, 200, 0)  # 10 of 400: still over the aim; stays, no second warning
    t += REFRESH_S
    p.decide(t, *_arrays(10, 5, 3))
    assert p._at_floor[0] and len(p.warnings()) == 1
    _live(p, t, 1000, 0)  # 10 of 1400: the stretch at the floor back under the aim
    t += REFRESH_S
    p.decide(t, *_arrays(10, 5, 3))
    assert not p._at_floor[0] and p._active[0] == 1
    p._cold_rows = p._cold_rows[:0]  # as if its hit rate rested on enough ended dials
    p.theta[:] = 0.024
    p._limit = p._effective_limit()
    assert int(p.decide(t + 0.25, *_arrays(10, 5, 3))[0]) > 10 - 3  # the model's count again


def test_an_open_loop_pacer_never_holds_at_the_floor():
    """``open_loop`` (a calibration run: no feedback) keeps the model deciding: the floor's
    hold is feedback too. A calibration run that went to one line per idle agent at 46
    minutes forecast none of its later dials (live answers 1.36x the forecast)."""
    from pacer.decide import REFRESH_S, THETA_MIN

    held = []
    for open_loop in (False, True):
        p = Pacer([CampaignPacing(pacing=Pacing.PREDICTIVE, initial_hit_rate=0.05)])
        p.open_loop = open_loop
        p.decide(0.0, *_arrays(10, 5, 3))
        _live(p, 1.0, 180, 20)  # 10 % of 200 before the floor
        t = REFRESH_S
        p.decide(t, *_arrays(10, 5, 3))
        settle = float(p._life[0] + p._connect_window_s[0])
        while t < settle + 2 * REFRESH_S:
            t += REFRESH_S
            p.theta[:] = THETA_MIN
            p.decide(t, *_arrays(10, 5, 3))
        _live(p, t, 180, 20)  # and at the floor
        t += REFRESH_S
        p.theta[:] = THETA_MIN
        p.decide(t, *_arrays(10, 5, 3))
        held.append(bool(p._at_floor[0]))
    assert held == [True, False]


def test_one_abandon_among_a_few_live_answers_at_the_floor_is_chance():
    """A small team's first abandon at the floor: 1 of 6 live answers against an aim of
    ~1.5 % (0.09 expected, P(>= 1) ~ 9 %) is chance; the normal bound (mean + 1.645 sd)
    read it as beyond it and paced a 14-agent team at a hit rate of 0.08 one line per idle
    agent for 45 minutes. Two abandons of those 6 (P 0.4 %) are not chance; in both cases
    the run (3 or 4 of 60) is over its aim by the payback's normal bound."""
    from scipy.stats import poisson

    from pacer.decide import REFRESH_S, THETA_MIN

    for extra, held in ((0, False), (1, True)):
        p = Pacer([CampaignPacing(pacing=Pacing.PREDICTIVE, initial_hit_rate=0.05)])
        p.decide(0.0, *_arrays(10, 5, 3))
        _live(p, 1.0, 52 - extra, 2 + extra)  # the run before the floor: 2 (3) of 54
        t = REFRESH_S
        p.decide(t, *_arrays(10, 5, 3))
        settle = float(p._life[0] + p._connect_window_s[0])
        while t < settle + 2 * REFRESH_S:  # at the floor long enough to be judged
            t += REFRESH_S
            p.theta[:] = THETA_MIN
            p.decide(t, *_arrays(10, 5, 3))
        aim = float(p._aim()[0])
        _live(p, t, 5 - extra, 1 + extra)
        t += REFRESH_S
        p.theta[:] = THETA_MIN
        p.decide(t, *_arrays(10, 5, 3))
        assert bool(p._at_floor[0]) is held
        if not held:
            assert 1 - aim * 6 - 1.645 * (aim * 6) ** 0.5 > 0  # the normal bound's misreading
            assert poisson.sf(0, aim * 6) > 0.05


@pytest.mark.parametrize("mean", [0.02, 0.1, 0.5, 1.0, 2.0, 5.0, 20.0, 100.0, 1000.0])
def test_chance_count_is_exceeded_about_one_time_in_twenty_or_less(mean):
    """Against the Poisson law itself: the count over chance_count(mean) comes with
    chance between 0.2 % and 5.5 % (the normal bound's: up to 9.5 % at small means)."""
    from scipy.stats import poisson

    from pacer.decide import chance_count

    k = math.floor(float(chance_count(mean)))  # over it: k + 1 or more
    assert 0.0 < poisson.sf(k, mean) <= 0.055
    assert poisson.sf(k, mean) >= 0.002 or mean < 0.5


def test_a_burst_of_abandons_before_the_price_reached_its_floor_is_not_judged_there():
    """A price at its floor after a burst of abandons is the loop paying the burst back:
    only the abandons realised with the price at the floor, from a dial's life after it got
    there, send the campaign to one line per idle agent. Judged on the run so far, an early
    burst sent an 80-agent Ofcom campaign whose model reaches its aim to 1:1 for most of its
    hour (81.7 % occupancy against 93-94 % on the other seeds)."""
    from pacer.decide import REFRESH_S, THETA_MIN, chance_count

    p = Pacer([CampaignPacing(pacing=Pacing.PREDICTIVE, initial_hit_rate=0.05)])
    p.decide(0.0, *_arrays(10, 5, 3))
    _live(p, 1.0, 380, 20)  # 5 % of 400, the price still above its floor
    p.decide(REFRESH_S, *_arrays(10, 5, 3))
    aim = float(p._aim()[0])
    assert 20 - chance_count(aim * 400) > 0  # the run: over beyond chance
    t = REFRESH_S
    for _ in range(40):  # then at the floor for 200 s, every answer connected
        t += REFRESH_S
        p.theta[:] = THETA_MIN
        _live(p, t, 10, 0)
        p.decide(t, *_arrays(10, 5, 3))
        assert not p._at_floor[0] and p._active[0] == 1
    assert not any("price_at_floor" in w for w in p.warnings())
    p.theta[:] = THETA_MIN
    _live(p, t, 170, 30)  # now 30 of 600 at the floor, over its aim beyond chance: 1:1
    aim = float(p._aim()[0])
    assert 30 - chance_count(aim * 600) > 0
    p.decide(t + REFRESH_S, *_arrays(10, 5, 3))
    assert p._at_floor[0]


def test_a_cut_decision_keeps_the_forecast_of_its_first_dials():
    """When ports or the carrier let only the first k of a decision's n dials out, the
    forecast the price loop reads keeps the abandons those k add (the cheapest: each dial
    adds at least as much as the one before), not k / n of the n dials'. In proportion, a
    60-agent campaign on 75 ports forecast 1.7x its realised abandons."""
    from pacer.lookahead import launched_abandons

    p = Pacer([CampaignPacing(pacing=Pacing.PREDICTIVE, initial_hit_rate=0.3,
                              handling_mean_s=30.0)])
    p._cold_rows = p._cold_rows[:0]  # as if its hit rate rested on enough ended dials
    p.theta[:] = p._limit[:] = 0.2
    aj, st, since, cj, cs, t0 = _arrays(2, 40, 0)
    since[2:] = -np.linspace(5.0, 60.0, 40)  # busy agents some seconds into their calls
    before = p.added_abandons[0]
    n = int(p.decide(0.0, aj, st, since, cj, cs, t0)[0])
    added = p.added_abandons[0] - before
    assert n >= 8 and added > 0
    k = n // 2
    p.launched(np.array([k]))
    kept = p.added_abandons[0] - before
    assert kept == pytest.approx(launched_abandons(p._buf_curve[0], n, k), abs=1e-12)
    assert 0 <= kept < 0.75 * k / n * added  # the first half: well under half


def test_a_connect_window_longer_than_the_callers_patience_is_read_as_their_patience():
    """A new dial's answer cannot be brought before the look-ahead's first step, so with a
    window much longer than the callers' patience the model read their deadlines as the
    window's end and dialled as if no one hung up (ref-50 traffic, patience 6 s: 27 % of
    live answers abandoned with a 60 s window). Where callers hang up, the look-ahead's
    window is at most their mean patience: a 60 s window with 6 s callers decides as a 6 s
    window does, and more carefully than a 60 s window with callers who never hang up."""
    def decided(window_s, patience_s):
        p = Pacer([CampaignPacing(pacing=Pacing.PREDICTIVE, initial_hit_rate=0.3,
                                  connect_window_s=window_s, patience_mean_s=patience_s)],
                  seed=5)
        p._cold_rows = p._cold_rows[:0]  # as if its hit rate rested on enough ended dials
        p.theta[:] = p._limit[:] = 0.03
        aj, st, since, cj, cs, t0 = _arrays(0, 40, 4)
        since[:] = -np.linspace(5.0, 400.0, 40)  # busy agents some seconds into their calls
        return int(p.decide(0.0, aj, st, since, cj, cs, t0)[0])

    long_impatient = decided(60.0, 6.0)
    assert long_impatient == decided(6.0, 6.0)
    assert long_impatient < decided(60.0, float("inf"))


def test_a_zero_abandon_limit_warning_does_not_blame_amd():
    """A limit of 0 leaves no budget whatever the AMD does: the warning says so, instead of
    'used up by the estimated AMD false positives alone (0.000 of live answers)'."""
    p = Pacer([CampaignPacing(pacing=Pacing.PREDICTIVE, abandon_limit=0.0)])
    (w,) = p.warnings()
    assert w.startswith("campaign 0: abandon limit 0.000 allows no abandoned live answer")
    assert "AMD" not in w and "abandon_limit_infeasible" in w
    q = Pacer([CampaignPacing(pacing=Pacing.PREDICTIVE, regulation=Regulation.OFCOM,
                              amd_false_positive_rate=0.04)])
    (w,) = q.warnings()
    assert "AMD false positives alone (0.040 of live answers)" in w

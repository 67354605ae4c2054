"""Open-loop calibration of the predictive model (pacer.lookahead) in a world that follows
its assumptions (tests/model_world.py): summed over the measured time, the live answers and
abandons the model expected its dials to bring match the realised ones.

Tolerances come from the variance: abandons are rare, near-Poisson events, so realised minus
expected is within 3 sqrt(expected) (+1 for the integer count); live answers are binomial
per dial, within 3 sqrt(expected) as well.
"""

from __future__ import annotations

import math

from tests.model_world import run_world


def test_open_loop_forecast_matches_realised_live_answers_and_abandons():
    runs = [run_world(agents=50, hours=0.25, seed=s, warmup_s=120.0) for s in (1, 2, 3)]
    exp_ab = sum(r["expected_abandons"] for r in runs)
    real_ab = sum(r["abandons"] for r in runs)
    exp_live = sum(r["expected_live"] for r in runs)
    real_live = sum(r["live"] for r in runs)
    assert exp_live > 100 and exp_ab > 1  # the check has something to measure
    assert abs(real_live - exp_live) <= 3 * math.sqrt(exp_live) + 1
    assert abs(real_ab - exp_ab) <= 3 * math.sqrt(exp_ab) + 1, (real_ab, exp_ab)


def test_open_loop_forecast_counts_callers_hanging_up_while_they_wait():
    """Callers who hang up within the connect window (exponential patience, mean 6 s): the
    look-ahead brings their deadlines forward, so the forecast still matches."""
    runs = [run_world(agents=50, hours=0.25, seed=s, warmup_s=120.0, patience_mean_s=6.0)
            for s in (4, 5, 6)]
    exp_ab = sum(r["expected_abandons"] for r in runs)
    real_ab = sum(r["abandons"] for r in runs)
    assert exp_ab > 1
    assert abs(real_ab - exp_ab) <= 3 * math.sqrt(exp_ab) + 1, (real_ab, exp_ab)


def test_open_loop_forecast_with_hang_ups_at_a_large_team():
    """At 400 agents several answers often wait at once and callers hang up: the forecast
    stays within the runs' own spread of the realised abandons (model world, 40 x 15 min:
    1402 realised against 1288 forecast). The look-ahead serves the answers to come by
    deadline where an ACD serves the oldest first (``tests/test_lookahead_snapshot.py``
    pins that bias down); this checks it stays within what a 400-agent run can show.

    Abandons at this size come in bursts (a few seconds with too few agents drop a dozen
    callers), so a run's count varies about 8 times as much as a Poisson count would: the
    tolerance is 3 standard deviations of the summed differences, the variance estimated
    from the runs themselves (never under the Poisson one)."""
    runs = [run_world(agents=400, hours=1 / 6, seed=s, patience_mean_s=6.0)
            for s in range(31, 39)]
    diffs = [r["abandons"] - r["expected_abandons"] for r in runs]
    exp_ab = sum(r["expected_abandons"] for r in runs)
    n = len(runs)
    mean = sum(diffs) / n
    var = max(sum((x - mean) ** 2 for x in diffs) / (n - 1), exp_ab / n)
    assert exp_ab > 100
    assert abs(sum(diffs)) <= 3 * math.sqrt(n * var) + 1, (sum(diffs), exp_ab)
    # and the runs' own spread is a tolerance of well under the forecast itself
    assert 3 * math.sqrt(n * var) < exp_ab

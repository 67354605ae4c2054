"""Predictive cold starts with a wrong hit-rate prior stay under the FCC limit from the
first minute (``bench.cold_start``: the rate over the live answers answered so far).

Each check pools three seeds. Without the pacer's cold-start cap (no line beyond the idle
agents while the hit rate is mostly its prior) the 400- and 1000-agent starts at a true
live share of 0.8 against the default prior 0.25 dropped 32 % of the first minute's live
answers and 19 % of the first five minutes'; with it, 0.0-0.3 % and 1.3-1.7 %. A pooled
rate of ~1.6 % over ~6,000 live answers has a standard deviation of ~0.25 points with
abandons in bursts (1.5x Poisson), so the limit (3 %) is over 5 of them away: a failure
here is not chance.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from bench import cold_start as cs
from engine.vocab import ABANDON_CODES, LIVE_CODES

pytestmark = pytest.mark.slow

SEED, REPS = 11, 3
LIMIT = 0.03  # the scenario's FCC limit


def _check(res: dict) -> None:
    for c in res["checkpoints"]:
        assert c["live_answers"] > 0
        assert c["rate"] <= LIMIT, (
            f"{res['agents']} agents, live {res['live']}, prior {res['prior']}: "
            f"{100 * c['rate']:.2f} % of the first {c['minutes']:g} min's live answers "
            f"abandoned ({c['abandons']:g} of {c['live_answers']:g})")


@pytest.mark.parametrize(("agents", "live", "prior"),
                         [(1000, 0.8, 0.25), (1000, 0.1, 0.6), (400, 0.8, 0.25)])
def test_wrong_prior_cold_start_meets_the_limit_from_the_first_minute(agents, live, prior):
    """The hit-rate prior far too low (0.25 for 0.8: the pacer would dial 3 lines per
    agent on it) or far too high (0.6 for 0.1)."""
    res = cs.measure(agents, live, prior, 5.0, SEED, REPS, checkpoints=(1.0, 2.0, 3.0))
    assert [c["minutes"] for c in res["checkpoints"]] == [1.0, 2.0, 3.0, 5.0]
    _check(res)


def test_a_drifting_hit_rate_is_followed_within_the_limit():
    """400 agents from a cold start, the live share falling from 0.35 to 0.15 over the
    hour (the hit rate the pacer learnt keeps getting too high)."""
    res = cs.measure(400, None, 0.35, 60.0, SEED, REPS, drift=(0.35, 0.15),
                     checkpoints=(1.0, 15.0, 30.0))
    _check(res)


def test_the_answer_times_match_the_attempt_table():
    """The measure's oracle, the attempt table (``engine.vocab`` codes, ``t_answer``) of a
    run long enough (30 min; talk lognormal mean 180 s) for nearly every call answered in
    its first four minutes to have ended: the live answers the events count before 4 min
    are the table's, plus calls still connected at the run's end (not in the table), and
    their abandons are the table's."""
    from sim.run import simulate

    scn = cs.scenario(400, 0.8, 0.25, 30.0)
    sink = cs._AnswerSink()
    att = simulate(scn, SEED, sink=sink).attempts
    t = 240.0
    live = att.filter(pl.col("code").is_in(list(LIVE_CODES)) & (pl.col("t_answer") < t))
    ab = live.filter(pl.col("code").is_in(list(ABANDON_CODES)))
    assert live.height > 500 and ab.height > 0  # the check has something to count
    con_t, con_id = np.array(sink.connected), np.array(sink.connected_ids)
    ab_t, ab_id = np.array(sink.abandoned), np.array(sink.abandoned_ids)
    assert set(ab_id[ab_t < t].tolist()) == set(ab["attempt_id"].to_list())
    ended = set(att["attempt_id"].to_list())
    early = set(con_id[con_t < t].tolist()) | set(ab_id[ab_t < t].tolist())
    still_on = early - ended  # connected, talking past the run's end
    assert early & ended == set(live["attempt_id"].to_list())
    assert len(still_on) <= 0.01 * live.height
    (c,) = cs.by_minute([{"connected": con_t, "abandoned": ab_t}], 4.0, ())
    assert (c["live_answers"], c["abandons"]) == (live.height + len(still_on), ab.height)
    assert c["rate"] == pytest.approx(ab.height / (live.height + len(still_on)))

"""One case per class of failure an outside fuzz of the pacer's public API found: each now
ends in a ValueError naming the argument (or a correct result), never a crash, a numba
typing error, an overflow or a silently wrong answer. Cases that once crashed the process
run in a subprocess, so a regression fails the test instead of killing the run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pacer import CampaignPacing, Pacer
from pacer.abandon import AbandonParams, AbandonState
from pacer.cohorts import PendingDials
from pacer.histogram import StreamingHistogram
from pacer.hitrate import HitRateParams, HitRateState
from pacer.holdtime import HoldTime, ended_phases, expose_phases
from pacer.licenses import LicenseDistributor, pool_sizes_array
from pacer.lookahead import dial_life, grid_steps
from pacer.modes import LicenseKind
from pacer.poisson_binomial import expected_excess, poisson_binomial_pmf
from pacer.predictive import predictive_dials
from pacer.rates import fcc_abandon_rate, ofcom_abandon_rate
from pacer.ratio import fixed_ratio_launch, progressive_launch, round_half_away
from pacer.timed import TimedParams, TimedState
from pacer.vicidial import VicidialParams, VicidialState, clock_hhmm

ROOT = Path(__file__).resolve().parent.parent


def _hold():
    h = HoldTime(2, 10.0, 100.0, 3600.0)
    h.seed(0, 50.0, 1.0, 10.0)
    return h


def _ring():
    r = StreamingHistogram(2, 0.5, 60.0)
    r.seed(0, 9.0, 0.5, 10.0)
    return r


def _predictive(**change):
    hold, ring = StreamingHistogram(1, 10.0, 600.0), StreamingHistogram(1, 0.5, 60.0)
    hold.seed(0, 200.0, 1.0, 10.0)
    ring.seed(0, 10.0, 0.5, 10.0)
    args = dict(agent_offsets=np.array([0, 1]), agent_elapsed_s=np.array([-1.0]),
                call_offsets=np.array([0, 0]), call_elapsed_s=np.zeros(0), hold=hold, ring=ring,
                hit_rate=0.3, ring_timeout_s=30.0, horizon_s=30.0, abandon_limit=0.03,
                max_new=10)
    args.update(change)
    return predictive_dials(**args)


CASES = {
    # out-of-range rows and NaN times reached an unchecked numba kernel (IndexError, or a
    # write out of bounds)
    "holdtime ended row": (lambda: _hold().ended(np.array([5]), np.array([1.0])), "rows"),
    "holdtime ended huge": (lambda: _hold().ended(np.array([0]), np.array([9e19])),
                            "seconds"),
    "holdtime expose nan": (lambda: _hold().expose(np.array([0, 1, 1]), np.array([np.nan]),
                                                   np.array([0]), 1.0), "agent_elapsed_s"),
    "holdtime expose offsets": (lambda: _hold().expose(np.array([0, 9, 9]), np.array([1.0]),
                                                       np.array([0]), 1.0), "agent_offsets"),
    "holdtime seed row": (lambda: _hold().seed(np.array([1]), 50.0, 1.0, 1.0), "row"),
    "holdtime ctor": (lambda: HoldTime(np.ones(2), 10.0, 100.0, 3600.0), "n_rows"),
    "holdtime to_histogram": (lambda: _hold().to_histogram(np.array([0]), np.zeros((2, 3)),
                                                           np.zeros(2)), "counts"),
    "ended_phases codes": (lambda: ended_phases(_hold(), _hold(), np.array([0]),
                                                np.array([1.0]), np.array([7])), "codes"),
    "expose_phases phase": (lambda: expose_phases(_hold(), _hold(), _hold(),
                                                  np.array([0, 1, 1]), np.array([3.0]),
                                                  np.array([9]), np.array([0]), 1.0),
                            "agent_phase"),
    "pending rows": (lambda: PendingDials(0).add([0, -3], [1, 0], [0.0, 0.0], [1.0, 1.0]),
                     "rows"),
    "pending lengths": (lambda: PendingDials(0).add([0, 1], [1], [0.0, 0.0], [1.0, 1.0]),
                        "live"),
    "dial_life rows": (lambda: dial_life(_ring().counts, _ring().totals, 0.5,
                                         np.full(2, 30.0), np.array([3]), np.zeros(2)),
                       "rows"),
    # numba typing errors (not a ValueError) for a wrong type
    "fcc rate str": (lambda: fcc_abandon_rate("3", 10), "abandons"),
    "ofcom rate None": (lambda: ofcom_abandon_rate(1, None, 0), "false_positives"),
    "fcc rate negative": (lambda: fcc_abandon_rate(1, -5), "live_answers"),
    # OverflowError / a ragged list's numpy error instead of a named ValueError
    "uint64 past int64": (lambda: HitRateState(HitRateParams(window=np.array([10])))
                          .record(np.array([0]), np.uint64(2**64 - 1)), "live"),
    "ragged list": (lambda: TimedParams(rate_per_s=[1.0, 2.0], min_ports=[1, [2]]),
                    "min_ports"),
    "pool size past int64": (lambda: pool_sizes_array({LicenseKind.OUTBOUND_PORT: 2**70}),
                             "pool_sizes"),
    "unhashable job": (lambda: LicenseDistributor([1] * len(LicenseKind))
                       .add_job({"a": 1}, 3, 1, 0, 1, 1), "job"),
    # silent casts: complex (imaginary part dropped), datetime, 0-d arrays as scalars
    "complex ratio": (lambda: fixed_ratio_launch(np.array([2 + 5j]), 3, 1, 0), "ratio"),
    "complex pmf": (lambda: poisson_binomial_pmf(np.array([0.5 + 1j])), "p"),
    "datetime pmf": (lambda: expected_excess(np.array([1, 2], dtype="datetime64[s]"),
                                             np.array([1.0])), "pmf_l"),
    "complex horizon": (lambda: _predictive(horizon_s=np.array([30 + 1j])), "horizon_s"),
    "complex x": (lambda: round_half_away(np.array([1.5 + 2j])), "x"),
    "array places": (lambda: round_half_away(1.25, np.array([1])), "places"),
    "str string now": (lambda: AbandonState(AbandonParams(regulation=0)).rates("soon"),
                       "now_s"),
    "array dt": (lambda: TimedState(TimedParams(rate_per_s=1.0)).launch([0], np.ones(2)),
                 "dt_s"),
    "array hhmm": (lambda: clock_hhmm(np.array([900, 1000]), 5.0), "start_hhmm"),
    "bytes elapsed": (lambda: clock_hhmm(900, b"12"), "elapsed_s"),
    "n_steps array": (lambda: _predictive(n_steps=np.array([2])), "n_steps"),
    "grid steps str": (lambda: grid_steps("30", 1.0), "ring_timeout_s"),
    "histogram decay": (lambda: StreamingHistogram(1, 1.0, 10.0, decay=np.ones(3)), "decay"),
    # ratio x agents past int64 came back as 0 dials (or 9.2e18)
    "ratio past cap": (lambda: fixed_ratio_launch(1e300, 3, 1, 0), "ratio"),
    "agents past cap": (lambda: fixed_ratio_launch(2.0, 2**62, 2**62, 0), "ready"),
    "progressive past cap": (lambda: progressive_launch(1.5, 2**62, 0), "idle"),
    "vicidial level past cap": (lambda: VicidialState(VicidialParams(mode=7),
                                                      initial_level=1e300), "initial_level"),
    "vicidial agents past cap": (lambda: VicidialState(VicidialParams(mode=7))
                                 .launch(2**62, 0, 0), "ready"),
    # an AttributeError / a TypeError deep inside for a wrong container
    "pacer campaigns": (lambda: Pacer([CampaignPacing(), "predictive"]), r"campaigns\[1\]"),
    "pacer campaigns 0-d": (lambda: Pacer(np.array(3)), "campaigns"),
    "pacer seed": (lambda: Pacer([CampaignPacing()], seed=-1), "seed"),
    "abandon zero rows": (lambda: AbandonState(AbandonParams(regulation=np.zeros(0, int))),
                          "params"),
    # a truthy string or object read as True
    "observe live str": (lambda: Pacer([CampaignPacing()]).observe_live(0, 1.0, "no"),
                         "abandoned"),
    "observe dial object": (lambda: Pacer([CampaignPacing()]).observe_dial(0, object(), 1.0),
                            "live"),
    "observe wait 2": (lambda: Pacer([CampaignPacing()]).observe_wait(0, 1.0, 2), "hung_up"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_a_value_error_naming_the_argument(case):
    call, name = CASES[case]
    with pytest.raises(ValueError, match=name):
        call()


def test_good_inputs_still_pass():
    """The checks let the ordinary calls through, with the same results."""
    assert fcc_abandon_rate(3, 100) == pytest.approx(0.03)
    assert ofcom_abandon_rate(np.int64(2), 1.0, 50) == pytest.approx(3 / 51)
    assert grid_steps(30.0, 1.0) == 31
    assert fixed_ratio_launch(1000.0, 3, 1, 0).tolist() == [4000]
    assert round_half_away(np.array([1.25, 2.5]), 1).tolist() == [1.3, 2.5]
    assert clock_hhmm(2350, 1200.0) == 10
    p = Pacer([CampaignPacing()], seed=np.uint32(7))
    p.observe_dial(0, np.bool_(True), 9.0)
    p.observe_live(0, 1.0, 0)
    life = np.zeros(2)
    dial_life(_ring().counts, _ring().totals, 0.5, np.full(2, 30.0), np.array([0, 1]), life)
    assert (life >= 30.0).all()
    h = _hold()
    h.expose(np.array([0, 1, 1]), np.array([25.0]), np.array([0, 1]), 2.0)
    h.ended(np.array([0]), np.array([40.0]))
    c, t = np.zeros((2, h.n_bins)), np.zeros(2)
    h.to_histogram(np.array([0]), c, t)
    assert t[0] == 1.0 and c[0].sum() == pytest.approx(1.0)


_CRASHERS = """
import numpy as np
from pacer.gather import gather
e = np.zeros(0, dtype=np.int64)
for job in ([5], [-7], [2**62]):
    try:
        gather(2, 100.0, np.array(job), np.array([1]), np.array([0.0]), e, e, np.zeros(0))
    except ValueError as exc:
        assert "agent_job" in str(exc), exc
    else:
        raise SystemExit("accepted " + str(job))
try:
    gather(1, 100.0, e, e, np.zeros(0), np.array([0]), np.array([1]), np.array([np.nan]))
except ValueError as exc:
    assert "call_t0_s" in str(exc), exc
from pacer.cohorts import PendingDials
from pacer.hitrate import HitRateParams, HitRateState
p = PendingDials(0)
p.add([5], [1], [0.0], [2.0])  # a row the windows below do not have: read out of bounds
hit = HitRateState(HitRateParams(window=np.array([10])))
try:
    p.fold(100.0, np.full(1, 30.0), hit, np.zeros(1), 0.9)
except ValueError as exc:
    assert "hit" in str(exc), exc
else:
    raise SystemExit("PendingDials.fold accepted a row past the windows")
for n in (-1, 1.5, "2"):
    try:
        gather(n, 0.0, e, e, np.zeros(0), e, e, np.zeros(0))
    except ValueError as exc:
        assert "n_camp" in str(exc), exc
print("clean")
"""


def test_gather_with_rows_out_of_range_is_an_error_not_a_segfault():
    """``pacer.gather.gather`` ran its kernel on unchecked rows: an agent of campaign 5
    among 2 wrote past the count matrix and killed the process (SIGSEGV); so could
    ``PendingDials.fold`` with a row its windows do not have."""
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(_CRASHERS)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, (res.returncode, res.stderr[-2000:])
    assert res.stdout.strip() == "clean"


# ----------------------------------------------------------------------------- engine


def _dialer():
    from tests.test_dialer import build
    clock, tel, feed, _store, dialer = build()
    dialer.start()
    return clock, tel, feed, dialer


ENGINE_CASES = {
    # negative indices counted from the end (agent -1 moved the last agent), None paused
    # every job, floats and numpy arrays gave IndexError / KeyError / TypeError
    "feed agent -1": (lambda d: d.on_agent_state(-1, 2), "agent"),
    "feed agent float": (lambda d: d.on_agent_state(1.0, 2), "agent"),
    "feed state unknown": (lambda d: d.on_agent_state(0, 99), "state"),
    "feed state list": (lambda d: d.on_agent_state(0, [2]), "state"),
    "pause None": (lambda d: d.pause(None), "job"),
    "resume 5": (lambda d: d.resume(5), "job"),
    "force_logout -2": (lambda d: d.force_logout(-2), "agent"),
    # a job row out of range was stored and made every later tick raise in the pacer
    "assign out of range": (lambda d: d.assign(np.array([0, 7])), "agent_job"),
    "assign short": (lambda d: d.assign([0]), "agent_job"),
    "assign floats": (lambda d: d.assign(np.array([0.5, 0.0])), "agent_job"),
}


@pytest.mark.parametrize("case", list(ENGINE_CASES))
def test_a_bad_feed_or_staffing_call_is_refused_and_the_dialer_goes_on(case):
    from tests.test_dialer import login
    call, name = ENGINE_CASES[case]
    clock, tel, feed, dialer = _dialer()
    with pytest.raises(ValueError, match=name):
        call(dialer)
    assert dialer.agents.job.tolist() == [0, 0] and dialer.running.all()
    login(feed, range(2))
    clock.run(clock.t + 3.0)
    assert len(tel.dialled) == 2  # one dial per ready agent: the dialer still works


def test_engine_constructors_and_files_name_what_is_wrong(tmp_path):
    from engine.agents import AgentManager
    from engine.contacts import ContactListError
    from engine.dnc import DncList
    from engine.rules import RuleConfig, RuleConfigError
    from engine.sinks import SinkError, read_jsonl
    from engine.strategy import Strategy, StrategyError

    with pytest.raises(ValueError, match="window"):
        AgentManager(2, np.ones(2, int), 1, (np.nan, 1.0))
    with pytest.raises(ValueError, match="skills"):
        AgentManager(2, np.ones(3, int), 1, (0.0, 1.0))
    m = AgentManager(2, np.ones(2, int), 1, (0.0, 1e9))
    with pytest.raises(ValueError, match="unknown event"):
        m.transition(0, b"login", 1.0)
    with pytest.raises(ValueError, match="now"):
        m.transition(0, "login", "soon")
    with pytest.raises(ValueError, match="job"):
        m.set_job(0, 3)
    with pytest.raises(StrategyError, match="table"):
        Strategy.from_dict(True)
    with pytest.raises(RuleConfigError, match="blocked_contacts"):
        RuleConfig(blocked_contacts=np.uint64(3))
    with pytest.raises(RuleConfigError, match="blocked_contacts"):
        RuleConfig(blocked_contacts=b"12")  # not the contacts "49" and "50"
    with pytest.raises(RuleConfigError, match="day"):
        RuleConfig(day=np.array(["UTC"]))
    with pytest.raises(RuleConfigError, match="default_country_code"):
        RuleConfig(default_country_code=b"44")
    bad = tmp_path / "e.jsonl"
    bad.write_bytes(b'{"topic": "t", "event": {}}\n\xff\xfe\n')
    with pytest.raises(SinkError, match=r"e.jsonl:2: not UTF-8"):
        read_jsonl(bad)
    empty = tmp_path / "dnc.csv"
    empty.write_bytes(b"")
    with pytest.raises(ContactListError, match=r"dnc\.csv"):
        DncList.from_file(empty)

"""pacer.assignment: agents to jobs by skill, as few moves as possible, against optima."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pacer.assignment import assign_agents, warmup
from tests import naive_licenses as naive

SETTINGS = settings(max_examples=100, deadline=None)


@st.composite
def instances(draw, max_agents=12, max_jobs=4, skill_bits=3, max_target=5):
    """(agent_skills, agent_job, agent_on_call, job_skills, job_target), plain lists."""
    n = draw(st.integers(0, max_agents))
    m = draw(st.integers(1, max_jobs))
    top = (1 << skill_bits) - 1
    agent_skills = draw(st.lists(st.integers(0, top), min_size=n, max_size=n))
    agent_job = draw(st.lists(st.integers(-1, m - 1), min_size=n, max_size=n))
    agent_on_call = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    # jobs mostly need one or two skills, some none
    job_skills = draw(
        st.lists(st.sampled_from([0, 1, 2, 4, 3, 5, 6, 7][: top + 1]), min_size=m, max_size=m)
    )
    job_target = draw(st.lists(st.integers(0, max_target), min_size=m, max_size=m))
    return agent_skills, agent_job, agent_on_call, job_skills, job_target


def check_rules(case, result):
    """The hard rules: skills, agents on calls, targets; and the reported figures."""
    agent_skills, agent_job, agent_on_call, job_skills, job_target = case
    new = result.job.tolist()
    on_call_at = [0] * len(job_skills)
    for a, busy in enumerate(agent_on_call):
        if busy:
            assert new[a] == agent_job[a]  # never moves
            if agent_job[a] >= 0:
                on_call_at[agent_job[a]] += 1
        elif new[a] >= 0:
            assert naive.qualified(agent_skills[a], job_skills[new[a]])
    for j, target in enumerate(job_target):
        count = sum(1 for x in new if x == j)
        assert count == result.staffing[j]
        assert count <= max(target, on_call_at[j])  # over target only through calls
    assert result.moves == naive.moves_of(agent_job, new)


def placed(case, result):
    on_call = case[2]
    return sum(1 for a, j in enumerate(result.job.tolist()) if j >= 0 and not on_call[a])


@SETTINGS
@given(instances(max_agents=7, max_jobs=3))
def test_optimal_against_exhaustive_enumeration(case):
    result = assign_agents(*case)
    check_rules(case, result)
    best_placed, best_moves = naive.assign_optimum_enumerate(*case)
    assert placed(case, result) == best_placed
    assert result.moves == best_moves


@SETTINGS
@given(instances(max_agents=30, max_jobs=6, skill_bits=3, max_target=8))
def test_optimal_against_linear_sum_assignment(case):
    result = assign_agents(*case)
    check_rules(case, result)
    best_placed, best_moves = naive.assign_optimum(*case)
    assert placed(case, result) == best_placed
    assert result.moves == best_moves
    # and, in particular, the fewest moves that reach the staffing it achieved
    agent_skills, agent_job, agent_on_call, job_skills, _ = case
    fewest = naive.min_moves_for_staffing(
        agent_skills, agent_job, agent_on_call, job_skills, result.job.tolist()
    )
    assert result.moves == fewest


@SETTINGS
@given(instances(max_agents=30, max_jobs=6))
def test_deterministic_and_stable_when_run_again(case):
    first = assign_agents(*case)
    again = assign_agents(*case)
    assert (first.job == again.job).all()
    assert first.moves == again.moves
    # Run on its own result: nothing to improve, nobody moves.
    agent_skills, _, agent_on_call, job_skills, job_target = case
    rerun = assign_agents(agent_skills, first.job, agent_on_call, job_skills, job_target)
    assert rerun.moves == 0
    assert (rerun.job == first.job).all()


def test_agents_stay_where_their_job_still_needs_them():
    # job 0 needs 2 and has them; job 1 (skill 2) needs 1 more; a free agent has skill 2
    result = assign_agents([1, 1, 2], [0, 0, -1], [0, 0, 0], [1, 2], [2, 1])
    assert result.job.tolist() == [0, 0, 1]
    assert result.moves == 1


def test_surplus_idle_agents_go_where_they_are_needed():
    # job 0 is over-staffed (target 1, three idle agents); job 1 needs 2 with skill 2
    result = assign_agents([3, 1, 3], [0, 0, 0], [0, 0, 0], [1, 2], [1, 2])
    # the specialist (agent 1, skill 1 only) stays, the two generalists move
    assert result.job.tolist() == [1, 0, 1]
    assert result.moves == 2
    assert result.staffing.tolist() == [1, 2]


def test_on_call_agents_never_move():
    # job 0 target 0, agent 0 on a call there: it stays (over target until the call ends);
    # agent 1 on a call without the job's skill stays too; idle agent 2 is released.
    result = assign_agents([1, 0, 1], [0, 0, 0], [1, 1, 0], [1], [0])
    assert result.job.tolist() == [0, 0, -1]
    assert result.moves == 1
    # once the calls end, they are released
    result = assign_agents([1, 0, 1], [0, 0, 0], [0, 0, 0], [1], [0])
    assert result.job.tolist() == [-1, -1, -1]


def test_agents_on_calls_take_places_first():
    # target 2, one agent on a call there: one place left for the two idle agents there
    result = assign_agents([1, 1, 1], [0, 0, 0], [1, 0, 0], [1], [2])
    assert result.job.tolist() == [0, 0, -1]
    assert result.staffing.tolist() == [2]


def test_unqualified_idle_agent_is_moved_off():
    result = assign_agents([2], [0], [0], [1, 2], [1, 1])
    assert result.job.tolist() == [1]
    assert result.moves == 1


def test_a_chain_of_moves_when_it_staffs_one_more_place():
    # Agent 0 sits on job 0 and could also serve job 1; agent 1 (free) can only serve job 0.
    # Moving agent 0 to job 1 and agent 1 onto job 0 staffs both: two moves, one more place.
    result = assign_agents([3, 1], [0, -1], [0, 0], [1, 2], [1, 1])
    assert result.job.tolist() == [1, 0]
    assert result.moves == 2


def test_fewer_qualifying_jobs_first_to_preserve_flexibility():
    # Job 0 (skill 1) has one place; job 1 (skill 2) is full with agent 2 on it.
    # Agent 0 could serve both jobs, agent 1 only job 0: the specialist gets the place.
    result = assign_agents([3, 1, 2], [-1, -1, 1], [0, 0, 0], [1, 2], [1, 1])
    assert result.job.tolist() == [-1, 0, 1]
    # Same number of qualifying jobs: fewer skill bits first (agent 0 has an unused bit).
    result = assign_agents([5, 1], [-1, -1], [0, 0], [1], [1])
    assert result.job.tolist() == [-1, 0]


def test_released_agent_is_placed_before_an_agent_without_a_job():
    # Job 0 over-staffed by one; job 1 has one place; agent 2 (no job) could take it too,
    # but placing the released agent costs one move instead of two.
    result = assign_agents([3, 3, 3], [0, 0, -1], [0, 0, 0], [1, 1], [1, 1])
    assert result.moves == 1
    assert result.job.tolist()[2] == -1
    assert sorted(result.job.tolist()[:2]) == [0, 1]


def test_longer_augmenting_paths():
    # Found by random search: augmenting paths that displace the most recently placed
    # agent of a job. Checked against the optimum like every other case.
    case = ([7, 1, 2, 4, 0], [0, 0, 2, -1, 0], [0] * 5, [0, 3, 5], [3, 0, 2])
    result = assign_agents(*case)
    check_rules(case, result)
    assert (placed(case, result), result.moves) == naive.assign_optimum_enumerate(*case)


def test_a_shortage_is_spread_over_the_jobs():
    result = assign_agents([1] * 4, [-1] * 4, [0] * 4, [1, 1], [5, 5])
    assert result.staffing.tolist() == [2, 2]


def test_empty_inputs():
    result = assign_agents([], [], [], [1, 2], [3, 4])
    assert result.job.tolist() == []
    assert result.moves == 0
    assert result.staffing.tolist() == [0, 0]
    result = assign_agents([1], [-1], [0], [], [])
    assert result.job.tolist() == [-1]


def test_full_64_bit_masks():
    top = np.array([np.uint64(1) << np.uint64(63)], np.uint64)
    result = assign_agents(top, [-1], [0], top, [1])
    assert result.job.tolist() == [0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([1], [2], [0], [1], [1]), r"agent_job\[0\] \(agent 0\) must be -1 or a job index"),
        (([1], [-2], [0], [1], [1]), r"agent_job\[0\] \(agent 0\)"),
        (([1], [0], [0], [1], [-1]), r"job_target\[0\] \(job 0\) must be >= 0, got -1"),
        (([1, 2], [0], [0], [1], [1]), "agent_job must have length 2"),
        (([1], [0], [0, 0], [1], [1]), "agent_on_call must have length 1"),
        (([1], [0], [0], [1], [1, 1]), "job_target must have length 1"),
        (([1.5], [0], [0], [1], [1]), "agent_skills must hold integers"),
        (([[1]], [0], [0], [1], [1]), "agent_skills must be a 1-D array"),
    ],
)
def test_rejects(args, message):
    with pytest.raises(ValueError, match=message):
        assign_agents(*args)


def test_warmup_compiles():
    warmup()


def test_large_instance_keeps_the_rules():
    rng = np.random.default_rng(3)
    n, m = 1000, 200
    skills = np.zeros(n, np.int64)
    for bit in range(12):
        skills |= (rng.random(n) < 0.4).astype(np.int64) << bit
    job_skills = np.array([1 << int(b) for b in rng.integers(0, 12, m)], np.int64)
    target = rng.multinomial(900, np.ones(m) / m)
    agent_job = rng.integers(-1, m, n)
    on_call = rng.random(n) < 0.5
    case = (
        skills.tolist(),
        agent_job.tolist(),
        on_call.tolist(),
        job_skills.tolist(),
        target.tolist(),
    )
    result = assign_agents(skills, agent_job, on_call, job_skills, target)
    check_rules(case, result)
    rerun = assign_agents(skills, result.job, on_call, job_skills, target)
    assert rerun.moves == 0

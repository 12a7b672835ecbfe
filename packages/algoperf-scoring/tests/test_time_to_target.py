"""Golden tests of the per-trial, per-study and per-workload rules, answers worked by hand."""

import math

import numpy as np
import pytest

from algoperf.api import MetricDirection
from algoperf.scoring import TrialTime, median_over_studies, study_time, time_to_target
from algoperf.scoring._time_to_target import _Goal, _times_to_target

MAX = MetricDirection.MAXIMIZE
MIN = MetricDirection.MINIMIZE
TIMES = [10.0, 20.0, 30.0, 40.0]
ACCURACY = [0.5, 0.7, 0.7, 0.9]


def test_first_eval_reaching_the_target_non_strictly():
    # 0.7 >= 0.7 at index 1 (a strict > would give index 3, at 40 s).
    assert time_to_target(TIMES, ACCURACY, 0.7, MAX) == (20.0, 1)


def test_minimized_metric():
    # wer 0.1 <= 0.1 at index 1.
    assert time_to_target([5.0, 6.0, 7.0], [0.2, 0.1, 0.05], 0.1, MIN) == (6.0, 1)


def test_never_reached_is_inf():
    assert time_to_target(TIMES, ACCURACY, 0.95, MAX) == (math.inf, -1)


def test_time_beyond_the_budget_does_not_count():
    # Only the eval at 10 s is within a 15 s budget, and it does not reach 0.7.
    assert time_to_target(TIMES, ACCURACY, 0.7, MAX, budget=15.0) == (math.inf, -1)


def test_time_equal_to_the_budget_counts():
    assert time_to_target(TIMES, ACCURACY, 0.7, MAX, budget=20.0) == (20.0, 1)


def test_nan_never_reaches():
    # NaN >= 0.7 is false; the first real reach is index 2.
    assert time_to_target([1.0, 2.0, 3.0], [math.nan, math.nan, 0.8], 0.7, MAX) == (3.0, 2)


def test_no_eval_is_nan():
    seconds, index = time_to_target([], [], 0.7, MAX)
    assert math.isnan(seconds)
    assert index == -1


# Trial 1 evaluates every 100 s and reaches the target at its 4th eval (index 3, 400 s);
# trial 2 evaluates every 50 s and reaches it at its 6th eval (index 5, 300 s).
CADENCES = [TrialTime(1, 400.0, 3), TrialTime(2, 300.0, 5)]


def test_fastest_trial_by_time():
    assert study_time(CADENCES) == TrialTime(2, 300.0, 5)


def test_reference_compat_picks_the_earliest_eval_index_instead():
    # Index 3 < 5, so the reference's code takes trial 1 and reports 400 s, not 300 s.
    assert study_time(CADENCES, reference_compat=True) == TrialTime(1, 400.0, 3)


def test_ties_go_to_the_lowest_trial_number():
    same_index = [TrialTime(4, 240.0, 2), TrialTime(3, 250.0, 2)]
    assert study_time(same_index, reference_compat=True).trial == 3  # index tie
    assert study_time(same_index).trial == 4  # 240 s is faster
    same_time = [TrialTime(5, 300.0, 1), TrialTime(2, 300.0, 9)]
    assert study_time(same_time).trial == 2


def test_a_study_without_a_reaching_trial():
    assert study_time([TrialTime(1, math.inf, -1), TrialTime(2, math.nan, -1)]).seconds == math.inf
    errored = study_time([TrialTime(1, math.nan, -1)])
    assert math.isnan(errored.seconds)
    assert errored.trial == 0


@pytest.mark.parametrize(
    ("studies", "expected"),
    [
        # sorted 100, 200, 300, 400, inf: the middle one
        ([100, 200, math.inf, 300, 400], 300.0),
        # 3 of 5 infinite: sorted 100, 200, inf, inf, inf -> inf
        ([100, math.inf, math.inf, 200, math.inf], math.inf),
        # NaN (error) counts as inf: 100, 200, 300, inf, inf -> 300
        ([math.nan, 100, 200, math.nan, 300], 300.0),
        # errors in the majority: 100, 200, inf, inf, inf -> inf, not NaN
        ([math.nan, math.nan, math.nan, 100, 200], math.inf),
        # even count: the mean of the two middle ones
        ([100, 200, 300, math.inf], 250.0),
        # 2 of 4 infinite: (200 + inf) / 2 -> inf
        ([100, 200, math.inf, math.inf], math.inf),
    ],
)
def test_median_over_studies(studies, expected):
    assert median_over_studies(np.array([studies], dtype=float), np.array([len(studies)]))[
        0
    ] == pytest.approx(expected)


def test_median_ignores_padding_and_is_nan_without_evals():
    # Rows: 2 real studies then padding; all studies errored; no study at all.
    seconds = np.array([[100.0, 300.0, math.nan], [math.nan, math.nan, math.nan], [math.nan] * 3])
    result = median_over_studies(seconds, np.array([2, 2, 0]))
    assert result[0] == 200.0
    assert np.isnan(result[1:]).all()


def _first_reaching(times, values, target, maximize, budget):
    """time_to_target spelt out as a loop."""
    for i, (t, v) in enumerate(zip(times, values, strict=True)):
        if (v >= target if maximize else v <= target) and t <= budget:
            return float(t), i
    return (math.inf, -1) if len(times) else (math.nan, -1)


def test_many_trials_at_once_match_a_plain_loop():
    # workload_times finds every trial's first eval at the target in one pass over all evals
    rng = np.random.default_rng(0)
    trials = []
    for _ in range(2000):  # empty trials, NaN values, both directions, budgets that cut
        n = int(rng.integers(0, 6))
        values = np.where(rng.random(n) < 0.2, math.nan, rng.random(n))
        goal = _Goal(
            float(rng.random()), bool(rng.random() < 0.5), float(rng.choice([9.0, math.inf]))
        )
        trials.append((np.sort(rng.random(n) * 10), values, goal))
    seconds, index = _times_to_target(*zip(*trials, strict=True))
    expected = [_first_reaching(t, v, *goal) for t, v, goal in trials]
    np.testing.assert_array_equal(seconds, [s for s, _ in expected])
    assert index.tolist() == [i for _, i in expected]

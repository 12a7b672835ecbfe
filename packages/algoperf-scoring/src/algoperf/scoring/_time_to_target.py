"""From trials to per-workload times: time to target, fastest trial per study, median.

Rules as written (the default): a trial's time is the accumulated submission time at its
first eval that reaches the validation target within the budget, and a study's time is
that of its fastest trial. `reference_compat` reproduces the code that scored v0.5
instead: no budget cut-off, and the study's trial is the one that reaches the target at
the smallest eval *index* (ties: lowest trial number), which is the fastest trial only
when every trial evaluates on the same schedule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from algoperf.api import MetricDirection, get_workload_spec, scored_workloads
from algoperf.scoring._ingest import Logs
from algoperf.scoring._times import StudyTimes, WorkloadTimes, raw_status


def time_to_target(
    times: npt.ArrayLike,
    values: npt.ArrayLike,
    target: float,
    direction: MetricDirection,
    budget: float = math.inf,
) -> tuple[float, int]:
    """Time and index of the first eval whose value reaches `target` within `budget`.

    The comparison is `MetricDirection.reached_array`'s, the harness's own: non-strict, and
    NaN never reaches.

    Returns:
        (seconds, eval index); (inf, -1) when no eval within the budget reaches the target,
        (NaN, -1) when there is no eval at all (an error before the first eval).
    """
    times = np.asarray(times, dtype=np.float64)
    goal = _Goal(target, direction is MetricDirection.MAXIMIZE, budget)
    seconds, index = _times_to_target([times], [np.asarray(values, dtype=np.float64)], [goal])
    return float(seconds[0]), int(index[0])


class _Goal(NamedTuple):
    target: float
    maximize: bool
    budget: float


def _times_to_target(
    times: Sequence[npt.NDArray[np.float64]],
    values: Sequence[npt.NDArray[np.float64]],
    goals: Sequence[_Goal],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """`time_to_target` of many trials in one pass over all their evals.

    A leaderboard has thousands of trials: a dozen numpy calls in all instead of one
    dozen per trial.
    """
    lengths = np.array([len(t) for t in times], dtype=np.int64)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    all_times = np.concatenate([np.empty(0), *times])
    all_values = np.concatenate([np.empty(0), *values])
    per_trial = np.array(goals, dtype=np.float64).reshape(-1, 3).T
    target, maximize, budget = (np.repeat(column, lengths) for column in per_trial)
    reached = np.where(maximize == 1, all_values >= target, all_values <= target)
    hits = np.flatnonzero(reached & (all_times <= budget))
    # The first hit of each trial: the first hit at or after its start, if before its end.
    first = np.searchsorted(hits, starts)
    at = hits[np.minimum(first, len(hits) - 1)] if len(hits) else starts
    found = (first < len(hits)) & (at < ends)
    seconds = np.full(len(times), math.inf)
    seconds[found] = all_times[at[found]]
    seconds[lengths == 0] = math.nan
    return seconds, np.where(found, at - starts, -1)


@dataclass(frozen=True, slots=True)
class TrialTime:
    """A trial's time to target and the index of the eval that reached it (-1: none)."""

    trial: int
    seconds: float
    eval_index: int


def study_time(trials: Sequence[TrialTime], *, reference_compat: bool = False) -> TrialTime:
    """The trial that sets a study's time: the fastest, or (compat) the earliest eval index.

    Ties go to the lowest trial number. When no trial reached the target the result has
    trial 0 and time inf, or NaN when no trial got to an eval.
    """
    reached = [t for t in trials if t.eval_index >= 0]
    if not reached:
        errored = all(math.isnan(t.seconds) for t in trials)
        return TrialTime(0, math.nan if errored else math.inf, -1)
    if reference_compat:
        return min(reached, key=lambda t: (t.eval_index, t.trial))
    return min(reached, key=lambda t: (t.seconds, t.trial))


def median_over_studies(
    seconds: npt.NDArray[np.float64], counts: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Median over the first `counts` entries of the last axis, as `np.median` would.

    An errored (NaN) study counts as infinite, so the median is finite only when most
    studies are. The result is NaN where every study errored or there is none.
    """
    n = np.asarray(counts)
    valid = np.arange(seconds.shape[-1]) < n[..., None]
    ordered = np.sort(np.where(valid, np.where(np.isnan(seconds), np.inf, seconds), np.nan))
    if not ordered.shape[-1]:
        return np.full(n.shape, math.nan)
    lower = np.take_along_axis(ordered, np.maximum((n - 1) // 2, 0)[..., None], axis=-1)
    upper = np.take_along_axis(ordered, (n // 2)[..., None], axis=-1)
    median = ((lower + upper) / 2)[..., 0]
    errored = ~np.any(valid & ~np.isnan(seconds), axis=-1)
    return np.where(errored, math.nan, median)


def workload_times(logs: Logs, *, reference_compat: bool = False) -> WorkloadTimes:
    """Per-workload times of every submission in `logs` (median over studies)."""
    workloads = tuple(s.name for s in scored_workloads(logs.rules))
    shape = (len(logs.submissions), len(workloads))
    per_study = _study_times(
        _trial_times(logs, workloads, reference_compat), shape, reference_compat
    )
    seconds = median_over_studies(per_study.seconds, per_study.counts)
    return WorkloadTimes(
        rules=logs.rules,
        submissions=logs.submissions,
        workloads=workloads,
        seconds=seconds,
        status=raw_status(seconds, per_study.counts == 0),
        studies=per_study,
        anomalies=logs.anomalies,
    )


# (submission row, workload column) -> study number -> the study's trials
_Grouped = dict[tuple[int, int], dict[int, list[TrialTime]]]


def _trial_times(logs: Logs, workloads: tuple[str, ...], reference_compat: bool) -> _Grouped:
    """Each trial's time to target, grouped by submission, workload and study."""
    row = {name: i for i, name in enumerate(logs.submissions)}
    column = {name: j for j, name in enumerate(workloads)}
    targets = {}
    for name in workloads:
        spec = get_workload_spec(name)
        budget = math.inf if reference_compat else spec.max_runtime_sec(logs.rules, logs.ruleset)
        maximize = spec.metric_direction is MetricDirection.MAXIMIZE
        targets[name] = _Goal(spec.validation_target, maximize, budget)
    goals = [targets[trial.workload] for trial in logs.trials]
    times = [trial.times for trial in logs.trials]
    values = [trial.values for trial in logs.trials]
    seconds, index = _times_to_target(times, values, goals)
    grouped: _Grouped = {}
    for trial, s, i in zip(logs.trials, seconds.tolist(), index.tolist(), strict=True):
        cell = (row[trial.submission], column[trial.workload])
        in_study = grouped.setdefault(cell, {}).setdefault(trial.study, [])
        in_study.append(TrialTime(trial.trial, s, i))
    return grouped


def _study_times(grouped: _Grouped, shape: tuple[int, int], reference_compat: bool) -> StudyTimes:
    """Each study's time and trial, in study order, padded to the largest study count."""
    width = max((len(s) for s in grouped.values()), default=0)
    result = StudyTimes(
        seconds=np.full((*shape, width), math.nan),
        counts=np.zeros(shape, dtype=np.int64),
        ids=np.full((*shape, width), -1, dtype=np.int64),
        trials=np.zeros((*shape, width), dtype=np.int64),
    )
    for cell, by_study in grouped.items():
        result.counts[cell] = len(by_study)
        for k, (study, trials) in enumerate(sorted(by_study.items())):
            best = study_time(trials, reference_compat=reference_compat)
            result.seconds[(*cell, k)] = best.seconds
            result.ids[(*cell, k)] = study
            result.trials[(*cell, k)] = best.trial
    return result

"""Analyses beyond the leaderboard: speed-ups, sensitivity, leave-one-out, qualification, CIs."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from algoperf.api import Ruleset, get_workload_spec
from algoperf.scoring._anomalies import ScoringError
from algoperf.scoring._forked import fork_processes, map_forked
from algoperf.scoring._profiles import (
    NUM_POINTS,
    FloatArray,
    Integration,
    apply_rules,
    benchmark_scores,
    held_out_pairs,
    performance_ratios,
)
from algoperf.scoring._time_to_target import median_over_studies
from algoperf.scoring._times import StudyTimes, WorkloadTimes


@dataclass(frozen=True)
class Speedups:
    """Time ratios of each submission to a reference submission (below 1: faster)."""

    reference: str
    workloads: tuple[str, ...]
    """The base workloads the ratios are over."""
    ratios: FloatArray
    """(submission, workload): time / the reference's time, failures at the budget."""
    mean_ratio: FloatArray
    """(submission,): geometric mean of the ratios; 1 - mean_ratio is "% faster"."""


def speedups(
    times: WorkloadTimes, reference: str, ruleset: Ruleset | str, *, extra_seconds: float = 0.0
) -> Speedups:
    """Speed-ups against `reference` over the base workloads, as the reference computes them.

    Failures (inf and NaN) take the workload's budget under `ruleset`, plus `extra_seconds`
    (the reference adds 1 s). The held-out and 4x rules are not applied.

    Raises:
        ScoringError: `reference` is not a submission.
    """
    row = times.submission_index(reference)
    names = times.rules.base_workloads
    columns = [times.workloads.index(w) for w in names]
    budgets = np.array([get_workload_spec(w).max_runtime_sec(times.rules, ruleset) for w in names])
    seconds = times.seconds[:, columns]
    seconds = np.where(np.isfinite(seconds), seconds, budgets + extra_seconds)
    ratios = seconds / seconds[row]
    return Speedups(reference, names, ratios, np.exp(np.log(ratios).mean(axis=-1)))


def tau_max_sensitivity(
    ratios: FloatArray,
    tau_maxes: tuple[float, ...],
    integration: Integration = Integration.TRAPEZOID,
    num_points: int = NUM_POINTS,
) -> FloatArray:
    """Scores with each τ_max of `tau_maxes` in turn: (tau_max, submission)."""
    return np.stack([benchmark_scores(ratios, t, integration, num_points) for t in tau_maxes])


def leave_one_workload_out(
    ratios: FloatArray,
    max_tau: float,
    integration: Integration = Integration.TRAPEZOID,
    num_points: int = NUM_POINTS,
) -> FloatArray:
    """Scores without each base workload in turn: (left-out workload, submission).

    The profile's denominator drops to the number of workloads left.
    """
    return np.stack(
        [
            benchmark_scores(np.delete(ratios, w, axis=-1), max_tau, integration, num_points)
            for w in range(ratios.shape[-1])
        ]
    )


def qualification_scores(
    times: WorkloadTimes,
    ruleset: Ruleset | str,
    *,
    max_tau: float,
    integration: Integration = Integration.TRAPEZOID,
    num_points: int = NUM_POINTS,
) -> FloatArray:
    """Scores on the qualification set of the rules (criteo1tb, ogbg, wmt).

    External tuning uses one study (the first), self-tuning all of them; the 4x rule
    applies, held-out variants do not. Times given per workload are used as they are.
    """
    columns = [times.workloads.index(w) for w in times.rules.qualification_workloads]
    seconds = times.seconds[:, columns]
    studies = times.studies
    if Ruleset(ruleset) is Ruleset.EXTERNAL and studies is not None:
        first = studies.seconds[:, columns, :1]
        seconds = median_over_studies(first, np.minimum(studies.counts[:, columns], 1))
    ruled, _ = apply_rules(seconds, [], times.rules.max_ratio_to_fastest)
    return benchmark_scores(performance_ratios(ruled), max_tau, integration, num_points)


# Resamples scored together: their arrays stay in the CPU's cache.
_BOOTSTRAP_BLOCK = 100
# Resampled study times (samples x submissions x workloads x studies) per process, at least.
_BOOTSTRAP_PER_PROCESS = 300_000


def bootstrap_scores(
    times: WorkloadTimes,
    *,
    samples: int,
    seed: int,
    max_tau: float,
    integration: Integration = Integration.TRAPEZOID,
    num_points: int = NUM_POINTS,
    workers: int | None = None,
) -> FloatArray:
    """Scores of `samples` resamples of the studies: (sample, submission).

    Each resample draws, for every submission and workload independently, as many studies
    as it has, with replacement, then scores as usual (median, rules, profile). `workers`
    processes share the work (None: one per CPU for large bootstraps); every sample is the
    same whoever computes it.

    Raises:
        ScoringError: the times have no per-study data (they were given per workload).
    """
    studies = times.studies
    if studies is None or not times.has_studies:
        raise ScoringError("bootstrap intervals need per-study times, which a times file lacks")
    score_block = functools.partial(
        _bootstrap_block, times, studies, samples, seed, max_tau, integration, num_points
    )
    starts = list(range(0, samples, _BOOTSTRAP_BLOCK))
    processes = fork_processes(len(starts), 1, workers)
    if workers is None:
        processes = min(processes, samples * studies.seconds.size // _BOOTSTRAP_PER_PROCESS)
    if processes <= 1:
        blocks = list(map(score_block, starts))
    else:
        blocks = map_forked(score_block, starts, processes, block=1)
    return np.concatenate([np.empty((0, len(times.submissions))), *blocks])


def _bootstrap_block(
    times: WorkloadTimes,
    studies: StudyTimes,
    samples: int,
    seed: int,
    max_tau: float,
    integration: Integration,
    num_points: int,
    start: int,
) -> FloatArray:
    """Scores of resamples `start` to `start + _BOOTSTRAP_BLOCK` (at most `samples`)."""
    block = min(_BOOTSTRAP_BLOCK, samples - start)
    # `np.random.default_rng(seed)`'s generator, moved on by one step per uniform draw of
    # the resamples before `start`: the block's draws do not depend on who computes it.
    bits = np.random.PCG64(seed)
    bits.advance(start * studies.seconds.size)
    rng = np.random.Generator(bits)
    uniform = rng.random((block, *studies.seconds.shape))
    draws = (uniform * studies.counts[..., None]).astype(np.int64)
    resampled = np.take_along_axis(studies.seconds[None], draws, axis=-1)
    counts = np.broadcast_to(studies.counts, (block, *studies.counts.shape))
    seconds = median_over_studies(resampled, counts)
    pairs = held_out_pairs(times.workloads, times.rules)
    ruled, _ = apply_rules(seconds, pairs, times.rules.max_ratio_to_fastest)
    base = [times.workloads.index(w) for w in times.rules.base_workloads]
    return benchmark_scores(performance_ratios(ruled[..., base]), max_tau, integration, num_points)


def confidence_interval(samples: FloatArray, confidence: float) -> FloatArray:
    """(submission, 2): the central `confidence` interval of bootstrap samples."""
    tail = (1.0 - confidence) / 2
    ordered = np.sort(samples, axis=0)
    return np.stack([_quantile(ordered, q) for q in (tail, 1.0 - tail)], axis=-1)


def _quantile(ordered: FloatArray, q: float) -> FloatArray:
    """`np.quantile(..., axis=0)` (its default, linear method) of rows sorted along axis 0.

    Spelt out because `np.quantile` imports `numpy.ma`, a tenth of a second's scoring run.
    """
    virtual = q * (len(ordered) - 1)
    below = math.floor(virtual)
    lower, upper = ordered[below], ordered[min(below + 1, len(ordered) - 1)]
    t = virtual - below
    # numpy's lerp: from the nearer end, so that t = 0 and t = 1 give the ends exactly
    return upper - (upper - lower) * (1 - t) if t >= 0.5 else lower + (upper - lower) * t

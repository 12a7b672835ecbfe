"""Score a set of submissions in one typed call: rules, profiles, scores and every analysis."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from algoperf.api import DEFAULT_RULES, Ruleset, RuleVersion, get_rules, get_workload_spec
from algoperf.scoring._analysis import (
    Speedups,
    bootstrap_scores,
    confidence_interval,
    leave_one_workload_out,
    qualification_scores,
    speedups,
    tau_max_sensitivity,
)
from algoperf.scoring._anomalies import Anomaly, ScoringError
from algoperf.scoring._ingest import load_logs
from algoperf.scoring._profiles import (
    BASE_FAILED,
    BEYOND_MAX_RATIO,
    HELD_OUT_INVALIDATED,
    NUM_POINTS,
    FloatArray,
    Integration,
    apply_rules,
    benchmark_scores,
    held_out_pairs,
    performance_profile,
    performance_ratios,
    ranks,
)
from algoperf.scoring._time_to_target import workload_times
from algoperf.scoring._times import Status, WorkloadTimes

_RULE_STATUS = {
    BASE_FAILED: Status.BASE_FAILED,
    BEYOND_MAX_RATIO: Status.BEYOND_MAX_RATIO,
    HELD_OUT_INVALIDATED: Status.HELD_OUT_INVALIDATED,
}


@dataclass(frozen=True, kw_only=True)
class ScoringOptions:
    """How to score: the rules, and the choices the rules leave open."""

    rules: RuleVersion = DEFAULT_RULES
    """Rule version (`algoperf.api.get_rules('v0.6')` for v0.6)."""
    ruleset: Ruleset = Ruleset.EXTERNAL
    """External or self tuning: sets the budgets."""
    reference_compat: bool = False
    """Reproduce the reference's v0.5 trial selection (by eval index, no budget cut-off) and
    its speed-up imputation (budget + 1 s)."""
    integration: Integration = Integration.TRAPEZOID
    """The score's integration; both are always computed and reported."""
    num_points: int = NUM_POINTS
    """Points of tau for the trapezoid rule and the profiles."""
    tau_maxes: tuple[float, ...] = (1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
    """τ_max values of the sensitivity table."""
    bootstrap_samples: int = 1000
    """Study resamples for the confidence intervals; 0 for none."""
    confidence: float = 0.95
    """Coverage of the bootstrap intervals."""
    seed: int = 0
    """Seed of the bootstrap's resampling."""
    speedups_vs: str | None = None
    """Submission to compute speed-ups against; None for none."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", get_rules(self.rules))
        object.__setattr__(self, "ruleset", Ruleset(self.ruleset))
        object.__setattr__(self, "integration", Integration(self.integration))
        problems = []
        if self.num_points < 2:
            problems.append(f"num_points must be at least 2, not {self.num_points}")
        if self.bootstrap_samples < 0:
            problems.append(f"bootstrap_samples must be >= 0, not {self.bootstrap_samples}")
        if not 0 < self.confidence < 1:
            problems.append(f"confidence must be in (0, 1), not {self.confidence}")
        if any(t <= 1 for t in self.tau_maxes):
            problems.append(f"every tau_max must be above 1, not {self.tau_maxes}")
        if problems:
            raise ScoringError("invalid scoring options: " + "; ".join(problems))


@dataclass(frozen=True)
class ScoreReport:
    """Everything the scoring computed, in arrays indexed by submission then workload."""

    options: ScoringOptions
    times: WorkloadTimes
    """Per-workload times before the rules across submissions."""
    budgets: FloatArray
    """(workload,): each scored workload's budget in seconds under the options."""
    seconds: FloatArray
    """(submission, workload): times after the rules across submissions."""
    status: npt.NDArray[np.object_]
    """(submission, workload): the `Status` of each time after the rules."""
    ratios: FloatArray
    """(submission, base workload): performance ratios (time / fastest)."""
    taus: FloatArray
    """The tau values of `profiles`."""
    profiles: FloatArray
    """(submission, tau): performance profiles."""
    scores: Mapping[Integration, FloatArray]
    """(submission,) benchmark scores under each integration."""
    ranks: npt.NDArray[np.int64]
    """(submission,): leaderboard ranks under the chosen integration."""
    intervals: FloatArray | None
    """(submission, 2): bootstrap interval of the score; None without per-study times."""
    tau_sensitivity: FloatArray
    """(tau_max, submission): scores for each of `options.tau_maxes`."""
    leave_one_out: FloatArray
    """(left-out base workload, submission): scores without that workload."""
    qualification: FloatArray
    """(submission,): scores on the qualification set."""
    speedups: Speedups | None
    """Speed-ups against `options.speedups_vs`."""

    @property
    def submissions(self) -> tuple[str, ...]:
        """Submission names, in row order."""
        return self.times.submissions

    @property
    def score(self) -> FloatArray:
        """(submission,): the benchmark score under the chosen integration."""
        return self.scores[self.options.integration]

    @property
    def anomalies(self) -> tuple[Anomaly, ...]:
        """Anomalies of the input."""
        return self.times.anomalies


def score(
    times: WorkloadTimes, options: ScoringOptions | None = None, *, workers: int | None = None
) -> ScoreReport:
    """Score per-workload times: the rules across submissions, profiles, scores, analyses.

    `workers`: processes that share the bootstrap (None: one per CPU when it is large).

    Raises:
        ScoringError: there is no submission, the times were read under other rules, or
            `options.speedups_vs` is not a submission.
    """
    options = options or ScoringOptions()
    rules = options.rules
    if not times.submissions:
        raise ScoringError("nothing to score: no submission")
    if times.rules != rules:
        raise ScoringError(
            f"the times were read under rules {times.rules.name} but the options say "
            f"{rules.name}; read and score with the same rule version"
        )
    pairs = held_out_pairs(times.workloads, rules)
    seconds, rule = apply_rules(times.seconds, pairs, rules.max_ratio_to_fastest)
    status = times.status.copy()
    for code, label in _RULE_STATUS.items():
        status[rule == code] = label
    base = [times.workloads.index(w) for w in rules.base_workloads]
    ratios = performance_ratios(seconds[:, base])
    taus = np.linspace(1.0, rules.max_tau, options.num_points)
    scores = {
        i: benchmark_scores(ratios, rules.max_tau, i, options.num_points) for i in Integration
    }
    integration, num_points = options.integration, options.num_points
    intervals = None
    if options.bootstrap_samples and times.has_studies:
        samples = bootstrap_scores(
            times,
            samples=options.bootstrap_samples,
            seed=options.seed,
            max_tau=rules.max_tau,
            integration=integration,
            num_points=num_points,
            workers=workers,
        )
        intervals = confidence_interval(samples, options.confidence)
    extra = 1.0 if options.reference_compat else 0.0
    budgets = [
        get_workload_spec(w).max_runtime_sec(rules, options.ruleset) for w in times.workloads
    ]
    return ScoreReport(
        options=options,
        times=times,
        budgets=np.array(budgets),
        seconds=seconds,
        status=status,
        ratios=ratios,
        taus=taus,
        profiles=performance_profile(ratios, taus),
        scores=scores,
        ranks=ranks(scores[integration]),
        intervals=intervals,
        tau_sensitivity=tau_max_sensitivity(ratios, options.tau_maxes, integration, num_points),
        leave_one_out=leave_one_workload_out(ratios, rules.max_tau, integration, num_points),
        qualification=qualification_scores(
            times,
            options.ruleset,
            max_tau=rules.max_tau,
            integration=integration,
            num_points=num_points,
        ),
        speedups=None
        if options.speedups_vs is None
        else speedups(times, options.speedups_vs, options.ruleset, extra_seconds=extra),
    )


def score_logs(
    root: str | Path,
    options: ScoringOptions | None = None,
    *,
    strict: bool = False,
    workers: int | None = None,
) -> ScoreReport:
    """Read the logs under `root` (one folder per submission) and score them.

    Raises:
        ScoringError: see `load_logs` and `score`.
    """
    options = options or ScoringOptions()
    logs = load_logs(root, options.rules, options.ruleset, strict=strict, workers=workers)
    times = workload_times(logs, reference_compat=options.reference_compat)
    return score(times, options, workers=workers)

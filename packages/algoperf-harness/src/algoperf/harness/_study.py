"""Tuning and studies: expand a submission and a workload into trial specs, then run them.

External tuning: each study samples `num_trials` points of the search space by scrambled
Halton search seeded by the study (or takes the first points of a fixed list, the same in
every study). Self-tuning: one trial per study, without hyperparameters. The number of
studies comes from the rule version unless given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from algoperf.api import (
    FixedPoints,
    Framework,
    HardwareInfo,
    RecordError,
    Ruleset,
    RuleVersion,
    Submission,
    TrialOutcome,
    TrialSpec,
    TuningSpace,
    Workload,
    read_trial_file,
)
from algoperf.harness._claims import TrialClaim
from algoperf.harness._halton import halton_search
from algoperf.harness._runtime import Runtime
from algoperf.harness._seeds import study_seed, trial_seed
from algoperf.harness._trial import TrialOptions, run_trial


@dataclass(frozen=True, kw_only=True)
class StudyPlan:
    """What to run for one submission on one workload."""

    submission: str
    """Submission name (leaderboard name)."""
    workload: str
    """Registered workload name."""
    framework: Framework
    """Framework to run in."""
    ruleset: Ruleset
    """External or self tuning."""
    rules: RuleVersion
    """Rule version (budgets, studies, trials)."""
    hardware: HardwareInfo
    """The hardware the trials run on."""
    search_space: TuningSpace | None = None
    """Required for external tuning, forbidden for self-tuning."""
    num_studies: int | None = None
    """Studies to run (default: the rule version's)."""
    num_trials: int | None = None
    """External-tuning trials per study (default: the rule version's)."""
    experiment_seed: int = 0
    """Root of every trial's seed."""


def plan_trials(plan: StudyPlan) -> list[TrialSpec]:
    """Every trial of the plan, in study then trial order."""
    ruleset = Ruleset(plan.ruleset)
    if ruleset is Ruleset.EXTERNAL and plan.search_space is None:
        raise ValueError("external tuning needs a search space")
    if ruleset is Ruleset.SELF and plan.search_space is not None:
        raise ValueError("self-tuning submissions take no search space")
    studies = plan.num_studies or plan.rules.num_studies
    trials = 1 if ruleset is Ruleset.SELF else plan.num_trials or plan.rules.num_trials
    specs = []
    for study in range(studies):
        for trial, hyperparameters in enumerate(_points(plan, study, trials), start=1):
            specs.append(
                TrialSpec(
                    submission=plan.submission,
                    workload=plan.workload,
                    framework=plan.framework,
                    ruleset=ruleset,
                    rules_version=plan.rules.name,
                    study=study,
                    trial=trial,
                    seed=trial_seed(
                        plan.experiment_seed, plan.submission, plan.workload, study, trial
                    ),
                    hyperparameters=hyperparameters,
                    hardware=plan.hardware,
                )
            )
    return specs


def _points(plan: StudyPlan, study: int, count: int) -> list[dict | None]:
    space = plan.search_space
    if space is None:
        return [None] * count
    if isinstance(space, FixedPoints):
        return [p.to_dict() for p in space.points(count)]
    seed = study_seed(plan.experiment_seed, plan.submission, plan.workload, study)
    return [p.to_dict() for p in halton_search(space, count, seed)]


def trial_directory(experiment_dir: str | Path, spec: TrialSpec) -> Path:
    """`<dir>/<submission>/study_<k>/<workload>_<framework>/trial_<i>`: the reference's layout."""
    return (
        Path(experiment_dir)
        / spec.submission
        / f"study_{spec.study}"
        / f"{spec.workload}_{spec.framework.value}"
        / f"trial_{spec.trial}"
    )


def completed_outcome(directory: Path, spec: TrialSpec) -> TrialOutcome | None:
    """The outcome recorded for `spec` in `directory`, if that very trial already ended."""
    try:
        recorded = read_trial_file(directory)
    except RecordError:
        return None
    if recorded.spec != spec:
        return None
    return recorded.outcome


def run_trials(
    specs: Iterable[TrialSpec],
    submission: Submission,
    workload: Workload,
    runtime: Runtime,
    experiment_dir: str | Path,
    options: TrialOptions | None = None,
    on_outcome: Callable[[TrialSpec, TrialOutcome | None, bool], None] | None = None,
    on_start: Callable[[TrialSpec], None] | None = None,
) -> list[TrialOutcome | None]:
    """Run each trial not already completed nor claimed by another process.

    A failed trial does not stop the others. `on_start(spec)` is called as a trial starts;
    `on_outcome(spec, outcome, skipped)` after each trial, with `skipped` for one that had
    completed before and `outcome` None for one another process holds (see `TrialClaim`).
    Under DDP the primary process claims, and every process follows its answer.
    """
    outcomes = []
    for spec in specs:
        directory = trial_directory(experiment_dir, spec)
        with TrialClaim(directory) if runtime.is_primary else nullcontext() as held:
            # The slowest-rank maximum spreads the primary's answer (the others offer 0).
            claimed = runtime.max_over_processes(float(bool(held))) > 0
            outcome = completed_outcome(directory, spec) if claimed else None
            skipped = outcome is not None
            if claimed and outcome is None:
                if on_start is not None:
                    on_start(spec)
                outcome = run_trial(spec, workload, submission, runtime, directory, options)
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(spec, outcome, skipped)
    return outcomes

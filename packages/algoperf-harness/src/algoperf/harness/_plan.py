"""The plan a supervisor hands its child process, and the events the child reports back.

Both are files: the plan (JSON) is written before the child starts; the events (JSON lines,
`start` and `end` of each trial) are appended by the child and read by the supervisor as they
come.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from algoperf.api import TrialOutcome, TrialSpec
from algoperf.harness._sweep import SweepResult, SweepTrial
from algoperf.harness._trial import TrialOptions

_CONFIG = ConfigDict(frozen=True, extra="forbid")


class PlannedTrial(BaseModel):
    """A `SweepTrial` as the plan file holds it."""

    model_config = _CONFIG

    spec: TrialSpec
    submission_path: Path
    experiment_dir: Path
    search_space: Path | None

    @classmethod
    def of(cls, trial: SweepTrial) -> PlannedTrial:
        return cls(
            spec=trial.spec,
            submission_path=trial.submission_path,
            experiment_dir=trial.experiment_dir,
            search_space=trial.search_space,
        )

    def trial(self) -> SweepTrial:
        return SweepTrial(self.spec, self.submission_path, self.experiment_dir, self.search_space)


class PlannedOptions(BaseModel):
    """The `TrialOptions` that cross the process boundary (the clock does not)."""

    model_config = _CONFIG

    data_dir: str | None
    max_global_steps: int | None
    checkpoint_every: int | None
    resume: bool
    keep_checkpoints: bool
    data_workers: int | None

    @classmethod
    def of(cls, options: TrialOptions) -> PlannedOptions:
        return cls(**{name: getattr(options, name) for name in cls.model_fields})

    def options(self) -> TrialOptions:
        return TrialOptions(**self.model_dump())


class ChildPlan(BaseModel):
    """What one child process runs, and where it reports."""

    model_config = _CONFIG

    trials: list[PlannedTrial]
    options: PlannedOptions
    events: Path
    """The JSON-lines file of `start` and `end` events."""


def start_event(trial: SweepTrial) -> dict[str, Any]:
    """The event of a trial starting."""
    return {"event": "start", "key": trial.key}


def end_event(result: SweepResult) -> dict[str, Any]:
    """The event of a trial's result (ran, already complete, claimed elsewhere, or no start)."""
    outcome = result.outcome
    return {
        "event": "end",
        "key": result.trial.key,
        "outcome": None if outcome is None else outcome.model_dump(mode="json"),
        "skipped": result.skipped,
        "error": result.error,
    }


def result_of(trial: SweepTrial, event: dict[str, Any]) -> SweepResult:
    """The result an `end` event reports."""
    outcome = event["outcome"]
    return SweepResult(
        trial,
        None if outcome is None else TrialOutcome.model_validate(outcome),
        skipped=event["skipped"],
        error=event["error"],
    )

"""A short digits_mlp trial of a baseline, killable at a chosen point (test_resume).

Run as `python resumable_trial.py FRAMEWORK BASELINE DIRECTORY [--resume] [--kill-after-eval N |
--kill-in-checkpoint N]`. A kill is a real SIGKILL of this process: right after the N-th eval
record is written (before its checkpoint), or while the N-th checkpoint is being written
(complete in its temporary folder, not yet renamed).
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

from algoperf import api
from algoperf.baselines import search_space_path, submission_path
from algoperf.harness import (
    StudyPlan,
    TrialOptions,
    TrialWriter,
    _checkpoint,
    get_runtime,
    plan_trials,
    run_trial,
)
from algoperf.workloads import get_workload

MAX_STEPS = 60
TICK = 2.0**-6
"""Seconds per clock read: a power of two, so every sum of ticks is exact in floating point."""


class TickClock:
    """Advances one tick per read, so timing, and with it the eval cadence (digits: every
    0.25 s of submission time), depends only on the loop's deterministic reads."""

    def __init__(self) -> None:
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.reads * TICK


def spec(framework: str, baseline: str) -> api.TrialSpec:
    """The first trial of the baseline's first study."""
    plan = StudyPlan(
        submission=baseline,
        workload="digits_mlp",
        framework=api.Framework(framework),
        ruleset=api.Ruleset.EXTERNAL,
        rules=api.RULES_DEV,
        hardware=get_runtime(framework).hardware(),
        search_space=api.load_search_space(search_space_path(baseline)),
        num_studies=1,
        num_trials=1,
    )
    return plan_trials(plan)[0]


def run(framework: str, baseline: str, directory: Path, resume: bool = False) -> api.TrialOutcome:
    """The trial, checkpointed after every eval."""
    return run_trial(
        spec(framework, baseline),
        get_workload("digits_mlp", framework, api.RULES_DEV),
        api.load_submission(submission_path(baseline, framework)),
        get_runtime(framework),
        directory,
        TrialOptions(
            max_global_steps=MAX_STEPS, clock=TickClock(), checkpoint_every=1, resume=resume
        ),
    )


def _kill_on_call(owner: object, name: str, count: int) -> None:
    """Make the `count`-th call of `owner.name` SIGKILL the process once it returns."""
    original = getattr(owner, name)
    calls = []

    def wrapper(*args, **kwargs):
        result = original(*args, **kwargs)
        calls.append(1)
        if len(calls) == count:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(owner, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("framework")
    parser.add_argument("baseline")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--kill-after-eval", type=int)
    parser.add_argument("--kill-in-checkpoint", type=int)
    args = parser.parse_args()
    if args.kill_after_eval:
        _kill_on_call(TrialWriter, "eval", args.kill_after_eval)
    if args.kill_in_checkpoint:
        # `_write_synced` writes the temporary folder's state.json, just before the rename.
        _kill_on_call(_checkpoint, "_write_synced", args.kill_in_checkpoint)
    run(args.framework, args.baseline, args.directory, args.resume)


if __name__ == "__main__":
    main()

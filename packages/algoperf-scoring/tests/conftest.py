"""Helpers that write small logs in both layouts, and the location of the shared fixtures."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from algoperf.api import (
    EvalRecord,
    Framework,
    HardwareInfo,
    Ruleset,
    TrialSpec,
    append_eval,
    get_workload_spec,
    write_trial_file,
)

Rows = Sequence[tuple[float, float]]  # (accumulated submission time, validation metric)


def fixtures_root() -> Path:
    """`<repo root>/../shared/fixtures`, or $ALGOPERF_FIXTURES."""
    override = os.environ.get("ALGOPERF_FIXTURES")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[3].parent / "shared" / "fixtures"


@pytest.fixture
def v05_logs() -> Path:
    root = fixtures_root() / "algoperf_v05_baseline_logs"
    if not root.is_dir():
        pytest.skip(
            f"the real v0.5 logs are not at {root}; put the shared fixtures beside the repository "
            "or set ALGOPERF_FIXTURES to their folder"
        )
    return root


def _reaching(workload: str, seconds: float, evals: int = 2) -> list[tuple[float, float]]:
    """Evals of a trial that first reaches `workload`'s target at `seconds` (inf: never)."""
    spec = get_workload_spec(workload)
    target = spec.validation_target
    worse = target * 0.5 if spec.metric_direction == "maximize" else target * 2
    if math.isinf(seconds):
        return [(100.0 * (i + 1), worse) for i in range(evals)]
    return [(seconds * (i + 1) / evals, worse) for i in range(evals - 1)] + [(seconds, target)]


def _write_reference_trial(
    root: Path, submission: str, study: int, workload: str, trial: int, rows: Rows
) -> Path:
    """A trial in the reference layout, with the columns (sorted) the reference writes."""
    folder = root / submission / f"study_{study}" / f"{workload}_jax" / f"trial_{trial}"
    folder.mkdir(parents=True)
    metric = get_workload_spec(workload).validation_metric_key
    header = sorted(["accumulated_submission_time", "global_step", "score", metric])
    with (folder / "eval_measurements.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, header)
        writer.writeheader()
        for step, (t, v) in enumerate(rows, start=1):
            writer.writerow(
                {"accumulated_submission_time": t, "global_step": step, "score": t, metric: v}
            )
    return folder


def _write_our_trial(
    root: Path,
    submission: str,
    study: int,
    workload: str,
    trial: int,
    rows: Rows,
    *,
    ruleset: Ruleset = Ruleset.EXTERNAL,
    rules: str = "v0.5",
) -> Path:
    """A trial in our layout, written through the api as the harness does."""
    folder = root / submission / f"{workload}-s{study}-t{trial}-{ruleset}-{rules}"
    spec = TrialSpec(
        submission=submission,
        workload=workload,
        framework=Framework.JAX,
        ruleset=ruleset,
        rules_version=rules,
        study=study,
        trial=trial,
        seed=7,
        hyperparameters={"learning_rate": 0.001} if ruleset is Ruleset.EXTERNAL else None,
        hardware=HardwareInfo(device_kind="cpu", device_count=1),
    )
    write_trial_file(folder, spec)
    metric = get_workload_spec(workload).validation_metric_key
    for step, (t, v) in enumerate(rows, start=1):
        record = EvalRecord(
            global_step=step,
            accumulated_submission_time=t,
            accumulated_eval_time=1.0,
            accumulated_logging_time=0.0,
            total_duration=t + 1.0,
            metrics={metric: v, "train/loss": 0.5},
        )
        append_eval(folder, record)
    return folder


@pytest.fixture
def reaching() -> Callable[..., list[tuple[float, float]]]:
    """Evals that first reach a workload's target at a given time (inf: never)."""
    return _reaching


@pytest.fixture
def write_reference_trial() -> Callable[..., Path]:
    """Write one trial in the reference layout."""
    return _write_reference_trial


@pytest.fixture
def write_our_trial() -> Callable[..., Path]:
    """Write one trial in our layout, through the api."""
    return _write_our_trial


@pytest.fixture
def write_times(tmp_path: Path) -> Callable[..., Path]:
    """Write a --times CSV from (submission, workload, seconds) rows."""

    def write(rows: Sequence[tuple[str, str, object]], name: str = "times.csv") -> Path:
        path = tmp_path / name
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["submission", "workload", "seconds"])
            writer.writerows(rows)
        return path

    return write


@pytest.fixture
def messy_reference(tmp_path, reaching, write_reference_trial):
    """v0.6 reference-layout logs of one submission with one of each problem."""
    root = tmp_path / "logs"
    for study in range(3):
        for trial in range(1, 6):
            write_reference_trial(root, "alpha", study, "wmt", trial, reaching("wmt", 100.0))
    sub = root / "alpha"
    (sub / "study_0" / "ogbg_jax").mkdir()  # empty workload folder
    (sub / "study_0" / "wmtt_jax" / "trial_1").mkdir(parents=True)  # misspelt workload
    (sub / "study_0" / "fastmri").mkdir()  # no framework suffix
    (sub / "study_1" / "wmt_post_ln_jax" / "trial_1").mkdir(parents=True)  # a variant
    (sub / "notes").mkdir()  # not a study
    (sub / "study_2" / "wmt_jax" / "plots").mkdir()  # not a trial
    # study 3 holds one more wmt trial with each kind of broken file
    write_reference_trial(root, "alpha", 3, "wmt", 1, [(1.0, 20.0), (math.nan, 21.0)])
    (sub / "study_3" / "wmt_jax" / "trial_2").mkdir()  # no eval file
    bad = write_reference_trial(root, "alpha", 3, "wmt", 3, [(1.0, 20.0)])
    (bad / "eval_measurements.csv").write_text("score,validation/loss\n1.0,2.0\n")
    bad = write_reference_trial(root, "alpha", 3, "wmt", 4, [(1.0, 20.0)])
    (bad / "eval_measurements.csv").write_text("score,validation/bleu\n1.0,x\n")
    (root / "empty_submission").mkdir()
    return root

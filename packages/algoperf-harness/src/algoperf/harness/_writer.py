"""Writes a trial's records: `trial.json`, `evals.jsonl`, and the reference's CSV.

`eval_measurements.csv` has the reference's columns (sorted, with `score` = submission time)
so the reference's own tools read our runs; it is appended row by row, not rewritten, except
when a trial resumes: both files are then replaced by the checkpoint's records.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from algoperf.api import (
    EVALS_FILE,
    EvalRecord,
    TrialOutcome,
    TrialSpec,
    append_eval,
    write_trial_file,
)

REFERENCE_CSV = "eval_measurements.csv"


class TrialWriter:
    """Appends the records of one trial directory as the trial runs."""

    def __init__(self, directory: str | Path, spec: TrialSpec) -> None:
        self.directory = Path(directory)
        self.spec = spec

    def start(self) -> None:
        """Begin a fresh run: `trial.json` without an outcome, and no evals from earlier runs."""
        write_trial_file(self.directory, self.spec)
        for name in (EVALS_FILE, REFERENCE_CSV):
            (self.directory / name).unlink(missing_ok=True)

    def resume(self, records: Sequence[EvalRecord]) -> None:
        """Continue a run: `trial.json` without an outcome, and exactly `records` as evals.

        Evals recorded after the checkpoint that holds `records` are dropped; the resumed
        trial records them again. Each file is replaced atomically.
        """
        write_trial_file(self.directory, self.spec)
        staging = Path(tempfile.mkdtemp(dir=self.directory, prefix=".resume."))
        try:
            for record in records:
                _append(staging, record)
            for name in (EVALS_FILE, REFERENCE_CSV):
                if (staging / name).exists():
                    os.replace(staging / name, self.directory / name)
                else:
                    (self.directory / name).unlink(missing_ok=True)
        finally:
            shutil.rmtree(staging)

    def eval(self, record: EvalRecord) -> None:
        """Append one eval to `evals.jsonl` and to the reference CSV."""
        _append(self.directory, record)

    def finish(self, outcome: TrialOutcome) -> None:
        """Record how the trial ended."""
        write_trial_file(self.directory, self.spec, outcome)


class NullWriter(TrialWriter):
    """The writer of DDP ranks other than 0: every record is written once, by rank 0."""

    def start(self) -> None:
        """Write nothing."""

    def resume(self, records: Sequence[EvalRecord]) -> None:
        """Write nothing."""

    def eval(self, record: EvalRecord) -> None:
        """Write nothing."""

    def finish(self, outcome: TrialOutcome) -> None:
        """Write nothing."""


def _append(directory: Path, record: EvalRecord) -> None:
    """Append `record` to `directory`'s `evals.jsonl` and reference CSV."""
    append_eval(directory, record)
    row = {
        "accumulated_eval_time": record.accumulated_eval_time,
        "accumulated_logging_time": record.accumulated_logging_time,
        "accumulated_submission_time": record.accumulated_submission_time,
        "global_step": record.global_step,
        "preemption_count": record.preemption_count,
        "score": record.accumulated_submission_time,
        "total_duration": record.total_duration,
        **record.metrics,
    }
    path = directory / REFERENCE_CSV
    header = _csv_header(path)
    with open(path, "a", newline="") as f:
        # The CSV keeps its first header; evals.jsonl is the complete record.
        writer = csv.DictWriter(f, fieldnames=header or sorted(row), extrasaction="ignore")
        if header is None:
            writer.writeheader()
        writer.writerow(row)
        f.flush()
        os.fsync(f.fileno())


def _csv_header(path: Path) -> list[str] | None:
    try:
        with open(path, newline="") as f:
            return next(csv.reader(f), None)
    except FileNotFoundError:
        return None

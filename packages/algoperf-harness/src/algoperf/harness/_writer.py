"""Writes a trial's records: `trial.json`, `evals.jsonl`, and the reference's CSV.

`eval_measurements.csv` has the reference's columns (sorted, with `score` = submission time)
so the reference's own tools read our runs; it is appended row by row, not rewritten, except
when a trial resumes: both files are then replaced by the checkpoint's records.

Besides, every run of a trial (the first and each resume) writes `meta_data_<n>.json`, where
and with what software it ran, and the scalars a submission logs through
`workload.metrics_logger` go to `metrics.jsonl`, flushed at each eval.
"""

from __future__ import annotations

import csv
import datetime
import importlib.metadata
import json
import os
import platform
import shutil
import socket
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from algoperf.api import (
    EVALS_FILE,
    EvalRecord,
    TrialOutcome,
    TrialSpec,
    append_eval,
    write_trial_file,
)

REFERENCE_CSV = "eval_measurements.csv"
METRICS_FILE = "metrics.jsonl"
"""The scalars a submission logged, one JSON line per call: {"global_step", "metrics"}."""
_PACKAGES = (
    "algoperf-api",
    "algoperf-workloads",
    "algoperf-baselines",
    "algoperf-harness",
    "jax",
    "jaxlib",
    "flax",
    "optax",
    "torch",
    "numpy",
)


class TrialWriter:
    """Appends the records of one trial directory as the trial runs."""

    def __init__(self, directory: str | Path, spec: TrialSpec) -> None:
        self.directory = Path(directory)
        self.spec = spec
        self._metrics: IO[str] | None = None

    def start(self) -> None:
        """Begin a fresh run: `trial.json` without an outcome, and no records of earlier runs."""
        write_trial_file(self.directory, self.spec)
        for name in (EVALS_FILE, REFERENCE_CSV, METRICS_FILE):
            (self.directory / name).unlink(missing_ok=True)
        for old in self.directory.glob("meta_data_*.json"):
            old.unlink()
        self._write_meta_data(0)

    def resume(self, records: Sequence[EvalRecord], preemption_count: int, step: int) -> None:
        """Continue a run: `trial.json` without an outcome, and exactly `records` as evals.

        Evals recorded after the checkpoint that holds `records`, and logged metrics from step
        `step` on, are dropped; the resumed trial records them again. Each file is replaced
        atomically.
        """
        write_trial_file(self.directory, self.spec)
        self._write_meta_data(preemption_count)
        _keep_metrics_before(self.directory / METRICS_FILE, step)
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
        """Append one eval to `evals.jsonl` and to the reference CSV; flush logged metrics."""
        self._flush_metrics()
        _append(self.directory, record)

    def metrics(self, global_step: int, metrics: Mapping[str, float]) -> None:
        """Append the scalars a submission logged at `global_step` (buffered)."""
        if self._metrics is None:
            self._metrics = open(self.directory / METRICS_FILE, "a")  # noqa: SIM115
        line = {"global_step": global_step, "metrics": {k: float(v) for k, v in metrics.items()}}
        self._metrics.write(json.dumps(line) + "\n")

    def finish(self, outcome: TrialOutcome) -> None:
        """Record how the trial ended."""
        self.close()
        write_trial_file(self.directory, self.spec, outcome)

    def close(self) -> None:
        """Flush and close the logged-metrics file (also when the run is interrupted)."""
        if self._metrics is not None:
            self._flush_metrics()
            self._metrics.close()
            self._metrics = None

    def _flush_metrics(self) -> None:
        if self._metrics is not None:
            self._metrics.flush()
            os.fsync(self._metrics.fileno())

    def _write_meta_data(self, preemption_count: int) -> None:
        """`meta_data_<preemption_count>.json`: when, where and with what this run started."""
        info = {
            "trial": self.spec.content_hash(),
            "preemption_count": preemption_count,
            "started_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "hardware": self.spec.hardware.model_dump(mode="json"),
            "packages": _package_versions(),
        }
        path = self.directory / f"meta_data_{preemption_count}.json"
        path.write_text(json.dumps(info, indent=2) + "\n")


class NullWriter(TrialWriter):
    """The writer of DDP ranks other than 0: every record is written once, by rank 0."""

    def start(self) -> None:
        """Write nothing."""

    def resume(self, records: Sequence[EvalRecord], preemption_count: int, step: int) -> None:
        """Write nothing."""

    def eval(self, record: EvalRecord) -> None:
        """Write nothing."""

    def metrics(self, global_step: int, metrics: Mapping[str, float]) -> None:
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


def _keep_metrics_before(path: Path, step: int) -> None:
    """Drop the lines of `metrics.jsonl` logged at `step` or later (atomically)."""
    if not path.exists():
        return
    kept = [
        line
        for line in path.read_text().splitlines(keepends=True)
        if line.strip() and json.loads(line)["global_step"] < step
    ]
    staging = path.with_suffix(".tmp")
    staging.write_text("".join(kept))
    os.replace(staging, path)


def _package_versions() -> dict[str, Any]:
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions

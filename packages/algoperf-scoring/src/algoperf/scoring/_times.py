"""Per-workload times of each submission: what the rules across submissions start from."""

from __future__ import annotations

import csv
import enum
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from algoperf.api import WORKLOADS, RuleVersion, did_you_mean, get_rules, scored_workloads
from algoperf.scoring._anomalies import (
    Anomaly,
    AnomalyKind,
    ScoringError,
    raise_if_strict,
)

TIMES_COLUMNS = ("submission", "workload", "seconds")


class Status(enum.StrEnum):
    """Why a submission's time on a workload is what it is."""

    REACHED = "reached"
    """Reached the target within the budget (median over studies)."""
    NOT_REACHED = "not_reached"
    """Most studies did not reach the target within the budget."""
    ERROR = "error"
    """No study got to its first eval (NaN in the reference)."""
    MISSING = "missing"
    """No trial was logged."""
    BASE_FAILED = "base_failed"
    """A held-out variant whose base workload is infinite (v0.5)."""
    BEYOND_MAX_RATIO = "beyond_max_ratio"
    """More than 4x (the rules' ratio) the fastest submission's time."""
    HELD_OUT_INVALIDATED = "held_out_invalidated"
    """A base workload whose held-out variant is infinite (v0.5)."""


@dataclass(frozen=True)
class StudyTimes:
    """The per-study times behind each per-workload time, for resampling and reports."""

    seconds: npt.NDArray[np.float64]
    """(submission, workload, study): study time; inf: not reached; NaN: error or padding."""
    counts: npt.NDArray[np.int64]
    """(submission, workload): studies found; the first `count` study entries are real."""
    ids: npt.NDArray[np.int64]
    """(submission, workload, study): study number, -1 for padding."""
    trials: npt.NDArray[np.int64]
    """(submission, workload, study): the trial that sets the study's time, 0 for none."""


@dataclass(frozen=True)
class WorkloadTimes:
    """Per-workload time of each submission, before the rules across submissions.

    Workloads are the ones the rules score: base workloads, then held-out variants.
    """

    rules: RuleVersion
    submissions: tuple[str, ...]
    workloads: tuple[str, ...]
    seconds: npt.NDArray[np.float64]
    """(submission, workload): median time over studies; inf: not reached; NaN: error."""
    status: npt.NDArray[np.object_]
    """(submission, workload): a `Status` (reached, not reached, error or missing)."""
    studies: StudyTimes | None = None
    """Per-study times; None when the times were given per workload (`read_times_csv`)."""
    anomalies: tuple[Anomaly, ...] = field(default=())
    """Anomalies of the input the times come from."""

    @property
    def has_studies(self) -> bool:
        """Whether per-study times are known (for resampling and per-study reports)."""
        return self.studies is not None and self.studies.seconds.shape[-1] > 0

    def submission_index(self, name: str) -> int:
        """Row of submission `name`.

        Raises:
            ScoringError: no such submission.
        """
        if name in self.submissions:
            return self.submissions.index(name)
        raise ScoringError(
            f"unknown submission {name!r}{did_you_mean(name, self.submissions)}; "
            f"the submissions are {', '.join(self.submissions)}"
        )


def raw_status(seconds: npt.NDArray[np.float64], missing: npt.NDArray[np.bool_]) -> np.ndarray:
    """The status of each time before the cross-submission rules."""
    status = np.empty(seconds.shape, dtype=object)
    status[...] = Status.REACHED  # np.full would store the plain string
    status[np.isinf(seconds)] = Status.NOT_REACHED
    status[np.isnan(seconds)] = Status.ERROR
    status[missing] = Status.MISSING
    return status


def read_times_csv(
    path: str | Path, rules: str | RuleVersion | None = None, *, strict: bool = False
) -> WorkloadTimes:
    """Read per-workload times from a CSV with columns submission, workload, seconds.

    Seconds may be `inf` (not reached) or `nan` (error). Other columns are ignored, so the
    CSV that `algoperf-score --format csv` writes reads back.

    Raises:
        ScoringError: the file is unreadable or has bad rows (all of them listed), or
            `strict` is set and a scored workload has no row or a row is not scored.
    """
    version = get_rules(rules)
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ScoringError(f"{path}: cannot read the times file ({e.strerror})") from None
    reader = csv.DictReader(io.StringIO(text))
    absent = [c for c in TIMES_COLUMNS if c not in (reader.fieldnames or ())]
    if absent:
        raise ScoringError(
            f"{path}: no column {', '.join(map(repr, absent))}; a times file has the header "
            f"'{','.join(TIMES_COLUMNS)}' and one row per submission and workload"
        )
    rows, anomalies, problems = _parse_rows(reader, version)
    if problems:
        listed = "\n".join(f"  {path}:{p}" for p in problems)
        raise ScoringError(f"{path}: {len(problems)} bad rows in the times file:\n{listed}")
    if not rows:
        raise ScoringError(f"{path}: no row names a workload that rules {version.name} score")
    times = _times_from_rows(version, rows, anomalies)
    raise_if_strict(times.anomalies, strict)
    return times


def _parse_rows(
    reader: csv.DictReader[str], rules: RuleVersion
) -> tuple[dict[tuple[str, str], float], list[Anomaly], list[str]]:
    scored = {s.name for s in scored_workloads(rules)}
    rows: dict[tuple[str, str], float] = {}
    anomalies: list[Anomaly] = []
    problems: list[str] = []
    for row in reader:
        line = reader.line_num
        submission = (row["submission"] or "").strip()
        workload = (row["workload"] or "").strip()
        seconds = _seconds(row["seconds"])
        if not submission:
            problems.append(f"{line}: field 'submission' is empty; name the submission")
        if workload not in WORKLOADS:
            problems.append(
                f"{line}: field 'workload': {workload!r} is not a registered workload"
                f"{did_you_mean(workload, WORKLOADS)}"
            )
        if seconds is None:
            problems.append(
                f"{line}: field 'seconds': {row['seconds']!r} is not a time; write seconds "
                "(a number >= 0), inf (not reached) or nan (error)"
            )
        if (submission, workload) in rows:
            problems.append(f"{line}: a second row for {submission}, {workload}; keep one")
        if submission and workload in WORKLOADS and seconds is not None:
            if workload in scored:
                rows[submission, workload] = seconds
            else:
                detail = f"a registered {WORKLOADS[workload].kind} workload; line {line}"
                anomalies.append(
                    Anomaly(AnomalyKind.NOT_SCORED, f"{submission}: {workload}", detail)
                )
    return rows, anomalies, problems


def _seconds(text: str | None) -> float | None:
    try:
        value = float(text or "")
    except ValueError:
        return None
    return None if value < 0 else value


def _times_from_rows(
    rules: RuleVersion, rows: dict[tuple[str, str], float], anomalies: list[Anomaly]
) -> WorkloadTimes:
    workloads = tuple(s.name for s in scored_workloads(rules))
    submissions = tuple(sorted({s for s, _ in rows}))
    seconds = np.full((len(submissions), len(workloads)), math.nan)
    missing = np.ones(seconds.shape, dtype=bool)
    for i, submission in enumerate(submissions):
        for j, workload in enumerate(workloads):
            if (submission, workload) in rows:
                seconds[i, j] = rows[submission, workload]
                missing[i, j] = False
            else:
                anomalies.append(Anomaly(AnomalyKind.MISSING_WORKLOAD, f"{submission}: {workload}"))
    status = raw_status(seconds, missing)
    return WorkloadTimes(rules, submissions, workloads, seconds, status, None, tuple(anomalies))

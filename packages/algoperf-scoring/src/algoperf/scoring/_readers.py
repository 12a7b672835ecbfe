"""Readers of trial folders that keep the two series scoring needs: time and target metric.

Scoring 10,000 trials is mostly parsing, so both readers pull just those two series out of
the raw bytes. Whatever the fast path cannot vouch for (quoted CSV cells, ragged rows, blank
or incomplete JSON lines, negative times) goes through an exact reader, which also words
the error. Many trials are read in forked worker processes.
"""

from __future__ import annotations

import csv
import functools
import itertools
import math
import multiprocessing
import os
import re
import sys
import warnings
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from algoperf.api import (
    EVALS_FILE,
    TRIAL_FILE,
    RecordError,
    Ruleset,
    RuleVersion,
    TrialFile,
    TrialSpec,
    get_workload_spec,
    read_evals,
    read_trial_file,
    scored_workloads,
)
from algoperf.scoring._anomalies import Anomaly, AnomalyError, AnomalyKind

REFERENCE_EVALS_FILE = "eval_measurements.csv"
TIME_COLUMN = "accumulated_submission_time"
# The reference also logs the same time as 'score'; older logs may have only that.
_TIME_COLUMNS = (TIME_COLUMN, "score")
# A JSON number, or the NaN/Infinity constants that Python's json module and pydantic write.
_JSON_NUMBER = rb"(-?Infinity|NaN|-?[0-9][-+0-9.eE]*)"

# Below this many trials a worker pool costs more than it saves.
_PARALLEL_FROM = 2000

Series = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]


def read_reference_csv(path: str | Path, metric_key: str) -> Series:
    """Times and target-metric values of a reference `eval_measurements.csv`.

    A missing file means the trial never reached its first eval.

    Raises:
        AnomalyError: the file cannot be read or lacks a column scoring needs.
    """
    try:
        with open(path, "rb") as f:
            data = f.read().replace(b"\r\n", b"\n")
    except FileNotFoundError:
        return np.empty(0), np.empty(0)
    except OSError as e:
        raise _error(AnomalyKind.UNREADABLE, path, f"cannot read the file ({e.strerror})") from None
    header, _, body = data.partition(b"\n")
    names = next(csv.reader([header.decode("utf-8", errors="replace")]), [])
    time_col = next((c for c in _TIME_COLUMNS if c in names), None)
    if time_col is None:
        raise _missing_column(path, "the time, 'accumulated_submission_time' or 'score'", names)
    if metric_key not in names:
        raise _missing_column(path, f"the target metric, {metric_key!r}", names)
    ti, mi = names.index(time_col), names.index(metric_key)
    rows = body.rstrip(b"\n")
    if not rows:
        return np.empty(0), np.empty(0)
    lines = rows.split(b"\n")
    n = len(names)
    if b'"' in rows or set(map(bytes.count, lines, itertools.repeat(b","))) != {n - 1}:
        return _read_csv_exactly(path, names, ti, mi)
    cells = rows.replace(b"\n", b",").split(b",")
    return _floats(cells[ti::n], path, names[ti]), _floats(cells[mi::n], path, metric_key)


def _read_csv_exactly(path: str | Path, names: list[str], ti: int, mi: int) -> Series:
    """The csv-module reading, for files the split cannot handle; names the bad line."""
    times, values = [], []
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for row in reader:
            if not row:
                continue
            if len(row) != len(names):
                raise _error(
                    AnomalyKind.UNREADABLE,
                    path,
                    f"line {reader.line_num} has {len(row)} cells but the header has {len(names)}",
                )
            times.append(_float(row[ti], path, names[ti], reader.line_num))
            values.append(_float(row[mi], path, names[mi], reader.line_num))
    return np.array(times, dtype=np.float64), np.array(values, dtype=np.float64)


def _floats(cells: list[bytes], path: str | Path, column: str) -> npt.NDArray[np.float64]:
    """Numbers of one CSV column; an empty cell (how pandas writes NaN) is NaN."""
    try:
        return np.array(cells, dtype=np.float64)
    except ValueError:
        return np.array(
            [_float(c.decode(errors="replace"), path, column, i + 2) for i, c in enumerate(cells)],
            dtype=np.float64,
        )


def _float(cell: str, path: str | Path, column: str, line: int) -> float:
    if not cell.strip():
        return math.nan
    try:
        return float(cell)
    except ValueError:
        raise _error(
            AnomalyKind.UNREADABLE,
            path,
            f"line {line}, column {column!r}: {cell!r} is not a number",
        ) from None


def read_evals_jsonl(path: str | Path, metric_key: str) -> Series:
    """Times and target-metric values of one of our `evals.jsonl` files.

    Follows `algoperf.api.read_evals`: a missing file holds no evals yet, and a last line
    without its newline was never committed.

    Raises:
        AnomalyError: the file is invalid, or no eval has the target metric.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return np.empty(0), np.empty(0)
    except OSError as e:
        raise _error(AnomalyKind.UNREADABLE, path, f"cannot read the file ({e.strerror})") from None
    committed = data if data.endswith(b"\n") else data[: data.rfind(b"\n") + 1]
    times = _json_values(committed, TIME_COLUMN)
    values = _json_values(committed, metric_key)
    # One time and one value per line; blank, partial or odd lines go the exact way.
    if len(times) == len(values) == committed.count(b"\n") and not (times < 0).any():
        return times, values
    return _read_jsonl_exactly(path, metric_key)


def _json_values(text: bytes, key: str) -> npt.NDArray[np.float64]:
    return np.array(_json_pattern(key).findall(text), dtype=np.float64)


@functools.cache
def _json_pattern(key: str) -> re.Pattern[bytes]:
    return re.compile(rb'"' + re.escape(key.encode()) + rb'"\s*:\s*' + _JSON_NUMBER)


def _read_jsonl_exactly(path: str | Path, metric_key: str) -> Series:
    try:
        records = read_evals(path)
    except RecordError as e:
        detail = e.detail if e.line is None else f"line {e.line}: {e.detail}"
        raise _error(AnomalyKind.UNREADABLE, path, detail) from None
    if records and all(metric_key not in r.metrics for r in records):
        raise _error(
            AnomalyKind.MISSING_COLUMN,
            path,
            f"no eval has the metric {metric_key!r}; they have {', '.join(records[0].metrics)}",
        )
    times = np.array([r.accumulated_submission_time for r in records], dtype=np.float64)
    values = np.array([r.metrics.get(metric_key, math.nan) for r in records], dtype=np.float64)
    return times, values


def _missing_column(path: str | Path, wanted: str, names: list[str]) -> AnomalyError:
    header = ", ".join(names)
    return _error(
        AnomalyKind.MISSING_COLUMN, path, f"no column for {wanted}; the header has {header}"
    )


def _error(kind: AnomalyKind, path: str | Path, detail: str) -> AnomalyError:
    return AnomalyError(Anomaly(kind, str(path), detail))


@dataclass(frozen=True, slots=True)
class Job:
    """A trial folder to read; in the reference layout its path says what it is."""

    folder: str
    submission: str = ""
    workload: str = ""
    study: int = 0
    trial: int = 0

    @property
    def ours(self) -> bool:
        """Whether the folder is in our layout (its trial.json says what it is)."""
        return not self.workload


@dataclass(frozen=True, slots=True)
class TrialRead:
    """What a worker read from one trial folder."""

    job: Job
    submission: str = ""
    workload: str = ""
    study: int = 0
    trial: int = 0
    series: Series | None = None
    """Times and target-metric values; None when the trial is not read (see `problem`)."""
    problem: Anomaly | None = None
    """An unreadable file: the trial is skipped."""
    other_rules: str = ""
    """The rules and ruleset one of our trials was recorded under, when not the scored ones."""


def _read_job(job: Job, rules: RuleVersion, ruleset: Ruleset, scored: frozenset[str]) -> TrialRead:
    """Read one trial folder (runs in a worker process)."""
    if not job.ours:
        spec = get_workload_spec(job.workload)
        identity = (job.submission, job.workload, job.study, job.trial)
        read, evals = read_reference_csv, REFERENCE_EVALS_FILE
    else:
        trial = _trial_spec(job.folder)
        if isinstance(trial, Anomaly):
            return TrialRead(job, problem=trial)
        identity = (trial.submission, trial.workload, trial.study, trial.trial)
        if trial.rules_version != rules.name or trial.ruleset is not ruleset:
            recorded = f"{trial.ruleset} tuning, rules {trial.rules_version}"
            return TrialRead(job, *identity, other_rules=recorded)
        if trial.workload not in scored:
            return TrialRead(job, *identity)
        spec = get_workload_spec(trial.workload)
        read, evals = read_evals_jsonl, EVALS_FILE
    try:
        series = read(os.path.join(job.folder, evals), spec.validation_metric_key)
    except AnomalyError as e:
        return TrialRead(job, *identity, problem=e.anomaly)
    return TrialRead(job, *identity, series=series)


def _trial_spec(folder: str) -> TrialSpec | Anomaly:
    """The spec in `folder/trial.json`, or the api's words for what is wrong with it."""
    path = os.path.join(folder, TRIAL_FILE)
    try:
        with open(path, "rb") as f:
            return TrialFile.model_validate_json(f.read()).spec
    except (OSError, ValueError):
        pass
    try:  # again through the api, for its wording of the problem
        return read_trial_file(folder).spec
    except RecordError as e:
        return Anomaly(AnomalyKind.UNREADABLE, path, e.detail)


def read_trials(
    jobs: list[Job], rules: RuleVersion, ruleset: Ruleset, workers: int | None
) -> Iterable[TrialRead]:
    """Read the trial folders in order, in `workers` forked processes on Linux.

    `workers=None` uses one per CPU from 2,000 trials on, where a pool pays off. Elsewhere
    (no safe fork, or JAX or PyTorch loaded) they are read in this process.
    """
    scored = frozenset(s.name for s in scored_workloads(rules))
    read = functools.partial(_read_job, rules=rules, ruleset=ruleset, scored=scored)
    if workers is None:
        workers = _cpus() if len(jobs) >= _PARALLEL_FROM else 1
    if workers <= 1 or not sys.platform.startswith("linux") or _fork_unsafe():
        return map(read, jobs)
    chunk = max(1, len(jobs) // (4 * workers))
    # Fork, not spawn: a spawned worker would spend a second importing what we have. Python
    # >= 3.12 warns that forking a process with threads (numpy's BLAS pool) may deadlock;
    # the workers only read files and parse numbers, which take none of those locks.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            return list(pool.map(read, jobs, chunksize=chunk))


def _fork_unsafe() -> bool:
    """Whether a loaded framework's threads make forking this process risky.

    JAX warns that a fork of its multithreaded runtime may deadlock (the harness scores in
    the process that trained), so such processes read serially.
    """
    return any(name in sys.modules for name in ("jax", "torch"))


def _cpus() -> int:
    """CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1

"""Readers of trial folders that keep what scoring needs: time, target metric and step.

Scoring thousands of trials is mostly parsing, so both readers pull just those series out
of the raw bytes: a CSV is split once into cells (with a marker between rows, so that one
comparison proves every row has as many cells as the header), and a JSON-lines file
whose every line is in the harness's exact layout is read with regular expressions.
Whatever the fast path cannot vouch for (quoted CSV cells, ragged rows, empty cells, blank,
garbled or partial JSON lines) goes through an exact reader, which also words the error.
Bytes that are not text are an error naming the line.

`check_evals` then validates every trial's sequence (times finite and >= 0, steps and
times non-decreasing, repeated steps); a sequence that cannot be trusted skips the trial.
Many trials are read in forked worker processes.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import numpy.typing as npt

from algoperf.api import (
    EVALS_FILE,
    TRIAL_FILE,
    RecordError,
    Ruleset,
    RuleVersion,
    scored_workloads,
)
from algoperf.scoring._anomalies import Anomaly, AnomalyError, AnomalyKind
from algoperf.scoring._forked import fork_processes, map_forked

if TYPE_CHECKING:
    from algoperf.api import TrialSpec

REFERENCE_EVALS_FILE = "eval_measurements.csv"
TIME_COLUMN = "accumulated_submission_time"
STEP_COLUMN = "global_step"
# The reference also logs the same time as 'score'; older logs may have only that.
_TIME_COLUMNS = (TIME_COLUMN, "score")
# A JSON number, or the NaN/Infinity constants that Python's json module and pydantic write.
_JSON_NUMBER = rb"(-?Infinity|NaN|-?[0-9][-+0-9.eE]*)"
_STRICT_NUMBER = rb"(?:-?Infinity|NaN|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)"
# One line exactly as `EvalRecord.model_dump_json` writes it (the harness's `append_eval`):
# a file whose every line matches is valid JSON with the fields scoring reads, so it can be
# read with regular expressions; anything else is validated line by line by the api.
_RECORD_LINE = (
    rb'^\{"global_step":([0-9]+),"accumulated_submission_time":(' + _STRICT_NUMBER + rb"),"
    rb'"accumulated_eval_time":' + _STRICT_NUMBER + rb","
    rb'"accumulated_logging_time":' + _STRICT_NUMBER + rb","
    rb'"total_duration":' + _STRICT_NUMBER + rb',"preemption_count":[0-9]+,'
    rb'"metrics":\{(?:"[^"\\\n]*":'
    + _STRICT_NUMBER
    + rb'(?:,"[^"\\\n]*":'
    + _STRICT_NUMBER
    + rb")*)?\}\}$"
)

_READ_SIZE = 1 << 16
"""Bytes asked of each read(); eval files are a few kilobytes."""
# Trials per process at least: a fork, and sending the results back, cost about what
# reading a hundred trials does.
_TRIALS_PER_PROCESS = 500

Series = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]


class Evals(NamedTuple):
    """One trial's evals as read from its file, before `check_evals` vouches for them."""

    times: npt.NDArray[np.float64]
    """Accumulated submission time of each eval."""
    values: npt.NDArray[np.float64]
    """The target metric of each eval."""
    steps: npt.NDArray[np.float64] | None
    """The global step of each eval; None when the file has no step column."""
    lines: npt.NDArray[np.int64]
    """The line of the file each eval is on (1-based), for messages."""
    partial: int = 0
    """The line number of an unterminated last line, which was not read (0: none)."""


def _no_evals(partial: int = 0) -> Evals:
    return Evals(np.empty(0), np.empty(0), None, np.empty(0, dtype=np.int64), partial)


def read_reference_csv(path: str | Path, metric_key: str) -> Evals:
    """Times, target-metric values and steps of a reference `eval_measurements.csv`.

    A missing file means the trial never reached its first eval. An unterminated last
    line (the file is being written) is not read, and its line number is returned.

    Raises:
        AnomalyError: the file cannot be read, holds bytes that are not text, or lacks a
            column scoring needs.
    """
    data = _read_bytes(path)
    if data is None:
        return _no_evals()
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    _check_text(path, data)
    end = data.find(b"\n")
    names, columns = _columns(path, data if end < 0 else data[:end], metric_key)
    if end < 0:  # a header alone, perhaps still being written
        return _no_evals()
    data, partial = _committed(path, data)
    if data.endswith(b"\n\n"):  # blank lines at the end
        data = data.rstrip(b"\n") + b"\n"
    # One split of the whole file, with a b"\n" cell after each line: the file is a plain
    # grid exactly when every line has n cells, i.e. every (n+1)-th cell is such a marker.
    spread = data.replace(b"\n", b",\n,")
    n, lines = len(names), (len(spread) - len(data)) // 2 - 1  # each newline grew by 2
    cells = spread.split(b",")
    if (
        b'"' in data
        or len(cells) != (lines + 1) * (n + 1) + 1
        or cells[n :: n + 1].count(b"\n") != lines + 1
    ):
        return _read_csv_exactly(path, data[end + 1 :], names, columns, partial)
    if not lines:
        return _no_evals(partial)
    stop = (lines + 1) * (n + 1)  # the rows' cells: after the header's, before the last b""
    column_cells = [cells[n + 1 + c : stop : n + 1] for c in columns]
    try:  # the columns scoring reads, parsed in one call
        read = np.array(list(itertools.chain(*column_cells)), np.float64)
        series = [read[k * lines : (k + 1) * lines] for k in range(len(columns))]
    except ValueError:  # empty cells (NaN as pandas writes it) or words: cell by cell
        series = [
            _floats(cells, path, names[c]) for cells, c in zip(column_cells, columns, strict=True)
        ]
    steps = series[2] if len(series) > 2 else None
    return Evals(series[0], series[1], steps, np.arange(2, lines + 2), partial)


def _columns(path: str | Path, header: bytes, metric_key: str) -> tuple[list[str], tuple[int, ...]]:
    """The header's names and the columns of time, metric and (if any) step.

    Raises:
        AnomalyError: a column scoring needs is missing.
    """
    found = _header_columns(header, metric_key)
    if isinstance(found, str):
        raise _error(AnomalyKind.MISSING_COLUMN, path, found)
    return found


@functools.lru_cache(maxsize=64)
def _header_columns(header: bytes, metric_key: str) -> tuple[list[str], tuple[int, ...]] | str:
    """`_columns` of one header (logs of a workload share theirs), or what is missing."""
    names = next(csv.reader([header.decode()]), [])
    time_col = next((c for c in _TIME_COLUMNS if c in names), None)
    if time_col is None:
        return _missing(f"the time, {TIME_COLUMN!r} or 'score'", names)
    if metric_key not in names:
        return _missing(f"the target metric, {metric_key!r}", names)
    columns = (names.index(time_col), names.index(metric_key))
    if STEP_COLUMN in names:
        columns += (names.index(STEP_COLUMN),)
    return names, columns


def _missing(wanted: str, names: list[str]) -> str:
    return f"no column for {wanted}; the header has {', '.join(names)}"


def _read_bytes(path: str | Path) -> bytes | None:
    """The file's bytes; None when it does not exist."""
    try:  # os.read: a file object's buffering and bookkeeping cost more than the read
        fd = os.open(path, os.O_RDONLY)
        try:
            parts = []
            while part := os.read(fd, _READ_SIZE):
                parts.append(part)
        finally:
            os.close(fd)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise _error(AnomalyKind.UNREADABLE, path, f"cannot read the file ({e.strerror})") from None
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _check_text(path: str | Path, data: bytes) -> None:
    """Raise naming the first line that is not text (binary junk), if any."""
    if data.isascii() and b"\0" not in data:
        return
    for number, line in enumerate(data.split(b"\n"), start=1):
        try:
            text = line.decode()
        except UnicodeDecodeError as e:
            detail = f"byte {e.start + 1} is {line[e.start]:#04x}"
        else:
            if "\0" not in text:
                continue
            detail = f"byte {text.index(chr(0)) + 1} is a NUL"
        raise _error(AnomalyKind.UNREADABLE, path, f"line {number}: not text ({detail})")


def _committed(path: str | Path, data: bytes, first_line: int = 1) -> tuple[bytes, int]:
    """`data` up to its last newline, and the line number of the unterminated rest (0: none).

    A writer that is still running, or was killed, leaves such a line; it is tolerated when
    it is plain text, and anything else there is garbage.
    """
    if not data or data.endswith(b"\n"):
        return data, 0
    cut = data.rfind(b"\n") + 1
    rest = data[cut:]
    number = first_line + data.count(b"\n", 0, cut)
    if not _printable(rest):
        raise _error(AnomalyKind.UNREADABLE, path, f"line {number}: unterminated and not text")
    return data[:cut], number


def _printable(data: bytes) -> bool:
    return data.isascii() and data.decode().isprintable()


def _read_csv_exactly(
    path: str | Path, body: bytes, names: list[str], columns: tuple[int, ...], partial: int
) -> Evals:
    """The csv-module reading, for files the split cannot handle; names the bad line."""
    read: list[list[float]] = [[] for _ in columns]
    numbers = []
    reader = csv.reader(io.StringIO(body.decode(), newline=""))
    for row in reader:
        if not row:
            continue
        line = reader.line_num + 1  # the header is line 1
        if len(row) != len(names):
            raise _error(
                AnomalyKind.UNREADABLE,
                path,
                f"line {line} has {len(row)} cells but the header has {len(names)}",
            )
        for column, out in zip(columns, read, strict=True):
            out.append(_float(row[column], path, names[column], line))
        numbers.append(line)
    arrays = [np.array(r, dtype=np.float64) for r in read]
    steps = arrays[2] if len(arrays) > 2 else None
    return Evals(arrays[0], arrays[1], steps, np.array(numbers, dtype=np.int64), partial)


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


def read_evals_jsonl(path: str | Path, metric_key: str) -> Evals:
    """Times, target-metric values and steps of one of our `evals.jsonl` files.

    Follows `algoperf.api.read_evals`: a missing file holds no evals yet, and a last line
    without its newline was never committed (its number is returned; it must be text).

    Raises:
        AnomalyError: a line is not an eval record, or no eval has the target metric.
    """
    data = _read_bytes(path)
    if data is None:
        return _no_evals()
    committed, partial = _committed(path, data)
    if partial and not data[data.rfind(b"\n") + 1 :].startswith(b"{"):
        raise _error(AnomalyKind.UNREADABLE, path, f"line {partial}: not an eval record")
    n = committed.count(b"\n")
    found = _record_line().findall(committed)
    values = _json_values(committed, metric_key)
    # Every line in the harness's layout, each with the metric once: no need for pydantic.
    if len(found) == len(values) == n:
        steps_times = np.array(found, dtype=np.float64).reshape(-1, 2)
        lines = np.arange(1, n + 1)
        return Evals(steps_times[:, 1], values, steps_times[:, 0], lines, partial)
    return _read_jsonl_exactly(path, committed, metric_key, partial)


def _json_values(text: bytes, key: str) -> npt.NDArray[np.float64]:
    return np.array(_json_pattern(key).findall(text), dtype=np.float64)


@functools.cache
def _record_line() -> re.Pattern[bytes]:  # compiled when first needed: most logs are CSV
    return re.compile(_RECORD_LINE, re.MULTILINE)


@functools.cache
def _json_pattern(key: str) -> re.Pattern[bytes]:
    return re.compile(rb'"' + re.escape(key.encode()) + rb'"\s*:\s*' + _JSON_NUMBER)


def _read_jsonl_exactly(path: str | Path, committed: bytes, metric_key: str, partial: int) -> Evals:
    from algoperf.api import read_evals  # pydantic: only for logs of our layout

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
    lines = [i for i, line in enumerate(committed.split(b"\n")[:-1], start=1) if line.strip()]
    return Evals(
        np.array([r.accumulated_submission_time for r in records], dtype=np.float64),
        np.array([r.metrics.get(metric_key, math.nan) for r in records], dtype=np.float64),
        np.array([r.global_step for r in records], dtype=np.float64),
        np.array(lines[: len(records)], dtype=np.int64),
        partial,
    )


def check_evals(path: str | Path, evals: Evals) -> tuple[Series | None, list[Anomaly]]:
    """Vouch for one trial's eval sequence, or say what is wrong with it.

    Times must be finite and >= 0, and steps and times non-decreasing. A step logged twice
    with the same time and metric is a harmless copy (a note; the copy is dropped), with
    other values a conflict. An unterminated last line is noted.

    Returns:
        The (times, values) to score, or None when the trial cannot be trusted (it is then
        skipped); and the anomalies and notes found, each naming the file and the line.
    """
    found = []
    if evals.partial:
        detail = f"line {evals.partial}: unterminated, not read"
        found.append(Anomaly(AnomalyKind.PARTIAL_LINE, str(path), detail))
    if _in_order(evals.times, evals.steps):  # the usual case, in a few reductions
        return (evals.times, evals.values), found
    keep, copies, problems = _sequence_problems(str(path), evals)
    if problems:
        return None, problems + found
    if copies:
        found.append(copies)
    return (evals.times[keep], evals.values[keep]), found


def _in_order(times: npt.NDArray[np.float64], steps: npt.NDArray[np.float64] | None) -> bool:
    """Whether times are finite, >= 0 and non-decreasing and steps increasing (NaN: no)."""
    if len(times) == 0:
        return True
    if not (times[0] >= 0 and times[-1] < math.inf and (times[1:] >= times[:-1]).all()):
        return False
    return steps is None or bool((steps[1:] > steps[:-1]).all())


def _sequence_problems(
    path: str, evals: Evals
) -> tuple[npt.NDArray[np.bool_], Anomaly | None, list[Anomaly]]:
    """Evals to keep, a note on identical copies, and the problems, of an unusual file."""
    times, values, steps, lines = evals.times, evals.values, evals.steps, evals.lines.tolist()
    problems = []
    bad = np.flatnonzero(np.isinf(times) | (times < 0))
    if len(bad):
        first_bad = int(bad[0])
        detail = f"line {lines[first_bad]}: {TIME_COLUMN} is {float(times[first_bad])!r}"
        problems.append(Anomaly(AnomalyKind.BAD_TIME, path, detail + _more(len(bad))))
    keep = np.ones(len(times), dtype=bool)
    copies, conflicts = [], []
    if steps is not None:
        t, v = times.tolist(), values.tolist()
        first: dict[float, int] = {}
        for i, step in enumerate(steps.tolist()):
            j = first.setdefault(step, i)
            if j == i:
                continue
            if _same(t[i], t[j]) and _same(v[i], v[j]):
                keep[i] = False
                copies.append(f"line {lines[i]} repeats line {lines[j]} (step {step:g})")
            else:
                conflicts.append(
                    f"line {lines[i]}: step {step:g} again, with time {t[i]!r} and value "
                    f"{v[i]!r}; line {lines[j]} has time {t[j]!r} and value {v[j]!r}"
                )
    if conflicts:
        detail = conflicts[0] + _more(len(conflicts))
        problems.append(Anomaly(AnomalyKind.CONFLICTING_EVALS, path, detail))
    backwards = _backwards("step", steps, keep, lines) if steps is not None else []
    usable = keep & np.isfinite(times) & (times >= 0)
    backwards += _backwards("time", times, usable, lines)
    if backwards:
        detail = backwards[0] + _more(len(backwards))
        problems.append(Anomaly(AnomalyKind.OUT_OF_ORDER, path, detail))
    note = None
    if copies:
        note = Anomaly(AnomalyKind.DUPLICATE_EVAL, path, copies[0] + _more(len(copies)))
    return keep, note, problems


def _backwards(
    name: str, series: npt.NDArray[np.float64], keep: npt.NDArray[np.bool_], lines: list[int]
) -> list[str]:
    """Where `series` (the entries in `keep`, NaN aside) goes down."""
    index = np.flatnonzero(keep & ~np.isnan(series))
    kept = series[index].tolist()
    return [
        f"line {lines[index[k + 1]]}: {name} {kept[k + 1]!r} after {kept[k]!r} on line "
        f"{lines[index[k]]}"
        for k in np.flatnonzero(np.diff(series[index]) < 0).tolist()
    ]


def _same(a: float, b: float) -> bool:
    return bool(a == b or (math.isnan(a) and math.isnan(b)))


def _more(count: int) -> str:
    return f" (and {count - 1} more)" if count > 1 else ""


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
    """An unreadable file or an eval sequence that cannot be trusted: the trial is skipped."""
    notes: tuple[Anomaly, ...] = ()
    """Further anomalies and notes on the trial's eval file."""
    other_rules: str = ""
    """The rules and ruleset one of our trials was recorded under, when not the scored ones."""


def _read_job(
    job: Job, rules: RuleVersion, ruleset: Ruleset, metric_keys: Mapping[str, str]
) -> TrialRead:
    """Read one trial folder; `metric_keys` maps each scored workload to its target metric."""
    if not job.ours:
        metric_key = metric_keys[job.workload]
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
        if trial.workload not in metric_keys:
            return TrialRead(job, *identity)
        metric_key = metric_keys[trial.workload]
        read, evals = read_evals_jsonl, EVALS_FILE
    path = os.path.join(job.folder, evals)
    try:
        series, found = check_evals(path, read(path, metric_key))
    except AnomalyError as e:
        return TrialRead(job, *identity, problem=e.anomaly)
    if series is None:
        return TrialRead(job, *identity, problem=found[0], notes=tuple(found[1:]))
    series, nan_note = _drop_nan_times(job.folder, metric_key, *series)
    if nan_note is not None:
        found.append(nan_note)
    return TrialRead(job, *identity, series=series, notes=tuple(found))


def _drop_nan_times(
    folder: str, metric_key: str, times: npt.NDArray[np.float64], values: npt.NDArray[np.float64]
) -> tuple[Series, Anomaly | None]:
    """The evals whose time is not NaN, and a note when a time or a value is NaN."""
    if not math.isnan(times.sum() + values.sum()):  # the usual case, in two reductions
        return (times, values), None
    nan_times = np.isnan(times)
    nan_values = np.isnan(values) & ~nan_times
    note = None
    if nan_times.any() or nan_values.any():
        detail = (
            f"{nan_times.sum()} evals with a NaN time (dropped), "
            f"{nan_values.sum()} with a NaN {metric_key}"
        )
        note = Anomaly(AnomalyKind.NAN_VALUES, folder, detail)
    return (times[~nan_times], values[~nan_times]), note


def _trial_spec(folder: str) -> TrialSpec | Anomaly:
    """The spec in `folder/trial.json`, or the api's words for what is wrong with it."""
    from algoperf.api import TrialFile, read_trial_file  # pydantic: only for our layout

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
) -> list[TrialRead]:
    """Read the trial folders in order, shared among `workers` processes on Linux.

    This process and forked children share the reading (`map_forked`). `workers=None`: one
    process per CPU, each with 500 trials or more. Elsewhere (no safe fork, or JAX or
    PyTorch loaded) all are read in this process.
    """
    metric_keys = {s.name: s.validation_metric_key for s in scored_workloads(rules)}
    read = functools.partial(_read_job, rules=rules, ruleset=ruleset, metric_keys=metric_keys)
    processes = fork_processes(len(jobs), _TRIALS_PER_PROCESS, workers)
    if processes <= 1:
        return list(map(read, jobs))
    return map_forked(read, jobs, processes, _pack, _unpack)


# What of a `TrialRead` a forked reader sends back: the parent has the jobs, and the series
# travel as one array (thousands of small arrays and jobs pickle ten times slower).
_Packed = tuple[list[tuple], list[int], npt.NDArray[np.float64]]


def _pack(reads: list[TrialRead]) -> _Packed:
    fields = [
        (r.submission, r.workload, r.study, r.trial, r.problem, r.notes, r.other_rules)
        for r in reads
    ]
    lengths = [-1 if r.series is None else len(r.series[0]) for r in reads]
    flat = np.concatenate(
        [np.empty(0), *(a for r in reads if r.series is not None for a in r.series)]
    )
    return fields, lengths, flat


def _unpack(jobs: list[Job], packed: _Packed) -> Iterator[TrialRead]:
    fields, lengths, flat = packed
    start = 0
    for job, (submission, workload, study, trial, problem, notes, other), n in zip(
        jobs, fields, lengths, strict=True
    ):
        series = None
        if n >= 0:
            series = (flat[start : start + n], flat[start + n : start + 2 * n])
            start += 2 * n
        yield TrialRead(job, submission, workload, study, trial, series, problem, notes, other)

"""The trial record format shared by the harness (writer) and scoring (reader).

A trial directory holds `trial.json` (the spec, and the outcome once the trial ended),
rewritten atomically, and `evals.jsonl`, one `EvalRecord` per line, append-only. A line
is committed once its newline is written, so a final line without one (the writer was
killed mid-write) is not part of the record and is skipped when reading.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from algoperf.api._enums import Framework, Ruleset
from algoperf.api._errors import RecordError, UnknownNameError, validation_problems
from algoperf.api._hyperparameters import Hyperparameters, HyperparameterValue
from algoperf.api._record_files import EVALS_FILE, TRIAL_FILE
from algoperf.api._registry import get_workload_spec
from algoperf.api._rules import get_rules

FORMAT_VERSION = 1
KNOWN_FORMAT_VERSIONS = (1,)
"""The record format versions this reader understands (the newest is FORMAT_VERSION)."""

_RECORD_CONFIG = ConfigDict(
    frozen=True,
    extra="forbid",
    use_attribute_docstrings=True,
    # Metrics of a diverged run are NaN; write them as the NaN/Infinity constants that
    # Python's json module (and pandas) read back.
    ser_json_inf_nan="constants",
)


class HardwareInfo(BaseModel):
    """The hardware a trial ran on, so that runs on different hardware are never mixed."""

    model_config = _RECORD_CONFIG

    device_kind: str
    """Accelerator model as the framework reports it, e.g. 'NVIDIA H100 80GB HBM3' or 'cpu'."""
    device_count: int = Field(ge=1)
    """Devices the trial used."""


class TrialSpec(BaseModel):
    """Everything that determines one trial."""

    model_config = _RECORD_CONFIG

    format_version: int = FORMAT_VERSION
    """Version of this record format."""
    submission: str
    """Submission name (as on the leaderboard)."""
    workload: str
    """Registered workload name."""
    framework: Framework
    """Framework the trial runs in."""
    ruleset: Ruleset
    """External or self tuning."""
    rules_version: str
    """Rule version name, e.g. 'v0.5'."""
    study: int = Field(ge=0)
    """Study index, from 0."""
    trial: int = Field(ge=1)
    """Trial index within the study, from 1 (self-tuning has only trial 1)."""
    seed: int = Field(ge=0, lt=2**64)
    """The trial's root random seed (unsigned 64-bit)."""
    hyperparameters: dict[str, HyperparameterValue] | None
    """The trial's hyperparameters; None under self-tuning."""
    hardware: HardwareInfo
    """Hardware the trial runs on."""

    @field_validator("format_version")
    @classmethod
    def _known_format(cls, version: int) -> int:
        if version not in KNOWN_FORMAT_VERSIONS:
            known = ", ".join(map(str, KNOWN_FORMAT_VERSIONS))
            raise ValueError(
                f"unknown record format version {version}; this reader knows version {known}: "
                "read the record with the algoperf-api that wrote it, or upgrade algoperf-api"
            )
        return version

    @field_validator("workload")
    @classmethod
    def _known_workload(cls, name: str) -> str:
        return _registered(get_workload_spec, name)

    @field_validator("rules_version")
    @classmethod
    def _known_rules(cls, name: str) -> str:
        return _registered(get_rules, name)

    @model_validator(mode="after")
    def _hyperparameters_match_ruleset(self) -> Self:
        if self.ruleset is Ruleset.SELF and self.hyperparameters is not None:
            raise ValueError("self-tuning trials take no hyperparameters; set them to null")
        if self.ruleset is Ruleset.EXTERNAL and self.hyperparameters is None:
            raise ValueError("external-tuning trials need hyperparameters")
        if self.ruleset is Ruleset.SELF and self.trial != 1:
            raise ValueError("self-tuning studies have a single trial, number 1")
        return self

    def hyperparameters_object(self) -> Hyperparameters | None:
        """The hyperparameters as the submission receives them."""
        return None if self.hyperparameters is None else Hyperparameters(self.hyperparameters)

    def content_hash(self) -> str:
        """A stable 16-hex-digit id of this spec (the same spec always gives the same id)."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, allow_nan=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _registered(lookup: Callable[[str], object], name: str) -> str:
    """`name` if `lookup` knows it; pydantic reports the ValueError under the field."""
    try:
        lookup(name)
    except UnknownNameError as e:
        raise ValueError(str(e)) from None
    return name


class EvalRecord(BaseModel):
    """One evaluation: when it happened (in submission time) and what it measured."""

    model_config = _RECORD_CONFIG

    global_step: int = Field(ge=0)
    """Training steps done before this eval."""
    accumulated_submission_time: float = Field(ge=0)
    """Seconds of timed submission work (data selection, update, prepare-for-eval) so far."""
    accumulated_eval_time: float = Field(ge=0)
    """Seconds spent in evals so far (untimed)."""
    accumulated_logging_time: float = Field(ge=0)
    """Seconds spent writing logs and checkpoints so far (untimed)."""
    total_duration: float = Field(ge=0)
    """Wall-clock seconds since the trial's clock started."""
    preemption_count: int = Field(default=0, ge=0)
    """How often the trial was resumed before this eval."""
    metrics: dict[str, float]
    """Metrics by split, e.g. {'validation/accuracy': 0.71, 'train/loss': 1.2}."""


class TrialStatus(enum.StrEnum):
    """How a trial ended."""

    REACHED_TARGET = "reached_target"
    """An eval reached the validation target."""
    BUDGET_EXHAUSTED = "budget_exhausted"
    """The time budget ran out first."""
    STOPPED = "stopped"
    """The submission ended training (TrainingCompleteError) or a step limit was hit."""
    DIVERGED = "diverged"
    """The loss or a metric became NaN or infinite."""
    FAILED = "failed"
    """An exception (out of memory included) ended the trial."""


class TrialOutcome(BaseModel):
    """The end of a trial."""

    model_config = _RECORD_CONFIG

    status: TrialStatus
    """How the trial ended."""
    time_to_target: float | None = Field(default=None, ge=0)
    """Submission time at the first eval that reached the validation target."""
    global_step: int = Field(ge=0)
    """Steps done when the trial ended."""
    accumulated_submission_time: float = Field(ge=0)
    """Submission time when the trial ended."""
    error: str | None = None
    """Traceback or reason for diverged and failed trials."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        reached = self.status is TrialStatus.REACHED_TARGET
        if reached != (self.time_to_target is not None):
            raise ValueError("time_to_target is set exactly when the status is reached_target")
        if self.status is TrialStatus.FAILED and not self.error:
            raise ValueError("a failed trial records its error")
        return self


class TrialFile(BaseModel):
    """The content of `trial.json`."""

    model_config = _RECORD_CONFIG

    spec: TrialSpec
    """What the trial runs."""
    outcome: TrialOutcome | None = None
    """How it ended; None while it runs (or if it was killed)."""


class TrialRecord(BaseModel):
    """A whole trial as read from disk."""

    model_config = _RECORD_CONFIG

    spec: TrialSpec
    """What the trial ran."""
    outcome: TrialOutcome | None
    """How it ended; None if it has not (yet) ended."""
    evals: tuple[EvalRecord, ...]
    """Every committed eval, in order."""


def write_trial_file(
    directory: str | Path, spec: TrialSpec, outcome: TrialOutcome | None = None
) -> Path:
    """Atomically (re)write `directory/trial.json`; creates the directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / TRIAL_FILE
    text = TrialFile(spec=spec, outcome=outcome).model_dump_json(indent=2)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".trial.", suffix=".tmp")
    try:
        # mkstemp makes the file private (0600); the records are as readable as any other.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _umask() -> int:
    """The process's file-creation mask (reading it means setting it, at once restored)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def append_eval(directory: str | Path, record: EvalRecord) -> None:
    """Append one eval to `directory/evals.jsonl` and flush it to disk."""
    with open(Path(directory) / EVALS_FILE, "a") as f:
        f.write(record.model_dump_json() + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_trial_file(directory: str | Path) -> TrialFile:
    """Read `directory/trial.json`.

    Raises:
        RecordError: the file is missing or invalid, naming the file and the field.
    """
    path = Path(directory) / TRIAL_FILE
    try:
        text = path.read_bytes()
    except OSError as e:
        raise RecordError(str(path), f"cannot read the trial file ({e.strerror})") from None
    try:
        return TrialFile.model_validate_json(text)
    except ValidationError as e:
        raise RecordError(str(path), f"invalid trial file:\n{_describe(e)}") from None


def read_evals(path: str | Path) -> tuple[EvalRecord, ...]:
    """Read an `evals.jsonl` file; a missing file means no evals yet.

    Raises:
        RecordError: a committed line is not a valid eval record (file, line and field named).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ()
    lines = data.split(b"\n")
    committed = lines[:-1]  # the part after the last newline was never committed
    records = []
    for number, line in enumerate(committed, start=1):
        if not line.strip():
            continue
        try:
            line.decode()
        except UnicodeDecodeError as e:
            detail = f"not UTF-8 text (byte {e.start + 1} of the line is {line[e.start]:#04x})"
            raise RecordError(str(path), f"invalid eval record: {detail}", number) from None
        try:
            records.append(EvalRecord.model_validate_json(line))
        except ValidationError as e:
            raise RecordError(str(path), f"invalid eval record:\n{_describe(e)}", number) from None
    return tuple(records)


def read_trial(directory: str | Path) -> TrialRecord:
    """Read a whole trial directory (`trial.json` and `evals.jsonl`)."""
    trial_file = read_trial_file(directory)
    evals = read_evals(Path(directory) / EVALS_FILE)
    return TrialRecord(spec=trial_file.spec, outcome=trial_file.outcome, evals=evals)


def _describe(error: ValidationError) -> str:
    return "\n".join(f"  - {line}" for line in validation_problems(error))

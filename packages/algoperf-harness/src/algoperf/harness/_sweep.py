"""Sweeps: submissions x workloads x studies x trials, from one file, run on an executor.

A sweep file (TOML or JSON) names the submissions (a built-in baseline or a file, each in one
framework) and the workloads; every pair expands through `plan_trials` into trial specs,
identified by `TrialSpec.content_hash()`. Completed trials are skipped, so re-running a sweep
runs only what is missing; unfinished ones resume from their checkpoints; a trial another
process holds is left to it (`TrialClaim`). The `local` executor runs trials one after another
in supervised child processes (`algoperf.harness._supervisor`), or in one worker process per
device (`algoperf.harness._workers`); `slurm` submits one job array through submitit
(`algoperf.harness.slurm`), whose preempted jobs requeue and resume.
"""

from __future__ import annotations

import json
import tomllib
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from algoperf.api import (
    AlgoPerfError,
    Framework,
    HardwareInfo,
    Ruleset,
    TrialOutcome,
    TrialSpec,
    TrialStatus,
    check_search_space,
    get_rules,
    load_search_space,
    load_submission,
    validation_problems,
)
from algoperf.harness._contract import check_framework
from algoperf.harness._runtime import get_runtime, probe_hardware
from algoperf.harness._study import (
    StudyPlan,
    completed_outcome,
    plan_trials,
    run_trials,
    trial_directory,
)
from algoperf.harness._trial import TrialOptions

_CONFIG = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class SweepError(AlgoPerfError):
    """A sweep file that cannot be read, or a sweep that cannot run here."""


class SweepSubmission(BaseModel):
    """One submission of a sweep, in one framework."""

    model_config = _CONFIG

    framework: Framework
    """Framework of the submission file."""
    baseline: str | None = None
    """A built-in baseline (e.g. 'nadamw'); its file and search space are used."""
    path: Path | None = None
    """A submission file (relative to the sweep file), instead of `baseline`."""
    search_space: Path | None = None
    """Search space file (relative to the sweep file); a baseline's own by default."""
    name: str | None = None
    """Name in the records (default: '<baseline>_<framework>' or the file's stem)."""

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.baseline is None) == (self.path is None):
            raise ValueError("give exactly one of 'baseline' and 'path'")
        return self

    def resolved(self, folder: Path) -> SweepSubmission:
        """This submission with its file, search space and name made explicit."""
        from algoperf.baselines import search_space_path, submission_path

        path, space = self.path, self.search_space
        if self.baseline is not None:
            path = Path(submission_path(self.baseline, self.framework.value))
            space = space or Path(search_space_path(self.baseline))
        path = folder / path  # type: ignore[operator]
        space = None if space is None else folder / space
        name = self.name or (
            f"{self.baseline}_{self.framework.value}" if self.baseline else path.stem
        )
        return self.model_copy(update={"path": path, "search_space": space, "name": name})


class SlurmOptions(BaseModel):
    """How the `slurm` executor submits its job array."""

    model_config = _CONFIG

    partition: str | None = None
    """Slurm partition (None: the cluster's default)."""
    timeout_min: int = 24 * 60
    """Time limit of each job; a job hitting it is requeued and resumes."""
    gpus_per_node: int = 1
    """GPUs of each job (one trial)."""
    cpus_per_task: int | None = None
    """CPUs of each job (None: the cluster's default)."""
    array_parallelism: int = 32
    """Jobs of the array running at once."""
    cluster: Literal["slurm", "local"] = "slurm"
    """'local' runs the jobs as local processes through submitit (for testing a sweep)."""


class Sweep(BaseModel):
    """A sweep file: what to run, and where."""

    model_config = _CONFIG

    submissions: list[SweepSubmission] = Field(min_length=1)
    """The submissions."""
    workloads: list[str] = Field(min_length=1)
    """Registered workload names; every submission runs on each."""
    experiment_dir: Path = Path("runs/sweep")
    """Where the records go (relative to the sweep file)."""
    rules: str = "dev"
    """Rule version: budgets and the default numbers of studies and trials."""
    ruleset: Ruleset = Ruleset.EXTERNAL
    """External or self tuning."""
    seed: int = Field(default=0, ge=0)
    """Experiment seed, the root of every trial's seed."""
    studies: int | None = Field(default=None, ge=1)
    """Studies per submission and workload (default: the rules')."""
    trials: int | None = Field(default=None, ge=1)
    """External-tuning trials per study (default: the rules')."""
    max_steps: int | None = Field(default=None, ge=1)
    """Stop every trial after this many steps (smoke tests)."""
    checkpoint_every: int | None = Field(default=1, ge=1)
    """Checkpoint after every this many evals (null: never; then trials restart, not resume)."""
    resume: bool = True
    """Continue unfinished trials from their checkpoints (false: start them over)."""
    keep_checkpoints: bool = False
    """Keep each ended trial's last checkpoint (by default deleted, to free the disk)."""
    nproc: int = Field(default=1, ge=1)
    """PyTorch: processes (DDP ranks, under torchrun) of each trial."""
    trial_timeout_sec: float | None = Field(default=None, gt=0)
    """Wall seconds a trial may run before it is killed as hung (default: twice its
    budget plus 30 minutes; setup counts towards it)."""
    data_dir: str | None = None
    """Where the workloads' datasets live."""
    data_workers: int | None = Field(default=None, ge=0)
    """Input worker processes (decoding, augmentation) per trial process; 0 loads in the
    trial process (default: the workload's choice)."""
    hardware: HardwareInfo | None = None
    """The hardware the trials run on (default: this machine's); set it for slurm jobs."""
    executor: Literal["local", "slurm"] = "local"
    """Run trials here, or as a slurm job array."""
    workers: Annotated[int, Field(ge=1)] | Literal["devices"] = 1
    """Local executor: worker processes, each on its own GPU ('devices': one per GPU)."""
    slurm: SlurmOptions = SlurmOptions()
    """Options of the slurm executor."""

    @classmethod
    def from_file(cls, path: str | Path) -> Sweep:
        """Read a TOML or JSON sweep file; relative paths are relative to its folder.

        Raises:
            SweepError: the file cannot be read or is invalid (each bad field named).
        """
        path = Path(path)
        try:
            text = path.read_text()
            data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
            sweep = cls.model_validate(data)
        except OSError as e:
            raise SweepError(f"{path}: cannot read the sweep file ({e.strerror})") from None
        except ValidationError as e:
            problems = "\n".join(f"  - {p}" for p in validation_problems(e))
            raise SweepError(f"{path}: invalid sweep file:\n{problems}") from None
        except ValueError as e:  # TOML and JSON syntax errors
            raise SweepError(f"{path}: not valid {path.suffix.lstrip('.')}: {e}") from None
        return sweep.resolved(path.parent)

    def resolved(self, folder: Path) -> Sweep:
        """This sweep with its paths relative to `folder` and its submissions made explicit."""
        return self.model_copy(
            update={
                "submissions": [s.resolved(folder) for s in self.submissions],
                "experiment_dir": folder / self.experiment_dir,
            }
        )

    def trial_options(self) -> TrialOptions:
        """The options of every trial."""
        return TrialOptions(
            data_dir=self.data_dir,
            max_global_steps=self.max_steps,
            checkpoint_every=self.checkpoint_every,
            resume=self.resume,
            keep_checkpoints=self.keep_checkpoints,
            data_workers=self.data_workers,
        )

    @model_validator(mode="after")
    def _nproc_is_for_pytorch(self) -> Self:
        if self.nproc > 1 and any(s.framework is not Framework.PYTORCH for s in self.submissions):
            raise ValueError("nproc > 1 is for PyTorch submissions; JAX uses every visible device")
        return self


@dataclass(frozen=True)
class SweepTrial:
    """One trial of a sweep: its spec, the submission file, and its records' directory."""

    spec: TrialSpec
    submission_path: Path
    experiment_dir: Path
    search_space: Path | None = None
    """The file the hyperparameters came from; checked against what the submission requires."""

    @property
    def key(self) -> str:
        """The spec's content hash."""
        return self.spec.content_hash()

    def completed(self) -> TrialOutcome | None:
        """The recorded outcome, if this very trial already ended."""
        return completed_outcome(trial_directory(self.experiment_dir, self.spec), self.spec)


@dataclass(frozen=True)
class SweepResult:
    """What became of one trial of a sweep."""

    trial: SweepTrial
    outcome: TrialOutcome | None
    """None when the trial could not start (see `error`) or another process holds it."""
    skipped: bool = False
    """It had completed before this run."""
    error: str | None = None
    """Why the trial could not start (a broken submission file, other hardware)."""

    @property
    def claimed_elsewhere(self) -> bool:
        """Another process holds the trial (it runs there)."""
        return self.outcome is None and self.error is None

    @property
    def failed(self) -> bool:
        """It could not start, or failed (an exception or a crash; not divergence)."""
        return self.error is not None or (
            self.outcome is not None and self.outcome.status is TrialStatus.FAILED
        )


def expand_sweep(sweep: Sweep) -> list[SweepTrial]:
    """Every trial of the sweep, once each, in submission, workload, study, trial order."""
    rules = get_rules(sweep.rules)
    trials: dict[str, SweepTrial] = {}
    for submission in sweep.submissions:
        space = load_search_space(submission.search_space) if submission.search_space else None
        hardware = sweep.hardware or probe_hardware(submission.framework, sweep.nproc)
        for workload in sweep.workloads:
            plan = StudyPlan(
                submission=submission.name,  # type: ignore[arg-type]
                workload=workload,
                framework=submission.framework,
                ruleset=sweep.ruleset,
                rules=rules,
                hardware=hardware,
                search_space=space if sweep.ruleset is Ruleset.EXTERNAL else None,
                num_studies=sweep.studies,
                num_trials=sweep.trials,
                experiment_seed=sweep.seed,
            )
            for spec in plan_trials(plan):
                trial = SweepTrial(
                    spec,
                    submission.path,  # type: ignore[arg-type]
                    sweep.experiment_dir,
                    submission.search_space if spec.hyperparameters is not None else None,
                )
                trials.setdefault(trial.key, trial)
    return list(trials.values())


def run_group(
    trials: list[SweepTrial],
    options: TrialOptions,
    on_start: Callable[[SweepTrial], None] | None = None,
    on_result: Callable[[SweepResult], None] | None = None,
) -> list[SweepResult]:
    """Run trials of one submission file and workload in this process.

    Completed trials and trials another process holds are skipped; a failed trial does not
    stop the others, but nothing protects this process from the submission (`run_isolated`
    runs groups in supervised children).
    """
    from algoperf.workloads import get_workload

    spec = trials[0].spec
    by_key = {t.key: t for t in trials}
    results: list[SweepResult] = []

    def report(result: SweepResult) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)

    try:
        runtime = get_runtime(spec.framework)
        if runtime.hardware() != spec.hardware:
            raise SweepError(
                f"the sweep planned {spec.hardware} but this machine has {runtime.hardware()}; "
                "set 'hardware' in the sweep file to what the trials run on"
            )
        submission = load_submission(trials[0].submission_path)
        check_framework(submission, spec.framework)
        if (space := trials[0].search_space) is not None:
            check_search_space(load_search_space(space), submission, source=space)
        workload_options = {}
        if options.data_workers is not None:
            workload_options["data_workers"] = options.data_workers
        rules = get_rules(spec.rules_version)
        workload = get_workload(spec.workload, spec.framework, rules, **workload_options)
    except AlgoPerfError as e:  # the message names the problem and the fix
        for t in trials:
            report(SweepResult(t, None, error=str(e)))
        return results
    except Exception:
        error = traceback.format_exc()
        for t in trials:
            report(SweepResult(t, None, error=error))
        return results
    run_trials(
        [t.spec for t in trials],
        submission,
        workload,
        runtime,
        trials[0].experiment_dir,
        options,
        on_outcome=lambda s, o, skipped: report(SweepResult(by_key[s.content_hash()], o, skipped)),
        on_start=None if on_start is None else lambda s: on_start(by_key[s.content_hash()]),
    )
    return results


def groups(trials: Iterable[SweepTrial]) -> list[list[SweepTrial]]:
    """The trials by submission and search-space file, framework, workload and rules."""
    found: dict[tuple, list[SweepTrial]] = {}
    for t in trials:
        spec = t.spec
        key = (t.submission_path, t.search_space, spec.framework, spec.workload, spec.rules_version)
        found.setdefault(key, []).append(t)
    return list(found.values())

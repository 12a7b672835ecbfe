"""The `slurm` sweep executor: one submitit job array, one trial per job.

A preempted or timed-out job is requeued by submitit (`Checkpointable`); the requeued job
runs the same trial, which resumes from its own latest checkpoint (the sweep's trial options
have `resume=True`). Needs the `slurm` extra (`pip install algoperf-harness[slurm]`).
"""

from __future__ import annotations

from pathlib import Path

try:
    import submitit
except ImportError as e:  # pragma: no cover - depends on the installed extras
    raise ImportError("the slurm executor needs submitit: install algoperf-harness[slurm]") from e

from algoperf.harness._sweep import SlurmOptions, SweepResult, SweepTrial, run_group
from algoperf.harness._trial import TrialOptions


class TrialJob(submitit.helpers.Checkpointable):
    """Runs one sweep trial in a job; on preemption submitit requeues the same call."""

    def __init__(self, options: TrialOptions) -> None:
        self.options = options

    def __call__(self, trial: SweepTrial) -> SweepResult:
        """The trial's result (completed trials are not run again)."""
        return run_group([trial], self.options)[0]


def submit(
    trials: list[SweepTrial], options: TrialOptions, slurm: SlurmOptions, folder: Path
) -> list[submitit.Job]:
    """Submit the trials as one job array; submitit's logs and pickles go to `folder`."""
    executor = submitit.AutoExecutor(folder=folder, cluster=slurm.cluster)
    executor.update_parameters(
        name="algoperf",
        timeout_min=slurm.timeout_min,
        gpus_per_node=slurm.gpus_per_node,
        cpus_per_task=slurm.cpus_per_task,
        slurm_partition=slurm.partition,
        slurm_array_parallelism=slurm.array_parallelism,
    )
    return executor.map_array(TrialJob(options), trials)

"""Checkpoints of a running trial, so that a killed trial (even by SIGKILL) can resume.

A checkpoint is the folder `checkpoint_<global_step>` in the trial directory:

- `state.json`: the loop's bookkeeping (`CheckpointState`): train-state scalars, every eval
  record so far, how many batches the input queue has yielded and its state, the preemption
  count, the wall time elapsed and the spec's content hash (a checkpoint of another spec is
  never resumed);
- the training arrays (parameters, model state, optimizer state), written by the framework
  runtime: orbax for JAX, `torch.save` of state_dicts (and the torch RNG state) for PyTorch.

It is written into a hidden temporary folder that is renamed once complete, so a kill leaves
the previous checkpoint or the new one, never half of one; older ones are deleted after the
rename, so only the latest is kept. A folder is deleted by renaming it to a hidden name first,
so a kill mid-deletion leaves nothing that looks like a checkpoint; a `checkpoint_<step>`
without `state.json` (left by an older version) is never resumed, and is deleted with the
hidden leftovers.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from algoperf.api import EvalRecord
from algoperf.harness._runtime import Runtime, TrainingArrays

STATE_FILE = "state.json"
_NAME = re.compile(r"checkpoint_(\d+)")
_LEFTOVER = re.compile(r"\.(checkpoint|deleting)_\d+\..+")
"""Hidden folders of interrupted saves and deletions."""


class CheckpointState(BaseModel):
    """The harness's part of a checkpoint (`state.json`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")

    spec_hash: str
    """`TrialSpec.content_hash()` of the trial that wrote it."""
    preemption_count: int
    """Resumes before this checkpoint was written."""
    batches_drawn: int
    """Batches taken from the training input queue."""
    input_state: dict[str, Any] | None = None
    """The input queue's state (`api.ResumableQueue`); None for a queue that is replayed."""
    elapsed: float
    """Wall seconds since the trial's clock started (continues `total_duration`)."""
    time_to_target: float | None
    """Submission time at which the validation target was reached, if it was."""
    train_state: dict[str, float | int | bool]
    """The scalar fields of the loop's `TrainState`."""
    evals: list[EvalRecord]
    """Every eval recorded so far, in order (the records a resumed trial keeps)."""


class TrialCheckpoints:
    """The checkpoints of one trial directory; only the primary process writes them."""

    def __init__(self, directory: str | Path, runtime: Runtime) -> None:
        self.directory = Path(directory)
        self.runtime = runtime

    def latest(self, spec_hash: str) -> Path | None:
        """The newest complete checkpoint written for `spec_hash`, if any."""
        found = sorted(self._complete(), key=_step_of)
        if not found or self.read_state(found[-1]).spec_hash != spec_hash:
            return None
        return found[-1]

    def read_state(self, path: Path) -> CheckpointState:
        """The harness state of the checkpoint at `path`."""
        return CheckpointState.model_validate_json((path / STATE_FILE).read_text())

    def restore(self, path: Path, like: TrainingArrays) -> TrainingArrays:
        """The training arrays of the checkpoint at `path`, shaped and placed like `like`."""
        return self.runtime.restore_arrays(path, like)

    def save(self, step: int, state: CheckpointState, arrays: TrainingArrays) -> None:
        """Write a checkpoint atomically, then delete the older ones."""
        if not self.runtime.is_primary:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.directory, prefix=f".checkpoint_{step}."))
        self.runtime.save_arrays(tmp, arrays)
        _write_synced(tmp / STATE_FILE, state.model_dump_json())
        final = self.directory / f"checkpoint_{step}"
        if final.exists():  # written again after a resume from an earlier checkpoint
            _discard(final)
        os.rename(tmp, final)
        _sync_directory(self.directory)
        delete_checkpoints(self.directory, keep=final)

    def clear(self, keep: Path | None = None) -> None:
        """Delete every checkpoint but `keep`, and the leftovers of interrupted saves."""
        if self.runtime.is_primary:
            delete_checkpoints(self.directory, keep)

    def _complete(self) -> list[Path]:
        """The checkpoints whose `state.json`, written last, exists."""
        return [p for p in _matching(self.directory, _NAME) if (p / STATE_FILE).is_file()]


def delete_checkpoints(directory: Path, keep: Path | None = None) -> None:
    """Delete the trial directory's checkpoints but `keep`, complete or not, and leftovers."""
    for path in _matching(directory, _NAME):
        if path != keep:
            _discard(path)
    for path in _matching(directory, _LEFTOVER):
        shutil.rmtree(path)


def _matching(directory: Path, pattern: re.Pattern[str]) -> list[Path]:
    if not directory.is_dir():
        return []
    return [p for p in directory.iterdir() if p.is_dir() and pattern.fullmatch(p.name)]


def _discard(path: Path) -> None:
    """Delete a checkpoint folder; first renamed, so no half-deleted checkpoint is ever seen."""
    hidden = path.with_name(f".deleting_{_step_of(path)}.{uuid.uuid4().hex}")
    os.rename(path, hidden)
    shutil.rmtree(hidden)


def _step_of(path: Path) -> int:
    return int(_NAME.fullmatch(path.name)[1])  # type: ignore[index]


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _sync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable (a power cut must not undo it)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def arrays_of(params: Any, model_state: Any, optimizer_state: Any) -> TrainingArrays:
    """The training arrays as the runtimes save them."""
    return {"params": params, "model_state": model_state, "optimizer_state": optimizer_state}

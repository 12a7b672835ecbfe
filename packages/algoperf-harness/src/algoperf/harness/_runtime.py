"""What the trial loop needs from a framework: random keys, device sync, hardware.

The loop itself is framework-neutral; it calls a `Runtime`. The framework modules
(`jax_runtime.py`, `torch_runtime.py`) are imported only when a trial of that framework runs.
"""

from __future__ import annotations

import functools
import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any, Protocol

from algoperf.api import AlgoPerfError, Framework, HardwareInfo

TrainingArrays = dict[str, Any]
"""`{'params', 'model_state', 'optimizer_state'}`: what a checkpoint holds of the training."""


class Runtime(Protocol):
    """Framework services of the trial loop."""

    framework: Framework
    is_primary: bool
    """Whether this process writes the records and checkpoints (rank 0 under DDP)."""

    def key(self, seed: int) -> Any:
        """The framework's random state for `seed` (what submissions receive as `rng`)."""
        ...

    def split(self, key: Any, num: int) -> list[Any]:
        """`num` independent keys from `key`."""
        ...

    def fold_in(self, key: Any, data: int) -> Any:
        """A key for `data` (e.g. the step number), derived from `key`."""
        ...

    def seed_global_state(self, seed: int) -> None:
        """Seed the framework's global random state, which submissions may draw from."""
        ...

    def step_keys(self, key: Any, first_step: int, count: int) -> Any:
        """Keys of steps `first_step ..`: item i is `split(fold_in(key, first_step + i), 4)`.

        Derived in bulk so that the per-step cost of the loop stays negligible.
        """

    def synchronize(self, *trees: Any) -> None:
        """Wait until the device has finished computing `trees`, before a clock read."""
        ...

    def hardware(self) -> HardwareInfo:
        """The devices this process trains on."""
        ...

    def max_over_processes(self, seconds: float) -> float:
        """The largest of `seconds` over all processes (the slowest rank sets the time)."""
        ...

    def save_arrays(self, directory: Path, arrays: TrainingArrays) -> None:
        """Write `arrays` (and the framework's global random state) into `directory`."""
        ...

    def restore_arrays(self, directory: Path, like: TrainingArrays) -> TrainingArrays:
        """The arrays saved in `directory`, placed like the freshly initialised `like`.

        Also restores the framework's global random state.
        """
        ...


_MODULES = {
    Framework.JAX: "algoperf.harness.jax_runtime",
    Framework.PYTORCH: "algoperf.harness.torch_runtime",
}


def get_runtime(framework: Framework | str) -> Runtime:
    """The runtime of `framework`, importing that framework only now."""
    module = importlib.import_module(_MODULES[Framework(framework)])
    return module.runtime()


@functools.cache
def probe_hardware(framework: Framework | str, processes: int = 1) -> HardwareInfo:
    """The hardware a trial of `framework` gets here, with `processes` DDP ranks.

    Asked of a child process, so that this one never initialises a device (a JAX client
    takes most of a GPU's memory, and a process that supervises trials needs none).
    """
    command = [sys.executable, "-m", "algoperf.harness._child", "--hardware", str(framework)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AlgoPerfError(
            f"cannot start {Framework(framework).value} here (is its extra installed?):\n"
            + result.stderr.strip()[-2000:]
        )
    hardware = HardwareInfo.model_validate_json(result.stdout.strip().splitlines()[-1])
    if processes > 1:
        hardware = hardware.model_copy(update={"device_count": processes})
    return hardware

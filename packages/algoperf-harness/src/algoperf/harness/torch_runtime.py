"""PyTorch runtime: numpy keys, CUDA sync, the slowest rank's time, state_dict checkpoints."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from algoperf.api import Framework, HardwareInfo
from algoperf.harness._runtime import TrainingArrays

_STATE = "state.pt"


class TorchRuntime:
    """Runtime of PyTorch trials, in one process or one of several DDP ranks.

    Keys are length-2 uint32 numpy arrays (the reference's PyTorch convention), derived with
    numpy's SeedSequence so that every rank derives the same keys.
    """

    framework = Framework.PYTORCH

    def key(self, seed: int) -> np.ndarray:
        """`seed` as two 32-bit words."""
        return np.array([seed >> 32, seed & 0xFFFFFFFF], dtype=np.uint32)

    def split(self, key: np.ndarray, num: int) -> list[np.ndarray]:
        """`num` keys hashed from `key`."""
        words = np.random.SeedSequence(key.tolist()).generate_state(2 * num, dtype=np.uint32)
        return list(words.reshape(num, 2))

    def fold_in(self, key: np.ndarray, data: int) -> np.ndarray:
        """A key hashed from `key` and `data`."""
        words = np.random.SeedSequence([*key.tolist(), data]).generate_state(2, dtype=np.uint32)
        return words

    def seed_global_state(self, seed: int) -> None:
        """Seed torch's CPU and CUDA generators (dropout draws from them) alike on every rank."""
        torch.manual_seed(seed)

    def step_keys(self, key: np.ndarray, first_step: int, count: int) -> np.ndarray:
        """`(count, 4, 2)` keys: each step's key split in 4."""
        steps = range(first_step, first_step + count)
        return np.stack([np.stack(self.split(self.fold_in(key, s), 4)) for s in steps])

    def synchronize(self, *trees: Any) -> None:
        """Wait for queued CUDA work (nothing to wait for on the CPU)."""
        del trees
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    def hardware(self) -> HardwareInfo:
        """The GPU model (or 'cpu') and the number of processes."""
        kind = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
        count = dist.get_world_size() if dist.is_initialized() else 1
        return HardwareInfo(device_kind=kind, device_count=count)

    def max_over_processes(self, seconds: float) -> float:
        """The slowest rank's time, all-reduced under DDP."""
        if not dist.is_initialized():
            return seconds
        device = "cuda" if torch.cuda.is_available() else "cpu"
        value = torch.tensor([seconds], dtype=torch.float64, device=device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return float(value.item())

    @property
    def is_primary(self) -> bool:
        """Rank 0 (or the only process) writes records and checkpoints."""
        return not dist.is_initialized() or dist.get_rank() == 0

    def save_arrays(self, directory: Path, arrays: TrainingArrays) -> None:
        """`torch.save` of the model's and each optimizer-state value's state_dict.

        The model is unwrapped from DDP. The torch RNG states are saved too: dropout draws
        from them.
        """
        state = {
            "model": _unwrapped(arrays["params"]).state_dict(),
            "model_state": arrays["model_state"],
            "optimizer_state": _state_dicts(arrays["optimizer_state"]),
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }
        torch.save(state, directory / _STATE)

    def restore_arrays(self, directory: Path, like: TrainingArrays) -> TrainingArrays:
        """Load the saved state_dicts into the freshly built model and optimizer of `like`."""
        model = like["params"]
        device = next(model.parameters()).device
        # The file is the harness's own, and optimizer states may hold arbitrary objects.
        state = torch.load(directory / _STATE, map_location=device, weights_only=False)
        _unwrapped(model).load_state_dict(state["model"])
        torch.set_rng_state(state["rng"].cpu())
        if state["cuda_rng"]:
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])
        return {
            "params": model,
            "model_state": state["model_state"],
            "optimizer_state": _load_state_dicts(like["optimizer_state"], state["optimizer_state"]),
        }


def _unwrapped(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def _state_dicts(optimizer_state: Any) -> Any:
    """Each value's state_dict (the baselines: optimizer and scheduler); other values as is."""
    if not isinstance(optimizer_state, Mapping):
        return optimizer_state
    return {
        k: v.state_dict() if hasattr(v, "state_dict") else v for k, v in optimizer_state.items()
    }


def _load_state_dicts(fresh: Any, saved: Any) -> Any:
    """`fresh` with the saved state_dicts loaded; values without a state_dict are replaced."""
    if not isinstance(fresh, Mapping):
        return saved
    restored = dict(fresh)
    for k, v in saved.items():
        if hasattr(fresh.get(k), "load_state_dict"):
            fresh[k].load_state_dict(v)
        else:
            restored[k] = v
    return restored


def runtime() -> TorchRuntime:
    """The PyTorch runtime."""
    return TorchRuntime()

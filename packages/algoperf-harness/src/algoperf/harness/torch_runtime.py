"""PyTorch runtime: numpy-derived keys, CUDA sync, and the slowest rank's time under DDP."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from algoperf.api import Framework, HardwareInfo


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


def runtime() -> TorchRuntime:
    """The PyTorch runtime."""
    return TorchRuntime()

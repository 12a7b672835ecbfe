"""Framework-neutral numpy batching shared by every in-memory dataset and both frameworks.

Training batches are drawn from an infinite stream of per-epoch permutations, so every batch
is full and no example is dropped for good. Eval batches keep the split's order and are padded
to the global batch size with `weights` 0 on the padding, so a metric summed with the weights
does not depend on the batch size or the number of devices.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

NumpyBatch = dict[str, Any]
"""A batch of numpy arrays with a leading batch axis: 'inputs', 'targets' and 'weights'.

'inputs' is an array, or a NamedTuple of arrays for structured inputs such as graphs.
"""


class Dataset(Protocol):
    """What a workload needs from its data: split sizes, training and eval batches."""

    def num_examples(self, split: str) -> int:
        """Number of examples in `split` ('train', 'validation' or 'test')."""
        ...

    def train_batches(self, seed: int, global_batch_size: int) -> Iterator[NumpyBatch]:
        """Infinite shuffled global training batches."""
        ...

    def eval_batches(
        self, split: str, global_batch_size: int, num_examples: int | None = None
    ) -> Iterator[NumpyBatch]:
        """One ordered pass over the first `num_examples` of `split`, padded to full batches."""
        ...


def seed_from_rng(rng: Any) -> int:
    """An integer seed from an int or a legacy (uint32 array) PRNG key of either framework."""
    if isinstance(rng, (int, np.integer)):
        return int(rng)
    words = np.asarray(rng).astype(np.uint32).ravel()
    return int(np.random.SeedSequence(words.tolist()).generate_state(1)[0])


def shard_for_rank(batch: Mapping[str, np.ndarray], rank: int, world_size: int) -> NumpyBatch:
    """The `rank`-th of `world_size` equal slices of a global batch (its leading axis).

    Raises:
        ValueError: if the global batch size is not divisible by `world_size`.
    """
    size = len(next(iter(batch.values())))
    if size % world_size:
        raise ValueError(
            f"global batch size {size} is not divisible by the {world_size} processes; "
            "choose a batch size that is a multiple of the process count"
        )
    per_rank = size // world_size
    return {k: v[rank * per_rank : (rank + 1) * per_rank] for k, v in batch.items()}


@dataclass(frozen=True)
class ArrayDataset:
    """In-memory splits ('train', 'validation', 'test') of equal-length numpy arrays."""

    splits: Mapping[str, Mapping[str, np.ndarray]]
    """Split name to arrays ('inputs', 'targets'), each with the examples on axis 0."""

    def num_examples(self, split: str) -> int:
        """Number of examples in `split`."""
        return len(self.splits[split]["targets"])

    def train_batches(self, seed: int, global_batch_size: int) -> Iterator[NumpyBatch]:
        """Infinite shuffled training batches; a new permutation each epoch."""
        arrays = self.splits["train"]
        n = self.num_examples("train")
        rng = np.random.default_rng(seed)
        order = np.empty(0, dtype=np.int64)
        while True:
            while len(order) < global_batch_size:
                order = np.concatenate([order, rng.permutation(n)])
            idx, order = order[:global_batch_size], order[global_batch_size:]
            batch = {k: v[idx] for k, v in arrays.items()}
            batch["weights"] = np.ones(global_batch_size, dtype=np.float32)
            yield batch

    def eval_batches(
        self, split: str, global_batch_size: int, num_examples: int | None = None
    ) -> Iterator[NumpyBatch]:
        """One ordered pass over the first `num_examples` of `split`, padded to full batches.

        'eval_train' reads the training split. Padding repeats zeros and has `weights` 0.
        """
        arrays = self.splits["train" if split == "eval_train" else split]
        total = len(arrays["targets"]) if num_examples is None else num_examples
        for start in range(0, total, global_batch_size):
            stop = min(start + global_batch_size, total)
            yield pad_batch({k: v[start:stop] for k, v in arrays.items()}, global_batch_size)


def pad_batch(batch: Mapping[str, np.ndarray], size: int) -> NumpyBatch:
    """`batch` padded with zeros to `size` examples, with `weights` 1 on real examples."""
    n = len(batch["targets"])
    padded = {
        k: np.concatenate([v, np.zeros((size - n, *v.shape[1:]), dtype=v.dtype)])
        for k, v in batch.items()
    }
    weights = np.zeros(size, dtype=np.float32)
    weights[:n] = 1.0
    padded["weights"] = weights
    return padded

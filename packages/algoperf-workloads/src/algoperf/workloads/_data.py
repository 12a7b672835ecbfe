"""The datasets' contract, and the in-memory dataset that most small workloads use.

Training batches are drawn from an infinite stream of per-epoch permutations, so every batch
is full and no example is dropped for good. Eval batches keep the split's order and are padded
to the global batch size with `weights` 0 on the padding, so a metric summed with the weights
does not depend on the batch size or the number of devices. Both are sharded by process and
built by grain pipelines (`_pipeline`).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from algoperf.api import ResumableQueue
from algoperf.workloads._pipeline import (
    SINGLE_PROCESS,
    BatchLoader,
    BatchRequest,
    BatchStream,
    NumpyBatch,
    ProcessShare,
    eval_stream,
    train_stream,
)


class ResumableBatches(ResumableQueue, Iterator[NumpyBatch], Protocol):
    """Numpy training batches with the state of an `api.ResumableQueue`."""

    def __next__(self) -> NumpyBatch: ...


class Dataset(Protocol):
    """What a workload needs from its data: split sizes, training and eval batches.

    Both kinds of batches are this process's rows (`ProcessShare`) of each global batch.
    """

    def num_examples(self, split: str) -> int:
        """Number of examples in `split` ('train', 'validation' or 'test')."""
        ...

    def train_batches(
        self, seed: int, global_batch_size: int, share: ProcessShare = ..., workers: int = 0
    ) -> ResumableBatches:
        """Infinite shuffled training batches that resume from their state in O(1)."""
        ...

    def eval_batches(
        self,
        split: str,
        global_batch_size: int,
        num_examples: int | None = None,
        share: ProcessShare = ...,
        workers: int = 0,
    ) -> Iterator[NumpyBatch]:
        """One ordered pass over the first `num_examples` of `split`, padded to full batches."""
        ...


def seed_from_rng(rng: Any) -> int:
    """An integer seed from an int or a legacy (uint32 array) PRNG key of either framework."""
    if isinstance(rng, (int, np.integer)):
        return int(rng)
    words = np.asarray(rng).astype(np.uint32).ravel()
    return int(np.random.SeedSequence(words.tolist()).generate_state(1)[0])


BatchTransform = Callable[[NumpyBatch, BatchRequest], NumpyBatch]
"""Turns gathered arrays into model inputs (normalising, augmenting with the request's keys)."""


class StreamedDataset(abc.ABC):
    """A dataset whose every split is read by one batch loader, through the shared streams.

    A subclass says how many examples a split has and which loader reads it, for training or
    for eval ('eval_train' is the training split, read as eval reads); `train_stream` and
    `eval_stream` do the rest.
    """

    @abc.abstractmethod
    def num_examples(self, split: str) -> int:
        """Number of examples in `split` ('eval_train' counts the training split)."""

    @abc.abstractmethod
    def loader(self, split: str, training: bool) -> BatchLoader:
        """The loader of `split`'s batches: training ones (augmented) or eval ones."""

    def train_batches(
        self,
        seed: int,
        global_batch_size: int,
        share: ProcessShare = SINGLE_PROCESS,
        workers: int = 0,
    ) -> BatchStream:
        """Infinite shuffled training batches; a new permutation each epoch."""
        n = self.num_examples("train")
        load = self.loader("train", training=True)
        return train_stream(load, n, seed, global_batch_size, share, workers)

    def eval_batches(
        self,
        split: str,
        global_batch_size: int,
        num_examples: int | None = None,
        share: ProcessShare = SINGLE_PROCESS,
        workers: int = 0,
    ) -> BatchStream:
        """One ordered pass over the first `num_examples` of `split`, padded to full batches.

        Padding rows have `weights` 0.
        """
        total = self.num_examples(split) if num_examples is None else num_examples
        load = self.loader(split, training=False)
        return eval_stream(load, total, global_batch_size, share, workers)


@dataclass(frozen=True)
class ArrayDataset(StreamedDataset):
    """In-memory splits ('train', 'validation', 'test') of equal-length numpy arrays.

    Batches are gathered in whole (vectorised), then passed through a transform; both run in
    grain's worker processes when there are any.
    """

    splits: Mapping[str, Mapping[str, np.ndarray]]
    """Split name to arrays ('inputs', 'targets'), each with the examples on axis 0."""
    train_transform: BatchTransform | None = None
    """Applied to training batches (augmentation, normalisation)."""
    eval_transform: BatchTransform | None = None
    """Applied to eval batches."""

    def num_examples(self, split: str) -> int:
        """Number of examples in `split`."""
        return len(self.splits["train" if split == "eval_train" else split]["targets"])

    def loader(self, split: str, training: bool) -> BatchLoader:
        """Gathers `split`'s arrays, then applies the training or the eval transform."""
        arrays = self.splits["train" if split == "eval_train" else split]
        return _ArrayLoader(arrays, self.train_transform if training else self.eval_transform)


@dataclass(frozen=True)
class _ArrayLoader:
    """Gathers a request's rows of every array (picklable, for grain's workers)."""

    arrays: Mapping[str, np.ndarray]
    transform: BatchTransform | None

    def __call__(self, request: BatchRequest) -> NumpyBatch:
        batch = {k: v[request.ids] for k, v in self.arrays.items()}
        batch["weights"] = request.weights
        return batch if self.transform is None else self.transform(batch, request)


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

"""The framework-neutral half of a workload whose data arrives as numpy batches."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from typing import Any

from algoperf.api import Batch, RuleVersion, Split, Workload, WorkloadSpec
from algoperf.workloads._data import ArrayDataset, NumpyBatch, seed_from_rng
from algoperf.workloads._metrics import MetricSums, eval_all_splits


class NumpyDataWorkload(Workload):
    """Batching and the eval loop, written once; frameworks only place batches and run models.

    Subclasses load their `ArrayDataset`, move a numpy batch onto devices (`place_batch`) and
    turn a numpy eval batch into weighted metric sums (`eval_batch_sums`).
    """

    def __init__(
        self, spec: WorkloadSpec, rules: str | RuleVersion | None = None, *, synthetic: bool = False
    ) -> None:
        super().__init__(spec, rules)
        self.synthetic = synthetic
        """Random data with the real shapes, dtypes and split sizes instead of the dataset."""
        self._datasets: dict[str | None, ArrayDataset] = {}

    @abc.abstractmethod
    def load_dataset(self, data_dir: str | None) -> ArrayDataset:
        """The dataset's splits (synthetic ones when `self.synthetic`)."""

    @abc.abstractmethod
    def place_batch(self, batch: NumpyBatch) -> Batch:
        """A global numpy batch as this framework's (sharded) arrays."""

    @abc.abstractmethod
    def eval_batch_sums(self, params: Any, model_state: Any, batch: NumpyBatch) -> MetricSums:
        """Weighted metric sums of one global eval batch, summed over all devices."""

    def dataset(self, data_dir: str | None) -> ArrayDataset:
        """The dataset, loaded once per `data_dir`."""
        if data_dir not in self._datasets:
            self._datasets[data_dir] = self.load_dataset(data_dir)
        return self._datasets[data_dir]

    def numpy_batches(
        self, data_rng: Any, split: Split, data_dir: str | None, global_batch_size: int
    ) -> Iterator[NumpyBatch]:
        """Global numpy batches of `split`, before device placement."""
        data = self.dataset(data_dir)
        if split == "train":
            return data.train_batches(seed_from_rng(data_rng), global_batch_size)
        num = self.num_eval_train_examples if split == "eval_train" else None
        return data.eval_batches(split, global_batch_size, num)

    def build_input_queue(
        self, data_rng: Any, split: Split, data_dir: str | None, global_batch_size: int
    ) -> Iterator[Batch]:
        """Batches of `split` placed on this process's devices (see `Workload`)."""
        return map(
            self.place_batch, self.numpy_batches(data_rng, split, data_dir, global_batch_size)
        )

    def eval_model(
        self,
        global_batch_size: int,
        params: Any,
        model_state: Any,
        rng: Any,
        data_dir: str | None,
        global_step: int = 0,
    ) -> dict[str, float]:
        """Metrics on eval_train, validation and test; padding never counts."""
        del rng, global_step
        data = self.dataset(data_dir)

        def eval_split(split: str, num_examples: int) -> Iterator[MetricSums]:
            for batch in data.eval_batches(split, global_batch_size, num_examples):
                yield self.eval_batch_sums(params, model_state, batch)

        return eval_all_splits(self.spec, eval_split)

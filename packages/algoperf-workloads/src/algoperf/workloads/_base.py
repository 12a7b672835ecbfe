"""The framework-neutral half of a workload whose data arrives as numpy batches."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from algoperf.api import Batch, RuleVersion, Split, Workload, WorkloadSpec
from algoperf.workloads._data import Dataset, NumpyBatch, ResumableBatches, seed_from_rng
from algoperf.workloads._metrics import MetricSums, add_sums, eval_all_splits, mean_of_sums
from algoperf.workloads._pipeline import ProcessShare
from algoperf.workloads._prefetch import InputQueue


class NumpyDataWorkload(Workload):
    """Batching and the eval loop, written once; frameworks only place batches and run models.

    Workloads load their `Dataset` and turn eval outputs into metrics (`metric_sums`, or
    `split_metrics` for metrics that are not sums); the framework halves say which rows of
    each global batch this process loads (`process_share`), place them on devices
    (`place_batch`), run the eval forward pass (`eval_outputs`) and combine results across
    processes.
    """

    default_data_workers: int = 0
    """Input worker processes for real data; workloads with costly decoding raise it."""
    eval_in_workers: bool = False
    """Whether eval batches load in the workers too. Every eval pass starts its own workers
    (seconds each), which pays off only where decoding dominates (JPEGs, audio)."""

    def __init__(
        self,
        spec: WorkloadSpec,
        rules: str | RuleVersion | None = None,
        *,
        synthetic: bool = False,
        eval_batch_size: int | None = None,
        data_workers: int | None = None,
    ) -> None:
        super().__init__(spec, rules)
        self.synthetic = synthetic
        """Random data with the real shapes and dtypes (and small splits) instead of the dataset."""
        if eval_batch_size is not None and eval_batch_size < 1:
            raise ValueError(f"eval_batch_size must be positive, got {eval_batch_size}")
        self._eval_batch_size = eval_batch_size
        if data_workers is not None and data_workers < 0:
            raise ValueError(f"data_workers must be 0 or more, got {data_workers}")
        self.data_workers = (
            (0 if synthetic else self.default_data_workers)
            if data_workers is None
            else data_workers
        )
        """grain worker processes that load and transform batches (0: in this process)."""
        self._datasets: dict[str | None, Dataset] = {}

    @property
    def eval_batch_size(self) -> int:
        """The spec's eval batch size, or the one this workload was built with.

        Metrics do not depend on it (padding has weight 0), so a smaller one trades eval speed
        for memory: ogbg's 32,768 graphs need about 27 GB on a single device.
        """
        return self._eval_batch_size or self.spec.eval_batch_size

    @property
    def eval_data_workers(self) -> int:
        """Worker processes of eval passes (see `eval_in_workers`)."""
        return self.data_workers if self.eval_in_workers else 0

    @abc.abstractmethod
    def load_dataset(self, data_dir: str | None) -> Dataset:
        """The dataset's splits (synthetic ones when `self.synthetic`)."""

    @abc.abstractmethod
    def place_batch(self, batch: NumpyBatch) -> Batch:
        """This process's rows of a global batch as this framework's (sharded) arrays."""

    @property
    @abc.abstractmethod
    def process_share(self) -> ProcessShare:
        """The rows of every global batch this process loads."""

    @property
    @abc.abstractmethod
    def num_batch_shards(self) -> int:
        """Devices (JAX) or processes (PyTorch) a global batch is split over."""

    @abc.abstractmethod
    def eval_outputs(
        self, params: Any, model_state: Any, batch: NumpyBatch
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Eval-mode (logits, targets, weights) of this process's rows of a global batch."""

    @abc.abstractmethod
    def sum_over_processes(self, sums: MetricSums) -> MetricSums:
        """`sums` added over all processes (identity for a single process)."""

    @abc.abstractmethod
    def gather_over_processes(self, array: np.ndarray) -> np.ndarray:
        """Every process's `array` concatenated on axis 0 in rank order."""

    def metric_sums(
        self, logits: np.ndarray, targets: np.ndarray, weights: np.ndarray
    ) -> MetricSums:
        """Weighted metric sums of one eval batch, plus the total weight as 'num_examples'."""
        raise NotImplementedError(
            f"{type(self).__name__} defines neither metric_sums nor split_metrics"
        )

    def split_metrics(
        self, params: Any, model_state: Any, batches: Iterable[NumpyBatch]
    ) -> dict[str, float]:
        """Final metrics of one split (with 'num_examples'): sums over batches and processes.

        Summed once per split, then divided, so results depend on neither batch size nor
        device count. Workloads with metrics that are not sums override this.
        """
        total: MetricSums = {}
        for batch in batches:
            total = add_sums(
                total, self.metric_sums(*self.eval_outputs(params, model_state, batch))
            )
        return mean_of_sums(self.sum_over_processes(total))

    def dataset(self, data_dir: str | None) -> Dataset:
        """The dataset, loaded once per `data_dir`."""
        if data_dir not in self._datasets:
            self._datasets[data_dir] = self.load_dataset(data_dir)
        return self._datasets[data_dir]

    def eval_size(self, split: Split, num_examples: int, data_dir: str | None) -> int:
        """Examples of `split` to evaluate: the spec's count, or all of a smaller synthetic split.

        Raises:
            ValueError: if real data holds fewer examples than the spec says (incomplete data).
        """
        available = self.dataset(data_dir).num_examples("train" if split == "eval_train" else split)
        if self.synthetic:
            return min(num_examples, available)
        if available < num_examples:
            raise ValueError(
                f"{self.name}: the {split} split has {available} examples but the spec needs "
                f"{num_examples}; the dataset under {data_dir!r} is incomplete, prepare it again"
            )
        return num_examples

    def numpy_batches(
        self, data_rng: Any, split: Split, data_dir: str | None, global_batch_size: int
    ) -> Iterator[NumpyBatch]:
        """This process's numpy rows of each global batch of `split`, before placement."""
        if split == "train":
            return self.train_batches(data_rng, data_dir, global_batch_size)
        num = None
        if split == "eval_train":
            num = self.eval_size(split, self.num_eval_train_examples, data_dir)
        return self.dataset(data_dir).eval_batches(
            split, global_batch_size, num, self.process_share, self.eval_data_workers
        )

    def train_batches(
        self, data_rng: Any, data_dir: str | None, global_batch_size: int
    ) -> ResumableBatches:
        """This process's numpy rows of each global training batch, resumable."""
        return self.dataset(data_dir).train_batches(
            seed_from_rng(data_rng), global_batch_size, self.process_share, self.data_workers
        )

    def build_input_queue(
        self, data_rng: Any, split: Split, data_dir: str | None, global_batch_size: int
    ) -> Iterator[Batch]:
        """Batches of `split` placed on this process's devices (see `Workload`).

        The training queue loads and places batches ahead in a thread, and resumes from its
        state (`get_state` / `set_state`) in O(1).
        """
        if split == "train":
            batches = self.train_batches(data_rng, data_dir, global_batch_size)
            return InputQueue(batches, self.place_batch)
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

        def eval_split(split: str, num_examples: int) -> dict[str, float]:
            num = self.eval_size(split, num_examples, data_dir)  # type: ignore[arg-type]
            share = self.process_share
            workers = self.eval_data_workers
            batches = data.eval_batches(split, global_batch_size, num, share, workers)
            return self.split_metrics(params, model_state, batches)

        return eval_all_splits(self.spec, eval_split)

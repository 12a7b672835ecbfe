"""The framework-neutral half of the criteo1tb workloads: data, loss metric, configuration."""

from __future__ import annotations

import numpy as np

from algoperf.workloads._base import NumpyDataWorkload
from algoperf.workloads._data import Dataset
from algoperf.workloads._metrics import MetricSums, binary_cross_entropy
from algoperf.workloads.criteo1tb import data
from algoperf.workloads.criteo1tb.config import CONFIGS, DLRMConfig
from algoperf.workloads.criteo1tb.reader import CriteoDataset


class CriteoBase(NumpyDataWorkload):
    """criteo1tb and its variants (chosen by the spec's name); mixed into the framework halves."""

    output_layer = "head"
    default_dropout_rate = 0.0

    @property
    def config(self) -> DLRMConfig:
        """This workload's model configuration."""
        return CONFIGS[self.name]

    def load_dataset(self, data_dir: str | None) -> Dataset:
        """Synthetic examples, or the Criteo 1TB day files under `data_dir`.

        The day files are read lazily by `reader.CriteoDataset` (needs pyarrow, the
        `criteo` extra); each process parses only its rows of every global batch.

        Raises:
            ValueError: if real data is asked for without a `data_dir`.
            CriteoDataNotFoundError: when batches are requested and day files are missing.
        """
        if self.synthetic:
            return data.synthetic(self.config.vocab_size)
        if data_dir is None:
            raise ValueError(
                f"{self.name} needs data_dir: the folder of the Criteo 1TB day_{{d}}_{{NN}} "
                "files (prepare it with: algoperf-datasets prepare criteo1tb --data-dir D)"
            )
        return CriteoDataset(data_dir)

    def metric_sums(
        self, logits: np.ndarray, targets: np.ndarray, weights: np.ndarray
    ) -> MetricSums:
        """Weighted BCE sum in float64 (the metric is the mean BCE over the split)."""
        weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        losses = binary_cross_entropy(np.reshape(logits, -1), np.reshape(targets, -1))
        return {"loss": float((weights * losses).sum()), "num_examples": float(weights.sum())}

"""The framework-neutral half of the criteo1tb workloads: data, loss metric, configuration."""

from __future__ import annotations

import numpy as np

from algoperf.workloads._base import NumpyDataWorkload
from algoperf.workloads._data import ArrayDataset
from algoperf.workloads._metrics import MetricSums, binary_cross_entropy
from algoperf.workloads.criteo1tb import data
from algoperf.workloads.criteo1tb.config import CONFIGS, DLRMConfig


class CriteoBase(NumpyDataWorkload):
    """criteo1tb and its variants (chosen by the spec's name); mixed into the framework halves."""

    output_layer = "head"
    default_dropout_rate = 0.0

    @property
    def config(self) -> DLRMConfig:
        """This workload's model configuration."""
        return CONFIGS[self.name]

    def load_dataset(self, data_dir: str | None) -> ArrayDataset:
        """Synthetic examples, or the Criteo 1TB day files under `data_dir`."""
        if not self.synthetic:
            raise NotImplementedError(
                "reading the Criteo 1TB day files is not implemented yet; use synthetic=True"
            )
        del data_dir
        return data.synthetic(self.config.vocab_size)

    def metric_sums(
        self, logits: np.ndarray, targets: np.ndarray, weights: np.ndarray
    ) -> MetricSums:
        """Weighted BCE sum in float64 (the metric is the mean BCE over the split)."""
        weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        losses = binary_cross_entropy(np.reshape(logits, -1), np.reshape(targets, -1))
        return {"loss": float((weights * losses).sum()), "num_examples": float(weights.sum())}

"""The framework-neutral half of the ogbg workloads: data, batching and split metrics."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from algoperf.api import RuleVersion, WorkloadSpec
from algoperf.workloads._base import NumpyDataWorkload
from algoperf.workloads._data import NumpyBatch
from algoperf.workloads.ogbg import data
from algoperf.workloads.ogbg.config import CONFIGS, DROPOUT_RATE, GNNConfig
from algoperf.workloads.ogbg.graphs import GraphDataset
from algoperf.workloads.ogbg.metrics import graph_metrics


class OgbgBase(NumpyDataWorkload):
    """ogbg and its variants (chosen by the spec's name); mixed into the framework halves.

    Options:
        graph_shards: padded sub-batches per global batch (default: the devices or
            processes). The packing, and so the batches, depend on it; fix it to compare
            device counts on identical batches.
    """

    default_dropout_rate = DROPOUT_RATE

    def __init__(
        self,
        spec: WorkloadSpec,
        rules: str | RuleVersion | None = None,
        *,
        graph_shards: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(spec, rules, **options)
        self.graph_shards = graph_shards or self.num_batch_shards
        """Padded sub-batches per global batch."""
        if self.graph_shards % self.num_batch_shards:
            raise ValueError(
                f"graph_shards={self.graph_shards} is not a multiple of the "
                f"{self.num_batch_shards} devices or processes"
            )

    @property
    def config(self) -> GNNConfig:
        """This workload's model configuration."""
        return CONFIGS[self.name]

    def load_dataset(self, data_dir: str | None) -> GraphDataset:
        """Synthetic graphs, or TFDS `ogbg_molpcba:0.1.3` read from `data_dir` (no TensorFlow).

        Raises:
            TfdsNotInstalledError: for real data without the `tfds` extra.
            DatasetNotPreparedError: if the dataset is not prepared under `data_dir`.
        """
        if self.synthetic:
            return GraphDataset(data.synthetic_splits(), self.graph_shards)
        return GraphDataset(data.load_splits(data_dir), self.graph_shards)

    def split_metrics(
        self, params: Any, model_state: Any, batches: Iterable[NumpyBatch]
    ) -> dict[str, float]:
        """Loss, accuracy and mean AP of a split, from every process's gathered outputs."""
        outputs = [self.eval_outputs(params, model_state, b) for b in batches]
        logits, labels, weights = (
            self.gather_over_processes(np.concatenate(parts))
            for parts in zip(*outputs, strict=True)
        )
        return graph_metrics(logits, labels, weights)

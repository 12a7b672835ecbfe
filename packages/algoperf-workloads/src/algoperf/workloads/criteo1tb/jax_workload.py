"""The criteo1tb workloads in JAX."""

from __future__ import annotations

import flax.linen as nn
import jax
import numpy as np

from algoperf.api import LossOutput
from algoperf.workloads.criteo1tb import jax_model
from algoperf.workloads.criteo1tb.config import NUM_DENSE_FEATURES, NUM_SPARSE_FEATURES
from algoperf.workloads.criteo1tb.workload import CriteoBase
from algoperf.workloads.jax_base import JaxWorkload, masked_loss_output


class Criteo1TbWorkload(CriteoBase, JaxWorkload):
    """criteo1tb, _layernorm, _embed_init, _resnet or _test, chosen by the spec's name."""

    def build_model(self) -> nn.Module:
        """The configured DLRM."""
        return jax_model.build(self.config)

    def example_inputs(self) -> np.ndarray:
        """One all-zero example."""
        return np.zeros((1, NUM_DENSE_FEATURES + NUM_SPARSE_FEATURES), np.float32)

    def loss_fn(
        self,
        label_batch: jax.Array,
        logits_batch: jax.Array,
        mask_batch: jax.Array | None = None,
        label_smoothing: float = 0.0,
    ) -> LossOutput:
        """Per-example sigmoid BCE (log-sigmoid form), zero where `mask_batch` is 0.

        `label_smoothing` is ignored, as in the reference (Criteo has none).
        """
        del label_smoothing
        logits = logits_batch.reshape(-1)
        labels = label_batch.reshape(-1)
        per_example = -(
            labels * jax.nn.log_sigmoid(logits) + (1 - labels) * jax.nn.log_sigmoid(-logits)
        )
        return masked_loss_output(per_example, mask_batch)

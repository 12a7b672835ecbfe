"""The ogbg workloads in JAX."""

from __future__ import annotations

from types import MappingProxyType

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from algoperf.api import LossOutput, ParameterType
from algoperf.workloads.jax_base import JaxWorkload, masked_loss_output
from algoperf.workloads.ogbg import jax_model
from algoperf.workloads.ogbg.data import synthetic_split
from algoperf.workloads.ogbg.graphs import Budget, GraphsTuple, pad_graphs
from algoperf.workloads.ogbg.workload import OgbgBase


def binary_cross_entropy(
    labels: jax.Array, logits: jax.Array, label_smoothing: float = 0.0
) -> jax.Array:
    """(G, T) sigmoid cross-entropy in the stable max/log1p form.

    Smoothing follows the reference's `optax.smooth_labels` over the T tasks:
    y (1 - s) + s / T for smoothing s.
    """
    labels = labels * (1.0 - label_smoothing) + label_smoothing / labels.shape[-1]
    return jnp.maximum(logits, 0.0) - logits * labels + jnp.log1p(jnp.exp(-jnp.abs(logits)))


class OgbgWorkload(OgbgBase, JaxWorkload):
    """ogbg, ogbg_gelu, ogbg_silu or ogbg_model_size, chosen by the spec's name."""

    output_layer = "decoder"
    # The Dense layers that embed node and edge features are embeddings, as in the reference.
    param_type_rules = MappingProxyType(
        {jax_model.GraphNet: {"(node|edge)_embedding/kernel": ParameterType.EMBEDDING}}
    )

    def build_model(self) -> nn.Module:
        """The configured GraphNet."""
        return jax_model.GraphNet(self.config)

    def example_inputs(self) -> GraphsTuple[np.ndarray]:
        """A padded batch of two small graphs."""
        return pad_graphs(synthetic_split(2, seed=0), [0, 1], Budget.for_batch_size(2))["inputs"]

    def loss_fn(
        self,
        label_batch: jax.Array,
        logits_batch: jax.Array,
        mask_batch: jax.Array | None = None,
        label_smoothing: float = 0.0,
    ) -> LossOutput:
        """Masked BCE; `per_example` sums each graph's tasks, `n_valid_examples` counts labels."""
        losses = binary_cross_entropy(label_batch, logits_batch, label_smoothing)  # (G, T)
        return masked_loss_output(losses, mask_batch)

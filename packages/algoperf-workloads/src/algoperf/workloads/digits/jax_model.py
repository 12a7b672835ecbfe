"""Flax (linen) models of the digits workloads; `torch_model` computes the same functions."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import flax.linen as nn
import jax

from algoperf.workloads.digits.data import NUM_CLASSES


class MLP(nn.Module):
    """64-128-128-10 ReLU perceptron, dropout before the head."""

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool, dropout_rate: float = 0.0) -> jax.Array:
        """Logits of (B, 8, 8, 1) images."""
        x = x.reshape(x.shape[0], -1)  # (B, 64)
        x = nn.relu(nn.Dense(128, name="dense_0")(x))  # (B, 128)
        x = nn.relu(nn.Dense(128, name="dense_1")(x))  # (B, 128)
        x = nn.Dropout(dropout_rate, deterministic=not train)(x)
        return nn.Dense(NUM_CLASSES, name="head")(x)  # (B, 10)


class CNN(nn.Module):
    """Two 3x3 convolutions, 2x2 max-pool, a 64-unit dense layer and dropout before the head."""

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool, dropout_rate: float = 0.0) -> jax.Array:
        """Logits of (B, 8, 8, 1) images."""
        x = nn.relu(nn.Conv(16, (3, 3), padding="SAME", name="conv_0")(x))  # (B, 8, 8, 16)
        x = nn.relu(nn.Conv(32, (3, 3), padding="SAME", name="conv_1")(x))  # (B, 8, 8, 32)
        x = nn.max_pool(x, (2, 2), strides=(2, 2))  # (B, 4, 4, 32)
        x = x.reshape(x.shape[0], -1)  # (B, 512), flattened in HWC order
        x = nn.relu(nn.Dense(64, name="dense_0")(x))  # (B, 64)
        x = nn.Dropout(dropout_rate, deterministic=not train)(x)
        return nn.Dense(NUM_CLASSES, name="head")(x)  # (B, 10)


MODELS: Mapping[str, type[nn.Module]] = MappingProxyType({"digits_mlp": MLP, "digits_cnn": CNN})
"""Workload name to its model."""

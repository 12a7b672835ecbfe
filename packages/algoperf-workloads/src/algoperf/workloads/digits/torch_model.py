"""PyTorch models of the digits workloads; the same functions as `jax_model`.

Inputs are NHWC like the JAX side; the CNN flattens in HWC order so that a Flax dense kernel
maps onto the torch weight by a plain transpose. Weights use Flax's default initialisation
(LeCun-normal, truncated; zero biases) so both frameworks train alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import torch
import torch.nn.functional as F
from torch import nn

from algoperf.workloads.digits.data import NUM_CLASSES
from algoperf.workloads.torch_init import flax_default_init


class MLP(nn.Module):
    """64-128-128-10 ReLU perceptron, dropout before the head."""

    def __init__(self) -> None:
        super().__init__()
        self.dense_0 = nn.Linear(64, 128)
        self.dense_1 = nn.Linear(128, 128)
        self.head = nn.Linear(128, NUM_CLASSES)
        flax_default_init(self)

    def forward(self, x: torch.Tensor, dropout_rate: float = 0.0) -> torch.Tensor:
        """Logits of (B, 8, 8, 1) images."""
        x = x.flatten(1)  # (B, 64)
        x = F.relu(self.dense_0(x))  # (B, 128)
        x = F.relu(self.dense_1(x))  # (B, 128)
        x = F.dropout(x, dropout_rate, training=self.training)
        return self.head(x)  # (B, 10)


class CNN(nn.Module):
    """Two 3x3 convolutions, 2x2 max-pool, a 64-unit dense layer and dropout before the head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_0 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv_1 = nn.Conv2d(16, 32, 3, padding=1)
        self.dense_0 = nn.Linear(512, 64)
        self.head = nn.Linear(64, NUM_CLASSES)
        flax_default_init(self)

    def forward(self, x: torch.Tensor, dropout_rate: float = 0.0) -> torch.Tensor:
        """Logits of (B, 8, 8, 1) images."""
        x = x.permute(0, 3, 1, 2).contiguous()  # (B, 1, 8, 8), NCHW memory layout
        x = F.relu(self.conv_0(x))  # (B, 16, 8, 8)
        x = F.relu(self.conv_1(x))  # (B, 32, 8, 8)
        x = F.max_pool2d(x, 2)  # (B, 32, 4, 4)
        x = x.permute(0, 2, 3, 1).flatten(1)  # (B, 512), HWC order as in Flax
        x = F.relu(self.dense_0(x))  # (B, 64)
        x = F.dropout(x, dropout_rate, training=self.training)
        return self.head(x)  # (B, 10)


MODELS: Mapping[str, type[nn.Module]] = MappingProxyType({"digits_mlp": MLP, "digits_cnn": CNN})
"""Workload name to its model."""

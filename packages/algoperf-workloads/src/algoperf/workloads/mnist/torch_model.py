"""The mnist MLP in PyTorch; the same function and initialisation as `jax_model`.

Weights use Flax's default initialisation (LeCun-normal, truncated; zero biases).
"""

from __future__ import annotations

import torch
from torch import nn

from algoperf.workloads.mnist.data import IMAGE_SHAPE, NUM_CLASSES
from algoperf.workloads.torch_init import flax_default_init

HIDDEN = 128


class MLP(nn.Module):
    """784-128-10 perceptron with a sigmoid hidden layer."""

    def __init__(self) -> None:
        super().__init__()
        self.dense_0 = nn.Linear(IMAGE_SHAPE[0] * IMAGE_SHAPE[1] * IMAGE_SHAPE[2], HIDDEN)
        self.head = nn.Linear(HIDDEN, NUM_CLASSES)
        flax_default_init(self)

    def forward(self, x: torch.Tensor, dropout_rate: float = 0.0) -> torch.Tensor:
        """Logits of (B, 28, 28, 1) images; `dropout_rate` is unused (no dropout)."""
        del dropout_rate
        x = x.flatten(1)  # (B, 784)
        x = torch.sigmoid(self.dense_0(x))  # (B, 128)
        return self.head(x)  # (B, 10)

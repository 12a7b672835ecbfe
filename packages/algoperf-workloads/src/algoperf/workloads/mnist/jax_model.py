"""The mnist MLP in Flax (linen); `torch_model` computes the same function."""

from __future__ import annotations

import flax.linen as nn
import jax

from algoperf.workloads.mnist.data import NUM_CLASSES

HIDDEN = 128


class MLP(nn.Module):
    """784-128-10 perceptron with a sigmoid hidden layer."""

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool, dropout_rate: float = 0.0) -> jax.Array:
        """Logits of (B, 28, 28, 1) images; there is no dropout, so `train` changes nothing."""
        del train, dropout_rate
        x = x.reshape(x.shape[0], -1)  # (B, 784)
        x = nn.sigmoid(nn.Dense(HIDDEN, name="dense_0")(x))  # (B, 128)
        return nn.Dense(NUM_CLASSES, name="head")(x)  # (B, 10)

"""The mnist workload in JAX."""

from __future__ import annotations

import flax.linen as nn
import numpy as np

from algoperf.workloads.jax_base import JaxClassificationWorkload
from algoperf.workloads.mnist import data, jax_model
from algoperf.workloads.mnist.workload import MnistBase


class MnistWorkload(MnistBase, JaxClassificationWorkload):
    """mnist: a sigmoid MLP on MNIST."""

    def build_model(self) -> nn.Module:
        """The MLP."""
        return jax_model.MLP()

    def example_inputs(self) -> np.ndarray:
        """One zero image."""
        return np.zeros((1, *data.IMAGE_SHAPE), dtype=np.float32)

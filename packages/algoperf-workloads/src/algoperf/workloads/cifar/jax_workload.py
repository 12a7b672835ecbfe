"""The cifar workload in JAX: a ResNet whose batch statistics are the model state."""

from __future__ import annotations

import flax.linen as nn
import numpy as np

from algoperf.workloads.cifar import data, jax_model
from algoperf.workloads.cifar.workload import CifarBase
from algoperf.workloads.jax_base import JaxClassificationWorkload


class CifarWorkload(CifarBase, JaxClassificationWorkload):
    """cifar: ResNet-18 on CIFAR-10; the model state is {'batch_stats': running statistics}."""

    def build_model(self) -> nn.Module:
        """The configured ResNet."""
        return jax_model.ResNet(self.config)

    def example_inputs(self) -> np.ndarray:
        """One zero image."""
        return np.zeros((1, *data.IMAGE_SHAPE), dtype=np.float32)

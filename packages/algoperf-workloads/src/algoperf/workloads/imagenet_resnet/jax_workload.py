"""The imagenet_resnet workloads in JAX: batch statistics are the model state."""

from __future__ import annotations

import flax.linen as nn
import numpy as np

from algoperf.workloads.imagenet.jax_workload import ImagenetJaxWorkload
from algoperf.workloads.imagenet_resnet import jax_model
from algoperf.workloads.imagenet_resnet.workload import ImagenetResnetBase


class ImagenetResnetWorkload(ImagenetResnetBase, ImagenetJaxWorkload):
    """imagenet_resnet and its variants, chosen by the spec's name."""

    output_layer = "Dense_0"

    def build_model(self) -> nn.Module:
        """The configured ResNet."""
        return jax_model.ResNet(self.config)

    def example_inputs(self) -> np.ndarray:
        """One zero image of the input size."""
        return np.zeros((1, self.image_size, self.image_size, 3), np.float32)

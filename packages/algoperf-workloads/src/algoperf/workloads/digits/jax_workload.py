"""The digits workloads in JAX."""

from __future__ import annotations

import flax.linen as nn
import numpy as np

from algoperf.workloads._data import ArrayDataset
from algoperf.workloads.digits import data, jax_model
from algoperf.workloads.jax_base import JaxClassificationWorkload


class DigitsWorkload(JaxClassificationWorkload):
    """`digits_mlp` or `digits_cnn`, chosen by the spec's name."""

    def load_dataset(self, data_dir: str | None) -> ArrayDataset:
        """The bundled digits; `data_dir` is unused."""
        del data_dir
        return data.load(synthetic=self.synthetic)

    def build_model(self) -> nn.Module:
        """The workload's Flax model."""
        return jax_model.MODELS[self.name]()

    def example_inputs(self) -> np.ndarray:
        """One zero image."""
        return np.zeros((1, *data.IMAGE_SHAPE), dtype=np.float32)

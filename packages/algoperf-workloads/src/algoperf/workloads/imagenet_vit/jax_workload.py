"""The imagenet_vit workloads in JAX (no model state)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import flax.linen as nn
import numpy as np

from algoperf.api import ParameterType
from algoperf.workloads._params import ParamRule
from algoperf.workloads.imagenet.jax_workload import ImagenetJaxWorkload
from algoperf.workloads.imagenet_vit import jax_model
from algoperf.workloads.imagenet_vit.workload import ImagenetVitBase

_MAP_RULES = MappingProxyType({jax_model.MAPHead: {"probe": ParameterType.WEIGHT}})


class ImagenetVitWorkload(ImagenetVitBase, ImagenetJaxWorkload):
    """imagenet_vit and its variants, chosen by the spec's name."""

    output_layer = "head"

    @property
    def param_type_rules(self) -> Mapping[type[nn.Module], ParamRule]:  # type: ignore[override]
        """The MAP head's probe is a weight (only the MAP variant has one)."""
        return _MAP_RULES if self.config.use_map else MappingProxyType({})

    def build_model(self) -> nn.Module:
        """The configured ViT."""
        return jax_model.ViT(self.config)

    def example_inputs(self) -> np.ndarray:
        """One zero image of the input size."""
        return np.zeros((1, self.image_size, self.image_size, 3), np.float32)

"""The cifar workload in JAX: a ResNet whose batch statistics are the model state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import flax.linen as nn
import jax
import numpy as np
from flax import traverse_util

from algoperf.api import ForwardPassMode, ParameterType
from algoperf.workloads._params import flax_param_types
from algoperf.workloads.cifar import data, jax_model
from algoperf.workloads.cifar.workload import CifarBase
from algoperf.workloads.jax_base import JaxClassificationWorkload

_BATCH_NORM_TYPES = {
    "scale": ParameterType.BATCH_NORM_SCALE,
    "bias": ParameterType.BATCH_NORM_BIAS,
}


def resnet_param_types(params: Mapping[str, Any], batch_stats: Mapping[str, Any]) -> Any:
    """`ParameterType`s of the ResNet's parameters; batch norms are the modules with statistics.

    A structural rule: `flax_param_types` cannot tell a BatchNorm from a LayerNorm by its
    parameters, but only batch norms own a 'batch_stats' entry.
    """
    norms = {path[:-1] for path in traverse_util.flatten_dict(batch_stats)}
    types = traverse_util.flatten_dict(flax_param_types(params))
    return traverse_util.unflatten_dict(
        {p: _BATCH_NORM_TYPES[p[-1]] if p[:-1] in norms else t for p, t in types.items()}
    )


class CifarWorkload(CifarBase, JaxClassificationWorkload):
    """cifar: ResNet-18 on CIFAR-10; the model state is {'batch_stats': running statistics}."""

    def build_model(self) -> nn.Module:
        """The configured ResNet."""
        return jax_model.ResNet(self.config)

    def example_inputs(self) -> np.ndarray:
        """One zero image."""
        return np.zeros((1, *data.IMAGE_SHAPE), dtype=np.float32)

    def init_model_fn(self, rng: jax.Array) -> tuple[Any, Any]:
        """Parameters and running statistics (mean 0, variance 1), replicated over the mesh."""
        init = jax.jit(self.model.init, static_argnames="train")
        variables = init({"params": rng}, self.example_inputs(), train=False)
        params, state = variables["params"], {"batch_stats": variables["batch_stats"]}
        self._param_shapes = jax.tree.map(lambda p: p.shape, params)
        self._param_types = resnet_param_types(params, state["batch_stats"])
        return jax.device_put(params, self.replicated), jax.device_put(state, self.replicated)

    def model_fn(
        self,
        params: Any,
        augmented_and_preprocessed_input_batch: Any,
        model_state: Any,
        mode: ForwardPassMode,
        rng: jax.Array | None,
        update_batch_norm: bool,
        dropout_rate: float | None = None,
    ) -> tuple[jax.Array, Any]:
        """Logits and the model state (see `Workload` for the batch-norm contract).

        TRAIN normalises with the batch statistics of the whole global batch and returns
        updated running statistics only when `update_batch_norm`; EVAL normalises with the
        running statistics and returns the state unchanged. There is no dropout, so `rng`
        and `dropout_rate` are unused.
        """
        del rng, dropout_rate
        variables = {"params": params, **model_state}
        inputs = augmented_and_preprocessed_input_batch["inputs"]
        if mode is ForwardPassMode.EVAL:
            # Without `mutable`, flax's `apply` returns the output alone (annotated as a union).
            return cast(jax.Array, self.model.apply(variables, inputs, train=False)), model_state
        logits, new_state = self.model.apply(variables, inputs, train=True, mutable=["batch_stats"])
        return logits, (dict(new_state) if update_batch_norm else model_state)

"""The fastmri workloads in JAX."""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from algoperf.api import ForwardPassMode, LossOutput
from algoperf.workloads._data import NumpyBatch
from algoperf.workloads._metrics import MetricSums
from algoperf.workloads.fastmri import jax_model
from algoperf.workloads.fastmri.jax_ssim import ssim
from algoperf.workloads.fastmri.workload import FastMRIBase
from algoperf.workloads.jax_base import JaxWorkload, masked_loss_output


def mean_absolute_error(targets: jax.Array, outputs: jax.Array) -> jax.Array:
    """(B,) mean |outputs - targets| over each example's pixels."""
    return jnp.mean(jnp.abs(outputs - targets), axis=tuple(range(1, outputs.ndim)))


TRUNCATED_STD = 0.87962566103423978
"""Standard deviation of a unit normal truncated to [-2, 2] (Flax's variance_scaling)."""


def _draw_params(shapes: Any, rng: jax.Array) -> Any:
    """Flax's default init of parameters shaped like `shapes`, from one draw of random numbers.

    Kernels: `lecun_normal`, i.e. a unit normal truncated to [-2, 2], divided by its std and
    scaled by 1 / sqrt(fan-in), fan-in = the product of all axes but the last. All kernels'
    numbers come from one `truncated_normal` call, cut in pieces: iid either way, but one
    threefry program instead of one per kernel (each costs seconds of XLA compilation on CPU).
    Biases start at 0, LayerNorm scales at 1.
    """
    flat: dict[tuple[str, ...], Any] = traverse_util.flatten_dict(shapes)
    kernels = [path for path in flat if path[-1] == "kernel"]
    sizes = [math.prod(flat[path].shape) for path in kernels]

    @jax.jit
    def draw(rng: jax.Array) -> dict[tuple[str, ...], jax.Array]:
        numbers = jax.random.truncated_normal(rng, -2.0, 2.0, (sum(sizes),), jnp.float32)
        params = {}
        offset = 0
        for path, size in zip(kernels, sizes, strict=True):
            shape = flat[path].shape
            std = 1.0 / math.sqrt(math.prod(shape[:-1])) / TRUNCATED_STD
            params[path] = numbers[offset : offset + size].reshape(shape) * std
            offset += size
        for path, leaf in flat.items():
            if path[-1] != "kernel":
                fill = jnp.ones if path[-1] == "scale" else jnp.zeros
                params[path] = fill(leaf.shape, leaf.dtype)
        return params

    return traverse_util.unflatten_dict(draw(rng))


class FastMRIWorkload(FastMRIBase, JaxWorkload):
    """fastmri, fastmri_model_size, fastmri_tanh or fastmri_layernorm, by the spec's name."""

    output_layer = "Conv_0"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._eval_sums = jax.jit(self._device_sums)

    def initial_variables(self, rng: jax.Array) -> dict[str, Any]:
        """Flax's default initialisation of the U-Net's parameters, drawn in one small program.

        Every parameter is a conv kernel (LeCun normal, truncated at 2 std, fan-in = all axes
        but the last, for `ConvTranspose` too), a bias (0) or a LayerNorm scale (1): what
        `model.init` draws, in distribution. `model.init` itself derives a key per module
        path with threefry, which XLA on CPU compiles in 30-100 s for this model.
        """
        shapes = jax.eval_shape(
            lambda: self.model.init({"params": rng}, self.example_inputs(), train=False)
        )["params"]
        return {"params": _draw_params(shapes, rng)}

    def build_model(self) -> nn.Module:
        """The configured U-Net."""
        return jax_model.UNet(self.config)

    def example_inputs(self) -> np.ndarray:
        """One all-zero image."""
        return np.zeros((1, self.image_size, self.image_size), np.float32)

    def loss_fn(
        self,
        label_batch: jax.Array,
        logits_batch: jax.Array,
        mask_batch: jax.Array | None = None,
        label_smoothing: float = 0.0,
    ) -> LossOutput:
        """Per-example mean absolute error, zero where `mask_batch` is 0 (no smoothing)."""
        del label_smoothing
        return masked_loss_output(mean_absolute_error(label_batch, logits_batch), mask_batch)

    def _device_sums(self, params: Any, batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
        outputs, _ = self.model_fn(params, batch, None, ForwardPassMode.EVAL, None, False)
        weights = batch["weights"]
        values = ssim(outputs, batch["targets"], batch["mean"], batch["std"], batch["volume_max"])
        return {
            "ssim": jnp.sum(jnp.where(weights > 0, values, 0.0) * weights),
            "loss": jnp.sum(mean_absolute_error(batch["targets"], outputs) * weights),
            "num_examples": jnp.sum(weights),
        }

    def eval_sums(self, params: Any, model_state: Any, batch: NumpyBatch) -> MetricSums:
        """SSIM and loss sums of the global batch (jitted over the mesh, so already global)."""
        del model_state
        sums = self._eval_sums(params, self.place_batch(batch))
        return {k: float(v) for k, v in sums.items()}

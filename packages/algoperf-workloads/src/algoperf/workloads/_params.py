"""Framework-neutral parameter helpers: structural parameter types and JAX→PyTorch layouts."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import numpy as np

from algoperf.api import ParameterType

_KERNEL_TYPES = {2: ParameterType.WEIGHT, 4: ParameterType.CONV_WEIGHT}


def flax_param_types(params: Mapping[str, Any]) -> dict[str, Any]:
    """A tree of `ParameterType` for Flax linen parameters, told apart by each module's leaves.

    A structural rule, not name matching: Dense and Conv own {'kernel', 'bias'} (the kernel's
    rank tells them apart), LayerNorm owns {'scale', 'bias'} and Embed owns {'embedding'}.
    Flax BatchNorm's parameters look like LayerNorm's, so models with batch norm need their
    own rule.

    Raises:
        ValueError: for a module whose leaves fit none of these.
    """
    leaves = {k for k, v in params.items() if not isinstance(v, Mapping)}
    if not leaves:
        return {k: flax_param_types(v) for k, v in params.items()}
    if leaves != set(params):
        raise ValueError(f"module mixes parameters and submodules: {sorted(params)}")
    if "kernel" in leaves and leaves <= {"kernel", "bias"}:
        kernel_type = _KERNEL_TYPES.get(len(params["kernel"].shape))
        if kernel_type is not None:
            return {"kernel": kernel_type} | (
                {"bias": ParameterType.BIAS} if "bias" in leaves else {}
            )
    if "scale" in leaves and leaves <= {"scale", "bias"}:
        types = {"scale": ParameterType.LAYER_NORM_SCALE, "bias": ParameterType.LAYER_NORM_BIAS}
        return {k: types[k] for k in leaves}
    if leaves == {"embedding"}:
        return {"embedding": ParameterType.EMBEDDING}
    raise ValueError(f"no parameter-type rule for a module with parameters {sorted(params)}")


class Layout(enum.Enum):
    """How a JAX parameter is rearranged into its PyTorch counterpart."""

    SAME = "same"
    """Biases and other vectors."""
    DENSE = "dense"
    """Flax (in, out) kernel to torch (out, in) weight."""
    CONV = "conv"
    """Flax HWIO kernel to torch OIHW weight."""

    def to_torch(self, array: np.ndarray) -> np.ndarray:
        """`array` in PyTorch layout."""
        if self is Layout.DENSE:
            return array.T
        if self is Layout.CONV:
            return array.transpose(3, 2, 0, 1)
        return array


ParamMap = Mapping[tuple[str, ...], tuple[str, Layout]]
"""JAX parameter path to (PyTorch state-dict name, layout): a literal table per model."""


def jax_to_torch(
    jax_params: Mapping[tuple[str, ...], np.ndarray], table: ParamMap
) -> dict[str, np.ndarray]:
    """JAX parameters (flattened to paths) as a PyTorch state dict, through `table`.

    Raises:
        KeyError: if a JAX parameter is missing from `table` or the table names one the
            parameters lack, so a renamed layer cannot be skipped silently.
    """
    if set(jax_params) != set(table):
        raise KeyError(
            f"parameter table mismatch: unmapped {sorted(set(jax_params) - set(table))}, "
            f"absent {sorted(set(table) - set(jax_params))}"
        )
    return {
        name: np.array(layout.to_torch(np.asarray(jax_params[path])), order="C")
        for path, (name, layout) in table.items()
    }

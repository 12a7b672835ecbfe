"""Framework-neutral parameter helpers: structural parameter types and JAX→PyTorch layouts."""

from __future__ import annotations

import enum
from collections.abc import Mapping

import numpy as np

from algoperf.api import ParameterType


def param_type_from_shape(shape: tuple[int, ...]) -> ParameterType:
    """Parameter type by rank (nanoGPT-style structural rule): 1-D bias, 2-D weight, 4-D conv.

    Only for models without normalisation layers, whose parameters are told apart by rank.
    """
    types = {1: ParameterType.BIAS, 2: ParameterType.WEIGHT, 4: ParameterType.CONV_WEIGHT}
    try:
        return types[len(shape)]
    except KeyError:
        raise ValueError(f"no structural parameter type for shape {shape}") from None


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

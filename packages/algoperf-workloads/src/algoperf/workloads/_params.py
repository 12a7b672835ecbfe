"""Framework-neutral parameter helpers: parameter types by module class, JAX→PyTorch layouts."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType

import numpy as np

from algoperf.api import ParameterType

ParamRule = Mapping[str, ParameterType]
"""Types of the parameters of one module class: a regular expression, matched against the whole
path of a parameter below the module (e.g. 'weight', or 'out_proj.weight' for a submodule's), to
the parameter's type."""


def assign_param_types(
    param_paths: Iterable[tuple[str, ...]],
    module_types: Mapping[tuple[str, ...], type],
    rules: Mapping[type, ParamRule],
    *,
    sep: str,
    required: Mapping[type, ParamRule] = MappingProxyType({}),
) -> dict[tuple[str, ...], ParameterType]:
    """`ParameterType` of each parameter, by the classes of the modules that hold it.

    A table of module classes, not substrings of names (the reference's 'bn', 'conv', 'attn'
    matching typed any layer by what it happened to be called). A class's rule is looked up
    along its MRO, so subclasses share it. The outermost module whose rule names a parameter
    wins: attention's rule types its projections' kernels, which their own dense rule would
    call plain weights.

    Args:
        param_paths: each parameter's path of module names, ending with its own name.
        module_types: the class of every module, by its path (the root's is `()`).
        rules: the rule of each module class.
        sep: joins a path below a module into the string the rule's patterns match.
        required: rules of the model's own classes, each of whose patterns must type some
            parameter, so that renaming a layer cannot silently drop its type.

    Raises:
        ValueError: naming the module and parameter when no rule types a parameter, or the
            patterns in `required` that type none.
    """
    types, used = {}, set()
    for path in param_paths:
        types[path], hit = _param_type(path, module_types, rules, sep)
        used.add(hit)
    unused = [
        f"{cls.__name__} '{pattern}'"
        for cls, rule in required.items()
        for pattern in rule
        if (cls, pattern) not in used
    ]
    if unused:
        raise ValueError(f"parameter-type rules that match no parameter: {', '.join(unused)}")
    return types


def _param_type(
    path: tuple[str, ...],
    module_types: Mapping[tuple[str, ...], type],
    rules: Mapping[type, ParamRule],
    sep: str,
) -> tuple[ParameterType, tuple[type, str]]:
    """The type of the parameter at `path`, and the (class, pattern) that gave it."""
    for depth in range(len(path)):
        module_type = module_types.get(path[:depth], object)
        ruled = next((c for c in module_type.__mro__ if c in rules), None)
        if ruled is None:
            continue
        below = sep.join(path[depth:])
        for pattern, param_type in rules[ruled].items():
            if re.fullmatch(pattern, below):
                return param_type, (ruled, pattern)
    owner = path[:-1]
    raise ValueError(
        f"no parameter-type rule for parameter {path[-1]!r} of module "
        f"{sep.join(owner) or '(root)'!r} ({module_types.get(owner, object).__name__}); "
        "give its class a rule"
    )


class Layout(enum.Enum):
    """How a JAX parameter is rearranged into its PyTorch counterpart."""

    SAME = "same"
    """Biases and other vectors."""
    DENSE = "dense"
    """Flax (in, out) kernel to torch (out, in) weight."""
    CONV = "conv"
    """Flax HWIO kernel to torch OIHW weight."""
    HEADS_IN = "heads_in"
    """Flax (in, heads, head_dim) attention kernel to torch (heads * head_dim, in) weight."""
    HEADS_OUT = "heads_out"
    """Flax (heads, head_dim, out) attention kernel to torch (out, heads * head_dim) weight."""
    FLAT = "flat"
    """Flax (heads, head_dim) attention bias to torch (heads * head_dim,) bias."""
    CONV_TRANSPOSE = "conv_transpose"
    """Flax `ConvTranspose` (H, W, in, out) kernel to torch `ConvTranspose2d` (in, out, H, W)
    weight, flipped in H and W: Flax's transposed conv (`transpose_kernel=False`) correlates
    the dilated input with the kernel as it is, torch's scatters it (the gradient of a conv)."""
    CONV1D = "conv1d"
    """Flax WIO kernel (1-D convolution) to torch OIW weight."""

    def to_torch(self, array: np.ndarray) -> np.ndarray:
        """`array` in PyTorch layout."""
        if self is Layout.DENSE:
            return array.T
        if self is Layout.CONV:
            return array.transpose(3, 2, 0, 1)
        if self is Layout.HEADS_IN:
            return array.reshape(array.shape[0], -1).T
        if self is Layout.HEADS_OUT:
            return array.reshape(-1, array.shape[-1]).T
        if self is Layout.FLAT:
            return array.reshape(-1)
        if self is Layout.CONV_TRANSPOSE:
            return array.transpose(2, 3, 0, 1)[:, :, ::-1, ::-1]
        if self is Layout.CONV1D:
            return array.transpose(2, 1, 0)
        return array


ParamMap = Mapping[tuple[str, ...], tuple[str, Layout]]
"""JAX parameter path to (PyTorch state-dict name, layout): a literal table per model."""


def conv_bn_tables(
    layers: Iterable[tuple[str, str, str]], head: tuple[str, str]
) -> tuple[ParamMap, ParamMap]:
    """Parameter and batch-statistics tables of a convolutional net with batch norm.

    `layers` gives ('conv' or 'bn', JAX module path with '/', PyTorch module name) of each
    layer; `head` the (JAX, PyTorch) names of the dense classifier on top.
    """
    params: dict[tuple[str, ...], tuple[str, Layout]] = {}
    stats: dict[tuple[str, ...], tuple[str, Layout]] = {}
    for kind, jax_name, torch_name in layers:
        path = tuple(jax_name.split("/"))
        if kind == "conv":
            params[(*path, "kernel")] = (f"{torch_name}.weight", Layout.CONV)
            continue
        params[(*path, "scale")] = (f"{torch_name}.weight", Layout.SAME)
        params[(*path, "bias")] = (f"{torch_name}.bias", Layout.SAME)
        stats[(*path, "mean")] = (f"{torch_name}.running_mean", Layout.SAME)
        stats[(*path, "var")] = (f"{torch_name}.running_var", Layout.SAME)
    jax_head, torch_head = head
    params[(jax_head, "kernel")] = (f"{torch_head}.weight", Layout.DENSE)
    params[(jax_head, "bias")] = (f"{torch_head}.bias", Layout.SAME)
    return MappingProxyType(params), MappingProxyType(stats)


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

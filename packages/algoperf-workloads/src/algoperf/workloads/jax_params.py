"""Parameter types of Flax linen models, by the class of the module that holds each parameter.

The classes are read off the model itself: `init` is traced (abstractly) with a method
interceptor that records every module it calls. Flax's parameter trees alone cannot tell a
BatchNorm from a LayerNorm ({'scale', 'bias'} both) nor an attention projection from a Dense.
Rule patterns match a parameter's path below the module, joined with '/'.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import flax.linen as nn
import jax
from flax import traverse_util

from algoperf.api import ParameterType
from algoperf.workloads._params import ParamRule, assign_param_types

_P = ParameterType

DENSE: ParamRule = {"kernel": _P.WEIGHT, "bias": _P.BIAS}
CONV: ParamRule = {"kernel": _P.CONV_WEIGHT, "bias": _P.BIAS}
BATCH_NORM: ParamRule = {"scale": _P.BATCH_NORM_SCALE, "bias": _P.BATCH_NORM_BIAS}
LAYER_NORM: ParamRule = {"scale": _P.LAYER_NORM_SCALE, "bias": _P.LAYER_NORM_BIAS}
"""Also instance, group and RMS norm: per-feature affine maps of norms that do not use batch
statistics, which the reference's 'norm' substring typed as layer norm too."""

FLAX_RULES: Mapping[type[nn.Module], ParamRule] = MappingProxyType(
    {
        nn.Dense: DENSE,
        nn.DenseGeneral: DENSE,
        nn.Conv: CONV,  # 1-D, 2-D or 3-D: conv kernels whatever their rank, as the reference
        nn.ConvTranspose: CONV,
        nn.BatchNorm: BATCH_NORM,
        nn.LayerNorm: LAYER_NORM,
        nn.GroupNorm: LAYER_NORM,
        nn.InstanceNorm: LAYER_NORM,
        nn.RMSNorm: LAYER_NORM,
        nn.Embed: {"embedding": _P.EMBEDDING},
        nn.MultiHeadDotProductAttention: {  # its DenseGeneral projections
            "query/kernel": _P.ATTENTION_Q,
            "key/kernel": _P.ATTENTION_K,
            "value/kernel": _P.ATTENTION_V,
            "out/kernel": _P.ATTENTION_OUT,
            "(query|key|value|out)/bias": _P.ATTENTION_BIAS,
        },
        # LSTMCell's gates are Dense submodules; OptimizedLSTMCell's hold bare parameters.
        nn.OptimizedLSTMCell: {"[ih][ifgo]/kernel": _P.WEIGHT, "h[ifgo]/bias": _P.BIAS},
    }
)
"""The rules of flax's own layers."""


def flax_param_types(
    init_fn: Callable[[], Mapping[str, Any]],
    model_rules: Mapping[type[nn.Module], ParamRule] = MappingProxyType({}),
) -> dict[str, Any]:
    """Tree of `ParameterType` shaped like the 'params' that `init_fn` creates.

    Args:
        init_fn: calls the model's `init`; traced with `jax.eval_shape`, so nothing is
            allocated.
        model_rules: rules of the model's own module classes (those that declare parameters
            with `self.param`, or override how a submodule is typed), over `FLAX_RULES`;
            each of their patterns must match some parameter.

    Raises:
        ValueError: for a parameter no rule types, naming its module and class.
    """
    modules: dict[tuple[str, ...], type[nn.Module]] = {}

    def record(next_fun: Callable[..., Any], args: Any, kwargs: Any, context: Any) -> Any:
        # The first call at a path is the module's own: lifted transforms (remat, scan) also
        # call inner clones that report the root's path.
        modules.setdefault(context.module.path, type(context.module))
        return next_fun(*args, **kwargs)

    with nn.intercept_methods(record):
        variables = jax.eval_shape(init_fn)
    paths = traverse_util.flatten_dict(variables["params"])
    rules = {**FLAX_RULES, **model_rules}
    types = assign_param_types(paths, modules, rules, sep="/", required=model_rules)
    return traverse_util.unflatten_dict(types)

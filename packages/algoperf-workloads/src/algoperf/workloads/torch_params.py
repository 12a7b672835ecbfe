"""Parameter types of PyTorch models, by the class of the module that holds each parameter.

Rule patterns match a parameter's name below the module, as in its state dict ('.'-joined).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from torch import nn

from algoperf.api import ParameterType
from algoperf.workloads._params import ParamRule, assign_param_types

_P = ParameterType

LINEAR: ParamRule = {"weight": _P.WEIGHT, "bias": _P.BIAS}
CONV: ParamRule = {"weight": _P.CONV_WEIGHT, "bias": _P.BIAS}
BATCH_NORM: ParamRule = {"weight": _P.BATCH_NORM_SCALE, "bias": _P.BATCH_NORM_BIAS}
LAYER_NORM: ParamRule = {"weight": _P.LAYER_NORM_SCALE, "bias": _P.LAYER_NORM_BIAS}
"""Also instance, group and RMS norm, as in `jax_params.LAYER_NORM`."""

TORCH_RULES: Mapping[type[nn.Module], ParamRule] = MappingProxyType(
    {
        nn.Linear: LINEAR,
        **dict.fromkeys(
            [nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d], CONV
        ),
        **dict.fromkeys([nn.BatchNorm1d, nn.BatchNorm2d, nn.SyncBatchNorm], BATCH_NORM),
        **dict.fromkeys(
            [nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.RMSNorm],
            LAYER_NORM,
        ),
        nn.Embedding: {"weight": _P.EMBEDDING},
        nn.MultiheadAttention: {
            "in_proj_weight": _P.ATTENTION_QKV,  # the fused projection (q, k, v stacked)
            "q_proj_weight": _P.ATTENTION_Q,  # separate projections when kdim/vdim differ
            "k_proj_weight": _P.ATTENTION_K,
            "v_proj_weight": _P.ATTENTION_V,
            r"out_proj\.weight": _P.ATTENTION_OUT,
            r"in_proj_bias|bias_k|bias_v|out_proj\.bias": _P.ATTENTION_BIAS,
        },
        nn.RNNBase: {  # LSTM, GRU, RNN: per layer l (and direction), e.g. weight_ih_l0_reverse
            r"weight_(ih|hh|hr)_l\d+(_reverse)?": _P.WEIGHT,
            r"bias_(ih|hh)_l\d+(_reverse)?": _P.BIAS,
        },
    }
)
"""The rules of torch's own layers."""


def torch_param_types(
    model: nn.Module, model_rules: Mapping[type[nn.Module], ParamRule] = MappingProxyType({})
) -> dict[str, ParameterType]:
    """`ParameterType` per parameter name (as in `model.named_parameters()`).

    Args:
        model: the module, not wrapped in DDP.
        model_rules: rules of the model's own module classes over `TORCH_RULES`; each of
            their patterns must match some parameter.

    Raises:
        ValueError: for a parameter no rule types, naming its module and class.
    """
    modules = {_path(name): type(module) for name, module in model.named_modules()}
    paths = [_path(name) for name, _ in model.named_parameters()]
    rules = {**TORCH_RULES, **model_rules}
    types = assign_param_types(paths, modules, rules, sep=".", required=model_rules)
    return {".".join(path): t for path, t in types.items()}


def _path(name: str) -> tuple[str, ...]:
    return tuple(name.split(".")) if name else ()

"""Literal JAX→PyTorch parameter tables of the digits models, for the parity tests."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from algoperf.workloads._params import Layout, ParamMap

_D, _C, _S = Layout.DENSE, Layout.CONV, Layout.SAME

MLP_PARAMS: ParamMap = MappingProxyType(
    {
        ("dense_0", "kernel"): ("dense_0.weight", _D),
        ("dense_0", "bias"): ("dense_0.bias", _S),
        ("dense_1", "kernel"): ("dense_1.weight", _D),
        ("dense_1", "bias"): ("dense_1.bias", _S),
        ("head", "kernel"): ("head.weight", _D),
        ("head", "bias"): ("head.bias", _S),
    }
)
CNN_PARAMS: ParamMap = MappingProxyType(
    {
        ("conv_0", "kernel"): ("conv_0.weight", _C),
        ("conv_0", "bias"): ("conv_0.bias", _S),
        ("conv_1", "kernel"): ("conv_1.weight", _C),
        ("conv_1", "bias"): ("conv_1.bias", _S),
        ("dense_0", "kernel"): ("dense_0.weight", _D),
        ("dense_0", "bias"): ("dense_0.bias", _S),
        ("head", "kernel"): ("head.weight", _D),
        ("head", "bias"): ("head.bias", _S),
    }
)
PARAM_MAPS: Mapping[str, ParamMap] = MappingProxyType(
    {"digits_mlp": MLP_PARAMS, "digits_cnn": CNN_PARAMS}
)
"""Workload name to its JAX→PyTorch parameter table."""

"""The literal JAX→PyTorch parameter table of the mnist MLP, for the parity tests."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from algoperf.workloads._params import Layout, ParamMap

_D, _S = Layout.DENSE, Layout.SAME

MLP_PARAMS: ParamMap = MappingProxyType(
    {
        ("dense_0", "kernel"): ("dense_0.weight", _D),
        ("dense_0", "bias"): ("dense_0.bias", _S),
        ("head", "kernel"): ("head.weight", _D),
        ("head", "bias"): ("head.bias", _S),
    }
)
PARAM_MAPS: Mapping[str, ParamMap] = MappingProxyType({"mnist": MLP_PARAMS})
"""Workload name to its JAX→PyTorch parameter table."""

"""JAX→PyTorch parameter tables of the criteo1tb models, for the parity tests.

Every name is written out from the model's structure (no renaming by substring);
`jax_to_torch` fails on any parameter either side lacks.
"""

from __future__ import annotations

from types import MappingProxyType

from algoperf.workloads._params import Layout, ParamMap
from algoperf.workloads.criteo1tb.config import CONFIGS, DLRMConfig

_D, _S = Layout.DENSE, Layout.SAME


def _layer(jax_name: str, torch_name: str, kind: tuple[str, str] = ("kernel", "bias")) -> dict:
    """A Dense (kernel, bias) or LayerNorm (scale, bias) of both frameworks."""
    first = _D if kind[0] == "kernel" else _S
    return {
        (jax_name, kind[0]): (f"{torch_name}.weight", first),
        (jax_name, "bias"): (f"{torch_name}.bias", _S),
    }


def param_map(config: DLRMConfig) -> ParamMap:
    """The table of the DLRM of `config`."""
    table = {("embedding", "embedding_table", "embedding"): ("embedding_table.weight", _S)}
    for i in range(len(config.bottom_dims)):
        table |= _layer(f"bottom_{i}", f"bottom.{i}")
    for i in range(len(config.top_dims) - 1):
        table |= _layer(f"top_{i}", f"top.{i}")
    table |= _layer("head", "head")
    if config.use_layer_norm:
        ln = ("scale", "bias")
        for i in range(len(config.bottom_dims)):
            table |= _layer(f"bottom_norm_{i}", f"bottom_norm.{i}", ln)
        table |= _layer("embedding_norm", "embedding_norm", ln)
        for i in range(len(config.top_dims) - 1):
            table |= _layer(f"top_norm_{i}", f"top_norm.{i}", ln)
    return MappingProxyType(table)


PARAM_MAPS = MappingProxyType({name: param_map(config) for name, config in CONFIGS.items()})
"""Workload name to its JAX→PyTorch parameter table."""

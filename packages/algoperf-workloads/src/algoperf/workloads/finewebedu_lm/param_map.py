"""JAX→PyTorch parameter table of the `finewebedu_lm` model, for the parity tests.

Every name is written out from the model's structure; `jax_to_torch` fails on any parameter
either side lacks. The output layer is the embedding (tied), so it has no entry of its own.
"""

from __future__ import annotations

from types import MappingProxyType

from algoperf.workloads._params import Layout, ParamMap
from algoperf.workloads.finewebedu_lm.config import CONFIGS, LMConfig

_D, _S = Layout.DENSE, Layout.SAME


def param_map(config: LMConfig) -> ParamMap:
    """The table of a model of `config`: embedding, each block's norms and layers, final norm."""
    table: dict[tuple[str, ...], tuple[str, Layout]] = {
        ("embed", "embedding"): ("embed.weight", _S)
    }
    for i in range(config.num_layers):
        jax, torch = f"blocks_{i}", f"blocks.{i}"
        table[(jax, "attn_norm", "scale")] = (f"{torch}.attn_norm.weight", _S)
        for proj in ("query", "key", "value", "out"):
            table[(jax, "attn", proj, "kernel")] = (f"{torch}.attn.{proj}.weight", _D)
        table[(jax, "attn", "attn_scale")] = (f"{torch}.attn.attn_scale", _S)
        table[(jax, "mlp_norm", "scale")] = (f"{torch}.mlp_norm.weight", _S)
        for fc in ("fc1", "fc2"):
            table[(jax, "mlp", fc, "kernel")] = (f"{torch}.mlp.{fc}.weight", _D)
    table[("out_norm", "scale")] = ("out_norm.weight", _S)
    return MappingProxyType(table)


def tables(config: LMConfig) -> tuple[ParamMap, None]:
    """The parameter table of `config`'s decoder, and its state table (none: no model state)."""
    return param_map(config), None


PARAM_MAPS = MappingProxyType({name: param_map(config) for name, config in CONFIGS.items()})
"""Workload name to its JAX→PyTorch parameter table (at full size; `param_map` for others)."""

"""JAX→PyTorch parameter tables of the ogbg models, for the parity tests.

Every name is written out from the model's structure (no renaming of one framework's names
into the other's by substring); `jax_to_torch` fails on any parameter either side lacks.
"""

from __future__ import annotations

from types import MappingProxyType

from algoperf.workloads._params import Layout, ParamMap
from algoperf.workloads.ogbg.config import CONFIGS, GNNConfig

_D, _S = Layout.DENSE, Layout.SAME


def _dense(jax_name: tuple[str, ...], torch_name: str) -> dict:
    return {
        (*jax_name, "kernel"): (f"{torch_name}.weight", _D),
        (*jax_name, "bias"): (f"{torch_name}.bias", _S),
    }


def _norm(jax_name: tuple[str, ...], torch_name: str) -> dict:
    return {
        (*jax_name, "scale"): (f"{torch_name}.weight", _S),
        (*jax_name, "bias"): (f"{torch_name}.bias", _S),
    }


def param_map(config: GNNConfig) -> ParamMap:
    """The table of a GraphNet of `config`: embeddings, each step's three MLPs, decoder."""
    table = _dense(("node_embedding",), "node_embedding") | _dense(
        ("edge_embedding",), "edge_embedding"
    )
    for step in range(config.num_message_passing_steps):
        for kind in ("edge", "node", "global"):
            for i in range(len(config.hidden_dims)):
                mlp = (f"{kind}_mlp_{step}",)
                table |= _dense((*mlp, f"dense_{i}"), f"{kind}_mlp.{step}.dense.{i}")
                table |= _norm((*mlp, f"norm_{i}"), f"{kind}_mlp.{step}.norm.{i}")
    return MappingProxyType(table | _dense(("decoder",), "decoder"))


PARAM_MAPS = MappingProxyType({name: param_map(config) for name, config in CONFIGS.items()})
"""Workload name to its JAX→PyTorch parameter table."""

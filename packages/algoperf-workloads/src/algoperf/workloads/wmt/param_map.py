"""JAX→PyTorch parameter tables of the wmt Transformers, for the parity tests.

JAX names are the reference's (flax's WMT example); every name is written out from the
model's structure, and `jax_to_torch` fails on any parameter either side lacks.
"""

from __future__ import annotations

from types import MappingProxyType

from algoperf.workloads._params import Layout, ParamMap
from algoperf.workloads.wmt.config import CONFIGS, TransformerConfig

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


def _attention(jax_name: tuple[str, ...], torch_name: str) -> dict:
    table = {
        (*jax_name, p, "kernel"): (f"{torch_name}.{p}.weight", Layout.HEADS_IN)
        for p in ("query", "key", "value")
    }
    return table | {(*jax_name, "out", "kernel"): (f"{torch_name}.out.weight", Layout.HEADS_OUT)}


def _mlp(jax_name: tuple[str, ...], torch_name: str, glu: bool) -> dict:
    names = ("hidden", "gate", "output") if glu else ("hidden", "output")
    table = {}
    for i, name in enumerate(names):
        table |= _dense((*jax_name, f"Dense_{i}"), f"{torch_name}.{name}")
    return table


def param_map(config: TransformerConfig) -> ParamMap:
    """The table of a Transformer of `config`."""
    table = {("shared_embedding", "embedding"): ("shared_embedding.weight", _S)}
    for i in range(config.num_layers):
        jax_block, block = ("encoder", f"encoderblock_{i}"), f"encoder.blocks.{i}"
        table |= _norm((*jax_block, "LayerNorm_0"), f"{block}.norm0")
        table |= _attention((*jax_block, "MultiHeadDotProductAttention_0"), f"{block}.attention")
        table |= _norm((*jax_block, "LayerNorm_1"), f"{block}.norm1")
        table |= _mlp((*jax_block, "MlpBlock_0"), f"{block}.mlp", config.glu)
        jax_block, block = ("decoder", f"encoderdecoderblock_{i}"), f"decoder.blocks.{i}"
        for k in range(3):
            table |= _norm((*jax_block, f"LayerNorm_{k}"), f"{block}.norm{k}")
        table |= _attention(
            (*jax_block, "MultiHeadDotProductAttention_0"), f"{block}.self_attention"
        )
        table |= _attention(
            (*jax_block, "MultiHeadDotProductAttention_1"), f"{block}.cross_attention"
        )
        table |= _mlp((*jax_block, "MlpBlock_0"), f"{block}.mlp", config.glu)
    if config.pre_ln:
        table |= _norm(("encoder", "encoder_layernorm"), "encoder.norm")
        table |= _norm(("decoder", "encoderdecoder_layernorm"), "decoder.norm")
    return MappingProxyType(table)


def tables(config: TransformerConfig) -> tuple[ParamMap, None]:
    """The parameter table of `config`'s Transformer, and its state table (none: no model state)."""
    return param_map(config), None


PARAM_MAPS = MappingProxyType({name: param_map(config) for name, config in CONFIGS.items()})
"""Workload name to its JAX→PyTorch parameter table (at full size)."""

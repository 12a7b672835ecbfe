"""JAX→PyTorch tables of the ViT's parameters, for parity tests (written out, no renaming).

Flax's attention keeps per-head kernels ((width, heads, head_dim) for query/key/value,
(heads, head_dim, width) for out); PyTorch's Linear layers hold them flattened.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import MappingProxyType

from algoperf.workloads._params import Layout, ParamMap
from algoperf.workloads.imagenet_vit.config import CONFIGS, ViTConfig

_C, _D, _S = Layout.CONV, Layout.DENSE, Layout.SAME
_Entry = tuple[tuple[str, ...], tuple[str, Layout]]


def _dense(jax_path: tuple[str, ...], torch_name: str) -> Iterator[_Entry]:
    yield (*jax_path, "kernel"), (f"{torch_name}.weight", _D)
    yield (*jax_path, "bias"), (f"{torch_name}.bias", _S)


def _norm(jax_path: tuple[str, ...], torch_name: str) -> Iterator[_Entry]:
    yield (*jax_path, "scale"), (f"{torch_name}.weight", _S)
    yield (*jax_path, "bias"), (f"{torch_name}.bias", _S)


def _attention(jax_path: tuple[str, ...], torch_name: str) -> Iterator[_Entry]:
    for proj in ("query", "key", "value"):
        yield (*jax_path, proj, "kernel"), (f"{torch_name}.{proj}.weight", Layout.HEADS_IN)
        yield (*jax_path, proj, "bias"), (f"{torch_name}.{proj}.bias", Layout.FLAT)
    yield (*jax_path, "out", "kernel"), (f"{torch_name}.out.weight", Layout.HEADS_OUT)
    yield (*jax_path, "out", "bias"), (f"{torch_name}.out.bias", _S)


def _mlp(jax_path: tuple[str, ...], torch_name: str, use_glu: bool) -> Iterator[_Entry]:
    yield from _dense((*jax_path, "Dense_0"), f"{torch_name}.linear1")
    if use_glu:
        yield from _dense((*jax_path, "Dense_1"), f"{torch_name}.glu_linear")
    yield from _dense((*jax_path, f"Dense_{2 if use_glu else 1}"), f"{torch_name}.linear2")


def _entries(c: ViTConfig) -> Iterator[_Entry]:
    yield ("conv_patch_extract", "kernel"), ("conv_patch_extract.weight", _C)
    yield ("conv_patch_extract", "bias"), ("conv_patch_extract.bias", _S)
    for i in range(c.depth):
        jax_block, torch_block = ("Transformer", f"encoderblock_{i}"), f"encoder.net.{i}"
        yield from _norm((*jax_block, "LayerNorm_0"), f"{torch_block}.layer_norm0")
        yield from _attention(
            (*jax_block, "MultiHeadDotProductAttention_1"), f"{torch_block}.self_attention1"
        )
        yield from _norm((*jax_block, "LayerNorm_2"), f"{torch_block}.layer_norm2")
        yield from _mlp((*jax_block, "MlpBlock_3"), f"{torch_block}.mlp3", c.use_glu)
    if not c.use_post_layer_norm:
        yield from _norm(("Transformer", "encoder_layernorm"), "encoder.encoder_norm")
    if c.use_map:
        yield ("MAPHead_0", "probe"), ("map.probe", _S)
        yield from _attention(("MAPHead_0", "MultiHeadDotProductAttention_0"), "map.mha")
        yield from _norm(("MAPHead_0", "LayerNorm_0"), "map.layer_norm")
        yield from _mlp(("MAPHead_0", "MlpBlock_0"), "map.mlp", use_glu=False)
    yield from _dense(("pre_logits",), "pre_logits")
    yield from _dense(("head",), "head")


def param_map(config: ViTConfig) -> ParamMap:
    """The parameter table of `config`'s ViT."""
    return MappingProxyType(dict(_entries(config)))


def tables(config: ViTConfig) -> tuple[ParamMap, None]:
    """The parameter table of `config`'s ViT, and its state table (none: no model state)."""
    return param_map(config), None


PARAM_MAPS = MappingProxyType({name: param_map(config) for name, config in CONFIGS.items()})
"""Workload name to its JAX→PyTorch parameter table (full size; `param_map` builds others)."""

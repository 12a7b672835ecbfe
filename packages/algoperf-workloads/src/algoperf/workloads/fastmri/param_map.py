"""JAX→PyTorch parameter tables of the fastmri U-Nets, for the parity tests.

Every name is written out from the model's structure (no renaming by substring); both
sides use the reference's names, so this is also the reference's JAX↔PyTorch table.
`jax_to_torch` fails on any parameter either side lacks.
"""

from __future__ import annotations

from types import MappingProxyType

from algoperf.workloads._params import Layout, ParamMap
from algoperf.workloads.fastmri.config import CONFIGS, UNetConfig


def _conv_block(jax_name: str, torch_name: str, use_layer_norm: bool) -> dict:
    """A ConvBlock's two convs (torch Sequential indices 0 and 4) and their LayerNorms."""
    table: dict = {}
    for i, (conv, norm) in enumerate(((0, 1), (4, 5))):
        table[(jax_name, f"Conv_{i}", "kernel")] = (
            f"{torch_name}.conv_layers.{conv}.weight",
            Layout.CONV,
        )
        if use_layer_norm:
            table[(jax_name, f"LayerNorm_{i}", "scale")] = (
                f"{torch_name}.conv_layers.{norm}.weight",
                Layout.SAME,
            )
            table[(jax_name, f"LayerNorm_{i}", "bias")] = (
                f"{torch_name}.conv_layers.{norm}.bias",
                Layout.SAME,
            )
    return table


def param_map(config: UNetConfig) -> ParamMap:
    """The table of the U-Net of `config`."""
    pools, ln = config.num_pool_layers, config.use_layer_norm
    table: dict = {}
    for i in range(pools):
        table |= _conv_block(f"ConvBlock_{i}", f"down_sample_layers.{i}", ln)
    table |= _conv_block(f"ConvBlock_{pools}", "conv", ln)
    for i in range(pools):
        table[(f"TransposeConvBlock_{i}", "ConvTranspose_0", "kernel")] = (
            f"up_transpose_conv.{i}.layers.0.weight",
            Layout.CONV_TRANSPOSE,
        )
        up = f"up_conv.{i}" if i < pools - 1 else f"up_conv.{i}.0"
        table |= _conv_block(f"ConvBlock_{pools + 1 + i}", up, ln)
    table[("Conv_0", "kernel")] = (f"up_conv.{pools - 1}.1.weight", Layout.CONV)
    table[("Conv_0", "bias")] = (f"up_conv.{pools - 1}.1.bias", Layout.SAME)
    return MappingProxyType(table)


def tables(config: UNetConfig) -> tuple[ParamMap, None]:
    """The parameter table of `config`'s U-Net, and its state table (none: no model state)."""
    return param_map(config), None


PARAM_MAPS = MappingProxyType({name: param_map(config) for name, config in CONFIGS.items()})
"""Workload name to its JAX→PyTorch parameter table."""

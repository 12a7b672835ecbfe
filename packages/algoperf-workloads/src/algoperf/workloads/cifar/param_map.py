"""JAX→PyTorch tables of the cifar ResNet's parameters and batch statistics, for parity tests.

Every name is written out from the model's structure (no renaming by substring);
`jax_to_torch` fails on any entry either side lacks. Batch statistics ('batch_stats' in
JAX, buffers in PyTorch) have their own table, so parameters and state can be copied apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import MappingProxyType

from algoperf.workloads._params import ParamMap, conv_bn_tables
from algoperf.workloads.cifar.config import CONFIGS, ResNetConfig


def _layers(config: ResNetConfig) -> Iterator[tuple[str, str, str]]:
    """(kind, JAX module path, PyTorch module name) of every conv and batch norm."""
    yield "conv", "conv_init", "conv_init"
    yield "bn", "bn_init", "bn_init"
    channels = config.num_filters
    for i, num_blocks in enumerate(config.stage_sizes):
        for j in range(num_blocks):
            jax_block, torch_block = f"block_{i}_{j}", f"stages.{i}.{j}"
            layers = [("conv", "conv_0"), ("bn", "bn_0"), ("conv", "conv_1"), ("bn", "bn_1")]
            filters = config.num_filters * 2**i
            if (i > 0 and j == 0) or channels != filters:
                layers += [("conv", "conv_proj"), ("bn", "bn_proj")]
            channels = filters
            for kind, name in layers:
                yield kind, f"{jax_block}/{name}", f"{torch_block}.{name}"


def tables(config: ResNetConfig) -> tuple[ParamMap, ParamMap]:
    """The parameter and batch-statistics tables of `config`'s ResNet (any size)."""
    return conv_bn_tables(_layers(config), head=("head", "head"))


PARAM_MAPS = MappingProxyType({name: tables(config)[0] for name, config in CONFIGS.items()})
"""Workload name to its JAX→PyTorch parameter table."""
STATE_MAPS = MappingProxyType({name: tables(config)[1] for name, config in CONFIGS.items()})
"""Workload name to its JAX 'batch_stats' → PyTorch buffer table."""

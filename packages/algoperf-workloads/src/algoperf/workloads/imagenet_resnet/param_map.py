"""JAX→PyTorch tables of the ResNet-50's parameters and batch statistics, for parity tests.

Every name is written out from the model's structure (no renaming by substring):
the reference's Flax names on one side, torchvision's on the other. `jax_to_torch` fails on
any entry either side lacks.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import MappingProxyType

from algoperf.workloads._params import ParamMap, conv_bn_tables
from algoperf.workloads.imagenet_resnet.config import CONFIGS, EXPANSION, ResNetConfig


def _layers(config: ResNetConfig) -> Iterator[tuple[str, str, str]]:
    """(kind, JAX module path, PyTorch module name) of every conv and batch norm."""
    yield "conv", "Conv_init", "conv1"
    yield "bn", "BatchNorm_init", "bn1"
    channels, k = config.num_filters, 0
    for i, num_blocks in enumerate(config.stage_sizes):
        out = config.num_filters * 2**i * EXPANSION
        for j in range(num_blocks):
            jax_block, torch_block = f"BottleneckResNetBlock_{k}", f"layer{i + 1}.{j}"
            for n in range(3):
                yield "conv", f"{jax_block}/Conv_{n}", f"{torch_block}.conv{n + 1}"
                yield "bn", f"{jax_block}/BatchNorm_{n}", f"{torch_block}.bn{n + 1}"
            if (i > 0 and j == 0) or channels != out:
                yield "conv", f"{jax_block}/Conv_proj", f"{torch_block}.downsample.conv"
                yield "bn", f"{jax_block}/BatchNorm_proj", f"{torch_block}.downsample.bn"
            channels, k = out, k + 1


def tables(config: ResNetConfig) -> tuple[ParamMap, ParamMap]:
    """The parameter and batch-statistics tables of `config`'s ResNet (any size)."""
    return conv_bn_tables(_layers(config), head=("Dense_0", "fc"))


PARAM_MAPS = MappingProxyType({name: tables(config)[0] for name, config in CONFIGS.items()})
"""Workload name to its JAX→PyTorch parameter table (full size; `tables` builds others)."""
STATE_MAPS = MappingProxyType({name: tables(config)[1] for name, config in CONFIGS.items()})
"""Workload name to its JAX 'batch_stats' → PyTorch buffer table."""

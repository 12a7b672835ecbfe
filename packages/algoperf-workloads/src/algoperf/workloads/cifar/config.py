"""The ResNet of the cifar workload, and the batch-norm constants both frameworks share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

NUM_CLASSES = 10
BN_MOMENTUM = 0.9
"""Decay of the running statistics: running = 0.9 running + 0.1 batch (the reference's Flax
value; PyTorch's `momentum=0.1` convention names the other weight)."""
BN_EPSILON = 1e-5
HEAD_INIT_STD = 1e-2
"""Standard deviation of the normal init of the output layer's kernel (biases start at 0)."""


@dataclass(frozen=True)
class ResNetConfig:
    """A ResNet of BasicBlocks with the CIFAR stem: a 3x3 convolution and no max-pool.

    Stage i has `stage_sizes[i]` blocks of `num_filters * 2**i` channels; every stage after
    the first halves the resolution in its first block.
    """

    stage_sizes: tuple[int, ...] = (2, 2, 2, 2)
    num_filters: int = 64
    num_classes: int = NUM_CLASSES


CONFIGS: Mapping[str, ResNetConfig] = MappingProxyType({"cifar": ResNetConfig()})
"""Workload name to its model configuration (ResNet-18)."""
TINY = ResNetConfig(stage_sizes=(1, 1), num_filters=4)
"""A test-only size with every kind of layer (stem, identity and projection blocks, head)."""

"""ResNet-50 v1 of the imagenet_resnet workloads (reference-spec 3.1), per variant."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

NUM_CLASSES = 1000
HEAD_INIT_STD = 1e-2
"""Standard deviation of the normal init of the output layer's kernel (biases start at 0)."""
EXPANSION = 4
"""Output channels of a bottleneck block per channel of its 3x3 convolution."""

Activation = Literal["relu", "silu", "gelu"]
"""GELU is the tanh approximation in both frameworks (flax's default; the reference's
PyTorch side uses it too)."""


@dataclass(frozen=True)
class ResNetConfig:
    """A ResNet v1 of bottleneck blocks with the ImageNet stem (7x7/2 conv, 3x3/2 max pool).

    Stage i has `stage_sizes[i]` blocks whose 3x3 convolution has `num_filters * 2**i`
    channels (output `EXPANSION` times that); every stage after the first halves the
    resolution in the 3x3 convolution of its first block.
    """

    stage_sizes: tuple[int, ...] = (3, 4, 6, 3)
    num_filters: int = 64
    num_classes: int = NUM_CLASSES
    activation: Activation = "relu"
    bn_init_scale: float = 0.0
    """Initial scale of the last batch norm of every residual branch."""


_BASE = ResNetConfig()
CONFIGS: Mapping[str, ResNetConfig] = MappingProxyType(
    {
        "imagenet_resnet": _BASE,
        "imagenet_resnet_silu": ResNetConfig(activation="silu"),
        "imagenet_resnet_gelu": ResNetConfig(activation="gelu"),
        "imagenet_resnet_large_bn_init": ResNetConfig(bn_init_scale=8.0),
    }
)
"""Workload name to its model configuration."""


def reduced(config: ResNetConfig, stage_sizes: tuple[int, ...] = (1,)) -> ResNetConfig:
    """`config` with 4 base filters and `stage_sizes` (one block by default), for CPU tests.

    One block has the stem, a projection shortcut and the head (still with `num_classes`
    outputs); (1, 2) adds a strided projection block and an identity block.
    """
    return ResNetConfig(
        stage_sizes=stage_sizes,
        num_filters=4,
        num_classes=config.num_classes,
        activation=config.activation,
        bn_init_scale=config.bn_init_scale,
    )


REDUCED_IMAGE_SIZE = 32
"""Input side of CPU tests: 8 x 8 after the stem and max pool."""


def num_params(config: ResNetConfig) -> int:
    """Trainable parameters of the ResNet of `config`, from its layer shapes.

    ResNet-50: 25,557,032 (torchvision's count, and the reference's in both frameworks).
    """
    count = 7 * 7 * 3 * config.num_filters + 2 * config.num_filters  # stem conv and BN
    channels = config.num_filters
    for i, blocks in enumerate(config.stage_sizes):
        width = config.num_filters * 2**i
        out = width * EXPANSION
        for j in range(blocks):
            count += channels * width + 9 * width * width + width * out  # 1x1, 3x3, 1x1
            count += 2 * (width + width + out)  # their batch norms
            if j == 0:
                count += channels * out + 2 * out  # projection shortcut and its BN
            channels = out
    return count + channels * config.num_classes + config.num_classes

"""The U-Net of each fastmri workload, and the constants both frameworks share.

Variants are configurations of one model (reference-spec 3.2): `fastmri_model_size` has
3 pooling levels of 64 base channels, `fastmri_tanh` tanh activations, `fastmri_layernorm`
LayerNorm in the ConvBlocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

IMAGE_SIZE = 320
"""Height and width of inputs and targets (the reconstructions' crop)."""
INSTANCE_NORM_EPS = 1e-5
LAYER_NORM_EPS = 1e-6
"""Flax `LayerNorm`'s default, and the reference's PyTorch `GroupNorm(1, C, eps=1e-6)`."""
LEAKY_RELU_SLOPE = 0.2


@dataclass(frozen=True)
class UNetConfig:
    """A U-Net with skip connections, by its depth, width, activation and norm.

    `num_pool_layers` ConvBlocks of num_channels * 2**i channels, each followed by
    2x2 average pooling, a bottleneck ConvBlock of twice the last width, and as many
    transposed-conv up blocks with skip concatenation; a 1x1 conv gives one output channel.

    ConvBlock = 2 x [3x3 conv without bias -> norm -> activation -> channel dropout]. The norm
    is InstanceNorm without affine parameters, or with `use_layer_norm` a LayerNorm over
    (C, H, W) with per-channel scale and bias. The transposed-conv blocks (2x2 stride 2, no
    bias -> InstanceNorm -> activation) keep InstanceNorm in every variant: the reference does
    so in both of its frameworks (its PyTorch `TransposeConvBlock` always builds
    `nn.InstanceNorm2d`), so both of ours compute that one function.
    """

    num_channels: int = 32
    num_pool_layers: int = 4
    use_tanh: bool = False
    use_layer_norm: bool = False


CONFIGS: Mapping[str, UNetConfig] = MappingProxyType(
    {
        "fastmri": UNetConfig(),
        "fastmri_model_size": UNetConfig(num_channels=64, num_pool_layers=3),
        "fastmri_tanh": UNetConfig(use_tanh=True),
        "fastmri_layernorm": UNetConfig(use_layer_norm=True),
    }
)
"""Workload name to its model configuration."""


def reduced(config: UNetConfig, num_channels: int = 4, num_pool_layers: int = 2) -> UNetConfig:
    """`config` with fewer channels and pooling levels: the same kinds of layers, for CPU tests."""
    return UNetConfig(num_channels, num_pool_layers, config.use_tanh, config.use_layer_norm)


def conv_block_widths(config: UNetConfig) -> list[int]:
    """Output channels of every ConvBlock in creation order: down path, bottleneck, up path."""
    down = [config.num_channels * 2**i for i in range(config.num_pool_layers)]
    return [*down, 2 * down[-1], *reversed(down)]


SSIM_WINDOW = 7
"""Side of SSIM's uniform window; a border of 3 pixels is left out of the mean."""
SSIM_K1, SSIM_K2 = 0.01, 0.03

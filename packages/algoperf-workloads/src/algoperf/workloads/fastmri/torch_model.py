"""The fastmri U-Net in PyTorch (NCHW); the same function as `jax_model` given the same weights.

Submodule names are the reference's PyTorch names (`down_sample_layers.0.conv_layers.0`,
..., `up_conv.3.1`), so its state dicts load unchanged. The model takes and returns
(B, H, W) images (the reference adds and removes the channel axis in `model_fn`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from algoperf.workloads.fastmri.config import (
    INSTANCE_NORM_EPS,
    LAYER_NORM_EPS,
    LEAKY_RELU_SLOPE,
    UNetConfig,
)
from algoperf.workloads.torch_init import TRUNCATED_STD


class ChannelDropout(nn.Module):
    """Dropout2d whose rate is given at each call (zeroes whole channels of an example)."""

    def forward(self, x: torch.Tensor, rate: float) -> torch.Tensor:
        """`x` with channels dropped at `rate` in training mode; `x` itself otherwise."""
        if not self.training or rate == 0.0:
            return x
        return F.dropout2d(x, rate, training=True)


def _activation(use_tanh: bool) -> nn.Module:
    return nn.Tanh() if use_tanh else nn.LeakyReLU(LEAKY_RELU_SLOPE)


def _norm(channels: int, use_layer_norm: bool) -> nn.Module:
    if use_layer_norm:  # LayerNorm over (C, H, W) with per-channel affine parameters
        return nn.GroupNorm(1, channels, eps=LAYER_NORM_EPS)
    return nn.InstanceNorm2d(channels, eps=INSTANCE_NORM_EPS)


class ConvBlock(nn.Module):
    """2 x [3x3 conv without bias -> norm -> activation -> channel dropout]."""

    def __init__(self, in_chans: int, out_chans: int, use_tanh: bool, use_layer_norm: bool):
        super().__init__()
        self.conv_layers = nn.Sequential(
            nn.Conv2d(in_chans, out_chans, kernel_size=3, padding=1, bias=False),
            _norm(out_chans, use_layer_norm),
            _activation(use_tanh),
            ChannelDropout(),
            nn.Conv2d(out_chans, out_chans, kernel_size=3, padding=1, bias=False),
            _norm(out_chans, use_layer_norm),
            _activation(use_tanh),
            ChannelDropout(),
        )

    def forward(self, x: torch.Tensor, dropout_rate: float) -> torch.Tensor:
        """(B, in, H, W) -> (B, out, H, W)."""
        for layer in self.conv_layers:
            x = layer(x, dropout_rate) if isinstance(layer, ChannelDropout) else layer(x)
        return x


class TransposeConvBlock(nn.Module):
    """2x2 stride-2 transposed conv without bias -> InstanceNorm -> activation."""

    def __init__(self, in_chans: int, out_chans: int, use_tanh: bool):
        super().__init__()
        self.layers = nn.Sequential(
            nn.ConvTranspose2d(in_chans, out_chans, kernel_size=2, stride=2, bias=False),
            nn.InstanceNorm2d(out_chans, eps=INSTANCE_NORM_EPS),
            _activation(use_tanh),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in, H, W) -> (B, out, 2H, 2W)."""
        return self.layers(x)


class OutputBlock(nn.Module):
    """The last up ConvBlock and the 1x1 output conv, named '0' and '1' as in the reference."""

    def __init__(self, block: ConvBlock, head: nn.Conv2d):
        super().__init__()
        self.add_module("0", block)
        self.add_module("1", head)

    def forward(self, x: torch.Tensor, dropout_rate: float) -> torch.Tensor:
        """(B, in, H, W) -> (B, 1, H, W)."""
        block, head = self.get_submodule("0"), self.get_submodule("1")
        return head(block(x, dropout_rate))


def reference_init(module: nn.Module) -> None:
    """The reference's init of every conv: normal with LeCun's std / 0.8796, zero biases.

    Its `trunc_normal_(std=std)` keeps the default cut at +-2 in absolute value, far beyond
    these stds, so the draw is effectively an untruncated normal. The fan-in is PyTorch's:
    in * k * k for a conv, out * k * k for a transposed conv (whose weight is (in, out, k, k)).
    """
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d):
            fan_in = layer.weight[0].numel()
            nn.init.trunc_normal_(layer.weight, std=math.sqrt(1.0 / fan_in) / TRUNCATED_STD)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class UNet(nn.Module):
    """(B, H, W) images to (B, H, W) reconstructions; see `config.UNetConfig`."""

    def __init__(self, config: UNetConfig):
        super().__init__()
        c = config
        ch = c.num_channels
        self.down_sample_layers = nn.ModuleList([ConvBlock(1, ch, c.use_tanh, c.use_layer_norm)])
        for _ in range(c.num_pool_layers - 1):
            self.down_sample_layers.append(ConvBlock(ch, ch * 2, c.use_tanh, c.use_layer_norm))
            ch *= 2
        self.conv = ConvBlock(ch, ch * 2, c.use_tanh, c.use_layer_norm)
        self.up_transpose_conv = nn.ModuleList()
        self.up_conv = nn.ModuleList()
        for i in range(c.num_pool_layers):
            self.up_transpose_conv.append(TransposeConvBlock(ch * 2, ch, c.use_tanh))
            block = ConvBlock(ch * 2, ch, c.use_tanh, c.use_layer_norm)
            if i == c.num_pool_layers - 1:
                self.up_conv.append(OutputBlock(block, nn.Conv2d(ch, 1, kernel_size=1)))
            else:
                self.up_conv.append(block)
                ch //= 2
        reference_init(self)

    def forward(self, x: torch.Tensor, dropout_rate: float = 0.0) -> torch.Tensor:
        """(B, H, W) -> (B, H, W)."""
        out = x.unsqueeze(1)
        skips = []
        for layer in self.down_sample_layers:
            out = layer(out, dropout_rate)
            skips.append(out)
            out = F.avg_pool2d(out, kernel_size=2, stride=2)
        out = self.conv(out, dropout_rate)
        for transpose_conv, conv in zip(self.up_transpose_conv, self.up_conv, strict=True):
            skip = skips.pop()
            out = transpose_conv(out)
            # Odd sizes: reflect-pad one row at the bottom / column at the right.
            pad_h, pad_w = skip.shape[-2] - out.shape[-2], skip.shape[-1] - out.shape[-1]
            if pad_h or pad_w:
                out = F.pad(out, [0, pad_w, 0, pad_h], mode="reflect")
            out = conv(torch.cat([out, skip], dim=1), dropout_rate)
        return out.squeeze(1)

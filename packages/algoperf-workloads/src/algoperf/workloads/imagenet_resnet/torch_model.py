"""ResNet-50 v1 in PyTorch; the same function and initialisation as `jax_model`.

Module names follow torchvision's ResNet (`conv1`, `layer1.0.conv1`, `layer1.0.downsample.conv`,
`fc`), as the reference's PyTorch model does. Batch norm is the cifar workload's `BatchNorm`:
Flax's semantics (biased running variance, momentum 0.9 on the running statistics) and the
statistics of the global batch under DDP.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from algoperf.workloads.cifar.torch_model import BatchNorm
from algoperf.workloads.imagenet_resnet.config import (
    EXPANSION,
    HEAD_INIT_STD,
    Activation,
    ResNetConfig,
)
from algoperf.workloads.torch_init import TRUNCATED_STD

ACTIVATIONS: dict[Activation, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "silu": F.silu,
    "gelu": functools.partial(F.gelu, approximate="tanh"),
}


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    """A bias-free convolution, LeCun-normal (truncated at two std) as Flax's default."""
    conv = nn.Conv2d(in_channels, out_channels, kernel, stride, padding=kernel // 2, bias=False)
    std = math.sqrt(1.0 / conv.weight[0].numel()) / TRUNCATED_STD
    nn.init.trunc_normal_(conv.weight, std=std, a=-2 * std, b=2 * std)
    return conv


class Downsample(nn.Module):
    """The projection shortcut: a strided 1x1 conv and its batch norm."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv = _conv(in_channels, out_channels, 1, stride)
        self.bn = BatchNorm(out_channels)

    def forward(self, x: torch.Tensor, update: bool) -> torch.Tensor:
        """(B, C_in, H, W) → (B, C_out, H / stride, W / stride)."""
        return self.bn(self.conv(x), update)


class Bottleneck(nn.Module):
    """1x1, 3x3 (strided), 1x1 conv-BN layers and a (projected when the shape changes) shortcut."""

    def __init__(
        self, in_channels: int, width: int, stride: int, activation: Activation, bn_init: float
    ) -> None:
        super().__init__()
        out = width * EXPANSION
        self.act = ACTIVATIONS[activation]
        self.conv1 = _conv(in_channels, width, 1)
        self.bn1 = BatchNorm(width)
        self.conv2 = _conv(width, width, 3, stride)
        self.bn2 = BatchNorm(width)
        self.conv3 = _conv(width, out, 1)
        self.bn3 = BatchNorm(out, scale_init=bn_init)
        project = stride != 1 or in_channels != out
        self.downsample = Downsample(in_channels, out, stride) if project else None

    def forward(self, x: torch.Tensor, update: bool) -> torch.Tensor:
        """(B, C, H, W) → (B, 4 width, H / stride, W / stride)."""
        y = self.act(self.bn1(self.conv1(x), update))
        y = self.act(self.bn2(self.conv2(y), update))
        y = self.bn3(self.conv3(y), update)
        if self.downsample is not None:
            x = self.downsample(x, update)
        return self.act(x + y)


class ResNet(nn.Module):
    """7x7/2 stem conv-BN-act, 3x3/2 max pool, bottleneck stages, global average pool, head."""

    def __init__(self, config: ResNetConfig) -> None:
        super().__init__()
        c = config
        self.act = ACTIVATIONS[c.activation]
        self.conv1 = _conv(3, c.num_filters, 7, 2)
        self.bn1 = BatchNorm(c.num_filters)
        channels = c.num_filters
        for i, num_blocks in enumerate(c.stage_sizes):
            blocks = []
            width = c.num_filters * 2**i
            for j in range(num_blocks):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(Bottleneck(channels, width, stride, c.activation, c.bn_init_scale))
                channels = width * EXPANSION
            self.add_module(f"layer{i + 1}", nn.ModuleList(blocks))
        self.num_stages = len(c.stage_sizes)
        self.fc = nn.Linear(channels, c.num_classes)
        nn.init.normal_(self.fc.weight, std=HEAD_INIT_STD)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor, update_batch_norm: bool = True) -> torch.Tensor:
        """(B, H, W, 3) NHWC images → (B, num_classes) logits.

        Args:
            x: normalised NHWC images, as the data pipeline gives them.
            update_batch_norm: in training mode, whether the running statistics are updated
                (batch statistics normalise either way); evaluation mode never updates them.
        """
        x = x.permute(0, 3, 1, 2).contiguous()  # NCHW
        x = self.act(self.bn1(self.conv1(x), update_batch_norm))
        x = F.max_pool2d(x, 3, 2, 1)
        for i in range(self.num_stages):
            for block in self.get_submodule(f"layer{i + 1}").children():
                x = block(x, update_batch_norm)
        return self.fc(x.mean(dim=(2, 3)))

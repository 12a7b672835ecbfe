"""ResNet-18 with the CIFAR stem in PyTorch; the same function and initialisation as `jax_model`.

Batch norm is written out (`BatchNorm`) so that it matches Flax exactly and works under DDP:
the running variance tracks the biased batch variance (PyTorch's own tracks the unbiased
one), and with an initialised process group of several ranks the batch statistics are
those of the global batch, as under JAX's `jit` over a sharded batch.
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
import torch.nn.functional as F
from torch import nn

from algoperf.workloads.cifar.config import BN_EPSILON, BN_MOMENTUM, HEAD_INIT_STD, ResNetConfig
from algoperf.workloads.torch_init import TRUNCATED_STD


def _global_moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and biased variance of (B, C, H, W) `x` over every rank's batch.

    Sums are all-reduced with the differentiable all-reduce, so gradients flow through the
    other ranks' statistics as they do through JAX's global mean. The variance is
    E[x^2] - E[x]^2 (clamped at 0), as Flax computes it.
    """
    count = torch.full((1,), x.numel() / x.shape[1], dtype=x.dtype, device=x.device)
    stats = torch.cat([x.sum(dim=(0, 2, 3)), (x * x).sum(dim=(0, 2, 3)), count])  # (2C + 1,)
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        stats = dist_fn.all_reduce(stats)
    channels = x.shape[1]
    mean = stats[:channels] / stats[-1]
    var = (stats[channels:-1] / stats[-1] - mean * mean).clamp(min=0.0)
    return mean, var


class BatchNorm(nn.Module):
    """Batch norm over (B, H, W) of NCHW inputs, with Flax's semantics (see the module doc)."""

    running_mean: torch.Tensor  # buffers, registered in __init__
    running_var: torch.Tensor

    def __init__(self, channels: int, scale_init: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), scale_init))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: torch.Tensor, update: bool = True) -> torch.Tensor:
        """Normalise `x`; in training mode update the running statistics only if `update`.

        Training mode normalises with the (global) batch statistics, evaluation mode with the
        running ones, which it never changes.
        """
        if self.training:
            mean, var = _global_moments(x)
            if update:
                with torch.no_grad():
                    self.running_mean.mul_(BN_MOMENTUM).add_(mean, alpha=1.0 - BN_MOMENTUM)
                    self.running_var.mul_(BN_MOMENTUM).add_(var, alpha=1.0 - BN_MOMENTUM)
        else:
            mean, var = self.running_mean, self.running_var
        scale = torch.rsqrt(var + BN_EPSILON) * self.weight
        return (x - mean[:, None, None]) * scale[:, None, None] + self.bias[:, None, None]


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    """A bias-free convolution, LeCun-normal (truncated at two std) as Flax's default."""
    conv = nn.Conv2d(in_channels, out_channels, kernel, stride, padding=kernel // 2, bias=False)
    std = math.sqrt(1.0 / conv.weight[0].numel()) / TRUNCATED_STD
    nn.init.trunc_normal_(conv.weight, std=std, a=-2 * std, b=2 * std)
    return conv


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers and a (projected when the shape changes) shortcut."""

    def __init__(self, in_channels: int, filters: int, stride: int = 1) -> None:
        super().__init__()
        self.conv_0 = _conv(in_channels, filters, 3, stride)
        self.bn_0 = BatchNorm(filters)
        self.conv_1 = _conv(filters, filters, 3)
        self.bn_1 = BatchNorm(filters, scale_init=0.0)
        self.project = stride != 1 or in_channels != filters
        if self.project:
            self.conv_proj = _conv(in_channels, filters, 1, stride)
            self.bn_proj = BatchNorm(filters)

    def forward(self, x: torch.Tensor, update: bool) -> torch.Tensor:
        """(B, C, H, W) → (B, filters, H / stride, W / stride)."""
        y = F.relu(self.bn_0(self.conv_0(x), update))
        y = self.bn_1(self.conv_1(y), update)
        if self.project:
            x = self.bn_proj(self.conv_proj(x), update)
        return F.relu(x + y)


class ResNet(nn.Module):
    """3x3 stem conv-BN-ReLU, the stages of `BasicBlock`s, global average pool, dense head."""

    def __init__(self, config: ResNetConfig) -> None:
        super().__init__()
        c = config
        self.conv_init = _conv(3, c.num_filters, 3)
        self.bn_init = BatchNorm(c.num_filters)
        stages, channels = [], c.num_filters
        for i, num_blocks in enumerate(c.stage_sizes):
            blocks = []
            for j in range(num_blocks):
                filters = c.num_filters * 2**i
                blocks.append(BasicBlock(channels, filters, 2 if i > 0 and j == 0 else 1))
                channels = filters
            stages.append(nn.ModuleList(blocks))
        self.stages = nn.ModuleList(stages)
        self.head = nn.Linear(channels, c.num_classes)
        nn.init.normal_(self.head.weight, std=HEAD_INIT_STD)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor, update_batch_norm: bool = True) -> torch.Tensor:
        """(B, 32, 32, 3) NHWC images → (B, num_classes) logits.

        Args:
            x: normalised NHWC images, as the data pipeline gives them.
            update_batch_norm: in training mode, whether the running statistics are updated
                (batch statistics normalise either way); evaluation mode never updates them.
        """
        x = x.permute(0, 3, 1, 2).contiguous()  # (B, 3, 32, 32), NCHW memory layout
        x = F.relu(self.bn_init(self.conv_init(x), update_batch_norm))  # (B, 64, 32, 32)
        for stage in self.stages:
            for block in stage.children():  # a ModuleList's blocks, in order
                x = block(x, update_batch_norm)
        x = x.mean(dim=(2, 3))  # (B, 512): the reference's 4x4 average pool of the 4x4 map
        return self.head(x)

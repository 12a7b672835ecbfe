"""ResNet-18 with the CIFAR stem in Flax (linen); `torch_model` computes the same function.

Unlike the reference's Flax model, the 3x3 convolutions pad one pixel on every side, as
PyTorch's do: Flax's 'SAME' pads a stride-2 convolution of an even input only at the bottom
and right, so the reference's two frameworks computed different functions. Batch norm
follows Flax (`config.BN_MOMENTUM`, `config.BN_EPSILON`); the last norm of each residual
branch starts at scale 0.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax

from algoperf.workloads.cifar.config import BN_EPSILON, BN_MOMENTUM, HEAD_INIT_STD, ResNetConfig

_PAD_1 = ((1, 1), (1, 1))


def _norm(train: bool, **kwargs) -> nn.BatchNorm:
    """Batch norm over (B, H, W): batch statistics when `train`, running ones otherwise."""
    return nn.BatchNorm(
        use_running_average=not train, momentum=BN_MOMENTUM, epsilon=BN_EPSILON, **kwargs
    )


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers and a (projected when the shape changes) shortcut."""

    filters: int
    stride: int = 1

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
        """(B, H, W, C) → (B, H / stride, W / stride, filters)."""
        conv = functools.partial(nn.Conv, self.filters, use_bias=False)
        y = conv((3, 3), self.stride, padding=_PAD_1, name="conv_0")(x)
        y = nn.relu(_norm(train, name="bn_0")(y))
        y = conv((3, 3), padding=_PAD_1, name="conv_1")(y)
        y = _norm(train, scale_init=nn.initializers.zeros, name="bn_1")(y)
        if self.stride != 1 or x.shape[-1] != self.filters:
            x = conv((1, 1), self.stride, padding="VALID", name="conv_proj")(x)
            x = _norm(train, name="bn_proj")(x)
        return nn.relu(x + y)


class ResNet(nn.Module):
    """3x3 stem conv-BN-ReLU, the stages of `BasicBlock`s, global average pool, dense head."""

    config: ResNetConfig

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
        """(B, 32, 32, 3) images → (B, num_classes) logits.

        Args:
            x: normalised NHWC images.
            train: normalise with batch statistics (and compute new running statistics, which
                `apply` returns when 'batch_stats' is mutable) instead of the running ones.
        """
        c = self.config
        x = nn.Conv(c.num_filters, (3, 3), padding=_PAD_1, use_bias=False, name="conv_init")(x)
        x = nn.relu(_norm(train, name="bn_init")(x))  # (B, 32, 32, 64)
        for i, num_blocks in enumerate(c.stage_sizes):
            for j in range(num_blocks):
                stride = 2 if i > 0 and j == 0 else 1
                block = BasicBlock(c.num_filters * 2**i, stride, name=f"block_{i}_{j}")
                x = block(x, train=train)  # ResNet-18: (B, 32 / 2**i, 32 / 2**i, 64 * 2**i)
        x = x.mean(axis=(1, 2))  # (B, 512): the reference's 4x4 average pool of the 4x4 map
        head_init = nn.initializers.normal(HEAD_INIT_STD)
        return nn.Dense(c.num_classes, kernel_init=head_init, name="head")(x)

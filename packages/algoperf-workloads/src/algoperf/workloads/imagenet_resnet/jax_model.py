"""ResNet-50 v1 in Flax (linen); `torch_model` computes the same function.

Layer names are the reference's Flax names (`Conv_init`, `BottleneckResNetBlock_k/Conv_0`, ...,
`Dense_0`), so its checkpoints' parameter trees fit. One deliberate difference: the 3x3
convolutions pad one pixel on every side, as PyTorch's (and the reference's PyTorch model's)
do. Flax's 'SAME' pads a stride-2 convolution of an even input only at the bottom and right,
so the reference's two frameworks computed different functions; the cifar workload makes the
same choice. Batch norm follows Flax (momentum 0.9 on the running statistics, eps 1e-5).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import flax.linen as nn
import jax

from algoperf.workloads.cifar.config import BN_EPSILON, BN_MOMENTUM
from algoperf.workloads.imagenet_resnet.config import (
    EXPANSION,
    HEAD_INIT_STD,
    Activation,
    ResNetConfig,
)

_PAD_1 = ((1, 1), (1, 1))
ACTIVATIONS: dict[Activation, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu,
    "silu": nn.silu,
    "gelu": functools.partial(nn.gelu, approximate=True),
}


def _norm(train: bool, **kwargs) -> nn.BatchNorm:
    """Batch norm over (B, H, W): batch statistics when `train`, running ones otherwise."""
    return nn.BatchNorm(
        use_running_average=not train, momentum=BN_MOMENTUM, epsilon=BN_EPSILON, **kwargs
    )


class BottleneckResNetBlock(nn.Module):
    """1x1, 3x3 (strided), 1x1 conv-BN layers and a (projected when the shape changes) shortcut."""

    filters: int
    strides: int
    activation: Activation
    bn_init_scale: float

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
        """(B, H, W, C) → (B, H / strides, W / strides, 4 filters)."""
        act = ACTIVATIONS[self.activation]
        conv = functools.partial(nn.Conv, use_bias=False)
        y = conv(self.filters, (1, 1), name="Conv_0")(x)
        y = act(_norm(train, name="BatchNorm_0")(y))
        y = conv(self.filters, (3, 3), self.strides, padding=_PAD_1, name="Conv_1")(y)
        y = act(_norm(train, name="BatchNorm_1")(y))
        y = conv(self.filters * EXPANSION, (1, 1), name="Conv_2")(y)
        scale_init = nn.initializers.constant(self.bn_init_scale)
        y = _norm(train, scale_init=scale_init, name="BatchNorm_2")(y)
        if x.shape != y.shape or self.strides != 1:
            x = conv(self.filters * EXPANSION, (1, 1), self.strides, name="Conv_proj")(x)
            x = _norm(train, name="BatchNorm_proj")(x)
        return act(x + y)


class ResNet(nn.Module):
    """7x7/2 stem conv-BN-act, 3x3/2 max pool, bottleneck stages, global average pool, head."""

    config: ResNetConfig

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
        """(B, H, W, 3) images → (B, num_classes) logits (H = W = 224 for the benchmark).

        Args:
            x: normalised NHWC images.
            train: normalise with batch statistics (and compute new running statistics, which
                `apply` returns when 'batch_stats' is mutable) instead of the running ones.
        """
        c = self.config
        act = ACTIVATIONS[c.activation]
        x = nn.Conv(
            c.num_filters, (7, 7), 2, padding=((3, 3), (3, 3)), use_bias=False, name="Conv_init"
        )(x)
        x = act(_norm(train, name="BatchNorm_init")(x))  # (B, 112, 112, 64)
        pad = ((1, 1), (1, 1))  # with -inf, as PyTorch's max pool
        x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=pad)  # type: ignore[arg-type]  # (B, 56, 56, 64)
        k = 0
        for i, num_blocks in enumerate(c.stage_sizes):
            for j in range(num_blocks):
                strides = 2 if i > 0 and j == 0 else 1
                block = BottleneckResNetBlock(
                    c.num_filters * 2**i,
                    strides,
                    c.activation,
                    c.bn_init_scale,
                    name=f"BottleneckResNetBlock_{k}",
                )
                x = block(x, train=train)  # (B, 56 / 2**i, 56 / 2**i, 256 * 2**i)
                k += 1
        x = x.mean(axis=(1, 2))  # (B, 2048)
        head_init = nn.initializers.normal(HEAD_INIT_STD)
        return nn.Dense(c.num_classes, kernel_init=head_init, name="Dense_0")(x)

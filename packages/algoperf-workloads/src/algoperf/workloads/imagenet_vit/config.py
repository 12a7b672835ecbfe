"""ViT-S/16 of the imagenet_vit workloads (reference-spec 3.2), per variant."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

NUM_CLASSES = 1000
LAYER_NORM_EPSILON = 1e-6
MLP_BIAS_INIT_STD = 1e-6
"""MLP biases start N(0, 1e-6); attention biases start at 0."""


@dataclass(frozen=True)
class ViTConfig:
    """A ViT without class token (big_vision's, as the reference's).

    Patch embedding, fixed 2-D sin-cos position embedding, `depth` encoder blocks, global
    average pool (or a MAP head), tanh pre-logits and a zero-initialised head.
    """

    width: int = 384
    depth: int = 12
    mlp_dim: int = 1536
    num_heads: int = 6
    patch_size: int = 16
    num_classes: int = NUM_CLASSES
    use_glu: bool = False
    """An extra Dense(mlp_dim → mlp_dim) whose output multiplies the GELU's."""
    use_post_layer_norm: bool = False
    """LayerNorm after each residual addition, and no final encoder LayerNorm."""
    use_map: bool = False
    """Multi-head attention pooling with a learned probe instead of the token mean."""


_BASE = ViTConfig()
CONFIGS: Mapping[str, ViTConfig] = MappingProxyType(
    {
        "imagenet_vit": _BASE,
        "imagenet_vit_glu": replace(_BASE, use_glu=True),
        "imagenet_vit_post_ln": replace(_BASE, use_post_layer_norm=True),
        "imagenet_vit_map": replace(_BASE, use_map=True),
    }
)
"""Workload name to its model configuration."""


def reduced(config: ViTConfig, depth: int = 1) -> ViTConfig:
    """`config` at width 16, `depth` blocks, 2 heads, MLP 32 and patch 8, for CPU tests."""
    return replace(config, width=16, depth=depth, mlp_dim=32, num_heads=2, patch_size=8)


REDUCED_IMAGE_SIZE = 16
"""Input side of CPU tests: 2 x 2 patches of the reduced configuration."""


def num_params(config: ViTConfig) -> int:
    """Trainable parameters of `config`'s ViT, from its layer shapes.

    ViT-S/16: 22,122,472; GLU 50,452,456; post-LN 22,121,704 (no final LayerNorm); MAP
    23,896,552 (probe, attention, LayerNorm and MLP of the head).
    """
    d, m = config.width, config.mlp_dim
    attention = 4 * (d * d + d)
    mlp = d * m + m + m * d + d + (m * m + m if config.use_glu else 0)
    block = attention + mlp + 2 * 2 * d
    count = config.patch_size**2 * 3 * d + d + config.depth * block
    if not config.use_post_layer_norm:
        count += 2 * d
    if config.use_map:
        count += d + attention + 2 * d + (d * m + m + m * d + d)
    return count + d * d + d + d * config.num_classes + config.num_classes


def posemb_sincos_2d(height: int, width: int, dim: int, temperature: float = 10_000.0):
    """The fixed (1, height * width, dim) float32 position embedding (MoCo v3's 2-D sin-cos).

    Row-major tokens; features are [sin(x ω), cos(x ω), sin(y ω), cos(y ω)] with
    ω = temperature^(-k / (dim/4 - 1)), k < dim / 4. Computed in float64 with numpy once, so
    both frameworks add the very same constant.

    Raises:
        ValueError: if `dim` is not a multiple of 4.
    """
    import numpy as np

    if dim % 4:
        raise ValueError(f"the sin-cos position embedding needs a width divisible by 4, got {dim}")
    y, x = np.mgrid[:height, :width]
    omega = 1.0 / temperature ** (np.arange(dim // 4) / (dim // 4 - 1))
    y = y.reshape(-1)[:, None] * omega[None, :]
    x = x.reshape(-1)[:, None] * omega[None, :]
    pe = np.concatenate([np.sin(x), np.cos(x), np.sin(y), np.cos(y)], axis=1)
    return pe[None].astype(np.float32)

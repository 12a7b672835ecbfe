"""ViT-S/16 in Flax (linen); `torch_model` computes the same function.

Names and shapes are the reference's Flax ones (`conv_patch_extract`,
`Transformer/encoderblock_i/MultiHeadDotProductAttention_1/query`, `MlpBlock_3/Dense_0`,
`pre_logits`, `head`), so its parameter trees fit. Dropout (default rate 0) acts on the tokens
after the position embedding, on the attention and MLP outputs before each residual addition,
and on the MLP's hidden layer, in TRAIN mode only (the reference's JAX model inverted its
`train` flag inside the encoder, reference-spec 8).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from algoperf.workloads.imagenet_vit.config import (
    LAYER_NORM_EPSILON,
    MLP_BIAS_INIT_STD,
    ViTConfig,
    posemb_sincos_2d,
)

_XAVIER = nn.initializers.xavier_uniform()


def _layer_norm(name: str) -> nn.LayerNorm:
    return nn.LayerNorm(epsilon=LAYER_NORM_EPSILON, name=name)


def _attention(num_heads: int, name: str) -> nn.MultiHeadDotProductAttention:
    """Multi-head attention: Xavier-uniform kernels (over the flattened heads), zero biases."""
    return nn.MultiHeadDotProductAttention(
        num_heads=num_heads, kernel_init=_XAVIER, deterministic=True, name=name
    )


class MlpBlock(nn.Module):
    """Dense(mlp_dim), tanh-GELU, optionally times a GLU Dense, dropout, Dense(width)."""

    mlp_dim: int
    use_glu: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool, dropout_rate: float) -> jax.Array:
        """(B, N, width) → (B, N, width)."""

        def dense(features: int, name: str) -> nn.Dense:
            bias_init = nn.initializers.normal(MLP_BIAS_INIT_STD)
            return nn.Dense(features, kernel_init=_XAVIER, bias_init=bias_init, name=name)

        width = x.shape[-1]
        x = nn.gelu(dense(self.mlp_dim, "Dense_0")(x), approximate=True)
        if self.use_glu:
            x = x * dense(self.mlp_dim, "Dense_1")(x)
        x = nn.Dropout(dropout_rate, deterministic=not train)(x)
        return dense(width, f"Dense_{2 if self.use_glu else 1}")(x)


class Encoder1DBlock(nn.Module):
    """Self-attention and MLP, each with a residual; LayerNorm before (pre-LN) or after them."""

    config: ViTConfig

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool, dropout_rate: float) -> jax.Array:
        """(B, N, width) → (B, N, width)."""
        c = self.config
        drop = nn.Dropout(dropout_rate, deterministic=not train)
        attention = _attention(c.num_heads, "MultiHeadDotProductAttention_1")
        mlp = MlpBlock(c.mlp_dim, c.use_glu, name="MlpBlock_3")
        norm_0, norm_2 = _layer_norm("LayerNorm_0"), _layer_norm("LayerNorm_2")
        if c.use_post_layer_norm:
            x = norm_0(x + drop(attention(x)))
            return norm_2(x + drop(mlp(x, train=train, dropout_rate=dropout_rate)))
        x = x + drop(attention(norm_0(x)))
        return x + drop(mlp(norm_2(x), train=train, dropout_rate=dropout_rate))


class MAPHead(nn.Module):
    """Multi-head attention pooling: a learned probe attends to the tokens, then an MLP."""

    config: ViTConfig

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool, dropout_rate: float) -> jax.Array:
        """(B, N, width) → (B, width)."""
        n, _, d = x.shape
        probe = self.param("probe", _XAVIER, (1, 1, d), x.dtype)
        probe = jnp.tile(probe, [n, 1, 1])
        x = _attention(self.config.num_heads, "MultiHeadDotProductAttention_0")(probe, x)
        y = _layer_norm("LayerNorm_0")(x)
        mlp = MlpBlock(self.config.mlp_dim, name="MlpBlock_0")
        x = x + mlp(y, train=train, dropout_rate=dropout_rate)
        return x[:, 0]


class ViT(nn.Module):
    """Patch embedding, sin-cos position embedding, encoder, pooling, tanh pre-logits, head."""

    config: ViTConfig

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool, dropout_rate: float = 0.0) -> jax.Array:
        """(B, H, W, 3) normalised images → (B, num_classes) logits (H = W = 224: 196 tokens)."""
        c = self.config
        p = (c.patch_size, c.patch_size)
        x = nn.Conv(c.width, p, strides=p, padding="VALID", name="conv_patch_extract")(x)
        n, h, w, d = x.shape
        x = x.reshape(n, h * w, d) + jnp.asarray(posemb_sincos_2d(h, w, d))
        x = nn.Dropout(dropout_rate, deterministic=not train)(x)
        x = Encoder(c, name="Transformer")(x, train=train, dropout_rate=dropout_rate)
        if c.use_map:
            x = MAPHead(c, name="MAPHead_0")(x, train=train, dropout_rate=dropout_rate)
        else:
            x = x.mean(axis=1)
        x = jnp.tanh(nn.Dense(c.width, name="pre_logits")(x))
        return nn.Dense(c.num_classes, kernel_init=nn.initializers.zeros, name="head")(x)


class Encoder(nn.Module):
    """`depth` encoder blocks, then a LayerNorm unless the blocks are post-LN."""

    config: ViTConfig

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool, dropout_rate: float) -> jax.Array:
        """(B, N, width) → (B, N, width)."""
        for i in range(self.config.depth):
            block = Encoder1DBlock(self.config, name=f"encoderblock_{i}")
            x = block(x, train=train, dropout_rate=dropout_rate)
        if self.config.use_post_layer_norm:
            return x
        return _layer_norm("encoder_layernorm")(x)

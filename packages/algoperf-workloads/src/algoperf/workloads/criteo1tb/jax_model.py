"""DLRM-small and DLRM-ResNet in Flax (linen); `torch_model` computes the same functions.

Initialisation follows the reference: bottom kernels Glorot-uniform, top kernels
N(0, sqrt(2/(fan_in+fan_out))), biases N(0, sqrt(1/fan_out)), embedding U[0, 1) times
`embedding_scale`. Shapes: B batch, D embedding width (128), V vocabulary.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from algoperf.workloads.criteo1tb.config import (
    EMBED_DIM,
    NUM_DENSE_FEATURES,
    NUM_SPARSE_FEATURES,
    DLRMConfig,
)

_glorot = nn.initializers.glorot_uniform()


def _normal(std: float) -> nn.initializers.Initializer:
    return nn.initializers.normal(stddev=std)


def _top_kernel(fan_in: int, fan_out: int) -> nn.initializers.Initializer:
    return _normal(np.sqrt(2.0 / (fan_in + fan_out)))


def _bottom_dense(dim: int, name: str) -> nn.Dense:
    return nn.Dense(dim, kernel_init=_glorot, bias_init=_normal(np.sqrt(1.0 / dim)), name=name)


def _top_dense(fan_in: int, fan_out: int, name: str, bias_std: float | None = None) -> nn.Dense:
    bias = _normal(np.sqrt(1.0 / fan_out) if bias_std is None else bias_std)
    return nn.Dense(fan_out, kernel_init=_top_kernel(fan_in, fan_out), bias_init=bias, name=name)


class _Embedding(nn.Module):
    """The unified table: ids modulo V, looked up for all 26 features."""

    config: DLRMConfig

    @nn.compact
    def __call__(self, ids: jax.Array) -> jax.Array:
        """(B, 26) float ids → (B, 26, D)."""
        scale = self.config.embedding_scale

        def init(
            key: jax.Array, shape: tuple[int, ...], dtype: jnp.dtype = jnp.float32
        ) -> jax.Array:
            return jax.random.uniform(key, shape, dtype) * scale

        table = nn.Embed(
            self.config.vocab_size, EMBED_DIM, embedding_init=init, name="embedding_table"
        )
        return table(ids.astype(jnp.int32) % self.config.vocab_size)


def dot_interact(features: jax.Array) -> jax.Array:
    """(B, F, D) → (B, F(F+1)/2) pairwise dot products, upper triangle with the diagonal."""
    products = jnp.einsum("bfd,bgd->bfg", features, features)  # (B, F, F)
    rows, cols = np.triu_indices(features.shape[1])  # row-major, as the reference
    return products[:, rows, cols]


class DLRMSmall(nn.Module):
    """Bottom MLP, embeddings, dot interaction, top MLP; dropout after the 256-wide layer."""

    config: DLRMConfig

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool, dropout_rate: float = 0.0) -> jax.Array:
        """(B, 39) inputs → (B, 1) logits."""
        c = self.config
        dense, ids = x[:, :NUM_DENSE_FEATURES], x[:, NUM_DENSE_FEATURES:]  # (B, 13), (B, 26)
        for i, dim in enumerate(c.bottom_dims):
            dense = nn.relu(_bottom_dense(dim, f"bottom_{i}")(dense))
            if c.use_layer_norm:
                dense = nn.LayerNorm(epsilon=1e-6, name=f"bottom_norm_{i}")(dense)
        embedded = _Embedding(c, name="embedding")(ids)  # (B, 26, D)
        if c.use_layer_norm:
            embedded = nn.LayerNorm(epsilon=1e-6, name="embedding_norm")(embedded)
        stack = jnp.concatenate([dense[:, None, :], embedded], axis=1)  # (B, 27, D)
        x = jnp.concatenate([dense, dot_interact(stack)], axis=1)  # (B, D + 378)
        fan_in = x.shape[1]
        for i, dim in enumerate(c.top_dims[:-1]):
            x = nn.relu(_top_dense(fan_in, dim, f"top_{i}")(x))
            if c.use_layer_norm:
                x = nn.LayerNorm(epsilon=1e-6, name=f"top_norm_{i}")(x)
            fan_in = dim
        x = nn.Dropout(dropout_rate, deterministic=not train)(x)
        return _top_dense(fan_in, c.top_dims[-1], "head")(x)  # (B, 1)


class DLRMResNet(nn.Module):
    """Residual bottom and top MLPs on [bottom output, flattened embeddings]; no interaction."""

    config: DLRMConfig

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool, dropout_rate: float = 0.0) -> jax.Array:
        """(B, 39) inputs → (B, 1) logits."""
        c = self.config
        dense, ids = x[:, :NUM_DENSE_FEATURES], x[:, NUM_DENSE_FEATURES:]  # (B, 13), (B, 26)
        dense = nn.relu(_bottom_dense(c.bottom_dims[0], "bottom_0")(dense))  # (B, 256)
        for i, dim in enumerate(c.bottom_dims[1:], start=1):
            dense = dense + nn.relu(_bottom_dense(dim, f"bottom_{i}")(dense))
        embedded = _Embedding(c, name="embedding")(ids)  # (B, 26, D)
        x = jnp.concatenate([dense, embedded.reshape(len(x), NUM_SPARSE_FEATURES * EMBED_DIM)], 1)
        x = nn.relu(_top_dense(x.shape[1], c.top_dims[0], "top_0")(x))  # (B, 256)
        hidden = c.top_dims[:-1]
        for i in range(1, len(hidden)):
            update = nn.relu(_top_dense(hidden[i - 1], hidden[i], f"top_{i}")(x))
            if i == len(hidden) - 1:  # the reference drops out the last residual update
                update = nn.Dropout(dropout_rate, deterministic=not train)(update)
            x = x + update
        return _top_dense(hidden[-1], c.top_dims[-1], "head", bias_std=1.0)(x)  # (B, 1)


def build(config: DLRMConfig) -> nn.Module:
    """The model of `config`."""
    return DLRMResNet(config) if config.resnet else DLRMSmall(config)

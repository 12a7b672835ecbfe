"""The decoder-only Transformer of `finewebedu_lm` in Flax linen (see `config` for the function).

Shapes: B batch, L sequence, D model width, H heads, K head width, F MLP hidden width,
V vocabulary.
"""

from __future__ import annotations

from typing import Any, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp

from algoperf.workloads.finewebedu_lm.config import LMConfig


def _dtype(config: LMConfig) -> Any:
    return jnp.dtype(config.compute_dtype)


def rope_tables(config: LMConfig, length: int) -> tuple[jax.Array, jax.Array]:
    """(L, K/2) cosines and sines of the rotary angles t · θ^(-2i/K), in float32."""
    k = config.head_dim
    inv_freq = 1.0 / (config.rope_theta ** (jnp.arange(0, k, 2, dtype=jnp.float32) / k))
    angles = jnp.arange(length, dtype=jnp.float32)[:, None] * inv_freq[None, :]
    return jnp.cos(angles), jnp.sin(angles)


def apply_rope(x: jax.Array, cos: jax.Array, sin: jax.Array) -> jax.Array:
    """Rotate the adjacent pairs (x[2i], x[2i+1]) of (B, L, H, K) float32 `x`."""
    pairs = x.reshape(*x.shape[:-1], -1, 2)  # (B, L, H, K/2, 2)
    re, im = pairs[..., 0], pairs[..., 1]
    cos, sin = cos[None, :, None, :], sin[None, :, None, :]
    rotated = jnp.stack([re * cos - im * sin, im * cos + re * sin], axis=-1)
    return rotated.reshape(x.shape)


class RMSNorm(nn.Module):
    """x / sqrt(mean(x²) + ε) · scale, in float32."""

    epsilon: float

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Normalised `x` (..., D) in float32."""
        scale = self.param("scale", nn.initializers.ones, (x.shape[-1],), jnp.float32)
        x = x.astype(jnp.float32)
        return x * jax.lax.rsqrt(jnp.mean(x * x, axis=-1, keepdims=True) + self.epsilon) * scale


def _dense(config: LMConfig, features: int, name: str, std: float) -> nn.Dense:
    return nn.Dense(
        features,
        use_bias=False,
        dtype=_dtype(config),
        param_dtype=jnp.float32,
        kernel_init=nn.initializers.normal(std),
        name=name,
    )


class CausalSelfAttention(nn.Module):
    """Rotary, QK-normalised causal attention with a learned scale."""

    config: LMConfig

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """(B, L, D) to (B, L, D) in the compute dtype."""
        cfg = self.config
        b, length, _ = x.shape
        heads = (b, length, cfg.num_heads, cfg.head_dim)
        q, k, v = (
            _dense(cfg, cfg.model_dim, name, cfg.init_std)(x).reshape(heads)
            for name in ("query", "key", "value")
        )  # (B, L, H, K)
        cos, sin = rope_tables(cfg, length)
        q = apply_rope(q.astype(jnp.float32), cos, sin)
        k = apply_rope(k.astype(jnp.float32), cos, sin)
        eps = cfg.qknorm_epsilon
        q = q / (jnp.linalg.norm(q, axis=-1, keepdims=True) + eps)
        k = k / (jnp.linalg.norm(k, axis=-1, keepdims=True) + eps)
        scale = self.param(
            "attn_scale", nn.initializers.constant(cfg.attn_scale_init), (), jnp.float32
        )
        dtype = _dtype(cfg)
        q, k = (q * scale).astype(dtype), k.astype(dtype)
        out = jax.nn.dot_product_attention(
            q, k, v.astype(dtype), scale=1.0, is_causal=True, implementation=_attention_impl(dtype)
        )  # (B, L, H, K)
        return _dense(cfg, cfg.model_dim, "out", cfg.residual_std)(out.reshape(b, length, -1))


def _attention_impl(dtype: Any) -> Literal["cudnn"] | None:
    """CuDNN's fused attention on GPUs in half precision; XLA's otherwise."""
    if dtype != jnp.float32 and jax.default_backend() == "gpu":
        return "cudnn"
    return None


class GatedMlp(nn.Module):
    """fc2(a · sigmoid(b)) with (a, b) the halves of fc1(x)."""

    config: LMConfig

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """(B, L, D) to (B, L, D) in the compute dtype."""
        cfg = self.config
        h = _dense(cfg, 2 * cfg.hidden_dim, "fc1", cfg.init_std)(x)  # (B, L, 2F)
        a, gate = jnp.split(h, 2, axis=-1)
        return _dense(cfg, cfg.model_dim, "fc2", cfg.residual_std)(a * jax.nn.sigmoid(gate))


class Block(nn.Module):
    """Pre-norm block: x + attn(norm(x)), then + mlp(norm(x)); the residual stays float32."""

    config: LMConfig

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """(B, L, D) float32 residual stream to the next block's."""
        cfg = self.config
        dtype = _dtype(cfg)
        h = RMSNorm(cfg.rmsnorm_epsilon, name="attn_norm")(x).astype(dtype)
        x = x + CausalSelfAttention(cfg, name="attn")(h).astype(jnp.float32)
        h = RMSNorm(cfg.rmsnorm_epsilon, name="mlp_norm")(x).astype(dtype)
        return x + GatedMlp(cfg, name="mlp")(h).astype(jnp.float32)


class DecoderOnlyTransformer(nn.Module):
    """Token ids (B, L) to next-token logits (B, L, V) in the compute dtype."""

    config: LMConfig

    @nn.compact
    def __call__(self, tokens: jax.Array, train: bool = False) -> jax.Array:
        """Logits (B, L, V) of token ids (B, L); `train` is ignored (no dropout)."""
        del train
        cfg = self.config
        embed = nn.Embed(
            cfg.vocab_size,
            cfg.model_dim,
            param_dtype=jnp.float32,
            dtype=jnp.float32,
            embedding_init=nn.initializers.normal(cfg.init_std),
            name="embed",
        )
        x = embed(tokens)  # (B, L, D) float32
        for i in range(cfg.num_layers):
            x = Block(cfg, name=f"blocks_{i}")(x)
        x = RMSNorm(cfg.rmsnorm_epsilon, name="out_norm")(x)
        dtype = _dtype(cfg)
        # Tied output layer: logits = x · Eᵀ.
        return jnp.dot(x.astype(dtype), embed.embedding.astype(dtype).T)

"""The fastmri U-Net in Flax (NHWC); the same function as `torch_model` given the same weights.

Module names are those Flax gives the reference's modules (`ConvBlock_0`, ...,
`TransposeConvBlock_0`, `Conv_0`), so the reference's parameters load unchanged; the table to
PyTorch is `param_map`.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from algoperf.workloads.fastmri.config import (
    INSTANCE_NORM_EPS,
    LAYER_NORM_EPS,
    LEAKY_RELU_SLOPE,
    UNetConfig,
)


def instance_norm(x: jax.Array, eps: float = INSTANCE_NORM_EPS) -> jax.Array:
    """(B, H, W, C) normalised over H and W per example and channel, without affine parameters.

    Statistics in at least float32, variance as E[x^2] - E[x]^2 clamped at 0 (the reference's).
    """
    x = x.astype(jnp.promote_types(jnp.float32, x.dtype))
    mean = jnp.mean(x, axis=(1, 2), keepdims=True)
    var = jnp.maximum(0.0, jnp.mean(jnp.square(x), axis=(1, 2), keepdims=True) - mean**2)
    return (x - mean) / jnp.sqrt(var + eps)


def _activation(use_tanh: bool) -> Callable[[jax.Array], jax.Array]:
    if use_tanh:
        return jnp.tanh
    return lambda x: jax.nn.leaky_relu(x, negative_slope=LEAKY_RELU_SLOPE)


class ConvBlock(nn.Module):
    """2 x [3x3 conv without bias -> norm -> activation -> channel dropout]."""

    out_channels: int
    use_tanh: bool
    use_layer_norm: bool

    @nn.compact
    def __call__(self, x: jax.Array, train: bool, dropout_rate: float) -> jax.Array:
        """(B, H, W, in) -> (B, H, W, out); dropout only when `train`."""
        act = _activation(self.use_tanh)
        for i in range(2):
            x = nn.Conv(self.out_channels, (3, 3), use_bias=False, name=f"Conv_{i}")(x)
            if self.use_layer_norm:
                x = nn.LayerNorm(
                    epsilon=LAYER_NORM_EPS, reduction_axes=(1, 2, 3), name=f"LayerNorm_{i}"
                )(x)
            else:
                x = instance_norm(x)
            x = act(x)
            # Dropout2d: one draw per (example, channel), shared over H and W.
            x = nn.Dropout(dropout_rate, broadcast_dims=(1, 2), deterministic=not train)(x)
        return x


class TransposeConvBlock(nn.Module):
    """2x2 stride-2 transposed conv without bias -> InstanceNorm -> activation."""

    out_channels: int
    use_tanh: bool

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """(B, H, W, in) -> (B, 2H, 2W, out)."""
        x = nn.ConvTranspose(
            self.out_channels, (2, 2), strides=(2, 2), use_bias=False, name="ConvTranspose_0"
        )(x)
        return _activation(self.use_tanh)(instance_norm(x))


class UNet(nn.Module):
    """(B, H, W) images to (B, H, W) reconstructions; see `config.UNetConfig`."""

    config: UNetConfig

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False, dropout_rate: float = 0.0) -> jax.Array:
        """(B, H, W) -> (B, H, W); channel dropout at `dropout_rate` only when `train`."""
        c = self.config
        pools = c.num_pool_layers

        def block(index: int, channels: int) -> ConvBlock:
            return ConvBlock(channels, c.use_tanh, c.use_layer_norm, name=f"ConvBlock_{index}")

        out = x[..., None]  # (B, H, W, 1)
        skips = []
        for i in range(pools):
            out = block(i, c.num_channels * 2**i)(out, train, dropout_rate)
            skips.append(out)
            out = nn.avg_pool(out, (2, 2), strides=(2, 2))
        out = block(pools, c.num_channels * 2**pools)(out, train, dropout_rate)
        for i in range(pools):
            skip = skips.pop()
            channels = skip.shape[-1]
            out = TransposeConvBlock(channels, c.use_tanh, name=f"TransposeConvBlock_{i}")(out)
            # Odd sizes: reflect-pad one row at the bottom / column at the right.
            pad_h, pad_w = skip.shape[1] - out.shape[1], skip.shape[2] - out.shape[2]
            if pad_h or pad_w:
                out = jnp.pad(out, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="reflect")
            out = jnp.concatenate([out, skip], axis=-1)
            out = block(pools + 1 + i, channels)(out, train, dropout_rate)
        out = nn.Conv(1, (1, 1), name="Conv_0")(out)
        return out[..., 0]

"""SSIM of fastmri reconstructions in JAX, computed on the device; see `ssim`.

`structural_similarity` is skimage's `structural_similarity(x, y, win_size=7,
data_range=R, gaussian_weights=False, use_sample_covariance=True, K1=0.01, K2=0.03)` (the
tests check it to float32 rounding, about 4e-6 relative). What the reference adds on top, and
skimage lacks, is in `ssim`: de-normalising both images, R = the volume's maximum with 0
replaced by 1, and clipping to [-1, 1]. Here the window means are one 7x7 window sum instead of
the reference's two separable 7-tap sums: the same means up to float32 rounding.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from algoperf.workloads.fastmri.config import SSIM_K1 as K1
from algoperf.workloads.fastmri.config import SSIM_K2 as K2
from algoperf.workloads.fastmri.config import SSIM_WINDOW as WINDOW


def uniform_filter(images: jax.Array, size: int = WINDOW) -> jax.Array:
    """(B, H, W) means over `size` x `size` windows, edges padded symmetrically (half-sample).

    scipy's `uniform_filter` in its default 'reflect' mode (skimage's, and the reference's
    separable filter) computes the same means; one window sum here is one XLA op.
    """
    half = size // 2
    x = jnp.pad(images, ((0, 0), (half, half), (half, half)), mode="symmetric")
    window = (1, size, size)
    return jax.lax.reduce_window(x, 0.0, jax.lax.add, window, (1, 1, 1), "VALID") / size**2


def structural_similarity(x: jax.Array, y: jax.Array, data_range: jax.Array) -> jax.Array:
    """(B,) mean SSIM of (B, H, W) images, as skimage and the reference compute it.

    7x7 uniform window, sample covariance (49 / 48), C1 = (0.01 R)^2, C2 = (0.03 R)^2 with
    R = `data_range` (B,), averaged over the image without a 3-pixel border.
    """
    n = WINDOW**2
    cov_norm = n / (n - 1)
    ux, uy, uxx, uyy, uxy = jnp.split(
        uniform_filter(jnp.concatenate([x, y, x * x, y * y, x * y])), 5
    )
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    r = data_range[:, None, None]
    c1, c2 = (K1 * r) ** 2, (K2 * r) ** 2
    s = (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    pad = WINDOW // 2
    return jnp.mean(s[:, pad:-pad, pad:-pad], axis=(1, 2))


def ssim(
    outputs: jax.Array,
    targets: jax.Array,
    mean: jax.Array,
    std: jax.Array,
    volume_max: jax.Array,
) -> jax.Array:
    """(B,) SSIM of normalised outputs and targets, as the reference scores fastmri.

    Both are de-normalised (x std + mean) first; the data range is the volume's maximum
    (0, as on padding rows, is replaced by 1); results are clipped to [-1, 1].
    """
    mean, std = mean[:, None, None], std[:, None, None]
    data_range = jnp.where(volume_max == 0, 1.0, volume_max)
    values = structural_similarity(outputs * std + mean, targets * std + mean, data_range)
    return jnp.clip(values, -1.0, 1.0)

"""SSIM of fastmri reconstructions in PyTorch, computed on the device; see `jax_ssim`."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from algoperf.workloads.fastmri.config import SSIM_K1 as K1
from algoperf.workloads.fastmri.config import SSIM_K2 as K2
from algoperf.workloads.fastmri.config import SSIM_WINDOW as WINDOW


def uniform_filter(images: torch.Tensor, size: int = WINDOW) -> torch.Tensor:
    """(B, H, W) means over `size` x `size` windows; see `jax_ssim.uniform_filter`."""
    half = size // 2
    # torch's 'reflect' excludes the edge sample; symmetric padding is a flip including it.
    x = torch.cat([images[:, :half].flip(1), images, images[:, -half:].flip(1)], dim=1)
    x = torch.cat([x[:, :, :half].flip(2), x, x[:, :, -half:].flip(2)], dim=2)
    return F.avg_pool2d(x[:, None], size, stride=1)[:, 0]


def structural_similarity(
    x: torch.Tensor, y: torch.Tensor, data_range: torch.Tensor
) -> torch.Tensor:
    """(B,) mean SSIM of (B, H, W) images; see `jax_ssim.structural_similarity`."""
    n = WINDOW**2
    cov_norm = n / (n - 1)
    ux, uy, uxx, uyy, uxy = uniform_filter(torch.cat([x, y, x * x, y * y, x * y])).chunk(5)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    r = data_range[:, None, None]
    c1, c2 = (K1 * r) ** 2, (K2 * r) ** 2
    s = (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    pad = WINDOW // 2
    return s[:, pad:-pad, pad:-pad].mean(dim=(1, 2))


def ssim(
    outputs: torch.Tensor,
    targets: torch.Tensor,
    mean: torch.Tensor,
    std: torch.Tensor,
    volume_max: torch.Tensor,
) -> torch.Tensor:
    """(B,) SSIM of normalised outputs and targets; see `jax_ssim.ssim`."""
    mean, std = mean[:, None, None], std[:, None, None]
    data_range = torch.where(volume_max == 0, torch.ones_like(volume_max), volume_max)
    values = structural_similarity(outputs * std + mean, targets * std + mean, data_range)
    return values.clamp(-1.0, 1.0)

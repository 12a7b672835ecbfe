"""The decoder-only Transformer of `finewebedu_lm` in PyTorch; the same function as `jax_model`.

Casts are explicit (no autocast), so both frameworks round at the same places: float32
parameters, residual stream and norms; matrix products in the compute dtype.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from algoperf.workloads.finewebedu_lm.config import LMConfig


def rope_tables(config: LMConfig, length: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    """(L, K/2) cosines and sines of the rotary angles, in float32 (see `jax_model`)."""
    k = config.head_dim
    exponents = torch.arange(0, k, 2, dtype=torch.float32, device=device) / k
    inv_freq = 1.0 / (config.rope_theta**exponents)
    angles = torch.arange(length, dtype=torch.float32, device=device)[:, None] * inv_freq
    return torch.cos(angles), torch.sin(angles)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate the adjacent pairs of (B, L, H, K) float32 `x`."""
    pairs = x.unflatten(-1, (-1, 2))  # (B, L, H, K/2, 2)
    re, im = pairs[..., 0], pairs[..., 1]
    cos, sin = cos[None, :, None, :], sin[None, :, None, :]
    return torch.stack([re * cos - im * sin, im * cos + re * sin], dim=-1).flatten(-2)


class RMSNorm(nn.Module):
    """x / sqrt(mean(x²) + ε) · weight, in float32."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised `x` (..., D) in float32."""
        x = x.float()
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Linear(nn.Linear):
    """A bias-free linear layer computed in `dtype` from its float32 weight."""

    def __init__(self, fan_in: int, fan_out: int, std: float, dtype: torch.dtype) -> None:
        super().__init__(fan_in, fan_out, bias=False)
        self.compute_dtype = dtype
        nn.init.normal_(self.weight, std=std)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """`input` · weightᵀ in the compute dtype."""
        dtype = self.compute_dtype
        return F.linear(input.to(dtype), self.weight.to(dtype))


class CausalSelfAttention(nn.Module):
    """Rotary, QK-normalised causal attention with a learned scale."""

    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        dtype = getattr(torch, cfg.compute_dtype)
        d = cfg.model_dim
        self.query = Linear(d, d, cfg.init_std, dtype)
        self.key = Linear(d, d, cfg.init_std, dtype)
        self.value = Linear(d, d, cfg.init_std, dtype)
        self.attn_scale = nn.Parameter(torch.tensor(cfg.attn_scale_init, dtype=torch.float32))
        self.out = Linear(d, d, cfg.residual_std, dtype)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """(B, L, D) to (B, L, D) in the compute dtype."""
        cfg = self.cfg
        b, length, _ = x.shape
        heads = (b, length, cfg.num_heads, cfg.head_dim)
        q = apply_rope(self.query(x).view(heads).float(), cos, sin)  # (B, L, H, K)
        k = apply_rope(self.key(x).view(heads).float(), cos, sin)
        v = self.value(x).view(heads)
        eps = cfg.qknorm_epsilon
        q = q / (torch.linalg.vector_norm(q, dim=-1, keepdim=True) + eps)
        k = k / (torch.linalg.vector_norm(k, dim=-1, keepdim=True) + eps)
        dtype = v.dtype
        q, k = (q * self.attn_scale).to(dtype), k.to(dtype)
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True, scale=1.0
        )  # (B, H, L, K)
        return self.out(out.transpose(1, 2).reshape(b, length, -1))


class GatedMlp(nn.Module):
    """fc2(a · sigmoid(b)) with (a, b) the halves of fc1(x)."""

    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        dtype = getattr(torch, cfg.compute_dtype)
        self.fc1 = Linear(cfg.model_dim, 2 * cfg.hidden_dim, cfg.init_std, dtype)
        self.fc2 = Linear(cfg.hidden_dim, cfg.model_dim, cfg.residual_std, dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, D) to (B, L, D) in the compute dtype."""
        a, gate = self.fc1(x).chunk(2, dim=-1)
        return self.fc2(a * torch.sigmoid(gate))


class Block(nn.Module):
    """Pre-norm block with a float32 residual stream."""

    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(cfg.model_dim, cfg.rmsnorm_epsilon)
        self.attn = CausalSelfAttention(cfg)
        self.mlp_norm = RMSNorm(cfg.model_dim, cfg.rmsnorm_epsilon)
        self.mlp = GatedMlp(cfg)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """(B, L, D) float32 residual stream to the next block's."""
        x = x + self.attn(self.attn_norm(x), cos, sin).float()
        return x + self.mlp(self.mlp_norm(x)).float()


class DecoderOnlyTransformer(nn.Module):
    """Token ids (B, L) to next-token logits (B, L, V) in the compute dtype."""

    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.compute_dtype = getattr(torch, cfg.compute_dtype)
        self.embed = nn.Embedding(cfg.vocab_size, cfg.model_dim)
        nn.init.normal_(self.embed.weight, std=cfg.init_std)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.num_layers))
        self.out_norm = RMSNorm(cfg.model_dim, cfg.rmsnorm_epsilon)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits (B, L, V) of token ids (B, L)."""
        x = self.embed(tokens.long())  # (B, L, D) float32
        cos, sin = rope_tables(self.cfg, tokens.shape[1], x.device)
        for block in self.blocks:
            x = block(x, cos, sin)
        x = self.out_norm(x).to(self.compute_dtype)
        return F.linear(x, self.embed.weight.to(self.compute_dtype))  # tied: x · Eᵀ

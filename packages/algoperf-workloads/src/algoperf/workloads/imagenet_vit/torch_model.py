"""ViT-S/16 in PyTorch; the same function and initialisation as `jax_model`.

Module names follow the reference's PyTorch model (`encoder.net.i.self_attention1.query`,
`mlp3.linear1`, `encoder.encoder_norm`, `pre_logits`, `head`); the MAP head's attention has
separate query/key/value/out projections. Attention runs through
`F.scaled_dot_product_attention` (flash or memory-efficient kernels on a GPU).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from algoperf.workloads.imagenet_vit.config import (
    LAYER_NORM_EPSILON,
    MLP_BIAS_INIT_STD,
    ViTConfig,
    posemb_sincos_2d,
)
from algoperf.workloads.torch_init import TRUNCATED_STD


def _lecun_normal(module: nn.Linear | nn.Conv2d) -> None:
    """Flax's default: LeCun normal truncated at two std, zero bias."""
    std = math.sqrt(1.0 / module.weight[0].numel()) / TRUNCATED_STD
    nn.init.trunc_normal_(module.weight, std=std, a=-2 * std, b=2 * std)
    if module.bias is not None:
        nn.init.zeros_(module.bias)


class MlpBlock(nn.Module):
    """Linear(mlp_dim), tanh-GELU, optionally times a GLU Linear, dropout, Linear(width)."""

    def __init__(self, width: int, mlp_dim: int, use_glu: bool = False) -> None:
        super().__init__()
        self.linear1 = nn.Linear(width, mlp_dim)
        self.glu_linear = nn.Linear(mlp_dim, mlp_dim) if use_glu else None
        self.linear2 = nn.Linear(mlp_dim, width)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.normal_(module.bias, std=MLP_BIAS_INIT_STD)

    def forward(self, x: torch.Tensor, dropout_rate: float) -> torch.Tensor:
        """(B, N, width) → (B, N, width)."""
        x = F.gelu(self.linear1(x), approximate="tanh")
        if self.glu_linear is not None:
            x = x * self.glu_linear(x)
        x = F.dropout(x, dropout_rate, training=self.training)
        return self.linear2(x)


class Attention(nn.Module):
    """Multi-head dot-product attention with query/key/value/out projections (Xavier, zero bias)."""

    def __init__(self, width: int, num_heads: int) -> None:
        super().__init__()
        if width % num_heads:
            raise ValueError(f"width {width} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width)
        self.value = nn.Linear(width, width)
        self.out = nn.Linear(width, width)
        for module in (self.query, self.key, self.value, self.out):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        return x.view(b, n, self.num_heads, d // self.num_heads).transpose(1, 2)

    def forward(self, queries: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """(B, Q, width) queries attending to (B, N, width) inputs → (B, Q, width)."""
        q, k, v = (
            self._heads(self.query(queries)),
            self._heads(self.key(inputs)),
            self._heads(self.value(inputs)),
        )
        y = F.scaled_dot_product_attention(q, k, v)  # (B, heads, Q, head_dim)
        return self.out(y.transpose(1, 2).flatten(2))


class Encoder1DBlock(nn.Module):
    """Self-attention and MLP, each with a residual; LayerNorm before (pre-LN) or after them."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        d = config.width
        self.post_ln = config.use_post_layer_norm
        self.layer_norm0 = nn.LayerNorm(d, eps=LAYER_NORM_EPSILON)
        self.self_attention1 = Attention(d, config.num_heads)
        self.layer_norm2 = nn.LayerNorm(d, eps=LAYER_NORM_EPSILON)
        self.mlp3 = MlpBlock(d, config.mlp_dim, config.use_glu)

    def forward(self, x: torch.Tensor, dropout_rate: float) -> torch.Tensor:
        """(B, N, width) → (B, N, width)."""

        def drop(y: torch.Tensor) -> torch.Tensor:
            return F.dropout(y, dropout_rate, training=self.training)

        if self.post_ln:
            x = self.layer_norm0(x + drop(self.self_attention1(x, x)))
            return self.layer_norm2(x + drop(self.mlp3(x, dropout_rate)))
        y = self.layer_norm0(x)
        x = x + drop(self.self_attention1(y, y))
        return x + drop(self.mlp3(self.layer_norm2(x), dropout_rate))


class Encoder(nn.Module):
    """`depth` encoder blocks, then a LayerNorm unless the blocks are post-LN."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.net = nn.ModuleList(Encoder1DBlock(config) for _ in range(config.depth))
        self.encoder_norm = (
            None
            if config.use_post_layer_norm
            else nn.LayerNorm(config.width, eps=LAYER_NORM_EPSILON)
        )

    def forward(self, x: torch.Tensor, dropout_rate: float) -> torch.Tensor:
        """(B, N, width) → (B, N, width)."""
        for block in self.net.children():
            x = block(x, dropout_rate)
        return x if self.encoder_norm is None else self.encoder_norm(x)


class MAPHead(nn.Module):
    """Multi-head attention pooling: a learned probe attends to the tokens, then an MLP."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        d = config.width
        self.probe = nn.Parameter(torch.empty(1, 1, d))
        # Flax's Xavier of a (1, 1, d) parameter: fan_in 1, fan_out d.
        bound = math.sqrt(6.0 / (1 + d))
        nn.init.uniform_(self.probe, -bound, bound)
        self.mha = Attention(d, config.num_heads)
        self.layer_norm = nn.LayerNorm(d, eps=LAYER_NORM_EPSILON)
        self.mlp = MlpBlock(d, config.mlp_dim)

    def forward(self, x: torch.Tensor, dropout_rate: float) -> torch.Tensor:
        """(B, N, width) → (B, width)."""
        probe = self.probe.expand(len(x), -1, -1)
        x = self.mha(probe, x)
        return (x + self.mlp(self.layer_norm(x), dropout_rate))[:, 0]


class ViT(nn.Module):
    """Patch embedding, sin-cos position embedding, encoder, pooling, tanh pre-logits, head."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        c = config
        self.patch_size = c.patch_size
        self.conv_patch_extract = nn.Conv2d(3, c.width, c.patch_size, stride=c.patch_size)
        _lecun_normal(self.conv_patch_extract)
        self.encoder = Encoder(c)
        self.map = MAPHead(c) if c.use_map else None
        self.pre_logits = nn.Linear(c.width, c.width)
        _lecun_normal(self.pre_logits)
        self.head = nn.Linear(c.width, c.num_classes)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self._posemb: dict[tuple[int, int, torch.device], torch.Tensor] = {}

    def _position_embedding(self, h: int, w: int, d: int, device: torch.device) -> torch.Tensor:
        key = (h, w, device)
        if key not in self._posemb:
            self._posemb[key] = torch.from_numpy(posemb_sincos_2d(h, w, d)).to(device)
        return self._posemb[key]

    def forward(self, x: torch.Tensor, dropout_rate: float = 0.0) -> torch.Tensor:
        """(B, H, W, 3) NHWC normalised images → (B, num_classes) logits."""
        x = self.conv_patch_extract(x.permute(0, 3, 1, 2))  # (B, width, H / p, W / p)
        _, d, h, w = x.shape
        x = x.flatten(2).transpose(1, 2) + self._position_embedding(h, w, d, x.device)
        x = F.dropout(x, dropout_rate, training=self.training)
        x = self.encoder(x, dropout_rate)
        x = x.mean(dim=1) if self.map is None else self.map(x, dropout_rate)
        return self.head(torch.tanh(self.pre_logits(x)))

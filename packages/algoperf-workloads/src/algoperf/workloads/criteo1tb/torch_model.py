"""DLRM-small and DLRM-ResNet in PyTorch; the same functions and initialisation as `jax_model`.

The embedding is one table (the reference's PyTorch model split it into row chunks).
Shapes: B batch, D embedding width (128).
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

from algoperf.workloads.criteo1tb.config import (
    EMBED_DIM,
    NUM_DENSE_FEATURES,
    NUM_SPARSE_FEATURES,
    DLRMConfig,
)


def _bottom_dense(fan_in: int, fan_out: int) -> nn.Linear:
    layer = nn.Linear(fan_in, fan_out)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.normal_(layer.bias, std=math.sqrt(1.0 / fan_out))
    return layer


def _top_dense(fan_in: int, fan_out: int, bias_std: float | None = None) -> nn.Linear:
    layer = nn.Linear(fan_in, fan_out)
    nn.init.normal_(layer.weight, std=math.sqrt(2.0 / (fan_in + fan_out)))
    nn.init.normal_(layer.bias, std=math.sqrt(1.0 / fan_out) if bias_std is None else bias_std)
    return layer


def _embedding(config: DLRMConfig) -> nn.Embedding:
    table = nn.Embedding(config.vocab_size, EMBED_DIM)
    nn.init.uniform_(table.weight, 0.0, config.embedding_scale)
    return table


def dot_interact(features: torch.Tensor) -> torch.Tensor:
    """(B, F, D) → (B, F(F+1)/2) pairwise dot products, upper triangle with the diagonal."""
    products = torch.bmm(features, features.transpose(1, 2))  # (B, F, F)
    rows, cols = torch.triu_indices(features.shape[1], features.shape[1], device=features.device)
    return products[:, rows, cols]


class DLRMSmall(nn.Module):
    """Bottom MLP, embeddings, dot interaction, top MLP; dropout after the 256-wide layer."""

    def __init__(self, config: DLRMConfig) -> None:
        super().__init__()
        self.config = c = config
        dims = (NUM_DENSE_FEATURES, *c.bottom_dims)
        self.bottom = nn.ModuleList(_bottom_dense(a, b) for a, b in itertools.pairwise(dims))
        self.embedding_table = _embedding(c)
        features = 1 + NUM_SPARSE_FEATURES
        dims = (c.bottom_dims[-1] + features * (features + 1) // 2, *c.top_dims)
        self.top = nn.ModuleList(_top_dense(a, b) for a, b in itertools.pairwise(dims[:-1]))
        self.head = _top_dense(dims[-2], dims[-1])
        norm = (
            (lambda d: nn.LayerNorm(d, eps=1e-6)) if c.use_layer_norm else (lambda d: nn.Identity())
        )
        self.bottom_norm = nn.ModuleList(norm(d) for d in c.bottom_dims)
        self.embedding_norm = norm(EMBED_DIM)
        self.top_norm = nn.ModuleList(norm(d) for d in c.top_dims[:-1])

    def forward(self, x: torch.Tensor, dropout_rate: float = 0.0) -> torch.Tensor:
        """(B, 39) inputs → (B, 1) logits."""
        dense, ids = x[:, :NUM_DENSE_FEATURES], x[:, NUM_DENSE_FEATURES:]  # (B, 13), (B, 26)
        for layer, norm in zip(self.bottom, self.bottom_norm, strict=True):
            dense = norm(F.relu(layer(dense)))
        embedded = self.embedding_table(ids.long() % self.config.vocab_size)  # (B, 26, D)
        embedded = self.embedding_norm(embedded)
        stack = torch.cat([dense[:, None, :], embedded], dim=1)  # (B, 27, D)
        x = torch.cat([dense, dot_interact(stack)], dim=1)  # (B, D + 378)
        for layer, norm in zip(self.top, self.top_norm, strict=True):
            x = norm(F.relu(layer(x)))
        x = F.dropout(x, dropout_rate, training=self.training)
        return self.head(x)  # (B, 1)


class DLRMResNet(nn.Module):
    """Residual bottom and top MLPs on [bottom output, flattened embeddings]; no interaction."""

    def __init__(self, config: DLRMConfig) -> None:
        super().__init__()
        self.config = c = config
        dims = (NUM_DENSE_FEATURES, *c.bottom_dims)
        self.bottom = nn.ModuleList(_bottom_dense(a, b) for a, b in itertools.pairwise(dims))
        self.embedding_table = _embedding(c)
        hidden = c.top_dims[:-1]
        dims = (c.bottom_dims[-1] + NUM_SPARSE_FEATURES * EMBED_DIM, *hidden)
        self.top = nn.ModuleList(_top_dense(a, b) for a, b in itertools.pairwise(dims))
        self.head = _top_dense(hidden[-1], c.top_dims[-1], bias_std=1.0)

    def forward(self, x: torch.Tensor, dropout_rate: float = 0.0) -> torch.Tensor:
        """(B, 39) inputs → (B, 1) logits."""
        dense, ids = x[:, :NUM_DENSE_FEATURES], x[:, NUM_DENSE_FEATURES:]  # (B, 13), (B, 26)
        dense = F.relu(self.bottom[0](dense))  # (B, 256)
        for layer in self.bottom[1:]:
            dense = dense + F.relu(layer(dense))
        embedded = self.embedding_table(ids.long() % self.config.vocab_size)  # (B, 26, D)
        x = torch.cat([dense, embedded.flatten(1)], dim=1)  # (B, 256 + 26 D)
        x = F.relu(self.top[0](x))  # (B, 256)
        for i, layer in enumerate(self.top[1:], start=1):
            update = F.relu(layer(x))
            if i == len(self.top) - 1:  # the reference drops out the last residual update
                update = F.dropout(update, dropout_rate, training=self.training)
            x = x + update
        return self.head(x)  # (B, 1)


def build(config: DLRMConfig) -> nn.Module:
    """The model of `config`."""
    return DLRMResNet(config) if config.resnet else DLRMSmall(config)

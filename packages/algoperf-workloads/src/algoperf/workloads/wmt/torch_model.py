"""The wmt Transformer in PyTorch: the function of `jax_model.Transformer` (see `param_map`).

A batch is a dict of tensors as in the JAX model. `Transformer.decoder.step` decodes one
position for beam search, with a key/value cache per decoder layer (`DecoderCache`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from algoperf.workloads.wmt.config import DROPOUT_RATE, LAYER_NORM_EPS, TransformerConfig
from algoperf.workloads.wmt.jax_model import sinusoidal_table


def _init_linear(layer: nn.Linear) -> None:
    """Xavier-uniform weight and N(0, 1e-6) bias, the reference's initialisers."""
    nn.init.xavier_uniform_(layer.weight)
    if layer.bias is not None:
        nn.init.normal_(layer.bias, std=1e-6)


def _linear(n_in: int, n_out: int, bias: bool = True) -> nn.Linear:
    layer = nn.Linear(n_in, n_out, bias=bias)
    _init_linear(layer)
    return layer


def _masked_softmax_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """(B, Lq, H, hd) attention output; `mask` (B, 1, Lq, Lk) is True where allowed.

    Masked scores become the dtype's minimum (as flax does), so a fully masked row attends
    uniformly instead of producing NaN.
    """
    q = q / math.sqrt(q.shape[-1])
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k)
    if mask is not None:
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores, dim=-1)
    return torch.einsum("bhqk,bkhd->bqhd", weights, v)


class Attention(nn.Module):
    """Multi-head attention without biases; the query's input is scaled by the temperature."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        d, qkv = config.emb_dim, config.qkv_dim
        self.num_heads, self.temp = config.num_heads, config.attention_temp
        self.query = _linear(d, qkv, bias=False)
        self.key = _linear(d, qkv, bias=False)
        self.value = _linear(d, qkv, bias=False)
        self.out = _linear(qkv, d, bias=False)

    def heads(self, layer: nn.Linear, x: torch.Tensor) -> torch.Tensor:
        """`layer(x)` split into (B, L, H, head_dim)."""
        return layer(x).unflatten(-1, (self.num_heads, -1))

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor | None,
        mask: torch.Tensor | None,
        cached_kv: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Attention of `x` to `memory` (itself when None), or to cached keys and values."""
        q = self.heads(self.query, self.temp * x)
        if cached_kv is None:
            source = x if memory is None else memory
            k, v = self.heads(self.key, source), self.heads(self.value, source)
        else:
            k, v = cached_kv
        return self.out(_masked_softmax_attention(q, k, v, mask).flatten(-2))


class Mlp(nn.Module):
    """hidden → activation (times gate for GLU) → dropout → output → dropout."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        d, m = config.emb_dim, config.mlp_dim
        self.hidden = _linear(d, m)
        self.gate = _linear(d, m) if config.glu else None
        self.output = _linear(m, d)
        self.activation: Callable[[torch.Tensor], torch.Tensor] = (
            F.relu if config.activation == "relu" else torch.tanh
        )

    def forward(self, x: torch.Tensor, dropout_rate: float) -> torch.Tensor:
        """The MLP of `x` (B, L, d), dropped out in training."""
        h = self.activation(self.hidden(x))
        if self.gate is not None:
            h = h * self.gate(x)
        h = F.dropout(h, dropout_rate, self.training)
        return F.dropout(self.output(h), dropout_rate, self.training)


def _norm(config: TransformerConfig) -> nn.LayerNorm:
    return nn.LayerNorm(config.emb_dim, eps=LAYER_NORM_EPS)


class _Block(nn.Module):
    pre_ln: bool

    def branch(
        self, x: torch.Tensor, norm: nn.LayerNorm, body: Callable[[torch.Tensor], torch.Tensor]
    ) -> torch.Tensor:
        """Pre-LN `x + body(LN(x))` or post-LN `LN(x + body(x))`."""
        return x + body(norm(x)) if self.pre_ln else norm(x + body(x))


class EncoderBlock(_Block):
    """Self-attention and MLP branches."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.pre_ln = config.pre_ln
        self.norm0, self.attention = _norm(config), Attention(config)
        self.norm1, self.mlp = _norm(config), Mlp(config)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, dropout_rate: float) -> torch.Tensor:
        """The block's output for `x` (B, L, d); `mask` (B, 1, L, L) is True where allowed."""

        def attend(h: torch.Tensor) -> torch.Tensor:
            return F.dropout(self.attention(h, None, mask), dropout_rate, self.training)

        x = self.branch(x, self.norm0, attend)
        return self.branch(x, self.norm1, lambda h: self.mlp(h, dropout_rate))


@dataclass
class DecoderCache:
    """Decoding state of a batch of N hypotheses: self-attention keys/values and position."""

    keys: list[torch.Tensor]
    """Per layer, (N, max_len, H, head_dim) keys of the positions decoded so far."""
    values: list[torch.Tensor]
    cross: list[tuple[torch.Tensor, torch.Tensor]]
    """Per layer, the keys and values of the encoding (computed once)."""
    cross_mask: torch.Tensor
    """(N, 1, 1, L_in) True on the inputs' real tokens."""
    index: int = 0
    """The position the next `step` decodes."""

    def reorder(self, rows: torch.Tensor) -> None:
        """Keep the self-attention caches of hypotheses `rows` (beam search's survivors)."""
        self.keys = [k[rows] for k in self.keys]
        self.values = [v[rows] for v in self.values]


class DecoderBlock(_Block):
    """Causal self-attention, attention to the encoding, and MLP branches."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.pre_ln = config.pre_ln
        self.norm0, self.self_attention = _norm(config), Attention(config)
        self.norm1, self.cross_attention = _norm(config), Attention(config)
        self.norm2, self.mlp = _norm(config), Mlp(config)

    def forward(
        self,
        y: torch.Tensor,
        encoded: torch.Tensor,
        self_mask: torch.Tensor,
        cross_mask: torch.Tensor,
        dropout_rate: float,
    ) -> torch.Tensor:
        """The block's output for `y` (B, L, d), attending to itself and to `encoded`."""

        def self_attend(h: torch.Tensor) -> torch.Tensor:
            return F.dropout(self.self_attention(h, None, self_mask), dropout_rate, self.training)

        def cross_attend(h: torch.Tensor) -> torch.Tensor:
            h = self.cross_attention(h, encoded, cross_mask)
            return F.dropout(h, dropout_rate, self.training)

        y = self.branch(y, self.norm0, self_attend)
        y = self.branch(y, self.norm1, cross_attend)
        return self.branch(y, self.norm2, lambda h: self.mlp(h, dropout_rate))

    def step(self, y: torch.Tensor, cache: DecoderCache, layer: int) -> torch.Tensor:
        """One position (N, 1, d) through the block, writing its key and value to `cache`."""
        i = cache.index

        def self_attend(h: torch.Tensor) -> torch.Tensor:
            attention = self.self_attention
            cache.keys[layer][:, i] = attention.heads(attention.key, h)[:, 0]
            cache.values[layer][:, i] = attention.heads(attention.value, h)[:, 0]
            kv = (cache.keys[layer][:, : i + 1], cache.values[layer][:, : i + 1])
            return attention(h, None, None, cached_kv=kv)

        def cross_attend(h: torch.Tensor) -> torch.Tensor:
            return self.cross_attention(h, None, cache.cross_mask, cached_kv=cache.cross[layer])

        y = self.branch(y, self.norm0, self_attend)
        y = self.branch(y, self.norm1, cross_attend)
        return self.branch(y, self.norm2, lambda h: self.mlp(h, 0.0))


def _pair_mask(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """(B, 1, Lq, Lk) logical and of per-token (B, Lq) and (B, Lk) booleans."""
    return q[:, None, :, None] & k[:, None, None, :]


def _same_segment(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return q[:, None, :, None] == k[:, None, None, :]


class Encoder(nn.Module):
    """The encoder blocks and, for pre-LN, a final LayerNorm."""

    blocks: list[EncoderBlock]  # an nn.ModuleList

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(  # type: ignore[assignment]
            EncoderBlock(config) for _ in range(config.num_layers)
        )
        self.norm = _norm(config) if config.pre_ln else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor, dropout_rate: float) -> torch.Tensor:
        """(B, L, d) encoding of the embedded inputs `x`."""
        for block in self.blocks:
            x = block(x, mask, dropout_rate)
        return x if self.norm is None else self.norm(x)


class Decoder(nn.Module):
    """The decoder blocks and, for pre-LN, a final LayerNorm (logits are the model's)."""

    blocks: list[DecoderBlock]  # an nn.ModuleList

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(  # type: ignore[assignment]
            DecoderBlock(config) for _ in range(config.num_layers)
        )
        self.norm = _norm(config) if config.pre_ln else None

    def forward(
        self,
        y: torch.Tensor,
        encoded: torch.Tensor,
        self_mask: torch.Tensor,
        cross_mask: torch.Tensor,
        dropout_rate: float,
    ) -> torch.Tensor:
        """(B, L, d) decoder output (before the logits) of the embedded shifted targets."""
        for block in self.blocks:
            y = block(y, encoded, self_mask, cross_mask, dropout_rate)
        return y if self.norm is None else self.norm(y)


class Transformer(nn.Module):
    """The encoder-decoder of `config`, with the embedding shared by both and the logits."""

    positions: torch.Tensor
    """(max_len, emb_dim) sinusoidal table (a buffer, not a parameter)."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.shared_embedding = nn.Embedding(config.vocab_size, config.emb_dim)
        nn.init.normal_(self.shared_embedding.weight, std=1.0)
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        table = torch.from_numpy(sinusoidal_table(config.max_len, config.emb_dim))
        self.register_buffer("positions", table, persistent=False)

    def embed(self, ids: torch.Tensor, positions: torch.Tensor | None) -> torch.Tensor:
        """Token embeddings plus their sinusoidal positions (packed positions if given)."""
        x = self.shared_embedding(ids.long())
        pos = (
            self.positions[: ids.shape[1]][None]
            if positions is None
            else self.positions[positions.long()]
        )
        return x + pos

    def logits(self, y: torch.Tensor) -> torch.Tensor:
        """Logits through the transposed shared embedding, divided by sqrt(emb_dim)."""
        return y @ self.shared_embedding.weight.T / math.sqrt(y.shape[-1])

    def encode(
        self,
        inputs: torch.Tensor,
        positions: torch.Tensor | None = None,
        segmentation: torch.Tensor | None = None,
        dropout_rate: float = 0.0,
    ) -> torch.Tensor:
        """(B, L, emb_dim) encoding; padding and other packed segments are masked."""
        mask = _pair_mask(inputs > 0, inputs > 0)
        if segmentation is not None:
            mask = mask & _same_segment(segmentation, segmentation)
        x = F.dropout(self.embed(inputs, positions), dropout_rate, self.training)
        return self.encoder(x, mask, dropout_rate)

    def forward(
        self, batch: Mapping[str, torch.Tensor], dropout_rate: float = DROPOUT_RATE
    ) -> torch.Tensor:
        """Teacher-forced (B, L, vocab) logits of a batch (packed or not)."""
        inputs, targets = batch["inputs"], batch["targets"]
        in_seg, out_seg = batch.get("inputs_segmentation"), batch.get("targets_segmentation")
        encoded = self.encode(inputs, batch.get("inputs_position"), in_seg, dropout_rate)
        length = targets.shape[1]
        causal = torch.ones(length, length, dtype=torch.bool, device=targets.device).tril()
        self_mask = _pair_mask(targets > 0, targets > 0) & causal
        cross_mask = _pair_mask(targets > 0, inputs > 0)
        if in_seg is not None and out_seg is not None:
            self_mask = self_mask & _same_segment(out_seg, out_seg)
            cross_mask = cross_mask & _same_segment(out_seg, in_seg)
        shifted = F.pad(targets, (1, 0))[:, :-1]
        y = self.embed(shifted, batch.get("targets_position"))
        y = F.dropout(y, dropout_rate, self.training)
        return self.logits(self.decoder(y, encoded, self_mask, cross_mask, dropout_rate))

    def start_decoding(
        self, encoded: torch.Tensor, inputs: torch.Tensor, max_len: int
    ) -> DecoderCache:
        """An empty cache for decoding up to `max_len` positions after `encoded` (N rows)."""
        n, heads = len(inputs), self.config.num_heads
        head_dim = self.config.qkv_dim // heads
        shape = (n, max_len, heads, head_dim)
        blocks = list(self.decoder.blocks)
        cross = [
            (
                b.cross_attention.heads(b.cross_attention.key, encoded),
                b.cross_attention.heads(b.cross_attention.value, encoded),
            )
            for b in blocks
        ]
        return DecoderCache(
            keys=[encoded.new_zeros(shape) for _ in blocks],
            values=[encoded.new_zeros(shape) for _ in blocks],
            cross=cross,
            cross_mask=(inputs > 0)[:, None, None, :],
        )

    def step(self, ids: torch.Tensor, cache: DecoderCache) -> torch.Tensor:
        """(N, vocab) logits after feeding token `ids` (N,) at position `cache.index`."""
        y = self.shared_embedding(ids.long())[:, None] + self.positions[cache.index]
        for layer, block in enumerate(self.decoder.blocks):
            y = block.step(y, cache, layer)
        if self.decoder.norm is not None:
            y = self.decoder.norm(y)
        cache.index += 1
        return self.logits(y)[:, 0]

"""The wmt Transformer in Flax, with the reference's parameter tree (flax's WMT example).

Parameter names are those of the reference's JAX model, so its weights load unchanged:
`shared_embedding`, `encoder/encoderblock_{i}/{LayerNorm_k, MultiHeadDotProductAttention_0,
MlpBlock_0/Dense_k}`, `decoder/encoderdecoderblock_{i}/...`, and the final
`encoder/encoder_layernorm` and `decoder/encoderdecoder_layernorm` of pre-LN models.

A batch is a dict: 'inputs' and 'targets' (B, L) int ids, and for packed training rows
'inputs_position', 'targets_position', 'inputs_segmentation', 'targets_segmentation'.
With `decode=True` the decoder takes one target position per call and keeps its keys,
values and position in the 'cache' collection (beam search).

As in the reference, the targets shift right over the whole packed row, so a later pair's
first decoder input is the previous pair's EOS rather than 0; masks and positions keep the
pairs apart otherwise (`tests/test_wmt.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from algoperf.workloads.wmt.config import DROPOUT_RATE, LAYER_NORM_EPS, TransformerConfig

_KERNEL_INIT = nn.initializers.xavier_uniform()
_BIAS_INIT = nn.initializers.normal(stddev=1e-6)
_EMBED_INIT = nn.initializers.normal(stddev=1.0)


def sinusoidal_table(max_len: int, dim: int) -> np.ndarray:
    """(max_len, dim) fixed positions: sines in the first half, cosines in the second.

    Frequencies run geometrically from 1 to 1/10^4 over dim/2 - 1 steps (flax's WMT table).
    """
    half = dim // 2
    position = np.arange(max_len, dtype=np.float64)[:, None]
    frequency = np.exp(np.arange(half) * (-np.log(10_000.0) / (half - 1)))
    table = np.zeros((max_len, dim), np.float32)
    table[:, :half] = np.sin(position * frequency)
    table[:, half : 2 * half] = np.cos(position * frequency)
    return table


def _activation(config: TransformerConfig) -> Callable[[jax.Array], jax.Array]:
    return nn.relu if config.activation == "relu" else jnp.tanh


def _layer_norm(name: str) -> nn.LayerNorm:
    return nn.LayerNorm(epsilon=LAYER_NORM_EPS, name=name)


def _attention(config: TransformerConfig, name: str, decode: bool = False) -> nn.Module:
    return nn.MultiHeadDotProductAttention(
        num_heads=config.num_heads,
        qkv_features=config.qkv_dim,
        kernel_init=_KERNEL_INIT,
        bias_init=_BIAS_INIT,
        use_bias=False,
        broadcast_dropout=False,
        dropout_rate=0.0,
        deterministic=True,
        decode=decode,
        name=name,
    )


class AddPositions(nn.Module):
    """Adds the sinusoidal table at each token's position (its packed position if given)."""

    config: TransformerConfig
    decode: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, positions: jax.Array | None = None) -> jax.Array:
        """`x` (B, L, d) plus its positions' rows of the table (the cache index when decoding)."""
        table = jnp.asarray(sinusoidal_table(self.config.max_len, x.shape[-1]))
        if self.decode:
            initialised = self.has_variable("cache", "cache_index")
            index = self.variable("cache", "cache_index", lambda: jnp.array(0, jnp.uint32))
            if initialised:
                i = index.value
                index.value = i + 1
                return x + jax.lax.dynamic_slice_in_dim(table, i.astype(jnp.int32), 1)[None]
        if positions is None:
            return x + table[None, : x.shape[1]]
        return x + table[positions]


class MlpBlock(nn.Module):
    """Dense → activation (times a second Dense for GLU) → dropout → Dense → dropout."""

    config: TransformerConfig

    @nn.compact
    def __call__(self, x: jax.Array, train: bool, dropout_rate: float) -> jax.Array:
        """The MLP of `x` (B, L, d), dropped out in training."""
        cfg = self.config
        h = _activation(cfg)(
            nn.Dense(cfg.mlp_dim, name="Dense_0", kernel_init=_KERNEL_INIT, bias_init=_BIAS_INIT)(x)
        )
        out = "Dense_1"
        if cfg.glu:
            h = h * nn.Dense(
                cfg.mlp_dim, name="Dense_1", kernel_init=_KERNEL_INIT, bias_init=_BIAS_INIT
            )(x)
            out = "Dense_2"
        h = nn.Dropout(dropout_rate)(h, deterministic=not train)
        y = nn.Dense(x.shape[-1], name=out, kernel_init=_KERNEL_INIT, bias_init=_BIAS_INIT)(h)
        return nn.Dropout(dropout_rate)(y, deterministic=not train)


def _sublayer(
    cfg: TransformerConfig,
    x: jax.Array,
    norm: str,
    body: Callable[[jax.Array], jax.Array],
) -> jax.Array:
    """A residual branch: pre-LN `x + drop(body(LN(x)))` or post-LN `LN(x + drop(body(x)))`.

    The MLP applies its own output dropout, so `body` results arrive already dropped there;
    attention branches drop here.
    """
    if cfg.pre_ln:
        return x + body(_layer_norm(norm)(x))
    return _layer_norm(norm)(x + body(x))


class Encoder1DBlock(nn.Module):
    """Self-attention and MLP, each a residual branch."""

    config: TransformerConfig

    @nn.compact
    def __call__(
        self, x: jax.Array, mask: jax.Array | None, train: bool, dropout_rate: float
    ) -> jax.Array:
        """The block's output for `x` (B, L, d); `mask` (B, 1, L, L) is True where allowed."""
        cfg = self.config

        def attend(h: jax.Array) -> jax.Array:
            h = _attention(cfg, "MultiHeadDotProductAttention_0")(
                cfg.attention_temp * h, h, mask=mask
            )
            return nn.Dropout(dropout_rate)(h, deterministic=not train)

        x = _sublayer(cfg, x, "LayerNorm_0", attend)
        mlp = MlpBlock(cfg, name="MlpBlock_0")
        return _sublayer(cfg, x, "LayerNorm_1", lambda h: mlp(h, train, dropout_rate))


class EncoderDecoder1DBlock(nn.Module):
    """Causal self-attention, attention to the encoding, and MLP."""

    config: TransformerConfig
    decode: bool = False

    @nn.compact
    def __call__(
        self,
        y: jax.Array,
        encoded: jax.Array,
        self_mask: jax.Array | None,
        cross_mask: jax.Array | None,
        train: bool,
        dropout_rate: float,
    ) -> jax.Array:
        """The block's output for `y` (B, L, d), attending to itself and to `encoded`."""
        cfg = self.config

        def self_attend(h: jax.Array) -> jax.Array:
            attention = _attention(cfg, "MultiHeadDotProductAttention_0", self.decode)
            h = attention(cfg.attention_temp * h, h, mask=self_mask)
            return nn.Dropout(dropout_rate)(h, deterministic=not train)

        def cross_attend(h: jax.Array) -> jax.Array:
            attention = _attention(cfg, "MultiHeadDotProductAttention_1")
            h = attention(cfg.attention_temp * h, encoded, mask=cross_mask)
            return nn.Dropout(dropout_rate)(h, deterministic=not train)

        y = _sublayer(cfg, y, "LayerNorm_0", self_attend)
        y = _sublayer(cfg, y, "LayerNorm_1", cross_attend)
        mlp = MlpBlock(cfg, name="MlpBlock_0")
        return _sublayer(cfg, y, "LayerNorm_2", lambda h: mlp(h, train, dropout_rate))


class Encoder(nn.Module):
    """Embedding + positions + dropout, the encoder blocks, and (pre-LN) a final LayerNorm."""

    config: TransformerConfig
    embedding: nn.Embed

    @nn.compact
    def __call__(
        self,
        inputs: jax.Array,
        positions: jax.Array | None,
        mask: jax.Array,
        train: bool,
        dropout_rate: float,
    ) -> jax.Array:
        """(B, L, d) encoding of `inputs` (B, L) ids."""
        cfg = self.config
        x = self.embedding(inputs.astype(jnp.int32))
        x = AddPositions(cfg, name="posembed_input")(x, positions)
        x = nn.Dropout(dropout_rate)(x, deterministic=not train)
        for i in range(cfg.num_layers):
            x = Encoder1DBlock(cfg, name=f"encoderblock_{i}")(x, mask, train, dropout_rate)
        return _layer_norm("encoder_layernorm")(x) if cfg.pre_ln else x


def shift_right(targets: jax.Array) -> jax.Array:
    """Targets moved one step right with a 0 (start) in front: the decoder's inputs."""
    return jnp.pad(targets, ((0, 0), (1, 0)))[:, :-1]


class Decoder(nn.Module):
    """Shifted targets through the decoder blocks; logits from the shared embedding."""

    config: TransformerConfig
    embedding: nn.Embed
    decode: bool = False

    @nn.compact
    def __call__(
        self,
        encoded: jax.Array,
        targets: jax.Array,
        positions: jax.Array | None,
        self_mask: jax.Array | None,
        cross_mask: jax.Array,
        train: bool,
        dropout_rate: float,
    ) -> jax.Array:
        """(B, L, vocab) logits of each next target token."""
        cfg = self.config
        y = targets.astype(jnp.int32)
        if not self.decode:
            y = shift_right(y)
        y = self.embedding(y)
        y = AddPositions(cfg, self.decode, name="posembed_output")(y, positions)
        y = nn.Dropout(dropout_rate)(y, deterministic=not train)
        for i in range(cfg.num_layers):
            block = EncoderDecoder1DBlock(cfg, self.decode, name=f"encoderdecoderblock_{i}")
            y = block(y, encoded, self_mask, cross_mask, train, dropout_rate)
        if cfg.pre_ln:
            y = _layer_norm("encoderdecoder_layernorm")(y)
        # Logits through the transposed embedding, scaled as for a shared embedding.
        return self.embedding.attend(y) / jnp.sqrt(jnp.float32(y.shape[-1]))


def _pair_mask(q: jax.Array, k: jax.Array, fn: Callable = jnp.logical_and) -> jax.Array:
    """(B, 1, Lq, Lk) mask from per-token (B, Lq) and (B, Lk) values."""
    return fn(q[:, None, :, None], k[:, None, None, :])


class Transformer(nn.Module):
    """The encoder-decoder of `config`; `decode=True` builds the one-step decoder."""

    config: TransformerConfig
    decode: bool = False

    def setup(self) -> None:
        """The shared embedding, handed to the encoder and the decoder."""
        cfg = self.config
        self.shared_embedding = nn.Embed(cfg.vocab_size, cfg.emb_dim, embedding_init=_EMBED_INIT)
        self.encoder = Encoder(cfg, self.shared_embedding)
        self.decoder = Decoder(cfg, self.shared_embedding, self.decode)

    def encode(
        self,
        inputs: jax.Array,
        positions: jax.Array | None = None,
        segmentation: jax.Array | None = None,
        train: bool = False,
        dropout_rate: float = DROPOUT_RATE,
    ) -> jax.Array:
        """(B, L, emb_dim) encoding; padding and other packed segments are masked."""
        mask = _pair_mask(inputs > 0, inputs > 0)
        if segmentation is not None:
            mask &= _pair_mask(segmentation, segmentation, jnp.equal)
        return self.encoder(inputs, positions, mask, train, dropout_rate)

    def decode_logits(
        self,
        encoded: jax.Array,
        inputs: jax.Array,
        targets: jax.Array,
        positions: jax.Array | None = None,
        inputs_segmentation: jax.Array | None = None,
        targets_segmentation: jax.Array | None = None,
        train: bool = False,
        dropout_rate: float = DROPOUT_RATE,
    ) -> jax.Array:
        """(B, L, vocab) logits of the next token at every target position."""
        if self.decode:
            self_mask = None  # the cache masks positions not yet decoded
            cross_mask = _pair_mask(jnp.ones_like(targets, bool), inputs > 0)
        else:
            causal = jnp.tril(jnp.ones((targets.shape[1],) * 2, bool))[None, None]
            self_mask = _pair_mask(targets > 0, targets > 0) & causal
            cross_mask = _pair_mask(targets > 0, inputs > 0)
        if inputs_segmentation is not None and targets_segmentation is not None:
            same = _pair_mask(targets_segmentation, targets_segmentation, jnp.equal)
            self_mask = same if self_mask is None else self_mask & same
            cross_mask &= _pair_mask(targets_segmentation, inputs_segmentation, jnp.equal)
        return self.decoder(encoded, targets, positions, self_mask, cross_mask, train, dropout_rate)

    def __call__(
        self,
        batch: Mapping[str, Any],
        train: bool = False,
        dropout_rate: float = DROPOUT_RATE,
    ) -> jax.Array:
        """Teacher-forced (B, L, vocab) logits of a batch (packed or not)."""
        inputs, targets = batch["inputs"], batch["targets"]
        encoded = self.encode(
            inputs,
            batch.get("inputs_position"),
            batch.get("inputs_segmentation"),
            train,
            dropout_rate,
        )
        return self.decode_logits(
            encoded,
            inputs,
            targets,
            batch.get("targets_position"),
            batch.get("inputs_segmentation"),
            batch.get("targets_segmentation"),
            train,
            dropout_rate,
        )

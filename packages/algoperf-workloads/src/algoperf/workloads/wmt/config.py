"""The Transformer of each wmt workload: variants are configurations of one model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

PAD_ID = 0
"""Padding (SentencePiece's unk, 0, doubles as padding, as in the reference)."""
EOS_ID = 2
"""SentencePiece's end-of-sentence id, appended to every tokenised sentence."""
DROPOUT_RATE = 0.1
"""The reference's default dropout rate (embeddings, residual branches, MLP hidden units).
Attention-probability dropout is 0, as in the reference's JAX model at HEAD."""
LAYER_NORM_EPS = 1e-6
"""Flax's LayerNorm epsilon, which the reference uses throughout."""
BEAM_SIZE = 4
LENGTH_PENALTY = 0.6
"""alpha of the beam search's length penalty ((5 + length) / 6)^alpha."""
MAX_DECODE_LENGTH = 256


@dataclass(frozen=True)
class TransformerConfig:
    """An encoder-decoder Transformer with a shared input/output embedding."""

    vocab_size: int = 32_000
    emb_dim: int = 1024
    num_heads: int = 16
    num_layers: int = 6
    """Layers of the encoder, and of the decoder."""
    qkv_dim: int = 1024
    mlp_dim: int = 1024
    max_len: int = 256
    """Rows of the sinusoidal position table, and the sequence length of batches."""
    activation: Literal["relu", "tanh"] = "relu"
    glu: bool = False
    """Whether the MLP multiplies its activation by a second (linear) projection."""
    attention_temp: float = 1.0
    """Factor on the attention queries' inputs (the reference scales `inputs_q`)."""
    pre_ln: bool = True
    """Pre-LN blocks with final encoder and decoder LayerNorms; post-LN blocks without them."""

    def __post_init__(self) -> None:
        if self.qkv_dim % self.num_heads:
            raise ValueError(
                f"TransformerConfig: qkv_dim {self.qkv_dim} is not divisible by num_heads "
                f"{self.num_heads}"
            )
        if self.emb_dim % 2 or self.emb_dim < 4:
            raise ValueError(f"TransformerConfig: emb_dim {self.emb_dim} must be even and ≥ 4")

    @property
    def num_params(self) -> int:
        """Parameters of the model, from the configuration alone (see the registry)."""
        d, m, layers = self.emb_dim, self.mlp_dim, self.num_layers
        attention = 4 * d * self.qkv_dim  # query, key, value, out; no biases
        mlp = (2 if self.glu else 1) * (d * m + m) + m * d + d
        norm = 2 * d
        encoder = layers * (attention + mlp + 2 * norm)
        decoder = layers * (2 * attention + mlp + 3 * norm)
        final = 2 * norm if self.pre_ln else 0
        return self.vocab_size * d + encoder + decoder + final


CONFIGS: Mapping[str, TransformerConfig] = MappingProxyType(
    {
        "wmt": TransformerConfig(),
        "wmt_post_ln": TransformerConfig(pre_ln=False),
        "wmt_attention_temp": TransformerConfig(attention_temp=4.0),
        "wmt_glu_tanh": TransformerConfig(activation="tanh", glu=True),
    }
)
"""Workload name to its model configuration."""
TINY: Mapping[str, int] = MappingProxyType(
    {
        "vocab_size": 64,
        "emb_dim": 32,
        "num_heads": 4,
        "num_layers": 1,
        "qkv_dim": 32,
        "mlp_dim": 48,
        "max_len": 16,
    }
)
"""`model_config` of a tiny Transformer (1 + 1 layers of width 32, 64 ids, 16 tokens a row),
over any variant's configuration: it compiles in seconds, for tests and smoke runs."""

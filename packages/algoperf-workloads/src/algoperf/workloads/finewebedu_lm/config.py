"""The decoder-only Transformer of `finewebedu_lm`, as data shared by both frameworks.

Facts from the reference (mlcommons/algorithmic-efficiency `algoperf/workloads/finewebedu_lm`,
its NanoDO-based JAX model and plainLM-based PyTorch model). Where the two reference models
differ, ours compute one function, chosen as follows:

- QK normalisation: q / (‖q‖ + ε), the JAX model's form. The PyTorch model computes
  q / ‖q‖ + ε (ε added to every component after the division), which is not a normalisation;
  the two differ by about ε = 1e-6 per component.
- MLP gate: a · sigmoid(b) over the two halves (a, b) of the first projection, which both
  reference models compute (`flax.linen.glu`, `torch.nn.GLU`); the reference workload's
  `activation` property says 'silu' but nothing reads it, and the targets were set with the
  sigmoid gate.
- The attention scale is a float32 parameter, like every other one (the JAX model created it
  in bfloat16, the PyTorch model in float32).
- Mixed precision: parameters, the residual stream, norms, rotary embedding and QK
  normalisation in float32; matrix products (projections, attention, tied output layer) in the
  compute dtype. The JAX reference kept its residual stream in bfloat16, the PyTorch one
  (autocast) in float32; we follow the latter in both frameworks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Literal

VOCAB_SIZE = 50_257
"""GPT-2 BPE vocabulary (50,256 merges and bytes plus <|endoftext|>)."""
SEQUENCE_LENGTH = 1_024
"""Tokens per training sequence; windows hold one more for the shifted targets."""
EOS_ID = 50_256
"""GPT-2's <|endoftext|>, appended to every document."""


@dataclass(frozen=True)
class LMConfig:
    """Width, depth and numerics of the decoder-only Transformer."""

    vocab_size: int = VOCAB_SIZE
    seq_len: int = SEQUENCE_LENGTH
    """Context length: sizes the rotary table and the attention scale's initial value."""
    model_dim: int = 1_024
    num_heads: int = 8
    num_layers: int = 12
    mlp_dim: int = 4_096
    """Width of the gated MLP's hidden layer, rounded up to `multiple_of`."""
    multiple_of: int = 256
    rmsnorm_epsilon: float = 1e-6
    qknorm_epsilon: float = 1e-6
    rope_theta: float = 500_000.0
    init_std: float = 0.02
    """N(0, init_std) for every matrix; residual-branch outputs get init_std / sqrt(2 layers)."""
    compute_dtype: Literal["bfloat16", "float32"] = "bfloat16"
    """Dtype of the matrix products (parameters are always float32)."""

    def __post_init__(self) -> None:
        if self.model_dim % self.num_heads:
            raise ValueError(
                f"model_dim {self.model_dim} is not divisible by num_heads {self.num_heads}"
            )
        if self.head_dim % 2:
            raise ValueError(f"head_dim {self.head_dim} must be even for rotary embeddings")

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.model_dim // self.num_heads

    @property
    def hidden_dim(self) -> int:
        """The MLP's hidden width: `mlp_dim` rounded up to `multiple_of` (4,096)."""
        return self.multiple_of * math.ceil(self.mlp_dim / self.multiple_of)

    @property
    def residual_std(self) -> float:
        """Initial std of the attention and MLP output projections."""
        return self.init_std / math.sqrt(2 * self.num_layers)

    @property
    def attn_scale_init(self) -> float:
        """The learned attention scale's initial value, log2(L² - L) (Henry et al. 2020)."""
        return math.log2(self.seq_len**2 - self.seq_len)

    @property
    def num_params(self) -> int:
        """Trainable parameters: tied embedding, per block 4 D² + 3 D F + 2 D + 1, final norm."""
        d, f = self.model_dim, self.hidden_dim
        return self.vocab_size * d + self.num_layers * (4 * d * d + 3 * d * f + 2 * d + 1) + d


FULL = LMConfig()
"""The workload's model: 252,815,372 parameters."""

TINY: Mapping[str, Any] = MappingProxyType(
    {
        "model_dim": 32,
        "num_heads": 2,
        "num_layers": 2,
        "vocab_size": 64,
        "seq_len": 16,
        "mlp_dim": 64,
        "multiple_of": 32,
        "compute_dtype": "float32",
    }
)
"""`model_config` of a tiny decoder (2 layers of width 32, 64 ids, 16 tokens a row) that
compiles in seconds, for tests and smoke runs; in float32, so that results compare across
frameworks and device counts to fp32 rounding."""

CONFIGS: Mapping[str, LMConfig] = MappingProxyType({"finewebedu_lm": FULL})
"""Workload name to its model configuration."""


def config_from(base: LMConfig, model_config: Mapping[str, Any] | LMConfig | None) -> LMConfig:
    """`base` with the fields of `model_config` replaced (the workloads' reduced-size option).

    Raises:
        ValueError: for a field `LMConfig` does not have.
    """
    if model_config is None:
        return base
    if isinstance(model_config, LMConfig):
        return model_config
    unknown = set(model_config) - set(LMConfig.__dataclass_fields__)
    if unknown:
        raise ValueError(
            f"model_config: unknown fields {sorted(unknown)}; "
            f"known: {', '.join(LMConfig.__dataclass_fields__)}"
        )
    return replace(base, **model_config)

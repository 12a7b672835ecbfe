"""The DLRM of each criteo1tb workload: variants are configurations of one model, not copies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

NUM_DENSE_FEATURES = 13
NUM_SPARSE_FEATURES = 26
EMBED_DIM = 128


@dataclass(frozen=True)
class DLRMConfig:
    """DLRM-small (dot interaction) or DLRM-ResNet (residual MLPs, concatenated embeddings)."""

    vocab_size: int = 32 * 128 * 1024
    """Rows of the one embedding table shared by all 26 categorical features (4,194,304)."""
    resnet: bool = False
    """DLRMResNet: residual MLPs and no dot interaction."""
    bottom_dims: tuple[int, ...] = (512, 256, 128)
    top_dims: tuple[int, ...] = (1024, 1024, 512, 256, 1)
    use_layer_norm: bool = False
    """LayerNorm after each hidden activation and on the embeddings (DLRM-small only)."""
    embedding_init_scale: float | None = None
    """Embedding init U[0, 1) times this; None means 1/sqrt(vocab_size)."""

    @property
    def embedding_scale(self) -> float:
        """The multiplier of the U[0, 1) embedding initialisation."""
        if self.embedding_init_scale is None:
            return self.vocab_size**-0.5
        return self.embedding_init_scale


_RESNET = DLRMConfig(resnet=True, bottom_dims=(256, 256, 256), top_dims=(256, 256, 256, 256, 1))

CONFIGS: Mapping[str, DLRMConfig] = MappingProxyType(
    {
        "criteo1tb": DLRMConfig(),
        "criteo1tb_layernorm": DLRMConfig(use_layer_norm=True),
        "criteo1tb_embed_init": DLRMConfig(embedding_init_scale=1.0),
        "criteo1tb_resnet": _RESNET,
        "criteo1tb_test": DLRMConfig(vocab_size=65_536),
    }
)
"""Workload name to its model configuration."""

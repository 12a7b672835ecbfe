"""The GNN of each ogbg workload: variants are configurations of one model, not copies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

NUM_TASKS = 128
"""Binary tasks (ogbg-molpcba assays) per graph."""
NODE_FEATURES = 9
EDGE_FEATURES = 3
DROPOUT_RATE = 0.1
"""The reference's default dropout rate."""


@dataclass(frozen=True)
class GNNConfig:
    """A jraph-style GraphNet: embed, run `num_message_passing_steps` GraphNetwork steps, decode."""

    latent_dim: int = 256
    """Width of the node and edge embeddings."""
    hidden_dims: tuple[int, ...] = (256,)
    """Widths of each update MLP [Dense → LayerNorm → activation → dropout] per layer."""
    num_message_passing_steps: int = 5
    activation: Literal["relu", "gelu", "silu"] = "relu"
    """GELU is the tanh approximation (Flax's default) in both frameworks."""
    num_outputs: int = NUM_TASKS
    """Width of the decoder output and of the initial (zero) globals."""


CONFIGS: Mapping[str, GNNConfig] = MappingProxyType(
    {
        "ogbg": GNNConfig(),
        "ogbg_gelu": GNNConfig(activation="gelu"),
        "ogbg_silu": GNNConfig(activation="silu"),
        "ogbg_model_size": GNNConfig(
            latent_dim=128, hidden_dims=(256, 256), num_message_passing_steps=3
        ),
    }
)
"""Workload name to its model configuration."""

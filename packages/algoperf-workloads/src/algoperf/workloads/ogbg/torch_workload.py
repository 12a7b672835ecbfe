"""The ogbg workloads in PyTorch."""

from __future__ import annotations

from types import MappingProxyType

import torch
from torch import nn

from algoperf.api import LossOutput, ParameterType
from algoperf.workloads.ogbg import torch_model
from algoperf.workloads.ogbg.workload import OgbgBase
from algoperf.workloads.torch_base import TorchWorkload, masked_loss_output


def binary_cross_entropy(
    labels: torch.Tensor, logits: torch.Tensor, label_smoothing: float = 0.0
) -> torch.Tensor:
    """(G, T) sigmoid cross-entropy; see the JAX workload's version."""
    labels = labels * (1.0 - label_smoothing) + label_smoothing / labels.shape[-1]
    return logits.clamp(min=0.0) - logits * labels + torch.log1p(torch.exp(-logits.abs()))


class OgbgWorkload(OgbgBase, TorchWorkload):
    """ogbg, ogbg_gelu, ogbg_silu or ogbg_model_size, chosen by the spec's name."""

    output_layer = "decoder"
    # The Linear layers that embed node and edge features are embeddings, as in the reference.
    param_type_rules = MappingProxyType(
        {torch_model.GraphNet: {r"(node|edge)_embedding\.weight": ParameterType.EMBEDDING}}
    )

    def build_model(self) -> nn.Module:
        """The configured GraphNet."""
        return torch_model.GraphNet(self.config)

    def loss_fn(
        self,
        label_batch: torch.Tensor,
        logits_batch: torch.Tensor,
        mask_batch: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
    ) -> LossOutput:
        """Masked BCE; `per_example` sums each graph's tasks, `n_valid_examples` counts labels."""
        losses = binary_cross_entropy(label_batch, logits_batch, label_smoothing)  # (G, T)
        return masked_loss_output(losses, mask_batch)

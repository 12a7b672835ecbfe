"""The ogbg workloads in PyTorch."""

from __future__ import annotations

import torch
from torch import nn

from algoperf.api import LossOutput
from algoperf.workloads.ogbg import torch_model
from algoperf.workloads.ogbg.workload import OgbgBase
from algoperf.workloads.torch_base import TorchWorkload


def masked_binary_cross_entropy(
    labels: torch.Tensor, logits: torch.Tensor, mask: torch.Tensor, label_smoothing: float = 0.0
) -> torch.Tensor:
    """(G, T) sigmoid cross-entropy, 0 where `mask` is 0; see the JAX workload's version."""
    labels = labels * (1.0 - label_smoothing) + label_smoothing / labels.shape[-1]
    losses = logits.clamp(min=0.0) - logits * labels + torch.log1p(torch.exp(-logits.abs()))
    return torch.where(mask > 0, losses, torch.zeros_like(losses))


class OgbgWorkload(OgbgBase, TorchWorkload):
    """ogbg, ogbg_gelu, ogbg_silu or ogbg_model_size, chosen by the spec's name."""

    output_layer = "decoder"

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
        mask = torch.ones_like(logits_batch) if mask_batch is None else mask_batch
        losses = masked_binary_cross_entropy(label_batch, logits_batch, mask, label_smoothing)
        per_graph = losses.sum(dim=1)  # (G,)
        return {"summed": per_graph.sum(), "n_valid_examples": mask.sum(), "per_example": per_graph}

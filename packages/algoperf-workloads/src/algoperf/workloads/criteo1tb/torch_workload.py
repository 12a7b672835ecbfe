"""The criteo1tb workloads in PyTorch."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from algoperf.api import LossOutput
from algoperf.workloads.criteo1tb import torch_model
from algoperf.workloads.criteo1tb.workload import CriteoBase
from algoperf.workloads.torch_base import TorchWorkload, masked_loss_output


class Criteo1TbWorkload(CriteoBase, TorchWorkload):
    """criteo1tb, _layernorm, _embed_init, _resnet or _test, chosen by the spec's name."""

    def build_model(self) -> nn.Module:
        """The configured DLRM."""
        return torch_model.build(self.config)

    def loss_fn(
        self,
        label_batch: torch.Tensor,
        logits_batch: torch.Tensor,
        mask_batch: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
    ) -> LossOutput:
        """Per-example sigmoid BCE (log-sigmoid form), zero where `mask_batch` is 0.

        `label_smoothing` is ignored, as in the reference (Criteo has none).
        """
        del label_smoothing
        logits = logits_batch.reshape(-1)
        labels = label_batch.reshape(-1)
        per_example = -(labels * F.logsigmoid(logits) + (1 - labels) * F.logsigmoid(-logits))
        return masked_loss_output(per_example, mask_batch)

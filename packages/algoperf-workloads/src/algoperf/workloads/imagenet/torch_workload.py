"""The PyTorch half shared by the ImageNet workloads: cross-entropy of integer or mixed labels."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from algoperf.api import LossOutput
from algoperf.workloads.torch_base import TorchClassificationWorkload, masked_loss_output


class ImagenetTorchWorkload(TorchClassificationWorkload):
    """Softmax cross-entropy of integer labels, or of (B, C) label distributions (mixup)."""

    def loss_fn(
        self,
        label_batch: torch.Tensor,
        logits_batch: torch.Tensor,
        mask_batch: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
    ) -> LossOutput:
        """Per-example (label-smoothed) cross-entropy, zero where `mask_batch` is 0.

        `label_batch` holds class indices (B,) or probabilities (B, C), as after mixup.
        """
        if label_batch.ndim == logits_batch.ndim:
            targets = label_batch.to(logits_batch.dtype)
        else:
            targets = label_batch.long()
        per_example = F.cross_entropy(
            logits_batch, targets, reduction="none", label_smoothing=label_smoothing
        )
        return masked_loss_output(per_example, mask_batch)

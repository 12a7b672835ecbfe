"""The fastmri workloads in PyTorch."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from algoperf.api import ForwardPassMode, LossOutput
from algoperf.workloads._data import NumpyBatch
from algoperf.workloads._metrics import MetricSums
from algoperf.workloads.fastmri import torch_model
from algoperf.workloads.fastmri.torch_ssim import ssim
from algoperf.workloads.fastmri.workload import FastMRIBase
from algoperf.workloads.torch_base import TorchWorkload, masked_loss_output


def mean_absolute_error(targets: torch.Tensor, outputs: torch.Tensor) -> torch.Tensor:
    """(B,) mean |outputs - targets| over each example's pixels."""
    return (outputs - targets).abs().mean(dim=tuple(range(1, outputs.ndim)))


class FastMRIWorkload(FastMRIBase, TorchWorkload):
    """fastmri, fastmri_model_size, fastmri_tanh or fastmri_layernorm, by the spec's name."""

    output_layer = "up_conv"

    def build_model(self) -> nn.Module:
        """The configured U-Net."""
        return torch_model.UNet(self.config)

    def is_output_params(self, param_key: str) -> bool:
        """Whether `param_key` is the 1x1 output conv's (`up_conv.{last}.1`, as the reference)."""
        last = self.config.num_pool_layers - 1
        return param_key.removeprefix("module.") in {
            f"up_conv.{last}.1.weight",
            f"up_conv.{last}.1.bias",
        }

    def loss_fn(
        self,
        label_batch: torch.Tensor,
        logits_batch: torch.Tensor,
        mask_batch: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
    ) -> LossOutput:
        """Per-example mean absolute error, zero where `mask_batch` is 0 (no smoothing)."""
        del label_smoothing
        return masked_loss_output(mean_absolute_error(label_batch, logits_batch), mask_batch)

    def eval_sums(self, params: Any, model_state: Any, batch: NumpyBatch) -> MetricSums:
        """SSIM and loss sums of this rank's rows (all-reduced by `split_metrics`)."""
        shard = self.place_batch(batch)
        outputs, _ = self.model_fn(params, shard, model_state, ForwardPassMode.EVAL, None, False)
        weights = shard["weights"]
        with torch.no_grad():
            values = ssim(
                outputs, shard["targets"], shard["mean"], shard["std"], shard["volume_max"]
            )
            sums = {
                "ssim": (torch.where(weights > 0, values, 0.0) * weights).sum(),
                "loss": (mean_absolute_error(shard["targets"], outputs) * weights).sum(),
                "num_examples": weights.sum(),
            }
        return {k: float(v) for k, v in sums.items()}

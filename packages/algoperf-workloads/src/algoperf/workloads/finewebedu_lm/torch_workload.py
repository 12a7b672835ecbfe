"""`finewebedu_lm` in PyTorch."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from algoperf.api import ForwardPassMode, LossOutput, ParameterType
from algoperf.workloads._data import NumpyBatch
from algoperf.workloads.finewebedu_lm import torch_model
from algoperf.workloads.finewebedu_lm.workload import LMBase
from algoperf.workloads.torch_base import TorchWorkload, masked_loss_output

_P = ParameterType


class FineWebEduLmWorkload(LMBase, TorchWorkload):
    """The decoder-only LM, an `nn.Module` computed in the configured dtype."""

    param_type_rules = MappingProxyType(
        {
            torch_model.RMSNorm: {"weight": _P.LAYER_NORM_SCALE},
            torch_model.Linear: {"weight": _P.WEIGHT},
            torch_model.CausalSelfAttention: {
                r"query\.weight": _P.ATTENTION_Q,
                r"key\.weight": _P.ATTENTION_K,
                r"value\.weight": _P.ATTENTION_V,
                r"out\.weight": _P.ATTENTION_OUT,
                "attn_scale": _P.WEIGHT,
            },
        }
    )

    def build_model(self) -> nn.Module:
        """The configured decoder-only Transformer."""
        return torch_model.DecoderOnlyTransformer(self.config)

    def loss_fn(
        self,
        label_batch: torch.Tensor,
        logits_batch: torch.Tensor,
        mask_batch: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
    ) -> LossOutput:
        """Token cross-entropy in float32; see the JAX workload's."""
        losses = F.cross_entropy(
            logits_batch.float().flatten(0, -2),
            label_batch.long().flatten(),
            reduction="none",
            label_smoothing=label_smoothing,
        ).view(label_batch.shape)  # (B, L)
        return masked_loss_output(losses, mask_batch)

    def loss_sums(self, params: Any, model_state: Any, batch: NumpyBatch) -> tuple[float, float]:
        """Summed loss and weight of this rank's rows."""
        shard = self.place_batch(batch)
        logits, _ = self.model_fn(params, shard, model_state, ForwardPassMode.EVAL, None, False)
        with torch.no_grad():
            out = self.loss_fn(shard["targets"], logits, shard["weights"])
        return out["summed"].item(), out["n_valid_examples"].item()

"""The wmt workloads in PyTorch."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from algoperf.api import ForwardPassMode, LossOutput, ParameterType
from algoperf.workloads._data import NumpyBatch
from algoperf.workloads.torch_base import TorchWorkload, masked_loss_output
from algoperf.workloads.wmt import torch_decode, torch_model
from algoperf.workloads.wmt.workload import WmtBase

MODEL_KEYS = (
    "inputs",
    "targets",
    "inputs_position",
    "targets_position",
    "inputs_segmentation",
    "targets_segmentation",
)


def token_cross_entropy(
    targets: torch.Tensor, logits: torch.Tensor, label_smoothing: float = 0.0
) -> torch.Tensor:
    """(B, L) cross-entropy against one-hot targets smoothed as optax does: y(1-s) + s/V."""
    log_probs = F.log_softmax(logits.float(), dim=-1)
    nll = -log_probs.gather(-1, targets.long()[..., None])[..., 0]
    if not label_smoothing:
        return nll
    return (1.0 - label_smoothing) * nll - label_smoothing * log_probs.mean(dim=-1)


class WmtWorkload(WmtBase, TorchWorkload):
    """wmt, wmt_post_ln, wmt_attention_temp or wmt_glu_tanh, chosen by the spec's name."""

    output_layer = "shared_embedding"
    param_type_rules = MappingProxyType(
        {
            torch_model.Attention: {
                r"query\.weight": ParameterType.ATTENTION_Q,
                r"key\.weight": ParameterType.ATTENTION_K,
                r"value\.weight": ParameterType.ATTENTION_V,
                r"out\.weight": ParameterType.ATTENTION_OUT,
            }
        }
    )

    def build_model(self) -> nn.Module:
        """The configured Transformer."""
        return torch_model.Transformer(self.config)

    def model_fn(
        self,
        params: nn.Module,
        augmented_and_preprocessed_input_batch: Any,
        model_state: Any,
        mode: ForwardPassMode,
        rng: Any,
        update_batch_norm: bool,
        dropout_rate: float | None = None,
    ) -> tuple[torch.Tensor, Any]:
        """(B, L, vocab) teacher-forced logits; dropout (torch RNG) only in TRAIN mode."""
        del rng, update_batch_norm
        batch = augmented_and_preprocessed_input_batch
        train = mode is ForwardPassMode.TRAIN
        rate = self.default_dropout_rate if dropout_rate is None else dropout_rate
        model_batch = {k: batch[k] for k in MODEL_KEYS if k in batch}
        params.train(train)
        with torch.enable_grad() if train else torch.no_grad():
            logits = params(model_batch, dropout_rate=rate)
        return logits, model_state

    def loss_fn(
        self,
        label_batch: torch.Tensor,
        logits_batch: torch.Tensor,
        mask_batch: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
    ) -> LossOutput:
        """Token cross-entropy; `per_example` sums each row's tokens.

        `n_valid_examples` counts target tokens (the weights).
        """
        losses = token_cross_entropy(label_batch, logits_batch, label_smoothing)
        return masked_loss_output(losses, mask_batch)

    def token_sums(self, params: Any, batch: NumpyBatch) -> np.ndarray:
        """(rows, 3) per-row sums of token loss, correct tokens and weights."""
        placed = self.place_batch(batch)
        logits, _ = self.model_fn(params, placed, None, ForwardPassMode.EVAL, None, False)
        weights, targets = placed["weights"].float(), placed["targets"].long()
        loss = token_cross_entropy(targets, logits) * weights
        correct = (logits.argmax(-1) == targets) * weights
        sums = torch.stack([loss.sum(1), correct.sum(1), weights.sum(1)], dim=1)
        return sums.cpu().numpy()

    def translate(self, params: Any, batch: NumpyBatch) -> np.ndarray:
        """(rows, max_len - 1) beam-search translations, all rows at once."""
        model = params.module if hasattr(params, "module") else params
        model.eval()
        inputs = self.place_batch({"inputs": batch["inputs"]})["inputs"]
        return torch_decode.beam_search(model, inputs, self.config.max_len).cpu().numpy()

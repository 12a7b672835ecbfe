"""The LibriSpeech workloads in PyTorch."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from algoperf.api import ForwardPassMode, LossOutput, ParameterType
from algoperf.workloads._data import NumpyBatch, seed_from_rng
from algoperf.workloads._params import ParamRule
from algoperf.workloads.librispeech import torch_model
from algoperf.workloads.librispeech.config import ConformerConfig
from algoperf.workloads.librispeech.workload import LibriSpeechBase
from algoperf.workloads.torch_base import TorchWorkload

_P = ParameterType


def ctc_loss_output(
    label_batch: Any, logits_batch: Any, mask_batch: torch.Tensor | None
) -> LossOutput:
    """`jax_workload.ctc_loss_output` with `torch.nn.functional.ctc_loss` (blank 0).

    Infeasible alignments count 0 (`zero_infinity`), where optax returns a large finite loss.
    """
    logits, logit_paddings = logits_batch
    ids, target_paddings = label_batch
    log_probs = F.log_softmax(logits.float(), dim=-1).transpose(0, 1)  # (T, B, V)
    input_lengths = torch.sum(1.0 - logit_paddings, dim=1).long()
    target_lengths = torch.sum(1.0 - target_paddings, dim=1).long()
    per_example = F.ctc_loss(
        log_probs,
        ids.long(),
        input_lengths,
        target_lengths,
        blank=0,
        reduction="none",
        zero_infinity=True,
    )
    tokens = target_lengths.to(per_example.dtype)
    if mask_batch is not None:
        per_example = per_example * mask_batch
        tokens = tokens * mask_batch
    return {
        "summed": per_example.sum(),
        "n_valid_examples": torch.clamp(tokens.sum(), min=1.0),
        "per_example": per_example,
    }


class LibriSpeechWorkload(LibriSpeechBase, TorchWorkload):
    """librispeech_conformer, librispeech_deepspeech and their variants, by the spec's name."""

    output_layer = "head"
    takes_update_batch_norm = True

    @property
    def param_type_rules(self) -> Mapping[type[nn.Module], ParamRule]:  # type: ignore[override]
        """Rules of this model's own classes (each must type some parameter)."""
        rules: dict[type[nn.Module], ParamRule] = {
            torch_model.LayerNorm: {"scale": _P.LAYER_NORM_SCALE, "bias": _P.LAYER_NORM_BIAS}
        }
        if isinstance(self.config, ConformerConfig):
            rules[torch_model.SelfAttention] = {
                r"query\.weight": _P.ATTENTION_Q,
                r"key\.weight": _P.ATTENTION_K,
                r"value\.weight": _P.ATTENTION_V,
                r"out\.weight": _P.ATTENTION_OUT,
                r"(query|key|value|out)\.bias": _P.ATTENTION_BIAS,
                "query_scale": _P.WEIGHT,
            }
        if isinstance(self.config, ConformerConfig) or not self.config.layernorm_everywhere:
            rules[torch_model.MaskedBatchNorm] = {
                "scale": _P.BATCH_NORM_SCALE,
                "bias": _P.BATCH_NORM_BIAS,
            }
        return MappingProxyType(rules)

    def build_model(self) -> nn.Module:
        """The configured Conformer or DeepSpeech."""
        if isinstance(self.config, ConformerConfig):
            return torch_model.Conformer(self.config)
        return torch_model.DeepSpeech(self.config)

    def model_fn(
        self,
        params: nn.Module,
        augmented_and_preprocessed_input_batch: Any,
        model_state: Any,
        mode: ForwardPassMode,
        rng: Any,
        update_batch_norm: bool,
        dropout_rate: float | None = None,
    ) -> tuple[Any, Any]:
        """(logits, logit paddings) and the model state.

        SpecAugment draws from a generator seeded by `rng` (0 when None), dropout from the
        torch RNG.
        """
        train = mode is ForwardPassMode.TRAIN
        rate = self.default_dropout_rate if dropout_rate is None else dropout_rate
        params.train(train)
        inputs = augmented_and_preprocessed_input_batch["inputs"]
        with contextlib.nullcontext() if train else torch.no_grad():
            outputs = params(
                tuple(inputs),
                dropout_rate=rate,
                update_batch_norm=train and update_batch_norm,
                specaug_seed=None if rng is None else seed_from_rng(rng),
            )
        return outputs, model_state

    def loss_fn(
        self,
        label_batch: Any,
        logits_batch: Any,
        mask_batch: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
    ) -> LossOutput:
        """CTC loss (`torch.nn.functional.ctc_loss`, blank 0); label smoothing does not apply."""
        del label_smoothing
        return ctc_loss_output(label_batch, logits_batch, mask_batch)

    def eval_ctc(
        self, params: Any, model_state: Any, batch: NumpyBatch
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-example CTC losses, best classes and logit paddings of this rank's rows."""
        shard = self.place_batch(batch)
        (logits, paddings), _ = self.model_fn(
            params, shard, model_state, ForwardPassMode.EVAL, None, False
        )
        with torch.no_grad():
            losses = ctc_loss_output(shard["targets"], (logits, paddings), None)["per_example"]
        return tuple(  # type: ignore[return-value]
            t.cpu().numpy() for t in (losses, logits.argmax(dim=-1), paddings)
        )

    def eval_outputs(
        self, params: Any, model_state: Any, batch: NumpyBatch
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Eval logits of this rank's rows, with targets and weights."""
        shard = self.place_batch(batch)
        (logits, _), _ = self.model_fn(
            params, shard, model_state, ForwardPassMode.EVAL, None, False
        )
        return logits.float().cpu().numpy(), batch["targets"], batch["weights"]

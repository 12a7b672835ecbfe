"""`finewebedu_lm` in JAX."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from algoperf.api import ForwardPassMode, LossOutput, ParameterType
from algoperf.workloads._data import NumpyBatch
from algoperf.workloads.finewebedu_lm import jax_model
from algoperf.workloads.finewebedu_lm.workload import LMBase
from algoperf.workloads.jax_base import JaxWorkload, masked_loss_output

_P = ParameterType


def token_cross_entropy(
    targets: jax.Array, logits: jax.Array, label_smoothing: float = 0.0
) -> jax.Array:
    """(B, L) cross-entropy in float32; smoothing spreads `label_smoothing` over the vocabulary.

    -(1 - s) log p[target] - (s / V) Σ log p, the reference's (and torch's) smoothing, in the
    log-sum-exp form: log p = logits - lse, so no float32 (B, L, V) log-probabilities are
    materialised (52 GB for an eval batch of 256 x 1,024 x 50,257).
    """
    lse = jax.nn.logsumexp(logits.astype(jnp.float32), axis=-1)  # (B, L)
    target = jnp.take_along_axis(logits, targets[..., None].astype(jnp.int32), axis=-1)[..., 0]
    loss = lse - target.astype(jnp.float32)
    if label_smoothing:
        mean_log_p = jnp.mean(logits.astype(jnp.float32), axis=-1) - lse
        loss = (1.0 - label_smoothing) * loss - label_smoothing * mean_log_p
    return loss


class FineWebEduLmWorkload(LMBase, JaxWorkload):
    """The decoder-only LM, a Flax module computed in the configured dtype."""

    param_type_rules = MappingProxyType(
        {
            jax_model.RMSNorm: {"scale": _P.LAYER_NORM_SCALE},
            jax_model.CausalSelfAttention: {
                "query/kernel": _P.ATTENTION_Q,
                "key/kernel": _P.ATTENTION_K,
                "value/kernel": _P.ATTENTION_V,
                "out/kernel": _P.ATTENTION_OUT,
                "attn_scale": _P.WEIGHT,
            },
        }
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loss_sums = jax.jit(self._device_loss_sums, out_shardings=self.replicated)

    def build_model(self) -> nn.Module:
        """The configured decoder-only Transformer."""
        return jax_model.DecoderOnlyTransformer(self.config)

    def example_inputs(self) -> np.ndarray:
        """One sequence of token ids."""
        return np.zeros((1, self.config.seq_len), np.int32)

    def loss_fn(
        self,
        label_batch: jax.Array,
        logits_batch: jax.Array,
        mask_batch: jax.Array | None = None,
        label_smoothing: float = 0.0,
    ) -> LossOutput:
        """Token cross-entropy; `per_example` sums sequences, `n_valid_examples` counts tokens."""
        losses = token_cross_entropy(label_batch, logits_batch, label_smoothing)  # (B, L)
        return masked_loss_output(losses, mask_batch)

    def _device_loss_sums(self, params: Any, batch: dict[str, jax.Array]) -> tuple[Any, Any]:
        logits, _ = self.model_fn(params, batch, None, ForwardPassMode.EVAL, None, False)
        out = self.loss_fn(batch["targets"], logits, batch["weights"])
        return out["summed"], out["n_valid_examples"]

    def loss_sums(self, params: Any, model_state: Any, batch: NumpyBatch) -> tuple[float, float]:
        """Summed loss and weight of this host's rows, on its devices."""
        del model_state
        loss, tokens = self._loss_sums(params, self.place_batch(batch))
        return float(loss), float(tokens)

"""The wmt workloads in JAX."""

from __future__ import annotations

import functools
from typing import Any, cast

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding

from algoperf.api import ForwardPassMode, LossOutput
from algoperf.workloads._data import NumpyBatch
from algoperf.workloads.jax_base import JaxWorkload, masked_loss_output
from algoperf.workloads.wmt import jax_decode, jax_model
from algoperf.workloads.wmt.config import TransformerConfig
from algoperf.workloads.wmt.workload import WmtBase

MODEL_KEYS = (
    "inputs",
    "targets",
    "inputs_position",
    "targets_position",
    "inputs_segmentation",
    "targets_segmentation",
)
"""The batch entries the model reads (packed training rows have all of them)."""


def token_cross_entropy(
    targets: jax.Array, logits: jax.Array, label_smoothing: float = 0.0
) -> jax.Array:
    """(B, L) cross-entropy against one-hot targets smoothed as optax does: y(1-s) + s/V."""
    one_hot = jax.nn.one_hot(targets, logits.shape[-1], dtype=jnp.float32)
    smoothed = optax.smooth_labels(one_hot, label_smoothing)
    return -jnp.sum(smoothed * jax.nn.log_softmax(logits.astype(jnp.float32)), axis=-1)


@functools.cache
def _eval_functions(config: TransformerConfig, out: NamedSharding) -> tuple[Any, Any]:
    """Jitted per-row token sums and beam search of `config`, shared by its workloads."""
    model = jax_model.Transformer(config)
    decoder = jax_model.Transformer(config, decode=True)

    def token_sums(params: Any, batch: dict[str, jax.Array]) -> jax.Array:
        logits = cast(jax.Array, model.apply({"params": params}, batch, train=False))
        weights = batch["weights"]
        loss = token_cross_entropy(batch["targets"], logits) * weights
        correct = (jnp.argmax(logits, -1) == batch["targets"]) * weights
        return jnp.stack([loss.sum(1), correct.sum(1), weights.sum(1)], axis=1)

    def translate(params: Any, inputs: jax.Array) -> jax.Array:
        return jax_decode.translate(params, inputs, decoder, config.max_len)

    return jax.jit(token_sums, out_shardings=out), jax.jit(translate, out_shardings=out)


class WmtWorkload(WmtBase, JaxWorkload):
    """wmt, wmt_post_ln, wmt_attention_temp or wmt_glu_tanh, chosen by the spec's name."""

    output_layer = "shared_embedding"

    def build_model(self) -> nn.Module:
        """The configured Transformer."""
        self._token_sums, self._translate = _eval_functions(self.config, self.replicated)
        return jax_model.Transformer(self.config)

    def example_inputs(self) -> dict[str, np.ndarray]:
        """Two rows of ones (the shapes matter, not the ids)."""
        ones = np.ones((2, self.config.max_len), np.int32)
        return {"inputs": ones, "targets": ones}

    def model_fn(
        self,
        params: Any,
        augmented_and_preprocessed_input_batch: Any,
        model_state: Any,
        mode: ForwardPassMode,
        rng: jax.Array | None,
        update_batch_norm: bool,
        dropout_rate: float | None = None,
    ) -> tuple[jax.Array, Any]:
        """(B, L, vocab) teacher-forced logits; dropout only in TRAIN mode, from `rng`."""
        del update_batch_norm
        batch = augmented_and_preprocessed_input_batch
        train = mode is ForwardPassMode.TRAIN
        rate = self.default_dropout_rate if dropout_rate is None else dropout_rate
        model_batch = {k: batch[k] for k in MODEL_KEYS if k in batch}
        rngs = {"dropout": rng} if train and rng is not None else {}
        logits = self.model.apply(
            {"params": params}, model_batch, train=train, dropout_rate=rate, rngs=rngs
        )
        return logits, model_state  # type: ignore[return-value]

    def loss_fn(
        self,
        label_batch: jax.Array,
        logits_batch: jax.Array,
        mask_batch: jax.Array | None = None,
        label_smoothing: float = 0.0,
    ) -> LossOutput:
        """Token cross-entropy; `per_example` sums each row's tokens.

        `n_valid_examples` counts target tokens (the weights).
        """
        losses = token_cross_entropy(label_batch, logits_batch, label_smoothing)
        return masked_loss_output(losses, mask_batch)

    def _rows(self, array: jax.Array) -> np.ndarray:
        rows = self.process_share.rows(len(array))
        return np.asarray(array)[rows.start : rows.stop]

    def token_sums(self, params: Any, batch: NumpyBatch) -> np.ndarray:
        """(rows, 3) per-row sums of token loss, correct tokens and weights."""
        placed = self.place_batch({k: batch[k] for k in ("inputs", "targets", "weights")})
        return self._rows(self._token_sums(params, placed))

    def translate(self, params: Any, batch: NumpyBatch) -> np.ndarray:
        """(rows, max_len - 1) beam-search translations, the whole loop jitted."""
        placed = self.place_batch({"inputs": batch["inputs"], "targets": batch["targets"]})
        return self._rows(self._translate(params, placed["inputs"]))

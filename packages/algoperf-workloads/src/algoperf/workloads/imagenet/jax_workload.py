"""The JAX half shared by the ImageNet workloads: cross-entropy of integer or mixed labels."""

from __future__ import annotations

import jax
import optax

from algoperf.api import LossOutput
from algoperf.workloads.jax_base import JaxClassificationWorkload, masked_loss_output


class ImagenetJaxWorkload(JaxClassificationWorkload):
    """Softmax cross-entropy of integer labels, or of (B, C) label distributions (mixup)."""

    def loss_fn(
        self,
        label_batch: jax.Array,
        logits_batch: jax.Array,
        mask_batch: jax.Array | None = None,
        label_smoothing: float = 0.0,
    ) -> LossOutput:
        """Per-example (label-smoothed) cross-entropy, zero where `mask_batch` is 0.

        `label_batch` holds class indices (B,) or probabilities (B, C), as after mixup;
        smoothing mixes either with the uniform distribution (optax's `smooth_labels`).
        """
        if label_batch.ndim == logits_batch.ndim:
            targets = label_batch.astype(logits_batch.dtype)
        else:
            targets = jax.nn.one_hot(label_batch, logits_batch.shape[-1])
        targets = optax.smooth_labels(targets, label_smoothing)
        return masked_loss_output(optax.softmax_cross_entropy(logits_batch, targets), mask_batch)

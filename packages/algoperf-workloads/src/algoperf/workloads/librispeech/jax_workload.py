"""The LibriSpeech workloads in JAX."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from algoperf.api import ForwardPassMode, LossOutput, ParameterType
from algoperf.workloads._data import NumpyBatch
from algoperf.workloads._params import ParamRule
from algoperf.workloads.jax_base import JaxWorkload
from algoperf.workloads.jax_params import BATCH_NORM, LAYER_NORM
from algoperf.workloads.librispeech import jax_model
from algoperf.workloads.librispeech.config import ConformerConfig
from algoperf.workloads.librispeech.data import Padded
from algoperf.workloads.librispeech.workload import LibriSpeechBase

_P = ParameterType


def ctc_loss_output(
    label_batch: Any, logits_batch: Any, mask_batch: jax.Array | None
) -> LossOutput:
    """Per-example CTC (blank 0) losses; `n_valid_examples` counts the unpadded target tokens."""
    logits, logit_paddings = logits_batch
    ids, target_paddings = label_batch
    per_example = optax.ctc_loss(
        logits, logit_paddings, ids.astype(jnp.int32), target_paddings, blank_id=0
    )
    tokens = jnp.sum(1.0 - target_paddings, axis=1)
    if mask_batch is not None:
        per_example = per_example * mask_batch
        tokens = tokens * mask_batch
    return {
        "summed": jnp.sum(per_example),
        "n_valid_examples": jnp.maximum(jnp.sum(tokens), 1.0),
        "per_example": per_example,
    }


class LibriSpeechWorkload(LibriSpeechBase, JaxWorkload):
    """librispeech_conformer, librispeech_deepspeech and their variants, by the spec's name."""

    output_layer = "head"

    @property
    def param_type_rules(self) -> Mapping[type[nn.Module], ParamRule]:  # type: ignore[override]
        """Rules of this model's own classes (each must type some parameter)."""
        rules: dict[type[nn.Module], ParamRule] = {jax_model.LayerNorm: LAYER_NORM}
        if isinstance(self.config, ConformerConfig):
            rules[jax_model.SelfAttention] = {
                "query/kernel": _P.ATTENTION_Q,
                "key/kernel": _P.ATTENTION_K,
                "value/kernel": _P.ATTENTION_V,
                "out/kernel": _P.ATTENTION_OUT,
                "(query|key|value|out)/bias": _P.ATTENTION_BIAS,
                "query_scale": _P.WEIGHT,
            }
        else:
            rules[jax_model.LSTMDirection] = {"(ih|hh)_kernel": _P.WEIGHT, "(ih|hh)_bias": _P.BIAS}
        if isinstance(self.config, ConformerConfig) or not self.config.layernorm_everywhere:
            rules[jax_model.MaskedBatchNorm] = BATCH_NORM
        return MappingProxyType(rules)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._eval_ctc = jax.jit(self._eval_ctc_fn, out_shardings=self.replicated)

    def build_model(self) -> nn.Module:
        """The configured Conformer or DeepSpeech."""
        if isinstance(self.config, ConformerConfig):
            return jax_model.Conformer(self.config)
        return jax_model.DeepSpeech(self.config)

    def example_inputs(self) -> Padded:
        """Two examples of the workload's audio length, one padded."""
        audio = np.zeros((2, self.audio_length), np.float32)
        paddings = np.zeros((2, self.audio_length), np.float32)
        paddings[1, self.audio_length // 2 :] = 1.0
        return Padded(audio, paddings)

    def place_batch(self, batch: NumpyBatch) -> dict[str, Any]:
        """Host rows sharded over the mesh (the per-example weights give the batch size)."""
        size, devices = len(batch["weights"]), self.mesh.size
        if size % devices:
            raise ValueError(
                f"global batch size {size} is not divisible by the {devices} local devices"
            )
        return jax.tree.map(
            lambda rows: jax.make_array_from_process_local_data(self.batch_sharded, rows),
            dict(batch),
        )

    def loss_fn(
        self,
        label_batch: Any,
        logits_batch: Any,
        mask_batch: jax.Array | None = None,
        label_smoothing: float = 0.0,
    ) -> LossOutput:
        """CTC loss (`optax.ctc_loss`, blank 0); label smoothing does not apply."""
        del label_smoothing
        return ctc_loss_output(label_batch, logits_batch, mask_batch)

    def _eval_ctc_fn(self, params: Any, model_state: Any, batch: dict[str, Any]) -> Any:
        (logits, paddings), _ = self.model_fn(
            params, batch, model_state, ForwardPassMode.EVAL, None, False
        )
        losses = ctc_loss_output(batch["targets"], (logits, paddings), None)["per_example"]
        return losses, jnp.argmax(logits, axis=-1), paddings

    def eval_ctc(
        self, params: Any, model_state: Any, batch: NumpyBatch
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-example CTC losses, best classes and logit paddings of this host's rows."""
        outputs = [
            np.asarray(x) for x in self._eval_ctc(params, model_state, self.place_batch(batch))
        ]
        rows = self.process_share.rows(len(outputs[0]))
        return tuple(x[rows.start : rows.stop] for x in outputs)  # type: ignore[return-value]

    def eval_outputs(
        self, params: Any, model_state: Any, batch: NumpyBatch
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Eval logits (with paddings zeroing nothing) of this host's rows, with targets."""
        logits = np.asarray(self._eval_logits(params, model_state, self.place_batch(batch))[0])
        rows = self.process_share.rows(len(logits))
        return logits[rows.start : rows.stop], batch["targets"], batch["weights"]

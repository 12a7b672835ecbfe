"""JAX half of a workload: a 1-D device mesh, replicated parameters, batch-sharded inputs.

Parameters are replicated (`P()`) and batches are global arrays sharded on their leading axis
(`P('batch')`) over all local devices; jitted steps then run data-parallel and XLA inserts the
collectives (reference-spec 2.8, v0.6). There is no `pmap`.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, cast

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from algoperf.api import ForwardPassMode, LossOutput, RuleVersion, WorkloadSpec
from algoperf.workloads._base import NumpyDataWorkload
from algoperf.workloads._data import NumpyBatch
from algoperf.workloads._metrics import MetricSums, classification_sums
from algoperf.workloads._params import ParamRule
from algoperf.workloads._pipeline import ProcessShare
from algoperf.workloads.jax_params import flax_param_types


def masked_loss_output(per_example: jax.Array, mask: jax.Array | None) -> LossOutput:
    """`loss_fn`'s result from unreduced losses: zeroed where `mask` is 0, summed, and counted.

    Args:
        per_example: (B,) losses, or (B, ...) with trailing axes (ogbg's tasks) that the
            'per_example' entry sums.
        mask: 0/1 weights with as many entries as `per_example` (reshaped to its shape);
            None counts every entry as valid.
    """
    if mask is None:
        n_valid = jnp.asarray(per_example.size, per_example.dtype)
    else:
        mask = mask.reshape(per_example.shape)
        per_example = per_example * mask
        n_valid = jnp.sum(mask)
    if per_example.ndim > 1:
        per_example = per_example.reshape(len(per_example), -1).sum(axis=1)
    return {"summed": jnp.sum(per_example), "n_valid_examples": n_valid, "per_example": per_example}


def batch_mesh() -> Mesh:
    """A 1-D mesh named 'batch' over all local devices."""
    return Mesh(np.array(jax.local_devices()), ("batch",))


class JaxWorkload(NumpyDataWorkload):
    """A workload whose model is a Flax linen module called as `module(x, train=, dropout_rate=)`.

    Every variable collection besides 'params' (batch norm's 'batch_stats') is model state.
    """

    output_layer: ClassVar[str] = "head"
    """Name of the output layer's top-level parameter collection."""
    default_dropout_rate: ClassVar[float | None] = 0.0
    """Dropout rate used when `model_fn` gets `dropout_rate=None`; None for a model without
    dropout, which is then called without `dropout_rate`."""
    param_type_rules: ClassVar[Mapping[type[nn.Module], ParamRule]] = MappingProxyType({})
    """Parameter types for the model's own module classes (see `jax_params.flax_param_types`)."""

    def __init__(
        self, spec: WorkloadSpec, rules: str | RuleVersion | None = None, **options: Any
    ) -> None:
        super().__init__(spec, rules, **options)
        self.mesh = batch_mesh()
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        self.batch_sharded = NamedSharding(self.mesh, PartitionSpec("batch"))
        self.model = self.build_model()
        self._eval_logits = jax.jit(self._eval_forward, out_shardings=self.replicated)

    @abc.abstractmethod
    def build_model(self) -> nn.Module:
        """The Flax module."""

    @abc.abstractmethod
    def example_inputs(self) -> Any:
        """A small input batch, for shape inference at initialisation."""

    @property
    def num_batch_shards(self) -> int:
        """The local devices of the mesh."""
        return self.mesh.size

    def abstract_params(self) -> Any:
        """Parameter shapes and dtypes (`jax.ShapeDtypeStruct`), computed without allocating."""
        init = jax.eval_shape(
            lambda: self.model.init(
                {"params": jax.random.PRNGKey(0)}, self.example_inputs(), train=False
            )
        )
        return init["params"]

    @property
    def process_share(self) -> ProcessShare:
        """This host's rows of every global batch; it feeds all its local devices."""
        return ProcessShare(jax.process_index(), jax.process_count())

    def place_batch(self, batch: NumpyBatch) -> dict[str, jax.Array]:
        """This host's rows as parts of global arrays sharded over the mesh's batch axis."""
        size, devices = len(batch["targets"]), self.mesh.size  # every leaf's axis 0 is sharded
        if size % devices:
            raise ValueError(
                f"global batch size {size} is not divisible by the {devices} local devices"
            )
        return jax.tree.map(
            lambda rows: jax.make_array_from_process_local_data(self.batch_sharded, rows),
            dict(batch),
        )

    def init_model_fn(self, rng: jax.Array) -> tuple[Any, Any]:
        """Parameters and model state, replicated over the mesh.

        The state is every collection besides 'params' (batch-norm running statistics, mean 0
        and variance 1), or None when there are none.
        """
        state = self.initial_variables(rng)
        params = state.pop("params")
        self._param_shapes = jax.tree.map(lambda p: p.shape, params)
        self._param_types = flax_param_types(
            lambda: self.model.init({"params": rng}, self.example_inputs(), train=False),
            self.param_type_rules,
        )
        state = jax.device_put(state, self.replicated) if state else None
        return jax.device_put(params, self.replicated), state

    def initial_variables(self, rng: jax.Array) -> dict[str, Any]:
        """The model's initial variables ('params' and any state collections)."""
        # One compiled init instead of op-by-op dispatch (seconds for message-passing models).
        init = jax.jit(self.model.init, static_argnames="train")
        return dict(init({"params": rng}, self.example_inputs(), train=False))

    def is_output_params(self, param_key: str) -> bool:
        """Whether `param_key` is the output layer's top-level key."""
        return param_key == self.output_layer

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
        """Logits and the model state (see `Workload` for the batch-norm contract).

        TRAIN normalises with the statistics of the whole global batch and returns updated
        model state only when `update_batch_norm`; EVAL uses the running statistics and
        returns the state unchanged. Dropout only in TRAIN mode, drawing from `rng`.
        """
        train = mode is ForwardPassMode.TRAIN
        variables = {"params": params, **(model_state or {})}
        inputs = augmented_and_preprocessed_input_batch["inputs"]
        kwargs: dict[str, Any] = {"train": train}
        if self.default_dropout_rate is not None:
            kwargs["dropout_rate"] = (
                self.default_dropout_rate if dropout_rate is None else dropout_rate
            )
        if train and rng is not None:
            kwargs["rngs"] = {"dropout": rng}
        if not (train and model_state):
            # Without `mutable`, flax's `apply` returns the output alone (annotated as a union).
            return cast(jax.Array, self.model.apply(variables, inputs, **kwargs)), model_state
        # Training batch norm writes its statistics, so they must be mutable even when unused.
        logits, new_state = self.model.apply(variables, inputs, mutable=list(model_state), **kwargs)
        return logits, (dict(new_state) if update_batch_norm else model_state)

    def _eval_forward(self, params: Any, model_state: Any, batch: dict[str, jax.Array]) -> Any:
        logits, _ = self.model_fn(params, batch, model_state, ForwardPassMode.EVAL, None, False)
        return logits

    def eval_outputs(
        self, params: Any, model_state: Any, batch: NumpyBatch
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Eval logits of this host's rows, gathered from its devices, with their labels."""
        logits = np.asarray(self._eval_logits(params, model_state, self.place_batch(batch)))
        rows = self.process_share.rows(len(logits))
        return logits[rows.start : rows.stop], batch["targets"], batch["weights"]

    def sum_over_processes(self, sums: MetricSums) -> MetricSums:
        """The sums as they are: one process sees every local device's results."""
        return sums

    def gather_over_processes(self, array: np.ndarray) -> np.ndarray:
        """The array as it is: one process sees every local device's results."""
        return array


class JaxClassificationWorkload(JaxWorkload):
    """Softmax cross-entropy over integer targets; accuracy and loss metrics."""

    def loss_fn(
        self,
        label_batch: jax.Array,
        logits_batch: jax.Array,
        mask_batch: jax.Array | None = None,
        label_smoothing: float = 0.0,
    ) -> LossOutput:
        """Per-example (label-smoothed) cross-entropy, zero where `mask_batch` is 0."""
        one_hot = jax.nn.one_hot(label_batch, logits_batch.shape[-1])
        targets = optax.smooth_labels(one_hot, label_smoothing)
        per_example = optax.softmax_cross_entropy(logits_batch, targets)
        return masked_loss_output(per_example, mask_batch)

    def metric_sums(
        self, logits: np.ndarray, targets: np.ndarray, weights: np.ndarray
    ) -> MetricSums:
        """Loss and accuracy sums (numpy, shared with PyTorch)."""
        return classification_sums(logits, targets, weights)

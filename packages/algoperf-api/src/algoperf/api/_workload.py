"""The framework-neutral `Workload` interface that JAX and PyTorch workloads implement.

Targets, budgets and sizes are not re-declared here: they are read from the workload's
`WorkloadSpec` in the registry, so scoring and the harness see the same numbers.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal, Protocol, TypedDict, runtime_checkable

from algoperf.api._enums import ForwardPassMode, LossType, Ruleset
from algoperf.api._rules import RuleVersion, get_rules
from algoperf.api._submission import ModelAuxiliaryState, ParameterContainer, RandomState
from algoperf.api._workload_spec import WorkloadSpec

Split = Literal["train", "eval_train", "validation", "test"]
Batch = Mapping[str, Any]
MetricsLogger = Callable[[Mapping[str, float], int], None]
"""Called as `logger(metrics, global_step)` by submissions that log per-step scalars."""


@runtime_checkable
class ResumableQueue(Protocol):
    """A training input queue whose position is a small state, saved in checkpoints.

    A resumed trial restores the state instead of replaying the batches before it; queues
    without one are replayed.
    """

    def __next__(self) -> Batch: ...

    def get_state(self) -> dict[str, Any]:
        """Where the queue is, as JSON-serialisable values; the next batch follows it."""
        ...

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue from `state` without loading the batches before it."""
        ...


class TrainingCompleteError(Exception):
    """Raised by `update_params` to end training; the harness then runs one final eval."""


class LossOutput(TypedDict):
    """What `Workload.loss_fn` returns; values are per device, not summed across devices."""

    summed: Any
    """Sum of the per-example losses (weighted by the mask)."""
    n_valid_examples: Any
    """Number (or total weight) of valid examples in the batch."""
    per_example: Any
    """1-D array of per-example losses."""


class Workload(abc.ABC):
    """A dataset, model, loss and metric with a fixed target, in one framework.

    Batch-norm contract (both frameworks): in `ForwardPassMode.TRAIN` batch statistics
    normalise the batch and `update_batch_norm` only decides whether running statistics are
    updated; in `ForwardPassMode.EVAL` running statistics are used and never updated.
    """

    def __init__(self, spec: WorkloadSpec, rules: str | RuleVersion | None = None) -> None:
        self.spec = spec
        self.rules = get_rules(rules)
        self.metrics_logger: MetricsLogger | None = None
        self._param_shapes: Any = None
        self._param_types: Any = None

    # --- Metadata, from the registry -------------------------------------------------------

    @property
    def name(self) -> str:
        """Registry name of the workload."""
        return self.spec.name

    @property
    def target_metric_name(self) -> str:
        """Metric compared with the targets."""
        return self.spec.target_metric

    @property
    def validation_target_value(self) -> float:
        """Validation target of `target_metric_name`."""
        return self.spec.validation_target

    @property
    def test_target_value(self) -> float | None:
        """Test target of `target_metric_name` (None without a test split)."""
        return self.spec.test_target

    @property
    def loss_type(self) -> LossType:
        """The training loss."""
        return self.spec.loss_type

    @property
    def num_train_examples(self) -> int:
        """Training-split size."""
        return self.spec.num_train_examples

    @property
    def num_eval_train_examples(self) -> int:
        """Training examples evaluated at each eval."""
        return self.spec.num_eval_train_examples

    @property
    def num_validation_examples(self) -> int:
        """Validation-split size."""
        return self.spec.num_validation_examples

    @property
    def num_test_examples(self) -> int | None:
        """Test-split size, or None without a test split."""
        return self.spec.num_test_examples

    @property
    def eval_batch_size(self) -> int:
        """Global eval batch size."""
        return self.spec.eval_batch_size

    @property
    def eval_period_time_sec(self) -> float:
        """Seconds of submission time between evals."""
        return self.spec.eval_period_sec

    @property
    def max_allowed_runtime_sec(self) -> float:
        """External-tuning budget under this workload's rule version."""
        return self.spec.max_runtime_sec(self.rules, Ruleset.EXTERNAL)

    @property
    def step_hint(self) -> int:
        """Step hint under this workload's rule version (for LR schedules)."""
        return self.spec.step_hint(self.rules)

    def has_reached_validation_target(self, eval_result: Mapping[str, float]) -> bool:
        """Whether `eval_result['validation/<metric>']` reaches the validation target."""
        return self.spec.has_reached_validation_target(eval_result)

    def has_reached_test_target(self, eval_result: Mapping[str, float]) -> bool:
        """Whether `eval_result['test/<metric>']` reaches the test target."""
        return self.spec.has_reached_test_target(eval_result)

    # --- Parameters --------------------------------------------------------------------------

    @property
    def param_shapes(self) -> Any:
        """Tree of parameter shapes; set by `init_model_fn`."""
        if self._param_shapes is None:
            raise RuntimeError("param_shapes is set by init_model_fn; call it first")
        return self._param_shapes

    @property
    def model_params_types(self) -> Any:
        """Tree of `ParameterType` with the structure of the parameters; set by init_model_fn."""
        if self._param_types is None:
            raise RuntimeError("model_params_types is set by init_model_fn; call it first")
        return self._param_types

    def attach_metrics_logger(self, logger: MetricsLogger | None) -> None:
        """Let submissions log per-step scalars (loss, grad norm) through `metrics_logger`."""
        self.metrics_logger = logger

    # --- Framework-specific ------------------------------------------------------------------

    @abc.abstractmethod
    def init_model_fn(self, rng: RandomState) -> tuple[ParameterContainer, ModelAuxiliaryState]:
        """Initialise parameters and model state; sets `param_shapes` and parameter types."""

    @abc.abstractmethod
    def model_fn(
        self,
        params: ParameterContainer,
        augmented_and_preprocessed_input_batch: Batch,
        model_state: ModelAuxiliaryState,
        mode: ForwardPassMode,
        rng: RandomState,
        update_batch_norm: bool,
        dropout_rate: float | None = None,
    ) -> tuple[Any, ModelAuxiliaryState]:
        """Forward pass returning (logits before the output activation, new model state).

        `dropout_rate` may change from step to step; None uses the model's default.
        """

    @abc.abstractmethod
    def loss_fn(
        self,
        label_batch: Any,
        logits_batch: Any,
        mask_batch: Any | None = None,
        label_smoothing: float = 0.0,
    ) -> LossOutput:
        """Per-example losses and their (masked) sum, without regularisation or device sync."""

    @abc.abstractmethod
    def is_output_params(self, param_key: str) -> bool:
        """Whether `param_key` names a parameter of the output layer."""

    @abc.abstractmethod
    def build_input_queue(
        self, data_rng: RandomState, split: Split, data_dir: str | None, global_batch_size: int
    ) -> Iterator[Batch]:
        """Batches of `split` for the harness; submissions must not call this.

        Training iterators are infinite and shuffled, and should be `ResumableQueue`s so a
        resumed trial need not replay them. Eval iterators are padded to the batch size,
        with `weights` 0 on padding.
        """

    @abc.abstractmethod
    def eval_model(
        self,
        global_batch_size: int,
        params: ParameterContainer,
        model_state: ModelAuxiliaryState,
        rng: RandomState,
        data_dir: str | None,
        global_step: int = 0,
    ) -> dict[str, float]:
        """Evaluate on eval_train, validation and test; keys like 'validation/accuracy'."""

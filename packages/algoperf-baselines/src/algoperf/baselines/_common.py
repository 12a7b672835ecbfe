"""Framework-neutral pieces every baseline shares: batch size, data selection, options.

Also the few shape rules (which axes Adafactor factors, Muon's scale) that both frameworks
must apply identically, so they are written once here.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from algoperf.api import Hyperparameters, UnknownNameError, get_workload_spec

NADAMW_SELF_TUNING = Hyperparameters(
    dropout_rate=0.1,
    learning_rate=0.0017486387539278373,
    one_minus_beta1=0.06733926164,
    beta2=0.9955159689799007,
    weight_decay=0.08121616522670176,
    warmup_factor=0.02,
)
"""The self-tuning NAdamW baseline's fixed point (reference-spec 6.4); no label smoothing."""

ADAM_HYPERPARAMETERS = (
    "learning_rate",
    "one_minus_beta1",
    "beta2",
    "weight_decay",
    "warmup_factor",
)
"""What the Adam-like baselines read: the rule's (`adam_like`) and the warmup's."""
ADAFACTOR_HYPERPARAMETERS = ("learning_rate", "one_minus_beta1", "weight_decay", "warmup_factor")
"""Adafactor's: the Adam-like names but `beta2` (its second-moment decay is fixed)."""
SGD_HYPERPARAMETERS = (
    "learning_rate",
    "one_minus_beta1",
    "weight_decay",
    "warmup_factor",
    "decay_steps_factor",
    "end_factor",
)
"""What momentum and Nesterov read: the rule's and warmup + linear decay's."""

GRAD_CLIP_EPS = 1e-6
"""Added to the gradient norm before clipping, as `torch.nn.utils.clip_grad_norm_` does."""

LOG_EVERY = 100
"""Steps between loss / gradient-norm logs (the NAdamW baseline's period)."""


def get_batch_size(workload_name: str) -> int:
    """The registry's baseline batch size of `workload_name`.

    Raises:
        ValueError: for an unregistered name, so the harness retries with the base name.
    """
    try:
        return get_workload_spec(workload_name).baseline_batch_size
    except UnknownNameError as e:
        raise ValueError(str(e)) from None


def data_selection(
    workload: Any,
    input_queue: Iterator[Mapping[str, Any]],
    optimizer_state: Any,
    current_param_container: Any,
    model_state: Any,
    hyperparameters: Hyperparameters | None,
    global_step: int,
    rng: Any,
) -> Mapping[str, Any]:
    """The next batch of the workload's own input queue."""
    del workload, optimizer_state, current_param_container, model_state
    del hyperparameters, global_step, rng
    return next(input_queue)


class Baseline:
    """The framework-free part of the JAX and PyTorch submission objects.

    The batch size, data selection, and which hyperparameters the baseline requires or fixes.

    Args:
        hyperparameters: the names the optimizer and its schedule read; with the subclass's
            `step_hyperparameters`, the search space must set them.
        fixed_hyperparameters: the self-tuning point; None for external tuning.
    """

    step_hyperparameters: tuple[str, ...] = ()
    """Names the train step itself reads (beyond the optional `TrainOptions`)."""

    def __init__(
        self, hyperparameters: Collection[str], fixed_hyperparameters: Hyperparameters | None
    ) -> None:
        self.fixed_hyperparameters = fixed_hyperparameters
        self._hyperparameters = tuple(hyperparameters)

    get_batch_size = staticmethod(get_batch_size)
    data_selection = staticmethod(data_selection)

    @property
    def required_hyperparameters(self) -> tuple[str, ...]:
        """What `algoperf.api.check_search_space` asks of a search space; none when self-tuning."""
        if self.fixed_hyperparameters is not None:
            return ()
        return self._hyperparameters + self.step_hyperparameters

    def resolve(self, hyperparameters: Mapping[str, Any] | None) -> Hyperparameters:
        """The fixed point of a self-tuning baseline, else the tuning trial's hyperparameters.

        Raises:
            ValueError: an external-tuning baseline was called without hyperparameters.
        """
        if self.fixed_hyperparameters is not None:
            return self.fixed_hyperparameters
        if hyperparameters is None:
            raise ValueError(
                "this external-tuning baseline needs hyperparameters from its search space; "
                "run it with the external ruleset or use the self-tuning submission"
            )
        return Hyperparameters(hyperparameters)


@dataclass(frozen=True)
class TrainOptions:
    """What the shared train step reads from the hyperparameters, with defaults."""

    label_smoothing: float = 0.0
    dropout_rate: float | None = None
    """None keeps the model's default rate."""
    grad_clip: float | None = None
    """Global-norm clipping threshold; None disables clipping."""

    @classmethod
    def from_hyperparameters(cls, hyperparameters: Mapping[str, Any]) -> TrainOptions:
        """Options of `hyperparameters`; absent names take the defaults."""
        dropout = hyperparameters.get("dropout_rate")
        clip = hyperparameters.get("grad_clip")
        return cls(
            label_smoothing=float(hyperparameters.get("label_smoothing", 0.0)),
            dropout_rate=None if dropout is None else float(dropout),
            grad_clip=None if clip is None else float(clip),
        )


def hyperparameters_key(hyperparameters: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """A hashable key of `hyperparameters`, for caching compiled steps."""
    return tuple(sorted(hyperparameters.items()))


def factored_dims(shape: tuple[int, ...], min_dim_size_to_factor: int) -> tuple[int, int] | None:
    """The axes (second largest, largest) over which Adafactor factors its second moment.

    None when the second largest axis is below `min_dim_size_to_factor` (then the moment is
    kept whole). Sizes, not positions, choose the axes, so JAX's (in, out) and PyTorch's
    (out, in) layouts of one layer factor the same way (optax's rule, with a stable sort).
    """
    if len(shape) < 2:
        return None
    order = np.argsort(shape, kind="stable")
    second, largest = int(order[-2]), int(order[-1])
    if shape[second] < min_dim_size_to_factor:
        return None
    return second, largest


def muon_scale(shape: tuple[int, ...]) -> float:
    """`0.2 * sqrt(max(rows, cols))`: makes Muon's update RMS match AdamW's (Moonlight).

    Symmetric in the two axes, so it does not depend on the framework's weight layout.
    """
    return 0.2 * float(np.sqrt(max(shape)))


NEWTON_SCHULZ_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
"""Muon's quintic Newton-Schulz coefficients (Jordan et al., 2024)."""
NEWTON_SCHULZ_STEPS = 5

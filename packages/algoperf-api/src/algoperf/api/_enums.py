"""Enumerations shared by every package: losses, modes, parameter types, frameworks, rulesets."""

from __future__ import annotations

import enum

import numpy as np
import numpy.typing as npt


class LossType(enum.Enum):
    """The loss a workload trains with; values match the reference implementation."""

    SOFTMAX_CROSS_ENTROPY = 0
    SIGMOID_CROSS_ENTROPY = 1
    MEAN_SQUARED_ERROR = 2
    CTC_LOSS = 3
    MEAN_ABSOLUTE_ERROR = 4


class ForwardPassMode(enum.Enum):
    """Whether `model_fn` runs a training or an evaluation forward pass."""

    TRAIN = 0
    EVAL = 1


class ParameterType(enum.Enum):
    """Role of a parameter tensor, so submissions can treat parameters generically."""

    WEIGHT = 0
    BIAS = 1
    CONV_WEIGHT = 2
    BATCH_NORM_SCALE = 3
    BATCH_NORM_BIAS = 4
    LAYER_NORM_SCALE = 5
    LAYER_NORM_BIAS = 6
    EMBEDDING = 7
    ATTENTION_Q = 8
    ATTENTION_K = 9
    ATTENTION_V = 10
    ATTENTION_OUT = 11
    ATTENTION_QKV = 12
    ATTENTION_KV = 13
    ATTENTION_BIAS = 14


class Framework(enum.StrEnum):
    """The deep-learning framework a trial runs in."""

    JAX = "jax"
    PYTORCH = "pytorch"


class Ruleset(enum.StrEnum):
    """The tuning ruleset: external (the harness samples hyperparameters) or self-tuning."""

    EXTERNAL = "external"
    SELF = "self"


class MetricDirection(enum.StrEnum):
    """Whether lower or higher values of a workload's target metric are better.

    The comparison is non-strict (a value equal to the target reaches it) and NaN never
    reaches a target. The harness and scoring both call `reached`, so they cannot disagree
    (the reference's runner used strict and its scoring non-strict comparisons).
    """

    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"

    def reached(self, value: float, target: float) -> bool:
        """Whether `value` reaches `target` in this direction."""
        if self is MetricDirection.MINIMIZE:
            return bool(value <= target)
        return bool(value >= target)

    def reached_array(self, values: npt.ArrayLike, target: float) -> npt.NDArray[np.bool_]:
        """Element-wise `reached` over an array of metric values (NaN gives False)."""
        values = np.asarray(values, dtype=np.float64)
        if self is MetricDirection.MINIMIZE:
            return values <= target
        return values >= target

"""The typed metadata of one workload: targets, budgets, split sizes and batch sizes."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from algoperf.api._enums import LossType, MetricDirection, Ruleset
from algoperf.api._errors import UnknownNameError, check_bounds
from algoperf.api._rules import RULE_VERSIONS, RuleVersion, get_rules


class WorkloadKind(enum.StrEnum):
    """What a workload is for."""

    BASE = "base"
    """One of the benchmark's scored workloads."""
    VARIANT = "variant"
    """A modified base workload (candidate held-out workload)."""
    TEST = "test"
    """A shrunken workload for CI only; never scored."""
    DEV = "dev"
    """A development workload (small data, quick to train); never scored."""


# Frozen dataclasses like `RuleVersion` (see there why).
@dataclass(frozen=True, kw_only=True)
class Budget:
    """Time budget and schedule hint of a workload under one rule version."""

    max_runtime_sec: int
    """External-tuning budget in seconds of accumulated submission time."""
    step_hint: int
    """Approximate number of steps the baseline takes within the budget (for LR schedules)."""

    def __post_init__(self) -> None:
        check_bounds(self, max_runtime_sec=self.max_runtime_sec, step_hint=self.step_hint)


@dataclass(frozen=True, kw_only=True)
class WorkloadSpec:
    """Everything the benchmark needs to know about a workload, with no framework code."""

    name: str
    """Registry name, e.g. 'imagenet_resnet_silu'."""
    base_workload: str
    """Name of the base workload (the workload's own name for base and dev workloads)."""
    kind: WorkloadKind
    """Base, variant, test or dev workload."""
    dataset: str
    """Dataset the workload reads, e.g. 'imagenet'; held-out variants are grouped by it."""
    model: str
    """Short description of the model, e.g. 'ResNet-50 v1'."""
    loss_type: LossType
    """The training loss."""
    target_metric: str
    """Metric compared with the targets, e.g. 'accuracy', 'wer', 'mean_average_precision'."""
    metric_direction: MetricDirection
    """Whether lower or higher values of `target_metric` are better."""
    eval_metrics: tuple[str, ...]
    """Metrics reported per split by an eval (`target_metric` among them)."""
    validation_target: float
    """Value of `target_metric` on the validation split that ends the timed run."""
    test_target: float | None
    """Value of `target_metric` on the test split (None when the workload has no test split)."""
    budgets: Mapping[str, Budget]
    """Budget and step hint per rule-version name."""
    eval_period_sec: float
    """Seconds of submission time between evals (at least)."""
    num_train_examples: int
    """Training-split size."""
    num_eval_train_examples: int
    """Training examples evaluated at each eval."""
    num_validation_examples: int
    """Validation-split size."""
    num_test_examples: int | None = None
    """Test-split size (None when the workload has no test split)."""
    eval_batch_size: int
    """Global batch size of evals (the same in both frameworks)."""
    baseline_batch_size: int
    """Global training batch size of the target-setting baselines."""
    num_params: int | None = None
    """Trainable parameter count of the model (None where not established)."""

    def __post_init__(self) -> None:
        check_bounds(
            self,
            eval_period_sec=self.eval_period_sec,
            num_train_examples=self.num_train_examples,
            num_eval_train_examples=self.num_eval_train_examples,
            num_validation_examples=self.num_validation_examples,
            num_test_examples=self.num_test_examples,
            eval_batch_size=self.eval_batch_size,
            baseline_batch_size=self.baseline_batch_size,
            num_params=self.num_params,
        )
        if self.target_metric not in self.eval_metrics:
            raise ValueError(
                f"target_metric {self.target_metric!r} is not in eval_metrics {self.eval_metrics}"
            )
        if (self.test_target is None) != (self.num_test_examples is None):
            raise ValueError("test_target and num_test_examples must both be set or both be None")
        unknown = set(self.budgets) - set(RULE_VERSIONS)
        if unknown:
            raise ValueError(f"budgets name unknown rule versions {sorted(unknown)}")

    @property
    def validation_metric_key(self) -> str:
        """Key of the target metric in an eval result, e.g. 'validation/accuracy'."""
        return f"validation/{self.target_metric}"

    @property
    def test_metric_key(self) -> str:
        """Key of the test target metric in an eval result, e.g. 'test/accuracy'."""
        return f"test/{self.target_metric}"

    def budget(self, rules: str | RuleVersion | None = None) -> Budget:
        """Budget and step hint under `rules` (default v0.5)."""
        rules = get_rules(rules)
        try:
            return self.budgets[rules.budget_key]
        except KeyError:
            raise UnknownNameError(
                f"workload {self.name!r} has no budget for rules {rules.name} "
                f"(budgets of {rules.budget_key}); "
                f"it has budgets for {', '.join(self.budgets)}"
            ) from None

    def max_runtime_sec(
        self, rules: str | RuleVersion | None = None, ruleset: Ruleset | str = Ruleset.EXTERNAL
    ) -> float:
        """Submission-time budget in seconds; self-tuning gets the rule version's multiple."""
        rules = get_rules(rules)
        runtime = float(self.budget(rules).max_runtime_sec)
        if Ruleset(ruleset) is Ruleset.SELF:
            runtime *= rules.self_tuning_budget_factor
        return runtime

    def step_hint(self, rules: str | RuleVersion | None = None) -> int:
        """Step hint under `rules`, for learning-rate schedules."""
        return self.budget(rules).step_hint

    def reached(self, value: float, split: str = "validation") -> bool:
        """Whether a metric value reaches this workload's target on `split`."""
        target = self.validation_target if split == "validation" else self.test_target
        if target is None:
            raise ValueError(f"workload {self.name!r} has no {split} split")
        return self.metric_direction.reached(value, target)

    def has_reached_validation_target(self, eval_result: Mapping[str, Any]) -> bool:
        """Whether an eval result (keys like 'validation/accuracy') reaches the target."""
        value = eval_result.get(self.validation_metric_key, math.nan)
        return self.reached(float(value), "validation")

    def has_reached_test_target(self, eval_result: Mapping[str, Any]) -> bool:
        """Whether an eval result (keys like 'test/accuracy') reaches the test target.

        True for a workload without a test split, as in the reference.
        """
        if self.test_target is None:
            return True
        value = eval_result.get(self.test_metric_key, math.nan)
        return self.reached(float(value), "test")

"""The AlgoPerf API: the typed contract shared by submissions, workloads, harness and scoring.

Depends only on pydantic and numpy, so scoring and tools never pull in a deep-learning
framework.
"""

from typing import Any

from algoperf.api._enums import (
    ForwardPassMode,
    Framework,
    LossType,
    MetricDirection,
    ParameterType,
    Ruleset,
)
from algoperf.api._errors import (
    AlgoPerfError,
    RecordError,
    SearchSpaceError,
    SubmissionError,
    UnknownNameError,
    did_you_mean,
    validation_problems,
)
from algoperf.api._hyperparameters import Hyperparameters, HyperparameterValue
from algoperf.api._records import (
    EVALS_FILE,
    TRIAL_FILE,
    EvalRecord,
    HardwareInfo,
    TrialFile,
    TrialOutcome,
    TrialRecord,
    TrialSpec,
    TrialStatus,
    append_eval,
    read_evals,
    read_trial,
    read_trial_file,
    write_trial_file,
)
from algoperf.api._registry import (
    WORKLOADS,
    base_workloads,
    get_workload_spec,
    held_out,
    qualification_workloads,
    scored_workloads,
    variants_of,
    workload_names,
)
from algoperf.api._rules import (
    DEFAULT_RULES,
    RULE_VERSIONS,
    RULES_DEV,
    RULES_V05,
    RULES_V06,
    RULES_V06_LM,
    HardwareSpec,
    RuleVersion,
    get_rules,
)
from algoperf.api._search_space import (
    DiscreteParameter,
    FixedPoints,
    RangeParameter,
    SearchSpace,
    TuningSpace,
    check_search_space,
    load_search_space,
    parse_search_space,
)
from algoperf.api._submission import (
    SUBMISSION_OBJECT,
    DataSelectionFn,
    GetBatchSizeFn,
    InitOptimizerStateFn,
    PrepareForEvalFn,
    Submission,
    UpdateParamsFn,
    expected_signature,
    load_submission,
)
from algoperf.api._workload import (
    Batch,
    LossOutput,
    MetricsLogger,
    ResumableQueue,
    Split,
    TrainingCompleteError,
    Workload,
)
from algoperf.api._workload_spec import Budget, WorkloadKind, WorkloadSpec


def __getattr__(name: str) -> Any:
    # importlib.metadata (and the email package it loads) costs 40 ms: only when asked.
    if name == "__version__":
        from importlib.metadata import version

        return version("algoperf-api")
    raise AttributeError(f"module 'algoperf.api' has no attribute {name!r}")


__all__ = (
    "DEFAULT_RULES",
    "EVALS_FILE",
    "RULES_DEV",
    "RULES_V05",
    "RULES_V06",
    "RULES_V06_LM",
    "RULE_VERSIONS",
    "SUBMISSION_OBJECT",
    "TRIAL_FILE",
    "WORKLOADS",
    "AlgoPerfError",
    "Batch",
    "Budget",
    "DataSelectionFn",
    "DiscreteParameter",
    "EvalRecord",
    "FixedPoints",
    "ForwardPassMode",
    "Framework",
    "GetBatchSizeFn",
    "HardwareInfo",
    "HardwareSpec",
    "HyperparameterValue",
    "Hyperparameters",
    "InitOptimizerStateFn",
    "LossOutput",
    "LossType",
    "MetricDirection",
    "MetricsLogger",
    "ParameterType",
    "PrepareForEvalFn",
    "RangeParameter",
    "RecordError",
    "ResumableQueue",
    "RuleVersion",
    "Ruleset",
    "SearchSpace",
    "SearchSpaceError",
    "Split",
    "Submission",
    "SubmissionError",
    "TrainingCompleteError",
    "TrialFile",
    "TrialOutcome",
    "TrialRecord",
    "TrialSpec",
    "TrialStatus",
    "TuningSpace",
    "UnknownNameError",
    "UpdateParamsFn",
    "Workload",
    "WorkloadKind",
    "WorkloadSpec",
    "append_eval",
    "base_workloads",
    "check_search_space",
    "did_you_mean",
    "expected_signature",
    "get_rules",
    "get_workload_spec",
    "held_out",
    "load_search_space",
    "load_submission",
    "parse_search_space",
    "qualification_workloads",
    "read_evals",
    "read_trial",
    "read_trial_file",
    "scored_workloads",
    "validation_problems",
    "variants_of",
    "workload_names",
    "write_trial_file",
)

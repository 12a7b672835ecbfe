"""The AlgoPerf API: the typed contract shared by submissions, workloads, harness and scoring.

Depends only on pydantic and numpy, so scoring and tools never pull in a deep-learning
framework.
"""

from importlib.metadata import version as _version

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
    RULES_V05,
    RULES_V06,
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
    load_search_space,
    parse_search_space,
)
from algoperf.api._submission import (
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
    Split,
    TrainingCompleteError,
    Workload,
)
from algoperf.api._workload_spec import Budget, WorkloadKind, WorkloadSpec

__version__ = _version("algoperf-api")

__all__ = (
    "DEFAULT_RULES",
    "EVALS_FILE",
    "RULES_V05",
    "RULES_V06",
    "RULE_VERSIONS",
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
    "variants_of",
    "workload_names",
    "write_trial_file",
)

"""The AlgoPerf API: the typed contract shared by submissions, workloads, harness and scoring.

Depends only on pydantic and numpy, so scoring and tools never pull in a deep-learning
framework.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from algoperf.api._record_files import EVALS_FILE, TRIAL_FILE
    from algoperf.api._records import (
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

# Submodules load on first use (PEP 562): scoring reads the registry without building the
# record, search-space and submission models, which cost more than the rest of the import.
_EXPORTS = {
    "AlgoPerfError": "algoperf.api._errors",
    "Batch": "algoperf.api._workload",
    "Budget": "algoperf.api._workload_spec",
    "DEFAULT_RULES": "algoperf.api._rules",
    "DataSelectionFn": "algoperf.api._submission",
    "DiscreteParameter": "algoperf.api._search_space",
    "EVALS_FILE": "algoperf.api._record_files",
    "EvalRecord": "algoperf.api._records",
    "FixedPoints": "algoperf.api._search_space",
    "ForwardPassMode": "algoperf.api._enums",
    "Framework": "algoperf.api._enums",
    "GetBatchSizeFn": "algoperf.api._submission",
    "HardwareInfo": "algoperf.api._records",
    "HardwareSpec": "algoperf.api._rules",
    "HyperparameterValue": "algoperf.api._hyperparameters",
    "Hyperparameters": "algoperf.api._hyperparameters",
    "InitOptimizerStateFn": "algoperf.api._submission",
    "LossOutput": "algoperf.api._workload",
    "LossType": "algoperf.api._enums",
    "MetricDirection": "algoperf.api._enums",
    "MetricsLogger": "algoperf.api._workload",
    "ParameterType": "algoperf.api._enums",
    "PrepareForEvalFn": "algoperf.api._submission",
    "RULES_DEV": "algoperf.api._rules",
    "RULES_V05": "algoperf.api._rules",
    "RULES_V06": "algoperf.api._rules",
    "RULES_V06_LM": "algoperf.api._rules",
    "RULE_VERSIONS": "algoperf.api._rules",
    "RangeParameter": "algoperf.api._search_space",
    "RecordError": "algoperf.api._errors",
    "ResumableQueue": "algoperf.api._workload",
    "RuleVersion": "algoperf.api._rules",
    "Ruleset": "algoperf.api._enums",
    "SUBMISSION_OBJECT": "algoperf.api._submission",
    "SearchSpace": "algoperf.api._search_space",
    "SearchSpaceError": "algoperf.api._errors",
    "Split": "algoperf.api._workload",
    "Submission": "algoperf.api._submission",
    "SubmissionError": "algoperf.api._errors",
    "TRIAL_FILE": "algoperf.api._record_files",
    "TrainingCompleteError": "algoperf.api._workload",
    "TrialFile": "algoperf.api._records",
    "TrialOutcome": "algoperf.api._records",
    "TrialRecord": "algoperf.api._records",
    "TrialSpec": "algoperf.api._records",
    "TrialStatus": "algoperf.api._records",
    "TuningSpace": "algoperf.api._search_space",
    "UnknownNameError": "algoperf.api._errors",
    "UpdateParamsFn": "algoperf.api._submission",
    "WORKLOADS": "algoperf.api._registry",
    "Workload": "algoperf.api._workload",
    "WorkloadKind": "algoperf.api._workload_spec",
    "WorkloadSpec": "algoperf.api._workload_spec",
    "append_eval": "algoperf.api._records",
    "base_workloads": "algoperf.api._registry",
    "check_search_space": "algoperf.api._search_space",
    "did_you_mean": "algoperf.api._errors",
    "expected_signature": "algoperf.api._submission",
    "get_rules": "algoperf.api._rules",
    "get_workload_spec": "algoperf.api._registry",
    "held_out": "algoperf.api._registry",
    "load_search_space": "algoperf.api._search_space",
    "load_submission": "algoperf.api._submission",
    "parse_search_space": "algoperf.api._search_space",
    "qualification_workloads": "algoperf.api._registry",
    "read_evals": "algoperf.api._records",
    "read_trial": "algoperf.api._records",
    "read_trial_file": "algoperf.api._records",
    "scored_workloads": "algoperf.api._registry",
    "validation_problems": "algoperf.api._errors",
    "variants_of": "algoperf.api._registry",
    "workload_names": "algoperf.api._registry",
    "write_trial_file": "algoperf.api._records",
}


def __getattr__(name: str) -> Any:
    # importlib.metadata (and the email package it loads) costs 40 ms: only when asked.
    if name == "__version__":
        from importlib.metadata import version

        return version("algoperf-api")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'algoperf.api' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS, "__version__"])


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

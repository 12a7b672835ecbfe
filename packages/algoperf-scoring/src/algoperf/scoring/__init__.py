"""AlgoPerf scoring: trial logs to time-to-target, performance profiles, scores and speed-ups.

Depends on numpy and `algoperf.api` only (matplotlib for plots, as the `plots` extra), so
it never imports a deep-learning framework.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from algoperf.scoring._analysis import (
        Speedups,
        bootstrap_scores,
        confidence_interval,
        leave_one_workload_out,
        qualification_scores,
        speedups,
        tau_max_sensitivity,
    )
    from algoperf.scoring._anomalies import (
        Anomaly,
        AnomalyKind,
        ScoringError,
        summarize_anomalies,
    )
    from algoperf.scoring._ingest import Logs, TrialLog, load_logs
    from algoperf.scoring._plots import plot_performance_profiles, plot_tau_sensitivity
    from algoperf.scoring._profiles import (
        Integration,
        apply_rules,
        benchmark_scores,
        held_out_pairs,
        performance_profile,
        performance_ratios,
        ranks,
    )
    from algoperf.scoring._reports import Format, render
    from algoperf.scoring._scoring import ScoreReport, ScoringOptions, score, score_logs
    from algoperf.scoring._time_to_target import (
        TrialTime,
        median_over_studies,
        study_time,
        time_to_target,
        workload_times,
    )
    from algoperf.scoring._times import Status, StudyTimes, WorkloadTimes, read_times_csv

# Submodules load on first use (PEP 562): the CLI imports only what its report needs, and
# `import algoperf.scoring` stays cheap.
_EXPORTS = {
    "Anomaly": "algoperf.scoring._anomalies",
    "AnomalyKind": "algoperf.scoring._anomalies",
    "Format": "algoperf.scoring._reports",
    "Integration": "algoperf.scoring._profiles",
    "Logs": "algoperf.scoring._ingest",
    "ScoreReport": "algoperf.scoring._scoring",
    "ScoringError": "algoperf.scoring._anomalies",
    "ScoringOptions": "algoperf.scoring._scoring",
    "Speedups": "algoperf.scoring._analysis",
    "Status": "algoperf.scoring._times",
    "StudyTimes": "algoperf.scoring._times",
    "TrialLog": "algoperf.scoring._ingest",
    "TrialTime": "algoperf.scoring._time_to_target",
    "WorkloadTimes": "algoperf.scoring._times",
    "apply_rules": "algoperf.scoring._profiles",
    "benchmark_scores": "algoperf.scoring._profiles",
    "bootstrap_scores": "algoperf.scoring._analysis",
    "confidence_interval": "algoperf.scoring._analysis",
    "held_out_pairs": "algoperf.scoring._profiles",
    "leave_one_workload_out": "algoperf.scoring._analysis",
    "load_logs": "algoperf.scoring._ingest",
    "median_over_studies": "algoperf.scoring._time_to_target",
    "performance_profile": "algoperf.scoring._profiles",
    "performance_ratios": "algoperf.scoring._profiles",
    "plot_performance_profiles": "algoperf.scoring._plots",
    "plot_tau_sensitivity": "algoperf.scoring._plots",
    "qualification_scores": "algoperf.scoring._analysis",
    "ranks": "algoperf.scoring._profiles",
    "read_times_csv": "algoperf.scoring._times",
    "render": "algoperf.scoring._reports",
    "score": "algoperf.scoring._scoring",
    "score_logs": "algoperf.scoring._scoring",
    "speedups": "algoperf.scoring._analysis",
    "study_time": "algoperf.scoring._time_to_target",
    "summarize_anomalies": "algoperf.scoring._anomalies",
    "tau_max_sensitivity": "algoperf.scoring._analysis",
    "time_to_target": "algoperf.scoring._time_to_target",
    "workload_times": "algoperf.scoring._time_to_target",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version

        return version("algoperf-scoring")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'algoperf.scoring' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS, "__version__"])


__all__ = (
    "Anomaly",
    "AnomalyKind",
    "Format",
    "Integration",
    "Logs",
    "ScoreReport",
    "ScoringError",
    "ScoringOptions",
    "Speedups",
    "Status",
    "StudyTimes",
    "TrialLog",
    "TrialTime",
    "WorkloadTimes",
    "apply_rules",
    "benchmark_scores",
    "bootstrap_scores",
    "confidence_interval",
    "held_out_pairs",
    "leave_one_workload_out",
    "load_logs",
    "median_over_studies",
    "performance_profile",
    "performance_ratios",
    "plot_performance_profiles",
    "plot_tau_sensitivity",
    "qualification_scores",
    "ranks",
    "read_times_csv",
    "render",
    "score",
    "score_logs",
    "speedups",
    "study_time",
    "summarize_anomalies",
    "tau_max_sensitivity",
    "time_to_target",
    "workload_times",
)

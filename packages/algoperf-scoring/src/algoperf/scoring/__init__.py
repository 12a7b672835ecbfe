"""AlgoPerf scoring: trial logs to time-to-target, performance profiles, scores and speed-ups.

Depends on numpy and `algoperf.api` only (matplotlib for plots, as the `plots` extra), so
it never imports a deep-learning framework.
"""

from importlib.metadata import version as _version

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

__version__ = _version("algoperf-scoring")

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

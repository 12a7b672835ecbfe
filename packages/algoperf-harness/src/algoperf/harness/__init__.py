"""The AlgoPerf harness: timed trials, tuning, studies, records and the `algoperf` CLI.

Framework code (`jax_runtime.py`, `torch_runtime.py`) is imported only when a trial of that
framework runs.
"""

from algoperf.harness._halton import halton_search, scrambled_halton
from algoperf.harness._runtime import Runtime, get_runtime
from algoperf.harness._seeds import derive_seed, study_seed, trial_seed
from algoperf.harness._study import (
    StudyPlan,
    completed_outcome,
    plan_trials,
    run_trials,
    trial_directory,
)
from algoperf.harness._supervisor import run_isolated
from algoperf.harness._sweep import (
    Sweep,
    SweepError,
    SweepResult,
    SweepTrial,
    expand_sweep,
)
from algoperf.harness._trial import TrainState, TrialOptions, resolve_batch_size, run_trial
from algoperf.harness._writer import REFERENCE_CSV, TrialWriter

__all__ = (
    "REFERENCE_CSV",
    "Runtime",
    "StudyPlan",
    "Sweep",
    "SweepError",
    "SweepResult",
    "SweepTrial",
    "TrainState",
    "TrialOptions",
    "TrialWriter",
    "completed_outcome",
    "derive_seed",
    "expand_sweep",
    "get_runtime",
    "halton_search",
    "plan_trials",
    "resolve_batch_size",
    "run_isolated",
    "run_trial",
    "run_trials",
    "scrambled_halton",
    "study_seed",
    "trial_directory",
    "trial_seed",
)

"""Per-step time of a harness trial against a bare loop calling the same update function.

The bare loop is what a researcher would write by hand: `data_selection`, `update_params`,
wait for the device. The trial adds the harness's per-step work (random keys, bookkeeping,
clock reads with device syncs, the eval schedule's checks). Both exclude the first steps
(compilation) and eval time. Goal: at most 2% overhead.

    OMP_NUM_THREADS=1 uv run python benchmarks/harness_overhead.py [--steps 400] [--workloads ...]

(One intra-op thread: tiny CPU models run fastest that way, and it keeps the two loops from
fighting over the cores.)
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time

from algoperf import api
from algoperf.baselines import search_space_path, submission_path
from algoperf.harness import TrialOptions, get_runtime, run_trial
from algoperf.workloads import get_workload, implemented_workloads

WARMUP = 20
EVAL_BATCH_SIZE = 1024


RULES = api.RULES_V06
"""For every workload: the dev rules would cap the timed trial at 300 steps."""


def rules_for(name: str) -> api.RuleVersion:
    """`RULES`, or the provisional v0.6-lm for the workloads only it scores (the LM)."""
    if name in api.RULES_V06_LM.base_workloads and name not in RULES.base_workloads:
        return api.RULES_V06_LM
    return RULES


def bare_loop_seconds_per_step(
    name: str, framework: str, steps: int, batch_size: int | None = None, **options: object
) -> float:
    """Steady-state seconds per NAdamW step on synthetic data (the baseline's batch size).

    `options` go to `get_workload` (e.g. the LM's `model_config`).
    """
    runtime = get_runtime(framework)
    submission = api.load_submission(submission_path("nadamw", framework))
    hyperparameters = api.load_search_space(search_space_path("nadamw")).points(1)[0]
    workload = get_workload(name, framework, rules_for(name), synthetic=True, **options)
    rng = runtime.key(0)
    batch_size = batch_size or submission.get_batch_size(name)
    queue = workload.build_input_queue(rng, "train", None, batch_size)
    params, model_state = workload.init_model_fn(rng)
    opt_state = submission.init_optimizer_state(
        workload=workload,
        model_params=params,
        model_state=model_state,
        hyperparameters=hyperparameters,
        rng=rng,
    )
    started = 0.0
    for step in range(WARMUP + steps):
        if step == WARMUP:
            runtime.synchronize(opt_state, params, model_state)
            started = time.perf_counter()
        batch = submission.data_selection(
            workload=workload,
            input_queue=queue,
            optimizer_state=opt_state,
            current_param_container=params,
            model_state=model_state,
            hyperparameters=hyperparameters,
            global_step=step,
            rng=rng,
        )
        opt_state, params, model_state = submission.update_params(
            workload=workload,
            current_param_container=params,
            current_params_types=workload.model_params_types,
            model_state=model_state,
            hyperparameters=hyperparameters,
            batch=batch,
            loss_type=workload.loss_type,
            optimizer_state=opt_state,
            eval_results=[],
            global_step=step,
            rng=rng,
        )
        runtime.synchronize(opt_state, params, model_state)
    return (time.perf_counter() - started) / steps


def trial_seconds_per_step(name: str, framework: str, steps: int) -> float:
    runtime = get_runtime(framework)
    submission = api.load_submission(submission_path("nadamw", framework))
    hyperparameters = api.load_search_space(search_space_path("nadamw")).points(1)[0]
    # Evals are not timed; a small eval batch keeps ogbg's within a CPU's memory.
    workload = get_workload(name, framework, RULES, synthetic=True, eval_batch_size=EVAL_BATCH_SIZE)
    spec = api.TrialSpec(
        submission="nadamw",
        workload=name,
        framework=framework,
        ruleset="external",
        rules_version=RULES.name,
        study=0,
        trial=1,
        seed=0,
        hyperparameters=hyperparameters.to_dict(),
        hardware=runtime.hardware(),
    )
    with tempfile.TemporaryDirectory() as directory:
        run_trial(
            spec,
            workload,
            submission,
            runtime,
            directory,
            TrialOptions(max_global_steps=WARMUP + steps),
        )
        evals = api.read_trial(directory).evals
    # Submission time per step from the last eval within the warm-up (at least the one after
    # step 1) to the final eval.
    first = [e for e in evals if e.global_step <= WARMUP][-1]
    last = evals[-1]
    return (last.accumulated_submission_time - first.accumulated_submission_time) / (
        last.global_step - first.global_step
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--workloads", nargs="+", default=["digits_mlp", "ogbg"])
    parser.add_argument("--frameworks", nargs="+", default=["jax", "pytorch"])
    parser.add_argument("--repeats", type=int, default=5, help="best of this many runs")
    args = parser.parse_args()
    print(
        f"{'workload':<12} {'framework':<9} {'bare ms/step':>12} {'trial ms/step':>13} "
        f"{'overhead':>9}"
    )
    for name in args.workloads:
        if name not in implemented_workloads():
            print(f"{name:<12} (not implemented yet)")
            continue
        for framework in args.frameworks:
            # Alternated, so that a slow spell of a shared machine hits both loops alike.
            bare, trial = math.inf, math.inf
            for _ in range(args.repeats):
                bare = min(bare, bare_loop_seconds_per_step(name, framework, args.steps))
                trial = min(trial, trial_seconds_per_step(name, framework, args.steps))
            print(
                f"{name:<12} {framework:<9} {bare * 1e3:>12.3f} {trial * 1e3:>13.3f} "
                f"{trial / bare - 1:>+9.1%}",
                flush=True,
            )


if __name__ == "__main__":
    main()

"""The `algoperf` command line: `run`, `sweep`, `check-submission` and `benchmark`.

This is the only module that parses arguments; it builds typed plans and calls the library.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from algoperf.api import (
    AlgoPerfError,
    Framework,
    Ruleset,
    TrialOutcome,
    TrialSpec,
    get_rules,
    load_search_space,
    load_submission,
)
from algoperf.harness._runtime import get_runtime
from algoperf.harness._study import StudyPlan, plan_trials, run_trials
from algoperf.harness._sweep import Sweep, SweepResult, expand_sweep, run_local
from algoperf.harness._trial import TrialOptions
from algoperf.harness._workers import run_workers, shard, visible_gpus, worker_devices

DEFAULT_BENCHMARK_BASELINES = ("nadamw", "adamw")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="algoperf", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a submission's studies on one workload")
    run.add_argument("submission", type=Path, help="the submission's .py file")
    run.add_argument("--workload", required=True)
    run.add_argument("--framework", required=True, choices=[f.value for f in Framework])
    run.add_argument("--ruleset", default="external", choices=[r.value for r in Ruleset])
    run.add_argument("--rules", default="v0.5", help="rule version: v0.5, v0.6 or dev")
    run.add_argument("--search-space", type=Path, help="JSON search space (external tuning)")
    run.add_argument("--name", help="submission name in the records (default: file stem)")
    run.add_argument("--studies", type=int, help="number of studies (default: the rules')")
    run.add_argument("--trials", type=int, help="trials per study (default: the rules')")
    run.add_argument(
        "--resume", action="store_true", help="continue unfinished trials from their checkpoints"
    )
    run.add_argument(
        "--checkpoint-every", type=int, default=1, help="evals between checkpoints (0: none)"
    )
    run.add_argument(
        "--nproc", type=int, default=1, help="PyTorch: processes (DDP ranks) under torchrun"
    )
    _common(run, "runs")

    sweep = commands.add_parser(
        "sweep", help="run a sweep file: submissions x workloads x studies x trials"
    )
    sweep.add_argument("file", type=Path, help="the sweep file (TOML or JSON)")
    sweep.add_argument("--executor", choices=["local", "slurm"], help="default: the file's")
    sweep.add_argument("--dry-run", action="store_true", help="list the trials, run nothing")
    sweep.add_argument("--wait", action="store_true", help="slurm: wait for the jobs' results")
    sweep.add_argument(
        "--workers", help="local: worker processes, one per GPU ('devices'); default: the file's"
    )
    sweep.add_argument("--shard", help="run only every N-th trial from the I-th (I/N)")

    check = commands.add_parser(
        "check-submission", help="validate a submission and train it a few steps"
    )
    check.add_argument("submission", type=Path)
    check.add_argument("--framework", default="jax", choices=[f.value for f in Framework])
    check.add_argument("--workload", default="digits_mlp")
    check.add_argument("--search-space", type=Path, help="its first point is used")
    check.add_argument("--steps", type=int, default=5)

    bench = commands.add_parser(
        "benchmark", help="baselines on the built-in workloads, scored (no download)"
    )
    bench.add_argument("--frameworks", nargs="+", default=[f.value for f in Framework])
    bench.add_argument("--baselines", nargs="+", default=list(DEFAULT_BENCHMARK_BASELINES))
    bench.add_argument("--rules", default="dev", help="rule version (default: dev)")
    bench.add_argument("--studies", type=int, help="default: the rules' (dev: 2)")
    bench.add_argument("--trials", type=int, help="default: the rules' (dev: 2)")
    bench.add_argument("--plot", type=Path, default=None, help="performance-profile plot file")
    _common(bench, "runs/benchmark", max_steps=300)
    return parser


def _common(parser: argparse.ArgumentParser, experiment_dir: str, max_steps: int | None = None):
    parser.add_argument("--experiment-dir", type=Path, default=Path(experiment_dir))
    parser.add_argument("--seed", type=int, default=0, help="experiment seed")
    parser.add_argument("--max-steps", type=int, default=max_steps, help="stop trials there")
    parser.add_argument("--data-dir", default=None)


def cli(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    args.argv = argv
    console = Console(stderr=True)
    commands = {
        "run": _run,
        "sweep": _sweep,
        "check-submission": _check,
        "benchmark": _benchmark,
    }
    try:
        return commands[args.command](args, console)
    except AlgoPerfError as e:
        console.print(f"[red]error:[/red] {e}", markup=True, highlight=False)
        return 1


def cli_exit() -> None:
    """Console-script entry point."""
    sys.exit(cli())


def _run(args: argparse.Namespace, console: Console) -> int:
    if args.nproc > 1 and "LOCAL_RANK" not in os.environ:
        return _relaunch_under_torchrun(args)
    primary = True
    if args.framework == Framework.PYTORCH.value:
        from algoperf.workloads.torch_base import init_distributed

        primary = init_distributed().rank == 0
    submission = load_submission(args.submission)
    space = load_search_space(args.search_space) if args.search_space else None
    plan = _plan(args, args.name or submission.name, args.workload, args.framework, space)
    specs = plan_trials(plan)
    outcomes = _run_with_progress(console, [(specs, submission, args.framework)], args)
    if primary:
        _print_outcomes(outcomes)
    return 0


def _relaunch_under_torchrun(args: argparse.Namespace) -> int:
    """Run this very command again as `nproc` DDP ranks; only rank 0's output is shown."""
    if args.framework != Framework.PYTORCH.value:
        raise AlgoPerfError("--nproc is for PyTorch; JAX trials use every visible device")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={args.nproc}",
        "--local-ranks-filter=0",
        "-m",
        "algoperf.harness",
        *_without_option(args.argv, "--nproc"),
    ]
    return subprocess.run(command, check=False).returncode


def _without_option(argv: list[str], option: str) -> list[str]:
    """`argv` less `option` and its value (torchrun would take `--nproc` as its own)."""
    kept, skip_value = [], False
    for arg in argv:
        if skip_value:
            skip_value = False
        elif arg == option:
            skip_value = True
        elif not arg.startswith(f"{option}="):
            kept.append(arg)
    return kept


def _sweep(args: argparse.Namespace, console: Console) -> int:
    sweep = Sweep.from_file(args.file)
    executor = args.executor or sweep.executor
    workers = _workers_option(args.workers) if args.workers else sweep.workers
    if executor == "local" and workers != 1 and args.shard is None and not args.dry_run:
        return _sweep_on_workers(args.file, sweep, workers)
    trials = expand_sweep(sweep)
    if args.shard is not None:
        trials = shard(trials, args.shard)
    if args.dry_run:
        print("hash              status     submission  workload  study  trial")
        for t in trials:
            outcome = t.completed()
            status = "pending" if outcome is None else outcome.status.value
            print(
                f"{t.key}  {status:<9}  {t.spec.submission}  {t.spec.workload}  "
                f"{t.spec.study}  {t.spec.trial}"
            )
        return 0
    if executor == "slurm":
        return _sweep_on_slurm(sweep, trials, args.wait, console)
    with _progress(console) as progress:
        task = progress.add_task("trials", total=len(trials))

        def done(result: SweepResult) -> None:
            progress.update(task, advance=1, description=_describe(result))

        results = run_local(trials, sweep.trial_options(), on_result=done)
    return _print_sweep_results(results, console)


def _workers_option(value: str) -> int | Literal["devices"]:
    if value == "devices":
        return value
    if not value.isdigit() or int(value) < 1:
        raise AlgoPerfError(f"--workers {value!r}: expected a positive number or 'devices'")
    return int(value)


def _sweep_on_workers(file: Path, sweep: Sweep, workers: int | Literal["devices"]) -> int:
    """Run the sweep in one worker process per device; exit code 1 if any worker failed."""
    count = None if workers == "devices" else workers
    devices = worker_devices(count, visible_gpus())
    log_dir = sweep.experiment_dir / ".workers"
    print(f"running the sweep in {len(devices)} workers; their logs are in {log_dir}")
    results = run_workers(file, devices, log_dir)
    for r in results:
        lines = r.log.read_text().strip().splitlines()
        summary = lines[-1] if lines else "(no output)"
        device = "CPU" if r.device is None else f"GPU {r.device}"
        print(f"worker {r.index} ({device}): exit code {r.returncode}: {summary}")
    return 1 if any(r.returncode for r in results) else 0


def _sweep_on_slurm(sweep: Sweep, trials: list, wait: bool, console: Console) -> int:
    from algoperf.harness import slurm

    pending = [t for t in trials if t.completed() is None]
    if not pending:
        print(f"all {len(trials)} trials are complete")
        return 0
    folder = sweep.experiment_dir / ".submitit"
    jobs = slurm.submit(pending, sweep.trial_options(), sweep.slurm, folder)
    print(f"submitted {len(jobs)} of {len(trials)} trials as job array {jobs[0].job_id}")
    if not wait:
        return 0
    return _print_sweep_results([job.result() for job in jobs], console)


def _describe(result: SweepResult) -> str:
    spec = result.trial.spec
    if result.outcome is None:
        state = "could not start"
    else:
        state = "already done" if result.skipped else result.outcome.status.value
    return f"{spec.submission} {spec.workload} s{spec.study} t{spec.trial}: {state}"


def _print_sweep_results(results: list[SweepResult], console: Console) -> int:
    """One line per trial; exit code 1 if a trial could not start."""
    for result in results:
        print(f"{result.trial.key}  {_describe(result)}")
        if result.error is not None:
            console.print(result.error, markup=False, highlight=False)
    ran = sum(1 for r in results if r.outcome is not None and not r.skipped)
    print(f"{ran} trials run, {sum(r.skipped for r in results)} already complete")
    return 1 if any(r.error for r in results) else 0


def _check(args: argparse.Namespace, console: Console) -> int:
    submission = load_submission(args.submission)
    print(f"{submission.path}: the five functions and their parameters follow the API")
    hyperparameters = None
    ruleset = Ruleset.SELF
    if args.search_space:
        space = load_search_space(args.search_space)
        ruleset = Ruleset.EXTERNAL
        hyperparameters = _first_point(space)
    from algoperf.harness._trial import run_trial
    from algoperf.workloads import get_workload

    runtime = get_runtime(args.framework)
    rules = get_rules("dev")
    spec = TrialSpec(
        submission=submission.name,
        workload=args.workload,
        framework=args.framework,
        ruleset=ruleset,
        rules_version=rules.name,
        study=0,
        trial=1,
        seed=0,
        hyperparameters=hyperparameters,
        hardware=runtime.hardware(),
    )
    workload = get_workload(args.workload, args.framework, rules)
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        outcome = run_trial(
            spec,
            workload,
            submission,
            runtime,
            directory,
            TrialOptions(max_global_steps=args.steps),
        )
    if outcome.error:
        console.print(outcome.error, markup=False, highlight=False)
        print(f"FAILED: {outcome.status.value} after {outcome.global_step} steps")
        return 1
    print(
        f"OK: {outcome.global_step} steps of {args.workload} ({args.framework}) in "
        f"{time.perf_counter() - started:.1f} s, status {outcome.status.value}"
    )
    return 0


def _benchmark(args: argparse.Namespace, console: Console) -> int:
    from algoperf.baselines import search_space_path, submission_path
    from algoperf.scoring import ScoringOptions, render, score_logs

    rules = get_rules(args.rules)
    if Framework.PYTORCH.value in args.frameworks:
        _single_cpu_thread()
    groups = []
    for framework in args.frameworks:
        for baseline in args.baselines:
            submission = load_submission(submission_path(baseline, framework))
            space = load_search_space(search_space_path(baseline))
            name = f"{baseline}_{framework}"
            specs = []
            for workload in rules.base_workloads:
                specs += plan_trials(_plan(args, name, workload, framework, space))
            groups.append((specs, submission, framework))
    started = time.perf_counter()
    _run_with_progress(console, groups, args)
    console.print(f"trials done in {time.perf_counter() - started:.0f} s; scoring")
    report = score_logs(args.experiment_dir, ScoringOptions(rules=rules, bootstrap_samples=200))
    print(render(report))
    if args.plot is not None:
        from algoperf.scoring import plot_performance_profiles

        print(f"performance profiles: {plot_performance_profiles(report, args.plot)}")
    return 0


def _single_cpu_thread() -> None:
    """Run PyTorch on one CPU thread.

    The built-in models are tiny, and several threads contend with JAX's pool in this
    process (steps ran 10-30x slower on 2 cores).
    """
    import torch

    if not torch.cuda.is_available():
        torch.set_num_threads(1)


def _plan(
    args: argparse.Namespace, name: str, workload: str, framework: str, space: object
) -> StudyPlan:
    ruleset = Ruleset(getattr(args, "ruleset", Ruleset.EXTERNAL))
    return StudyPlan(
        submission=name,
        workload=workload,
        framework=Framework(framework),
        ruleset=ruleset,
        rules=get_rules(args.rules),
        hardware=get_runtime(framework).hardware(),
        search_space=space,  # type: ignore[arg-type]
        num_studies=args.studies,
        num_trials=args.trials,
        experiment_seed=args.seed,
    )


def _run_with_progress(console: Console, groups: list, args: argparse.Namespace) -> list:
    """Run each (specs, submission, framework) group with one progress bar over all trials."""
    from algoperf.workloads import get_workload

    every = getattr(args, "checkpoint_every", 0)
    options = TrialOptions(
        data_dir=args.data_dir,
        max_global_steps=args.max_steps,
        checkpoint_every=every or None,
        resume=getattr(args, "resume", False),
    )
    total = sum(len(specs) for specs, _, _ in groups)
    outcomes: list[tuple[TrialSpec, TrialOutcome]] = []
    with _progress(console) as progress:
        task = progress.add_task("trials", total=total)

        def done(spec: TrialSpec, outcome: TrialOutcome, skipped: bool) -> None:
            outcomes.append((spec, outcome))
            note = " (already done)" if skipped else ""
            progress.update(task, advance=1, description=f"{spec.submission} {spec.workload}{note}")

        for specs, submission, framework in groups:
            runtime = get_runtime(framework)
            by_workload: dict[str, list[TrialSpec]] = {}
            for spec in specs:
                by_workload.setdefault(spec.workload, []).append(spec)
            for workload_name, workload_specs in by_workload.items():
                rules = get_rules(workload_specs[0].rules_version)
                workload = get_workload(workload_name, framework, rules)
                run_trials(
                    workload_specs,
                    submission,
                    workload,
                    runtime,
                    args.experiment_dir,
                    options,
                    on_outcome=done,
                )
    return outcomes


def _progress(console: Console) -> Progress:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    return Progress(*columns, console=console, transient=False)


def _print_outcomes(outcomes: list[tuple[TrialSpec, TrialOutcome]]) -> None:
    print("study  trial  status            steps  submission s  time to target s")
    for spec, o in outcomes:
        ttt = "-" if o.time_to_target is None else f"{o.time_to_target:.1f}"
        print(
            f"{spec.study:>5}  {spec.trial:>5}  {o.status.value:<16}  {o.global_step:>5}  "
            f"{o.accumulated_submission_time:>12.1f}  {ttt:>16}"
        )


def _first_point(space: object) -> dict:
    from algoperf.api import FixedPoints
    from algoperf.harness._halton import halton_search

    if isinstance(space, FixedPoints):
        return space.points(1)[0].to_dict()
    return halton_search(space, 1, seed=0)[0].to_dict()  # type: ignore[arg-type]

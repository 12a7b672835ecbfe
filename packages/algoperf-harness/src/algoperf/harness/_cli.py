"""The `algoperf` command line: `new`, `run`, `sweep`, `check-submission` and `benchmark`.

This is the only module that parses arguments. Every command that trains builds a `Sweep`
and runs it through the same path: trials in supervised child processes
(`algoperf.harness._supervisor`), so a submission that crashes fails its trial, not the run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from algoperf.api import (
    AlgoPerfError,
    Framework,
    Ruleset,
    SubmissionError,
    TrialStatus,
    get_rules,
    load_submission,
    validation_problems,
)
from algoperf.harness._contract import framework_of_file
from algoperf.harness._guide import guide_link
from algoperf.harness._new import search_space_file, write_submission
from algoperf.harness._supervisor import run_isolated
from algoperf.harness._sweep import Sweep, SweepResult, SweepSubmission, SweepTrial, expand_sweep
from algoperf.harness._workers import run_workers, shard, visible_gpus, worker_devices

DEFAULT_BENCHMARK_BASELINES = ("nadamw", "adamw")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="algoperf", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    new = commands.add_parser("new", help="write a working submission to start from")
    new.add_argument("name", help="the submission's name: NAME.py (a Python identifier)")
    new.add_argument("--framework", required=True, choices=[f.value for f in Framework])
    new.add_argument(
        "--ruleset",
        default="external",
        choices=[r.value for r in Ruleset],
        help="external: also write NAME_search_space.json (default); self: fixed defaults",
    )
    new.add_argument("--dir", type=Path, default=Path(), help="where to write (default: here)")
    new.add_argument("--force", action="store_true", help="overwrite existing files")

    run = commands.add_parser("run", help="run a submission's studies on one workload")
    run.add_argument("submission", type=Path, help="the submission's .py file")
    run.add_argument("--workload", required=True)
    run.add_argument("--framework", required=True, choices=[f.value for f in Framework])
    run.add_argument("--ruleset", default="external", choices=[r.value for r in Ruleset])
    run.add_argument(
        "--rules", default="v0.5", help="rule version: v0.5, v0.6, v0.6-lm (provisional) or dev"
    )
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
        "--keep-checkpoints", action="store_true", help="keep each ended trial's last checkpoint"
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
    check.add_argument(
        "--search-space",
        type=Path,
        help="external tuning: a point of it is used (default: NAME_search_space.json beside "
        "the file, if there is one)",
    )
    check.add_argument("--steps", type=int, default=5)
    check.add_argument("--trial-timeout", type=float, help="seconds before a hung trial is killed")

    bench = commands.add_parser(
        "benchmark", help="baselines on the built-in workloads, scored (no download)"
    )
    bench.add_argument("--frameworks", nargs="+", default=[f.value for f in Framework])
    bench.add_argument("--baselines", nargs="+", default=list(DEFAULT_BENCHMARK_BASELINES))
    bench.add_argument("--rules", default="dev", help="rule version (default: dev)")
    bench.add_argument("--studies", type=int, help="default: the rules' (dev: 2)")
    bench.add_argument("--trials", type=int, help="default: the rules' (dev: 2)")
    bench.add_argument("--plot", type=Path, default=None, help="performance-profile plot file")
    bench.add_argument(
        "--submission",
        dest="submissions",
        action=_AddSubmission,
        default=[],
        metavar="PATH[:FRAMEWORK]",
        help="also run and rank this submission (repeatable); its framework is read from its "
        "imports unless given",
    )
    bench.add_argument(
        "--search-space",
        action=_AddSearchSpace,
        metavar="FILE",
        help="the search space of the --submission before it (default: "
        "NAME_search_space.json beside it)",
    )
    _common(bench, "runs/benchmark")
    return parser


class _AddSubmission(argparse.Action):
    """`--submission PATH[:FRAMEWORK]`: one more user submission for `benchmark`."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: Any = None) -> None:
        path, _, framework = str(values).rpartition(":")
        if framework not in {f.value for f in Framework}:
            path, framework = str(values), None
        getattr(namespace, self.dest).append({"path": Path(path), "framework": framework})


class _AddSearchSpace(argparse.Action):
    """`--search-space FILE` after a `--submission`: that submission's search space."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: Any = None) -> None:
        if not namespace.submissions:
            parser.error("--search-space goes after the --submission it belongs to")
        namespace.submissions[-1]["search_space"] = Path(values)


def _common(parser: argparse.ArgumentParser, experiment_dir: str) -> None:
    parser.add_argument("--experiment-dir", type=Path, default=Path(experiment_dir))
    parser.add_argument("--seed", type=int, default=0, help="experiment seed")
    parser.add_argument(
        "--max-steps", type=int, help="stop trials there (the dev rules cap them at 300)"
    )
    parser.add_argument("--data-dir", default=None)
    parser.add_argument(
        "--data-workers",
        type=int,
        help="input worker processes per trial process (default: the workload's choice)",
    )
    parser.add_argument(
        "--trial-timeout",
        type=float,
        help="seconds before a hung trial is killed (default: twice its budget plus 30 min)",
    )


def cli(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    console = Console(stderr=True, soft_wrap=True)  # messages keep their lines whole
    commands = {
        "new": _new,
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


def _new(args: argparse.Namespace, console: Console) -> int:
    del console
    paths = write_submission(
        args.name, Framework(args.framework), Ruleset(args.ruleset), args.dir, force=args.force
    )
    print("wrote " + " and ".join(str(p) for p in paths))
    space = f" --search-space {paths[1]}" if len(paths) > 1 else ""
    print("next:")
    print(f"  algoperf check-submission {paths[0]} --framework {args.framework}{space}")
    print(f"  algoperf benchmark --submission {paths[0]}{space}")
    print("the guide: docs/submitting.md")
    return 0


def _run(args: argparse.Namespace, console: Console) -> int:
    submission = SweepSubmission(
        framework=args.framework,
        path=args.submission,
        search_space=args.search_space,
        name=args.name,
    )
    sweep = _sweep_of(
        args,
        [submission],
        workloads=[args.workload],
        ruleset=args.ruleset,
        resume=args.resume,
        checkpoint_every=args.checkpoint_every or None,
        keep_checkpoints=args.keep_checkpoints,
        nproc=args.nproc,
    )
    return _run_sweep(sweep, expand_sweep(sweep), console)


def _sweep_of(args: argparse.Namespace, submissions: list[SweepSubmission], **fields: Any) -> Sweep:
    """A sweep of `submissions` with the options every training command shares."""
    try:
        sweep = Sweep(
            submissions=submissions,
            experiment_dir=args.experiment_dir.resolve(),  # orbax needs absolute paths
            rules=args.rules,
            seed=args.seed,
            studies=args.studies,
            trials=args.trials,
            max_steps=args.max_steps,
            data_dir=args.data_dir,
            data_workers=args.data_workers,
            trial_timeout_sec=args.trial_timeout,
            **fields,
        ).resolved(Path())
    except ValidationError as e:
        problems = "; ".join(validation_problems(e))
        raise AlgoPerfError(f"invalid options: {problems}") from None
    return sweep


def _run_sweep(sweep: Sweep, trials: list[SweepTrial], console: Console) -> int:
    """Run `trials` here, each group in child processes, with one progress bar; summarise."""
    with _progress(console) as progress:
        task = progress.add_task("trials", total=len(trials))

        def done(result: SweepResult) -> None:
            progress.update(task, advance=1, description=_describe(result))

        results = run_isolated(trials, sweep, on_result=done)
    return _print_sweep_results(results, console)


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
    return _run_sweep(sweep, trials, console)


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
    spec, outcome = result.trial.spec, result.outcome
    if result.error is not None:
        state = "could not start"
    elif outcome is None:
        state = "running elsewhere"
    else:
        state = "already done" if result.skipped else outcome.status.value
    return f"{spec.submission} {spec.workload} s{spec.study} t{spec.trial}: {state}"


def _print_sweep_results(results: list[SweepResult], console: Console) -> int:
    """One line per trial, the errors, and a last line counting them; 1 if any failed."""
    for result in results:
        line = f"{result.trial.key}  {_describe(result)}"
        if result.outcome is not None:
            o = result.outcome
            target = "" if o.time_to_target is None else f", target at {o.time_to_target:.1f} s"
            line += f" ({o.global_step} steps, {o.accumulated_submission_time:.1f} s{target})"
        print(line)
        error = result.error or (result.outcome.error if result.outcome else None)
        if error and not result.skipped:
            console.print(error, markup=False, highlight=False)
    ran = sum(r.outcome is not None and not r.skipped for r in results)
    summary = f"{ran} trials run, {sum(r.skipped for r in results)} already complete"
    if elsewhere := sum(r.claimed_elsewhere for r in results):
        summary += f", {elsewhere} running elsewhere"
    if unstarted := sum(r.error is not None for r in results):
        summary += f", {unstarted} could not start"
    failed = sum(r.failed for r in results if not r.skipped)
    print(f"{summary}; {failed} failed" if failed else summary)
    return 1 if failed else 0


def _check(args: argparse.Namespace, console: Console) -> int:
    try:
        return _check_submission(args, console)
    except SubmissionError as e:
        console.print(f"[red]error:[/red] {e.path}: ", markup=True, highlight=False, end="")
        console.print("the submission does not follow the AlgoPerf API:", markup=False)
        for problem in e.problems:
            console.print(f"  - {problem}\n    see {guide_link(problem)}", markup=False)
        return 1
    except AlgoPerfError as e:
        console.print(f"[red]error:[/red] {e}", markup=True, highlight=False)
        console.print(f"see {guide_link(str(e))}", markup=False, highlight=False)
        return 1


def _check_submission(args: argparse.Namespace, console: Console) -> int:
    submission = load_submission(args.submission)
    print(f"{submission.path}: the five functions and their parameters follow the API")
    found = search_space_file(args.submission)
    if args.search_space is None and submission.required_hyperparameters and found.is_file():
        args.search_space = found
        print(f"using the search space {found}")
    if args.search_space is None and submission.required_hyperparameters:
        raise AlgoPerfError(
            f"{submission.path} requires the hyperparameters "
            f"{', '.join(submission.required_hyperparameters)} (external tuning); pass "
            "--search-space FILE to check it with a point of that search space"
        )
    with tempfile.TemporaryDirectory() as directory:
        sweep = Sweep(
            submissions=[
                SweepSubmission(
                    framework=args.framework, path=submission.path, search_space=args.search_space
                )
            ],
            workloads=[args.workload],
            rules="dev",
            ruleset=Ruleset.EXTERNAL if args.search_space else Ruleset.SELF,
            studies=1,
            trials=1,
            max_steps=args.steps,
            checkpoint_every=None,
            experiment_dir=Path(directory),
            trial_timeout_sec=args.trial_timeout,
        ).resolved(Path())
        started = time.perf_counter()
        [result] = run_isolated(expand_sweep(sweep), sweep)
    outcome = result.outcome
    if outcome is None or outcome.status is TrialStatus.FAILED:
        error = str(result.error or outcome.error)  # type: ignore[union-attr]
        console.print(error, markup=False, highlight=False)
        console.print(f"see {guide_link(error)}", markup=False, highlight=False)
        steps = 0 if outcome is None else outcome.global_step
        print(f"FAILED after {steps} steps of {args.workload} ({args.framework})")
        return 1
    print(
        f"OK: {outcome.global_step} steps of {args.workload} ({args.framework}) in "
        f"{time.perf_counter() - started:.1f} s, status {outcome.status.value}"
    )
    return 0


def _benchmark(args: argparse.Namespace, console: Console) -> int:
    from algoperf.scoring import ScoringOptions, render, score_logs

    rules = get_rules(args.rules)
    # The built-in models are tiny: one thread per trial process is fastest on a CPU.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    baselines = [
        SweepSubmission(framework=framework, baseline=baseline)
        for framework in args.frameworks
        for baseline in args.baselines
    ]
    users = [_user_submission(**option) for option in args.submissions]
    _check_names([s.resolved(Path()) for s in baselines + users])
    sweep = _sweep_of(args, baselines + users, workloads=list(rules.base_workloads))
    started = time.perf_counter()
    code = _run_sweep(sweep, expand_sweep(sweep), console)
    console.print(f"trials done in {time.perf_counter() - started:.0f} s; scoring")
    report = score_logs(args.experiment_dir, ScoringOptions(rules=rules, bootstrap_samples=200))
    print(render(report))
    for user in sweep.submissions[len(baselines) :]:
        print(_standing(report, str(user.name)))
    if args.plot is not None:
        from algoperf.scoring import plot_performance_profiles

        print(f"performance profiles: {plot_performance_profiles(report, args.plot)}")
    return code


def _user_submission(
    path: Path, framework: str | None, search_space: Path | None = None
) -> SweepSubmission:
    """A `benchmark --submission`: its framework from its imports, its search space beside it."""
    if not path.is_file():
        raise AlgoPerfError(f"--submission {path}: no such file")
    framework = framework or (f.value if (f := framework_of_file(path)) else None)
    if framework is None:
        raise AlgoPerfError(
            f"--submission {path}: cannot tell its framework from its imports; "
            f"write --submission {path}:jax or {path}:pytorch"
        )
    if search_space is None and search_space_file(path).is_file():
        search_space = search_space_file(path)
    if search_space is None:
        raise AlgoPerfError(
            f"--submission {path}: the benchmark tunes externally, so it needs a search space; "
            f"add --search-space FILE after it (see docs/submitting.md#external-and-self-tuning)"
        )
    return SweepSubmission(framework=Framework(framework), path=path, search_space=search_space)


def _check_names(submissions: list[SweepSubmission]) -> None:
    """Raise if two submissions would write their records under one name."""
    seen: dict[str, SweepSubmission] = {}
    for s in submissions:
        if (other := seen.setdefault(str(s.name), s)) is not s:
            raise AlgoPerfError(
                f"two submissions are named {s.name!r} ({other.path} and {s.path}); "
                "rename one of the files"
            )


def _standing(report: Any, name: str) -> str:
    """Where `name` ranks on the leaderboard of `report`."""
    if name not in report.submissions:
        return f"{name}: not on the leaderboard (no trials scored; see the errors above)"
    row = report.submissions.index(name)
    return (
        f"{name} ranks {int(report.ranks[row])} of {len(report.submissions)} "
        f"with a benchmark score of {float(report.score[row]):.3f}"
    )


def _progress(console: Console) -> Progress:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    return Progress(*columns, console=console, transient=False)

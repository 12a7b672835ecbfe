"""`algoperf-score`: score the submissions under a logs folder, or per-workload times."""

from __future__ import annotations

import argparse
import atexit
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from algoperf.api import RULE_VERSIONS, AlgoPerfError, Ruleset, get_rules
from algoperf.scoring._anomalies import summarize_anomalies
from algoperf.scoring._ingest import Logs, TrialLog, load_logs
from algoperf.scoring._plots import check_plot_path, plot_performance_profiles, plot_tau_sensitivity
from algoperf.scoring._profiles import Integration
from algoperf.scoring._reports import Format, render
from algoperf.scoring._scoring import ScoringOptions, score
from algoperf.scoring._time_to_target import workload_times
from algoperf.scoring._times import WorkloadTimes, read_times_csv

_EPILOG = """\
Each ROOT holds one folder per submission, in our layout (trial.json + evals.jsonl, any
nesting) or the reference's (study_<k>/<workload>_<framework>/trial_<i>/
eval_measurements.csv); several ROOTs are scored together (your runs beside published
logs), and a name found under two of them is an error unless --name renames one. --times
reads a CSV with columns submission, workload, seconds (inf and nan allowed) instead.
Anomalies of the input are summarised on stderr.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="algoperf-score",
        description=__doc__,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("root", nargs="*", type=Path, help="folders of submission folders")
    parser.add_argument(
        "--name",
        action="append",
        default=[],
        metavar="FOLDER=NAME",
        help="score the submission in FOLDER (a ROOT's sub-folder) as NAME (repeatable)",
    )
    parser.add_argument("--times", type=Path, metavar="FILE.csv", help="per-workload times")
    parser.add_argument(
        "--ruleset",
        choices=[r.value for r in Ruleset],
        default="external",
        help="tuning ruleset: sets the budgets (default: external)",
    )
    parser.add_argument(
        "--rules", choices=list(RULE_VERSIONS), default="v0.5", help="rule version (default: v0.5)"
    )
    parser.add_argument(
        "--reference-compat",
        action="store_true",
        help="score as the reference implementation's scoring code does, which produced the "
        "published v0.5 leaderboards (external and self tuning; with --rules v0.6, its later "
        "code): each study's trial is the one reaching the target at the earliest eval index, "
        "evals past the budget count. Default: the rules as written (fastest trial by time, "
        "budget enforced), which no published leaderboard used; see the scoring README",
    )
    parser.add_argument("--format", choices=[f.value for f in Format], default="table")
    parser.add_argument(
        "--integration",
        choices=[i.value for i in Integration],
        default="trapezoid",
        help="the reference's trapezoid on 100 points of tau (default), or the exact area",
    )
    parser.add_argument(
        "--plot",
        type=Path,
        metavar="FILE",
        help="write the profiles to FILE (.png or .svg) and the tau_max sensitivity beside it",
    )
    parser.add_argument("--strict", action="store_true", help="make every anomaly an error")
    parser.add_argument("--speedups-vs", metavar="NAME", help="speed-ups against this submission")
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        metavar="N",
        help="study resamples for the score's confidence interval (0: none; default 1000)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes that read trial files and share the bootstrap (default: one per CPU when "
        "there is enough work: 500 trials each)",
    )
    return parser


def cli(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if bool(args.root) == (args.times is not None):
        parser.error("give either ROOT or --times FILE.csv")
    try:
        if args.plot is not None:
            check_plot_path(args.plot)
        options = ScoringOptions(
            rules=get_rules(args.rules),
            ruleset=Ruleset(args.ruleset),
            reference_compat=args.reference_compat,
            integration=Integration(args.integration),
            bootstrap_samples=args.bootstrap,
            seed=args.seed,
            speedups_vs=args.speedups_vs,
        )
        times = _read(args, options)
        if times.anomalies:
            print(summarize_anomalies(times.anomalies), file=sys.stderr)
        report = score(times, options, workers=args.workers)
    except AlgoPerfError as e:
        print(f"algoperf-score: error: {e}", file=sys.stderr)
        return 1
    # The report first, so that a failing plot never loses it.
    sys.stdout.write(render(report, args.format))
    sys.stdout.flush()
    if args.plot is not None:
        try:
            profiles = plot_performance_profiles(report, args.plot)
            sensitivity = args.plot.with_name(f"{args.plot.stem}_tau_max{args.plot.suffix}")
            written = plot_tau_sensitivity(report, sensitivity)
        except (AlgoPerfError, OSError) as e:
            print(
                f"algoperf-score: error: the report is above; the plot failed: {e}", file=sys.stderr
            )
            return 1
        print(f"wrote {profiles} and {written}", file=sys.stderr)
    return 0


def _read(args: argparse.Namespace, options: ScoringOptions) -> WorkloadTimes:
    if args.times is not None:
        return read_times_csv(args.times, options.rules, strict=args.strict)
    renames = dict(_rename(option) for option in args.name)
    logs = [
        load_logs(root, options.rules, options.ruleset, strict=args.strict, workers=args.workers)
        for root in args.root
    ]
    merged = _merge(args.root, logs, renames)
    return workload_times(merged, reference_compat=options.reference_compat)


def _rename(option: str) -> tuple[Path, str]:
    folder, sep, name = option.rpartition("=")
    if not sep or not folder or not name:
        raise AlgoPerfError(f"--name {option!r}: expected FOLDER=NAME, e.g. runs/mine/adamw=mine")
    return Path(folder).resolve(), name


def _merge(roots: Sequence[Path], logs: Sequence[Logs], renames: dict[Path, str]) -> Logs:
    """The logs of several roots as one, each submission renamed as `renames` says.

    Raises:
        AlgoPerfError: a name is in two folders, or a --name folder holds no submission.
    """
    folders: dict[str, Path] = {}  # final name -> its submission folder
    trials: list[TrialLog] = []
    for root, part in zip(roots, logs, strict=True):
        by_submission: dict[str, list[TrialLog]] = {}
        for t in part.trials:
            by_submission.setdefault(t.submission, []).append(t)
        for submission in part.submissions:
            own = by_submission.get(submission, [])
            # Our records name their submission inside: its folder is the one they lie in.
            top = own[0].path.relative_to(root).parts[0] if own else submission
            folder = (root / top).resolve()
            name = renames.pop(folder, submission)
            if (other := folders.setdefault(name, folder)) != folder:
                raise AlgoPerfError(
                    f"two submissions are named {name!r}: {other} and {folder}; "
                    f"rename one with --name {folder}=OTHER_NAME"
                )
            trials += own if name == submission else [replace(t, submission=name) for t in own]
    if renames:
        raise AlgoPerfError(f"--name {', '.join(map(str, renames))}: no submission folder there")
    anomalies = tuple(a for part in logs for a in part.anomalies)
    first = logs[0]
    return Logs(first.rules, first.ruleset, tuple(sorted(folders)), tuple(trials), anomalies)


def cli_exit() -> None:
    """Console-script entry point.

    Leaves without tearing the interpreter down (as mypy does): freeing every object and
    module, numpy's among them, took a twentieth of a leaderboard's scoring. Output is
    flushed and exit handlers run first.
    """
    code = cli()
    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(code)

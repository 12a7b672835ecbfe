"""How fast algoperf.scoring scores logs, against a pandas reader and a naive one, in one run.

Two sources of logs:

- `--logs DIR`: real logs in the reference layout (one folder per submission), e.g. the
  shared v0.5 fixture `algoperf_v05_baseline_logs/external_tuning`; `--copies N` scores N
  copies of each submission (symbolic links), to reach the size of a whole leaderboard
  (v0.5 external tuning: 3,718 trials). Compared: `algoperf-score --rules v0.5
  --reference-compat --format json` (the whole CLI: every report, 1,000 bootstrap
  resamples) against a pandas port of the reference's `score_submissions.py` path
  (`get_experiment_df`: `pd.read_csv` and a one-row DataFrame per trial, concatenated;
  `get_workloads_time_to_target`: groupby workload and study, first eval index reaching
  the target; `compute_performance_profiles`: the 4x and held-out rules, the profile on
  100 taus, `np.trapezoid`). Both must give the same scores.
- generated trials (the default: 10,000 trials of 100 evals, not timed): `load_logs` +
  `workload_times` + `score` against a naive reader (pydantic per eval line for our layout,
  `csv.DictReader` for the reference's) followed by the same scoring; with
  `--layout reference` the pandas reader runs too.

Each run is a fresh process timed from outside (interpreter start and imports included),
ours and the baselines in pairs, after one untimed warm-up of each (page cache, and the
bytecode cache: the children run without PYTHONDONTWRITEBYTECODE, as any installed Python
does). Peak memory is the child's peak RSS (its forked readers included, from wait4).

The pandas reader needs pandas, which no project group installs:
    uv run --with pandas python benchmarks/scoring_speed.py --logs DIR --copies 10
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from algoperf.api import (
    EVALS_FILE,
    TRIAL_FILE,
    WORKLOADS,
    Framework,
    HardwareInfo,
    MetricDirection,
    Ruleset,
    TrialFile,
    TrialSpec,
    WorkloadSpec,
    get_rules,
    read_trial,
    scored_workloads,
)
from algoperf.scoring import (
    Logs,
    ScoringOptions,
    TrialLog,
    load_logs,
    score,
    workload_times,
)

RULES = get_rules("v0.5")
GOAL_RATIO = 20.0
GOAL_BYTES = 125 * 2**20


def generate(root: Path, trials: int, evals: int, layout: str) -> int:
    """Write `trials` trials of `evals` evals under `root`; returns the bytes written."""
    rng = random.Random(0)
    specs = scored_workloads(RULES)
    per_submission = len(specs) * RULES.num_studies * RULES.num_trials
    written = 0
    for n in range(trials):
        submission, rest = divmod(n, per_submission)
        workload, rest = divmod(rest, RULES.num_studies * RULES.num_trials)
        study, trial = divmod(rest, RULES.num_trials)
        spec = specs[workload]
        rows = _evals(spec, rng, evals)
        key = (f"sub_{submission:02d}", spec.name, study, trial + 1)
        write = _write_ours if layout == "ours" else _write_reference
        written += write(root, key, spec.validation_metric_key, rows)
    return written


def _evals(spec: WorkloadSpec, rng: random.Random, evals: int) -> list:
    """(step, time, metric, loss) rows; the target is reached at a random point of the run.

    Evals go on to 1.1x the budget, so some trials reach the target only past the budget.
    """
    budget, target = spec.max_runtime_sec(RULES), spec.validation_target
    maximize = spec.metric_direction is MetricDirection.MAXIMIZE
    speed = rng.uniform(0.6, 1.5)  # reaches the target at `speed` x the budget
    rows = []
    for i in range(evals):
        progress = (i + 1) / evals * 1.1 / speed
        time_ = (i + 1) / evals * 1.1 * budget + rng.random()
        value = target * min(progress, 1.1) if maximize else target * (2 - min(progress, 1.1))
        rows.append((100 * (i + 1), time_, value, rng.random()))
    return rows


def _write_ours(root: Path, key: tuple, metric: str, rows: list) -> int:
    submission, workload, study, trial = key
    folder = root / submission / f"study_{study}" / workload / f"trial_{trial}"
    folder.mkdir(parents=True)
    spec = TrialSpec(
        submission=submission,
        workload=workload,
        framework=Framework.JAX,
        ruleset=Ruleset.EXTERNAL,
        rules_version=RULES.name,
        study=study,
        trial=trial,
        seed=study * 100 + trial,
        hyperparameters={"learning_rate": 1e-3},
        hardware=HardwareInfo(device_kind="cpu", device_count=1),
    )
    trial_text = TrialFile(spec=spec).model_dump_json(indent=2)
    # EvalRecord.model_dump_json's layout, filled in fast; the naive reader validates every
    # line with pydantic, so a format slip fails the benchmark.
    lines = "".join(
        f'{{"global_step":{step},"accumulated_submission_time":{t!r},'
        f'"accumulated_eval_time":{t / 10!r},"accumulated_logging_time":0.5,'
        f'"total_duration":{t * 1.2!r},"preemption_count":0,"metrics":{{'
        + ",".join(f'"{k}":{v!r}' for k, v in _metrics(metric, value, loss).items())
        + "}}\n"
        for step, t, value, loss in rows
    )
    (folder / TRIAL_FILE).write_text(trial_text)
    (folder / EVALS_FILE).write_text(lines)
    return len(trial_text) + len(lines)


def _write_reference(root: Path, key: tuple, metric: str, rows: list) -> int:
    submission, workload, study, trial = key
    folder = root / submission / f"study_{study}" / f"{workload}_jax" / f"trial_{trial}"
    folder.mkdir(parents=True)
    header = sorted([*_TIME_COLUMNS, *_metrics(metric, 0.0, 0.0)])
    lines = [",".join(header)]
    for step, t, value, loss in rows:
        cells = {
            "accumulated_eval_time": t / 10,
            "accumulated_logging_time": 0.5,
            "accumulated_submission_time": t,
            "global_step": step,
            "preemption_count": 0,
            "score": t,
            "total_duration": t * 1.2,
            **_metrics(metric, value, loss),
        }
        lines.append(",".join(repr(cells[c]) for c in header))
    text = "\n".join(lines) + "\n"
    (folder / "eval_measurements.csv").write_text(text)
    return len(text)


_TIME_COLUMNS = (
    "accumulated_eval_time",
    "accumulated_logging_time",
    "accumulated_submission_time",
    "global_step",
    "preemption_count",
    "score",
    "total_duration",
)


def _metrics(metric: str, value: float, loss: float) -> dict[str, float]:
    """The metrics of one eval: the target metric and the loss on each split."""
    name = metric.removeprefix("validation/")
    out = {}
    for split, shift in (("train", 0.01), ("validation", 0.0), ("test", -0.01)):
        out[f"{split}/loss"] = loss + shift
        out[f"{split}/{name}"] = value * (1 + shift)
    return out | {"validation/num_examples": 50000.0, "test/num_examples": 10000.0}


def naive_logs(root: Path, layout: str) -> Logs:
    """The same trials read the simple way: pydantic per line, or csv.DictReader."""
    specs = {s.name: s for s in scored_workloads(RULES)}
    trials = []
    if layout == "ours":
        for path in sorted(root.rglob(TRIAL_FILE)):
            record = read_trial(path.parent)
            s = record.spec
            key = specs[s.workload].validation_metric_key
            times = np.array([e.accumulated_submission_time for e in record.evals])
            values = np.array([e.metrics[key] for e in record.evals])
            trials.append(
                TrialLog(
                    s.submission, s.workload, s.study, s.trial, str(path.parent), times, values
                )
            )
    else:
        for path in sorted(root.rglob("eval_measurements.csv")):
            submission, study, folder, trial = path.parts[-5:-1]
            workload = folder.removesuffix("_jax")
            with path.open() as f:
                rows = list(csv.DictReader(f))
            key = specs[workload].validation_metric_key
            times = np.array([float(r["accumulated_submission_time"]) for r in rows])
            values = np.array([float(r[key]) for r in rows])
            trials.append(
                TrialLog(
                    submission,
                    workload,
                    int(study[6:]),
                    int(trial[6:]),
                    str(path.parent),
                    times,
                    values,
                )
            )
    submissions = tuple(sorted({t.submission for t in trials}))
    return Logs(RULES, Ruleset.EXTERNAL, submissions, tuple(trials), ())


def pandas_scores(root: Path) -> dict:
    """Scores of the reference-layout logs under `root`, the way the reference computes them.

    A port of the reference's v0.5 scoring (`scoring/score_submissions.py` with
    `performance_profile.py` and `scoring_utils.py`), pandas all the way: targets come from
    the algoperf.api registry instead of importing workload classes. Trials are listed in
    natural order, so that ties go to the lowest trial number, as ours.
    """
    import pandas as pd

    frames = {sub.name: _experiment_df(pd, sub) for sub in sorted(root.iterdir())}
    times = pd.concat([_times_to_target(pd, name, df) for name, df in frames.items()])
    base, held_out = list(RULES.base_workloads), list(RULES.held_out_workloads)
    times = times[base + held_out]
    for variant in held_out:  # variant := inf where its base is inf (the 2024-07 pre-step)
        times.loc[~np.isfinite(times[WORKLOADS[variant].base_workload]), variant] = np.inf
    best = times.min(axis=0)
    times[times.apply(lambda row: row > RULES.max_ratio_to_fastest * best, axis=1)] = np.inf
    for variant in held_out:  # base := inf where its variant is inf or NaN
        base_name = WORKLOADS[variant].base_workload
        bad = ~np.isfinite(times[variant].astype(float))
        times.loc[bad, base_name] = np.inf
    ratios = times[base].div(times[base].min(axis=0), axis=1)
    taus = np.linspace(1.0, RULES.max_tau, 100)
    profiles = pd.concat([(ratios <= tau).sum(axis=1) / len(base) for tau in taus], axis=1)
    scores = np.trapezoid(profiles.to_numpy(), taus, axis=1) / (RULES.max_tau - 1.0)
    return dict(zip(profiles.index, scores.tolist(), strict=True))


def _experiment_df(pd, folder: Path):
    """`scoring_utils.get_experiment_df`: a row per trial, each CSV column an array."""
    df = pd.DataFrame()
    for study in _natural(p for p in folder.iterdir() if p.name.startswith("study_")):
        for workload in _natural(p for p in study.iterdir() if p.is_dir()):
            workload_df = pd.DataFrame()
            for trial in _natural(p for p in workload.iterdir() if p.name.startswith("trial_")):
                try:
                    trial_df = pd.read_csv(trial / "eval_measurements.csv")
                except FileNotFoundError:
                    continue
                data = {"workload": workload.name, "trial": (trial.name, str(folder))}
                for column in trial_df.columns:
                    data[column] = trial_df[column].to_numpy()
                workload_df = pd.concat([workload_df, pd.DataFrame([data])], ignore_index=True)
            workload_df["study"] = int(study.name.removeprefix("study_"))
            df = pd.concat([df, workload_df], ignore_index=True)
    return df


def _times_to_target(pd, name: str, df):
    """`performance_profile.get_workloads_time_to_target`, time column 'score'."""
    rows = []
    for workload, group in df.groupby("workload"):
        workload_name = re.sub(r"_(jax|pytorch)$", "", str(workload))
        if workload_name not in WORKLOADS:
            continue
        spec = WORKLOADS[workload_name]
        metric, target = spec.validation_metric_key, spec.validation_target
        study_times = []
        for _, study in group.groupby("study"):
            trial, index = _best_trial_index(pd, study, metric, target, spec.metric_direction)
            study_times.append(study["score"].loc[trial][index] if index > -1 else np.inf)
        rows.append(
            {"submission": name, "workload": workload_name, "score": np.median(study_times)}
        )
    return pd.DataFrame.from_records(rows).pivot(
        index="submission", columns="workload", values="score"
    )


def _best_trial_index(pd, study, metric: str, target: float, direction: MetricDirection):
    """`get_best_trial_index`: the trial first reaching the target, by eval index."""
    op = np.greater_equal if direction is MetricDirection.MAXIMIZE else np.less_equal
    reached = study[metric].apply(lambda values: op(values, target))
    reached = reached[reached.apply(np.any)]
    if not len(reached):
        return -1, -1
    index = reached.apply(np.argmax)
    trial = index.idxmin()
    return trial, index[trial]


def _natural(paths) -> list[Path]:
    return sorted(
        paths, key=lambda p: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]
    )


def measure(root: Path, layout: str, naive: bool) -> None:
    """Time one ingestion + scoring (generated logs); print the scores as JSON."""
    logs = naive_logs(root, layout) if naive else load_logs(root, RULES, Ruleset.EXTERNAL)
    report = score(workload_times(logs), ScoringOptions(rules=RULES))
    print(json.dumps(dict(zip(report.submissions, report.score.tolist(), strict=True))))


def _command(kind: str, root: Path, layout: str) -> list[str]:
    """The child process that runs `kind` ('ours', 'naive', 'pandas', 'cli') on `root`."""
    if kind == "cli":
        return [sys.executable, "-m", "algoperf.scoring", str(root), "--rules", RULES.name,
                "--reference-compat", "--format", "json"]  # fmt: skip
    command = [sys.executable, __file__, "--layout", layout]
    return command + (["--pandas", str(root)] if kind == "pandas" else
                      ["--measure", str(root)] + ["--naive"] * (kind == "naive"))  # fmt: skip


def _time(command: list[str]) -> dict:
    """Wall seconds, peak RSS (bytes, forked children included) and scores of one child."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    out = child.stdout.read() if child.stdout else b""
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(command)} failed")
    return {"seconds": seconds, "peak": usage.ru_maxrss * 1024, "scores": _scores(out)}


def _scores(out: bytes) -> dict[str, float]:
    parsed = json.loads(out)
    if isinstance(parsed, list):  # the CLI's JSON: one object per submission
        return {entry["submission"]: entry["score"] for entry in parsed}
    return parsed


def _pairs(kinds: list[str], root: Path, layout: str, repeats: int) -> dict[str, list[dict]]:
    """`repeats` timed runs of each kind, interleaved, after one warm-up of each."""
    for kind in kinds:
        _time(_command(kind, root, layout))
    runs: dict[str, list[dict]] = {kind: [] for kind in kinds}
    for _ in range(repeats):
        for kind in kinds:
            runs[kind].append(_time(_command(kind, root, layout)))
    return runs


def _report(runs: dict[str, list[dict]], names: dict[str, str]) -> None:
    ours_kind = next(iter(runs))
    ours = runs[ours_kind]
    for kind, timed in runs.items():
        seconds = sorted(r["seconds"] for r in timed)
        peak = max(r["peak"] for r in timed)
        each = ", ".join(f"{r['seconds']:.2f}" for r in timed)
        print(
            f"{names[kind]}: best {seconds[0]:.2f} s, median {seconds[len(seconds) // 2]:.2f} s "
            f"(runs {each}); peak RSS {peak / 2**20:.0f} MiB"
        )
        if kind == ours_kind:
            continue
        for r, o in zip(timed, ours, strict=True):
            if r["scores"].keys() != o["scores"].keys() or not np.allclose(
                list(r["scores"].values()), [o["scores"][k] for k in r["scores"]]
            ):
                sys.exit(f"scores differ: {names[kind]} {r['scores']} vs ours {o['scores']}")
        paired = sorted(r["seconds"] / o["seconds"] for r, o in zip(timed, ours, strict=True))
        best = min(r["seconds"] for r in timed) / min(o["seconds"] for o in ours)
        print(
            f"  -> ours is {best:.1f}x faster (best vs best; paired runs: median "
            f"{paired[len(paired) // 2]:.1f}x, range {paired[0]:.1f}-{paired[-1]:.1f}x); "
            "same scores"
        )


def _copies(logs: Path, copies: int, into: Path) -> int:
    """Link `copies` copies of each submission under `logs` into `into`; returns the trials."""
    trials = 0
    for submission in sorted(p for p in logs.iterdir() if p.is_dir()):
        found = sum(1 for _ in submission.glob("study_*/*/trial_*/eval_measurements.csv"))
        for k in range(copies):
            (into / f"{submission.name}_{k}").symlink_to(submission.resolve())
            trials += found
    return trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=Path, help="real logs in the reference layout")
    parser.add_argument("--copies", type=int, default=1, help="copies of each --logs submission")
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--evals", type=int, default=100)
    parser.add_argument("--layout", choices=["ours", "reference"], default="ours")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each, in pairs")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--pandas", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--naive", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        measure(args.measure, args.layout, args.naive)
        return
    if args.pandas is not None:
        print(json.dumps(pandas_scores(args.pandas)))
        return
    has_pandas = importlib.util.find_spec("pandas") is not None
    with tempfile.TemporaryDirectory(prefix="algoperf-scoring-speed-") as tmp:
        root = Path(tmp)
        if args.logs is not None:
            trials = _copies(args.logs, args.copies, root)
            size = sum(f.stat().st_size for f in root.glob("*/study_*/*/trial_*/*.csv"))
            print(
                f"{args.logs}: {args.copies} cop{'y' if args.copies == 1 else 'ies'} of each "
                f"submission, {trials:,} trials, {size / 2**20:,.0f} MiB; {os.cpu_count()} CPUs"
            )
            kinds, layout = ["cli", "pandas"], "reference"
        else:
            start = time.perf_counter()
            size = generate(root, args.trials, args.evals, args.layout)
            os.sync()  # so that writing back the files does not overlap the timings
            print(
                f"generated {args.trials:,} trials x {args.evals} evals, {args.layout} layout, "
                f"{size / 2**20:,.0f} MiB, in {time.perf_counter() - start:.1f} s (not timed); "
                f"{os.cpu_count()} CPUs"
            )
            kinds, layout = ["ours", "naive"], args.layout
            if layout == "reference":
                kinds.append("pandas")
        if "pandas" in kinds and not has_pandas:
            kinds.remove("pandas")
            print("pandas is not installed: run under `uv run --with pandas` for that baseline")
        runs = _pairs(kinds, root, layout, args.repeats)
    naive = "pydantic per eval line" if layout == "ours" else "csv.DictReader"
    names = {
        "cli": "algoperf-score --reference-compat (whole CLI)",
        "ours": "algoperf.scoring ingest+score",
        "naive": f"naive ({naive}) ingest+score",
        "pandas": "pandas reader (the reference's scoring, ported)",
    }
    _report(runs, names)
    ours = runs[kinds[0]]
    best, peak = min(r["seconds"] for r in ours), max(r["peak"] for r in ours)
    if "pandas" in runs:
        ratio = min(r["seconds"] for r in runs["pandas"]) / best
        met = ratio >= GOAL_RATIO and peak <= GOAL_BYTES
        goal = f">= {GOAL_RATIO:g}x the pandas reader and <= {GOAL_BYTES / 2**20:g} MiB"
        print(f"figure: {ratio:.1f}x the pandas reader; goal {goal}: {'met' if met else 'NOT met'}")
    else:
        ratio = min(r["seconds"] for r in runs["naive"]) / best
        print(f"figure: {best:.2f} s, {ratio:.1f}x the naive reader, peak {peak / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()

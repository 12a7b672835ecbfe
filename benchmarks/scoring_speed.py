"""How fast algoperf.scoring ingests and scores 10,000 trials of 100 evals each.

Generates the trials on disk in a temporary folder (not timed), then, each in a fresh
process so that its peak memory is its own, times:

- algoperf.scoring: `load_logs` + `workload_times` + `score` (with the default 1,000
  bootstrap resamples), as `algoperf-score` runs them;
- a naive baseline on the same files: pydantic per eval line (`algoperf.api.read_trial`)
  for our layout, `csv.DictReader` for the reference's, then the same scoring.

Both must give the same scores. Usage: uv run python benchmarks/scoring_speed.py
[--trials 10000] [--evals 100] [--layout ours|reference].
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from algoperf.api import (
    EVALS_FILE,
    TRIAL_FILE,
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
GOAL_SECONDS = 5.0
GOAL_BYTES = 1 << 30


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
                TrialLog(s.submission, s.workload, s.study, s.trial, path.parent, times, values)
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
                    submission, workload, int(study[6:]), int(trial[6:]), path.parent, times, values
                )
            )
    submissions = tuple(sorted({t.submission for t in trials}))
    return Logs(RULES, Ruleset.EXTERNAL, submissions, tuple(trials), ())


def measure(root: Path, layout: str, naive: bool) -> None:
    """Time one ingestion + scoring and print seconds, peak RSS and the scores as JSON."""
    start = time.perf_counter()
    logs = naive_logs(root, layout) if naive else load_logs(root, RULES, Ruleset.EXTERNAL)
    report = score(workload_times(logs), ScoringOptions(rules=RULES))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(json.dumps({"seconds": seconds, "peak": peak, "scores": report.score.tolist()}))


def _run(root: Path, layout: str, naive: bool) -> dict:
    command = [sys.executable, __file__, "--measure", str(root), "--layout", layout]
    out = subprocess.run(command + ["--naive"] * naive, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def _best(root: Path, layout: str, naive: bool, repeats: int) -> dict:
    """The fastest of `repeats` fresh-process runs (as timeit reports), and every time."""
    runs = [_run(root, layout, naive) for _ in range(repeats)]
    best = min(runs, key=lambda r: r["seconds"])
    return best | {"all": [r["seconds"] for r in runs], "peak": max(r["peak"] for r in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--evals", type=int, default=100)
    parser.add_argument("--layout", choices=["ours", "reference"], default="ours")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each; the best counts")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--naive", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        measure(args.measure, args.layout, args.naive)
        return
    with tempfile.TemporaryDirectory(prefix="algoperf-scoring-speed-") as tmp:
        start = time.perf_counter()
        size = generate(Path(tmp), args.trials, args.evals, args.layout)
        os.sync()  # so that writing back the files does not overlap the timings
        made = time.perf_counter() - start
        print(
            f"generated {args.trials:,} trials x {args.evals} evals, {args.layout} layout, "
            f"{size / 2**20:,.0f} MiB, in {made:.1f} s (not timed); {os.cpu_count()} CPUs"
        )
        ours = _best(Path(tmp), args.layout, naive=False, repeats=args.repeats)
        naive = _best(Path(tmp), args.layout, naive=True, repeats=args.repeats)
    if not np.allclose(ours["scores"], naive["scores"]):
        sys.exit(f"scores differ: {ours['scores']} vs naive {naive['scores']}")
    baseline = "pydantic per eval line" if args.layout == "ours" else "csv.DictReader"
    for name, run in (("algoperf.scoring", ours), (f"naive ({baseline})", naive)):
        runs = ", ".join(f"{t:.2f}" for t in run["all"])
        print(
            f"{name} ingest+score: best {run['seconds']:.2f} s of {runs}; "
            f"peak RSS {run['peak'] / 2**20:.0f} MiB"
        )
    met = ours["seconds"] < GOAL_SECONDS and ours["peak"] < GOAL_BYTES
    print(
        f"figure: {ours['seconds']:.2f} s = {naive['seconds'] / ours['seconds']:.1f}x faster than "
        f"naive; goal < {GOAL_SECONDS:g} s and < 1 GiB: {'met' if met else 'NOT met'}"
    )


if __name__ == "__main__":
    main()

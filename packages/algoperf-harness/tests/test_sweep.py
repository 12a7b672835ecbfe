"""`algoperf sweep`: expansion, skipping completed trials, failures, and the submitit executor."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from algoperf import api
from algoperf.baselines import search_space_path
from algoperf.harness._cli import cli
from algoperf.harness._sweep import Sweep, SweepError, expand_sweep
from algoperf.harness._workers import shard, worker_devices

FAILING = """
from algoperf.baselines.pytorch.adamw import SUBMISSION as BASELINE

get_batch_size = BASELINE.get_batch_size
init_optimizer_state = BASELINE.init_optimizer_state
data_selection = BASELINE.data_selection


def update_params(workload, current_param_container, current_params_types, model_state,
                  hyperparameters, batch, loss_type, optimizer_state, eval_results,
                  global_step, rng):
    raise RuntimeError("this submission always fails")
"""


def write_sweep(tmp_path, extra=""):
    (tmp_path / "failing.py").write_text(FAILING)
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(
        textwrap.dedent(
            f"""
            experiment_dir = "runs"
            workloads = ["digits_mlp"]
            studies = 1
            trials = 2
            max_steps = 3
            {extra}

            [[submissions]]
            baseline = "adamw"
            framework = "pytorch"

            [[submissions]]
            path = "failing.py"
            search_space = "{search_space_path("adamw")}"
            framework = "pytorch"

            [[submissions]]
            path = "missing.py"
            search_space = "{search_space_path("adamw")}"
            framework = "pytorch"
            """
        )
    )
    return sweep


def statuses(runs):
    return sorted(
        (r.spec.submission, r.outcome.status.value)
        for r in map(api.read_trial, (p.parent for p in runs.rglob("trial.json")))
    )


@pytest.mark.slow  # trials in child processes
def test_the_local_executor_goes_on_after_failures_and_reruns_nothing(tmp_path, capsys):
    sweep = write_sweep(tmp_path)
    # The missing submission file cannot start: exit code 1, but every other trial ran.
    assert cli(["sweep", str(sweep)]) == 1
    assert "4 trials run, 0 already complete" in capsys.readouterr().out
    runs = tmp_path / "runs"
    assert statuses(runs) == [("adamw_pytorch", "stopped")] * 2 + [("failing", "failed")] * 2
    failed = next(runs.glob("failing/**/trial.json")).parent
    assert "this submission always fails" in api.read_trial(failed).outcome.error
    written = records(runs)

    assert cli(["sweep", str(sweep)]) == 1
    assert "0 trials run, 4 already complete" in capsys.readouterr().out
    assert records(runs) == written


def records(runs):
    """Each file of the trial records (not the children's logs) and when it was written."""
    files = (p for p in runs.rglob("*") if p.is_file() and ".logs" not in p.parts)
    return {p: p.stat().st_mtime_ns for p in files}


def test_trials_are_content_hashed_and_listed_by_a_dry_run(tmp_path, capsys):
    sweep = Sweep.from_file(write_sweep(tmp_path))
    trials = expand_sweep(sweep)
    assert len(trials) == 6
    assert len({t.key for t in trials}) == 6
    assert [t.key for t in expand_sweep(sweep)] == [t.key for t in trials]
    assert cli(["sweep", str(tmp_path / "sweep.toml"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert all(f"{t.key}  pending" in out for t in trials)
    assert not (tmp_path / "runs").exists()


def test_sweep_file_errors_name_the_file_and_the_fields(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"submissions": [{"framework": "jax"}], "workloads": [], "x": 1}))
    with pytest.raises(SweepError) as error:
        Sweep.from_file(bad)
    message = str(error.value)
    assert message.startswith(f"{bad}: invalid sweep file")
    assert "submissions.0: Value error, give exactly one of 'baseline' and 'path'" in message
    assert "workloads: List should have at least 1 item" in message
    assert "x: Extra inputs are not permitted" in message
    bad.with_suffix(".toml").write_text("workloads = [")
    with pytest.raises(SweepError, match=r"bad\.toml: not valid toml"):
        Sweep.from_file(bad.with_suffix(".toml"))


@pytest.mark.slow
def test_the_slurm_executor_runs_a_job_array_through_submitit(tmp_path):
    pytest.importorskip("submitit")
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(
        textwrap.dedent(
            """
            experiment_dir = "runs"
            workloads = ["digits_mlp"]
            studies = 1
            trials = 1
            max_steps = 3
            executor = "slurm"

            [[submissions]]
            baseline = "adamw"
            framework = "pytorch"

            [slurm]
            cluster = "local"
            gpus_per_node = 0
            timeout_min = 10
            """
        )
    )
    # In a child process: submitit's executor manages its own output streams, which must not
    # meet pytest's capture.
    command = [sys.executable, "-m", "algoperf.harness", "sweep", str(sweep), "--wait"]
    first = subprocess.run(command, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "submitted 1 of 1 trials as job array" in first.stdout
    assert "1 trials run, 0 already complete" in first.stdout
    assert statuses(tmp_path / "runs") == [("adamw_pytorch", "stopped")]
    again = subprocess.run(command, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "all 1 trials are complete" in again.stdout


@pytest.mark.slow
def test_a_preempted_slurm_job_is_requeued_and_its_trial_resumes(tmp_path):
    pytest.importorskip("submitit")
    if not Path("/proc/self/task").exists():
        pytest.skip("finds the job's task process through Linux's /proc")
    # A learning rate too small to reach the target, so the trial is still running when the
    # job is preempted after its second eval.
    (tmp_path / "slow.json").write_text(
        json.dumps(
            [
                {
                    "learning_rate": 1e-7,
                    "one_minus_beta1": 0.1,
                    "beta2": 0.999,
                    "weight_decay": 0.0,
                    "warmup_factor": 0.05,
                    "label_smoothing": 0.0,
                    "dropout_rate": 0.0,
                }
            ]
        )
    )
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(
        textwrap.dedent(
            """
            experiment_dir = "runs"
            workloads = ["digits_mlp"]
            rules = "v0.6"  # the dev rules would end the trial at step 300
            studies = 1
            trials = 1
            max_steps = 1000

            [[submissions]]
            baseline = "adamw"
            framework = "pytorch"
            search_space = "slow.json"

            [slurm]
            cluster = "local"
            gpus_per_node = 0
            timeout_min = 10
            """
        )
    )
    worker = Path(__file__).with_name("slurm_preemption.py")
    result = subprocess.run(
        [sys.executable, str(worker), str(sweep)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == ["stopped"]
    [directory] = [p.parent for p in (tmp_path / "runs").rglob("trial.json")]
    record = api.read_trial(directory)
    assert record.outcome.global_step == 1000
    counts = [e.preemption_count for e in record.evals]
    assert counts[0] == 0
    assert counts[-1] == 1
    assert counts == sorted(counts)
    steps = [e.global_step for e in record.evals]
    assert steps == sorted(set(steps))  # none lost, none duplicated
    assert sorted(p.name for p in directory.glob("meta_data_*.json")) == [
        "meta_data_0.json",
        "meta_data_1.json",
    ]


@pytest.mark.slow
def test_two_local_workers_share_the_trials_and_a_rerun_runs_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPUs: both workers share the CPU
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(
        textwrap.dedent(
            """
            experiment_dir = "runs"
            workloads = ["digits_mlp"]
            studies = 1
            trials = 3
            max_steps = 2
            workers = 2

            [[submissions]]
            baseline = "adamw"
            framework = "pytorch"
            """
        )
    )
    command = [sys.executable, "-m", "algoperf.harness", "sweep", str(sweep)]
    first = subprocess.run(command, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "worker 0 (CPU): exit code 0: 2 trials run, 0 already complete" in first.stdout
    assert "worker 1 (CPU): exit code 0: 1 trials run, 0 already complete" in first.stdout
    assert statuses(tmp_path / "runs") == [("adamw_pytorch", "stopped")] * 3

    # The sequential executor sees the same trials, all complete.
    again = subprocess.run([*command, "--workers", "1"], capture_output=True, text=True)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 trials run, 3 already complete" in again.stdout


def test_shards_partition_the_trials_and_bad_specs_are_named():
    items = list(range(7))
    parts = [shard(items, f"{i}/3") for i in range(3)]
    assert sorted(x for part in parts for x in part) == items
    assert parts[0] == [0, 3, 6]
    for bad in ("3/3", "1", "a/b", "-1/2"):
        with pytest.raises(SweepError, match="expected I/N"):
            shard(items, bad)


def test_workers_map_to_gpus_or_share_the_cpu():
    assert worker_devices(None, []) == [None]
    assert worker_devices(3, []) == [None, None, None]
    assert worker_devices(None, ["0", "1"]) == ["0", "1"]
    assert worker_devices(1, ["2", "5"]) == ["2"]
    with pytest.raises(SweepError, match="only 2 GPUs"):
        worker_devices(3, ["0", "1"])


@pytest.mark.slow
def test_data_workers_cross_to_the_child_and_reach_the_workload(tmp_path, monkeypatch):
    import algoperf.workloads
    from algoperf.harness._plan import PlannedOptions
    from algoperf.harness._sweep import run_group

    sweep = Sweep.from_file(write_sweep(tmp_path, "data_workers = 3"))
    options = PlannedOptions.of(sweep.trial_options()).options()  # as the child gets them
    assert options.data_workers == 3
    seen = {}

    def get_workload(name, framework, rules=None, **workload_options):
        seen.update(workload_options)
        raise api.AlgoPerfError("stopped after building the workload")

    monkeypatch.setattr(algoperf.workloads, "get_workload", get_workload)
    trials = expand_sweep(sweep)
    first = [t for t in trials if t.submission_path == trials[0].submission_path]
    results = run_group(first, options)
    assert seen == {"data_workers": 3}
    assert {r.error for r in results} == {"stopped after building the workload"}
    with pytest.raises(SweepError, match="data_workers"):
        Sweep.from_file(write_sweep(tmp_path, "data_workers = -1"))

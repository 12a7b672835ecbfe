"""Whatever a submission does to its process, its trial fails with the reason; the rest runs.

Trials run in supervised child processes (`algoperf.harness._supervisor`); these tests make
real children exit, crash, get killed and hang.
"""

import json
import re
import subprocess
import sys

import pytest

from algoperf import api
from algoperf.baselines import search_space_path, submission_path
from algoperf.harness._cli import cli

pytestmark = pytest.mark.slow

# AdamW, but each trial misbehaves at its second step as its `misbehave` hyperparameter says.
MISBEHAVING = f"""
import ctypes
import os
import signal
import sys
import time

from algoperf.api import load_submission

BASE = load_submission({str(submission_path("adamw", "pytorch"))!r})
get_batch_size = BASE.get_batch_size
init_optimizer_state = BASE.init_optimizer_state
data_selection = BASE.data_selection


def update_params(workload, current_param_container, current_params_types, model_state,
                  hyperparameters, batch, loss_type, optimizer_state, eval_results,
                  global_step, rng):
    if global_step == 1:
        how = hyperparameters.misbehave
        print(f"misbehaving: {{how}}", flush=True)
        if how == "exit":
            sys.exit(3)
        if how == "os_exit":
            os._exit(0)
        if how == "segfault":
            ctypes.string_at(0)
        if how == "oom_kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if how == "hang":
            time.sleep(3600)
        if how == "raise":
            raise RuntimeError("this submission raised")
    return BASE.update_params(
        workload=workload, current_param_container=current_param_container,
        current_params_types=current_params_types, model_state=model_state,
        hyperparameters=hyperparameters, batch=batch, loss_type=loss_type,
        optimizer_state=optimizer_state, eval_results=eval_results, global_step=global_step,
        rng=rng)
"""
ADAMW_POINT = {
    "learning_rate": 3e-3,
    "one_minus_beta1": 0.1,
    "beta2": 0.999,
    "weight_decay": 0.0,
    "warmup_factor": 0.05,
    "label_smoothing": 0.0,
    "dropout_rate": 0.0,
}
BEHAVIOURS = ["exit", "os_exit", "segfault", "oom_kill", "hang", "raise", "none"]
REASONS = {
    "exit": "the trial's process exited with code 3 before the trial ended",
    "os_exit": "the trial's process exited with code 0 before the trial ended",
    "segfault": "the trial's process was killed by signal SIGSEGV (a crash in native code)",
    "oom_kill": "the trial's process was killed by signal SIGKILL (the kernel's out-of-memory",
    "hang": "the trial's process made no progress for 60 s and was killed",
    "raise": "RuntimeError: this submission raised",
}


def write_submission(tmp_path, behaviours):
    (tmp_path / "misbehaving.py").write_text(MISBEHAVING)
    space = tmp_path / "space.json"
    space.write_text(json.dumps([ADAMW_POINT | {"misbehave": b} for b in behaviours]))
    return tmp_path / "misbehaving.py", space


def sweep_args(tmp_path, behaviours, trial_timeout):
    """The CLI arguments of a sweep with one trial per behaviour, and the trial folders."""
    submission, space = write_submission(tmp_path, behaviours)
    runs = tmp_path / "runs"
    args = [
        "run",
        str(submission),
        "--workload=digits_mlp",
        "--framework=pytorch",
        "--rules=dev",
        f"--search-space={space}",
        "--studies=1",
        f"--trials={len(behaviours)}",
        "--max-steps=3",
        f"--trial-timeout={trial_timeout}",
        f"--experiment-dir={runs}",
    ]
    folder = runs / "misbehaving/study_0/digits_mlp_pytorch"
    return args, [folder / f"trial_{i}" for i in range(1, len(behaviours) + 1)]


# A trial's timeout counts its setup, which takes seconds here but can take minutes on a
# loaded 2-CPU machine: the trials that end by themselves get a limit no healthy trial
# reaches, and the hung one its own test.
DYING = [b for b in BEHAVIOURS if b != "hang"]


def test_every_way_a_submission_can_die_fails_only_its_own_trial(tmp_path, capsys):
    args, trials = sweep_args(tmp_path, DYING, trial_timeout=600)
    assert cli(args) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == f"{len(DYING)} trials run, 0 already complete; 5 failed"
    for directory, how in zip(trials, DYING, strict=True):
        outcome = api.read_trial(directory).outcome
        if how == "none":
            assert (outcome.status, outcome.global_step) == (api.TrialStatus.STOPPED, 3)
            continue
        assert outcome.status is api.TrialStatus.FAILED, how
        assert REASONS[how] in outcome.error
        if how != "raise":  # the last lines of the child's output are kept
            assert f"misbehaving: {how}" in outcome.error
        assert not list(directory.glob("checkpoint_*"))

    # The failures are recorded outcomes: a rerun runs nothing.
    assert cli([*args, "--resume"]) == 0
    assert (
        capsys.readouterr().out.splitlines()[-1] == f"0 trials run, {len(DYING)} already complete"
    )


def test_a_hung_trial_is_killed_at_the_trial_timeout(tmp_path, capsys):
    # 60 s: the trial must reach its second step (and hang there) before the limit.
    args, (directory,) = sweep_args(tmp_path, ["hang"], trial_timeout=60)
    assert cli(args) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "1 trials run, 0 already complete; 1 failed"
    outcome = api.read_trial(directory).outcome
    assert outcome.status is api.TrialStatus.FAILED
    assert REASONS["hang"] in outcome.error
    assert "misbehaving: hang" in outcome.error


def test_check_submission_reports_a_submission_that_exits(tmp_path, capsys):
    submission, space = write_submission(tmp_path, ["exit"])
    args = ["check-submission", str(submission), "--framework=pytorch", f"--search-space={space}"]
    assert cli(args) == 1
    captured = capsys.readouterr()
    assert "FAILED after 1 steps of digits_mlp (pytorch)" in captured.out
    assert REASONS["exit"] in captured.err


def test_a_submission_run_in_the_wrong_framework_cannot_start(tmp_path, capsys):
    code = cli(
        [
            "run",
            str(submission_path("adamw", "pytorch")),
            "--workload=digits_mlp",
            "--framework=jax",
            "--rules=dev",
            f"--search-space={search_space_path('adamw')}",
            "--studies=1",
            "--trials=1",
            f"--experiment-dir={tmp_path}",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert "run it with --framework pytorch" in captured.err
    assert (
        captured.out.splitlines()[-1]
        == "0 trials run, 0 already complete, 1 could not start; 1 failed"
    )


def test_two_processes_on_one_experiment_dir_run_each_trial_once(tmp_path):
    command = [
        sys.executable,
        "-m",
        "algoperf.harness",
        "run",
        str(submission_path("adamw", "pytorch")),
        "--workload=digits_mlp",
        "--framework=pytorch",
        "--rules=dev",
        f"--search-space={search_space_path('adamw')}",
        "--studies=1",
        "--trials=3",
        "--max-steps=40",
        "--resume",
        f"--experiment-dir={tmp_path}",
    ]
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        outputs = [p.communicate(timeout=600) for p in processes]
    finally:
        for p in processes:
            p.kill()
    for p, (out, err) in zip(processes, outputs, strict=True):
        assert p.returncode == 0, out + err
    ran = [int(re.search(r"^(\d+) trials run", out, re.M)[1]) for out, _ in outputs]
    assert sum(ran) == 3, outputs  # each trial ran in exactly one of the processes
    trials = sorted(tmp_path.rglob("trial.json"))
    assert len(trials) == 3
    for path in trials:
        record = api.read_trial(path.parent)
        assert record.outcome.global_step == 40
        steps = [e.global_step for e in record.evals]
        assert steps == sorted(set(steps))
        assert [p.name for p in path.parent.glob("meta_data_*.json")] == ["meta_data_0.json"]


def test_a_crash_dump_keeps_the_crashing_thread_and_what_ran_before():
    from algoperf.harness._supervisor import without_other_threads

    output = [
        "misbehaving: segfault",
        "Fatal Python error: Segmentation fault",
        "",
        "Thread 0x00007f0a1b2c3700 (most recent call first):",
        '  File "/x/_prefetch.py", line 90 in _put',
        '  File "/usr/lib/python3.11/threading.py", line 975 in run',
        "",
        "Current thread 0x00007f0a1c000740 (most recent call first):",
        '  File "/x/misbehaving.py", line 47 in update_params',
        "",
        "Extension modules: numpy.core._multiarray_umath, torch._C (total: 2)",
    ]
    assert without_other_threads(output) == [
        "misbehaving: segfault",
        "Fatal Python error: Segmentation fault",
        "",
        "",
        "Current thread 0x00007f0a1c000740 (most recent call first):",
        '  File "/x/misbehaving.py", line 47 in update_params',
        "",
    ]


def test_a_child_gets_its_start_up_time_beyond_the_trial_timeout(tmp_path, capsys, monkeypatch):
    # Importing a framework is not a trial making no progress: until its first event the
    # child gets the start-up allowance (shortened here), not the one-second trial timeout.
    monkeypatch.setattr("algoperf.harness._supervisor._STARTUP_SEC", 4.0)
    submission = tmp_path / "stuck_at_import.py"
    submission.write_text("import time\n\ntime.sleep(3600)\n")
    args = [
        "run",
        str(submission),
        "--workload=digits_mlp",
        "--framework=pytorch",
        "--rules=dev",
        f"--search-space={search_space_path('adamw')}",
        "--studies=1",
        "--trials=1",
        "--trial-timeout=1",
        f"--experiment-dir={tmp_path / 'runs'}",
    ]
    assert cli(args) == 1
    captured = capsys.readouterr()
    assert "made no progress for 4 s and was killed" in captured.out + captured.err
    assert "the time a child gets to start" in captured.out + captured.err

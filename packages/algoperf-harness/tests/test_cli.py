import json
from pathlib import Path

import pytest

from algoperf import api
from algoperf.baselines import search_space_path, submission_path
from algoperf.harness._cli import cli


@pytest.mark.slow  # trials in child processes
def test_check_submission_trains_a_few_steps(capsys):
    code = cli(
        [
            "check-submission",
            str(submission_path("nadamw", "jax")),
            "--search-space",
            str(search_space_path("nadamw")),
            "--steps",
            "3",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "follow the API" in out
    assert "OK: 3 steps of digits_mlp (jax)" in out


def test_check_submission_reports_a_broken_file(tmp_path, capsys):
    path = tmp_path / "broken.py"
    path.write_text("def get_batch_size(name):\n    return 1\n")
    assert cli(["check-submission", str(path)]) == 1
    err = capsys.readouterr().err
    assert "missing function update_params" in err
    assert "parameter 'name' is not in the contract" in err


@pytest.mark.slow  # trials in child processes
def test_run_writes_records_for_every_trial(tmp_path, capsys):
    code = cli(
        [
            "run",
            str(submission_path("adamw", "pytorch")),
            "--workload",
            "digits_mlp",
            "--framework",
            "pytorch",
            "--rules",
            "dev",
            "--search-space",
            str(search_space_path("adamw")),
            "--studies",
            "1",
            "--trials",
            "2",
            "--max-steps",
            "5",
            "--experiment-dir",
            str(tmp_path),
            "--name",
            "adamw_pt",
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.count("stopped") == 2
    trials = sorted(tmp_path.glob("adamw_pt/study_0/digits_mlp_pytorch/trial_*/trial.json"))
    assert len(trials) == 2
    spec = json.loads(trials[0].read_text())["spec"]
    assert spec["rules_version"] == "dev"
    assert api.read_trial(trials[0].parent).outcome.global_step == 5


@pytest.mark.slow
def test_benchmark_runs_scores_and_plots(tmp_path, capsys):
    plot = tmp_path / "profiles.png"
    code = cli(
        [
            "benchmark",
            "--frameworks",
            "jax",
            "--baselines",
            "nadamw",
            "adamw",
            "--studies",
            "1",
            "--trials",
            "1",
            "--max-steps",
            "30",
            "--experiment-dir",
            str(tmp_path / "runs"),
            "--plot",
            str(plot),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "Leaderboard" in out
    assert "nadamw_jax" in out
    assert "adamw_jax" in out
    assert plot.stat().st_size > 0


def test_check_submission_of_an_external_tuning_submission_asks_for_a_search_space(capsys):
    assert cli(["check-submission", str(submission_path("adamw", "jax"))]) == 1
    err = capsys.readouterr().err
    assert "requires the hyperparameters learning_rate" in err
    assert "pass --search-space FILE" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_a_search_space_without_a_required_hyperparameter_stops_every_trial(tmp_path, capsys):
    space = json.loads(Path(search_space_path("adamw")).read_text())
    del space["learning_rate"]
    (tmp_path / "space.json").write_text(json.dumps(space))
    code = cli(
        [
            "run",
            str(submission_path("adamw", "pytorch")),
            "--workload=digits_mlp",
            "--framework=pytorch",
            "--rules=dev",
            f"--search-space={tmp_path / 'space.json'}",
            "--studies=1",
            "--trials=2",
            f"--experiment-dir={tmp_path / 'runs'}",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert "does not set learning_rate, which the submission" in captured.err
    assert captured.out.splitlines()[-1] == (
        "0 trials run, 0 already complete, 2 could not start; 2 failed"
    )
    assert not list((tmp_path / "runs").rglob("trial.json"))

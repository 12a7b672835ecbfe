"""`algoperf new`, `benchmark --submission` and the guide links of `check-submission`."""

import re

import pytest

from algoperf import api
from algoperf.harness._cli import cli
from algoperf.harness._guide import GUIDE, SECTIONS, guide_link


@pytest.mark.parametrize("framework", ["jax", "pytorch"])
def test_new_writes_a_submission_and_its_search_space(tmp_path, capsys, framework):
    assert cli(["new", "my_algo", "--framework", framework, "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    path, space = tmp_path / "my_algo.py", tmp_path / "my_algo_search_space.json"
    assert f"wrote {path} and {space}" in out
    assert f"algoperf benchmark --submission {path} --search-space {space}" in out
    text = path.read_text()
    assert "my_submission" not in text
    assert "my_algo_search_space.json" in text
    submission = api.load_submission(path)
    assert submission.prepare_for_eval is not None
    api.check_search_space(api.load_search_space(space), submission, source=space)


def test_new_self_tuning_has_no_search_space(tmp_path, capsys):
    assert (
        cli(["new", "tuned", "--framework", "pytorch", "--ruleset", "self", "--dir", str(tmp_path)])
        == 0
    )
    assert [p.name for p in tmp_path.iterdir()] == ["tuned.py"]
    text = (tmp_path / "tuned.py").read_text()
    assert "REQUIRED_HYPERPARAMETERS = ()" in text
    assert "--search-space" not in text
    assert api.load_submission(tmp_path / "tuned.py").required_hyperparameters == ()
    assert "algoperf benchmark" in capsys.readouterr().out


def test_new_refuses_to_overwrite_and_bad_names(tmp_path, capsys):
    argv = ["new", "mine", "--framework", "jax", "--dir", str(tmp_path)]
    assert cli(argv) == 0
    assert cli(argv) == 1
    assert "already exists; pass --force" in capsys.readouterr().err
    assert cli([*argv, "--force"]) == 0
    assert cli(["new", "my-algo", "--framework", "jax", "--dir", str(tmp_path)]) == 1
    assert "must be a Python identifier" in capsys.readouterr().err


def test_check_submission_links_each_problem_to_the_guide(tmp_path, capsys):
    path = tmp_path / "broken.py"
    path.write_text("def get_batch_size(name):\n    return 1\n")
    assert cli(["check-submission", str(path)]) == 1
    err = capsys.readouterr().err
    assert "missing function update_params" in err
    assert err.count(f"see {GUIDE}#{SECTIONS['functions']}") >= 4
    path.write_text("def get_batch_size(:\n")
    assert cli(["check-submission", str(path)]) == 1
    assert f"see {GUIDE}#{SECTIONS['checks']}" in capsys.readouterr().err


def test_guide_links_by_topic():
    assert guide_link("the search space does not set beta2").endswith("#external-and-self-tuning")
    assert guide_link("something else entirely").endswith("#what-check-submission-checks")


def test_benchmark_submission_needs_a_search_space_and_a_framework(tmp_path, capsys):
    bare = tmp_path / "bare.py"
    bare.write_text("import torch\n")
    assert cli(["benchmark", "--submission", str(bare)]) == 1
    assert "needs a search space" in capsys.readouterr().err
    neither = tmp_path / "neither.py"
    neither.write_text("x = 1\n")
    assert cli(["benchmark", "--submission", str(neither)]) == 1
    assert f"write --submission {neither}:jax" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli(["benchmark", "--search-space", str(bare)])
    assert "goes after the --submission" in capsys.readouterr().err


@pytest.mark.slow  # trials in child processes; about a minute on 2 CPU cores
def test_from_an_empty_folder_to_the_leaderboard(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for framework in ("jax", "pytorch"):
        name = f"my_{framework}"
        assert cli(["new", name, "--framework", framework]) == 0
        code = cli(["check-submission", f"{name}.py", "--framework", framework, "--steps", "2"])
        out = capsys.readouterr().out
        assert code == 0, out
        assert f"OK: 2 steps of digits_mlp ({framework})" in out
    # Two submissions ranked beside a baseline, in PyTorch only: the guide's test
    # (tests/test_submitting_guide.py) runs a JAX submission through `benchmark`.
    assert cli(["new", "my_second", "--framework", "pytorch"]) == 0
    fast = ["--studies", "1", "--trials", "1", "--max-steps", "5"]
    code = cli(
        [
            "benchmark",
            "--submission",
            "my_pytorch.py",
            "--submission",
            "my_second.py",
            "--frameworks",
            "pytorch",
            "--baselines",
            "adamw",
            *fast,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    leaderboard = out.split("Leaderboard")[1].split("\n\n")[0]
    for name in ("adamw_pytorch", "my_pytorch", "my_second"):
        assert re.search(rf"\n\d +{name} ", leaderboard), leaderboard
    for name in ("my_pytorch", "my_second"):  # where the user's algorithms rank
        assert re.search(rf"\n{name} ranks \d of 3 with a benchmark score of", out), out
    assert (tmp_path / "runs" / "benchmark" / "my_second").is_dir()

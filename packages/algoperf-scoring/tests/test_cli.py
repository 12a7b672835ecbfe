"""`algoperf-score`: every format, --times, and the errors, on a small hand-made study."""

import csv
import io
import json
import re
import shutil
import subprocess
import sys

import pytest

from algoperf.api import get_rules
from algoperf.scoring._cli import cli

RULES = get_rules("v0.6")


@pytest.fixture
def root(tmp_path, reaching, write_reference_trial):
    """v0.6 self-tuning logs: A reaches every target at 100 s, B at 250 s (ratio 2.5).

    Scores: A 1; B (4 - 2.5) / 3 = 0.5 exactly, and 0.5 with the trapezoid too: 2.5 falls
    midway between grid points 49 and 50 of linspace(1, 4, 100), so the area is
    (49 + 0.5) * 3/99 / 3 = 0.5.
    """
    logs = tmp_path / "logs"
    for submission, seconds in (("A", 100.0), ("B", 250.0)):
        for workload in RULES.base_workloads:
            for study in range(RULES.num_studies):
                rows = reaching(workload, seconds)
                write_reference_trial(logs, submission, study, workload, 1, rows)
    return logs


SELF_V06 = ["--ruleset", "self", "--rules", "v0.6"]


def _run(capsys, *argv):
    code = cli([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_table(root, capsys):
    code, out, err = _run(capsys, root, *SELF_V06, "--speedups-vs", "A")
    assert code == 0
    assert err == ""
    assert "AlgoPerf scores, rules v0.6, self tuning" in out
    assert "mode: rules as written (fastest trial by time" in out
    assert re.search(r"\n1 +A +1\.0000 +1\.0000 +\[1\.0000, 1\.0000\]\n", out)
    assert re.search(r"\n2 +B +0\.5000 +0\.5000 +\[0\.5000, 0\.5000\]\n", out)
    # fastmri: v0.6 budget 4430 s x 1.5 for self-tuning = 6645 s; 100 / 6645 = 0.015
    assert re.search(r"\nfastmri +6645 +0\.015 +0\.038\n", out)
    assert re.search(r"\nB +2\.5000 +-150\.0%\n", out)
    assert "Qualification set (criteo1tb, ogbg, wmt; all studies)" in out


def test_csv_and_its_round_trip_through_times(root, tmp_path, capsys):
    code, out, _ = _run(capsys, root, *SELF_V06, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 2 * 8
    first = rows[0]
    assert first == {
        "submission": "A",
        "workload": "criteo1tb",
        "seconds": "100.0",
        "fraction_of_budget": repr(100.0 / (7703 * 1.5)),
        "status": "reached",
        "score": "1.0",
        "rank": "1",
    }
    times = tmp_path / "times.csv"
    times.write_text(out)
    code, again, err = _run(capsys, "--times", times, *SELF_V06, "--format", "csv")
    assert code == 0
    assert again == out
    assert err == ""


def test_json_is_one_object_per_submission(root, capsys):
    code, out, _ = _run(capsys, root, *SELF_V06, "--format", "json", "--integration", "exact")
    assert code == 0
    a, b = json.loads(out)
    assert (a["submission"], a["rank"], a["score"]) == ("A", 1, 1.0)
    assert (b["submission"], b["rank"], b["score"]) == ("B", 2, 0.5)
    assert b["integration"] == "exact"
    assert b["rules"] == "v0.6"
    assert b["ruleset"] == "self"
    wmt = b["workloads"]["wmt"]
    assert (wmt["seconds"], wmt["status"]) == (250.0, "reached")
    assert wmt["studies"] == [{"study": k, "seconds": 250.0, "trial": 1} for k in range(3)]
    assert b["leave_one_workload_out"]["wmt"] == pytest.approx(0.5)
    assert b["qualification_score"] == pytest.approx(0.5)


def test_times_in_every_format(write_times, capsys):
    path = write_times([("A", "wmt", 100.0), ("B", "wmt", "inf")])
    for fmt in ("table", "csv", "json"):
        code, out, err = _run(capsys, "--times", path, "--rules", "v0.6", "--format", fmt)
        assert code == 0
        assert "scored workloads without any trial (count as infinite): 14" in err
    assert json.loads(out)[1]["workloads"]["wmt"] == {
        "seconds": None,
        "scored_seconds": None,
        "fraction_of_budget": None,
        "status": "not_reached",
    }


def test_reference_compat_mode_is_named(root, capsys):
    _, out, _ = _run(capsys, root, *SELF_V06, "--reference-compat", "--bootstrap", "0")
    assert "mode: reference-compat (trial with the earliest target-reaching eval" in out


def test_anomalies_go_to_stderr_and_strict_fails(root, capsys):
    (root / "A" / "study_0" / "mnist_jax").mkdir()
    code, out, err = _run(capsys, root, *SELF_V06, "--format", "json")
    assert code == 0
    assert len(json.loads(out)) == 2
    assert "workloads these rules do not score (skipped): 1" in err
    code, out, err = _run(capsys, root, *SELF_V06, "--strict")
    assert code == 1
    assert out == ""
    assert err.startswith("algoperf-score: error: 1 anomaly in the input, of 1 kind:")


def test_errors(root, write_times, capsys):
    code, _, err = _run(capsys, root, *SELF_V06, "--speedups-vs", "C")
    assert code == 1
    assert err == "algoperf-score: error: unknown submission 'C'; the submissions are A, B\n"
    bad = write_times([("A", "wmt", "soon")])
    code, _, err = _run(capsys, "--times", bad)
    assert code == 1
    assert f"{bad}:2: field 'seconds': 'soon' is not a time" in err
    with pytest.raises(SystemExit) as info:
        cli([str(root), "--times", str(bad)])
    assert info.value.code == 2
    assert "give either ROOT or --times FILE.csv" in capsys.readouterr().err


def test_plot_files(root, tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="the plots extra is not installed")
    for suffix in (".png", ".svg"):
        target = tmp_path / f"profiles{suffix}"
        code, _, err = _run(capsys, root, *SELF_V06, "--plot", target, "--bootstrap", "0")
        sensitivity = tmp_path / f"profiles_tau_max{suffix}"
        assert code == 0
        assert f"wrote {target} and {sensitivity}" in err
        assert target.stat().st_size > 1000
        assert sensitivity.stat().st_size > 1000


def test_plot_without_matplotlib(root, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    code, _, err = _run(capsys, root, *SELF_V06, "--plot", tmp_path / "p.png")
    assert code == 1
    assert "plots need matplotlib: pip install 'algoperf-scoring[plots]'" in err


def test_plot_suffix(root, tmp_path, capsys):
    code, _, err = _run(capsys, root, *SELF_V06, "--plot", tmp_path / "p.pdf")
    assert code == 1
    assert "p.pdf: plots are written as .png or .svg; change the suffix" in err


@pytest.mark.slow
def test_console_script_module(root):
    result = subprocess.run(
        [sys.executable, "-m", "algoperf.scoring", str(root), *SELF_V06, "--bootstrap", "0"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Leaderboard" in result.stdout


def test_plot_into_a_missing_folder_fails_before_any_work(root, tmp_path, capsys, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the logs were read")

    monkeypatch.setattr("algoperf.scoring._cli.load_logs", never)
    target = tmp_path / "no" / "such" / "x.png"
    code, out, err = _run(capsys, root, *SELF_V06, "--plot", target)
    assert code == 1
    assert out == ""
    assert err == (
        f"algoperf-score: error: --plot {target}: the folder {target.parent} does not exist; "
        "create it first\n"
    )


def test_a_failing_plot_keeps_the_report(root, tmp_path, capsys, monkeypatch):
    def fail(report, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(
        "algoperf.scoring._cli.check_plot_path", lambda path: path
    )  # no matplotlib needed
    monkeypatch.setattr("algoperf.scoring._cli.plot_performance_profiles", fail)
    code, out, err = _run(capsys, root, *SELF_V06, "--plot", tmp_path / "p.png", "--bootstrap", "0")
    assert code == 1
    assert "Leaderboard" in out
    assert "the report is above; the plot failed: [Errno 28] No space left on device" in err
    assert "Traceback" not in err


def test_help_names_the_leaderboards_each_mode_reproduces(capsys):
    with pytest.raises(SystemExit):
        cli(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "published v0.5 leaderboards" in text
    assert "which no published leaderboard used" in text


def _copy_submission(root, submission, to):
    """A second logs folder holding `submission` of `root` (the same trials, another place)."""
    shutil.copytree(root / submission, to / submission)
    return to


def test_several_roots_are_scored_together(root, tmp_path, capsys):
    mine = _copy_submission(root, "A", tmp_path / "mine")
    (mine / "A").rename(mine / "C")  # reference layout: the folder names the submission
    code, out, _ = _run(capsys, root, mine, *SELF_V06)
    assert code == 0
    assert re.search(r"\n1 +A +1\.0000", out)
    assert re.search(r"\n1 +C +1\.0000", out)
    assert re.search(r"\n3 +B +0\.5000", out)


def test_one_name_in_two_roots_is_an_error_naming_both(root, tmp_path, capsys):
    mine = _copy_submission(root, "A", tmp_path / "mine")
    code, _, err = _run(capsys, root, mine, *SELF_V06)
    assert code == 1
    assert "two submissions are named 'A'" in err
    assert str((root / "A").resolve()) in err
    assert str((mine / "A").resolve()) in err
    assert f"--name {(mine / 'A').resolve()}=OTHER_NAME" in err


def test_name_renames_a_submission_folder(root, tmp_path, capsys):
    mine = _copy_submission(root, "A", tmp_path / "mine")
    code, out, _ = _run(capsys, root, mine, *SELF_V06, "--name", f"{mine / 'A'}=mine_A")
    assert code == 0
    assert re.search(r"\n1 +A +1\.0000", out)
    assert re.search(r"\n1 +mine_A +1\.0000", out)
    code, _, err = _run(capsys, root, *SELF_V06, "--name", f"{mine / 'B'}=x")
    assert code == 1
    assert "no submission folder there" in err


def test_the_provisional_lm_rules_score_nine_workloads(
    tmp_path, reaching, write_reference_trial, capsys
):
    """v0.6-lm: v0.6's eight workloads plus finewebedu_lm (ppl, lower is better)."""
    rules = get_rules("v0.6-lm")
    logs = tmp_path / "logs"
    for submission, seconds in (("A", 100.0), ("B", 250.0)):
        for workload in rules.base_workloads:
            for study in range(rules.num_studies):
                rows = reaching(workload, seconds)
                write_reference_trial(logs, submission, study, workload, 1, rows)
    code, out, _ = _run(capsys, logs, "--ruleset", "self", "--rules", "v0.6-lm", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0
    assert len(rows) == 2 * 9
    lm = [r for r in rows if r["workload"] == "finewebedu_lm"]
    assert [r["status"] for r in lm] == ["reached", "reached"]
    assert lm[0]["fraction_of_budget"] == repr(100.0 / (31_967 * 1.5))

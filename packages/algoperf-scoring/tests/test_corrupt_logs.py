"""Every impossible log is flagged, never scored silently, and fails --strict without a traceback.

Each test writes a small dev run (rules 'dev': 2 workloads x 2 studies x 2 trials, submissions
A and B) in one layout, corrupts one eval file of A, and reads it back.
"""

import json
import math
from collections import Counter
from pathlib import Path

import pytest

from algoperf.api import Ruleset, get_workload_spec
from algoperf.scoring import AnomalyKind, ScoringError, ScoringOptions, load_logs, score
from algoperf.scoring import workload_times as times_of
from algoperf.scoring._cli import cli

RULES = "dev"
WORKLOAD = "digits_mlp"
METRIC = get_workload_spec(WORKLOAD).validation_metric_key
TARGET = get_workload_spec(WORKLOAD).validation_target
WORSE = TARGET / 2
LAYOUTS = ["reference", "ours"]


@pytest.fixture(params=LAYOUTS)
def layout(request) -> str:
    return request.param


@pytest.fixture
def dev_run(tmp_path, layout, reaching, write_reference_trial, write_our_trial):
    """(logs folder, the eval file of A / digits_mlp / study 0 / trial 1) of a clean dev run."""
    root = tmp_path / "logs"
    victim = None
    for submission, seconds in (("A", 10.0), ("B", 20.0)):
        for workload in ("digits_mlp", "digits_cnn"):
            for study in range(2):
                for trial in (1, 2):
                    rows = reaching(workload, seconds)
                    if layout == "reference":
                        folder = write_reference_trial(
                            root, submission, study, workload, trial, rows
                        )
                        file = folder / "eval_measurements.csv"
                    else:
                        folder = write_our_trial(
                            root, submission, study, workload, trial, rows, rules=RULES
                        )
                        file = folder / "evals.jsonl"
                    if (submission, workload, study, trial) == ("A", WORKLOAD, 0, 1):
                        victim = file
    assert victim is not None
    return root, victim


def _text(layout: str, rows) -> str:
    """An eval file of (step, time, value) rows, written as the layout's writer would."""
    if layout == "reference":
        header = f"accumulated_submission_time,global_step,score,{METRIC}\n"
        return header + "".join(f"{t},{s},{t},{v}\n" for s, t, v in rows)
    return "".join(
        f'{{"global_step":{s},"accumulated_submission_time":{json.dumps(t)},'
        f'"accumulated_eval_time":1.0,"accumulated_logging_time":0.0,"total_duration":1.0,'
        f'"preemption_count":0,"metrics":{{"{METRIC}":{json.dumps(v)},"train/loss":0.5}}}}\n'
        for s, t, v in rows
    )


def _kinds(root: Path) -> Counter:
    return Counter(a.kind for a in load_logs(root, RULES).anomalies)


def _scores(root: Path) -> list[float]:
    logs = load_logs(root, RULES)
    options = ScoringOptions(rules=logs.rules, ruleset=Ruleset.EXTERNAL, bootstrap_samples=0)
    return score(times_of(logs), options).score.tolist()


def _strict_fails(root: Path, capsys, *words: str) -> str:
    """Run the CLI with --strict: exit 1, one message, no traceback; returns stderr."""
    code = cli([str(root), "--rules", RULES, "--strict", "--bootstrap", "0"])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert "Traceback" not in err
    assert "--strict is set" in err
    for word in words:
        assert word in err
    return err


def test_the_clean_run_has_no_anomaly(dev_run):
    root, _ = dev_run
    assert _kinds(root) == {}
    assert _scores(root) == pytest.approx([1.0, 2 / 3], abs=0.01)


# (case, rows, the anomaly) with rows (step, time, value); the A trial reaches at 10 s.
SEQUENCES = [
    ("negative time", [(1, -5.0, WORSE), (2, 10.0, TARGET)], AnomalyKind.BAD_TIME),
    ("time going backwards", [(1, 15.0, WORSE), (2, 10.0, TARGET)], AnomalyKind.OUT_OF_ORDER),
    ("steps out of order", [(2, 5.0, WORSE), (1, 10.0, TARGET)], AnomalyKind.OUT_OF_ORDER),
    (
        "a step twice with other times",
        [(1, 5.0, WORSE), (1, 10.0, TARGET)],
        AnomalyKind.CONFLICTING_EVALS,
    ),
    ("an infinite time", [(1, 5.0, WORSE), (2, math.inf, TARGET)], AnomalyKind.BAD_TIME),
]


@pytest.mark.parametrize(("case", "rows", "kind"), SEQUENCES, ids=[c[0] for c in SEQUENCES])
def test_impossible_sequences_are_flagged_and_skipped(dev_run, layout, capsys, case, rows, kind):
    root, victim = dev_run
    clean = _scores(root)
    victim.write_text(_text(layout, rows))
    logs = load_logs(root, RULES)
    found = [a for a in logs.anomalies if a.kind is kind]
    assert len(found) == 1, case
    assert found[0].where == str(victim)
    assert found[0].detail.startswith("line ")
    # The trial is skipped, so no score moves (the study's other trial reaches at 10 s too).
    assert _scores(root) == pytest.approx(clean)
    _strict_fails(root, capsys, kind.description, str(victim))


def test_identical_copies_are_a_note(dev_run, layout, capsys):
    root, victim = dev_run
    clean = _scores(root)
    victim.write_text(_text(layout, [(1, 5.0, WORSE), (1, 5.0, WORSE), (2, 10.0, TARGET)]))
    logs = load_logs(root, RULES, strict=True)  # a note is no error
    (note,) = logs.anomalies
    assert note.kind is AnomalyKind.DUPLICATE_EVAL
    assert note.detail == "line 3 repeats line 2 (step 1)" if layout == "reference" else True
    assert _scores(root) == pytest.approx(clean)
    assert cli([str(root), "--rules", RULES, "--strict", "--bootstrap", "0"]) == 0
    assert "0 anomalies in the input, of 0 kinds, and 1 note:" in capsys.readouterr().err


def test_an_unterminated_last_line_is_tolerated_and_counted(dev_run, layout):
    root, victim = dev_run
    partial = "15.0,3,15" if layout == "reference" else '{"global_step":3,"accumulated_sub'
    with victim.open("a") as f:
        f.write(partial)
    logs = load_logs(root, RULES, strict=True)
    (note,) = logs.anomalies
    assert note.kind is AnomalyKind.PARTIAL_LINE
    line = 4 if layout == "reference" else 3  # after the CSV header and two evals
    assert note.detail == f"line {line}: unterminated, not read"


def test_a_half_written_line_in_the_middle(dev_run, layout, capsys):
    root, victim = dev_run
    lines = _text(layout, [(1, 5.0, WORSE), (2, 7.5, WORSE), (3, 10.0, TARGET)]).splitlines()
    middle = 2 if layout == "reference" else 1
    # Cut short after the values scoring reads (the CSV's last cell, the JSON's braces).
    cut = lines[middle].rsplit(",", 1)[0] if layout == "reference" else lines[middle][:-2]
    lines[middle] = cut
    victim.write_text("\n".join(lines) + "\n")
    (anomaly,) = load_logs(root, RULES).anomalies
    assert anomaly.kind is AnomalyKind.UNREADABLE
    assert anomaly.detail.startswith(f"line {middle + 1}")
    _strict_fails(root, capsys, str(victim), f"line {middle + 1}")


JUNK = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"


@pytest.mark.parametrize("how", ["appended", "appended, no newline", "replacing"])
def test_binary_junk(dev_run, capsys, how):
    root, victim = dev_run
    junk = JUNK.replace(b"\n", b"") if how == "appended, no newline" else JUNK
    data = junk if how == "replacing" else victim.read_bytes() + junk
    victim.write_bytes(data)
    (anomaly,) = load_logs(root, RULES).anomalies
    assert anomaly.kind is AnomalyKind.UNREADABLE
    assert anomaly.where == str(victim)
    assert anomaly.detail.startswith("line ")
    assert cli([str(root), "--rules", RULES, "--bootstrap", "0"]) == 0  # the trial is skipped
    assert "Traceback" not in capsys.readouterr().err
    _strict_fails(root, capsys, str(victim))


@pytest.mark.parametrize("layout", ["ours"])
def test_an_unknown_format_version(dev_run, capsys):
    root, victim = dev_run
    trial_file = victim.parent / "trial.json"
    record = json.loads(trial_file.read_text())
    record["spec"]["format_version"] = 99
    trial_file.write_text(json.dumps(record))
    # The trial is unread, so its study also lacks a trial.
    anomaly, missing = load_logs(root, RULES).anomalies
    assert missing.kind is AnomalyKind.TRIAL_COUNT
    assert anomaly.kind is AnomalyKind.UNREADABLE
    assert "format_version" in anomaly.detail
    assert "unknown record format version 99; this reader knows version 1" in anomaly.detail
    _strict_fails(root, capsys, str(trial_file))


def test_logs_of_other_rules_are_an_error(dev_run, capsys):
    root, _ = dev_run
    with pytest.raises(ScoringError, match=r"no trial to score under rules v0\.5") as info:
        load_logs(root, "v0.5")
    assert "digits_cnn, digits_mlp" in str(info.value)
    assert "pass --rules dev" in str(info.value)
    assert cli([str(root), "--bootstrap", "0"]) == 1  # the default rules are v0.5
    out, err = capsys.readouterr()
    assert out == ""
    assert "pass --rules dev" in err

"""Ingestion of both layouts: every anomaly is noted once, grouped, or raised with strict."""

import sys
from collections import Counter

import pytest

from algoperf.api import Ruleset, get_rules
from algoperf.scoring import (
    AnomalyKind,
    ScoringError,
    _readers,
    load_logs,
    summarize_anomalies,
    workload_times,
)

K = AnomalyKind


def _kinds(logs):
    return Counter(a.kind for a in logs.anomalies)


def _where(logs, kind):
    return sorted(a.where for a in logs.anomalies if a.kind is kind)


def test_reference_layout_anomalies(messy_reference):
    logs = load_logs(messy_reference, "v0.6", Ruleset.EXTERNAL)
    assert logs.submissions == ("alpha",)
    assert _kinds(logs) == {
        K.EMPTY_FOLDER: 2,  # ogbg_jax, empty_submission
        K.UNKNOWN_WORKLOAD: 2,  # wmtt, fastmri (no framework): once per submission and name
        K.NOT_SCORED: 1,  # wmt_post_ln
        K.UNEXPECTED_PATH: 2,  # notes, plots
        K.NAN_VALUES: 1,
        K.NO_EVALS: 1,
        K.MISSING_COLUMN: 1,
        K.UNREADABLE: 1,
        K.MISSING_WORKLOAD: 7,  # every v0.6 base workload but wmt
        K.STUDY_COUNT: 1,  # wmt has 4 studies
        K.TRIAL_COUNT: 1,  # wmt study 3 has 4 trials
    }
    assert _where(logs, K.UNKNOWN_WORKLOAD) == ["alpha: fastmri", "alpha: wmtt"]
    unknown = {a.where: a.detail for a in logs.anomalies if a.kind is K.UNKNOWN_WORKLOAD}
    assert "did you mean 'wmt'" in unknown["alpha: wmtt"]
    assert _where(logs, K.NOT_SCORED) == ["alpha: wmt_post_ln"]
    (count,) = [a for a in logs.anomalies if a.kind is K.TRIAL_COUNT]
    assert (count.where, count.detail) == ("alpha: wmt study 3", "4 of 5 trials (1, 2, 3, 4)")
    # 15 good trials, the NaN one (its NaN-time eval dropped) and the one without evals
    assert len(logs.trials) == 17
    (nan_trial,) = [t for t in logs.trials if t.study == 3 and t.trial == 1]
    assert nan_trial.times.tolist() == [1.0]


def test_summary_groups_each_kind_once(messy_reference):
    summary = summarize_anomalies(load_logs(messy_reference, "v0.6").anomalies)
    assert summary.startswith("20 anomalies in the input, of 11 kinds:")
    for kind in (K.EMPTY_FOLDER, K.MISSING_WORKLOAD, K.UNREADABLE):
        assert summary.count(f"- {kind.description}:") == 1
        assert f"  fix: {kind.fix}" in summary


def test_strict_turns_anomalies_into_one_error(messy_reference):
    with pytest.raises(ScoringError) as info:
        load_logs(messy_reference, "v0.6", strict=True)
    message = str(info.value)
    assert message.startswith("20 anomalies in the input")
    assert "--strict is set" in message
    assert "line 2, column 'validation/bleu': 'x' is not a number" in message


def test_our_layout(tmp_path, reaching, write_our_trial):
    root = tmp_path / "logs"
    for study in range(3):
        write_our_trial(root, "beta", study, "wmt", 1, reaching("wmt", 50.0 + study), rules="v0.6")
    write_our_trial(root, "beta", 0, "wmt", 2, reaching("wmt", 10.0), rules="v0.5")
    write_our_trial(
        root, "beta", 0, "ogbg", 1, reaching("ogbg", 10.0), ruleset=Ruleset.SELF, rules="v0.6"
    )
    write_our_trial(root, "beta", 0, "mnist", 1, reaching("mnist", 10.0), rules="v0.6")
    copy = write_our_trial(root / "copies", "beta", 1, "wmt", 1, reaching("wmt", 9.0), rules="v0.6")
    broken = copy.parent / "broken"
    broken.mkdir()
    (broken / "trial.json").write_text('{"spec": {"submission": "beta"}}')
    logs = load_logs(root, "v0.6", Ruleset.EXTERNAL)
    assert logs.submissions == ("beta",)
    kinds = _kinds(logs)
    assert kinds[K.OTHER_RULES] == 2  # the v0.5 trial and the self-tuning one
    assert _where(logs, K.NOT_SCORED) == ["beta: mnist"]
    (duplicate,) = [a for a in logs.anomalies if a.kind is K.DUPLICATE_TRIAL]
    assert "beta: wmt study 1 trial 1" in duplicate.detail
    (unreadable,) = [a for a in logs.anomalies if a.kind is K.UNREADABLE]
    assert unreadable.where == str(broken / "trial.json")
    assert "spec.workload" in unreadable.detail
    assert kinds[K.TRIAL_COUNT] == 3  # one trial per study, external tuning wants 5
    times = workload_times(logs)
    assert times.seconds[0, times.workloads.index("wmt")] == 51.0  # median of 50, 51, 52


def test_no_fork_once_a_framework_is_loaded(messy_reference, monkeypatch):
    def no_fork(*args, **kwargs):
        raise AssertionError("forked although a framework is loaded")

    monkeypatch.setattr(_readers, "map_forked", no_fork)
    monkeypatch.setitem(sys.modules, "jax", object())
    serial = load_logs(messy_reference, "v0.6", workers=1)
    assert load_logs(messy_reference, "v0.6", workers=2).anomalies == serial.anomalies


def test_not_a_logs_folder(tmp_path):
    with pytest.raises(ScoringError, match="not a folder; pass the folder that holds one"):
        load_logs(tmp_path / "absent")
    (tmp_path / "only_a_file.txt").write_text("")
    with pytest.raises(ScoringError, match="no submission found; expected <root>/<submission>"):
        load_logs(tmp_path)
    broken = tmp_path / "sub" / "trial"
    broken.mkdir(parents=True)
    (broken / "trial.json").write_text("{")
    with pytest.raises(ScoringError) as info:
        load_logs(tmp_path)
    assert "files that cannot be read (trial skipped): 1" in str(info.value)
    assert f"{broken / 'trial.json'}: invalid trial file" in str(info.value)


def test_self_tuning_expects_one_trial_per_study(tmp_path, reaching, write_reference_trial):
    rules = get_rules("v0.6")
    for workload in rules.base_workloads:
        for study in range(rules.num_studies):
            rows = reaching(workload, 100.0)
            write_reference_trial(tmp_path, "gamma", study, workload, 1, rows)
    logs = load_logs(tmp_path, rules, Ruleset.SELF)
    assert logs.anomalies == ()
    assert len(logs.trials) == 24

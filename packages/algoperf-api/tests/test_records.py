import json
import math
import os

import pytest
from pydantic import ValidationError

from algoperf import api


def make_spec(**changes):
    fields = dict(
        submission="nadamw",
        workload="ogbg",
        framework="jax",
        ruleset="external",
        rules_version="v0.5",
        study=2,
        trial=3,
        seed=2**64 - 1,
        hyperparameters={"learning_rate": 0.001, "warmup_factor": 0.05, "schedule": "cosine"},
        hardware={"device_kind": "NVIDIA H100 80GB HBM3", "device_count": 8},
    )
    return api.TrialSpec.model_validate(fields | changes)


def make_eval(step=10, **metrics):
    return api.EvalRecord(
        global_step=step,
        accumulated_submission_time=12.5,
        accumulated_eval_time=3.0,
        accumulated_logging_time=0.1,
        total_duration=16.0,
        metrics=metrics or {"validation/mean_average_precision": 0.2, "train/loss": 0.5},
    )


def test_trial_spec_round_trip_keeps_types():
    spec = make_spec()
    again = api.TrialSpec.model_validate_json(spec.model_dump_json())
    assert again == spec
    assert again.framework is api.Framework.JAX
    assert again.hyperparameters_object().learning_rate == 0.001
    assert make_spec(ruleset="self", hyperparameters=None, trial=1).hyperparameters_object() is None


def test_content_hash_is_stable_and_sensitive():
    assert make_spec().content_hash() == make_spec().content_hash()
    assert len(make_spec().content_hash()) == 16
    assert make_spec(trial=4).content_hash() != make_spec().content_hash()
    assert make_spec(seed=1).content_hash() != make_spec().content_hash()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"workload": "ogbg_modelsize"}, "did you mean 'ogbg_model_size'"),
        ({"rules_version": "v0.7"}, "unknown rule version 'v0.7'"),
        ({"ruleset": "self", "trial": 1}, "self-tuning trials take no hyperparameters"),
        ({"hyperparameters": None}, "external-tuning trials need hyperparameters"),
        ({"ruleset": "self", "hyperparameters": None, "trial": 2}, "a single trial, number 1"),
        ({"trial": 0}, "greater than or equal to 1"),
        ({"seed": -1}, "greater than or equal to 0"),
        ({"framework": "tensorflow"}, "'jax' or 'pytorch'"),
        ({"hardware": {"device_kind": "cpu", "device_count": 0}}, "hardware.device_count"),
        ({"extra_field": 1}, "extra_field"),
        ({"format_version": 99}, "unknown record format version 99; this reader knows version 1"),
    ],
)
def test_invalid_specs(changes, message):
    with pytest.raises(ValidationError, match=message):
        make_spec(**changes)


def test_eval_record_round_trip_with_nan_and_inf():
    record = make_eval(**{"validation/loss": math.nan, "train/loss": math.inf})
    line = record.model_dump_json()
    assert "NaN" in line
    assert "Infinity" in line
    assert json.loads(line)["metrics"]["train/loss"] == math.inf  # stdlib json reads it
    again = api.EvalRecord.model_validate_json(line)
    assert math.isnan(again.metrics["validation/loss"])
    assert again.metrics["train/loss"] == math.inf


def test_outcome_consistency():
    ok = api.TrialOutcome(
        status="reached_target", time_to_target=5.0, global_step=9, accumulated_submission_time=6.0
    )
    assert api.TrialOutcome.model_validate_json(ok.model_dump_json()) == ok
    with pytest.raises(ValidationError, match="time_to_target is set exactly"):
        api.TrialOutcome(
            status="budget_exhausted",
            time_to_target=5.0,
            global_step=1,
            accumulated_submission_time=6.0,
        )
    with pytest.raises(ValidationError, match="time_to_target is set exactly"):
        api.TrialOutcome(status="reached_target", global_step=1, accumulated_submission_time=6.0)
    with pytest.raises(ValidationError, match="a failed trial records its error"):
        api.TrialOutcome(status="failed", global_step=1, accumulated_submission_time=6.0)


def test_trial_directory_round_trip(tmp_path):
    directory = tmp_path / "study_2" / "ogbg_jax" / "trial_3"
    spec = make_spec()
    api.write_trial_file(directory, spec)
    evals = [make_eval(step) for step in (1, 100, 200)]
    for record in evals:
        api.append_eval(directory, record)
    running = api.read_trial(directory)
    assert running.spec == spec
    assert running.outcome is None
    assert running.evals == tuple(evals)

    outcome = api.TrialOutcome(
        status="diverged",
        global_step=250,
        accumulated_submission_time=30.0,
        error="loss is nan at step 250",
    )
    api.write_trial_file(directory, spec, outcome)
    assert api.read_trial(directory).outcome == outcome
    assert sorted(p.name for p in directory.iterdir()) == ["evals.jsonl", "trial.json"]


def test_an_unterminated_last_line_was_never_committed(tmp_path):
    api.write_trial_file(tmp_path, make_spec())
    api.append_eval(tmp_path, make_eval(1))
    with open(tmp_path / api.EVALS_FILE, "a") as f:
        f.write('{"global_step": 2, "accumulated_sub')  # killed mid-write
    assert [e.global_step for e in api.read_trial(tmp_path).evals] == [1]


def test_a_corrupt_committed_line_is_an_error_naming_file_line_and_field(tmp_path):
    path = tmp_path / api.EVALS_FILE
    good = make_eval(1).model_dump_json()
    bad = json.loads(good)
    del bad["total_duration"]
    path.write_text(good + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(
        api.RecordError,
        match=rf"{path}:2: invalid eval record:\n  - total_duration: Field required",
    ):
        api.read_evals(path)


def test_binary_junk_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / api.EVALS_FILE
    path.write_bytes(make_eval(1).model_dump_json().encode() + b"\n\x89PNG\xff\n\x00")
    with pytest.raises(api.RecordError, match=rf"{path}:2: invalid eval record: not UTF-8 text"):
        api.read_evals(path)
    (tmp_path / api.TRIAL_FILE).write_bytes(b"\xff\xfe{")
    with pytest.raises(
        api.RecordError, match=r"trial\.json: invalid trial file:\n  - \(top level\): Invalid JSON"
    ):
        api.read_trial_file(tmp_path)


def test_missing_or_invalid_trial_file(tmp_path):
    with pytest.raises(api.RecordError, match="cannot read the trial file"):
        api.read_trial_file(tmp_path)
    (tmp_path / api.TRIAL_FILE).write_text('{"spec": {"submission": "x"}}')
    with pytest.raises(
        api.RecordError, match=r"trial.json: invalid trial file:\n  - spec.workload: Field required"
    ):
        api.read_trial_file(tmp_path)


def test_missing_evals_file_means_no_evals(tmp_path):
    assert api.read_evals(tmp_path / "evals.jsonl") == ()


def test_record_error_carries_path_line_and_detail(tmp_path):
    path = tmp_path / api.EVALS_FILE
    path.write_text("{}\n")
    with pytest.raises(api.RecordError) as info:
        api.read_evals(path)
    assert (info.value.path, info.value.line) == (str(path), 1)
    assert info.value.detail.startswith("invalid eval record:\n  - global_step: Field required")
    with pytest.raises(api.RecordError) as info:
        api.read_trial_file(tmp_path)
    assert info.value.line is None
    assert info.value.detail.startswith("cannot read the trial file")


def test_the_trial_file_is_as_readable_as_the_other_records(tmp_path):
    previous = os.umask(0o022)
    try:
        api.write_trial_file(tmp_path, make_spec())
        api.append_eval(tmp_path, make_eval())
    finally:
        os.umask(previous)
    mode = (tmp_path / "trial.json").stat().st_mode & 0o777
    assert mode == (tmp_path / "evals.jsonl").stat().st_mode & 0o777
    assert mode & 0o044  # group and others may read it (mkstemp alone gives 0600)

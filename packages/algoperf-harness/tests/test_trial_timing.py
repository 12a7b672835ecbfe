"""The timing rules, with a fake clock: cadence, budget, what is and is not timed."""

import json
import math

import harness_fakes as fakes
import pytest

from algoperf import api
from algoperf.harness import TrialOptions, run_trial


@pytest.fixture
def clock():
    clock = fakes.FakeClock()
    fakes.CLOCKS["CLOCK"] = clock
    return clock


def spec(rules="v0.6", ruleset="external", workload="mnist"):
    return api.TrialSpec(
        submission="fake",
        workload=workload,
        framework="jax",
        ruleset=ruleset,
        rules_version=rules,
        study=0,
        trial=1,
        seed=7,
        hyperparameters={"learning_rate": 0.1} if ruleset == "external" else None,
        hardware={"device_kind": "fake", "device_count": 1},
    )


def run(tmp_path, clock, accuracies, submission=None, rules="v0.6", ruleset="external", **opts):
    workload = fakes.FakeWorkload(clock, accuracies, rules=rules)
    submission = submission or fakes.make_submission(tmp_path)
    outcome = run_trial(
        spec(rules, ruleset),
        workload,
        submission,
        fakes.FakeRuntime(),
        tmp_path / "trial",
        TrialOptions(clock=clock, **opts),
    )
    return outcome, workload, api.read_trial(tmp_path / "trial")


def test_eval_cadence_and_budget_stop(tmp_path, clock):
    # Steps cost 1 s, evals 5 s; mnist: eval period 10 s, budget 60 s.
    outcome, workload, record = run(tmp_path, clock, [0.5] * 100)
    # First eval right after step 1, then every 10 s of submission time; none at step 60,
    # whose submission time (60 s) uses up the budget.
    assert workload.eval_steps == [1, 11, 21, 31, 41, 51]
    assert outcome.status is api.TrialStatus.BUDGET_EXHAUSTED
    assert (outcome.global_step, outcome.accumulated_submission_time) == (60, 60.0)
    assert outcome.time_to_target is None
    evals = record.evals
    assert [e.global_step for e in evals] == workload.eval_steps
    # Eval time is excluded from the submission time but counted in the total duration.
    assert [e.accumulated_submission_time for e in evals[:3]] == [1.0, 11.0, 21.0]
    assert [e.accumulated_eval_time for e in evals[:3]] == [5.0, 10.0, 15.0]
    assert [e.total_duration for e in evals[:3]] == [6.0, 21.0, 36.0]
    assert record.outcome == outcome


def test_reaching_the_target_stops_with_its_time(tmp_path, clock):
    outcome, workload, record = run(tmp_path, clock, [0.5, 0.99])
    assert outcome.status is api.TrialStatus.REACHED_TARGET
    assert outcome.time_to_target == 11.0
    assert workload.eval_steps == [1, 11]
    assert record.evals[-1].metrics["validation/accuracy"] == 0.99


def test_self_tuning_budget_is_the_rule_versions_multiple(tmp_path, clock):
    outcome, _, _ = run(tmp_path, clock, [0.5] * 200, ruleset="self")
    assert outcome.accumulated_submission_time == 90.0  # 1.5 x 60 s under v0.6
    outcome, _, _ = run(tmp_path, clock, [0.5] * 200, rules="v0.5", ruleset="self")
    assert outcome.accumulated_submission_time == 180.0  # 3 x 60 s under v0.5


def test_prepare_for_eval_is_timed_and_only_in_v06(tmp_path, clock):
    submission = fakes.make_submission(tmp_path, prepare_seconds=0.5)
    _, workload, record = run(tmp_path, clock, [0.5] * 100, submission=submission)
    times = [e.accumulated_submission_time for e in record.evals[:3]]
    # step 1 (1 s) + prepare (0.5 s); step 11 (11.5 s) + prepare; step 21 (22 s) + prepare.
    assert times == [1.5, 12.0, 22.5]
    assert workload.eval_steps[:3] == [1, 11, 21]

    _, _, record = run(tmp_path, clock, [0.5] * 100, submission=submission, rules="v0.5")
    assert [e.accumulated_submission_time for e in record.evals[:2]] == [1.0, 11.0]


def test_logging_time_is_recorded_apart(tmp_path, clock, monkeypatch):
    from algoperf.harness import _writer

    original = _writer.TrialWriter.eval

    def slow_eval(self, record):
        clock.advance(0.25)
        original(self, record)

    monkeypatch.setattr(_writer.TrialWriter, "eval", slow_eval)
    outcome, _, record = run(tmp_path, clock, [0.5] * 100)
    assert [e.accumulated_logging_time for e in record.evals[:3]] == [0.0, 0.25, 0.5]
    assert outcome.accumulated_submission_time == 60.0


def test_training_complete_gets_a_final_eval(tmp_path, clock):
    extra = "    if global_step == 3:\n        raise api.TrainingCompleteError()\n"
    submission = fakes.make_submission(
        tmp_path, extra=extra.replace("api.", "__import__('algoperf.api').api.")
    )
    outcome, workload, _ = run(tmp_path, clock, [0.5] * 10, submission=submission)
    assert outcome.status is api.TrialStatus.STOPPED
    assert workload.eval_steps == [1, 4]
    assert outcome.global_step == 4


def test_max_global_steps(tmp_path, clock):
    outcome, workload, _ = run(tmp_path, clock, [0.5] * 10, max_global_steps=6)
    assert outcome.status is api.TrialStatus.STOPPED
    assert workload.eval_steps == [1, 6]


def test_an_exception_is_a_failed_trial_with_its_traceback(tmp_path, clock):
    extra = "    if global_step == 4:\n        raise MemoryError('CUDA out of memory')\n"
    submission = fakes.make_submission(tmp_path, extra=extra)
    outcome, _, record = run(tmp_path, clock, [0.5] * 10, submission=submission)
    assert outcome.status is api.TrialStatus.FAILED
    assert "MemoryError: CUDA out of memory" in outcome.error
    assert "update_params" in outcome.error
    assert outcome.global_step == 4
    assert len(record.evals) == 1


def test_nan_eval_loss_is_divergence(tmp_path, clock):
    outcome, _, record = run(tmp_path, clock, [0.5, None])
    assert outcome.status is api.TrialStatus.DIVERGED
    assert outcome.error == "non-finite train/loss, validation/loss at step 11"
    assert math.isnan(record.evals[-1].metrics["validation/loss"])


def test_nan_loss_logged_by_the_submission_is_divergence(tmp_path, clock):
    extra = (
        "    if global_step == 2:\n"
        "        workload.metrics_logger({'loss': float('nan')}, global_step)\n"
    )
    submission = fakes.make_submission(tmp_path, extra=extra)
    outcome, _, _ = run(tmp_path, clock, [0.5] * 10, submission=submission)
    assert outcome.status is api.TrialStatus.DIVERGED
    assert outcome.error == "non-finite loss logged at step 2"
    assert outcome.global_step == 3


def test_train_state_is_a_read_only_view(tmp_path, clock):
    extra = (
        "    assert train_state['global_step'] == global_step\n"
        "    try:\n"
        "        train_state['global_step'] = 0\n"
        "    except TypeError:\n"
        "        optimizer_state['read_only'] = True\n"
    )
    submission = fakes.make_submission(tmp_path, extra=extra)
    workload = fakes.FakeWorkload(clock, [0.99])
    optimizer_states = []

    original = submission.update_params

    def spy(**kwargs):
        result = original(**kwargs)
        optimizer_states.append(result[0])
        return result

    object.__setattr__(submission, "update_params", spy)
    run_trial(
        spec(), workload, submission, fakes.FakeRuntime(), tmp_path / "t", TrialOptions(clock=clock)
    )
    assert optimizer_states[-1]["read_only"] is True


def test_every_step_gets_a_new_rng(tmp_path, clock):
    submission = fakes.make_submission(tmp_path)
    captured = []
    original = submission.update_params

    def spy(**kwargs):
        result = original(**kwargs)
        captured.append(kwargs["rng"])
        return result

    object.__setattr__(submission, "update_params", spy)
    run(tmp_path, clock, [0.5] * 100, submission=submission, max_global_steps=20)
    assert len(set(captured)) == 20


def test_reference_csv_is_written_alongside(tmp_path, clock):
    run(tmp_path, clock, [0.5, 0.99])
    lines = (tmp_path / "trial" / "eval_measurements.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert header == sorted(header)
    assert {"score", "global_step", "validation/accuracy"} <= set(header)
    assert len(lines) == 3
    assert json.loads((tmp_path / "trial" / "trial.json").read_text())["outcome"]["status"] == (
        "reached_target"
    )


def test_the_dev_rules_cap_every_trial_at_300_steps(tmp_path, clock):
    # digits under dev: budget 60 s; steps of 10 ms would run 6,000 steps without the cap.
    workload = fakes.FakeWorkload(clock, [0.5] * 1000, name="digits_mlp", rules="dev")
    submission = fakes.make_submission(tmp_path, step_seconds=2**-7)
    dev = spec("dev", workload="digits_mlp")
    outcome = run_trial(
        dev, workload, submission, fakes.FakeRuntime(), tmp_path / "a", TrialOptions(clock=clock)
    )
    assert (outcome.status, outcome.global_step) == (api.TrialStatus.STOPPED, 300)
    assert workload.eval_steps[-1] == 300  # the end of training is evaluated
    # A smaller limit of the run's own still applies.
    options = TrialOptions(clock=clock, max_global_steps=20)
    outcome = run_trial(dev, workload, submission, fakes.FakeRuntime(), tmp_path / "b", options)
    assert outcome.global_step == 20

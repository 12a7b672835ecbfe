"""Studies end to end with the fake workload: records, resumable sweeps, failures."""

import harness_fakes as fakes
import pytest

from algoperf import api
from algoperf.harness import StudyPlan, TrialOptions, plan_trials, run_trials, trial_directory

POINTS = api.parse_search_space([{"learning_rate": 0.1}, {"learning_rate": 0.2}])


@pytest.fixture
def clock():
    clock = fakes.FakeClock()
    fakes.CLOCKS["CLOCK"] = clock
    return clock


def specs(num_studies=2):
    plan = StudyPlan(
        submission="fake",
        workload="mnist",
        framework=api.Framework.JAX,
        ruleset=api.Ruleset.EXTERNAL,
        rules=api.RULES_V06,
        hardware=api.HardwareInfo(device_kind="fake", device_count=1),
        search_space=POINTS,
        num_studies=num_studies,
    )
    return plan_trials(plan)


def test_a_sweep_writes_the_reference_layout_and_skips_completed_trials(tmp_path, clock):
    submission = fakes.make_submission(tmp_path)
    workload = fakes.FakeWorkload(clock, [0.5, 0.99] * 10)
    seen = []
    outcomes = run_trials(
        specs(),
        submission,
        workload,
        fakes.FakeRuntime(),
        tmp_path / "runs",
        TrialOptions(clock=clock),
        on_outcome=lambda s, o, skipped: seen.append(skipped),
    )
    assert [o.status for o in outcomes] == [api.TrialStatus.REACHED_TARGET] * 4
    assert seen == [False] * 4
    folder = trial_directory(tmp_path / "runs", specs()[3])
    assert folder.relative_to(tmp_path).as_posix() == "runs/fake/study_1/mnist_jax/trial_2"
    assert api.read_trial(folder).outcome == outcomes[3]

    # Re-running the sweep runs nothing new.
    evals_before = len(workload.eval_steps)
    again = run_trials(
        specs(),
        submission,
        workload,
        fakes.FakeRuntime(),
        tmp_path / "runs",
        TrialOptions(clock=clock),
        on_outcome=lambda s, o, skipped: seen.append(skipped),
    )
    assert again == outcomes
    assert seen[4:] == [True] * 4
    assert len(workload.eval_steps) == evals_before


def test_an_unfinished_trial_is_rerun_from_scratch_without_duplicate_evals(tmp_path, clock):
    submission = fakes.make_submission(tmp_path)
    spec = specs(num_studies=1)[0]
    folder = trial_directory(tmp_path, spec)
    api.write_trial_file(folder, spec)  # a run that was killed: no outcome
    api.append_eval(
        folder,
        api.EvalRecord(
            global_step=1,
            accumulated_submission_time=1,
            accumulated_eval_time=0,
            accumulated_logging_time=0,
            total_duration=1,
            metrics={},
        ),
    )
    workload = fakes.FakeWorkload(clock, [0.5, 0.99])
    [outcome] = run_trials(
        [spec], submission, workload, fakes.FakeRuntime(), tmp_path, TrialOptions(clock=clock)
    )
    assert outcome.status is api.TrialStatus.REACHED_TARGET
    assert [e.global_step for e in api.read_trial(folder).evals] == [1, 11]


def test_a_failing_trial_does_not_stop_the_sweep(tmp_path, clock):
    extra = (
        "    if hyperparameters.learning_rate == 0.1:\n"
        "        raise ValueError('bad learning rate')\n"
    )
    submission = fakes.make_submission(tmp_path, extra=extra)
    workload = fakes.FakeWorkload(clock, [0.99] * 10)
    outcomes = run_trials(
        specs(), submission, workload, fakes.FakeRuntime(), tmp_path, TrialOptions(clock=clock)
    )
    assert [o.status.value for o in outcomes] == [
        "failed",
        "reached_target",
        "failed",
        "reached_target",
    ]
    assert "ValueError: bad learning rate" in outcomes[0].error


def test_a_changed_spec_is_not_mistaken_for_a_completed_trial(tmp_path, clock):
    submission = fakes.make_submission(tmp_path)
    workload = fakes.FakeWorkload(clock, [0.99] * 10)
    first = specs(num_studies=1)[:1]
    run_trials(
        first, submission, workload, fakes.FakeRuntime(), tmp_path, TrialOptions(clock=clock)
    )
    changed = [first[0].model_copy(update={"seed": first[0].seed + 1})]
    skipped = []
    run_trials(
        changed,
        submission,
        workload,
        fakes.FakeRuntime(),
        tmp_path,
        TrialOptions(clock=clock),
        on_outcome=lambda s, o, k: skipped.append(k),
    )
    assert skipped == [False]
    assert api.read_trial(trial_directory(tmp_path, changed[0])).spec == changed[0]

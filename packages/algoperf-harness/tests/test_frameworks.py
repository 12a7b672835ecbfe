"""Real trials in both frameworks on a built-in workload, read back by scoring."""

import pytest

from algoperf import api
from algoperf.baselines import search_space_path, submission_path
from algoperf.harness import StudyPlan, TrialOptions, get_runtime, plan_trials, run_trials
from algoperf.scoring import AnomalyKind, ScoringOptions, score_logs
from algoperf.workloads import get_workload


@pytest.mark.parametrize("framework", ["jax", "pytorch"])
def test_nadamw_trials_on_digits_are_recorded_and_scored(tmp_path, framework):
    runtime = get_runtime(framework)
    submission = api.load_submission(submission_path("nadamw", framework))
    plan = StudyPlan(
        submission=f"nadamw_{framework}",
        workload="digits_mlp",
        framework=api.Framework(framework),
        ruleset=api.Ruleset.EXTERNAL,
        rules=api.RULES_DEV,
        hardware=runtime.hardware(),
        search_space=api.load_search_space(search_space_path("nadamw")),
        num_studies=1,
        num_trials=2,
    )
    workload = get_workload("digits_mlp", framework, api.RULES_DEV)
    outcomes = run_trials(
        plan_trials(plan),
        submission,
        workload,
        runtime,
        tmp_path,
        TrialOptions(max_global_steps=40),
    )
    assert [o.status for o in outcomes] == [api.TrialStatus.STOPPED] * 2, outcomes
    assert all(o.global_step == 40 for o in outcomes)
    assert runtime.hardware().device_kind

    report = score_logs(tmp_path, ScoringOptions(rules=api.RULES_DEV, bootstrap_samples=0))
    assert report.times.submissions == (f"nadamw_{framework}",)
    # Only what this small run leaves out: one study of two, and no digits_cnn.
    kinds = {a.kind for a in report.anomalies}
    assert kinds == {AnomalyKind.STUDY_COUNT, AnomalyKind.MISSING_WORKLOAD}


def test_the_same_seed_gives_the_same_jax_trial(tmp_path):
    runtime = get_runtime("jax")
    submission = api.load_submission(submission_path("nadamw", "jax"))
    spec = api.TrialSpec(
        submission="nadamw",
        workload="digits_mlp",
        framework="jax",
        ruleset="external",
        rules_version="dev",
        study=0,
        trial=1,
        seed=11,
        hyperparameters=api.load_search_space(search_space_path("nadamw")).points(1)[0].to_dict(),
        hardware=runtime.hardware(),
    )
    workload = get_workload("digits_mlp", "jax", api.RULES_DEV)
    losses = []
    for run in ("a", "b"):
        run_trials(
            [spec], submission, workload, runtime, tmp_path / run, TrialOptions(max_global_steps=10)
        )
        [record] = [api.read_trial(p.parent) for p in (tmp_path / run).rglob("trial.json")]
        losses.append([e.metrics["validation/loss"] for e in record.evals])
    assert losses[0] == losses[1]

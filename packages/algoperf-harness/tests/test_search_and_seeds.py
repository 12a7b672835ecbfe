import hashlib

import numpy as np
import pytest

from algoperf import api
from algoperf.harness import (
    StudyPlan,
    derive_seed,
    halton_search,
    plan_trials,
    scrambled_halton,
    trial_seed,
)
from algoperf.harness._halton import halton_bases

SPACE = api.parse_search_space(
    {
        "learning_rate": {"min": 1e-4, "max": 1e-2, "scaling": "log"},
        "one_minus_beta1": {"min": 0.02, "max": 0.5, "scaling": "linear"},
        "warmup_factor": {"feasible_points": [0.05]},
        "label_smoothing": {"feasible_points": [0.1, 0.2]},
    }
)
HARDWARE = api.HardwareInfo(device_kind="cpu", device_count=1)


def test_bases_are_the_largest_odd_primes_below_1000_without_997():
    assert halton_bases(7) == [947, 953, 967, 971, 977, 983, 991]


def test_halton_points_are_deterministic_and_in_the_unit_cube():
    points = scrambled_halton(64, 4, seed=3)
    assert points.shape == (64, 4)
    assert np.all((points >= 0) & (points < 1))
    np.testing.assert_array_equal(points, scrambled_halton(64, 4, seed=3))
    assert not np.allclose(points, scrambled_halton(64, 4, seed=4))
    # Every point differs in every coordinate (digits come from distinct indices).
    for dim in range(4):
        assert len(np.unique(points[:, dim])) == 64


def test_halton_search_stays_inside_the_space():
    points = halton_search(SPACE, 50, seed=0)
    for p in points:
        assert 1e-4 <= p.learning_rate <= 1e-2
        assert 0.02 <= p.one_minus_beta1 <= 0.5
        assert p.warmup_factor == 0.05
        assert p.label_smoothing in (0.1, 0.2)
    assert {p.label_smoothing for p in points} == {0.1, 0.2}
    assert [p.to_dict() for p in points] == [p.to_dict() for p in halton_search(SPACE, 50, 0)]


def test_seeds_are_stable_and_differ_per_trial():
    assert trial_seed(0, "nadamw", "ogbg", 1, 2) == trial_seed(0, "nadamw", "ogbg", 1, 2)
    # A fixed value: the derivation must never change silently (it would change every run).
    assert (
        derive_seed(0, "x")
        == derive_seed(0, "x")
        == int.from_bytes(hashlib.sha256(b"0/x").digest()[:8], "big") >> 1
    )
    seeds = {
        trial_seed(e, s, w, k, i)
        for e in (0, 1)
        for s in ("a", "b")
        for w in ("ogbg", "wmt")
        for k in range(3)
        for i in range(1, 6)
    }
    assert len(seeds) == 2 * 2 * 2 * 3 * 5
    assert all(0 <= s < 2**63 for s in seeds)


def plan(**changes):
    fields = dict(
        submission="adamw",
        workload="digits_mlp",
        framework=api.Framework.JAX,
        ruleset=api.Ruleset.EXTERNAL,
        rules=api.RULES_V05,
        hardware=HARDWARE,
        search_space=SPACE,
    )
    return StudyPlan(**(fields | changes))


def test_external_plan_uses_the_rule_versions_counts():
    specs = plan_trials(plan())
    assert len(specs) == 25  # v0.5: 5 studies x 5 trials
    assert [(s.study, s.trial) for s in specs[:6]] == [
        (0, 1),
        (0, 2),
        (0, 3),
        (0, 4),
        (0, 5),
        (1, 1),
    ]
    assert len({s.seed for s in specs}) == 25
    # Studies draw different points; the same study always draws the same ones.
    assert specs[0].hyperparameters != specs[5].hyperparameters
    assert plan_trials(plan()) == specs
    assert len(plan_trials(plan(rules=api.RULES_V06))) == 15


def test_fixed_points_are_the_first_n_in_every_study():
    points = api.parse_search_space([{"learning_rate": x} for x in (0.1, 0.2, 0.3)])
    specs = plan_trials(plan(search_space=points, num_studies=2, num_trials=2))
    assert [s.hyperparameters["learning_rate"] for s in specs] == [0.1, 0.2, 0.1, 0.2]


def test_self_tuning_has_one_trial_per_study_and_no_hyperparameters():
    specs = plan_trials(plan(ruleset=api.Ruleset.SELF, search_space=None, rules=api.RULES_V06))
    assert [(s.study, s.trial, s.hyperparameters) for s in specs] == [
        (0, 1, None),
        (1, 1, None),
        (2, 1, None),
    ]


def test_plan_errors():
    with pytest.raises(ValueError, match="needs a search space"):
        plan_trials(plan(search_space=None))
    with pytest.raises(ValueError, match="take no search space"):
        plan_trials(plan(ruleset=api.Ruleset.SELF))


@pytest.mark.parametrize("framework", ["jax", "pytorch"])
def test_bulk_step_keys_equal_per_step_derivation(framework):
    from algoperf.harness import get_runtime

    runtime = get_runtime(framework)
    key = runtime.key(2**40 + 5)
    block = runtime.step_keys(key, 7, 3)
    for i in range(3):
        expected = np.stack([np.asarray(k) for k in runtime.split(runtime.fold_in(key, 7 + i), 4)])
        np.testing.assert_array_equal(np.asarray(block[i]), expected)
    assert len({np.asarray(k).tobytes() for k in block.reshape(-1, 2)}) == 12


def test_the_language_model_plans_under_the_provisional_lm_rules():
    specs = plan_trials(plan(workload="finewebedu_lm", rules=api.RULES_V06_LM))
    assert len(specs) == 15  # v0.6's 3 studies x 5 trials
    assert {(s.workload, s.rules_version) for s in specs} == {("finewebedu_lm", "v0.6-lm")}
    spec = api.get_workload_spec("finewebedu_lm")
    assert spec.max_runtime_sec(specs[0].rules_version) == 31_967

import dataclasses

import pytest

from algoperf import api


def test_v05_is_the_competition():
    r = api.get_rules("v0.5")
    assert r is api.RULES_V05 is api.DEFAULT_RULES is api.get_rules()
    assert (r.num_studies, r.num_trials) == (5, 5)
    assert r.self_tuning_budget_factor == 3.0
    assert len(r.held_out_workloads) == 6
    assert r.max_tau == 4.0
    assert r.max_ratio_to_fastest == 4.0
    assert not r.has_prepare_for_eval
    assert r.hardware == api.HardwareSpec(device_kind="NVIDIA V100 16GB", device_count=8)


def test_v06_changes():
    r = api.get_rules("v0.6")
    assert (r.num_studies, r.num_trials) == (3, 5)
    assert r.self_tuning_budget_factor == 1.5
    assert r.held_out_workloads == ()
    assert r.has_prepare_for_eval
    assert r.base_workloads == api.RULES_V05.base_workloads


def test_v06_lm_is_v06_plus_the_language_model():
    r = api.get_rules("v0.6-lm")
    assert r is api.RULES_V06_LM
    assert r.provisional
    assert not api.RULES_V06.provisional
    assert r.base_workloads == (*api.RULES_V06.base_workloads, "finewebedu_lm")
    same = {"name": "", "base_workloads": (), "budget_rules": None, "provisional": False}
    assert dataclasses.replace(r, **same) == dataclasses.replace(api.RULES_V06, **same)
    assert r.budget_key == "v0.6"
    assert api.RULES_V06.budget_key == "v0.6"
    assert "finewebedu_lm" not in api.RULES_V06.base_workloads


def test_rule_versions_are_immutable_and_strict():
    with pytest.raises(dataclasses.FrozenInstanceError):
        api.RULES_V05.num_studies = 3  # type: ignore[misc]
    with pytest.raises(TypeError, match="typo"):
        dataclasses.replace(api.RULES_V05, typo=1)


@pytest.mark.parametrize(
    ("field", "value", "bound"),
    [("num_studies", 0, 0), ("self_tuning_budget_factor", -1.0, 0), ("max_tau", 1.0, 1)],
)
def test_a_rule_version_checks_its_numbers(field, value, bound):
    with pytest.raises(ValueError, match=rf"RuleVersion\.{field} is {value}; it must be > {bound}"):
        dataclasses.replace(api.RULES_V05, **{field: value})


def test_unknown_version():
    with pytest.raises(
        api.UnknownNameError, match=r"'v05'.*did you mean 'v0.5'.*v0.5, v0.6, v0.6-lm, dev"
    ):
        api.get_rules("v05")


def test_every_named_workload_is_registered():
    for rules in api.RULE_VERSIONS.values():
        names = rules.base_workloads + rules.held_out_workloads + rules.qualification_workloads
        for name in names:
            api.get_workload_spec(name)
        expected = api.WorkloadKind.DEV if rules is api.RULES_DEV else api.WorkloadKind.BASE
        for name in rules.base_workloads + rules.qualification_workloads:
            spec = api.get_workload_spec(name)
            assert spec.kind is expected
            spec.budget(rules)  # every scored workload has a budget under the version


def test_dev_rules_score_the_built_in_workloads():
    r = api.get_rules("dev")
    assert r is api.RULES_DEV
    assert r.base_workloads == ("digits_mlp", "digits_cnn")
    assert (r.num_studies, r.num_trials, r.held_out_workloads) == (2, 2, ())
    assert api.get_workload_spec("digits_cnn").max_runtime_sec("dev") == 60

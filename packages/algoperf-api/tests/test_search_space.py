import json
import math

import pytest

from algoperf import api

BASELINE_POINT = {
    "dropout_rate": 0.0,
    "label_smoothing": 0.1,
    "learning_rate": 0.001308209823469072,
    "one_minus_beta1": 0.02686663061,
    "beta2": 0.9981232922116359,
    "weight_decay": 0.16375311233774334,
    "warmup_factor": 0.1,
}


def write(tmp_path, data, name="space.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_dict_form_loads_ranges_and_choices(tmp_path):
    path = write(
        tmp_path,
        {
            "learning_rate": {"min": 1e-4, "max": 1e-2, "scaling": "log"},
            "one_minus_beta1": {"min": 0.1, "max": 0.2, "scaling": "linear"},
            "beta2": {"feasible_points": [0.999]},
            "label_smoothing": {"feasible_points": [0.1, 0.2]},
        },
    )
    space = api.load_search_space(path)
    assert isinstance(space, api.SearchSpace)
    lr = space.parameters["learning_rate"]
    assert isinstance(lr, api.RangeParameter)
    assert lr.value_at(0.0) == pytest.approx(1e-4)
    assert lr.value_at(0.5) == pytest.approx(1e-3)  # log-uniform midpoint
    assert space.parameters["one_minus_beta1"].value_at(0.5) == pytest.approx(0.15)
    smoothing = space.parameters["label_smoothing"]
    assert [smoothing.value_at(u) for u in (0.0, 0.49, 0.5, 0.999)] == [0.1, 0.1, 0.2, 0.2]
    point = space.point_at(
        {"learning_rate": 1.0, "one_minus_beta1": 0.0, "beta2": 0.3, "label_smoothing": 0.7}
    )
    assert point.learning_rate == pytest.approx(1e-2)
    assert (point.beta2, point.label_smoothing) == (0.999, 0.2)


def test_list_form_keeps_order_and_types(tmp_path):
    second = BASELINE_POINT | {"learning_rate": 0.002, "label_smoothing": 0.0}
    space = api.load_search_space(write(tmp_path, [BASELINE_POINT, second]))
    assert isinstance(space, api.FixedPoints)
    points = space.points()
    assert [p.learning_rate for p in points] == [0.001308209823469072, 0.002]
    assert [p.learning_rate for p in space.points(1)] == [0.001308209823469072]
    assert points[0].to_dict() == BASELINE_POINT


def test_feasible_points_keep_ints_bools_and_strings(tmp_path):
    space = api.parse_search_space({"x": {"feasible_points": [1, True, "cosine", 0.5]}})
    values = [space.parameters["x"].value_at(u) for u in (0.0, 0.3, 0.6, 0.9)]
    assert values == [1, True, "cosine", 0.5]
    assert [type(v) for v in values] == [int, bool, str, float]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"learning_rate": {"min": 0.1, "max": 0.01, "scaling": "log"}},
            "learning_rate.min: 0.1 is greater than max 0.01; swap them",
        ),
        (
            {"learning_rate": {"min": 0.0, "max": 0.01, "scaling": "log"}},
            "learning_rate.min: 0.0 must be positive with log scaling",
        ),
        (
            {"learning_rate": {"min": -1, "max": 0.01, "scaling": "log"}},
            "learning_rate.min: -1 must be positive with log scaling",
        ),
        (
            {"learning_rate": {"min": 1e-4, "max": 0.01, "scale": "log"}},
            "learning_rate.scale: unknown key (did you mean 'scaling'?)",
        ),
        (
            {"learning_rate": {"min": 1e-4, "max": 0.01, "scale": "log"}},
            "learning_rate.scaling: missing; add it",
        ),
        (
            {"beta2": {"feasible_points": []}},
            "beta2.feasible_points: must be a non-empty list of values",
        ),
        (
            {"beta2": {"feasible_points": [0.9], "min": 0.1}},
            "beta2.min: unknown key; allowed keys: feasible_points",
        ),
        (
            {"lr": {"min": 1e-4, "max": 0.01, "scaling": "cubic"}},
            "lr.scaling: 'cubic' is not 'linear' or 'log'",
        ),
        ({"lr": {"min": "a", "max": 0.01, "scaling": "log"}}, "lr.min/max: must be numbers"),
        ({"lr": 0.1}, "lr: expected an object with min/max/scaling or feasible_points, got 0.1"),
        ({}, "the search space is empty"),
        ([], "the list of fixed points is empty"),
        ([{}], "[0]: each fixed point must be a non-empty object of values"),
        (
            [BASELINE_POINT, {k: v for k, v in BASELINE_POINT.items() if k != "beta2"}],
            "[1]: its names differ from point [0] (missing ['beta2'], extra [])",
        ),
        ([{"lr": [0.1]}], "[0].lr: [0.1] is not a number, bool or string"),
        ("0.1", "the top level is a float"),
    ],
)
def test_bad_search_spaces_name_the_file_and_the_field(tmp_path, data, message):
    path = write(tmp_path, data)
    with pytest.raises(api.SearchSpaceError) as info:
        api.load_search_space(path)
    text = str(info.value)
    assert text.startswith(f"{path}: invalid search space")
    assert message in text


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(
        tmp_path,
        {
            "a": {"min": 2, "max": 1, "scaling": "linear"},
            "b": {"feasible_points": []},
        },
    )
    with pytest.raises(api.SearchSpaceError) as info:
        api.load_search_space(path)
    assert "a.min" in str(info.value)
    assert "b.feasible_points" in str(info.value)


def test_invalid_json_and_missing_file(tmp_path):
    path = write(tmp_path, '{"lr": {"min": 1,}}')
    with pytest.raises(api.SearchSpaceError, match=rf"{path}:1:\d+: not valid JSON"):
        api.load_search_space(path)
    with pytest.raises(api.SearchSpaceError, match="cannot read the search space"):
        api.load_search_space(tmp_path / "missing.json")


def test_log_scaling_spans_the_range():
    lr = api.RangeParameter(min=1e-4, max=1e-2, scaling="log")
    values = [lr.value_at(u / 10) for u in range(10)]
    assert all(1e-4 <= v < 1e-2 for v in values)
    assert math.log10(values[5]) == pytest.approx(-3)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"learning_rate": {"feasible_points": [0.1]}, "learning_rate": '
            '{"min": 1e-4, "max": 1e-2, "scaling": "log"}}',
            "learning_rate: the key appears more than once and JSON keeps only the last; "
            "delete or rename the others",
        ),
        (
            '{"learning_rate": {"min": 1e-4, "max": 1e-2, "min": 1e-3, "scaling": "log"}}',
            "learning_rate.min: the key appears more than once",
        ),
        (
            '[{"dropout_rate": 0.1, "dropout_rate": 0.2}]',
            "[0].dropout_rate: the key appears more than once",
        ),
    ],
)
def test_a_duplicate_key_is_named_with_its_path(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(api.SearchSpaceError) as info:
        api.load_search_space(path)
    assert str(info.value).startswith(f"{path}: invalid search space")
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"learning_rate": {"min": 1e-3, "max": -1, "scaling": "log"}},
            "learning_rate.max: -1 must be positive with log scaling",
        ),
        (
            {"learning_rate": {"min": -0.1, "max": 0.1, "scaling": "linear"}},
            "learning_rate.min: -0.1 is outside [0, inf] (a learning rate is not negative)",
        ),
        (
            {"head_learning_rate": {"feasible_points": [0.1, -0.1]}},
            "head_learning_rate.feasible_points[1]: -0.1 is outside [0, inf]",
        ),
        (
            {"dropout_rate": {"feasible_points": [0.1, 1.5]}},
            "dropout_rate.feasible_points[1]: 1.5 is outside [0, 1] (a dropout rate is a "
            "probability); use a value in that range",
        ),
        (
            {"attention_dropout": {"min": 0.0, "max": 1.5, "scaling": "linear"}},
            "attention_dropout.max: 1.5 is outside [0, 1]",
        ),
        (
            {"aux_dropout_rate": {"feasible_points": [-0.5]}},
            "aux_dropout_rate.feasible_points[0]: -0.5 is outside [0, 1]",
        ),
        (
            {"label_smoothing": {"feasible_points": [-0.1]}},
            "label_smoothing.feasible_points[0]: -0.1 is outside [0, 1]",
        ),
        (
            {"one_minus_beta1": {"min": 0.01, "max": 2.0, "scaling": "log"}},
            "one_minus_beta1.max: 2.0 is outside [0, 1]",
        ),
        ({"beta2": {"feasible_points": [1.01]}}, "beta2.feasible_points[0]: 1.01 is outside"),
        ([BASELINE_POINT | {"dropout_rate": 1.5}], "[0].dropout_rate: 1.5 is outside [0, 1]"),
        ([BASELINE_POINT | {"learning_rate": -1e-3}], "[0].learning_rate: -0.001 is outside"),
    ],
)
def test_values_no_submission_can_use_are_rejected(tmp_path, data, message):
    path = write(tmp_path, data)
    with pytest.raises(api.SearchSpaceError) as info:
        api.load_search_space(path)
    assert str(info.value).startswith(f"{path}: invalid search space")
    assert message in str(info.value)


def test_names_without_a_universal_range_take_any_value():
    space = api.parse_search_space(
        {
            "rho": {"feasible_points": [5.0]},
            "warmup_factor": {"min": 0.5, "max": 2.0, "scaling": "linear"},
            "weight_decay": {"feasible_points": [0.0]},
            "dropout_rate": {"feasible_points": [0.0, 1.0]},
            "label_smoothing": {"feasible_points": ["none"]},
        }
    )
    assert set(space.parameters) == {
        "rho",
        "warmup_factor",
        "weight_decay",
        "dropout_rate",
        "label_smoothing",
    }


REQUIRES = """
REQUIRED_HYPERPARAMETERS = ("learning_rate", "weight_decay", "beta2")


def get_batch_size(workload_name):
    return 128


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
    return None


def update_params(workload, current_param_container, current_params_types, model_state,
                  hyperparameters, batch, loss_type, optimizer_state, eval_results,
                  global_step, rng):
    return optimizer_state, current_param_container, model_state


def data_selection(workload, input_queue, optimizer_state, current_param_container,
                   model_state, hyperparameters, global_step, rng):
    return next(input_queue)
"""


def test_check_search_space_names_the_file_the_missing_names_and_the_fix(tmp_path):
    submission_file = tmp_path / "submission.py"
    submission_file.write_text(REQUIRES)
    submission = api.load_submission(submission_file)
    assert submission.required_hyperparameters == ("learning_rate", "weight_decay", "beta2")
    path = write(tmp_path, {"beta2": {"feasible_points": [0.999]}})
    with pytest.raises(api.SearchSpaceError) as info:
        api.check_search_space(api.load_search_space(path), submission, source=path)
    assert str(info.value) == (
        f"{path}: the search space does not set learning_rate, weight_decay, which the "
        f"submission {submission_file.resolve()} requires; add them to it, e.g. "
        '"learning_rate": {"min": 1e-4, "max": 1e-2, "scaling": "log"} or '
        '{"feasible_points": [...]}'
    )
    points = write(tmp_path, [{"learning_rate": 0.1, "beta2": 0.99}], name="points.json")
    with pytest.raises(api.SearchSpaceError, match=r"not set weight_decay, .* add it to every"):
        api.check_search_space(api.load_search_space(points), submission, source=points)
    complete = BASELINE_POINT | {"extra_unused": 1}
    api.check_search_space(api.parse_search_space([complete]), submission)


def test_a_submission_that_declares_nothing_accepts_any_search_space(tmp_path):
    submission_file = tmp_path / "submission.py"
    submission_file.write_text(REQUIRES.replace("REQUIRED_HYPERPARAMETERS = ", "_unused = "))
    submission = api.load_submission(submission_file)
    assert submission.required_hyperparameters == ()
    api.check_search_space(api.parse_search_space({"x": {"feasible_points": [1]}}), submission)

"""One contract suite over every baseline in both frameworks (style P4), and the public API."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from algoperf.api import (
    FixedPoints,
    Ruleset,
    SearchSpace,
    SearchSpaceError,
    UnknownNameError,
    check_search_space,
    load_search_space,
    load_submission,
    parse_search_space,
)
from algoperf.baselines import (
    NADAMW_SELF_TUNING,
    baseline_names,
    get_baseline,
    search_space_path,
    submission_path,
)

FRAMEWORKS = ("jax", "pytorch")
CASES = [(name, fw) for name in baseline_names() for fw in FRAMEWORKS]
EXTERNAL = baseline_names(Ruleset.EXTERNAL)

# reference-spec 6.4: the external-tuning NAdamW baseline's 5 points.
NADAMW_POINTS = [
    (0.0, 0.1, 0.001308209823469072, 0.02686663061, 0.9981232922116359, 0.16375311233774334, 0.1),
    (0.0, 0.2, 0.0008445074561975979, 0.11042418465, 0.9978504782314613, 0.08135402759553023, 0.05),
    (0.0, 0.0, 0.001308209823469072, 0.02686663061, 0.9981232922116359, 0.16375311233774334, 0.1),
    (0.0, 0.0, 0.004958460849689891, 0.13625575743, 0.6291854735396584, 0.1147386261512052, 0.02),
    (0.1, 0.0, 0.0017486387539278373, 0.06733926164, 0.9955159689799007, 0.08121616522670176, 0.02),
]
NADAMW_KEYS = (
    "dropout_rate",
    "label_smoothing",
    "learning_rate",
    "one_minus_beta1",
    "beta2",
    "weight_decay",
    "warmup_factor",
)


@pytest.mark.parametrize(("name", "framework"), CASES)
def test_load_submission_accepts_every_baseline(name: str, framework: str) -> None:
    submission = load_submission(submission_path(name, framework))
    assert submission.path.parent.name == framework
    assert (submission.prepare_for_eval is not None) == (name == "schedule_free_adamw")
    assert submission.get_batch_size("digits_mlp") == 128
    assert submission.get_batch_size("imagenet_resnet_silu") == 512
    with pytest.raises(ValueError, match="unknown workload"):
        submission.get_batch_size("imagenet_resnet_tanh_typo")
    queue = iter([{"batch": 1}, {"batch": 2}])
    assert submission.data_selection(
        workload=None,
        input_queue=queue,
        optimizer_state=None,
        current_param_container=None,
        model_state=None,
        hyperparameters=None,
        global_step=0,
        rng=None,
    ) == {"batch": 1}


@pytest.mark.parametrize(("name", "framework"), [(n, f) for n in EXTERNAL for f in FRAMEWORKS])
def test_external_baselines_need_hyperparameters(name: str, framework: str) -> None:
    submission = load_submission(submission_path(name, framework))
    with pytest.raises(ValueError, match="needs hyperparameters"):
        submission.init_optimizer_state(
            workload=None, model_params=None, model_state=None, hyperparameters=None, rng=None
        )


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_self_tuning_nadamw_uses_its_fixed_point(framework: str) -> None:
    module = load_submission(submission_path("nadamw_self_tuning", framework)).module
    assert module.SUBMISSION.fixed_hyperparameters == NADAMW_SELF_TUNING
    assert "label_smoothing" not in NADAMW_SELF_TUNING
    assert NADAMW_SELF_TUNING.learning_rate == 0.0017486387539278373


@pytest.mark.parametrize(("name", "framework"), [(n, f) for n in EXTERNAL for f in FRAMEWORKS])
def test_every_baseline_declares_what_its_search_space_sets(name: str, framework: str) -> None:
    """The declaration is the learning rate and more; the shipped search space satisfies it.

    `test_training` trains every baseline with only the declared names, so a declaration that
    misses one fails there.
    """
    submission = load_submission(submission_path(name, framework))
    assert {"learning_rate", "one_minus_beta1", "weight_decay", "warmup_factor"} <= set(
        submission.required_hyperparameters
    )
    path = search_space_path(name)
    check_search_space(load_search_space(path), submission, source=path)
    without_lr = json.loads(path.read_text())
    if isinstance(without_lr, list):
        without_lr = [{k: v for k, v in p.items() if k != "learning_rate"} for p in without_lr]
    else:
        del without_lr["learning_rate"]
    with pytest.raises(SearchSpaceError, match=r"does not set learning_rate, which the submission"):
        check_search_space(parse_search_space(without_lr), submission, source=path)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_self_tuning_baseline_requires_no_hyperparameters(framework: str) -> None:
    submission = load_submission(submission_path("nadamw_self_tuning", framework))
    assert submission.required_hyperparameters == ()


@pytest.mark.parametrize("name", EXTERNAL)
def test_every_search_space_validates(name: str) -> None:
    space = load_search_space(search_space_path(name))
    if name == "nadamw":
        assert isinstance(space, FixedPoints)
        return
    assert isinstance(space, SearchSpace)
    params = space.parameters
    assert {
        "learning_rate",
        "weight_decay",
        "warmup_factor",
        "label_smoothing",
        "dropout_rate",
    } <= set(params)
    assert params["warmup_factor"].feasible_points == (0.05,)


def test_nadamw_search_space_is_the_reference_list_of_five_points() -> None:
    data = json.loads(search_space_path("nadamw").read_text())
    assert [tuple(p[k] for k in NADAMW_KEYS) for p in data] == NADAMW_POINTS


def test_archived_ranges_match_the_reference() -> None:
    adamw = load_search_space(search_space_path("adamw")).parameters
    assert (adamw["one_minus_beta1"].min, adamw["one_minus_beta1"].max) == (2e-2, 0.5)
    momentum = load_search_space(search_space_path("momentum")).parameters
    assert (momentum["learning_rate"].min, momentum["learning_rate"].max) == (2e-2, 5.0)
    assert momentum["end_factor"].feasible_points == (1e-3, 1e-2)
    assert search_space_path("nesterov").read_text() == search_space_path("momentum").read_text()
    sam = load_search_space(search_space_path("sam")).parameters
    assert sam["rho"].feasible_points == (0.01, 0.02, 0.05)
    assert "beta2" not in load_search_space(search_space_path("adafactor")).parameters


def test_catalog_errors_name_the_fix() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'nadamw'"):
        get_baseline("nadamww")
    with pytest.raises(ValueError, match="self-tuning"):
        search_space_path("nadamw_self_tuning")
    with pytest.raises(ValueError, match="tensorflow"):
        submission_path("nadamw", "tensorflow")
    assert baseline_names(Ruleset.SELF) == ("nadamw_self_tuning",)


@pytest.mark.slow
def test_importing_the_package_imports_no_framework() -> None:
    code = (
        "import sys, algoperf.baselines as b; b.submission_path('nadamw', 'jax'); "
        "print(sorted({'jax', 'torch', 'optax'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", ["nadamw", "lamb", "adafactor", "muon", "shampoo"])
def test_hand_written_torch_optimizers_resume_from_a_state_dict(name):
    """A restored optimizer keeps stepping exactly like the original (checkpoint resume)."""
    import torch

    from algoperf.api import Hyperparameters, load_search_space

    module = load_submission(submission_path(name, "pytorch")).module
    space = load_search_space(search_space_path(name))
    point = (
        space.points(1)[0]
        if hasattr(space, "points")
        else space.point_at({n: 0.5 for n in space.parameters})
    )
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(6, 5)), torch.nn.Parameter(torch.randn(5))]
    twin = [torch.nn.Parameter(p.detach().clone()) for p in params]
    first = module.SUBMISSION.make_optimizer(params, Hyperparameters(point))
    for _ in range(3):
        for p in params:
            p.grad = torch.ones_like(p)
        first.step()
    second = module.SUBMISSION.make_optimizer(twin, Hyperparameters(point))
    with torch.no_grad():
        for a, b in zip(twin, params, strict=True):
            a.copy_(b)
    # A deep copy, as from disk: torch loads same-device tensors without copying them.
    second.load_state_dict(copy.deepcopy(first.state_dict()))
    for opt, ps in ((first, params), (second, twin)):
        for p in ps:
            p.grad = torch.full_like(p, 0.5)
        opt.step()
    for a, b in zip(params, twin, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)

"""Every baseline trains `digits_mlp` through its submission functions, in both frameworks.

A real mini training loop without the harness (`_training.train`): 60 steps at batch 128
from a training loss of about 2.3. Each baseline must bring the training loss (the workload's
`train/loss` at the evaluated parameters, x for Schedule-Free) below LOSS_LEVEL. The
hyperparameters are stated below; with step hint 1000 and warmup_factor 0.05 the learning
rate warms up over the first 50 steps.
"""

from __future__ import annotations

from typing import Any

import jax
import pytest
import torch

from algoperf.api import Hyperparameters, Submission, Workload, load_submission
from algoperf.baselines import baseline_names, submission_path
from algoperf.workloads import get_workload

STEPS = 60
LOSS_LEVEL = 0.25
_BASE = dict(
    warmup_factor=0.05,
    label_smoothing=0.0,
    dropout_rate=0.0,
    weight_decay=0.01,
    beta2=0.999,
    one_minus_beta1=0.1,
    learning_rate=3e-3,
)
_SGD = dict(_BASE, learning_rate=0.3, weight_decay=1e-6, decay_steps_factor=0.9, end_factor=0.01)
HYPERPARAMETERS: dict[str, dict | None] = {
    "nadamw": _BASE,
    "nadamw_self_tuning": None,  # its fixed point
    "adamw": _BASE,
    "momentum": _SGD,
    "nesterov": _SGD,
    "lamb": dict(_BASE, learning_rate=1e-2),
    "sam": dict(_BASE, rho=0.05),
    "adafactor": _BASE,
    "schedule_free_adamw": _BASE,
    "muon": dict(_BASE, learning_rate=2e-2, one_minus_beta1=0.05),
    "shampoo": _BASE,
}
REACHED: dict[tuple[str, str], float] = {}


def train(
    submission: Submission,
    workload: Workload,
    framework: str,
    hparams: Hyperparameters | None,
    steps: int,
    initial_model: Any = None,
    seed: int = 0,
) -> tuple[dict[str, float], list[tuple[int, dict[str, float]]]]:
    """Train `steps` steps; returns the final eval metrics and the logged metrics."""
    workload_name = workload.name
    logged: list[tuple[int, dict[str, float]]] = []
    workload.attach_metrics_logger(lambda metrics, step: logged.append((step, dict(metrics))))
    torch.manual_seed(seed)  # PyTorch dropout draws from the global RNG
    rng = jax.random.PRNGKey(seed)
    params, model_state = initial_model or workload.init_model_fn(rng)
    batch_size = submission.get_batch_size(workload_name=workload_name)
    queue = workload.build_input_queue(rng, "train", None, batch_size)
    opt_state = submission.init_optimizer_state(
        workload=workload,
        model_params=params,
        model_state=model_state,
        hyperparameters=hparams,
        rng=rng,
    )
    for step in range(steps):
        step_rng = jax.random.fold_in(rng, step) if framework == "jax" else rng
        batch = submission.data_selection(
            workload=workload,
            input_queue=queue,
            optimizer_state=opt_state,
            current_param_container=params,
            model_state=model_state,
            hyperparameters=hparams,
            global_step=step,
            rng=step_rng,
        )
        opt_state, params, model_state = submission.update_params(
            workload=workload,
            current_param_container=params,
            current_params_types=None,
            model_state=model_state,
            hyperparameters=hparams,
            batch=batch,
            loss_type=None,
            optimizer_state=opt_state,
            eval_results=[],
            global_step=step,
            rng=step_rng,
        )
    if submission.prepare_for_eval is not None:
        opt_state, params, model_state = submission.prepare_for_eval(
            workload=workload,
            current_param_container=params,
            current_params_types=None,
            model_state=model_state,
            hyperparameters=hparams,
            loss_type=None,
            optimizer_state=opt_state,
            eval_results=[],
            global_step=steps,
            rng=rng,
        )
    return workload.eval_model(
        workload.eval_batch_size, params, model_state, rng, None, steps
    ), logged


@pytest.fixture(scope="module", params=["jax", "pytorch"])
def setup(request) -> tuple[str, Workload, Any]:
    """(framework, workload, JAX initial model or None).

    JAX parameters are immutable, so they are initialised once per module: the digits JAX
    `init_model_fn` alone takes seconds. PyTorch modules are trained in place, so each test
    initialises its own.
    """
    framework = request.param
    workload = get_workload("digits_mlp", framework)
    if framework == "jax":
        return framework, workload, workload.init_model_fn(jax.random.PRNGKey(0))
    return framework, workload, None


def test_table_covers_every_baseline() -> None:
    assert set(HYPERPARAMETERS) == set(baseline_names())


@pytest.mark.parametrize("name", baseline_names())
def test_baseline_lowers_the_training_loss(setup, name: str) -> None:
    framework, workload, initial_model = setup
    submission = load_submission(submission_path(name, framework))
    point = HYPERPARAMETERS[name]
    # Only the declared names: a baseline reading an undeclared one fails here.
    required = submission.required_hyperparameters
    hparams = None if point is None else Hyperparameters({k: point[k] for k in required})
    metrics, logged = train(submission, workload, framework, hparams, STEPS, initial_model)
    REACHED[name, framework] = metrics["train/loss"]
    print(f"\n{framework} {name}: train/loss {metrics['train/loss']:.4f} after {STEPS} steps")
    # The shared step logged loss and gradient norm at step 0 (every 100 steps).
    assert [step for step, _ in logged] == [0]
    assert set(logged[0][1]) == {"loss", "grad_norm"}
    assert logged[0][1]["loss"] > 2.0
    assert metrics["train/loss"] < LOSS_LEVEL

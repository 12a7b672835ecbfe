"""The shipped NAdamW baseline, in both frameworks, against its formula written out in numpy.

Each framework's optimizer is built the way the harness builds it, through the submission
object of `nadamw.py` (its warmup + cosine schedule included), and stepped on fixed random
fp32 gradients. The reference below is independent of the package: reference-spec 6.2's
update and 6.3's schedule in float64.

Tolerance: one fp32 step rounds each parameter by about `eps32 * |theta|` (the update itself
is ~100x smaller than theta, so its relative error adds less), and the errors of successive
steps add up; step t is held to `8 * t * eps32 * max|theta_0|` (about 2e-6 per step here),
while a wrong bias correction (optax.nadamw's) moves a parameter by ~1e-2 on the first
update.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

from algoperf.api import Hyperparameters, load_submission
from algoperf.baselines import submission_path

HPARAMS = Hyperparameters(
    learning_rate=0.05,
    one_minus_beta1=0.1,
    beta2=0.99,
    weight_decay=0.1,
    warmup_factor=0.25,
)
EPS = 1e-8  # the baseline's epsilon (not a hyperparameter)
STEP_HINT = 8  # 2 warmup steps, then the cosine decay: 6 steps see both
STEPS = 6
SHAPES = {"kernel": (3, 4), "bias": (5,)}
EPS32 = float(np.finfo(np.float32).eps)


def initial_params() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {k: rng.uniform(-2.0, 2.0, s).astype(np.float32) for k, s in SHAPES.items()}


def gradients(step: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(100 + step)
    return {k: rng.standard_normal(s).astype(np.float32) for k, s in SHAPES.items()}


def tolerance(step: int) -> float:
    """Absolute tolerance after `step` updates (module docstring)."""
    scale = max(float(np.abs(p).max()) for p in initial_params().values())
    return 8 * step * EPS32 * scale


def schedule(step: int) -> float:
    """Learning-rate factor before 0-based update `step`: linear warmup, then cosine to 0."""
    warmup = int(HPARAMS.warmup_factor * STEP_HINT)
    if step < warmup:
        return step / warmup
    progress = min((step - warmup) / (STEP_HINT - warmup), 1.0)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def reference() -> list[dict[str, np.ndarray]]:
    """The parameters after each update, in float64."""
    b1, b2 = 1.0 - HPARAMS.one_minus_beta1, HPARAMS.beta2
    theta = {k: v.astype(np.float64) for k, v in initial_params().items()}
    m = {k: np.zeros_like(v) for k, v in theta.items()}
    v = {k: np.zeros_like(v) for k, v in theta.items()}
    out = []
    for t in range(1, STEPS + 1):
        lr = HPARAMS.learning_rate * schedule(t - 1)
        for k, g in gradients(t - 1).items():
            m[k] = b1 * m[k] + (1 - b1) * g
            v[k] = b2 * v[k] + (1 - b2) * g**2
            m_hat = (b1 * m[k] + (1 - b1) * g) / (1 - b1**t)
            v_hat = v[k] / (1 - b2**t)
            theta[k] = theta[k] - lr * (
                m_hat / (np.sqrt(v_hat) + EPS) + HPARAMS.weight_decay * theta[k]
            )
        out.append(dict(theta))
    return out


def jax_trajectory(
    hparams: Hyperparameters = HPARAMS, tx: optax.GradientTransformation | None = None
) -> list[dict[str, np.ndarray]]:
    """The shipped JAX rule at `hparams` (or `tx`) over the fixed gradients."""
    if tx is None:
        submission = load_submission(submission_path("nadamw", "jax"))
        tx = submission.module.SUBMISSION.make_optimizer(hparams, STEP_HINT)
    params = jax.tree.map(jnp.asarray, initial_params())
    state, out = tx.init(params), []
    for step in range(STEPS):
        updates, state = tx.update(jax.tree.map(jnp.asarray, gradients(step)), state, params)
        params = optax.apply_updates(params, updates)
        out.append(jax.tree.map(np.asarray, params))
    return out


def torch_trajectory(hparams: Hyperparameters = HPARAMS) -> list[dict[str, np.ndarray]]:
    """The shipped PyTorch optimizer and `LambdaLR`, stepped as `update_params` steps them."""
    submission = load_submission(submission_path("nadamw", "pytorch"))
    model = torch.nn.ParameterDict(
        {k: torch.nn.Parameter(torch.from_numpy(v)) for k, v in initial_params().items()}
    )
    workload = SimpleNamespace(step_hint=STEP_HINT)
    state = submission.init_optimizer_state(workload, model, None, hparams, None)
    out = []
    for step in range(STEPS):
        for k, g in gradients(step).items():
            model[k].grad = torch.from_numpy(g)
        state["optimizer"].step()
        state["scheduler"].step()
        out.append({k: p.detach().numpy().copy() for k, p in model.items()})
    return out


@pytest.mark.parametrize("trajectory", [jax_trajectory, torch_trajectory])
def test_shipped_nadamw_matches_the_formula(trajectory) -> None:
    actual, expected = trajectory(), reference()
    assert len(actual) == len(expected) == STEPS
    for t, (got, want) in enumerate(zip(actual, expected, strict=True), start=1):
        assert set(got) == set(SHAPES)
        for k in SHAPES:
            assert got[k].dtype == np.float32
            np.testing.assert_allclose(
                got[k], want[k], rtol=0, atol=tolerance(t), err_msg=f"{k} {t}"
            )


@pytest.mark.parametrize("trajectory", [jax_trajectory, torch_trajectory])
def test_first_update_without_warmup_is_1_9_times_the_gradient_sign(trajectory) -> None:
    """At t = 1, m = 0.1 g and the look-ahead (0.9 m + 0.1 g) / 0.1 = 1.9 g; v_hat = g^2.

    A closed form independent of `reference()`; optax.nadamw would step 1.47 sign(g).
    """
    hparams = Hyperparameters(HPARAMS, warmup_factor=0.0)  # full learning rate at update 1
    first = trajectory(hparams)[0]
    for k, theta0 in initial_params().items():
        g = gradients(0)[k]
        expected = theta0 - hparams.learning_rate * (
            1.9 * np.sign(g) + hparams.weight_decay * theta0
        )
        np.testing.assert_allclose(first[k], expected, rtol=0, atol=tolerance(1), err_msg=k)


def test_tolerance_separates_nadamw_from_optax_nadamw() -> None:
    """optax.nadamw's bias correction differs (reference-spec 6.2): far outside the tolerance."""
    lr = optax.join_schedules(
        [
            optax.linear_schedule(0.0, HPARAMS.learning_rate, 2),
            optax.cosine_decay_schedule(HPARAMS.learning_rate, STEP_HINT - 2),
        ],
        [2],
    )
    tx = optax.nadamw(lr, 1.0 - HPARAMS.one_minus_beta1, HPARAMS.beta2, EPS, weight_decay=0.1)
    other, shipped = jax_trajectory(tx=tx), jax_trajectory()
    gap = max(float(np.abs(other[-1][k] - shipped[-1][k]).max()) for k in SHAPES)
    assert gap > 100 * tolerance(STEPS)

"""JAX and PyTorch optimizers compute the same function (style P4's cross-framework check).

Both sides start from identical parameters and receive the same 50 random gradients; the
parameters must agree at every step (fp32): max|jax - torch| / max|torch| per tensor within
the rounding of the update chain (`algoperf.workloads.testing.fp32_tolerance`): each step
rounds each element about ROUNDINGS_PER_STEP times (moments, root, division, learning rate,
addition; the tensor norms of LAMB, Adafactor, Muon and Shampoo scale the whole update, which
is far smaller than the parameters), and independent roundings add up like a random walk over
the steps, so n = STEPS * ROUNDINGS_PER_STEP (tolerance 2.1e-5; observed at most 1e-6). Each
optimizer runs through its submission's own `make_optimizer` and schedule at the middle of its
search space (the first point for NAdamW), with a step hint of 60 so that warmup and decay
both happen within the 50 steps.
"""

from __future__ import annotations

from types import SimpleNamespace

import jax
import numpy as np
import optax
import pytest
import torch
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from torch import nn

from algoperf.api import FixedPoints, Hyperparameters, load_search_space, load_submission
from algoperf.baselines import baseline_names, search_space_path, submission_path
from algoperf.baselines.jax import train as jax_train
from algoperf.baselines.pytorch import train as torch_train
from algoperf.workloads.testing import assert_fp32_close, fp32_error

STEPS = 50
ROUNDINGS_PER_STEP = 10
STEP_HINT = 60
SHAPES = {
    "matrix": (16, 8),  # Muon's and Shampoo's matrix path, Adafactor unfactored
    "wide": (128, 130),  # Adafactor's factored path
    "bias": (8,),
    "kernel": (3, 3, 2, 4),  # 4-D: the non-matrix paths of Muon and Shampoo
}
MAX_RELATIVE_DIFFERENCE: dict[str, float] = {}
"""Per optimizer, max over steps and parameters of max|jax - torch| / max|torch|."""


def hyperparameters(name: str) -> Hyperparameters:
    """The middle of the search space (the first point of a list of points)."""
    if name == "nadamw_self_tuning":
        return load_submission(submission_path(name, "jax")).module.SUBMISSION.fixed_hyperparameters
    space = load_search_space(search_space_path(name))
    if isinstance(space, FixedPoints):
        return space.points(1)[0]
    return space.point_at(dict.fromkeys(space.parameters, 0.5))


def initial_params() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {k: rng.standard_normal(s).astype(np.float32) for k, s in SHAPES.items()}


def gradient(step: int, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A fixed random gradient per step, plus a term in the parameters (so SAM's point matters)."""
    rng = np.random.default_rng(1000 + step)
    return {k: rng.standard_normal(SHAPES[k]).astype(np.float32) + 0.5 * params[k] for k in SHAPES}


class JaxSide:
    def __init__(self, name: str, hparams: Hyperparameters) -> None:
        module = load_submission(submission_path(name, "jax")).module
        self.baseline = module.SUBMISSION
        self.tx = module.SUBMISSION.make_optimizer(hparams, STEP_HINT)
        self.hparams = hparams
        # Placed as a workload places them: the optimizer state follows.
        replicated = NamedSharding(Mesh(np.array(jax.devices()), ("batch",)), PartitionSpec())
        self.params = jax.device_put(initial_params(), replicated)
        workload = SimpleNamespace(step_hint=STEP_HINT)
        self.state = module.SUBMISSION.init_optimizer_state(
            workload, self.params, None, hparams, None
        )
        self.update = jax.jit(self._update)

    def _update(self, params, state, grads):
        updates, state = self.tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    def eval_params(self) -> dict[str, np.ndarray]:
        return jax.tree.map(np.asarray, self.state.x)

    def step(self, step: int) -> dict[str, np.ndarray]:
        params = self.baseline.train_params(self.params, self.state, self.hparams)
        grads = gradient(step, jax.tree.map(np.asarray, params))
        if "rho" in self.hparams:
            perturbed = jax_train.sam_perturbation(params, grads, float(self.hparams.rho))
            grads = gradient(step, jax.tree.map(np.asarray, perturbed))
        self.params, self.state = self.update(params, self.state, grads)
        return jax.tree.map(np.asarray, self.params)


class TorchSide:
    def __init__(self, name: str, hparams: Hyperparameters) -> None:
        self.baseline = load_submission(submission_path(name, "pytorch")).module.SUBMISSION
        self.hparams = hparams
        self.model = nn.ParameterDict(
            {k: nn.Parameter(torch.from_numpy(v.copy())) for k, v in initial_params().items()}
        )
        workload = SimpleNamespace(step_hint=STEP_HINT)
        self.state = self.baseline.init_optimizer_state(workload, self.model, None, hparams, None)

    def eval_params(self) -> dict[str, np.ndarray]:
        """x, through the submission's `prepare_for_eval` (training resumes at y next step)."""
        self.baseline.prepare_for_eval(
            None, self.model, None, None, self.hparams, None, self.state, [], 0, None
        )
        return {k: p.detach().numpy().copy() for k, p in self.model.items()}

    def step(self, step: int) -> dict[str, np.ndarray]:
        optimizer = self.state["optimizer"]
        self.baseline.before_step(optimizer)
        params = {k: p.detach().numpy() for k, p in self.model.items()}
        grads = gradient(step, params)
        if "rho" in self.hparams:
            with torch.no_grad():
                offsets = torch_train.sam_perturbation(
                    [torch.from_numpy(grads[k]) for k in SHAPES], float(self.hparams.rho)
                )
                perturbed = {k: params[k] + o.numpy() for k, o in zip(SHAPES, offsets, strict=True)}
            grads = gradient(step, perturbed)
        for k, p in self.model.items():
            p.grad = torch.from_numpy(grads[k])
        optimizer.step()
        self.state["scheduler"].step()
        return {k: p.detach().numpy().copy() for k, p in self.model.items()}


def assert_close(actual: dict, expected: dict, where: str = "") -> float:
    """Assert agreement (see the module docstring); returns the worst relative difference."""
    for k in SHAPES:
        assert_fp32_close(actual[k], expected[k], n=STEPS * ROUNDINGS_PER_STEP, name=f"{where} {k}")
    return max(fp32_error(actual[k], expected[k]) for k in SHAPES)


@pytest.mark.parametrize(
    "name",
    # Shampoo's 50 steps take over 5 s on a CPU.
    [pytest.param(n, marks=pytest.mark.slow) if n == "shampoo" else n for n in baseline_names()],
)
def test_jax_and_pytorch_agree_for_50_steps(name: str) -> None:
    hparams = hyperparameters(name)
    jax_side, torch_side = JaxSide(name, hparams), TorchSide(name, hparams)
    worst = 0.0
    initial = initial_params()
    moved = 0.0
    for step in range(STEPS):
        expected, actual = torch_side.step(step), jax_side.step(step)
        worst = max(worst, assert_close(actual, expected, f"{name} step {step}"))
        for k in SHAPES:
            moved = max(moved, float(np.max(np.abs(expected[k] - initial[k]))))
        if name == "schedule_free_adamw":
            worst = max(worst, assert_close(jax_side.eval_params(), torch_side.eval_params()))
    MAX_RELATIVE_DIFFERENCE[name] = worst
    print(f"\n{name}: max relative difference {worst:.2e}, max parameter change {moved:.2e}")
    assert moved > 1e-3, "the optimizer barely moved the parameters: the test would be vacuous"

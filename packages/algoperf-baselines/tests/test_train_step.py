"""The shared train step's pieces, through the submission functions, in both frameworks.

Gradient clipping (`grad_clip`), label smoothing and dropout from the hyperparameters, the
loss / gradient-norm log every `LOG_EVERY` steps, and Schedule-Free AdamW's checkpointable
state, on `digits_mlp` (a single device / process; the multi-device normalisation is in
`test_multi_device.py`). Reference values are computed here independently: the gradient of
the workload's masked mean cross-entropy, and the label-smoothed cross-entropy in numpy.
"""

from __future__ import annotations

import copy
import importlib
import io
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import traverse_util

from algoperf.api import ForwardPassMode, Hyperparameters, Workload
from algoperf.baselines._common import GRAD_CLIP_EPS, LOG_EVERY
from algoperf.baselines.jax import optimizers as jax_optimizers
from algoperf.baselines.jax import train as jax_train
from algoperf.workloads import get_workload

NUM_CLASSES = 10
BATCH_SIZE = 64
MASKED = np.r_[0:5, 30, 41:44]
"""Examples with weight 0 in every test batch: the loss is a mean over the others."""
SGD = Hyperparameters(
    learning_rate=1.0,
    one_minus_beta1=0.1,
    weight_decay=0.0,
    warmup_factor=0.0,  # full learning rate from step 0
    decay_steps_factor=0.9,
    end_factor=0.01,
    label_smoothing=0.0,
    dropout_rate=0.0,
)
"""Heavy-ball momentum whose first update is exactly -learning_rate * gradient."""
ADAM = Hyperparameters(
    learning_rate=1e-2,
    one_minus_beta1=0.1,
    beta2=0.99,
    weight_decay=0.01,
    warmup_factor=0.005,  # 5 warmup steps of the step hint 1000
    label_smoothing=0.0,
    dropout_rate=0.0,
)


def numpy_batch(seed: int) -> dict[str, np.ndarray]:
    """A fixed random global batch, `MASKED` examples weighted 0."""
    rng = np.random.default_rng(seed)
    weights = np.ones(BATCH_SIZE, np.float32)
    weights[MASKED] = 0.0
    return {
        "inputs": rng.standard_normal((BATCH_SIZE, 8, 8, 1), dtype=np.float32),
        "targets": rng.integers(0, NUM_CLASSES, BATCH_SIZE, dtype=np.int32),
        "weights": weights,
    }


def smoothed_cross_entropy(logits: np.ndarray, batch: dict, label_smoothing: float) -> float:
    """Σ_valid CE(logits, (1 - ls) onehot + ls / K) / n_valid, in float64."""
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    targets = np.eye(NUM_CLASSES)[batch["targets"]] * (1.0 - label_smoothing)
    targets += label_smoothing / NUM_CLASSES
    per_example = -(targets * log_p).sum(axis=1)
    return float((per_example * batch["weights"]).sum() / batch["weights"].sum())


def flat_norm(tree: dict[str, np.ndarray]) -> float:
    return float(np.sqrt(sum(np.sum(np.square(v.astype(np.float64))) for v in tree.values())))


class JaxSide:
    """The JAX workload, its seed-0 parameters and the reference computations."""

    framework = "jax"

    def __init__(self) -> None:
        self.workload = get_workload("digits_mlp", "jax")
        self._initial = self.workload.init_model_fn(jax.random.PRNGKey(0))

    def init(self) -> tuple[Any, Any]:
        return self._initial  # immutable

    def module(self, name: str) -> Any:
        return importlib.import_module(f"algoperf.baselines.jax.{name}")

    def rng(self, step: int) -> jax.Array:
        return jax.random.fold_in(jax.random.PRNGKey(1), step)

    def place(self, batch: dict[str, np.ndarray]) -> Any:
        return self.workload.place_batch(batch)

    @staticmethod
    def flat(params: Any) -> dict[str, np.ndarray]:
        flat = traverse_util.flatten_dict(jax.device_get(params))
        return {".".join(k): np.asarray(v) for k, v in flat.items()}

    def gradient(self, params: Any, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Gradient of the masked mean cross-entropy (no smoothing, no dropout)."""
        placed = self.place(batch)

        def loss(p: Any) -> jax.Array:
            logits, _ = self.workload.model_fn(
                p, placed, None, ForwardPassMode.TRAIN, None, True, 0.0
            )
            out = self.workload.loss_fn(placed["targets"], logits, placed["weights"])
            return out["summed"] / out["n_valid_examples"]

        return self.flat(jax.grad(loss)(params))

    def logits(self, params: Any, batch: dict[str, np.ndarray]) -> np.ndarray:
        logits, _ = self.workload.model_fn(
            params, self.place(batch), None, ForwardPassMode.EVAL, None, False
        )
        return np.asarray(logits)

    def fresh_baseline(self, module: Any) -> Any:
        """A baseline object with no compiled steps cached (so a spy sees the trace)."""
        baseline = module.SUBMISSION
        return jax_train.JaxBaseline(baseline.make_optimizer, baseline.required_hyperparameters)


class TorchSide:
    """The PyTorch workload; every `init()` is a fresh seed-0 model (trained in place)."""

    framework = "pytorch"

    def __init__(self) -> None:
        self.workload = get_workload("digits_mlp", "pytorch")

    def init(self, seed: int = 0) -> tuple[Any, Any]:
        return self.workload.init_model_fn(seed)

    def module(self, name: str) -> Any:
        return importlib.import_module(f"algoperf.baselines.pytorch.{name}")

    def rng(self, step: int) -> None:
        del step

    def place(self, batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return self.workload.place_batch(batch)

    @staticmethod
    def flat(model: Any) -> dict[str, np.ndarray]:
        return {k: p.detach().cpu().numpy().copy() for k, p in model.named_parameters()}

    def gradient(self, model: Any, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Gradient of the masked mean cross-entropy (no smoothing, no dropout), on a copy."""
        model = copy.deepcopy(model)
        placed = self.place(batch)
        logits, _ = self.workload.model_fn(
            model, placed, None, ForwardPassMode.TRAIN, None, True, 0.0
        )
        out = self.workload.loss_fn(placed["targets"], logits, placed["weights"])
        (out["summed"] / out["n_valid_examples"]).backward()
        return {k: p.grad.numpy().copy() for k, p in model.named_parameters()}

    def logits(self, model: Any, batch: dict[str, np.ndarray]) -> np.ndarray:
        logits, _ = self.workload.model_fn(
            model, self.place(batch), None, ForwardPassMode.EVAL, None, False
        )
        return logits.numpy()

    def fresh_baseline(self, module: Any) -> Any:
        return module.SUBMISSION  # PyTorch baselines cache nothing


@pytest.fixture(scope="module")
def jax_side() -> JaxSide:
    return JaxSide()


@pytest.fixture(scope="module")
def pytorch_side() -> TorchSide:
    return TorchSide()


@pytest.fixture(params=["jax", "pytorch"])
def side(request) -> Iterator[JaxSide | TorchSide]:
    """Either framework, with a fresh list as its metrics logger (`side.logged`)."""
    chosen = request.getfixturevalue(f"{request.param}_side")
    chosen.logged = []
    chosen.workload.attach_metrics_logger(
        lambda metrics, step: chosen.logged.append((step, dict(metrics)))
    )
    yield chosen
    chosen.workload.attach_metrics_logger(None)


def run_steps(
    side: JaxSide | TorchSide,
    baseline: Any,
    hparams: Hyperparameters,
    batches: list[dict[str, np.ndarray]],
    params: Any,
    model_state: Any = None,
    opt_state: Any = None,
    first_step: int = 0,
    workload: Any = None,
) -> tuple[Any, Any, Any]:
    """`update_params` over `batches` from global step `first_step`: (opt_state, params, state).

    The submission sees `workload`, by default `side.workload`.
    """
    workload = side.workload if workload is None else workload
    if opt_state is None:
        opt_state = baseline.init_optimizer_state(
            workload=workload,
            model_params=params,
            model_state=model_state,
            hyperparameters=hparams,
            rng=side.rng(0),
        )
    for i, batch in enumerate(batches):
        step = first_step + i
        opt_state, params, model_state = baseline.update_params(
            workload=workload,
            current_param_container=params,
            current_params_types=None,
            model_state=model_state,
            hyperparameters=hparams,
            batch=side.place(batch),
            loss_type=None,
            optimizer_state=opt_state,
            eval_results=[],
            global_step=step,
            rng=side.rng(step),
        )
    return opt_state, params, model_state


# --- 1. gradient clipping ------------------------------------------------------------------


@pytest.mark.parametrize("grad_clip", [1e-2, None])
def test_grad_clip_scales_the_update_to_the_clip_norm(side, grad_clip: float | None) -> None:
    """Momentum's first update is -lr * g: with `grad_clip`, g scaled to that global norm.

    Tolerances: parameters within rtol 1e-6 + atol 1e-7 of p0 - lr * g_clipped (the clipped
    step moves elements by ~1e-4, the unclipped one by ~1e-2); the logged gradient norm (the
    norm before clipping) within rtol 1e-5.
    """
    momentum = side.module("momentum")
    hparams = SGD if grad_clip is None else Hyperparameters(SGD, grad_clip=grad_clip)
    params, model_state = side.init()
    batch = numpy_batch(0)
    before = side.flat(params)
    grads = side.gradient(params, batch)
    norm = flat_norm(grads)
    assert norm > 10 * 1e-2  # the clip below is active

    _, params, _ = run_steps(side, momentum.SUBMISSION, hparams, [batch], params, model_state)

    scale = 1.0 if grad_clip is None else min(1.0, grad_clip / (norm + GRAD_CLIP_EPS))
    after = side.flat(params)
    for key, value in after.items():
        expected = before[key] - SGD.learning_rate * scale * grads[key]
        np.testing.assert_allclose(value, expected, rtol=1e-6, atol=1e-7, err_msg=key)
    moved = flat_norm({k: after[k] - before[k] for k in after})
    np.testing.assert_allclose(moved, SGD.learning_rate * (grad_clip or norm), rtol=1e-3)
    [(step, metrics)] = side.logged
    assert step == 0
    np.testing.assert_allclose(metrics["grad_norm"], norm, rtol=1e-5)


# --- 2. label smoothing and dropout ----------------------------------------------------------


@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_label_smoothing_reaches_the_loss(side, label_smoothing: float) -> None:
    """The logged step-0 loss is the hand-computed (smoothed) masked cross-entropy (rtol 1e-5)."""
    nadamw = side.module("nadamw")
    hparams = Hyperparameters(ADAM, label_smoothing=label_smoothing)
    params, model_state = side.init()
    batch = numpy_batch(1)
    logits = side.logits(params, batch)  # dropout 0: the training forward pass
    smoothed = smoothed_cross_entropy(logits, batch, label_smoothing)
    other = smoothed_cross_entropy(logits, batch, 0.2 - label_smoothing)
    assert abs(smoothed - other) > 1e-3  # 40x the tolerance below: distinguishable

    run_steps(side, nadamw.SUBMISSION, hparams, [batch], params, model_state)

    [(step, metrics)] = side.logged
    assert step == 0
    np.testing.assert_allclose(metrics["loss"], smoothed, rtol=1e-5)


def test_dropout_rate_reaches_model_fn(side, monkeypatch) -> None:
    """The train step calls `model_fn` in TRAIN mode with the `dropout_rate` hyperparameter.

    Absent, it passes None (the model's default). Dropout changes the training loss of the same
    step; the evaluated logits of the same parameters do not depend on it.
    """
    nadamw = side.module("nadamw")
    calls: list[tuple[ForwardPassMode, float | None]] = []
    original: Callable[..., Any] = side.workload.model_fn

    def spy(params, batch, model_state, mode, rng, update_batch_norm, dropout_rate=None):
        calls.append((mode, dropout_rate))
        return original(params, batch, model_state, mode, rng, update_batch_norm, dropout_rate)

    batch = numpy_batch(2)
    losses = {}
    without = Hyperparameters({k: v for k, v in ADAM.items() if k != "dropout_rate"})
    cases = {0.5: Hyperparameters(ADAM, dropout_rate=0.5), None: without}
    for rate, hparams in cases.items():
        params, model_state = side.init()
        with monkeypatch.context() as patch:
            patch.setattr(side.workload, "model_fn", spy)
            calls.clear()
            run_steps(side, side.fresh_baseline(nadamw), hparams, [batch], params, model_state)
        assert calls
        assert set(calls) == {(ForwardPassMode.TRAIN, rate)}, calls
        losses[rate] = side.logged.pop()[1]["loss"]
    # digits_mlp's default rate is 0: the same loss as an explicit 0.0.
    params, model_state = side.init()
    run_steps(side, nadamw.SUBMISSION, ADAM, [batch], params, model_state)
    np.testing.assert_allclose(side.logged.pop()[1]["loss"], losses[None], rtol=1e-6)
    assert abs(losses[0.5] - losses[None]) > 1e-3
    eval_logits = side.logits(side.init()[0], batch)
    np.testing.assert_allclose(
        smoothed_cross_entropy(eval_logits, batch, 0.0), losses[None], rtol=1e-5
    )


# --- 3. logging cadence ----------------------------------------------------------------------


def test_loss_and_grad_norm_logged_every_100_steps(side) -> None:
    """101 steps log at global steps 0 and 100 only, with finite positive floats."""
    assert LOG_EVERY == 100
    nadamw = side.module("nadamw")
    params, model_state = side.init()
    batches = [numpy_batch(10 + i % 4) for i in range(LOG_EVERY + 1)]
    run_steps(side, nadamw.SUBMISSION, ADAM, batches, params, model_state)
    assert [step for step, _ in side.logged] == [0, 100]
    for step, metrics in side.logged:
        assert set(metrics) == {"loss", "grad_norm"}, step
        for value in metrics.values():
            assert isinstance(value, float), (step, metrics)
            assert np.isfinite(value), (step, metrics)
            assert value > 0, (step, metrics)
    # 100 steps of NAdamW on 4 repeated batches lower the loss.
    assert side.logged[1][1]["loss"] < side.logged[0][1]["loss"]


def test_no_metrics_logger_is_fine(side) -> None:
    side.workload.attach_metrics_logger(None)
    nadamw = side.module("nadamw")
    params, model_state = side.init()
    run_steps(side, nadamw.SUBMISSION, ADAM, [numpy_batch(3)], params, model_state)


# --- 4. only the api.Workload contract --------------------------------------------------------


class InterfaceOnly:
    """A workload that answers only the names `algoperf.api.Workload` defines.

    A submission may rely on nothing else, so reading, e.g., a JAX workload's mesh fails here.
    """

    INSTANCE_ATTRIBUTES = ("spec", "rules", "metrics_logger")
    """Set by `Workload.__init__` rather than defined on the class."""

    def __init__(self, workload: Workload) -> None:
        self._workload = workload

    def __getattr__(self, name: str) -> Any:
        if not (hasattr(Workload, name) or name in self.INSTANCE_ATTRIBUTES):
            raise AttributeError(f"{name!r} is not part of algoperf.api.Workload")
        return getattr(self._workload, name)


@pytest.mark.parametrize("name", ["nadamw", "sam", "schedule_free_adamw"])
def test_baselines_use_only_the_workload_interface(side, name: str) -> None:
    """Two steps and an eval swap through `InterfaceOnly`; the JAX state sits with the params."""
    module = side.module(name)
    params, model_state = side.init()
    hparams = Hyperparameters(ADAM, rho=0.05)
    interface = InterfaceOnly(side.workload)
    batches = [numpy_batch(4), numpy_batch(5)]
    opt_state, params, model_state = run_steps(
        side, module.SUBMISSION, hparams, batches, params, model_state, workload=interface
    )
    if name == "schedule_free_adamw":
        _prepare_for_eval(side, module, hparams, opt_state, params, model_state, 2, interface)
    if side.framework == "jax":
        placement = {leaf.sharding for leaf in jax.tree.leaves((params, opt_state))}
        assert placement == {side.workload.replicated}


# --- 5. Schedule-Free AdamW state ------------------------------------------------------------


def _prepare_for_eval(side, module, hparams, opt_state, params, model_state, step, workload=None):
    return module.SUBMISSION.prepare_for_eval(
        workload=side.workload if workload is None else workload,
        current_param_container=params,
        current_params_types=None,
        model_state=model_state,
        hyperparameters=hparams,
        loss_type=None,
        optimizer_state=opt_state,
        eval_results=[],
        global_step=step,
        rng=side.rng(step),
    )


def test_jax_schedule_free_state_round_trips_through_numpy(jax_side) -> None:
    """The optax state survives `jax.tree.map(np.asarray, ...)`, pickling, and back.

    Continuing from the restored state, with the container holding the evaluated x (as after
    an eval), gives the same next step as continuing from the live state (bit for bit: the
    same compiled step on the same values).
    """
    side, module = jax_side, jax_side.module("schedule_free_adamw")
    params, model_state = side.init()
    batches = [numpy_batch(20 + i) for i in range(4)]
    opt_state, params, model_state = run_steps(
        side, module.SUBMISSION, ADAM, batches[:3], params, model_state
    )
    _, eval_params, _ = _prepare_for_eval(side, module, ADAM, opt_state, params, model_state, 3)
    assert isinstance(opt_state, jax_optimizers.ScheduleFreeState)
    assert int(opt_state.count) == 3
    assert float(opt_state.weight_sum) > 0

    host = jax.tree.map(np.asarray, opt_state)
    assert all(type(leaf) is np.ndarray for leaf in jax.tree.leaves(host))
    host = pickle.loads(pickle.dumps(host))
    restored = jax.tree.map(jnp.asarray, host)
    assert jax.tree.structure(restored) == jax.tree.structure(opt_state)
    for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(opt_state), strict=True):
        assert a.dtype == b.dtype
        assert a.shape == b.shape
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))

    live = run_steps(side, module.SUBMISSION, ADAM, batches[3:], params, model_state, opt_state, 3)
    again = run_steps(
        side, module.SUBMISSION, ADAM, batches[3:], eval_params, model_state, restored, 3
    )
    for a, b in zip(jax.tree.leaves(again[:2]), jax.tree.leaves(live[:2]), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert int(again[0].count) == 4
    moved = [np.abs(np.asarray(a) - b).max() for a, b in zip(
        jax.tree.leaves(again[1]), jax.tree.leaves(params), strict=True
    )]  # fmt: skip
    assert max(moved) > 1e-4


def test_pytorch_schedule_free_state_round_trips_through_state_dict(pytorch_side) -> None:
    """`state_dict()` of optimizer and scheduler, saved and loaded into a new model's state.

    The new model starts from other parameters (seed 1) and receives the saved module
    weights (x, after `prepare_for_eval`); its next step equals the original's (bit for bit),
    and so do the optimizer states, learning rates and evaluated parameters.
    """
    side, module = pytorch_side, pytorch_side.module("schedule_free_adamw")
    batches = [numpy_batch(20 + i) for i in range(4)]
    model, model_state = side.init()
    opt_state, model, model_state = run_steps(
        side, module.SUBMISSION, ADAM, batches[:3], model, model_state
    )
    opt_state, model, model_state = _prepare_for_eval(
        side, module, ADAM, opt_state, model, model_state, 3
    )
    buffer = io.BytesIO()
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": opt_state["optimizer"].state_dict(),
            "scheduler": opt_state["scheduler"].state_dict(),
        },
        buffer,
    )
    buffer.seek(0)
    checkpoint = torch.load(buffer)

    other, other_state = side.init(seed=1)
    fresh, trained = side.flat(other), side.flat(model)
    assert any(np.any(fresh[k] != trained[k]) for k in trained)
    other.load_state_dict(checkpoint["model"])
    other_opt = module.SUBMISSION.init_optimizer_state(
        workload=side.workload,
        model_params=other,
        model_state=other_state,
        hyperparameters=ADAM,
        rng=None,
    )
    other_opt["optimizer"].load_state_dict(checkpoint["optimizer"])
    other_opt["scheduler"].load_state_dict(checkpoint["scheduler"])

    opt_state, model, _ = run_steps(
        side, module.SUBMISSION, ADAM, batches[3:], model, model_state, opt_state, 3
    )
    other_opt, other, _ = run_steps(
        side, module.SUBMISSION, ADAM, batches[3:], other, other_state, other_opt, 3
    )
    _assert_same_params(side.flat(other), side.flat(model))
    live, restored = opt_state["optimizer"], other_opt["optimizer"]
    for group, other_group in zip(live.param_groups, restored.param_groups, strict=True):
        for key in ("lr", "lr_max", "weight_sum", "initial_lr"):
            assert other_group[key] == group[key], key
    assert live.param_groups[0]["weight_sum"] > 0
    for p, q in zip(model.parameters(), other.parameters(), strict=True):
        a, b = live.state[p], restored.state[q]
        assert set(a) == set(b) == {"z", "x", "nu", "step"}
        for key in a:
            torch.testing.assert_close(b[key], a[key], rtol=0, atol=0)
        assert int(a["step"]) == 4
    assert other_opt["scheduler"].last_epoch == opt_state["scheduler"].last_epoch == 4

    _prepare_for_eval(side, module, ADAM, opt_state, model, None, 4)
    _prepare_for_eval(side, module, ADAM, other_opt, other, None, 4)
    _assert_same_params(side.flat(other), side.flat(model))


def _assert_same_params(actual: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert set(actual) == set(expected)
    for key in expected:
        np.testing.assert_array_equal(actual[key], expected[key], err_msg=key)

"""Digits models: parameter counts, JAX↔PyTorch parity, and a synthetic batch end to end."""

import jax
import numpy as np
import pytest
import torch
from flax import traverse_util

from algoperf import api
from algoperf.api import ForwardPassMode, ParameterType
from algoperf.workloads import get_workload
from algoperf.workloads._params import jax_to_torch
from algoperf.workloads.digits.param_map import PARAM_MAPS
from algoperf.workloads.testing import assert_fp32_close, assert_trees_fp32_close

NAMES = ("digits_mlp", "digits_cnn")
# JAX and PyTorch differ only in the order of fp32 sums (see `fp32_tolerance`). The longest
# sum per model: the MLP contracts 128 hidden units; the CNN's conv kernel gradients sum over
# the batch (64) and the 8 x 8 pixels. Eval metrics also sum over the eval batch (256).
REDUCTION = {"digits_mlp": 128, "digits_cnn": 64 * 8 * 8}
EVAL_BATCH = 256
MODES = (ForwardPassMode.TRAIN, ForwardPassMode.EVAL)


@pytest.fixture(scope="module", params=NAMES)
def pair(request):
    """The JAX and PyTorch workloads of one name, with the JAX parameters copied into torch."""
    jax_w = get_workload(request.param, "jax")
    torch_w = get_workload(request.param, "pytorch")
    params, _ = jax_w.init_model_fn(jax.random.PRNGKey(0))
    model, _ = torch_w.init_model_fn(1)
    flat = traverse_util.flatten_dict(jax.device_get(params))
    state = jax_to_torch(flat, PARAM_MAPS[request.param])
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    batch = next(jax_w.numpy_batches(0, "validation", None, 64))
    batch["weights"][-5:] = 0.0  # exercise the mask
    return jax_w, torch_w, params, model, batch


def _jax_loss_and_grads(workload, params, batch, mode):
    placed = workload.place_batch(batch)

    def loss_of(p):
        logits, _ = workload.model_fn(p, placed, None, mode, jax.random.PRNGKey(1), True)
        out = workload.loss_fn(placed["targets"], logits, placed["weights"])
        return out["summed"] / out["n_valid_examples"], logits

    (loss, logits), grads = jax.value_and_grad(loss_of, has_aux=True)(params)
    return np.asarray(logits), float(loss), traverse_util.flatten_dict(jax.device_get(grads))


def _torch_loss_and_grads(workload, model, batch, mode):
    """Logits, loss and (TRAIN only: EVAL runs under no_grad by contract) gradients."""
    placed = workload.place_batch(batch)
    model.zero_grad()
    logits, _ = workload.model_fn(model, placed, None, mode, None, True)
    out = workload.loss_fn(placed["targets"], logits, placed["weights"])
    loss = out["summed"] / out["n_valid_examples"]
    if mode is ForwardPassMode.EVAL:
        return logits.numpy(), loss.item(), None
    loss.backward()
    grads = {k: p.grad.numpy() for k, p in model.named_parameters()}
    return logits.detach().numpy(), loss.item(), grads


def _np(x):
    """A JAX array or a torch tensor as numpy."""
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def test_parameter_counts_match_the_registry(pair):
    jax_w, torch_w, params, model, _ = pair
    jax_count = sum(p.size for p in jax.tree.leaves(params))
    torch_count = sum(p.numel() for p in model.parameters())
    assert jax_count == torch_count == jax_w.spec.num_params
    assert (
        sum(
            np.prod(s)
            for s in jax.tree.leaves(jax_w.param_shapes, is_leaf=lambda x: isinstance(x, tuple))
        )
        == jax_count
    )
    assert sorted(torch_w.model_params_types.values(), key=str) == sorted(
        jax.tree.leaves(jax_w.model_params_types), key=str
    )
    assert ParameterType.BIAS in torch_w.model_params_types.values()


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
def test_outputs_loss_and_gradients_agree(pair, mode):
    jax_w, torch_w, params, model, batch = pair
    jax_logits, jax_loss, jax_grads = _jax_loss_and_grads(jax_w, params, batch, mode)
    torch_logits, torch_loss, torch_grads = _torch_loss_and_grads(torch_w, model, batch, mode)
    n = REDUCTION[jax_w.name]
    assert_fp32_close(torch_logits, jax_logits, n=n, name="logits")
    assert_fp32_close(torch_loss, jax_loss, n=n, name="loss")
    if mode is ForwardPassMode.TRAIN:
        expected = jax_to_torch(jax_grads, PARAM_MAPS[jax_w.name])
        assert_trees_fp32_close(torch_grads, expected, n=n)


def test_eval_metrics_agree(pair):
    jax_w, torch_w, params, model, _ = pair
    jax_eval = jax_w.eval_model(EVAL_BATCH, params, None, None, None)
    torch_eval = torch_w.eval_model(EVAL_BATCH, model, None, None, None)
    n = max(REDUCTION[jax_w.name], EVAL_BATCH)
    assert_trees_fp32_close(torch_eval, jax_eval, n=n)


def test_output_layer_is_the_head(pair):
    jax_w, torch_w, params, model, _ = pair
    assert [k for k in params if jax_w.is_output_params(k)] == ["head"]
    names = [k for k, _ in model.named_parameters() if torch_w.is_output_params(k)]
    assert names == ["head.weight", "head.bias"]


@pytest.mark.parametrize(
    ("name", "framework"),
    [
        ("digits_mlp", "jax"),
        pytest.param("digits_cnn", "jax", marks=pytest.mark.slow),
        ("digits_mlp", "pytorch"),
        ("digits_cnn", "pytorch"),
    ],
)
def test_synthetic_batch_end_to_end(name, framework):
    workload = get_workload(name, framework, synthetic=True)
    rng = jax.random.PRNGKey(0) if framework == "jax" else 0
    params, state = workload.init_model_fn(rng)
    batch = next(workload.build_input_queue(rng, "train", None, 32))
    assert tuple(batch["inputs"].shape) == (32, 8, 8, 1)
    logits, _ = workload.model_fn(params, batch, state, ForwardPassMode.TRAIN, rng, True, 0.5)
    assert tuple(logits.shape) == (32, 10)
    loss = workload.loss_fn(batch["targets"], logits, batch["weights"], label_smoothing=0.1)
    assert _np(loss["n_valid_examples"]) == 32.0
    assert np.isfinite(_np(loss["summed"]))
    assert _np(loss["per_example"]).shape == (32,)
    result = workload.eval_model(workload.eval_batch_size, params, state, rng, None)
    assert result["validation/num_examples"] == api.get_workload_spec(name).num_validation_examples
    assert 0.0 <= result["validation/accuracy"] <= 1.0
    assert not workload.has_reached_validation_target({"validation/accuracy": 0.5})


@pytest.mark.parametrize("framework", [pytest.param("jax", marks=pytest.mark.slow), "pytorch"])
def test_dropout_acts_in_train_mode_only(framework):
    workload = get_workload("digits_mlp", framework, synthetic=True)
    rng = jax.random.PRNGKey(0) if framework == "jax" else 0
    params, state = workload.init_model_fn(rng)
    batch = next(workload.build_input_queue(rng, "train", None, 16))

    def logits(mode, rate):
        out, _ = workload.model_fn(params, batch, state, mode, rng, False, rate)
        return _np(out)

    train, eval_ = ForwardPassMode.TRAIN, ForwardPassMode.EVAL
    np.testing.assert_array_equal(logits(eval_, 0.5), logits(eval_, 0.0))
    np.testing.assert_array_equal(logits(train, 0.0), logits(eval_, 0.0))
    assert not np.allclose(logits(train, 0.5), logits(eval_, 0.0))

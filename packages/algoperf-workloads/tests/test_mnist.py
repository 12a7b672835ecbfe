"""mnist: parameter counts, JAX↔PyTorch parity, data, synthetic and mocked-TFDS end to end."""

import jax
import numpy as np
import pytest
import torch
from flax import traverse_util

from algoperf import api
from algoperf.api import ForwardPassMode
from algoperf.workloads import get_workload
from algoperf.workloads._params import jax_to_torch
from algoperf.workloads.mnist import data
from algoperf.workloads.mnist.param_map import PARAM_MAPS
from algoperf.workloads.testing import assert_fp32_close

# JAX and PyTorch differ only in the order of fp32 sums (see `fp32_tolerance`); the longest
# is the first dense layer's contraction over the 28 x 28 pixels (the batch is 64).
REDUCTION = 28 * 28
MODES = (ForwardPassMode.TRAIN, ForwardPassMode.EVAL)


def _np(x):
    """A JAX array or a torch tensor as numpy."""
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def test_parameter_counts_match_the_registry():
    jax_w = get_workload("mnist", "jax", synthetic=True)
    jax_count = sum(p.size for p in jax.tree.leaves(jax_w.abstract_params()))
    with torch.device("meta"):
        model = get_workload("mnist", "pytorch", synthetic=True).build_model()
    torch_count = sum(p.numel() for p in model.parameters())
    assert jax_count == torch_count == api.get_workload_spec("mnist").num_params == 101_770


@pytest.fixture(scope="module")
def pair():
    """JAX and PyTorch workloads, the JAX parameters copied into torch, and a masked batch."""
    jax_w = get_workload("mnist", "jax", synthetic=True)
    torch_w = get_workload("mnist", "pytorch", synthetic=True)
    params, _ = jax_w.init_model_fn(jax.random.PRNGKey(0))
    model, _ = torch_w.init_model_fn(1)
    state = jax_to_torch(traverse_util.flatten_dict(jax.device_get(params)), PARAM_MAPS["mnist"])
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    batch = next(jax_w.numpy_batches(0, "validation", None, 64))
    batch["weights"][-5:] = 0.0  # exercise the mask
    return jax_w, torch_w, params, model, batch


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
def test_outputs_loss_and_gradients_agree(pair, mode):
    jax_w, torch_w, params, model, batch = pair
    placed = jax_w.place_batch(batch)

    def loss_of(p):
        logits, _ = jax_w.model_fn(p, placed, None, mode, None, True)
        out = jax_w.loss_fn(placed["targets"], logits, placed["weights"], 0.1)
        return out["summed"] / out["n_valid_examples"], logits

    (jax_loss, jax_logits), jax_grads = jax.jit(jax.value_and_grad(loss_of, has_aux=True))(params)
    t_batch = torch_w.place_batch(batch)
    model.zero_grad()
    logits, _ = torch_w.model_fn(model, t_batch, None, mode, None, True)
    out = torch_w.loss_fn(t_batch["targets"], logits, t_batch["weights"], 0.1)
    loss = out["summed"] / out["n_valid_examples"]
    assert_fp32_close(_np(logits), jax_logits, n=REDUCTION, name="logits")
    assert_fp32_close(loss.item(), jax_loss, n=REDUCTION, name="loss")
    if mode is ForwardPassMode.TRAIN:  # EVAL runs under no_grad by contract
        loss.backward()
        flat = traverse_util.flatten_dict(jax.device_get(jax_grads))
        expected = jax_to_torch(flat, PARAM_MAPS["mnist"])
        assert set(expected) == {k for k, _ in model.named_parameters()}
        for name, p in model.named_parameters():
            assert_fp32_close(p.grad.numpy(), expected[name], n=REDUCTION, name=name)


def test_parameter_types_and_output_layer_agree(pair):
    jax_w, torch_w, params, model, _ = pair
    assert sorted(torch_w.model_params_types.values(), key=str) == sorted(
        jax.tree.leaves(jax_w.model_params_types), key=str
    )
    assert [k for k in params if jax_w.is_output_params(k)] == ["head"]
    names = [k for k, _ in model.named_parameters() if torch_w.is_output_params(k)]
    assert names == ["head.weight", "head.bias"]


def _assert_normalised_pixels(inputs):
    """`inputs` are uint8 pixels scaled to [0, 1] and standardised with MNIST's mean and std."""
    assert inputs.dtype == np.float32
    pixels = (inputs * data.STD + data.MEAN) * 255.0
    np.testing.assert_allclose(pixels, np.round(pixels), atol=1e-3)
    assert pixels.min() > -1e-3
    assert pixels.max() < 255 + 1e-3


def test_synthetic_splits_have_the_real_shapes_and_normalisation():
    ds = data.synthetic()
    for split, size in data.SYNTHETIC_SIZES.items():
        arrays = ds.splits[split]
        assert arrays["inputs"].shape == (size, 28, 28, 1)
        assert arrays["targets"].dtype == np.int32
        _assert_normalised_pixels(arrays["inputs"])
    extremes = data.normalize(np.array([0, 255], np.uint8))
    np.testing.assert_allclose(extremes, [-0.1307 / 0.3081, (1 - 0.1307) / 0.3081], rtol=1e-6)


@pytest.mark.parametrize("framework", ["jax", "pytorch"])
def test_synthetic_batch_end_to_end(framework):
    workload = get_workload("mnist", framework, synthetic=True)
    rng = jax.random.PRNGKey(0) if framework == "jax" else 0
    params, state = workload.init_model_fn(rng)
    batch = next(workload.build_input_queue(rng, "train", None, 32))
    assert tuple(batch["inputs"].shape) == (32, 28, 28, 1)
    logits, _ = workload.model_fn(params, batch, state, ForwardPassMode.TRAIN, rng, True)
    assert tuple(logits.shape) == (32, 10)
    loss = workload.loss_fn(batch["targets"], logits, batch["weights"])
    assert _np(loss["n_valid_examples"]) == 32.0
    assert np.isfinite(_np(loss["summed"]))
    assert _np(loss["per_example"]).shape == (32,)
    result = workload.eval_model(workload.eval_batch_size, params, state, rng, None)
    assert result["validation/num_examples"] == data.SYNTHETIC_SIZES["validation"]
    assert result["test/num_examples"] == data.SYNTHETIC_SIZES["test"]
    assert 0.0 <= result["validation/accuracy"] <= 1.0
    assert 2.0 < result["validation/loss"] < 3.0  # about ln 10 before training
    assert not workload.has_reached_validation_target({"validation/accuracy": 0.969})
    assert workload.has_reached_validation_target({"validation/accuracy": 0.97})


def test_real_loader_reads_tfds_splits(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=70, policy=tfds.testing.MockPolicy.USE_CODE):
        ds = data.load(str(tmp_path), num_train=50)
        workload = get_workload("mnist", "pytorch")  # real data: the 50,000-image split point
        batch = next(workload.build_input_queue(0, "train", str(tmp_path), 16))
    assert {s: ds.num_examples(s) for s in ("train", "validation", "test")} == {
        "train": 50,
        "validation": 20,
        "test": 70,
    }
    for arrays in ds.splits.values():
        assert arrays["inputs"].shape[1:] == (28, 28, 1)
        assert arrays["targets"].dtype == np.int32
        assert set(np.unique(arrays["targets"])) <= set(range(10))
        _assert_normalised_pixels(arrays["inputs"])
    assert tuple(batch["inputs"].shape) == (16, 28, 28, 1)
    assert batch["inputs"].dtype == torch.float32
    assert batch["targets"].dtype == torch.int32
    _assert_normalised_pixels(batch["inputs"].numpy())
    # 70 mock images are all training images at the real split point: no validation data,
    # which an eval reports as an incomplete dataset.
    assert workload.dataset(str(tmp_path)).num_examples("validation") == 0
    with pytest.raises(ValueError, match="incomplete"):
        workload.eval_size("validation", 10_000, str(tmp_path))

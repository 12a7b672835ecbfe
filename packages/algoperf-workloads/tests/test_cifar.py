"""cifar: parameter counts, JAX↔PyTorch parity with batch norm, augmentation, data, end to end."""

import concurrent.futures
import copy
import threading

import jax
import numpy as np
import pytest
import torch
from flax import traverse_util

from algoperf import api
from algoperf.api import ForwardPassMode, ParameterType
from algoperf.workloads import get_workload
from algoperf.workloads._data import ArrayDataset
from algoperf.workloads._params import jax_to_torch
from algoperf.workloads._pipeline import BatchRequest, example_keys
from algoperf.workloads.cifar import data, torch_model
from algoperf.workloads.cifar.config import TINY
from algoperf.workloads.cifar.param_map import PARAM_MAPS, STATE_MAPS
from algoperf.workloads.testing import assert_fp32_close

TRAIN, EVAL = ForwardPassMode.TRAIN, ForwardPassMode.EVAL
# JAX and PyTorch (and 1 vs 2 ranks) differ only in the order of fp32 sums (see
# `fp32_tolerance`); the longest sums a conv kernel's gradient, or a batch-norm statistic,
# over the batch (8) and the 32 x 32 pixels.
REDUCTION = 8 * 32 * 32


def _np(x):
    """A JAX array or a torch tensor as numpy."""
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def test_parameter_counts_match_the_registry(pair):
    jax_w, _, _, _, model, _ = pair
    jax_count = sum(p.size for p in jax.tree.leaves(jax_w.abstract_params()))  # jax.eval_shape
    # The fixture's CPU model: a first build on the meta device costs a ~7 s warm-up here.
    torch_count = sum(p.numel() for p in model.parameters())
    assert jax_count == torch_count == api.get_workload_spec("cifar").num_params == 11_173_962


def _perturbed(params, state, seed=0):
    """Initial variables with noise: every layer, and nontrivial running statistics, matter.

    At initialisation each block's last batch-norm scale is 0, which would hide its branch;
    noise of 0.2 opens it. (Scales near 1 everywhere make fp32 gradients of a random deep
    ResNet ill-conditioned: each framework is then ~5% off its own float64 result.)
    """
    rng = np.random.default_rng(seed)
    flat = traverse_util.flatten_dict(jax.device_get(params))
    noisy = {}
    for path, p in flat.items():
        if path[-1] == "scale":
            noisy[path] = p + 0.2 * rng.standard_normal(p.shape)
        elif path[-1] == "bias":
            noisy[path] = p + 0.1 * rng.standard_normal(p.shape)
        else:
            noisy[path] = p
    stats = traverse_util.flatten_dict(jax.device_get(state["batch_stats"]))
    for path, s in stats.items():
        if path[-1] == "mean":
            stats[path] = s + 0.1 * rng.standard_normal(s.shape)
        else:  # variances stay positive
            stats[path] = s + rng.uniform(-0.5, 0.5, s.shape)

    def as_tree(flat):
        return traverse_util.unflatten_dict({k: np.asarray(v, np.float32) for k, v in flat.items()})

    return as_tree(noisy), {"batch_stats": as_tree(stats)}


def _torch_state(params, state):
    """The PyTorch state dict (parameters and running statistics) of JAX variables."""
    flat = jax_to_torch(traverse_util.flatten_dict(params), PARAM_MAPS["cifar"])
    flat |= jax_to_torch(traverse_util.flatten_dict(state["batch_stats"]), STATE_MAPS["cifar"])
    return {k: torch.from_numpy(v) for k, v in flat.items()}


@pytest.fixture(scope="module")
def pair():
    """The workloads, initialised once, with perturbed variables, and a masked batch."""
    jax_w = get_workload("cifar", "jax", synthetic=True)
    torch_w = get_workload("cifar", "pytorch", synthetic=True)
    params, state = _perturbed(*jax_w.init_model_fn(jax.random.PRNGKey(0)))
    model, _ = torch_w.init_model_fn(1)
    # Data seed 1: on seed 0's batch XLA:CPU's fp32 weight gradient of stages.2.1.conv_0 is
    # 4% off its own float64 value (PyTorch's fp32 is within 4e-6 of float64, and the two
    # frameworks agree to 1e-14 in float64), so that batch tests XLA's rounding, not parity.
    batch = next(jax_w.numpy_batches(1, "train", None, 8))
    batch["weights"][-2:] = 0.0  # exercise the mask
    return jax_w, torch_w, params, state, model, batch


@pytest.fixture(scope="module")
def jax_outputs(pair):
    """Everything the parity tests compare, from one compiled JAX function."""
    jax_w, _, params, state, _, batch = pair

    @jax.jit
    def outputs(params, state, batch):
        def loss_of(p):
            logits, new_state = jax_w.model_fn(p, batch, state, TRAIN, None, True)
            out = jax_w.loss_fn(batch["targets"], logits, batch["weights"], 0.1)
            return out["summed"] / out["n_valid_examples"], (logits, new_state)

        (loss, (logits, new_state)), grads = jax.value_and_grad(loss_of, has_aux=True)(params)
        frozen_logits, frozen_state = jax_w.model_fn(params, batch, state, TRAIN, None, False)
        eval_logits, eval_state = jax_w.model_fn(params, batch, state, EVAL, None, True)
        eval_loss = jax_w.loss_fn(batch["targets"], eval_logits, batch["weights"], 0.1)
        return {
            "train": (logits, loss, grads, new_state),
            "frozen": (frozen_logits, frozen_state),
            "eval": (eval_logits, eval_loss["summed"] / eval_loss["n_valid_examples"], eval_state),
        }

    return jax.device_get(outputs(params, state, jax_w.place_batch(batch)))


def _torch_forward(pair, mode, update_batch_norm):
    """Logits, loss and buffers after one PyTorch forward (and backward in TRAIN)."""
    _, torch_w, params, state, model, batch = pair
    model.load_state_dict(_torch_state(params, state), strict=True)
    model.zero_grad()
    placed = torch_w.place_batch(batch)
    logits, _ = torch_w.model_fn(model, placed, None, mode, None, update_batch_norm)
    out = torch_w.loss_fn(placed["targets"], logits, placed["weights"], 0.1)
    loss = out["summed"] / out["n_valid_examples"]
    if mode is TRAIN:
        loss.backward()
    buffers = {k: b.numpy().copy() for k, b in model.named_buffers()}
    return _np(logits), loss.item(), buffers


def _assert_state(buffers, jax_state, *, exact=False):
    """The torch buffers are JAX's running statistics: up to fp32 rounding, or `exact`ly."""
    expected = jax_to_torch(
        traverse_util.flatten_dict(jax_state["batch_stats"]), STATE_MAPS["cifar"]
    )
    assert set(buffers) == set(expected)
    for name, value in buffers.items():
        if exact:
            np.testing.assert_array_equal(value, expected[name], err_msg=name)
        else:
            assert_fp32_close(value, expected[name], n=REDUCTION, name=name)


def test_train_mode_agrees_and_updates_running_statistics(pair, jax_outputs):
    _, _, _, state, model, _ = pair
    jax_logits, jax_loss, jax_grads, new_state = jax_outputs["train"]
    logits, loss, buffers = _torch_forward(pair, TRAIN, update_batch_norm=True)
    assert_fp32_close(logits, jax_logits, n=REDUCTION, name="logits")
    assert_fp32_close(loss, jax_loss, n=REDUCTION, name="loss")
    expected = jax_to_torch(traverse_util.flatten_dict(jax_grads), PARAM_MAPS["cifar"])
    assert set(expected) == {k for k, _ in model.named_parameters()}
    for name, p in model.named_parameters():
        assert_fp32_close(p.grad.numpy(), expected[name], n=REDUCTION, name=name)
    _assert_state(buffers, new_state)
    moved = jax.tree.map(lambda a, b: np.abs(a - b).max(), new_state, state)
    assert min(jax.tree.leaves(moved)) > 1e-4  # every running statistic was updated


def test_train_mode_without_update_keeps_running_statistics(pair, jax_outputs):
    _, _, _, state, _, _ = pair
    frozen_logits, frozen_state = jax_outputs["frozen"]
    # Batch statistics normalise either way: the logits equal the updating pass's.
    np.testing.assert_allclose(frozen_logits, jax_outputs["train"][0], rtol=0, atol=1e-6)
    logits, _, buffers = _torch_forward(pair, TRAIN, update_batch_norm=False)
    assert_fp32_close(logits, frozen_logits, n=REDUCTION, name="logits")
    _assert_state(buffers, state, exact=True)
    jax.tree.map(np.testing.assert_array_equal, frozen_state, state)


def test_eval_mode_agrees_and_uses_running_statistics(pair, jax_outputs):
    _, _, _, state, _, _ = pair
    eval_logits, eval_loss, eval_state = jax_outputs["eval"]
    logits, loss, buffers = _torch_forward(pair, EVAL, update_batch_norm=True)
    assert_fp32_close(logits, eval_logits, n=REDUCTION, name="logits")
    assert_fp32_close(loss, eval_loss, n=REDUCTION, name="loss")
    assert np.abs(eval_logits - jax_outputs["train"][0]).max() > 1e-2  # not batch statistics
    _assert_state(buffers, state, exact=True)  # EVAL never updates, whatever the flag
    jax.tree.map(np.testing.assert_array_equal, eval_state, state)


def test_parameter_types_and_output_layer_agree(pair):
    jax_w, torch_w, params, _, model, _ = pair
    jax_types = jax.tree.leaves(jax_w.model_params_types)
    assert sorted(torch_w.model_params_types.values(), key=str) == sorted(jax_types, key=str)
    assert jax_types.count(ParameterType.BATCH_NORM_SCALE) == 20  # stem, 16 in blocks, 3 shortcuts
    assert jax_types.count(ParameterType.CONV_WEIGHT) == 20
    assert ParameterType.LAYER_NORM_SCALE not in jax_types
    assert [k for k in params if jax_w.is_output_params(k)] == ["head"]
    names = [k for k, _ in model.named_parameters() if torch_w.is_output_params(k)]
    assert names == ["head.weight", "head.bias"]


@pytest.mark.slow
def test_synthetic_input_queue_and_eval_end_to_end(pair):
    jax_w, torch_w, params, state, model, _ = pair
    model.load_state_dict(_torch_state(params, state), strict=True)
    results = {}
    for workload, args in ((jax_w, (params, state)), (torch_w, (model, None))):
        batch = next(workload.build_input_queue(0, "train", None, 16))
        assert tuple(batch["inputs"].shape) == (16, 32, 32, 3)
        assert batch["inputs"].dtype in (np.float32, torch.float32)
        results[workload] = workload.eval_model(32, *args, None, None)
        assert not workload.has_reached_validation_target({"validation/accuracy": 0.84})
    jax_eval, torch_eval = results[jax_w], results[torch_w]
    assert set(jax_eval) == {
        f"{split}/{m}" for split in ("train", "validation", "test") for m in ("loss", "accuracy")
    } | {"validation/num_examples", "test/num_examples"}
    assert jax_eval["validation/num_examples"] == data.SYNTHETIC_SIZES["validation"]
    assert jax_eval["test/num_examples"] == data.SYNTHETIC_SIZES["test"]
    assert torch_eval == pytest.approx(jax_eval, rel=1e-5)


def _distinct_images(n):
    """uint8 images whose shifted and flipped crops all differ, so a crop can be located."""
    base = np.arange(32 * 32 * 3).reshape(32, 32, 3) % 251 + 1  # never 0, the padding value
    base = base.astype(np.uint8)
    return np.stack([np.roll(base, i, axis=2) for i in range(n)])


def _locate(crop, image):
    """The (top, left, flipped) of `crop` in `image` zero-padded by `data.PAD`, or None."""
    padded = np.pad(image, ((data.PAD, data.PAD), (data.PAD, data.PAD), (0, 0)))
    for top in range(2 * data.PAD + 1):
        for left in range(2 * data.PAD + 1):
            window = padded[top : top + 32, left : left + 32]
            for flipped, candidate in ((False, window), (True, window[:, ::-1])):
                if np.array_equal(candidate, crop):
                    return top, left, flipped
    return None


def _request(seed, n=64):
    keys = example_keys(seed, np.arange(n))
    return BatchRequest(np.arange(n), keys, np.ones(n, np.float32))


def test_augmentation_crops_padded_images_and_flips_them():
    images = _distinct_images(64)
    out = data.augment(images, _request(0))
    assert out.shape == images.shape
    assert out.dtype == np.uint8
    found = [_locate(crop, image) for crop, image in zip(out, images, strict=True)]
    assert None not in found  # every output is a crop of the 36x36 padded image
    tops, lefts, flips = zip(*found, strict=True)
    assert set(tops) == set(lefts) == set(range(5))  # every offset of 0..4 occurs
    assert 16 < sum(flips) < 48  # about half flipped
    assert (out == 0).any(axis=(1, 2, 3)).sum() > 32  # most crops include padding
    np.testing.assert_array_equal(data.augment(images, _request(0)), out)
    assert not np.array_equal(data.augment(images, _request(1)), out)


def test_training_batches_are_augmented_deterministically_and_eval_batches_are_not():
    ds = data.synthetic()
    first = next(ds.train_batches(3, 16))
    again = next(ds.train_batches(3, 16))
    other = next(ds.train_batches(4, 16))
    np.testing.assert_array_equal(first["inputs"], again["inputs"])
    assert not np.array_equal(first["inputs"], other["inputs"])
    assert first["inputs"].dtype == np.float32
    raw = ds.splits["train"]
    # Same shuffle as the un-augmented images, but the inputs changed: augmented.
    plain = next(ArrayDataset(ds.splits).train_batches(3, 16))
    np.testing.assert_array_equal(first["targets"], plain["targets"])
    assert not np.allclose(first["inputs"], data.normalize(plain["inputs"]))
    evaluated = next(ds.eval_batches("train", 16))
    np.testing.assert_array_equal(evaluated["inputs"], data.normalize(raw["inputs"][:16]))


def test_normalisation_uses_the_reference_channel_statistics():
    images = np.zeros((1, 32, 32, 3), np.uint8)
    images[..., 1] = 255
    out = data.normalize(images)
    assert out.dtype == np.float32
    np.testing.assert_allclose(
        out[0, 0, 0],
        [-0.49139968 / 0.24703233, (1 - 0.48215827) / 0.24348505, -0.44653124 / 0.26158768],
        rtol=1e-6,
    )


def _assert_normalised_pixels(inputs):
    """`inputs` are uint8 pixels scaled to [0, 1] and standardised per channel."""
    pixels = (inputs * data.STD + data.MEAN) * 255.0
    np.testing.assert_allclose(pixels, np.round(pixels), atol=1e-3)
    assert pixels.min() > -1e-3
    assert pixels.max() < 255 + 1e-3


def test_real_loader_reads_tfds_splits(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=40, policy=tfds.testing.MockPolicy.USE_CODE):
        ds = data.load(str(tmp_path), num_train=30)
        workload = get_workload("cifar", "pytorch")  # real data: the 45,000-image split point
        batch = next(workload.build_input_queue(0, "train", str(tmp_path), 8))
    sizes = {s: ds.num_examples(s) for s in ("train", "validation", "test")}
    assert sizes == {"train": 30, "validation": 10, "test": 40}
    for split in ("validation", "test"):
        evaluated = next(ds.eval_batches(split, 64))
        assert evaluated["inputs"].shape == (64, 32, 32, 3)
        assert evaluated["weights"].sum() == sizes[split]
        _assert_normalised_pixels(evaluated["inputs"])
    assert ds.splits["train"]["inputs"].dtype == np.uint8
    assert ds.splits["train"]["targets"].dtype == np.int32
    assert tuple(batch["inputs"].shape) == (8, 32, 32, 3)
    assert batch["inputs"].dtype == torch.float32
    _assert_normalised_pixels(batch["inputs"].numpy())
    assert workload.dataset(str(tmp_path)).num_examples("validation") == 0


class _ThreadRanks:
    """Two threads as two ranks: a differentiable all-reduce (sum) between them.

    It stands in for `torch.distributed.nn.functional.all_reduce`, whose backward all-reduces
    the incoming gradients too, so the batch-norm code runs its multi-process path in one
    process: spawning two torch processes costs ~20 s on a small CI machine.
    """

    def __init__(self):
        self.barrier = threading.Barrier(2, timeout=60)
        self.slots = [None, None]
        self.rank = threading.local()

    def _sum(self, tensor):
        self.slots[self.rank.value] = tensor
        self.barrier.wait()
        total = self.slots[0] + self.slots[1]
        self.barrier.wait()  # both have read the slots before either writes again
        return total

    def all_reduce(self, tensor):
        ranks = self

        class AllReduce(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return ranks._sum(x.detach().clone())

            @staticmethod
            def backward(ctx, grad):
                return ranks._sum(grad.contiguous())

        return AllReduce.apply(tensor)


def _tiny_step(model, images, labels, batch_size):
    """One TRAIN forward and backward of a mean-loss share; logits, gradients, buffers."""
    logits = model(images, update_batch_norm=True)
    loss = torch.nn.functional.cross_entropy(logits, labels, reduction="sum") / batch_size
    loss.backward()
    grads = {k: p.grad.numpy() for k, p in model.named_parameters()}
    return logits.detach().numpy(), grads, {k: b.numpy() for k, b in model.named_buffers()}


def test_pytorch_batch_norm_statistics_span_all_ranks(monkeypatch):
    """1 vs 2 ranks holding half a batch each: the same logits, statistics and gradients."""
    torch.manual_seed(0)
    model = torch_model.ResNet(TINY).train()
    with torch.no_grad():  # open every residual branch (the last norm of each starts at 0)
        for name, p in model.named_parameters():
            if name.endswith("weight") and p.ndim == 1:
                p.normal_(1.0, 0.2)
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.standard_normal((8, 32, 32, 3), dtype=np.float32))
    labels = torch.from_numpy(rng.integers(0, 10, 8))
    replicas = [copy.deepcopy(model) for _ in range(2)]
    one = _tiny_step(model, images, labels, 8)

    ranks = _ThreadRanks()
    monkeypatch.setattr(torch_model.dist, "is_initialized", lambda: True)
    monkeypatch.setattr(torch_model.dist, "get_world_size", lambda group=None: 2)
    monkeypatch.setattr(torch_model.dist_fn, "all_reduce", ranks.all_reduce)

    def rank_step(rank):
        ranks.rank.value = rank
        half = slice(4 * rank, 4 * rank + 4)
        return _tiny_step(replicas[rank], images[half], labels[half], 8)

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        (logits_0, grads_0, stats_0), (logits_1, grads_1, stats_1) = pool.map(rank_step, (0, 1))
    n = 8 * 32 * 32  # sums over the batch and the pixels
    assert_fp32_close(np.concatenate([logits_0, logits_1]), one[0], n=n, name="logits")
    for name, grad in one[1].items():  # DDP sums the ranks' gradients of their loss shares
        assert_fp32_close(grads_0[name] + grads_1[name], grad, n=n, name=name)
    for name, value in one[2].items():
        assert_fp32_close(stats_0[name], value, n=n, name=name)
        np.testing.assert_array_equal(stats_0[name], stats_1[name])

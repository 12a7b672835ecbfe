"""imagenet_resnet / imagenet_vit: full-size parameter counts, JAX↔PyTorch parity (fp32).

Full-size models are only shaped (`jax.eval_shape`, the torch meta device); parity runs at
the reduced configurations of the contract suite, which keep every kind of layer.
"""

import dataclasses

import jax
import numpy as np
import pytest
import torch
from flax import traverse_util

from algoperf import api
from algoperf.api import ForwardPassMode
from algoperf.workloads import get_workload
from algoperf.workloads._params import Layout, jax_to_torch
from algoperf.workloads.imagenet_resnet import config as resnet_config
from algoperf.workloads.imagenet_resnet import param_map as resnet_map
from algoperf.workloads.imagenet_resnet import torch_model as resnet_torch
from algoperf.workloads.imagenet_vit import config as vit_config
from algoperf.workloads.imagenet_vit import param_map as vit_map
from algoperf.workloads.imagenet_vit import torch_model as vit_torch
from algoperf.workloads.testing import assert_fp32_close

TRAIN, EVAL = ForwardPassMode.TRAIN, ForwardPassMode.EVAL
BATCH = 8
FAMILIES = {
    "resnet": (resnet_config, resnet_torch.ResNet),
    "vit": (vit_config, vit_torch.ViT),
}


def _np(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_full_size_parameter_counts(family):
    """Registry = layer-shape formula = JAX (`eval_shape`) = PyTorch (meta device), per variant."""
    config_module, torch_cls = FAMILIES[family]
    for name, config in config_module.CONFIGS.items():
        workload = get_workload(name, "jax", synthetic=True)
        jax_count = sum(p.size for p in jax.tree.leaves(workload.abstract_params()))
        with torch.device("meta"):
            torch_count = sum(p.numel() for p in torch_cls(config).parameters())
        registry = api.get_workload_spec(name).num_params
        assert jax_count == torch_count == config_module.num_params(config) == registry, name


def test_reference_counts_of_the_variants():
    """The reference's counts (reference-spec 3.1-3.2); post-LN drops the final LayerNorm."""
    counts = {n: api.get_workload_spec(n).num_params for n in FAMILIES["vit"][0].CONFIGS}
    assert counts == {
        "imagenet_vit": 22_122_472,
        "imagenet_vit_glu": 50_452_456,
        "imagenet_vit_post_ln": 22_122_472 - 2 * 384,
        "imagenet_vit_map": 23_896_552,
    }
    resnets = {api.get_workload_spec(n).num_params for n in resnet_config.CONFIGS}
    assert resnets == {25_557_032}


def test_attention_layouts_flatten_heads():
    kernel = np.arange(4 * 2 * 3, dtype=np.float32).reshape(4, 2, 3)  # (in, heads, head_dim)
    np.testing.assert_array_equal(Layout.HEADS_IN.to_torch(kernel), kernel.reshape(4, 6).T)
    out = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)  # (heads, head_dim, out)
    np.testing.assert_array_equal(Layout.HEADS_OUT.to_torch(out), out.reshape(6, 4).T)
    np.testing.assert_array_equal(Layout.FLAT.to_torch(out[..., 0]), out[..., 0].ravel())


def _noisy(tree, rng, scale=0.1):
    """Flattened `tree` with noise: zero-initialised scales and heads would hide layers."""
    flat = traverse_util.flatten_dict(jax.device_get(tree))
    return {
        k: (v + scale * rng.standard_normal(v.shape)).astype(np.float32) for k, v in flat.items()
    }


# ResNet: batch norm in TRAIN (updating or not) and EVAL mode.

RESNET = "imagenet_resnet_silu"
# Two stages: projection blocks at stride 1 and 2, and an identity block.
RESNET_CONFIG = resnet_config.reduced(resnet_config.CONFIGS[RESNET], stage_sizes=(1, 2))
# The longest fp32 sums: a batch-norm statistic or a conv kernel's gradient over the batch
# and the 16 x 16 pixels after the stem (32 x 32 input).
RESNET_N = BATCH * 16 * 16


@pytest.fixture(scope="module")
def resnet():
    options = {"model_config": RESNET_CONFIG, "image_size": resnet_config.REDUCED_IMAGE_SIZE}
    jax_w = get_workload(RESNET, "jax", synthetic=True, **options)
    torch_w = get_workload(RESNET, "pytorch", synthetic=True, **options)
    params, state = jax_w.init_model_fn(jax.random.PRNGKey(0))
    rng = np.random.default_rng(0)
    flat_params = _noisy(params, rng)
    stats = traverse_util.flatten_dict(jax.device_get(state["batch_stats"]))
    for path, s in stats.items():  # variances stay positive
        noise = (
            rng.uniform(-0.5, 0.5, s.shape) if path[-1] == "var" else rng.normal(0, 0.1, s.shape)
        )
        stats[path] = (s + noise).astype(np.float32)
    params = traverse_util.unflatten_dict(flat_params)
    state = {"batch_stats": traverse_util.unflatten_dict(stats)}
    model, _ = torch_w.init_model_fn(1)
    table, state_table = resnet_map.tables(RESNET_CONFIG)
    weights = jax_to_torch(flat_params, table) | jax_to_torch(stats, state_table)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    batch = next(jax_w.numpy_batches(1, "train", None, BATCH))
    batch["weights"][-2:] = 0.0  # exercise the mask
    return jax_w, torch_w, params, state, model, initial, batch


@pytest.fixture(scope="module")
def resnet_jax(resnet):
    jax_w, _, params, state, _, _, batch = resnet

    @jax.jit
    def outputs(params, state, batch):
        def loss_of(p):
            logits, new_state = jax_w.model_fn(p, batch, state, TRAIN, None, True)
            out = jax_w.loss_fn(batch["targets"], logits, batch["weights"], 0.1)
            return out["summed"] / out["n_valid_examples"], (logits, new_state)

        (loss, (logits, new_state)), grads = jax.value_and_grad(loss_of, has_aux=True)(params)
        frozen_logits, frozen_state = jax_w.model_fn(params, batch, state, TRAIN, None, False)
        eval_logits, eval_state = jax_w.model_fn(params, batch, state, EVAL, None, True)
        return {
            "train": (logits, loss, grads, new_state),
            "frozen": (frozen_logits, frozen_state),
            "eval": (eval_logits, eval_state),
        }

    return jax.device_get(outputs(params, state, jax_w.place_batch(batch)))


def _torch_run(resnet, mode, update):
    _, torch_w, _, _, model, initial, batch = resnet
    model.load_state_dict(initial, strict=True)
    model.zero_grad()
    placed = torch_w.place_batch(batch)
    logits, _ = torch_w.model_fn(model, placed, None, mode, None, update)
    out = torch_w.loss_fn(placed["targets"], logits, placed["weights"], 0.1)
    loss = out["summed"] / out["n_valid_examples"]
    if mode is TRAIN:
        loss.backward()
    return _np(logits), loss.item(), {k: b.numpy().copy() for k, b in model.named_buffers()}


def _torch_stats(jax_state):
    _, state_table = resnet_map.tables(RESNET_CONFIG)
    return jax_to_torch(traverse_util.flatten_dict(jax_state["batch_stats"]), state_table)


@pytest.mark.slow
def test_resnet_train_mode_agrees_on_logits_loss_gradients_and_statistics(resnet, resnet_jax):
    _, _, _, state, model, _, _ = resnet
    jax_logits, jax_loss, grads, new_state = resnet_jax["train"]
    logits, loss, buffers = _torch_run(resnet, TRAIN, update=True)
    assert_fp32_close(logits, jax_logits, n=RESNET_N, name="logits")
    assert_fp32_close(loss, jax_loss, n=RESNET_N, name="loss")
    table, _ = resnet_map.tables(RESNET_CONFIG)
    expected = jax_to_torch(traverse_util.flatten_dict(grads), table)
    assert set(expected) == {k for k, _ in model.named_parameters()}
    for name, p in model.named_parameters():
        assert_fp32_close(p.grad.numpy(), expected[name], n=RESNET_N, layers=4, name=name)
    want = _torch_stats(new_state)
    assert set(buffers) == set(want)
    for name, value in buffers.items():
        assert_fp32_close(value, want[name], n=RESNET_N, name=name)
    moved = jax.tree.map(lambda a, b: np.abs(a - b).max(), new_state, state)
    assert min(jax.tree.leaves(moved)) > 1e-4  # every running statistic was updated


def test_resnet_train_mode_without_update_keeps_statistics(resnet, resnet_jax):
    _, _, _, state, _, _, _ = resnet
    frozen_logits, frozen_state = resnet_jax["frozen"]
    np.testing.assert_allclose(frozen_logits, resnet_jax["train"][0], rtol=0, atol=1e-6)
    logits, _, buffers = _torch_run(resnet, TRAIN, update=False)
    assert_fp32_close(logits, frozen_logits, n=RESNET_N, name="logits")
    want = _torch_stats(state)
    for name, value in buffers.items():
        np.testing.assert_array_equal(value, want[name], err_msg=name)
    jax.tree.map(np.testing.assert_array_equal, frozen_state, state)


def test_resnet_eval_mode_uses_running_statistics(resnet, resnet_jax):
    _, _, _, state, _, _, _ = resnet
    eval_logits, eval_state = resnet_jax["eval"]
    logits, _, buffers = _torch_run(resnet, EVAL, update=True)
    assert_fp32_close(logits, eval_logits, n=RESNET_N, name="logits")
    assert np.abs(eval_logits - resnet_jax["train"][0]).max() > 1e-2  # not batch statistics
    want = _torch_stats(state)
    for name, value in buffers.items():
        np.testing.assert_array_equal(value, want[name], err_msg=name)
    jax.tree.map(np.testing.assert_array_equal, eval_state, state)


# ViT: GLU MLPs and the MAP head in one reduced model, on mixed-up (soft) labels.

VIT = "imagenet_vit_map"
VIT_CONFIG = dataclasses.replace(vit_config.reduced(vit_config.CONFIGS[VIT], 2), use_glu=True)
VIT_N = 3 * 8 * 8  # the patch embedding contracts 8 x 8 x 3 pixels


@pytest.fixture(scope="module")
def vit():
    options = {"model_config": VIT_CONFIG, "image_size": vit_config.REDUCED_IMAGE_SIZE}
    jax_w = get_workload(VIT, "jax", synthetic=True, **options)
    torch_w = get_workload(VIT, "pytorch", synthetic=True, **options)
    params, _ = jax_w.init_model_fn(jax.random.PRNGKey(0))
    flat = _noisy(params, np.random.default_rng(0))
    model, _ = torch_w.init_model_fn(1)
    weights = jax_to_torch(flat, vit_map.param_map(VIT_CONFIG))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    batch = next(jax_w.numpy_batches(1, "train", None, BATCH))
    batch["weights"][-1:] = 0.0
    return jax_w, torch_w, traverse_util.unflatten_dict(flat), model, batch


@pytest.mark.slow
def test_vit_agrees_on_logits_loss_and_gradients_with_mixed_labels(vit):
    jax_w, torch_w, params, model, batch = vit
    assert batch["targets"].shape == (BATCH, 1000)  # mixup's label distributions

    def loss_of(p, b):
        logits, _ = jax_w.model_fn(p, b, None, TRAIN, None, True, 0.0)
        out = jax_w.loss_fn(b["targets"], logits, b["weights"], 0.1)
        return out["summed"] / out["n_valid_examples"], logits

    (loss, logits), grads = jax.jit(jax.value_and_grad(loss_of, has_aux=True))(
        params, jax_w.place_batch(batch)
    )
    placed = torch_w.place_batch(batch)
    t_logits, _ = torch_w.model_fn(model, placed, None, TRAIN, None, True, 0.0)
    out = torch_w.loss_fn(placed["targets"], t_logits, placed["weights"], 0.1)
    t_loss = out["summed"] / out["n_valid_examples"]
    t_loss.backward()
    assert_fp32_close(_np(t_logits), logits, n=VIT_N, layers=4, name="logits")
    assert_fp32_close(t_loss.item(), loss, n=VIT_N, layers=4, name="loss")
    expected = jax_to_torch(traverse_util.flatten_dict(grads), vit_map.param_map(VIT_CONFIG))
    assert set(expected) == {k for k, _ in model.named_parameters()}
    scale = max(np.abs(g).max() for g in expected.values())
    for name, p in model.named_parameters():
        if name.endswith("key.bias"):
            # A key bias adds the same score to every key of a query, which softmax ignores:
            # its gradient is 0 up to rounding in both frameworks.
            assert np.abs(p.grad.numpy()).max() < 1e-5 * scale, name
            assert np.abs(expected[name]).max() < 1e-5 * scale, name
            continue
        assert_fp32_close(p.grad.numpy(), expected[name], n=VIT_N, layers=6, name=name)
    eval_logits, _, _ = jax_w.eval_outputs(params, None, batch)
    t_eval, _, _ = torch_w.eval_outputs(model, None, batch)
    assert_fp32_close(t_eval, eval_logits, n=VIT_N, layers=4, name="eval logits")


def test_soft_label_loss_matches_integer_labels(vit):
    jax_w, torch_w, _, _, _ = vit
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 1000)).astype(np.float32)
    labels = np.array([3, 0, 999, 7])
    one_hot = np.eye(1000, dtype=np.float32)[labels]
    for smoothing in (0.0, 0.1):
        by_index = jax_w.loss_fn(labels, logits, None, smoothing)["per_example"]
        by_dist = jax_w.loss_fn(one_hot, logits, None, smoothing)["per_example"]
        torch_dist = torch_w.loss_fn(
            torch.from_numpy(one_hot), torch.from_numpy(logits), None, smoothing
        )["per_example"]
        np.testing.assert_allclose(by_dist, by_index, rtol=1e-6)
        assert_fp32_close(_np(torch_dist), by_dist, n=1000, name="torch loss")


def test_dropout_acts_only_in_train_mode(vit):
    _, torch_w, _, model, batch = vit
    placed = torch_w.place_batch(batch)
    a, _ = torch_w.model_fn(model, placed, None, EVAL, None, False, 0.5)
    b, _ = torch_w.model_fn(model, placed, None, EVAL, None, False, 0.0)
    torch.testing.assert_close(a, b)
    c, _ = torch_w.model_fn(model, placed, None, TRAIN, None, False, 0.5)
    assert (c - b).abs().max() > 1e-3

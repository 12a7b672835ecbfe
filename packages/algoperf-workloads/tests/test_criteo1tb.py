"""criteo1tb: parameter counts, JAX↔PyTorch parity, loss and metric, synthetic end to end."""

import dataclasses

import jax
import numpy as np
import pytest
import torch
from flax import traverse_util

from algoperf import api
from algoperf.api import ForwardPassMode, ParameterType
from algoperf.workloads import get_workload
from algoperf.workloads._params import jax_to_torch
from algoperf.workloads.criteo1tb import data, jax_model, torch_model
from algoperf.workloads.criteo1tb.config import CONFIGS
from algoperf.workloads.criteo1tb.param_map import PARAM_MAPS, param_map
from algoperf.workloads.testing import assert_fp32_close

NAMES = tuple(CONFIGS)
# JAX and PyTorch differ only in the order of fp32 sums (see `fp32_tolerance`); the longest
# is a contraction over the widest MLP layer (1024 units; the batch is 64).
REDUCTION = 1024
SMALL_VOCAB = 1_024
"""Vocabulary of the variant architectures in the model-level parity test (no 2 GB tables)."""


@pytest.mark.parametrize("name", NAMES)
def test_parameter_counts_match_the_registry(name):
    jax_count = sum(p.size for p in jax.tree.leaves(get_workload(name, "jax").abstract_params()))
    with torch.device("meta"):
        model = get_workload(name, "pytorch").build_model()
    torch_count = sum(p.numel() for p in model.parameters())
    assert jax_count == torch_count == api.get_workload_spec(name).num_params


def _parity(jax_module, torch_module, table, batch, mode):
    """Copy JAX parameters into torch; compare logits, loss and (TRAIN) gradients."""
    init = jax.jit(jax_module.init, static_argnames="train")
    params = init(jax.random.PRNGKey(0), batch["inputs"][:1], train=False)
    params = params["params"]
    state = jax_to_torch(traverse_util.flatten_dict(jax.device_get(params)), table)
    torch_module.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    torch_module.train(mode is ForwardPassMode.TRAIN)
    train = mode is ForwardPassMode.TRAIN
    jax_w = get_workload("criteo1tb_test", "jax")
    torch_w = get_workload("criteo1tb_test", "pytorch")

    def loss_of(p):
        logits = jax_module.apply({"params": p}, batch["inputs"], train=train)
        out = jax_w.loss_fn(batch["targets"], logits, batch["weights"])
        return out["summed"] / out["n_valid_examples"], logits

    (jax_loss, jax_logits), grads = jax.jit(jax.value_and_grad(loss_of, has_aux=True))(params)
    tensors = {k: torch.from_numpy(v) for k, v in batch.items()}
    logits = torch_module(tensors["inputs"])
    out = torch_w.loss_fn(tensors["targets"], logits, tensors["weights"])
    loss = out["summed"] / out["n_valid_examples"]
    assert_fp32_close(logits.detach().numpy(), jax_logits, n=REDUCTION, name="logits")
    assert_fp32_close(loss.item(), jax_loss, n=REDUCTION, name="loss")
    if train:
        loss.backward()
        expected = jax_to_torch(traverse_util.flatten_dict(jax.device_get(grads)), table)
        for name, p in torch_module.named_parameters():
            assert_fp32_close(p.grad.numpy(), expected[name], n=REDUCTION, name=name)


@pytest.fixture(scope="module")
def batch():
    b = next(data.synthetic(SMALL_VOCAB).train_batches(0, 64))
    b["weights"][-5:] = 0.0  # exercise the mask
    return b


@pytest.mark.parametrize(
    "mode",
    [ForwardPassMode.TRAIN, pytest.param(ForwardPassMode.EVAL, marks=pytest.mark.slow)],
    ids=str,
)
def test_criteo1tb_test_outputs_loss_and_gradients_agree(batch, mode):
    config = CONFIGS["criteo1tb_test"]
    big_ids = next(data.synthetic(config.vocab_size).train_batches(0, 64))  # ids over 65,536
    big_ids["weights"] = batch["weights"]
    _parity(
        jax_model.build(config),
        torch_model.build(config),
        PARAM_MAPS["criteo1tb_test"],
        big_ids,
        mode,
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", ["criteo1tb_layernorm", "criteo1tb_resnet"])
def test_variant_architectures_agree(batch, name):
    """Each variant's architecture at a small vocabulary; ids >= vocab exercise the modulo."""
    config = dataclasses.replace(CONFIGS[name], vocab_size=SMALL_VOCAB // 2)
    _parity(
        jax_model.build(config),
        torch_model.build(config),
        param_map(config),
        batch,
        ForwardPassMode.TRAIN,
    )


def test_embedding_init_scales():
    base, scaled = CONFIGS["criteo1tb"], CONFIGS["criteo1tb_embed_init"]
    assert base.embedding_scale == pytest.approx(4_194_304**-0.5)
    assert scaled.embedding_scale == 1.0
    table = torch_model.build(dataclasses.replace(scaled, vocab_size=4096)).embedding_table
    assert table.weight.min() >= 0.0
    assert table.weight.max() < 1.0
    assert table.weight.mean().item() == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("framework", [pytest.param("jax", marks=pytest.mark.slow), "pytorch"])
def test_synthetic_batch_end_to_end(framework):
    workload = get_workload("criteo1tb_test", framework, synthetic=True)
    rng = jax.random.PRNGKey(0) if framework == "jax" else 0
    params, state = workload.init_model_fn(rng)
    batch = next(workload.build_input_queue(rng, "train", None, 128))
    assert tuple(batch["inputs"].shape) == (128, 39)
    assert batch["inputs"].dtype in (np.float32, torch.float32)
    logits, _ = workload.model_fn(params, batch, state, ForwardPassMode.TRAIN, rng, True, 0.1)
    assert tuple(logits.shape) == (128, 1)
    loss = workload.loss_fn(batch["targets"], logits, batch["weights"])
    per_example = loss["per_example"]
    per_example = per_example.detach().numpy() if framework == "pytorch" else per_example
    assert np.asarray(per_example).shape == (128,)
    assert np.all(np.asarray(per_example) > 0)
    result = workload.eval_model(1024, params, state, rng, None)
    assert result["validation/num_examples"] == data.SYNTHETIC_SIZES["validation"]
    assert 0.3 < result["validation/loss"] < 2.0
    assert set(result) == {
        "train/loss",
        "validation/loss",
        "validation/num_examples",
        "test/loss",
        "test/num_examples",
    }
    types = workload.model_params_types
    leaves = jax.tree.leaves(types) if framework == "jax" else list(types.values())
    assert leaves.count(ParameterType.EMBEDDING) == 1
    names = params if framework == "jax" else dict(params.named_parameters())
    assert [k for k in names if workload.is_output_params(k)] == (
        ["head"] if framework == "jax" else ["head.weight", "head.bias"]
    )

"""The `Workload` contract, checked on every registered workload in both frameworks.

Parametrised over `implemented_workloads()` x {jax, pytorch} on synthetic data, so a new
workload joins by being registered. The one thing a workload must add here is its row of
`PARITY` (the fp32 tolerance of its JAX↔PyTorch comparison); its `param_map.py` must hold
`PARAM_MAPS[name]`, and `STATE_MAPS[name]` when the JAX model has state (batch norm).
Device-count independence is checked in subprocesses by `test_devices.py`.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
import pytest
import torch
from flax import traverse_util

from algoperf import api
from algoperf.api import ForwardPassMode, Framework, ParameterType, Workload
from algoperf.workloads import IMPLEMENTATIONS, get_workload, implemented_workloads
from algoperf.workloads._params import jax_to_torch
from algoperf.workloads.finewebedu_lm import config as lm_config
from algoperf.workloads.imagenet_resnet import config as _resnet
from algoperf.workloads.imagenet_vit import config as _vit
from algoperf.workloads.testing import assert_fp32_close
from algoperf.workloads.wmt import config as wmt_config

TRAIN, EVAL = ForwardPassMode.TRAIN, ForwardPassMode.EVAL
NAMES = implemented_workloads()
BATCH_SIZE = 8
"""Training batch size: small, and divisible by every device count used."""
EVAL_BATCH_SIZES = (64, 24)
"""Two eval batch sizes; neither divides every synthetic split, so both pad. The first is
also the parity batch, so JAX compiles its eval forward pass once for both tests."""
LEARNING_RATE = 1e-2
BIG_MODEL = 50_000_000
"""Workloads with more parameters are marked slow (criteo1tb's 539M: 2 GB per copy)."""
FULL_SIZE_IN_CI = "criteo1tb"
"""The one big model CI runs (about 2 minutes and 11.5 GB); its full-size variants, which
change only the MLPs or the embedding's initialisation, are also marked `big`, which CI
deselects (`nox -s big` runs them)."""


@dataclass(frozen=True)
class Tolerance:
    """JAX↔PyTorch eval logits, and eval metrics at two batch sizes, differ by fp32 rounding
    only (see `assert_fp32_close`)."""

    n: int
    """Longest fp32 reduction of the forward pass (a contracted dimension)."""
    layers: int = 1
    """Depth of the chain of such reductions, when it is more than a few."""


FASTMRI = ("fastmri", "fastmri_model_size", "fastmri_tanh", "fastmri_layernorm")
LIBRISPEECH = tuple(n for n in NAMES if n.startswith("librispeech_"))
WMT = ("wmt", "wmt_post_ln", "wmt_attention_temp", "wmt_glu_tanh")
PARITY: dict[str, Tolerance] = {
    "digits_mlp": Tolerance(128),  # hidden units of dense_1 and the head
    "digits_cnn": Tolerance(4 * 4 * 32),  # dense_0 contracts the flattened feature map
    "mnist": Tolerance(28 * 28),  # dense_0 contracts the pixels
    "cifar": Tolerance(3 * 3 * 512),  # the last stage's 3x3 convolutions over 512 channels
    # Edge and node MLPs contract 4 concatenated 256-wide inputs; the chain is the embedding,
    # every step's edge and node MLP layers, and the decoder (as in test_ogbg.py).
    "ogbg": Tolerance(4 * 256, layers=2 + 5 * 2),
    "ogbg_gelu": Tolerance(4 * 256, layers=2 + 5 * 2),
    "ogbg_silu": Tolerance(4 * 256, layers=2 + 5 * 2),
    "ogbg_model_size": Tolerance(4 * 256, layers=2 + 3 * 2 * 2),
    "criteo1tb": Tolerance(1024),  # the top MLP's 1024-wide layer
    "criteo1tb_layernorm": Tolerance(1024),
    "criteo1tb_embed_init": Tolerance(1024),
    "criteo1tb_resnet": Tolerance(256 + 26 * 128),  # bottom output and 26 embeddings, flat
    "criteo1tb_test": Tolerance(1024),
    # At REDUCED size: fc2 contracts the 64-wide hidden layer; the chain is 2 blocks of
    # (attention projections, attention, MLP) and the tied output layer.
    "finewebedu_lm": Tolerance(64, layers=2 * 3 + 1),
    # At the REDUCED size: the MLP contracts 48 hidden units; the chain is the 1 + 1 blocks'
    # attention and MLP layers and the logits through the embedding.
    **{name: Tolerance(48, layers=2 + 3 + 1) for name in WMT},
    # Reduced (REDUCED below): the stem's 7x7x3 convolution; one bottleneck block.
    **dict.fromkeys(_resnet.CONFIGS, Tolerance(7 * 7 * 3, layers=4)),
    # Reduced: the patch embedding's 8x8x3 pixels; one block of attention and MLP.
    **dict.fromkeys(_vit.CONFIGS, Tolerance(8 * 8 * 3, layers=3)),
    # U-Net (reduced, see REDUCED): 3x3 convs contract at most 9 x 8 terms, the norms 9 x 9
    # pixels; the chain is 2 convs per ConvBlock (3 of them) and the transposed conv.
    **dict.fromkeys(FASTMRI, Tolerance(9 * 9, layers=2 * 3 + 1)),
    # At the REDUCED size the longest sums are the front-end's 512-point FFT and 257-bin mel
    # projection; the chain is front-end, subsampling, the one block (or LSTM and FFN) and head.
    **dict.fromkeys(LIBRISPEECH, Tolerance(512, layers=4)),
}
"""Per workload: the fp32 tolerance of its eval forward pass, derived from its model."""


_CONFORMER_CI = {
    "model_config": {"encoder_dim": 16, "num_attention_heads": 2, "num_encoder_layers": 1},
    "audio_length": 8_000,
    "target_length": 16,
}
_DEEPSPEECH_CI = {
    "model_config": {"encoder_dim": 16, "num_lstm_layers": 1, "num_ffn_layers": 1},
    "audio_length": 8_000,
    "target_length": 16,
}


def _fastmri_reduced(name: str) -> dict[str, Any]:
    """The variant's U-Net (its norm and activation) with one pooling level of 4 channels, on
    9 x 9 images: 9 -> 4, so the up path reflect-pads 8 to 9. Compiling the full depth's
    training step takes XLA 20-60 s per variant on a 2-core CPU."""
    from algoperf.workloads.fastmri.config import CONFIGS, reduced

    return {"model_config": reduced(CONFIGS[name], 4, 1), "image_size": 9}


REDUCED: dict[str, dict[str, Any]] = {
    "finewebedu_lm": {"model_config": dict(lm_config.TINY)},
    **{name: {"model_config": dict(wmt_config.TINY)} for name in WMT},
    **{
        name: {"model_config": _resnet.reduced(c), "image_size": _resnet.REDUCED_IMAGE_SIZE}
        for name, c in _resnet.CONFIGS.items()
    },
    **{
        name: {"model_config": _vit.reduced(c), "image_size": _vit.REDUCED_IMAGE_SIZE}
        for name, c in _vit.CONFIGS.items()
    },
    **{name: _fastmri_reduced(name) for name in FASTMRI},
    **{n: _CONFORMER_CI if "conformer" in n else _DEEPSPEECH_CI for n in LIBRISPEECH},
}
"""Workloads too costly at full size for a 2-core CI, and the options (reduced width or input
size, passed to `get_workload` beside `synthetic=True`) they run this suite with. Every check
here holds for any model configuration; the full-size parameter count is then the workload's
own test (registry = JAX `eval_shape` = PyTorch meta device), named in `REDUCED_COUNT_TESTS`."""
REDUCED_COUNT_TESTS: dict[str, str] = {
    "finewebedu_lm": "test_lm.py::test_full_size_parameter_count_in_registry_jax_and_pytorch",
    **{name: "test_wmt.py::test_full_size_parameter_counts" for name in WMT},
    **dict.fromkeys(
        _resnet.CONFIGS, "test_imagenet_models.py::test_full_size_parameter_counts[resnet]"
    ),
    **dict.fromkeys(_vit.CONFIGS, "test_imagenet_models.py::test_full_size_parameter_counts[vit]"),
    **dict.fromkeys(FASTMRI, "test_fastmri.py::test_full_size_parameter_counts_equal_the_registry"),
    **dict.fromkeys(LIBRISPEECH, "test_librispeech.py::test_full_size_parameter_counts"),
}
"""Per `REDUCED` workload: the test that checks its full-size parameter count instead."""


def _tolerance(name: str) -> Tolerance:
    if name not in PARITY:
        pytest.fail(
            f"{name}: add it to PARITY in {__file__}: the longest fp32 reduction of its forward "
            "pass (n) and, for a deep chain of them, its depth (layers)"
        )
    return PARITY[name]


VARIANT_FAMILIES = (
    "imagenet_resnet",
    "imagenet_vit",
    "wmt",
    "fastmri",
    "librispeech_conformer",
    "librispeech_deepspeech",
)
ONLY_IN_BIG = frozenset(
    {"librispeech_deepspeech"}
    | {variant.name for base in VARIANT_FAMILIES for variant in api.variants_of(base)}
)
"""Contract rows that cost CI more compilation than they check (JAX compiles each model's
init, step and eval for tens of seconds on 2 cores): each is its family's base row with a
configuration switch (an activation, a norm's place, a head, a width), with the same workload
class, data, loss and metrics. CI checks the JAX↔PyTorch parity of the layers the switches
add in each family's own tests: every wmt and LibriSpeech variant, ViT's GLU and MAP head,
the U-Net's LayerNorm, DeepSpeech's training gradients and batch statistics. The rest (ResNet's
activations and BN init, ViT's post-LN, the U-Net's tanh and size) is checked here only, by
`nox -s big`, which runs these rows."""


def _marks(name: str) -> list[pytest.MarkDecorator]:
    if name in ONLY_IN_BIG:
        return [pytest.mark.slow, pytest.mark.big]
    if name in REDUCED or (api.get_workload_spec(name).num_params or 0) <= BIG_MODEL:
        return []
    return [pytest.mark.slow] + ([] if name == FULL_SIZE_IN_CI else [pytest.mark.big])


WORKLOADS = [
    pytest.param(name, marks=[*_marks(name), pytest.mark.xdist_group(f"contract-{name}")])
    for name in NAMES
]
"""Each workload's tests share one xdist worker, where its module-scoped `pair` is built."""


def _rng(framework: Framework, seed: int) -> Any:
    return jax.random.PRNGKey(seed) if framework is Framework.JAX else seed


def _np(x: Any) -> np.ndarray:
    """A JAX array or a torch tensor as numpy."""
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _leaves(batch: Any) -> list[np.ndarray]:
    """Every array of a placed batch (dicts of arrays, or NamedTuples such as graphs)."""
    return [_np(x) for x in jax.tree.leaves(batch)]


@dataclass
class Initialised:
    """A synthetic workload with its current parameters and model state."""

    workload: Workload
    framework: Framework
    params: Any
    state: Any


@pytest.fixture(scope="module", params=WORKLOADS)
def pair(request: pytest.FixtureRequest) -> dict[Framework, Initialised]:
    """Both frameworks' workload, built and initialised once; tests may train the models.

    Every check holds for any parameters, so tests share the (compiled, initialised) models.
    """
    pair = {}
    for framework in Framework:
        workload = _build(request.param, framework, EVAL_BATCH_SIZES[0])
        pair[framework] = Initialised(
            workload, framework, *workload.init_model_fn(_rng(framework, 0))
        )
    return pair


def _build(name: str, framework: Framework, eval_batch_size: int) -> Workload:
    options = REDUCED.get(name, {})
    return get_workload(name, framework, synthetic=True, eval_batch_size=eval_batch_size, **options)


def _first_batch(workload: Workload) -> Any:
    queue = workload.build_input_queue(0, "train", None, BATCH_SIZE)
    try:
        return next(queue)
    finally:
        queue.close()  # type: ignore[attr-defined]


def _jax_step(c: Initialised, batch: Any) -> tuple[float, float, list[np.ndarray]]:
    """Loss, the loss after one SGD step on the same batch, and the gradients (JAX)."""
    workload = c.workload

    def loss_of(params: Any, state: Any) -> tuple[jax.Array, Any]:
        logits, state = workload.model_fn(params, batch, state, TRAIN, None, True, 0.0)
        out = workload.loss_fn(batch["targets"], logits, batch["weights"])
        return out["summed"] / out["n_valid_examples"], state

    @jax.jit
    def step(params: Any, state: Any) -> tuple[Any, ...]:  # one compilation
        (loss, state), grads = jax.value_and_grad(loss_of, has_aux=True)(params, state)
        params = jax.tree.map(lambda p, g: p - LEARNING_RATE * g, params, grads)
        return loss, loss_of(params, state)[0], grads, params, state

    loss, after, grads, c.params, c.state = step(c.params, c.state)
    return float(loss), float(after), [np.asarray(g) for g in jax.tree.leaves(grads)]


def _torch_step(c: Initialised, batch: Any) -> tuple[float, float, list[np.ndarray]]:
    """Loss, the loss after one SGD step on the same batch, and the gradients (PyTorch)."""
    workload, model = c.workload, c.params

    def loss_of(update_batch_norm: bool) -> torch.Tensor:
        logits, _ = workload.model_fn(model, batch, None, TRAIN, None, update_batch_norm, 0.0)
        out = workload.loss_fn(batch["targets"], logits, batch["weights"])
        return out["summed"] / out["n_valid_examples"]

    model.zero_grad()
    loss = loss_of(True)
    loss.backward()
    missing = [k for k, p in model.named_parameters() if p.grad is None]
    assert not missing, f"parameters without a gradient: {missing}"
    with torch.no_grad():
        for p in model.parameters():
            p -= LEARNING_RATE * p.grad
        after = loss_of(False)
    return loss.item(), after.item(), [p.grad.numpy() for p in model.parameters()]


@pytest.mark.parametrize("framework", Framework)
def test_one_sgd_step_lowers_a_finite_loss(
    pair: dict[Framework, Initialised], framework: Framework
) -> None:
    case = pair[framework]
    batch = _first_batch(case.workload)
    step = _jax_step if framework is Framework.JAX else _torch_step
    loss, after, grads = step(case, batch)
    assert math.isfinite(loss)
    assert all(np.isfinite(g).all() for g in grads)
    assert any(np.any(g != 0) for g in grads)
    # A small step against the gradient of this very loss (no dropout) lowers it.
    assert after < loss


@pytest.mark.parametrize("framework", Framework)
def test_parameter_metadata_covers_every_parameter(
    pair: dict[Framework, Initialised], framework: Framework
) -> None:
    case = pair[framework]
    workload, params = case.workload, case.params
    if framework is Framework.JAX:
        named = {"/".join(path): p for path, p in traverse_util.flatten_dict(params).items()}
        types = traverse_util.flatten_dict(workload.model_params_types, sep="/")
        shapes = traverse_util.flatten_dict(workload.param_shapes, sep="/")
        output = [k for k in params if workload.is_output_params(k)]
        keys = list(params)
    else:
        named = dict(params.named_parameters())
        types, shapes = workload.model_params_types, workload.param_shapes
        keys = list(named)
        output = [k for k in keys if workload.is_output_params(k)]
    assert types.keys() == named.keys()
    assert all(isinstance(t, ParameterType) for t in types.values()), set(types.values())
    assert shapes == {k: tuple(p.shape) for k, p in named.items()}
    if workload.name not in REDUCED:
        assert sum(math.prod(s) for s in shapes.values()) == workload.spec.num_params
    assert 0 < len(output) < len(keys), output


def _eval(c: Initialised, workload: Workload) -> dict[str, float]:
    return workload.eval_model(workload.eval_batch_size, c.params, c.state, None, None)


@pytest.mark.parametrize("framework", Framework)
def test_eval_reports_finite_metrics_independent_of_the_eval_batch_size(
    pair: dict[Framework, Initialised], framework: Framework
) -> None:
    case = pair[framework]
    workload = case.workload
    result = _eval(case, workload)
    metrics = {k.removeprefix("validation/") for k in result if k.startswith("validation/")}
    metrics.discard("num_examples")
    assert workload.target_metric_name in metrics
    splits = ["train", "validation"] + (["test"] if workload.num_test_examples is not None else [])
    expected = {f"{prefix}/{m}" for prefix in splits for m in metrics}
    expected |= {f"{prefix}/num_examples" for prefix in splits[1:]}
    assert set(result) == expected
    assert all(math.isfinite(v) for v in result.values()), result
    dataset = workload.dataset(None)  # type: ignore[attr-defined]
    for prefix in splits[1:]:
        spec_count = getattr(workload, f"num_{prefix}_examples")
        assert result[f"{prefix}/num_examples"] == min(spec_count, dataset.num_examples(prefix))

    other = _build(workload.name, framework, EVAL_BATCH_SIZES[1])
    assert (workload.eval_batch_size, other.eval_batch_size) == EVAL_BATCH_SIZES
    # Padding has weight 0 and metrics sum in float64: only the forward pass's fp32
    # reductions may run in another order for another batch shape.
    tol = _tolerance(workload.name)
    for key, value in _eval(case, other).items():
        assert_fp32_close(value, result[key], n=tol.n, layers=tol.layers, name=key)


def _take(queue: Iterator[Any], k: int) -> list[list[np.ndarray]]:
    return [_leaves(next(queue)) for _ in range(k)]


@pytest.mark.parametrize("framework", Framework)
def test_training_queue_resumes_from_its_state(
    pair: dict[Framework, Initialised], framework: Framework
) -> None:
    workload, rng = pair[framework].workload, _rng(framework, 3)
    k = 2
    queue = workload.build_input_queue(rng, "train", None, BATCH_SIZE)
    resumed = workload.build_input_queue(rng, "train", None, BATCH_SIZE)
    try:
        first = _take(queue, k)
        state = queue.get_state()  # type: ignore[attr-defined]
        expected = _take(queue, k)
        resumed.set_state(state)  # type: ignore[attr-defined]
        got = _take(resumed, k)
    finally:
        queue.close()  # type: ignore[attr-defined]
        resumed.close()  # type: ignore[attr-defined]
    # Distinct batches, so a queue that ignored its state would fail.
    assert any(not np.array_equal(a, b) for a, b in zip(first[0], expected[0], strict=True))
    for want, have in zip(expected, got, strict=True):
        for a, b in zip(want, have, strict=True):
            np.testing.assert_array_equal(b, a)


def _tables(name: str, has_state: bool, workload: Workload) -> tuple[Any, Any]:
    """The workload's JAX→PyTorch parameter table, and its state table if the model has state.

    A `REDUCED` workload's tables come from its param_map's `tables(config)` at the reduced
    configuration (`PARAM_MAPS` holds the full-size ones).
    """
    package = IMPLEMENTATIONS[name][Framework.JAX].module.rsplit(".", 1)[0]
    module = importlib.import_module(f"{package}.param_map")
    if name in REDUCED:
        if not hasattr(module, "tables"):
            pytest.fail(f"{name}: add tables(config) to {module.__name__}")
        return module.tables(workload.config)  # type: ignore[attr-defined]
    if name not in getattr(module, "PARAM_MAPS", {}):
        pytest.fail(f"{name}: add its parameter table to PARAM_MAPS in {module.__name__}")
    state_maps = getattr(module, "STATE_MAPS", {})
    if has_state and name not in state_maps:
        pytest.fail(
            f"{name}: its JAX model has state; add its table to STATE_MAPS in {module.__name__}"
        )
    return module.PARAM_MAPS[name], state_maps.get(name)


def _distinct(tree: Any, rng: np.random.Generator) -> dict[tuple[str, ...], np.ndarray]:
    """Flattened `tree`, with values in [0, 0.1) added to every constant leaf.

    Initial biases, batch-norm scales and running statistics are all zeros or ones, which
    would hide a mis-mapped entry; added noise keeps variances positive.
    """
    flat = traverse_util.flatten_dict(jax.device_get(tree))
    return {
        path: (v + 0.1 * rng.random(v.shape, np.float32) if np.ptp(v) == 0 else v)
        for path, v in flat.items()
    }


def test_jax_and_pytorch_compute_the_same_eval_logits(pair: dict[Framework, Initialised]) -> None:
    jax_c, torch_c = pair[Framework.JAX], pair[Framework.PYTORCH]
    name = jax_c.workload.name
    tol = _tolerance(name)
    param_table, state_table = _tables(name, jax_c.state is not None, jax_c.workload)
    rng = np.random.default_rng(0)
    flat_params = _distinct(jax_c.params, rng)
    weights = jax_to_torch(flat_params, param_table)
    state = None
    if jax_c.state is not None:
        # flax keeps collections (e.g. 'batch_stats') at the top; the table maps below them.
        (collection,) = jax_c.state
        flat_state = _distinct(jax_c.state[collection], rng)
        weights |= jax_to_torch(flat_state, state_table)
        state = {collection: traverse_util.unflatten_dict(flat_state)}
    torch_c.params.load_state_dict(
        {k: torch.from_numpy(v) for k, v in weights.items()}, strict=True
    )
    params = traverse_util.unflatten_dict(flat_params)
    batch = next(jax_c.workload.numpy_batches(0, "validation", None, EVAL_BATCH_SIZES[0]))  # type: ignore[attr-defined]
    jax_logits, _, _ = jax_c.workload.eval_outputs(params, state, batch)  # type: ignore[attr-defined]
    logits, _, _ = torch_c.workload.eval_outputs(torch_c.params, None, batch)  # type: ignore[attr-defined]
    assert_fp32_close(logits, jax_logits, n=tol.n, layers=tol.layers, name="logits")


def test_parity_table_names_only_registered_workloads() -> None:
    assert set(PARITY) <= set(NAMES), set(PARITY) - set(NAMES)


def test_every_reduced_workload_names_its_full_size_count_test() -> None:
    assert set(REDUCED) <= set(NAMES), set(REDUCED) - set(NAMES)
    assert set(REDUCED) == set(REDUCED_COUNT_TESTS)

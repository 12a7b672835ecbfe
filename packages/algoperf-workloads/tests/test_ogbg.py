"""ogbg: graph batching, metrics, parameter counts, JAX↔PyTorch parity, synthetic end to end."""

import dataclasses

import jax
import numpy as np
import pytest
import torch
from flax import traverse_util

from algoperf import api
from algoperf.api import ForwardPassMode, ParameterType
from algoperf.workloads import _tfds, get_workload
from algoperf.workloads._params import jax_to_torch
from algoperf.workloads._pipeline import ProcessShare
from algoperf.workloads.ogbg import data
from algoperf.workloads.ogbg.config import CONFIGS
from algoperf.workloads.ogbg.graphs import (
    Budget,
    GraphDataset,
    GraphSplit,
    pad_graphs,
)
from algoperf.workloads.ogbg.metrics import graph_metrics, mean_average_precision
from algoperf.workloads.ogbg.param_map import PARAM_MAPS
from algoperf.workloads.testing import assert_fp32_close

NAMES = tuple(CONFIGS)
# JAX and PyTorch differ only in the order of fp32 sums and in their kernels (see
# `fp32_tolerance`); the longest sum is a gradient's over every edge of the batch: 16 graphs
# of up to 64 (padded) edges. The embeddings' gradients flow back through the decoder and,
# in every message-passing step, the edge then the node update MLP (`_layers`), each layer
# adding its rounding: a deep chain, unlike the other workloads' few layers.
REDUCTION = 16 * 64


def _layers(name):
    """Dense layers on the longest backward path: embedding, steps x (edge, node MLP), decoder."""
    config = CONFIGS[name]
    return 2 + config.num_message_passing_steps * 2 * len(config.hidden_dims)


@pytest.fixture(scope="module")
def split():
    return data.synthetic_split(40, seed=3)


def _np(x):
    """A JAX array or a torch tensor as numpy."""
    return x.detach().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def test_padded_sub_batch_budgets_masks_and_bidirectional_edges(split):
    budget = Budget.for_batch_size(4)
    assert budget == Budget(nodes=105, edges=224, graphs=5)
    batch = pad_graphs(split, [0, 1, 2], budget)
    g = batch["inputs"]
    assert g.nodes.shape == (105, 9)
    assert g.edges.shape == (224, 3)
    assert g.nodes.dtype == g.edges.dtype == np.float32
    assert g.senders.dtype == g.n_node.dtype == np.int32
    np.testing.assert_array_equal(g.n_node[:3], split.n_node[:3])
    np.testing.assert_array_equal(g.n_edge[:3], 2 * split.n_edge[:3])
    assert (g.n_node.sum(), g.n_edge.sum()) == (105, 224)
    assert g.n_node[4] == g.n_edge[4] == 0
    real_nodes, real_edges = split.n_node[:3].sum(), 2 * split.n_edge[:3].sum()
    # Padding edges join the first padding node to itself; real edges stay inside their graph.
    assert (g.senders[real_edges:] == real_nodes).all()
    assert (g.receivers[real_edges:] == real_nodes).all()
    first = 2 * split.n_edge[0]
    fwd, back = g.senders[: first // 2], g.senders[first // 2 : first]
    np.testing.assert_array_equal(fwd, g.receivers[first // 2 : first])
    np.testing.assert_array_equal(back, g.receivers[: first // 2])
    assert g.senders[:first].max() < split.n_node[0]
    labelled = ~np.isnan(split.labels[:3])
    np.testing.assert_array_equal(batch["weights"][:3], labelled)
    assert not batch["weights"][3:].any()
    assert not np.isnan(batch["targets"]).any()
    np.testing.assert_array_equal(batch["targets"][:3][labelled], split.labels[:3][labelled])


def test_global_batches_pack_whole_graphs_and_each_process_builds_its_own(split):
    ds = GraphDataset({"train": split, "validation": split}, num_shards=4)
    batches = list(ds.eval_batches("validation", 16))
    budget = Budget.for_batch_size(4)
    seen = 0
    for batch in batches:
        g = batch["inputs"]
        assert (len(g.nodes), len(g.n_node)) == (4 * budget.nodes, 4 * budget.graphs)
        # Indices are global: each edge stays within its own sub-batch's node range.
        sub = np.arange(len(g.senders)) // budget.edges
        np.testing.assert_array_equal(g.senders // budget.nodes, sub)
        np.testing.assert_array_equal(g.receivers // budget.nodes, sub)
        seen += int((batch["weights"].sum(axis=1) > 0).sum())
    assert seen == len(split)  # every graph once (all synthetic graphs have labels)
    for whole, local in zip(
        batches, ds.eval_batches("validation", 16, share=ProcessShare(1, 2)), strict=True
    ):
        # The second process builds only the last two sub-batches, its node indices local.
        assert len(local["inputs"].nodes) == 2 * budget.nodes
        senders = local["inputs"].senders
        assert 0 <= senders.min() <= senders.max() < 2 * budget.nodes
        np.testing.assert_array_equal(
            senders + 2 * budget.nodes, whole["inputs"].senders[2 * budget.edges :]
        )
        np.testing.assert_array_equal(local["weights"], whole["weights"][2 * budget.graphs :])
    with pytest.raises(ValueError, match="not divisible by the 3 processes"):
        ds.eval_batches("validation", 16, share=ProcessShare(0, 3))
    with pytest.raises(ValueError, match="not divisible by the 4 graph sub-batches"):
        next(ds.train_batches(0, 18))


def test_a_training_stream_resumes_from_its_position(split):
    ds = GraphDataset({"train": split}, num_shards=2)
    stream = ds.train_batches(4, 8)
    reference = [next(stream) for _ in range(6)]
    resumed = ds.train_batches(4, 8)
    first = ds.train_batches(4, 8)
    for _ in range(3):
        next(first)
    resumed.set_state(first.get_state())
    for expected in reference[3:]:
        got = next(resumed)
        np.testing.assert_array_equal(got["inputs"].nodes, expected["inputs"].nodes)
        np.testing.assert_array_equal(got["weights"], expected["weights"])


def test_a_graph_over_budget_is_an_error(split):
    assert split.n_node.max() >= Budget.for_batch_size(1).nodes  # precondition
    with pytest.raises(ValueError, match="exceeds the batch budget"):
        list(GraphDataset({"validation": split}, 1).eval_batches("validation", 1))


def test_metrics_skip_undefined_tasks_and_ignore_masked_entries():
    labels = np.array([[1, 0, 1], [0, 0, 1], [1, 0, 0], [0, 1, 1]], np.float32)
    logits = np.array([[2, 0, 1], [-1, 0, 3], [0.5, 0, -2], [5, 9, 0]], np.float32)
    weights = np.ones_like(labels)
    weights[3] = 0.0  # a padding graph: its task-1 positive must not count
    # Task 0: positives score 2 and 0.5, negative -1 -> AP 1. Task 1 has no positive left.
    # Task 2: positives 1 and 3, negative -2 -> AP 1.
    assert mean_average_precision(logits, labels, weights) == 1.0
    weights[1, 2] = 0.0  # unlabelled: task 2 keeps one positive (score 1) and one negative
    logits[2, 2] = 2.0  # which now outranks it: AP of task 2 = 1/2
    assert mean_average_precision(logits, labels, weights) == pytest.approx((1 + 0.5) / 2)
    metrics = graph_metrics(logits, labels, weights)
    count = weights.sum()
    assert metrics["accuracy"] == pytest.approx(((logits > 0) == labels)[weights > 0].sum() / count)
    assert metrics["num_examples"] == 3.0
    assert np.isnan(mean_average_precision(logits, labels, np.zeros_like(labels)))


@pytest.mark.parametrize("name", NAMES)
def test_parameter_counts_match_the_registry(name):
    jax_w = get_workload(name, "jax", synthetic=True)
    jax_count = sum(p.size for p in jax.tree.leaves(jax_w.abstract_params()))
    with torch.device("meta"):
        model = get_workload(name, "pytorch").build_model()
    torch_count = sum(p.numel() for p in model.parameters())
    assert jax_count == torch_count == api.get_workload_spec(name).num_params


@pytest.fixture(
    scope="module",
    # The variants differ from ogbg only in the model: slow.
    params=[n if n == "ogbg" else pytest.param(n, marks=pytest.mark.slow) for n in NAMES],
)
def pair(request):
    """JAX and PyTorch workloads of one name, JAX parameters copied into torch, and a batch."""
    jax_w = get_workload(request.param, "jax", synthetic=True, graph_shards=2)
    torch_w = get_workload(request.param, "pytorch", synthetic=True, graph_shards=2)
    params, _ = jax_w.init_model_fn(jax.random.PRNGKey(0))
    model, _ = torch_w.init_model_fn(1)
    flat = traverse_util.flatten_dict(jax.device_get(params))
    state = jax_to_torch(flat, PARAM_MAPS[request.param])
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    batch = next(jax_w.numpy_batches(0, "train", None, 16))
    return jax_w, torch_w, params, model, batch


def _modes(name):
    """Both modes for the base workload; variants differ only in the model, so TRAIN."""
    return (
        (ForwardPassMode.TRAIN, ForwardPassMode.EVAL)
        if name == "ogbg"
        else (ForwardPassMode.TRAIN,)
    )


def test_outputs_loss_and_gradients_agree(pair):
    jax_w, torch_w, params, model, batch = pair
    for mode in _modes(jax_w.name):
        placed = jax_w.place_batch(batch)

        def loss_of(p, placed=placed, mode=mode):
            logits, _ = jax_w.model_fn(p, placed, None, mode, None, True, 0.0)
            out = jax_w.loss_fn(placed["targets"], logits, placed["weights"], 0.1)
            return out["summed"] / out["n_valid_examples"], logits

        grad_fn = jax.jit(jax.value_and_grad(loss_of, has_aux=True))
        (jax_loss, jax_logits), jax_grads = grad_fn(params)
        t_batch = torch_w.place_batch(batch)
        model.zero_grad()
        logits, _ = torch_w.model_fn(model, t_batch, None, mode, None, True, 0.0)
        out = torch_w.loss_fn(t_batch["targets"], logits, t_batch["weights"], 0.1)
        loss = out["summed"] / out["n_valid_examples"]
        layers = _layers(jax_w.name)
        tol = {"n": REDUCTION, "layers": layers}
        assert_fp32_close(logits.detach().numpy(), jax_logits, **tol, name="logits")
        assert_fp32_close(loss.item(), jax_loss, **tol, name="loss")
        if mode is ForwardPassMode.TRAIN:
            loss.backward()
            flat = traverse_util.flatten_dict(jax.device_get(jax_grads))
            expected = jax_to_torch(flat, PARAM_MAPS[jax_w.name])
            for name, p in model.named_parameters():
                assert_fp32_close(p.grad.numpy(), expected[name], **tol, name=name)


def test_node_and_edge_embeddings_are_typed_as_embeddings(pair):
    """As the reference types them in both frameworks; their biases stay biases."""
    jax_w, torch_w, _, _, _ = pair
    embedding, bias = ParameterType.EMBEDDING, ParameterType.BIAS
    jax_types = traverse_util.flatten_dict(jax_w.model_params_types, sep="/")
    torch_types = torch_w.model_params_types
    for layer in ("node_embedding", "edge_embedding"):
        assert jax_types[f"{layer}/kernel"] is torch_types[f"{layer}.weight"] is embedding
        assert jax_types[f"{layer}/bias"] is torch_types[f"{layer}.bias"] is bias
    assert list(jax_types.values()).count(embedding) == 2
    assert sorted(jax_types.values(), key=str) == sorted(torch_types.values(), key=str)


def test_loss_masks_labels_and_smooths_over_tasks(pair):
    jax_w, torch_w, _, _, _ = pair
    labels = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    logits = np.array([[3.0, -800.0], [800.0, 0.0]], np.float32)
    mask = np.array([[1.0, 1.0], [0.0, 1.0]], np.float32)
    # y (1 - s) + s / T with T = 2 tasks; entry (1, 0) is masked.
    s = 0.2
    y = labels * (1 - s) + s / 2
    bce = np.logaddexp(0, logits) - logits * y
    expected = (bce * mask).sum()
    for w, convert in ((jax_w, np.asarray), (torch_w, torch.from_numpy)):
        out = w.loss_fn(convert(labels), convert(logits), convert(mask), s)
        assert float(out["summed"]) == pytest.approx(expected, rel=1e-6)
        assert float(out["n_valid_examples"]) == 3.0
        assert np.asarray(out["per_example"]).shape == (2,)


@pytest.mark.parametrize("framework", [pytest.param("jax", marks=pytest.mark.slow), "pytorch"])
def test_synthetic_batch_end_to_end(framework):
    workload = get_workload("ogbg", framework, synthetic=True)
    rng = jax.random.PRNGKey(0) if framework == "jax" else 0
    params, state = workload.init_model_fn(rng)
    batch = next(workload.build_input_queue(rng, "train", None, 32))
    train = ForwardPassMode.TRAIN
    model_fn = (
        jax.jit(workload.model_fn, static_argnums=3) if framework == "jax" else workload.model_fn
    )
    logits, _ = model_fn(params, batch, state, train, rng, True)
    assert tuple(logits.shape) == (33, 128)  # 32 graphs + 1 padding graph per device
    loss = workload.loss_fn(batch["targets"], logits, batch["weights"])
    assert np.isfinite(_np(loss["summed"]))
    assert _np(loss["n_valid_examples"]) > 0
    result = workload.eval_model(128, params, state, rng, None)
    assert result["validation/num_examples"] == data.SYNTHETIC_SIZES["validation"]
    assert 0.0 < result["validation/mean_average_precision"] < 1.0
    assert set(result) == {
        f"{split}/{m}"
        for split in ("train", "validation", "test")
        for m in ("loss", "accuracy", "mean_average_precision")
    } | {"validation/num_examples", "test/num_examples"}
    names = params if framework == "jax" else dict(params.named_parameters())
    assert [k for k in names if workload.is_output_params(k)] == (
        ["decoder"] if framework == "jax" else ["decoder.weight", "decoder.bias"]
    )


# --- Real data: TFDS ogbg_molpcba records, served by a mock data source -----------------------


def _tfds_records(split: GraphSplit) -> list[dict[str, np.ndarray]]:
    """`split`'s graphs as TFDS ogbg_molpcba:0.1.3 records (bonds once, int64 indices)."""
    records = []
    for i in range(len(split)):
        nodes, edges, index = split.graph(i)
        bonds = len(edges) // 2  # graph() returns each bond in both directions; TFDS stores one
        records.append(
            {
                "num_nodes": np.array([len(nodes)], np.int64),
                "node_feat": nodes,
                "num_edges": np.array([bonds], np.int64),
                "edge_feat": edges[:bonds],
                "edge_index": index[:bonds].astype(np.int64),
                "labels": split.labels[i],
            }
        )
    return records


@pytest.fixture
def molpcba(monkeypatch):
    """Fake molpcba splits, served through `tfds.data_source` to the real reading code."""
    tfds = pytest.importorskip("tensorflow_datasets")
    splits = {"train": data.synthetic_split(48, 11), "validation": data.synthetic_split(20, 12)}
    splits["test"] = data.synthetic_split(16, 13)
    records = {name: _tfds_records(s) for name, s in splits.items()}

    def as_data_source(builder, split, **kwargs):
        del kwargs
        assert builder.name == "ogbg_molpcba"
        assert str(builder.version) == "0.1.3"
        return records[split]

    with tfds.testing.mock_data(as_data_source_fn=as_data_source):
        yield splits, records


def test_tfds_molpcba_records_load_as_graph_splits(molpcba):
    splits, _ = molpcba
    loaded = data.load_splits("/no/such/dir")  # mocked: TFDS never looks at it
    assert set(loaded) == {"train", "validation", "test"}
    for name, expected in splits.items():
        got = loaded[name]
        for field in ("nodes", "edges", "edge_index", "n_node", "n_edge", "labels"):
            want, have = getattr(expected, field), getattr(got, field)
            assert have.dtype == want.dtype, field
            np.testing.assert_array_equal(have, want, err_msg=field)  # NaN labels kept
    assert np.isnan(loaded["train"].labels).any()
    # Batching makes the stored bonds bidirectional, as for synthetic data.
    batch = pad_graphs(loaded["train"], [0], Budget.for_batch_size(2))
    assert batch["inputs"].n_edge[0] == 2 * splits["train"].n_edge[0]


def test_inconsistent_molpcba_records_are_an_error(molpcba):
    _, records = molpcba
    records["validation"][3]["edge_index"][0, 1] = 99  # a bond to a node the graph lacks
    with pytest.raises(ValueError, match=r"validation: inconsistent records.*outside its graph"):
        data.load_splits(None)


def test_missing_tfds_data_names_the_prepare_command(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    workload = get_workload("ogbg", "pytorch")
    with pytest.raises(_tfds.DatasetNotPreparedError, match="prepare ogbg_molpcba --data-dir"):
        next(workload.build_input_queue(0, "train", str(tmp_path), 16))


@pytest.mark.usefixtures("molpcba")
def test_tfds_data_end_to_end():
    sizes = {
        "num_train_examples": 48,
        "num_eval_train_examples": 24,
        "num_validation_examples": 20,
        "num_test_examples": 16,
    }
    spec = dataclasses.replace(api.get_workload_spec("ogbg"), **sizes)
    workload = type(get_workload("ogbg", "pytorch"))(spec)
    assert not workload.synthetic
    rng = 0
    params, state = workload.init_model_fn(rng)
    batch = next(workload.build_input_queue(rng, "train", "/data", 16))
    assert batch["inputs"].nodes.shape == (Budget.for_batch_size(16).nodes, 9)
    logits, _ = workload.model_fn(params, batch, state, ForwardPassMode.EVAL, rng, False)
    assert tuple(logits.shape) == (17, 128)
    result = workload.eval_model(16, params, state, rng, "/data")
    assert result["validation/num_examples"] == 20  # the mocked records, not synthetic data
    assert result["test/num_examples"] == 16
    assert 0.0 < result["validation/mean_average_precision"] < 1.0
    assert np.isfinite(result["train/loss"])

"""wmt: parameter counts, JAX↔PyTorch parity with packing, beam search, packing, BLEU."""

import dataclasses
import math

import jax
import numpy as np
import pytest
import torch
from flax import traverse_util

from algoperf import api
from algoperf.workloads import get_workload
from algoperf.workloads._params import jax_to_torch
from algoperf.workloads._pipeline import ProcessShare
from algoperf.workloads.testing import assert_fp32_close
from algoperf.workloads.wmt import data, jax_decode, jax_model, torch_decode, torch_model
from algoperf.workloads.wmt.bleu import corpus_bleu, sentence_ids
from algoperf.workloads.wmt.config import CONFIGS, EOS_ID, TransformerConfig
from algoperf.workloads.wmt.jax_workload import token_cross_entropy as jax_cross_entropy
from algoperf.workloads.wmt.param_map import PARAM_MAPS, param_map
from algoperf.workloads.wmt.torch_workload import token_cross_entropy as torch_cross_entropy

NAMES = tuple(CONFIGS)
SMALL = TransformerConfig(
    vocab_size=64, emb_dim=32, num_heads=4, num_layers=2, qkv_dim=32, mlp_dim=48, max_len=16
)
"""2 + 2 layers of width 32: every code path of the full model, in milliseconds."""
# fp32 tolerance: the longest sum is a gradient's over the batch's 4 x 16 tokens (the
# embedding's over every token and the logits); the chain is embedding, 2 encoder blocks
# (attention, MLP), 2 decoder blocks (self, cross attention, MLP) and the logits.
REDUCTION = 4 * 16 * 4
LAYERS = 1 + 2 * 2 + 2 * 3 + 1


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_full_size_parameter_counts(name):
    """Registry = configuration = JAX (`eval_shape`) = PyTorch (meta device), and the name
    table covers both full-size models exactly."""
    config = CONFIGS[name]
    workload = get_workload(name, "jax", synthetic=True)
    shapes = traverse_util.flatten_dict(workload.abstract_params())  # type: ignore[attr-defined]
    jax_count = sum(math.prod(s.shape) for s in shapes.values())
    with torch.device("meta"):
        model = torch_model.Transformer(config)
    torch_shapes = {k: tuple(p.shape) for k, p in model.named_parameters()}
    assert api.get_workload_spec(name).num_params == config.num_params == jax_count
    assert sum(math.prod(s) for s in torch_shapes.values()) == jax_count
    table = PARAM_MAPS[name]
    assert set(table) == set(shapes)
    assert {t for t, _ in table.values()} == set(torch_shapes)
    for path, (torch_name, layout) in table.items():
        moved = layout.to_torch(np.empty(shapes[path].shape, np.float32))
        assert moved.shape == torch_shapes[torch_name], (path, torch_name)


def test_reference_counts_of_the_variants():
    """From the reference's configuration: GLU adds a 1024x1024 Dense (+ bias) per layer of
    both stacks; post-LN drops the final encoder and decoder LayerNorms."""
    base = 133_521_408
    assert CONFIGS["wmt_glu_tanh"].num_params == base + 12 * (1024 * 1024 + 1024)
    assert CONFIGS["wmt_post_ln"].num_params == base - 2 * 2 * 1024
    assert CONFIGS["wmt_attention_temp"].num_params == base


def _pair(config, seed=0):
    """A JAX Transformer's parameters and the PyTorch model holding the same weights."""
    model = jax_model.Transformer(config)
    ones = np.ones((2, config.max_len), np.int32)
    params = model.init(jax.random.PRNGKey(seed), {"inputs": ones, "targets": ones})["params"]
    flat = traverse_util.flatten_dict(params)
    rng = np.random.default_rng(seed)
    # LayerNorms start at (1, 0): perturb them so a mis-mapped one shows.
    flat = {
        k: v + 0.1 * rng.random(v.shape, np.float32) if np.ptp(v) == 0 else v
        for k, v in flat.items()
    }
    torch_net = torch_model.Transformer(config)
    weights = jax_to_torch(flat, param_map(config))
    torch_net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    return model, traverse_util.unflatten_dict(flat), torch_net


@pytest.fixture(scope="module")
def packed_batch():
    split = data.synthetic_split(40, seed=5, vocab_size=SMALL.vocab_size, max_len=SMALL.max_len)
    stream = data.WmtDataset({"train": split}, SMALL.max_len).train_batches(7, 4)
    batch = next(stream)
    assert (batch["inputs_segmentation"].max(axis=1) >= 2).any(), "no row packs two pairs"
    return batch


@pytest.mark.parametrize(
    "variant",
    [
        {},  # 2 + 2 layers: the layers' order in the name table
        # 1 + 1 layers: each variant's own code path (the contract suite checks their logits)
        pytest.param({"pre_ln": False, "num_layers": 1}, marks=pytest.mark.slow),
        pytest.param({"attention_temp": 4.0, "num_layers": 1}, marks=pytest.mark.slow),
        pytest.param({"glu": True, "activation": "tanh", "num_layers": 1}, marks=pytest.mark.slow),
    ],
)
@pytest.mark.slow
def test_jax_and_pytorch_logits_loss_and_gradients_agree_on_packed_rows(variant, packed_batch):
    config = dataclasses.replace(SMALL, **variant)
    model, params, torch_net = _pair(config)
    batch = packed_batch
    weights = batch["weights"]

    def jax_loss(p):
        logits = model.apply({"params": p}, batch, train=False)
        loss = (jax_cross_entropy(batch["targets"], logits, 0.1) * weights).sum() / weights.sum()
        return loss, logits

    # Op by op: the variants share the compiled primitives, which is cheaper than a jit each.
    (loss, logits), grads = jax.value_and_grad(jax_loss, has_aux=True)(params)
    tb = {k: torch.from_numpy(v) for k, v in batch.items()}
    torch_logits = torch_net(tb, dropout_rate=0.0)
    tw = tb["weights"]
    torch_loss = (torch_cross_entropy(tb["targets"], torch_logits, 0.1) * tw).sum() / tw.sum()
    torch_loss.backward()
    assert_fp32_close(torch_logits.detach().numpy(), np.asarray(logits), n=REDUCTION, name="logits")
    assert_fp32_close(torch_loss.item(), float(loss), n=REDUCTION, name="loss")
    jax_grads = jax_to_torch(traverse_util.flatten_dict(grads), param_map(config))
    for name, p in torch_net.named_parameters():
        assert_fp32_close(p.grad.numpy(), jax_grads[name], n=REDUCTION, layers=LAYERS, name=name)


@pytest.mark.slow
def test_a_packed_row_computes_each_pair_as_if_alone(packed_batch):
    """The segmentation masks and positions: a packed pair's encoding is its encoding alone,
    and so are the first pair's logits.

    Later pairs' logits differ, as in the reference: shifting the targets right runs over the
    whole packed row, so a later pair's first decoder input is the previous pair's EOS
    rather than 0.
    """
    model, params, _ = _pair(SMALL)
    batch = packed_batch
    row = int(np.argmax(batch["inputs_segmentation"].max(axis=1)))
    in_seg, out_seg = batch["inputs_segmentation"][row], batch["targets_segmentation"][row]

    @jax.jit
    def encode(b):
        return model.apply(
            {"params": params},
            b["inputs"],
            b.get("inputs_position"),
            b.get("inputs_segmentation"),
            method=model.encode,
        )

    apply = jax.jit(lambda b: model.apply({"params": params}, b))
    encoded, logits = np.asarray(encode(batch)), np.asarray(apply(batch))
    for segment in range(1, int(in_seg.max()) + 1):
        x = batch["inputs"][row][in_seg == segment]
        y = batch["targets"][row][out_seg == segment]
        alone = {k: np.zeros((1, SMALL.max_len), np.int32) for k in ("inputs", "targets")}
        alone["inputs"][0, : len(x)], alone["targets"][0, : len(y)] = x, y
        assert_fp32_close(
            encoded[row][in_seg == segment],
            np.asarray(encode(alone))[0, : len(x)],
            n=SMALL.emb_dim,
            layers=LAYERS,
            name=f"encoding of pair {segment}",
        )
        if segment == 1:
            alone_logits = np.asarray(apply(alone))
            assert_fp32_close(
                logits[row][out_seg == 1],
                alone_logits[0, : len(y)],
                n=SMALL.emb_dim,
                layers=LAYERS,
                name="logits of pair 1",
            )


@pytest.mark.slow
def test_beam_search_gives_the_same_hypotheses_in_jax_and_pytorch():
    config = dataclasses.replace(SMALL, max_len=12)
    _, params, torch_net = _pair(config, seed=2)
    # Make EOS likely and padding (0) unlikely, so that some hypotheses end early and some
    # reach the maximum length without EOS: both the finished and the live path.
    embedding = np.asarray(params["shared_embedding"]["embedding"]).copy()
    embedding[0] *= 0.1
    embedding[EOS_ID] *= 3.0
    params["shared_embedding"]["embedding"] = embedding
    with torch.no_grad():
        torch_net.shared_embedding.weight.copy_(torch.from_numpy(embedding))
    rng = np.random.default_rng(0)
    inputs = rng.integers(3, config.vocab_size, (6, config.max_len)).astype(np.int32)
    for i, n in enumerate([12, 9, 5, 3, 7, 1]):
        inputs[i, n:] = 0
    decoder = jax_model.Transformer(config, decode=True)
    jax_out = np.asarray(
        jax.jit(lambda p, x: jax_decode.translate(p, x, decoder, config.max_len))(params, inputs)
    )
    torch_net.eval()
    torch_out = torch_decode.beam_search(torch_net, torch.from_numpy(inputs), config.max_len)
    np.testing.assert_array_equal(torch_out.numpy(), jax_out)
    ended = [(r == EOS_ID).any() for r in jax_out]
    assert any(ended), jax_out
    assert not all(ended), jax_out
    assert len({len(sentence_ids(r)) for r in jax_out}) > 2, jax_out


def _packed_rows(batch):
    """Each row's pairs as (input ids, target ids) tuples."""
    pairs = []
    for r in range(len(batch["inputs"])):
        for s in range(1, int(batch["inputs_segmentation"][r].max()) + 1):
            x = batch["inputs"][r][batch["inputs_segmentation"][r] == s]
            y = batch["targets"][r][batch["targets_segmentation"][r] == s]
            pairs.append((tuple(x), tuple(y)))
    return pairs


def test_packing_is_deterministic_complete_and_independent_of_processes():
    split = data.synthetic_split(30, seed=1, vocab_size=50, max_len=16)
    dataset = data.WmtDataset({"train": split}, 16)
    one = dataset.train_batches(3, 8)
    batches = [next(one) for _ in range(6)]
    for b in batches:
        assert b["inputs"].shape == b["inputs_position"].shape == (8, 16)
        np.testing.assert_array_equal(b["weights"], b["targets"] > 0)
        for r in range(8):  # positions restart at 0 in every segment
            seg, pos = b["inputs_segmentation"][r], b["inputs_position"][r]
            starts = np.flatnonzero(np.diff(np.concatenate([[0], seg])) != 0)
            assert all(pos[s] == 0 for s in starts if seg[s] > 0)
    # Every pair of the first epoch appears once, in whole.
    packed = [p for b in batches for p in _packed_rows(b)]
    assert len(packed) >= len(split)
    first_epoch = packed[: len(split)]
    assert sorted(first_epoch) == sorted(
        (tuple(x), tuple(y)) for x, y in (split.pair(i) for i in range(len(split)))
    )
    # Two processes build the two halves of the same rows; the same seed repeats them.
    halves = [dataset.train_batches(3, 8, ProcessShare(i, 2)) for i in range(2)]
    again = dataset.train_batches(3, 8)
    for b in batches:
        parts = [next(h) for h in halves]
        for key, value in b.items():
            np.testing.assert_array_equal(np.concatenate([p[key] for p in parts]), value)
            np.testing.assert_array_equal(next(again)[key] if key == "inputs" else value, value)


def test_eval_batches_pad_rows_and_cut_nothing_that_fits():
    split = data.synthetic_split(5, seed=2, vocab_size=50, max_len=16)
    batches = list(data.WmtDataset({"validation": split}, 16).eval_batches("validation", 4))
    assert len(batches) == 2
    assert set(batches[0]) == {"inputs", "targets", "weights"}
    assert batches[1]["weights"][1:].sum() == 0
    x, y = split.pair(4)
    np.testing.assert_array_equal(batches[1]["inputs"][0, : len(x)], x)
    np.testing.assert_array_equal(batches[1]["targets"][0, : len(y)], y)


def _independent_bleu(hyps, refs):
    """BLEU-4 from its definition (whitespace tokens; exp smoothing of zero counts)."""
    matches, totals = [0] * 4, [0] * 4
    hyp_len = ref_len = 0
    for h, r in zip(hyps, refs, strict=True):
        h, r = h.split(), r.split()
        hyp_len, ref_len = hyp_len + len(h), ref_len + len(r)
        for n in range(1, 5):
            grams = [tuple(h[i : i + n]) for i in range(len(h) - n + 1)]
            ref_grams = [tuple(r[i : i + n]) for i in range(len(r) - n + 1)]
            totals[n - 1] += len(grams)
            matches[n - 1] += sum(min(grams.count(g), ref_grams.count(g)) for g in set(grams))
    smooth, log_p = 1.0, 0.0
    for m, t in zip(matches, totals, strict=True):
        if m == 0:
            smooth *= 2
            log_p += math.log(100.0 / (smooth * t))
        else:
            log_p += math.log(100.0 * m / t)
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return bp * math.exp(log_p / 4)


def test_corpus_bleu_follows_its_definition():
    refs = ["the cat sat on the mat", "a b c d e f g", "there is a house in new orleans"]
    assert corpus_bleu(refs, refs) == pytest.approx(100.0)
    hyps = ["the cat sat on a mat", "a b c x e f", "there is a home in new orleans"]
    assert corpus_bleu(hyps, refs) == pytest.approx(_independent_bleu(hyps, refs), rel=1e-9)
    short = ["the cat x y", "a b c", "house"]  # brevity penalty, no 4-gram match (smoothing)
    assert corpus_bleu(short, refs) == pytest.approx(_independent_bleu(short, refs), rel=1e-9)


def test_sentence_ids_stop_at_eos_and_drop_padding():
    assert sentence_ids(np.array([5, 7, EOS_ID, 9, 0])) == [5, 7]
    assert sentence_ids(np.array([5, 7, 9, 0, 0])) == [5, 7, 9]

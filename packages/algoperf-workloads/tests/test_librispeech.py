"""LibriSpeech: front-end, SpecAugment, CTC, decoding and WER, JAX↔PyTorch parity of both models
and every variant at reduced size, and the full-size parameter counts.

Models are compared from the same weights: PyTorch's initial ones, copied into JAX through the
inverse of `param_map`'s table (so no JAX initialisation is compiled).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import traverse_util

from algoperf import api
from algoperf.workloads._params import Layout
from algoperf.workloads.librispeech import config as C
from algoperf.workloads.librispeech import jax_model, metrics, torch_model
from algoperf.workloads.librispeech.jax_workload import ctc_loss_output as jax_ctc
from algoperf.workloads.librispeech.param_map import param_map, state_map
from algoperf.workloads.librispeech.torch_workload import ctc_loss_output as torch_ctc
from algoperf.workloads.testing import assert_fp32_close

NAMES = tuple(C.CONFIGS)
AUDIO = 4_000  # samples: 23 frames, 6 model frames
SMALL = {
    C.ConformerConfig: {"encoder_dim": 16, "num_attention_heads": 2, "num_encoder_layers": 1},
    C.DeepSpeechConfig: {"encoder_dim": 16, "num_lstm_layers": 1, "num_ffn_layers": 1},
}


def _audio(batch: int, length: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Speech-scale random audio with example lengths from half to full, and its paddings."""
    rng = np.random.default_rng(seed)
    audio = rng.normal(0, 2000, (batch, length)).astype(np.float32).round()
    lengths = np.linspace(length // 2, length, batch).astype(int)
    paddings = (np.arange(length)[None] >= lengths[:, None]).astype(np.float32)
    return audio, paddings


# --- front-end ---------------------------------------------------------------------------------


def _reference_log_mel(audio: np.ndarray, paddings: np.ndarray) -> np.ndarray:
    """The reference's front-end in float64 numpy: np.fft, np.hanning, the tf mel matrix."""
    x = audio.astype(np.float64) * (1 - paddings) * 2.0**-15
    n = (x.shape[1] - 401) // 160 + 1
    frames = np.stack([x[:, i * 160 : i * 160 + 401] for i in range(n)], axis=1)
    pre = np.concatenate([frames[..., :1] * 0.03, frames[..., 1:-1] - 0.97 * frames[..., :-2]], -1)
    spectrum = np.abs(np.fft.rfft(pre * np.hanning(401)[:-1], 512, axis=-1)) ** 2

    def mel(f: Any) -> Any:
        return 1127.0 * np.log(1.0 + np.asarray(f) / 700.0)

    bins = mel(np.linspace(0, 8000, 257)[1:])[:, None]
    edges = np.linspace(mel(125.0), mel(7600.0), 82)
    lo, mid, hi = edges[:-2], edges[1:-1], edges[2:]
    weights = np.maximum(0, np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)))
    mels = spectrum @ np.pad(weights, [(1, 0), (0, 0)])
    logmel = np.log(np.maximum(mels, 1e-5))
    return (logmel - np.array(C.LIBRISPEECH_MEAN)) / np.array(C.LIBRISPEECH_STD)


def test_log_mel_matches_the_reference_formula_in_both_frameworks() -> None:
    audio, paddings = _audio(3, 8_000)
    expected = _reference_log_mel(audio, paddings)
    jax_features, jax_pads = jax.jit(jax_model.log_mel)(audio, paddings)
    torch_features, torch_pads = torch_model.LogMel()(
        torch.from_numpy(audio), torch.from_numpy(paddings)
    )
    # A frame is padding when all its samples are: frames starting at or past the length.
    lengths = (1 - paddings).sum(1)
    starts = np.arange(C.num_frames(8_000)) * C.FRAME_STEP
    want_pads = (starts[None] >= lengths[:, None]).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(jax_pads), want_pads)
    np.testing.assert_array_equal(torch_pads.numpy(), want_pads)
    # log amplifies the FFT's rounding in near-silent bins relative to the frame's energy; the
    # features are O(1), so compare them as absolute errors of the 512-point sums.
    for name, got in (("jax", np.asarray(jax_features)), ("torch", torch_features.numpy())):
        assert_fp32_close(got, expected, n=C.FFT_SIZE, layers=2, name=name)
    assert_fp32_close(torch_features.numpy(), np.asarray(jax_features), n=C.FFT_SIZE, layers=2)


def test_log_mel_ignores_what_lies_in_the_padding() -> None:
    audio, paddings = _audio(2, 8_000)
    noisy = np.where(paddings > 0, 12345.0, audio).astype(np.float32)
    log_mel = jax.jit(jax_model.log_mel)
    a, _ = log_mel(audio, paddings)
    b, _ = log_mel(noisy, paddings)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# --- SpecAugment -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["librispeech_conformer", "librispeech_deepspeech_norm_and_spec_aug"]
)
def test_spec_augment_masks_agree_and_respect_their_bounds(name: str) -> None:
    cfg = C.CONFIGS[name].specaug
    batch, time, bins = 6, 300, C.NUM_MEL_BINS
    features = np.random.default_rng(0).normal(size=(batch, time, bins)).astype(np.float32) + 5
    lengths = np.array([300, 250, 200, 100, 20, 1])
    paddings = (np.arange(time)[None] >= lengths[:, None]).astype(np.float32)
    draws = np.random.default_rng(1).random(
        (4, batch, max(cfg.time_mask_count, cfg.freq_mask_count))
    )
    counts = (cfg.time_mask_count,) * 2 + (cfg.freq_mask_count,) * 2
    uniforms = tuple(d[:, :n].astype(np.float32) for d, n in zip(draws, counts, strict=True))
    augment = jax.jit(jax_model.spec_augment, static_argnums=3)
    got = np.asarray(augment(features, paddings, uniforms, cfg))
    got_torch = torch_model.spec_augment(
        torch.from_numpy(features),
        torch.from_numpy(paddings),
        tuple(torch.from_numpy(np.array(u)) for u in uniforms),
        cfg,
    ).numpy()
    np.testing.assert_array_equal(got_torch, got)
    masked = got == 0
    time_masked = masked.all(axis=2)  # whole frames
    freq_masked = masked.all(axis=1)  # whole bins
    for b, length in enumerate(lengths):
        frames = np.flatnonzero(time_masked[b])
        assert np.all(frames < length)  # only valid frames
        per_mask = max(int(cfg.time_mask_max_ratio * length), 1)
        assert len(frames) <= cfg.time_mask_count * per_mask
        assert freq_masked[b].sum() <= cfg.freq_mask_count * cfg.freq_mask_max_bins
    assert time_masked.any()
    assert freq_masked.any()
    # Everything else is untouched.
    keep = ~(time_masked[:, :, None] | freq_masked[:, None, :])
    np.testing.assert_array_equal(got[keep], features[keep])


# --- CTC, decoding, WER --------------------------------------------------------------------------


def _ctc_case() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(0)
    batch, time, vocab, labels = 4, 20, 7, 6
    logits = rng.normal(size=(batch, time, vocab)).astype(np.float32)
    logit_pads = (np.arange(time)[None] >= np.array([20, 15, 12, 9])[:, None]).astype(np.float32)
    ids = rng.integers(1, vocab, (batch, labels)).astype(np.int32)
    ids[0, 1] = ids[0, 0]  # a repeat needs a blank between
    label_pads = (np.arange(labels)[None] >= np.array([6, 4, 1, 3])[:, None]).astype(np.float32)
    ids = (ids * (1 - label_pads)).astype(np.int32)
    return logits, logit_pads, ids, label_pads


def test_optax_and_torch_ctc_losses_and_gradients_agree() -> None:
    logits, logit_pads, ids, label_pads = _ctc_case()
    weights = np.array([1, 1, 1, 0], np.float32)

    def jax_loss(x: jax.Array) -> tuple[jax.Array, Any]:
        out = jax_ctc((ids, label_pads), (x, logit_pads), weights)
        return out["summed"] / out["n_valid_examples"], out

    (_, out), grad = jax.jit(jax.value_and_grad(jax_loss, has_aux=True))(logits)
    x = torch.from_numpy(logits).requires_grad_()
    t_out = torch_ctc(
        (torch.from_numpy(ids), torch.from_numpy(label_pads)),
        (x, torch.from_numpy(logit_pads)),
        torch.from_numpy(weights),
    )
    t_loss = t_out["summed"] / t_out["n_valid_examples"]
    t_loss.backward()
    assert float(out["n_valid_examples"]) == float(t_out["n_valid_examples"]) == 11.0
    assert float(out["per_example"][3]) == 0.0  # weight 0
    # Forward-backward sums over the 20 frames' alignments, in log space.
    assert_fp32_close(
        t_out["per_example"].detach().numpy(), np.asarray(out["per_example"]), n=20, layers=2
    )
    assert_fp32_close(x.grad.numpy(), np.asarray(grad), n=20, layers=2, name="grad")
    # A hand-checkable case: one frame, one label: -log softmax(label).
    one = jax_ctc((np.array([[3]]), np.zeros((1, 1))), (logits[:1, :1], np.zeros((1, 1))), None)
    expected = -jax.nn.log_softmax(logits[0, 0])[3]
    np.testing.assert_allclose(float(one["summed"]), float(expected), rtol=1e-6)


def test_greedy_decoding_collapses_repeats_then_drops_blanks() -> None:
    best = np.array([[0, 3, 3, 0, 3, 5, 5, 0, 2], [4, 4, 4, 0, 0, 0, 7, 7, 7]])
    pads = np.array([[0] * 9, [0] * 6 + [1] * 3], np.float32)
    assert metrics.greedy_decode(best, pads) == [[3, 3, 5, 2], [4]]


@pytest.mark.parametrize(
    ("ref", "hyp", "edits"),
    [
        ("the cat sat", "the cat sat", 0),
        ("the cat sat", "the bat sat", 1),  # substitution
        ("the cat sat", "the sat", 1),  # deletion
        ("the cat sat", "the cat sat down", 1),  # insertion
        ("a b c d", "b c d e", 2),
        ("kitten sitting", "", 2),
        ("", "extra words", 2),
    ],
)
def test_word_edit_distance(ref: str, hyp: str, edits: int) -> None:
    assert metrics.word_errors(ref, hyp) == (edits, len(ref.split()))


def test_wer_sums_word_edits_over_reference_words_and_skips_padding_rows() -> None:
    best = np.array([[1, 0, 2, 2], [3, 0, 0, 0], [9, 9, 9, 9]])
    ids = np.array([[1, 2, 0], [3, 4, 5], [1, 1, 1]])
    target_pads = np.array([[0, 0, 1], [0, 0, 0], [0, 0, 0]], np.float32)
    errors, words = metrics.wer_sums(
        best, np.zeros((3, 4)), ids, target_pads, np.array([1.0, 1.0, 0.0]), metrics.ids_as_words
    )
    assert (errors, words) == (2.0, 5.0)  # 0 edits of 2 words, then 2 deletions of 3


# --- models ------------------------------------------------------------------------------------


def _inverse(array: np.ndarray, layout: Layout) -> np.ndarray:
    """A PyTorch tensor in the JAX layout `layout` maps from."""
    if layout is Layout.DENSE:
        return array.T
    if layout is Layout.CONV:
        return array.transpose(2, 3, 1, 0)
    if layout is Layout.CONV1D:
        return array.transpose(2, 1, 0)
    return array


def _jax_variables(model: torch.nn.Module, cfg: C.ModelConfig) -> dict[str, Any]:
    """The PyTorch model's parameters and statistics as Flax variables (inverse tables)."""
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    rng = np.random.default_rng(0)
    # Constant initial values (zeros, ones) would hide a mis-mapped entry.
    state = {
        k: (v + 0.1 * rng.random(v.shape, np.float32) if np.ptp(v) == 0 else v)
        for k, v in state.items()
    }
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    params = {
        path: _inverse(state[name], layout) for path, (name, layout) in param_map(cfg).items()
    }
    assert set(state) >= {name for name, _ in param_map(cfg).values()}
    variables = {"params": traverse_util.unflatten_dict(params)}
    stats = {path: state[name] for path, (name, _) in state_map(cfg).items()}
    if stats:
        variables["batch_stats"] = traverse_util.unflatten_dict(stats)
    return variables


def _models(name: str, **overrides: Any) -> tuple[Any, torch.nn.Module, C.ModelConfig]:
    base = C.CONFIGS[name]
    cfg = C.with_overrides(base, SMALL[type(base)] | overrides)
    torch.manual_seed(0)
    if isinstance(cfg, C.ConformerConfig):
        return jax_model.Conformer(cfg), torch_model.Conformer(cfg), cfg
    return jax_model.DeepSpeech(cfg), torch_model.DeepSpeech(cfg), cfg


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in NAMES if n != "librispeech_conformer"])
def test_every_variant_computes_the_same_eval_logits_in_both_frameworks(name: str) -> None:
    """(The Conformer's own eval logits are the contract suite's parity test.)"""
    jax_net, torch_net, cfg = _models(name)
    variables = _jax_variables(torch_net, cfg)
    # The JAX tree must be exactly what its init creates (structure and shapes).
    inputs = _audio(4, AUDIO)
    init = jax.eval_shape(lambda: jax_net.init(jax.random.PRNGKey(0), inputs, train=False))
    assert jax.tree.map(lambda x: x.shape, init) == jax.tree.map(np.shape, variables)
    logits, pads = jax.jit(lambda v, x: jax_net.apply(v, x, train=False))(variables, inputs)
    torch_net.eval()
    with torch.no_grad():
        t_logits, t_pads = torch_net(tuple(map(torch.from_numpy, inputs)))
    np.testing.assert_array_equal(t_pads.numpy(), np.asarray(pads))
    assert_fp32_close(t_logits.numpy(), np.asarray(logits), n=C.FFT_SIZE, layers=4, name="logits")


def _train_loss_and_grads(name: str) -> None:
    """Training-mode (batch statistics, no SpecAugment or dropout) CTC loss, gradients and
    updated batch statistics agree."""
    jax_net, torch_net, cfg = _models(name, use_specaug=False)
    variables = _jax_variables(torch_net, cfg)
    audio, audio_pads = _audio(4, AUDIO, seed=1)
    frames = C.num_logit_frames(AUDIO)
    rng = np.random.default_rng(2)
    ids = rng.integers(1, C.VOCAB_SIZE, (4, 3)).astype(np.int32)
    label_pads = np.array([[0, 0, 0], [0, 0, 1], [0, 1, 1], [0, 0, 0]], np.float32)
    assert frames >= 3

    # Data are arguments, not constants, which XLA would spend its compile time folding.
    def loss_fn(params: Any, data: Any) -> tuple[jax.Array, Any]:
        inputs, labels = data
        (logits, pads), new = jax_net.apply(
            {**variables, "params": params}, inputs, train=True, mutable=["batch_stats"]
        )
        out = jax_ctc(labels, (logits, pads), None)
        return out["summed"] / out["n_valid_examples"], new

    data = ((audio, audio_pads), (ids, label_pads))
    (loss, new_state), grads = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))(
        variables["params"], data
    )
    torch_net.train()
    logits, pads = torch_net((torch.from_numpy(audio), torch.from_numpy(audio_pads)))
    out = torch_ctc((torch.from_numpy(ids), torch.from_numpy(label_pads)), (logits, pads), None)
    t_loss = out["summed"] / out["n_valid_examples"]
    t_loss.backward()
    n = C.FFT_SIZE
    assert_fp32_close(t_loss.item(), float(loss), n=n, layers=4, name="loss")
    flat = traverse_util.flatten_dict(jax.device_get(grads))
    named = dict(torch_net.named_parameters())
    for path, (torch_name, layout) in param_map(cfg).items():
        got = named[torch_name].grad.numpy()
        if torch_name.endswith("mhsa.key.bias"):
            # Softmax is invariant to a key bias (it adds q.b to every key's logit): its true
            # gradient is 0, and both frameworks' are rounding noise.
            assert np.abs(got).max() < 1e-5
            assert np.abs(np.asarray(flat[path])).max() < 1e-5
            continue
        assert_fp32_close(
            got, layout.to_torch(np.asarray(flat[path])), n=n, layers=8, name=torch_name
        )
    stats = traverse_util.flatten_dict(jax.device_get(new_state["batch_stats"]))
    buffers = dict(torch_net.named_buffers())
    for path, (torch_name, _) in state_map(cfg).items():
        assert_fp32_close(
            buffers[torch_name].numpy(), np.asarray(stats[path]), n=n, name=torch_name
        )


@pytest.mark.slow
@pytest.mark.parametrize("name", ["librispeech_conformer", "librispeech_deepspeech"])
def test_training_loss_gradients_and_batch_statistics_agree(name: str) -> None:
    _train_loss_and_grads(name)


# --- parameter counts ----------------------------------------------------------------------------


def _conformer_count(cfg: C.ConformerConfig) -> int:
    """The reference Conformer's parameters, by hand from its layers."""
    d, inner, v = (
        cfg.encoder_dim,
        cfg.encoder_dim * cfg.feed_forward_expansion_factor,
        cfg.vocab_size,
    )
    ln, dense = 2 * d, d * d + d
    subsample = (9 * d + d) + (9 * d * d + d) + (20 * d * d + d)
    ffn = ln + (d * inner + inner) + (inner * d + d)
    mhsa = ln + 4 * dense + d // cfg.num_attention_heads
    conv = ln + 3 * dense + cfg.convolution_kernel_size * d + 2 * d
    block = 2 * ffn + mhsa + conv + (ln if cfg.use_post_layer_norm else 0)
    return subsample + cfg.num_encoder_layers * block + ln + d * v + v


def _deepspeech_count(cfg: C.DeepSpeechConfig) -> int:
    """The reference DeepSpeech's parameters (PyTorch's LSTM: 2 biases per direction)."""
    d, h, v = cfg.encoder_dim, cfg.encoder_dim // 2, cfg.vocab_size
    subsample = (9 * d + d) + (9 * d * d + d) + (20 * d * d + d)
    lstm = 2 * d + 2 * (4 * h * d + 4 * h * h + 8 * h)
    ffn = 2 * d + d * d + d
    decoder = (2 * d if cfg.enable_decoder_layer_norm else 0) + d * v + v
    return subsample + cfg.num_lstm_layers * lstm + cfg.num_ffn_layers * ffn + decoder


@pytest.mark.parametrize("name", NAMES)
def test_full_size_parameter_counts(name: str) -> None:
    """Registry = the reference's layers counted by hand = JAX (`eval_shape`) = PyTorch (meta)."""
    cfg = C.CONFIGS[name]
    registry = api.get_workload_spec(name).num_params
    by_hand = (
        _conformer_count(cfg) if isinstance(cfg, C.ConformerConfig) else _deepspeech_count(cfg)
    )
    jax_net = (
        jax_model.Conformer(cfg)
        if isinstance(cfg, C.ConformerConfig)
        else jax_model.DeepSpeech(cfg)
    )
    inputs = (jax.ShapeDtypeStruct((1, AUDIO), jnp.float32),) * 2
    shapes = jax.eval_shape(lambda x: jax_net.init(jax.random.PRNGKey(0), x, train=False), inputs)
    jax_count = sum(math.prod(x.shape) for x in jax.tree.leaves(shapes["params"]))
    with torch.device("meta"):
        net = (
            torch_model.Conformer(cfg)
            if isinstance(cfg, C.ConformerConfig)
            else torch_model.DeepSpeech(cfg)
        )
    torch_count = sum(p.numel() for p in net.parameters())
    assert registry == by_hand == jax_count == torch_count

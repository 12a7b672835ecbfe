"""The Conformer and DeepSpeech models in Flax, with the log-mel front-end inside the model.

The same function as `torch_model` given the same weights (see `param_map`), and as the
reference's models: padding-aware everywhere (padded frames never reach valid ones), the
reference's (1 + scale) LayerNorm and batch norm, its learned per-dimension query scale.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from algoperf.workloads.librispeech import config as C
from algoperf.workloads.librispeech.config import ConformerConfig, DeepSpeechConfig, SpecAugConfig

_XAVIER = nn.initializers.xavier_uniform()


# --- front-end -------------------------------------------------------------------------------


def frame_paddings(paddings: jax.Array, num_frames: int) -> jax.Array:
    """(B, frames) 1 where a frame holds padding only (the reference's min over the window)."""
    valid = jnp.cumsum(1 - paddings.astype(jnp.int32), axis=1)
    valid = jnp.pad(valid, [(0, 0), (1, 0)])
    starts = np.arange(num_frames) * C.FRAME_STEP
    count = valid[:, starts + C.FRAME_SIZE] - valid[:, starts]
    return (count == 0).astype(jnp.float32)


def log_mel(audio: jax.Array, paddings: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Normalised log-mel features (B, frames, 80) and their paddings from int16-range audio.

    Pre-emphasis (HTK flavour), periodic Hann window, |rfft|^2 of 512 points, 80 mel bins over
    125-7600 Hz, log floored at 1e-5, then the LibriSpeech per-bin mean and std.
    """
    audio = audio.astype(jnp.float32) * (1.0 - paddings.astype(jnp.float32)) * C.INPUT_SCALE
    num_frames = C.num_frames(audio.shape[1])
    index = np.arange(num_frames)[:, None] * C.FRAME_STEP + np.arange(C.FRAME_SIZE)[None, :]
    frames = audio[:, index]  # (B, frames, 401)
    emphasised = jnp.concatenate(
        [
            frames[..., :1] * (1.0 - C.PREEMPHASIS),
            frames[..., 1:-1] - C.PREEMPHASIS * frames[..., :-2],
        ],
        axis=-1,
    )
    spectrum = jnp.fft.rfft(emphasised * jnp.asarray(C.hann_window()), n=C.FFT_SIZE, axis=-1)
    power = jnp.real(spectrum) ** 2 + jnp.imag(spectrum) ** 2
    mel = jnp.einsum("btf,fn->btn", power, jnp.asarray(C.mel_matrix()))
    logmel = jnp.log(jnp.maximum(mel, C.MEL_FLOOR))
    mean = jnp.asarray(C.LIBRISPEECH_MEAN, jnp.float32)
    std = jnp.asarray(C.LIBRISPEECH_STD, jnp.float32)
    return (logmel - mean) / std, frame_paddings(paddings, num_frames)


def _span_mask(
    choose_range: jax.Array,
    mask_size: int,
    portion: jax.Array,
    start: jax.Array,
    max_length: jax.Array,
    max_ratio: float,
) -> jax.Array:
    """(B, mask_size) 0 inside any of the (B, M) spans lingvo's SpecAugment draws, else 1.

    `portion` and `start` are the uniform draws; span lengths are truncated from
    `max_length * portion` and bounded by `max_ratio * choose_range` (at least 1).
    """
    choose = choose_range.astype(jnp.float32)[:, None]
    length = (max_length[:, None] * portion).astype(jnp.int32)
    bound = (jnp.float32(max_ratio) * choose).astype(jnp.int32)
    length = jnp.minimum(length, jnp.maximum(bound, 1))
    first = (start * (choose - length.astype(jnp.float32) + 1.0)).astype(jnp.int32)
    last = first + length - 1
    positions = jnp.arange(mask_size)[None, None, :]
    inside = (positions >= first[..., None]) & (positions <= last[..., None])
    return 1.0 - jnp.any(inside, axis=1).astype(jnp.float32)


def spec_augment(
    features: jax.Array, paddings: jax.Array, uniforms: tuple[jax.Array, ...], cfg: SpecAugConfig
) -> jax.Array:
    """Time masks (up to 5% of each example's valid frames) then frequency masks.

    `uniforms` = (time portion, time start, freq portion, freq start), each (B, count) in [0, 1).
    """
    batch, time, bins = features.shape
    lengths = jnp.sum(1.0 - paddings, axis=1).astype(jnp.int32)
    t_portion, t_start, f_portion, f_start = uniforms
    if cfg.time_mask_count:
        max_len = lengths.astype(jnp.float32) * jnp.float32(cfg.time_mask_max_ratio)
        mask = _span_mask(lengths, time, t_portion, t_start, max_len, cfg.time_mask_max_ratio)
        features = features * mask[:, :, None]
    if cfg.freq_mask_count:
        full = jnp.full((batch,), bins, jnp.int32)
        max_len = jnp.full((batch,), cfg.freq_mask_max_bins, jnp.float32)
        mask = _span_mask(full, bins, f_portion, f_start, max_len, 1.0)
        features = features * mask[:, None, :]
    return features


def spec_augment_uniforms(key: jax.Array, batch: int, cfg: SpecAugConfig) -> tuple[jax.Array, ...]:
    """The four (B, count) uniform draws of `spec_augment`."""
    keys = jax.random.split(key, 4)
    counts = (cfg.time_mask_count,) * 2 + (cfg.freq_mask_count,) * 2
    return tuple(jax.random.uniform(k, (batch, n)) for k, n in zip(keys, counts, strict=True))


# --- shared layers -----------------------------------------------------------------------------


class LayerNorm(nn.Module):
    """Layer norm with the scale stored as (1 + scale), scale initialised to 0."""

    dim: int
    epsilon: float = 1e-6

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Apply the layer (see the class doc)."""
        scale = self.param("scale", nn.initializers.zeros, (self.dim,))
        bias = self.param("bias", nn.initializers.zeros, (self.dim,))
        mean = jnp.mean(x, axis=-1, keepdims=True)
        var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
        return (x - mean) * jax.lax.rsqrt(var + self.epsilon) * (1 + scale) + bias


class MaskedBatchNorm(nn.Module):
    """Batch norm over the valid (unpadded) frames of (B, T, D) inputs; padded outputs are 0.

    Training uses the global batch's masked mean and biased variance and decays the running
    statistics by `momentum`; evaluation uses the running statistics.
    """

    dim: int
    momentum: float = 0.999
    epsilon: float = 1e-3

    @nn.compact
    def __call__(self, x: jax.Array, paddings: jax.Array, train: bool) -> jax.Array:
        """Apply the layer (see the class doc)."""
        ra_mean = self.variable("batch_stats", "mean", lambda: jnp.zeros(self.dim))
        ra_var = self.variable("batch_stats", "var", lambda: jnp.ones(self.dim))
        scale = self.param("scale", nn.initializers.zeros, (self.dim,))
        bias = self.param("bias", nn.initializers.zeros, (self.dim,))
        mask = (1.0 - paddings)[:, :, None]
        if train:
            count = jnp.maximum(jnp.sum(mask), 1.0)
            mean = jnp.sum(x * mask, axis=(0, 1)) / count
            var = jnp.sum(jnp.square(x - mean) * mask, axis=(0, 1)) / count
            if not self.is_initializing():
                ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * mean
                ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * var
        else:
            mean, var = ra_mean.value, ra_var.value
        y = (x - mean) * ((1 + scale) * jax.lax.rsqrt(var + self.epsilon)) + bias
        return y * mask


class Conv2dSubsampling(nn.Module):
    """3x3 stride-2 'SAME' convolution + activation over (time, freq); halves the paddings."""

    features: int
    use_tanh: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, paddings: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Apply the layer (see the class doc)."""
        x = nn.Conv(
            self.features, (3, 3), strides=(2, 2), padding="SAME", kernel_init=_XAVIER, name="conv"
        )(x)
        x = jnp.tanh(x) if self.use_tanh else nn.relu(x)
        out_paddings = paddings[:, ::2]  # the reference's stride-2 width-1 conv of the paddings
        return x * (1.0 - out_paddings)[:, :, None, None], out_paddings


class Subsample(nn.Module):
    """Two subsampling convolutions (4x fewer frames, 80 → 20 bins), then Dense to `dim`."""

    dim: int
    use_tanh: bool = False

    @nn.compact
    def __call__(self, features: jax.Array, paddings: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Apply the layer (see the class doc)."""
        x = features[..., None]
        x, paddings = Conv2dSubsampling(self.dim, self.use_tanh, name="conv1")(x, paddings)
        x, paddings = Conv2dSubsampling(self.dim, self.use_tanh, name="conv2")(x, paddings)
        batch, time, bins, channels = x.shape
        x = x.reshape(batch, time, bins * channels)
        return nn.Dense(self.dim, kernel_init=_XAVIER, name="dense")(x), paddings


def _features(
    module: nn.Module, audio: jax.Array, paddings: jax.Array, train: bool, cfg: Any
) -> tuple[jax.Array, jax.Array]:
    """Front-end, then SpecAugment in training (keys from the 'dropout' stream, or fixed)."""
    # A batch captured as a constant (a closure under `jit`) would otherwise make XLA spend
    # many seconds constant-folding the front-end's cumulative sums over every sample.
    audio, paddings = jax.lax.optimization_barrier((audio, paddings))
    features, frame_pads = log_mel(audio, paddings)
    if train and cfg.use_specaug:
        key = module.make_rng("dropout") if module.has_rng("dropout") else jax.random.PRNGKey(0)
        uniforms = spec_augment_uniforms(key, features.shape[0], cfg.specaug)
        features = spec_augment(features, frame_pads, uniforms, cfg.specaug)
    return features, frame_pads


def sinusoidal_positions(length: int, dim: int) -> np.ndarray:
    """(1, length, dim) [sin | cos] position embedding with timescales 1 to 10^4."""
    half = dim // 2
    increment = np.log(10_000.0) / max(half - 1, 1)
    inv = np.exp(np.arange(half, dtype=np.float32) * np.float32(-increment)).astype(np.float32)
    scaled = np.arange(length, dtype=np.float32)[:, None] * inv[None, :]
    signal = np.concatenate([np.sin(scaled), np.cos(scaled)], axis=1)
    return np.pad(signal, [(0, 0), (0, dim % 2)])[None].astype(np.float32)


# --- Conformer ---------------------------------------------------------------------------------


def _activation(name: str) -> Any:
    return nn.swish if name == "swish" else (lambda x: nn.gelu(x, approximate=True))


class FeedForward(nn.Module):
    """LN → Dense(4d) → activation → mask → Dense(d) → mask → dropout."""

    cfg: ConformerConfig

    @nn.compact
    def __call__(self, x: jax.Array, mask: jax.Array, train: bool, rate: float) -> jax.Array:
        """Apply the layer (see the class doc)."""
        d = self.cfg.encoder_dim
        x = LayerNorm(d, self.cfg.layer_norm_epsilon, name="ln")(x)
        x = nn.Dense(
            d * self.cfg.feed_forward_expansion_factor, kernel_init=_XAVIER, name="dense1"
        )(x)
        x = _activation(self.cfg.activation)(x) * mask
        x = nn.Dense(d, kernel_init=_XAVIER, name="dense2")(x) * mask
        return nn.Dropout(rate)(x, deterministic=not train)


class SelfAttention(nn.Module):
    """Pre-LN multi-head self-attention with a learned per-dimension query scale.

    Queries are scaled by 1.442695041 * softplus(s) (1 at init) and 1/sqrt(head dim); padded
    keys are masked; the output is multiplied by the attention temperature.
    """

    cfg: ConformerConfig

    @nn.compact
    def __call__(self, x: jax.Array, paddings: jax.Array, train: bool, rate: float) -> jax.Array:
        """Apply the layer (see the class doc)."""
        cfg = self.cfg
        d, heads = cfg.encoder_dim, cfg.num_attention_heads
        head_dim = d // heads
        x = LayerNorm(d, cfg.layer_norm_epsilon, name="ln")(x)
        batch, time, _ = x.shape

        def project(name: str) -> jax.Array:
            y = nn.Dense(d, kernel_init=_XAVIER, name=name)(x)
            return y.reshape(batch, time, heads, head_dim)

        q, k, v = project("query"), project("key"), project("value")
        s = self.param("query_scale", nn.initializers.zeros, (head_dim,))
        q = q * (1.442695041 * jax.nn.softplus(s)) / jnp.sqrt(jnp.float32(head_dim))
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k)
        valid_keys = (paddings < 0.5)[:, None, None, :]
        logits = jnp.where(valid_keys, logits, jnp.finfo(jnp.float32).min)
        weights = jax.nn.softmax(logits, axis=-1)
        out = jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(batch, time, d)
        out = nn.Dense(d, kernel_init=_XAVIER, name="out")(out * cfg.attention_temperature)
        return nn.Dropout(rate)(out, deterministic=not train)


class ConvolutionBlock(nn.Module):
    """LN → GLU (a * sigmoid(b)) → mask → depthwise conv → masked BN → activation → Dense."""

    cfg: ConformerConfig

    @nn.compact
    def __call__(self, x: jax.Array, paddings: jax.Array, train: bool, rate: float) -> jax.Array:
        """Apply the layer (see the class doc)."""
        cfg = self.cfg
        d = cfg.encoder_dim
        x = LayerNorm(d, cfg.layer_norm_epsilon, name="ln")(x)
        a = nn.Dense(d, kernel_init=_XAVIER, name="dense_a")(x)
        b = nn.Dense(d, kernel_init=_XAVIER, name="dense_b")(x)
        x = a * jax.nn.sigmoid(b) * (1.0 - paddings)[:, :, None]
        x = nn.Conv(
            d,
            (cfg.convolution_kernel_size,),
            padding="SAME",
            feature_group_count=d,
            use_bias=False,
            kernel_init=_XAVIER,
            name="depthwise",
        )(x)
        x = MaskedBatchNorm(d, cfg.batch_norm_momentum, cfg.batch_norm_epsilon, name="bn")(
            x, paddings, train
        )
        x = nn.Dense(d, kernel_init=_XAVIER, name="dense_out")(_activation(cfg.activation)(x))
        return nn.Dropout(rate)(x, deterministic=not train)


class ConformerBlock(nn.Module):
    """x += FFN/2; x += MHSA; x += Conv; x += FFN/2; then LN when `use_post_layer_norm`."""

    cfg: ConformerConfig

    @nn.compact
    def __call__(self, x: jax.Array, paddings: jax.Array, train: bool, rate: float) -> jax.Array:
        """Apply the layer (see the class doc)."""
        mask = (1.0 - paddings)[:, :, None]
        x = x + 0.5 * FeedForward(self.cfg, name="ff1")(x, mask, train, rate)
        x = x + SelfAttention(self.cfg, name="mhsa")(x, paddings, train, rate)
        x = x + ConvolutionBlock(self.cfg, name="conv")(x, paddings, train, rate)
        x = x + 0.5 * FeedForward(self.cfg, name="ff2")(x, mask, train, rate)
        if self.cfg.use_post_layer_norm:
            x = LayerNorm(self.cfg.encoder_dim, self.cfg.layer_norm_epsilon, name="ln")(x)
        return x


class Conformer(nn.Module):
    """Audio (B, samples) and paddings → logits (B, frames/4, vocab) and their paddings."""

    cfg: ConformerConfig

    @nn.compact
    def __call__(
        self, inputs: tuple[jax.Array, jax.Array], train: bool, dropout_rate: float = 0.0
    ) -> tuple[jax.Array, jax.Array]:
        """Apply the layer (see the class doc)."""
        cfg = self.cfg
        audio, paddings = inputs
        features, paddings = _features(self, audio, paddings, train, cfg)
        x, paddings = Subsample(cfg.encoder_dim, name="subsample")(features, paddings)
        x = x + sinusoidal_positions(x.shape[1], cfg.encoder_dim)
        x = nn.Dropout(dropout_rate)(x, deterministic=not train)
        for i in range(cfg.num_encoder_layers):
            x = ConformerBlock(cfg, name=f"block_{i}")(x, paddings, train, dropout_rate)
        x = LayerNorm(cfg.encoder_dim, cfg.layer_norm_epsilon, name="ln")(x)
        return nn.Dense(cfg.vocab_size, kernel_init=_XAVIER, name="head")(x), paddings


# --- DeepSpeech --------------------------------------------------------------------------------


class LSTMDirection(nn.Module):
    """One direction of a PyTorch-layout LSTM (gates i, f, g, o; two biases) over valid frames.

    The reverse direction runs each sequence from its last valid frame, as PyTorch's packed
    sequences do; outputs on padded frames are 0.
    """

    hidden: int
    reverse: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, lengths: jax.Array) -> jax.Array:
        """Apply the layer (see the class doc)."""
        batch, time, features = x.shape
        h4 = 4 * self.hidden
        init = nn.initializers.uniform(scale=2.0 / np.sqrt(self.hidden))

        def uniform(
            key: jax.Array, shape: tuple[int, ...]
        ) -> jax.Array:  # U(-1/sqrt(H), 1/sqrt(H))
            return init(key, shape) - 1.0 / np.sqrt(self.hidden)

        w_ih = self.param("ih_kernel", uniform, (features, h4))
        w_hh = self.param("hh_kernel", uniform, (self.hidden, h4))
        b_ih = self.param("ih_bias", uniform, (h4,))
        b_hh = self.param("hh_bias", uniform, (h4,))
        steps = jnp.arange(time)[None, :]
        valid = steps < lengths[:, None]
        index = jnp.where(valid, lengths[:, None] - 1 - steps, steps)
        if self.reverse:  # position t reads frame length-1-t
            x = jnp.take_along_axis(x, index[:, :, None], axis=1)
        gates_x = jnp.einsum("btf,fg->btg", x, w_ih) + b_ih

        def step(carry: tuple[jax.Array, jax.Array], gx: jax.Array) -> tuple[Any, jax.Array]:
            h, c = carry
            gates = gx + h @ w_hh + b_hh
            i, f, g, o = jnp.split(gates, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), h

        zeros = jnp.zeros((batch, self.hidden), x.dtype)
        _, hs = jax.lax.scan(step, (zeros, zeros), jnp.swapaxes(gates_x, 0, 1))
        hs = jnp.swapaxes(hs, 0, 1)
        if self.reverse:
            hs = jnp.take_along_axis(hs, index[:, :, None], axis=1)
        return hs * valid[:, :, None]


class BatchRNN(nn.Module):
    """Norm (masked BN, or LN) → bidirectional LSTM of `encoder_dim / 2` per direction."""

    cfg: DeepSpeechConfig

    @nn.compact
    def __call__(self, x: jax.Array, paddings: jax.Array, train: bool) -> jax.Array:
        """Apply the layer (see the class doc)."""
        x = _norm(self.cfg, x, paddings, train)
        lengths = jnp.sum(1.0 - paddings, axis=1).astype(jnp.int32)
        hidden = self.cfg.encoder_dim // 2
        forward = LSTMDirection(hidden, name="forward")(x, lengths)
        backward = LSTMDirection(hidden, reverse=True, name="backward")(x, lengths)
        return jnp.concatenate([forward, backward], axis=-1)


def _norm(cfg: DeepSpeechConfig, x: jax.Array, paddings: jax.Array, train: bool) -> jax.Array:
    """The norm of a DeepSpeech layer, created in the calling module as 'norm'."""
    if cfg.layernorm_everywhere:
        return LayerNorm(cfg.encoder_dim, cfg.layer_norm_epsilon, name="norm")(x)
    return MaskedBatchNorm(
        cfg.encoder_dim, cfg.batch_norm_momentum, cfg.batch_norm_epsilon, name="norm"
    )(x, paddings, train)


class DeepSpeechFeedForward(nn.Module):
    """Norm → Dense(d) → ReLU (or tanh) → mask → dropout."""

    cfg: DeepSpeechConfig

    @nn.compact
    def __call__(self, x: jax.Array, paddings: jax.Array, train: bool, rate: float) -> jax.Array:
        """Apply the layer (see the class doc)."""
        x = _norm(self.cfg, x, paddings, train)
        x = nn.Dense(self.cfg.encoder_dim, kernel_init=_XAVIER, name="dense")(x)
        x = (jnp.tanh(x) if self.cfg.use_tanh else nn.relu(x)) * (1.0 - paddings)[:, :, None]
        return nn.Dropout(rate)(x, deterministic=not train)


class DeepSpeech(nn.Module):
    """Audio (B, samples) and paddings → logits (B, frames/4, vocab) and their paddings."""

    cfg: DeepSpeechConfig

    @nn.compact
    def __call__(
        self, inputs: tuple[jax.Array, jax.Array], train: bool, dropout_rate: float = 0.0
    ) -> tuple[jax.Array, jax.Array]:
        """Apply the layer (see the class doc)."""
        cfg = self.cfg
        audio, paddings = inputs
        features, paddings = _features(self, audio, paddings, train, cfg)
        x, paddings = Subsample(cfg.encoder_dim, cfg.use_tanh, name="subsample")(features, paddings)
        x = nn.Dropout(dropout_rate)(x, deterministic=not train)
        for i in range(cfg.num_lstm_layers):
            y = BatchRNN(cfg, name=f"lstm_{i}")(x, paddings, train)
            x = x + y if cfg.enable_residual_connections else y
        for i in range(cfg.num_ffn_layers):
            y = DeepSpeechFeedForward(cfg, name=f"ffn_{i}")(x, paddings, train, dropout_rate)
            x = x + y if cfg.enable_residual_connections else y
        if cfg.enable_decoder_layer_norm:
            x = LayerNorm(cfg.encoder_dim, cfg.layer_norm_epsilon, name="ln")(x)
        return nn.Dense(cfg.vocab_size, kernel_init=_XAVIER, name="head")(x), paddings

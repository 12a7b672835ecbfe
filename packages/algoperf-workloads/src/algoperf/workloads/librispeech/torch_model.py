"""The Conformer and DeepSpeech models in PyTorch: the same functions as `jax_model`.

Batch norm is written out (`MaskedBatchNorm`): masked statistics of the global batch (summed
over ranks with the differentiable all-reduce under DDP, as JAX's `jit` over a sharded batch),
and running statistics decayed with Flax's convention. SpecAugment draws from a generator
seeded by the step's rng, so both frameworks seed it from the step.
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
import torch.nn.functional as F
from torch import nn

from algoperf.workloads.librispeech import config as C
from algoperf.workloads.librispeech.config import ConformerConfig, DeepSpeechConfig, SpecAugConfig
from algoperf.workloads.librispeech.jax_model import sinusoidal_positions

# --- front-end -------------------------------------------------------------------------------


class LogMel(nn.Module):
    """`jax_model.log_mel` (same constants, same order of operations)."""

    window: torch.Tensor
    mel: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("window", torch.from_numpy(C.hann_window()), persistent=False)
        self.register_buffer("mel", torch.from_numpy(C.mel_matrix()), persistent=False)
        self.register_buffer("mean", torch.tensor(C.LIBRISPEECH_MEAN), persistent=False)
        self.register_buffer("std", torch.tensor(C.LIBRISPEECH_STD), persistent=False)

    def forward(
        self, audio: torch.Tensor, paddings: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply the layer (see the class doc)."""
        paddings = paddings.float()
        audio = audio.float() * (1.0 - paddings) * C.INPUT_SCALE
        num_frames = C.num_frames(audio.shape[1])
        frames = audio.unfold(1, C.FRAME_SIZE, C.FRAME_STEP)  # (B, frames, 401)
        emphasised = torch.cat(
            [
                frames[..., :1] * (1.0 - C.PREEMPHASIS),
                frames[..., 1:-1] - C.PREEMPHASIS * frames[..., :-2],
            ],
            dim=-1,
        )
        spectrum = torch.fft.rfft(emphasised * self.window, n=C.FFT_SIZE, dim=-1)
        power = spectrum.real**2 + spectrum.imag**2
        mel = torch.einsum("btf,fn->btn", power, self.mel)
        logmel = torch.log(torch.clamp(mel, min=C.MEL_FLOOR))
        valid = torch.cumsum(1 - paddings.to(torch.int32), dim=1)
        valid = F.pad(valid, (1, 0))
        starts = torch.arange(num_frames, device=audio.device) * C.FRAME_STEP
        count = valid[:, starts + C.FRAME_SIZE] - valid[:, starts]
        return (logmel - self.mean) / self.std, (count == 0).float()


def _span_mask(
    choose_range: torch.Tensor,
    mask_size: int,
    portion: torch.Tensor,
    start: torch.Tensor,
    max_length: torch.Tensor,
    max_ratio: float,
) -> torch.Tensor:
    """`jax_model._span_mask`."""
    f32 = torch.float32
    choose = choose_range.to(f32)[:, None]
    length = (max_length[:, None] * portion).to(torch.int32)
    bound = (torch.tensor(max_ratio, dtype=f32, device=choose.device) * choose).to(torch.int32)
    length = torch.minimum(length, torch.clamp(bound, min=1))
    first = (start * (choose - length.to(f32) + 1.0)).to(torch.int32)
    last = first + length - 1
    positions = torch.arange(mask_size, device=choose.device)[None, None, :]
    inside = (positions >= first[..., None]) & (positions <= last[..., None])
    return 1.0 - inside.any(dim=1).to(f32)


def spec_augment(
    features: torch.Tensor,
    paddings: torch.Tensor,
    uniforms: tuple[torch.Tensor, ...],
    cfg: SpecAugConfig,
) -> torch.Tensor:
    """`jax_model.spec_augment`."""
    batch, time, bins = features.shape
    lengths = torch.sum(1.0 - paddings, dim=1).to(torch.int32)
    t_portion, t_start, f_portion, f_start = uniforms
    if cfg.time_mask_count:
        ratio = torch.tensor(cfg.time_mask_max_ratio, dtype=torch.float32, device=features.device)
        max_len = lengths.to(torch.float32) * ratio
        mask = _span_mask(lengths, time, t_portion, t_start, max_len, cfg.time_mask_max_ratio)
        features = features * mask[:, :, None]
    if cfg.freq_mask_count:
        full = torch.full((batch,), bins, dtype=torch.int32, device=features.device)
        max_len = torch.full((batch,), float(cfg.freq_mask_max_bins), device=features.device)
        mask = _span_mask(full, bins, f_portion, f_start, max_len, 1.0)
        features = features * mask[:, None, :]
    return features


def spec_augment_uniforms(
    generator: torch.Generator, batch: int, cfg: SpecAugConfig, device: torch.device
) -> tuple[torch.Tensor, ...]:
    """The four (B, count) uniform draws of `spec_augment`."""
    counts = (cfg.time_mask_count,) * 2 + (cfg.freq_mask_count,) * 2
    return tuple(torch.rand((batch, n), generator=generator, device=device) for n in counts)


# --- shared layers -----------------------------------------------------------------------------


class LayerNorm(nn.Module):
    """Layer norm with the scale stored as (1 + scale), scale initialised to 0."""

    def __init__(self, dim: int, epsilon: float = 1e-6) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.zeros(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.epsilon = epsilon

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the layer (see the class doc)."""
        mean = x.mean(dim=-1, keepdim=True)
        var = torch.square(x - mean).mean(dim=-1, keepdim=True)
        return (x - mean) * torch.rsqrt(var + self.epsilon) * (1 + self.scale) + self.bias


class MaskedBatchNorm(nn.Module):
    """`jax_model.MaskedBatchNorm`; running statistics update only when `update` is True."""

    running_mean: torch.Tensor
    running_var: torch.Tensor

    def __init__(self, dim: int, momentum: float = 0.999, epsilon: float = 1e-3) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.zeros(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_var", torch.ones(dim))
        self.momentum, self.epsilon = momentum, epsilon

    def forward(self, x: torch.Tensor, paddings: torch.Tensor, update: bool) -> torch.Tensor:
        """Apply the layer (see the class doc)."""
        mask = (1.0 - paddings)[:, :, None]
        if self.training:
            dim = x.shape[-1]
            sums = torch.cat([(x * mask).sum(dim=(0, 1)), mask.sum().reshape(1)])
            if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
                sums = dist_fn.all_reduce(sums)
            count = torch.clamp(sums[dim], min=1.0)
            mean = sums[:dim] / count
            sq = (torch.square(x - mean) * mask).sum(dim=(0, 1))
            if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
                sq = dist_fn.all_reduce(sq)
            var = sq / count
            if update:
                with torch.no_grad():
                    m = self.momentum
                    self.running_mean.mul_(m).add_((1 - m) * mean.detach())
                    self.running_var.mul_(m).add_((1 - m) * var.detach())
        else:
            mean, var = self.running_mean, self.running_var
        y = (x - mean) * ((1 + self.scale) * torch.rsqrt(var + self.epsilon)) + self.bias
        return y * mask


def _xavier_linear(n_in: int, n_out: int, bias: bool = True) -> nn.Linear:
    layer = nn.Linear(n_in, n_out, bias=bias)
    nn.init.xavier_uniform_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


class Conv2dSubsampling(nn.Module):
    """`jax_model.Conv2dSubsampling` on (B, C, time, freq)."""

    def __init__(self, n_in: int, n_out: int, use_tanh: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(n_in, n_out, 3, stride=2)
        nn.init.xavier_uniform_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)  # pyright: ignore[reportArgumentType]
        self.use_tanh = use_tanh

    def forward(self, x: torch.Tensor, paddings: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply the layer (see the class doc)."""
        pads = []
        for size in (x.shape[3], x.shape[2]):  # F.pad lists the last axis first
            total = 1 if size % 2 == 0 else 2  # 'SAME' for kernel 3, stride 2
            pads += [total // 2, total - total // 2]
        x = self.conv(F.pad(x, pads))
        x = torch.tanh(x) if self.use_tanh else F.relu(x)
        out_paddings = paddings[:, ::2]
        return x * (1.0 - out_paddings)[:, None, :, None], out_paddings


class Subsample(nn.Module):
    """`jax_model.Subsample`: features (B, T, 80) → (B, T/4, dim)."""

    def __init__(self, dim: int, use_tanh: bool = False) -> None:
        super().__init__()
        self.conv1 = Conv2dSubsampling(1, dim, use_tanh)
        self.conv2 = Conv2dSubsampling(dim, dim, use_tanh)
        self.dense = _xavier_linear(dim * math.ceil(math.ceil(C.NUM_MEL_BINS / 2) / 2), dim)

    def forward(
        self, features: torch.Tensor, paddings: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply the layer (see the class doc)."""
        x = features[:, None]
        x, paddings = self.conv1(x, paddings)
        x, paddings = self.conv2(x, paddings)
        batch, channels, time, bins = x.shape
        x = x.permute(0, 2, 3, 1).reshape(batch, time, bins * channels)
        return self.dense(x), paddings


class _SpeechModel(nn.Module):
    """The front-end and SpecAugment, shared by both models."""

    def __init__(self, cfg: ConformerConfig | DeepSpeechConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.frontend = LogMel()

    def features(
        self, audio: torch.Tensor, paddings: torch.Tensor, specaug_seed: int | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply the layer (see the class doc)."""
        features, frame_pads = self.frontend(audio, paddings)
        if self.training and self.cfg.use_specaug:
            generator = torch.Generator(device=features.device)
            generator.manual_seed(0 if specaug_seed is None else specaug_seed)
            # Draw for the global batch and keep this rank's rows, so masks do not depend on
            # the number of processes (every rank holds an equal share).
            rank, ranks = 0, 1
            if dist.is_available() and dist.is_initialized():
                rank, ranks = dist.get_rank(), dist.get_world_size()
            batch = features.shape[0]
            uniforms = spec_augment_uniforms(
                generator, batch * ranks, self.cfg.specaug, features.device
            )
            uniforms = tuple(u[rank * batch : (rank + 1) * batch] for u in uniforms)
            features = spec_augment(features, frame_pads, uniforms, self.cfg.specaug)
        return features, frame_pads


# --- Conformer ---------------------------------------------------------------------------------


def _activation(name: str, x: torch.Tensor) -> torch.Tensor:
    return F.silu(x) if name == "swish" else F.gelu(x, approximate="tanh")


class FeedForward(nn.Module):
    """`jax_model.FeedForward`."""

    def __init__(self, cfg: ConformerConfig) -> None:
        super().__init__()
        d, inner = cfg.encoder_dim, cfg.encoder_dim * cfg.feed_forward_expansion_factor
        self.cfg = cfg
        self.ln = LayerNorm(d, cfg.layer_norm_epsilon)
        self.dense1 = _xavier_linear(d, inner)
        self.dense2 = _xavier_linear(inner, d)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, rate: float) -> torch.Tensor:
        """Apply the layer (see the class doc)."""
        x = _activation(self.cfg.activation, self.dense1(self.ln(x))) * mask
        x = self.dense2(x) * mask
        return F.dropout(x, rate, self.training)


class SelfAttention(nn.Module):
    """`jax_model.SelfAttention`."""

    def __init__(self, cfg: ConformerConfig) -> None:
        super().__init__()
        d = cfg.encoder_dim
        self.cfg = cfg
        self.ln = LayerNorm(d, cfg.layer_norm_epsilon)
        self.query, self.key, self.value, self.out = (_xavier_linear(d, d) for _ in range(4))
        self.query_scale = nn.Parameter(torch.zeros(d // cfg.num_attention_heads))

    def forward(self, x: torch.Tensor, paddings: torch.Tensor, rate: float) -> torch.Tensor:
        """Apply the layer (see the class doc)."""
        cfg = self.cfg
        heads = cfg.num_attention_heads
        x = self.ln(x)
        batch, time, d = x.shape
        head_dim = d // heads
        q, k, v = (
            p(x).reshape(batch, time, heads, head_dim) for p in (self.query, self.key, self.value)
        )
        scale = 1.442695041 * F.softplus(self.query_scale)
        q = q * scale / torch.sqrt(torch.tensor(float(head_dim)))
        logits = torch.einsum("bqhd,bkhd->bhqk", q, k)
        valid_keys = (paddings < 0.5)[:, None, None, :]
        logits = torch.where(valid_keys, logits, torch.finfo(torch.float32).min)
        weights = torch.softmax(logits, dim=-1)
        out = torch.einsum("bhqk,bkhd->bqhd", weights, v).reshape(batch, time, d)
        out = self.out(out * cfg.attention_temperature)
        return F.dropout(out, rate, self.training)


class ConvolutionBlock(nn.Module):
    """`jax_model.ConvolutionBlock`."""

    def __init__(self, cfg: ConformerConfig) -> None:
        super().__init__()
        d = cfg.encoder_dim
        self.cfg = cfg
        self.ln = LayerNorm(d, cfg.layer_norm_epsilon)
        self.dense_a, self.dense_b = _xavier_linear(d, d), _xavier_linear(d, d)
        k = cfg.convolution_kernel_size
        self.depthwise = nn.Conv1d(d, d, k, padding=k // 2, groups=d, bias=False)
        nn.init.xavier_uniform_(self.depthwise.weight)
        self.bn = MaskedBatchNorm(d, cfg.batch_norm_momentum, cfg.batch_norm_epsilon)
        self.dense_out = _xavier_linear(d, d)

    def forward(
        self, x: torch.Tensor, paddings: torch.Tensor, rate: float, update: bool
    ) -> torch.Tensor:
        """Apply the layer (see the class doc)."""
        x = self.ln(x)
        x = self.dense_a(x) * torch.sigmoid(self.dense_b(x)) * (1.0 - paddings)[:, :, None]
        x = self.depthwise(x.transpose(1, 2)).transpose(1, 2)
        x = self.bn(x, paddings, update)
        x = self.dense_out(_activation(self.cfg.activation, x))
        return F.dropout(x, rate, self.training)


class ConformerBlock(nn.Module):
    """`jax_model.ConformerBlock`."""

    def __init__(self, cfg: ConformerConfig) -> None:
        super().__init__()
        self.ff1, self.mhsa = FeedForward(cfg), SelfAttention(cfg)
        self.conv, self.ff2 = ConvolutionBlock(cfg), FeedForward(cfg)
        self.ln = (
            LayerNorm(cfg.encoder_dim, cfg.layer_norm_epsilon) if cfg.use_post_layer_norm else None
        )

    def forward(
        self, x: torch.Tensor, paddings: torch.Tensor, rate: float, update: bool
    ) -> torch.Tensor:
        """Apply the layer (see the class doc)."""
        mask = (1.0 - paddings)[:, :, None]
        x = x + 0.5 * self.ff1(x, mask, rate)
        x = x + self.mhsa(x, paddings, rate)
        x = x + self.conv(x, paddings, rate, update)
        x = x + 0.5 * self.ff2(x, mask, rate)
        return x if self.ln is None else self.ln(x)


class Conformer(_SpeechModel):
    """`jax_model.Conformer`: (audio, paddings) → (logits, logit paddings)."""

    def __init__(self, cfg: ConformerConfig) -> None:
        super().__init__(cfg)
        self.subsample = Subsample(cfg.encoder_dim)
        self.blocks = nn.ModuleList(ConformerBlock(cfg) for _ in range(cfg.num_encoder_layers))
        self.ln = LayerNorm(cfg.encoder_dim, cfg.layer_norm_epsilon)
        self.head = _xavier_linear(cfg.encoder_dim, cfg.vocab_size)

    def forward(
        self,
        inputs: tuple[torch.Tensor, torch.Tensor],
        dropout_rate: float = 0.0,
        update_batch_norm: bool = True,
        specaug_seed: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply the layer (see the class doc)."""
        features, paddings = self.features(*inputs, specaug_seed)
        x, paddings = self.subsample(features, paddings)
        positions = torch.from_numpy(sinusoidal_positions(x.shape[1], x.shape[2]))
        x = F.dropout(x + positions.to(x.device), dropout_rate, self.training)
        for block in self.blocks:
            x = block(x, paddings, dropout_rate, update_batch_norm)
        return self.head(self.ln(x)), paddings


# --- DeepSpeech --------------------------------------------------------------------------------


class DeepSpeechNorm(nn.Module):
    """Masked batch norm, or layer norm for `layernorm_everywhere`."""

    def __init__(self, cfg: DeepSpeechConfig) -> None:
        super().__init__()
        d = cfg.encoder_dim
        if cfg.layernorm_everywhere:
            self.norm: nn.Module = LayerNorm(d, cfg.layer_norm_epsilon)
        else:
            self.norm = MaskedBatchNorm(d, cfg.batch_norm_momentum, cfg.batch_norm_epsilon)

    def forward(self, x: torch.Tensor, paddings: torch.Tensor, update: bool) -> torch.Tensor:
        """Apply the layer (see the class doc)."""
        if isinstance(self.norm, LayerNorm):
            return self.norm(x)
        return self.norm(x, paddings, update)


class BatchRNN(nn.Module):
    """`jax_model.BatchRNN`: norm → bidirectional LSTM over packed (valid) frames."""

    def __init__(self, cfg: DeepSpeechConfig) -> None:
        super().__init__()
        self.norm = DeepSpeechNorm(cfg)
        d = cfg.encoder_dim
        self.lstm = nn.LSTM(d, d // 2, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor, paddings: torch.Tensor, update: bool) -> torch.Tensor:
        """Apply the layer (see the class doc)."""
        x = self.norm(x, paddings, update)
        lengths = torch.sum(1.0 - paddings, dim=1).to(torch.int64).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            x, lengths.clamp(min=1), batch_first=True, enforce_sorted=False
        )
        out, _ = self.lstm(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return out * (lengths > 0).to(out.device, out.dtype)[:, None, None]


class DeepSpeechFeedForward(nn.Module):
    """`jax_model.DeepSpeechFeedForward`."""

    def __init__(self, cfg: DeepSpeechConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.norm = DeepSpeechNorm(cfg)
        self.dense = _xavier_linear(cfg.encoder_dim, cfg.encoder_dim)

    def forward(
        self, x: torch.Tensor, paddings: torch.Tensor, rate: float, update: bool
    ) -> torch.Tensor:
        """Apply the layer (see the class doc)."""
        x = self.dense(self.norm(x, paddings, update))
        x = (torch.tanh(x) if self.cfg.use_tanh else F.relu(x)) * (1.0 - paddings)[:, :, None]
        return F.dropout(x, rate, self.training)


class DeepSpeech(_SpeechModel):
    """`jax_model.DeepSpeech`: (audio, paddings) → (logits, logit paddings)."""

    def __init__(self, cfg: DeepSpeechConfig) -> None:
        super().__init__(cfg)
        self.subsample = Subsample(cfg.encoder_dim, cfg.use_tanh)
        self.lstms = nn.ModuleList(BatchRNN(cfg) for _ in range(cfg.num_lstm_layers))
        self.ffns = nn.ModuleList(DeepSpeechFeedForward(cfg) for _ in range(cfg.num_ffn_layers))
        d = cfg.encoder_dim
        self.ln = LayerNorm(d, cfg.layer_norm_epsilon) if cfg.enable_decoder_layer_norm else None
        self.head = _xavier_linear(d, cfg.vocab_size)

    def forward(
        self,
        inputs: tuple[torch.Tensor, torch.Tensor],
        dropout_rate: float = 0.0,
        update_batch_norm: bool = True,
        specaug_seed: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply the layer (see the class doc)."""
        cfg = self.cfg
        assert isinstance(cfg, DeepSpeechConfig)
        features, paddings = self.features(*inputs, specaug_seed)
        x, paddings = self.subsample(features, paddings)
        x = F.dropout(x, dropout_rate, self.training)
        for lstm in self.lstms:
            y = lstm(x, paddings, update_batch_norm)
            x = x + y if cfg.enable_residual_connections else y
        for ffn in self.ffns:
            y = ffn(x, paddings, dropout_rate, update_batch_norm)
            x = x + y if cfg.enable_residual_connections else y
        if self.ln is not None:
            x = self.ln(x)
        return self.head(x), paddings

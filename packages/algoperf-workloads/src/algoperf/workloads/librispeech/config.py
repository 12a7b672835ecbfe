"""Model configurations of the LibriSpeech workloads and the front-end's fixed constants.

Variants are configurations of one of two models (Conformer, DeepSpeech), not copies. The
front-end constants (Hann window, mel matrix, LibriSpeech per-bin mean and standard deviation)
are computed once here in numpy, so that both frameworks read the very same float32 values.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

VOCAB_SIZE = 1024
"""SentencePiece vocabulary; id 0 is the CTC blank and the padding."""
MAX_AUDIO_LENGTH = 320_000
"""Samples per example after padding (20 s at 16 kHz)."""
MAX_TARGET_LENGTH = 256
"""Token ids per example after padding."""
DROPOUT_RATE = 0.1
"""The reference's default dropout rate of both models."""

# Front-end (lingvo's MelFilterbankFrontend as the reference configures it).
SAMPLE_RATE = 16_000
FRAME_STEP = 160  # 10 ms
FRAME_SIZE = 401  # 25 ms, plus one sample for the pre-emphasis
FFT_SIZE = 512
NUM_MEL_BINS = 80
PREEMPHASIS = 0.97
LOWER_EDGE_HERTZ = 125.0
UPPER_EDGE_HERTZ = 7600.0
MEL_FLOOR = 1e-5
INPUT_SCALE = 2.0**-15
"""int16 PCM to [-1, 1)."""

LIBRISPEECH_MEAN = (
    -7.6047816276550293, -7.1206226348876953, -6.8864245414733887, -6.8705768585205078,
    -6.9667720794677734, -7.1084094047546387, -6.9528026580810547, -6.783994197845459,
    -6.6195521354675293, -6.4876265525817871, -6.4120659828186035, -6.394047737121582,
    -6.4244871139526367, -6.3993711471557617, -6.5158271789550781, -6.7137999534606934,
    -6.8476877212524414, -6.9885001182556152, -6.9221386909484863, -7.146148681640625,
    -7.2040400505065918, -7.0537552833557129, -7.3140382766723633, -7.1223249435424805,
    -7.30251407623291, -7.1212143898010254, -7.2425732612609863, -7.1730537414550781,
    -7.0979413986206055, -7.088747501373291, -6.9849910736083984, -6.8787732124328613,
    -6.7602753639221191, -6.6300945281982422, -6.5145769119262695, -6.4245057106018066,
    -6.356513500213623, -6.31787633895874, -6.2660770416259766, -6.2468328475952148,
    -6.2821526527404785, -6.1908388137817383, -6.2484354972839355, -6.1472640037536621,
    -6.0924725532531738, -6.0171003341674805, -5.9250402450561523, -5.8535833358764648,
    -5.8209109306335449, -5.8118929862976074, -5.80783748626709, -5.7714629173278809,
    -5.7453732490539551, -5.7705655097961426, -5.7765641212463379, -5.7831673622131348,
    -5.7954087257385254, -5.7994823455810547, -5.8023476600646973, -5.8047118186950684,
    -5.8168182373046875, -5.8844799995422363, -5.9727106094360352, -6.0444660186767578,
    -6.1284866333007812, -6.2257585525512695, -6.3157496452331543, -6.39061164855957,
    -6.4928598403930664, -6.5498456954956055, -6.6054320335388184, -6.6508378982543945,
    -6.66917610168457, -6.6726889610290527, -6.684234619140625, -6.6974577903747559,
    -6.75471830368042, -6.7949142456054688, -6.8634209632873535, -6.94186544418335,
)  # fmt: skip
"""Per mel bin mean of LibriSpeech log-mel features (lingvo's, as in the reference)."""
LIBRISPEECH_STD = (
    3.4353282451629639, 3.5962932109832764, 3.7012472152709961, 3.7369205951690674,
    3.7535104751586914, 3.693629264831543, 3.6922497749328613, 3.7641522884368896,
    3.8419716358184814, 3.8999848365783691, 3.9294240474700928, 3.9317409992218018,
    3.9139585494995117, 3.9031598567962646, 3.8691999912261963, 3.8155081272125244,
    3.7644970417022705, 3.7099106311798096, 3.6965086460113525, 3.6003766059875488,
    3.5493226051330566, 3.5465121269226074, 3.45003604888916, 3.4712812900543213,
    3.4084610939025879, 3.4408135414123535, 3.4104881286621094, 3.4217638969421387,
    3.4312851428985596, 3.4199209213256836, 3.4305806159973145, 3.4382665157318115,
    3.4580366611480713, 3.4817991256713867, 3.4958710670471191, 3.5036792755126953,
    3.5047574043273926, 3.4988734722137451, 3.493056058883667, 3.4822943210601807,
    3.459430456161499, 3.4612770080566406, 3.4559063911437988, 3.4755423069000244,
    3.4971549510955811, 3.5326557159423828, 3.5705199241638184, 3.5920312404632568,
    3.596907377243042, 3.5913500785827637, 3.5865931510925293, 3.5826809406280518,
    3.5837743282318115, 3.5895791053771973, 3.5819313526153564, 3.5837869644165039,
    3.5861184597015381, 3.5889589786529541, 3.592214822769165, 3.5939455032348633,
    3.5856630802154541, 3.5884113311767578, 3.5921022891998291, 3.5870490074157715,
    3.5806570053100586, 3.5731067657470703, 3.5617532730102539, 3.54980731010437,
    3.5527374744415283, 3.5475366115570068, 3.5387849807739258, 3.5256178379058838,
    3.5031836032867432, 3.4922726154327393, 3.4879646301269531, 3.4725594520568848,
    3.4558389186859131, 3.4351828098297119, 3.4284293651580811, 3.4299170970916748,
)  # fmt: skip
"""Per mel bin standard deviation of LibriSpeech log-mel features."""


def _hertz_to_mel(hertz: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(hertz, np.float64) / 700.0)


def mel_matrix() -> np.ndarray:
    """(FFT_SIZE // 2 + 1, NUM_MEL_BINS) float32 triangular filters, HTK mel scale.

    `tf.signal.linear_to_mel_weight_matrix`'s construction (the DC bin gets no weight),
    computed in float64 and rounded once.
    """
    num_bins = FFT_SIZE // 2 + 1
    freqs = np.linspace(0.0, SAMPLE_RATE / 2, num_bins)[1:]
    mels = _hertz_to_mel(freqs)[:, None]
    edges = np.linspace(
        _hertz_to_mel(LOWER_EDGE_HERTZ), _hertz_to_mel(UPPER_EDGE_HERTZ), NUM_MEL_BINS + 2
    )
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    slopes = np.minimum((mels - lower) / (center - lower), (upper - mels) / (upper - center))
    weights = np.maximum(0.0, slopes)
    return np.pad(weights, [(1, 0), (0, 0)]).astype(np.float32)


def hann_window() -> np.ndarray:
    """(FRAME_SIZE - 1,) float32 periodic Hann window (tf.signal.hann_window's)."""
    n = FRAME_SIZE - 1
    return (0.5 - 0.5 * np.cos(2.0 * math.pi * np.arange(n) / n)).astype(np.float32)


def num_frames(num_samples: int) -> int:
    """Log-mel frames of `num_samples` samples (no end padding)."""
    if num_samples < FRAME_SIZE:
        raise ValueError(f"audio of {num_samples} samples is shorter than one frame")
    return (num_samples - FRAME_SIZE) // FRAME_STEP + 1


def num_logit_frames(num_samples: int) -> int:
    """Output frames of either model: the front-end's, halved (rounding up) twice."""
    frames = num_frames(num_samples)
    return math.ceil(math.ceil(frames / 2) / 2)


@dataclass(frozen=True)
class SpecAugConfig:
    """SpecAugment as lingvo's, the reference's.

    Frequency masks of up to `freq_mask_max_bins` bins, and time masks of up to
    `time_mask_max_ratio` of each example's valid frames (the dynamic bound; the reference's
    40-frame cap is unused with it).
    """

    freq_mask_count: int = 2
    freq_mask_max_bins: int = 27
    time_mask_count: int = 10
    time_mask_max_ratio: float = 0.05


@dataclass(frozen=True)
class ConformerConfig:
    """The reference's Conformer (init2winit's), with its variants' switches."""

    encoder_dim: int = 512
    num_attention_heads: int = 8
    num_encoder_layers: int = 4
    convolution_kernel_size: int = 5
    feed_forward_expansion_factor: int = 4
    attention_temperature: float = 1.0
    activation: Literal["swish", "gelu"] = "swish"
    """GELU is the tanh approximation (Flax's default) in both frameworks and both places."""
    use_post_layer_norm: bool = True
    specaug: SpecAugConfig = SpecAugConfig()
    use_specaug: bool = True
    vocab_size: int = VOCAB_SIZE
    batch_norm_momentum: float = 0.999
    """Decay of the running statistics (Flax's convention)."""
    batch_norm_epsilon: float = 1e-3
    layer_norm_epsilon: float = 1e-6


@dataclass(frozen=True)
class DeepSpeechConfig:
    """The reference's DeepSpeech-2-like model, with its variants' switches."""

    encoder_dim: int = 512
    num_lstm_layers: int = 6
    num_ffn_layers: int = 3
    use_tanh: bool = False
    enable_residual_connections: bool = True
    enable_decoder_layer_norm: bool = True
    layernorm_everywhere: bool = False
    specaug: SpecAugConfig = SpecAugConfig()
    use_specaug: bool = True
    vocab_size: int = VOCAB_SIZE
    batch_norm_momentum: float = 0.999
    batch_norm_epsilon: float = 1e-3
    layer_norm_epsilon: float = 1e-6


ModelConfig = ConformerConfig | DeepSpeechConfig

CONFIGS: Mapping[str, ModelConfig] = MappingProxyType(
    {
        "librispeech_conformer": ConformerConfig(),
        "librispeech_conformer_attention_temperature": ConformerConfig(attention_temperature=1.6),
        "librispeech_conformer_layernorm": ConformerConfig(use_post_layer_norm=False),
        "librispeech_conformer_gelu": ConformerConfig(activation="gelu"),
        "librispeech_deepspeech": DeepSpeechConfig(),
        "librispeech_deepspeech_tanh": DeepSpeechConfig(use_tanh=True),
        "librispeech_deepspeech_no_resnet": DeepSpeechConfig(enable_residual_connections=False),
        "librispeech_deepspeech_norm_and_spec_aug": DeepSpeechConfig(
            layernorm_everywhere=True,
            enable_decoder_layer_norm=False,
            specaug=SpecAugConfig(freq_mask_count=4, time_mask_count=15),
        ),
    }
)
"""Workload name to its model configuration."""


def with_overrides(
    config: ModelConfig, overrides: Mapping[str, Any] | ModelConfig | None
) -> ModelConfig:
    """`config` with some fields replaced (reduced widths for tests), or a whole replacement.

    Raises:
        ValueError: naming any field the configuration does not have.
    """
    if not overrides:
        return config
    if isinstance(overrides, ConformerConfig | DeepSpeechConfig):
        return overrides
    fields = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(
            f"model_config: unknown fields {unknown} for {type(config).__name__}; "
            f"known: {sorted(fields)}"
        )
    return dataclasses.replace(config, **overrides)

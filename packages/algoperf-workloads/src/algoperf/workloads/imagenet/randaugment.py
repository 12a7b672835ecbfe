"""RandAugment on uint8 RGB images in numpy/OpenCV: the reference's op list and magnitudes.

Each of `NUM_LAYERS` (2) layers applies one of the 16 ops of the reference's (TF,
big_vision-style) RandAugment, chosen uniformly, at magnitude `MAGNITUDE` (10 of 10):
rotate ±30°, shear ±0.3, translate ±100 px (sign random), posterize to 4 bits, solarize at
256 (so no pixel changes, as in the reference), solarize-add 110 below 128, colour /
contrast / brightness / sharpness blends with factor 1.9, a gray 80x80 cutout,
auto-contrast, equalize and invert. Pixels uncovered by a geometric op are gray (128), as
the reference's `replace` value. Every draw comes from the example's own generator.

Geometric ops resample with nearest neighbour, as TF's `ImageProjectiveTransform` in the
reference; OpenCV's pixel-centre convention may shift a warp by half a pixel against TF's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from algoperf.workloads.imagenet.preprocessing import import_codecs

NUM_LAYERS = 2
MAGNITUDE = 10
MAX_LEVEL = 10.0
GRAY = 128
CUTOUT_HALF = 40
TRANSLATE_MAX = 100.0
_GRAY_WEIGHTS = np.array([0.2989, 0.587, 0.114], np.float32)


def _blend(degenerate: np.ndarray, image: np.ndarray, factor: float) -> np.ndarray:
    """Degenerate + factor (image - degenerate), clipped to uint8 (TF's `blend`)."""
    out = degenerate.astype(np.float32) + factor * (
        image.astype(np.float32) - degenerate.astype(np.float32)
    )
    return np.clip(out, 0.0, 255.0).astype(np.uint8)


def _gray(image: np.ndarray) -> np.ndarray:
    """Grayscale as uint8 (H, W, 1), TF's `rgb_to_grayscale` weights."""
    return (image.astype(np.float32) @ _GRAY_WEIGHTS).astype(np.uint8)[..., None]


def _warp(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """`image` under the 2x3 affine `matrix` (output → input convention), gray outside."""
    _, cv2 = import_codecs()
    h, w = image.shape[:2]
    return cv2.warpAffine(
        image,
        matrix.astype(np.float64),
        (w, h),
        flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(GRAY, GRAY, GRAY),
    )


def _signed(level: float, rng: np.random.Generator) -> float:
    return level if rng.random() < 0.5 else -level


def autocontrast(image: np.ndarray, rng: np.random.Generator, level: float) -> np.ndarray:
    """Each channel stretched linearly from its [min, max] to [0, 255] (unchanged if flat)."""
    lo = image.min(axis=(0, 1)).astype(np.float32)
    hi = image.max(axis=(0, 1)).astype(np.float32)
    scale = np.where(hi > lo, 255.0 / np.maximum(hi - lo, 1.0), 1.0)
    offset = np.where(hi > lo, lo, 0.0)
    out = (image.astype(np.float32) - offset) * scale
    return np.clip(out, 0, 255).astype(np.uint8)


def equalize(image: np.ndarray, rng: np.random.Generator, level: float) -> np.ndarray:
    """PIL's per-channel histogram equalisation (the reference's TF port)."""
    out = np.empty_like(image)
    for c in range(3):
        channel = image[..., c]
        histo = np.bincount(channel.ravel(), minlength=256)
        nonzero = histo[histo > 0]
        step = (nonzero.sum() - nonzero[-1]) // 255
        if step == 0:
            out[..., c] = channel
            continue
        lut = (np.cumsum(histo) + step // 2) // step
        lut = np.clip(np.concatenate([[0], lut[:-1]]), 0, 255).astype(np.uint8)
        out[..., c] = lut[channel]
    return out


def invert(image: np.ndarray, rng: np.random.Generator, level: float) -> np.ndarray:
    """255 - pixel."""
    return 255 - image


def rotate(image: np.ndarray, rng: np.random.Generator, level: float) -> np.ndarray:
    """Rotation about the centre by ±30° at full magnitude."""
    _, cv2 = import_codecs()
    degrees = _signed(level / MAX_LEVEL * 30.0, rng)
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), degrees, 1.0)
    return _warp(image, cv2.invertAffineTransform(matrix))


def posterize(image: np.ndarray, rng: np.random.Generator, level: float) -> np.ndarray:
    """Keep the top int(level / 10 * 4) bits of every pixel."""
    shift = 8 - int(level / MAX_LEVEL * 4)
    return ((image >> shift) << shift).astype(np.uint8)


def solarize(image: np.ndarray, rng: np.random.Generator, level: float) -> np.ndarray:
    """Invert pixels at or above the threshold int(level / 10 * 256)."""
    threshold = int(level / MAX_LEVEL * 256)
    return np.where(image < threshold, image, 255 - image).astype(np.uint8)


def solarize_add(image: np.ndarray, rng: np.random.Generator, level: float) -> np.ndarray:
    """Add int(level / 10 * 110) to pixels below 128, clipped."""
    addition = int(level / MAX_LEVEL * 110)
    added = np.clip(image.astype(np.int32) + addition, 0, 255).astype(np.uint8)
    return np.where(image < 128, added, image)


def _enhance_factor(level: float) -> float:
    return level / MAX_LEVEL * 1.8 + 0.1


def color(image: np.ndarray, rng: np.random.Generator, level: float) -> np.ndarray:
    """Blend with the grayscale image (factor 1.9 at full magnitude)."""
    return _blend(np.repeat(_gray(image), 3, axis=2), image, _enhance_factor(level))


def contrast(image: np.ndarray, rng: np.random.Generator, level: float) -> np.ndarray:
    """Blend with the mean gray level."""
    mean = float(_gray(image).astype(np.float32).mean())
    degenerate = np.full_like(image, int(mean))
    return _blend(degenerate, image, _enhance_factor(level))


def brightness(image: np.ndarray, rng: np.random.Generator, level: float) -> np.ndarray:
    """Blend with black: pixels scaled by the factor."""
    return _blend(np.zeros_like(image), image, _enhance_factor(level))


def sharpness(image: np.ndarray, rng: np.random.Generator, level: float) -> np.ndarray:
    """Blend with a 3x3 smoothing (centre weight 5 of 13) of the interior; borders kept."""
    x = image.astype(np.float32)
    smooth = x.copy()
    kernel = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], np.float32) / 13.0
    interior = sum(
        kernel[i, j] * x[i : i + x.shape[0] - 2, j : j + x.shape[1] - 2]
        for i in range(3)
        for j in range(3)
    )
    smooth[1:-1, 1:-1] = np.clip(interior, 0, 255)
    return _blend(smooth.astype(np.uint8), image, _enhance_factor(level))


def shear_x(image: np.ndarray, rng: np.random.Generator, level: float) -> np.ndarray:
    """Horizontal shear by +-0.3 at full magnitude."""
    s = _signed(level / MAX_LEVEL * 0.3, rng)
    return _warp(image, np.array([[1.0, s, 0.0], [0.0, 1.0, 0.0]]))


def shear_y(image: np.ndarray, rng: np.random.Generator, level: float) -> np.ndarray:
    """Vertical shear by +-0.3 at full magnitude."""
    s = _signed(level / MAX_LEVEL * 0.3, rng)
    return _warp(image, np.array([[1.0, 0.0, 0.0], [s, 1.0, 0.0]]))


def translate_x(image: np.ndarray, rng: np.random.Generator, level: float) -> np.ndarray:
    """Horizontal shift by +-100 px at full magnitude."""
    t = _signed(level / MAX_LEVEL * TRANSLATE_MAX, rng)
    return _warp(image, np.array([[1.0, 0.0, t], [0.0, 1.0, 0.0]]))


def translate_y(image: np.ndarray, rng: np.random.Generator, level: float) -> np.ndarray:
    """Vertical shift by +-100 px at full magnitude."""
    t = _signed(level / MAX_LEVEL * TRANSLATE_MAX, rng)
    return _warp(image, np.array([[1.0, 0.0, 0.0], [0.0, 1.0, t]]))


def cutout(image: np.ndarray, rng: np.random.Generator, level: float) -> np.ndarray:
    """A gray square of half-side int(level / 10 * 40) at a uniform centre, clipped."""
    half = int(level / MAX_LEVEL * CUTOUT_HALF)
    h, w = image.shape[:2]
    cy, cx = int(rng.integers(h)), int(rng.integers(w))
    out = image.copy()
    out[max(cy - half, 0) : cy + half, max(cx - half, 0) : cx + half] = GRAY
    return out


Op = Callable[[np.ndarray, np.random.Generator, float], np.ndarray]
OPS: tuple[tuple[str, Op], ...] = (
    ("AutoContrast", autocontrast),
    ("Equalize", equalize),
    ("Invert", invert),
    ("Rotate", rotate),
    ("Posterize", posterize),
    ("Solarize", solarize),
    ("Color", color),
    ("Contrast", contrast),
    ("Brightness", brightness),
    ("Sharpness", sharpness),
    ("ShearX", shear_x),
    ("ShearY", shear_y),
    ("TranslateX", translate_x),
    ("TranslateY", translate_y),
    ("Cutout", cutout),
    ("SolarizeAdd", solarize_add),
)
"""The reference's `available_ops`, in its order."""


def randaugment(
    image: np.ndarray,
    rng: np.random.Generator,
    num_layers: int = NUM_LAYERS,
    magnitude: float = MAGNITUDE,
) -> np.ndarray:
    """`num_layers` ops drawn uniformly from `OPS`, applied in turn to a uint8 (H, W, 3) image."""
    for _ in range(num_layers):
        _, op = OPS[int(rng.integers(len(OPS)))]
        image = op(np.ascontiguousarray(image), rng, float(magnitude))
    return image

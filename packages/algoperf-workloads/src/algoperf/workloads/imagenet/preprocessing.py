"""ImageNet preprocessing in numpy: JPEG bytes to 224x224 RGB images, for both frameworks.

Training (`preprocess_train`): an Inception-style random-resized crop (area fraction in
[0.08, 1], aspect ratio w/h in [3/4, 4/3], up to 10 attempts, else the eval crop), a bicubic
resize to 224x224 and a horizontal flip with probability 1/2. Eval (`preprocess_eval`): the
central square whose side is 224/256 of the shorter side (the reference's CROP_PADDING of 32),
resized bicubically to 224x224. Every random draw comes from the `np.random.Generator`
argument, so under grain's `random_map` an example's augmentation depends only on the seed
and its index, not on the number of worker processes.

Both return uint8 (224, 224, 3) arrays; `normalize` turns a batch into float32 with the
reference's per-channel mean and std of 0-255 pixels. Staying uint8 until the batch is
built moves 4x fewer bytes through grain's worker-to-main-process shared memory and to the
accelerator, and normalising a whole batch once is a single vectorised pass (it can equally
run on the device).

simplejpeg (libjpeg-turbo) decodes and OpenCV crops, resizes and flips: on 500x375 JPEGs
simplejpeg decodes ~1.5x faster than Pillow, and OpenCV's bicubic resize is ~10x faster than
Pillow's, whose antialiasing filter the reference does not use anyway
(`benchmarks/input_pipeline.py` measures the whole pipeline).

Numerical differences from the reference's TF pipeline (JAX side):

- Crop sampling follows torchvision's `RandomResizedCrop` (the reference's PyTorch side):
  area fraction uniform, aspect ratio log-uniform. TF's `sample_distorted_bounding_box`
  draws the aspect ratio uniformly and then the height uniformly, and its
  `min_object_covered=0.1` rejects crops under 10% of the image. After 10 failed attempts
  both this module and the reference's JAX side fall back to the eval crop (torchvision
  falls back to the whole image).
- OpenCV's bicubic kernel uses a = -0.75, TF's a = -0.5; neither antialiases. Pixels differ
  by a few levels near edges.
- When the crop is at least twice the output size on its shorter side, the JPEG is decoded
  at 1/2, 1/4 or 1/8 scale in the DCT domain (libjpeg-turbo) before cropping, which is
  faster and acts as an antialiasing filter; TF decodes at full size, so its bicubic
  downscale of large crops aliases more.
- JPEGs are decoded with libjpeg-turbo's accurate integer IDCT and smooth chroma upsampling;
  another IDCT setting changes pixels by a level or two.
"""

from __future__ import annotations

import functools
import importlib
import math
from types import ModuleType
from typing import NamedTuple

import numpy as np

from algoperf.api import AlgoPerfError

IMAGE_SIZE = 224
RESIZE_SIZE = 256
"""The eval crop is IMAGE_SIZE / RESIZE_SIZE of the shorter side (CROP_PADDING = 32)."""
AREA_RANGE = (0.08, 1.0)
"""Fraction of the image's area that a training crop covers."""
ASPECT_RATIO_RANGE = (3 / 4, 4 / 3)
"""Width / height of a training crop."""
MAX_ATTEMPTS = 10
MEAN_RGB = (0.485 * 255, 0.456 * 255, 0.406 * 255)
STDDEV_RGB = (0.229 * 255, 0.224 * 255, 0.225 * 255)
_DCT_RATIOS = (8, 4, 2)
"""Power-of-two downscales libjpeg-turbo does fast; other M/8 scales decode slower than 1/1."""


class ImagenetExtraNotInstalledError(AlgoPerfError, ImportError):
    """Decoding ImageNet JPEGs needs simplejpeg and OpenCV (the `imagenet` extra)."""


class Box(NamedTuple):
    """A crop window in pixels of the full-size image."""

    top: int
    left: int
    height: int
    width: int


@functools.cache
def import_codecs() -> tuple[ModuleType, ModuleType]:
    """The `simplejpeg` and `cv2` modules, imported on first use.

    OpenCV is limited to one thread: each resize takes ~0.2 ms, so its thread pool costs more
    than it saves, and the pipeline's worker processes already use the cores.

    Raises:
        ImagenetExtraNotInstalledError: naming the extra to install when either is missing.
    """
    try:
        simplejpeg = importlib.import_module("simplejpeg")
        cv2 = importlib.import_module("cv2")
    except ImportError as error:
        raise ImagenetExtraNotInstalledError(
            f"ImageNet preprocessing needs simplejpeg and OpenCV ({error}); "
            "install them with: pip install 'algoperf-workloads[imagenet]'"
        ) from error
    cv2.setNumThreads(1)
    return simplejpeg, cv2


def jpeg_shape(data: bytes) -> tuple[int, int]:
    """(height, width) of a JPEG, read from its header without decoding."""
    simplejpeg, _ = import_codecs()
    height, width, _, _ = simplejpeg.decode_jpeg_header(data)
    return height, width


def decode(data: bytes, min_shape: tuple[int, int] = (0, 0)) -> np.ndarray:
    """A JPEG as uint8 (H, W, 3) RGB, DCT-downscaled to the smallest size >= `min_shape`.

    Grayscale and CMYK JPEGs are converted to RGB. `min_shape=(0, 0)` decodes at full size.
    """
    simplejpeg, _ = import_codecs()
    return simplejpeg.decode_jpeg(
        data, colorspace="RGB", min_height=min_shape[0], min_width=min_shape[1]
    )


def random_crop_box(
    height: int,
    width: int,
    rng: np.random.Generator,
    area_range: tuple[float, float] = AREA_RANGE,
    aspect_ratio_range: tuple[float, float] = ASPECT_RATIO_RANGE,
    max_attempts: int = MAX_ATTEMPTS,
) -> Box:
    """An Inception-style random crop of a (height, width) image; the eval crop as fallback.

    Each attempt draws an area fraction uniformly and an aspect ratio log-uniformly, and is
    kept when the rounded crop fits in the image.
    """
    log_ratios = (math.log(aspect_ratio_range[0]), math.log(aspect_ratio_range[1]))
    for _ in range(max_attempts):
        area = height * width * rng.uniform(*area_range)
        ratio = math.exp(rng.uniform(*log_ratios))
        crop_width = round(math.sqrt(area * ratio))
        crop_height = round(math.sqrt(area / ratio))
        if 0 < crop_width <= width and 0 < crop_height <= height:
            top = int(rng.integers(height - crop_height + 1))
            left = int(rng.integers(width - crop_width + 1))
            return Box(top, left, crop_height, crop_width)
    return center_crop_box(height, width)


def center_crop_box(
    height: int, width: int, image_size: int = IMAGE_SIZE, resize_size: int = RESIZE_SIZE
) -> Box:
    """The central square of side image_size / resize_size of the shorter side."""
    side = int(image_size / resize_size * min(height, width))
    return Box((height - side + 1) // 2, (width - side + 1) // 2, side, side)


def decode_crop_resize(
    data: bytes, shape: tuple[int, int], box: Box, size: int = IMAGE_SIZE
) -> np.ndarray:
    """The `box` of a JPEG of full-size `shape`, resized bicubically to uint8 (size, size, 3).

    Decodes at the smallest power-of-two DCT scale that keeps the crop's shorter side at
    least `size` pixels, so large crops are never decoded at full resolution.
    """
    _, cv2 = import_codecs()
    height, width = shape
    ratio = next((r for r in _DCT_RATIOS if min(box.height, box.width) >= r * size), 1)
    image = decode(data, (-(-height // ratio), -(-width // ratio)))
    scale_y, scale_x = image.shape[0] / height, image.shape[1] / width
    top, left = round(box.top * scale_y), round(box.left * scale_x)
    bottom = max(round((box.top + box.height) * scale_y), top + 1)
    right = max(round((box.left + box.width) * scale_x), left + 1)
    crop = image[top:bottom, left:right]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_CUBIC)


def preprocess_train(data: bytes, rng: np.random.Generator, size: int = IMAGE_SIZE) -> np.ndarray:
    """A training example: random-resized crop, bicubic resize, flip; uint8 (size, size, 3)."""
    _, cv2 = import_codecs()
    shape = jpeg_shape(data)
    image = decode_crop_resize(data, shape, random_crop_box(*shape, rng), size)
    if rng.random() < 0.5:
        image = cv2.flip(image, 1)
    return image


def preprocess_eval(data: bytes, size: int = IMAGE_SIZE) -> np.ndarray:
    """An eval example: the central 224/256 crop resized bicubically; uint8 (size, size, 3)."""
    shape = jpeg_shape(data)
    return decode_crop_resize(data, shape, center_crop_box(*shape), size)


def normalize(images: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) RGB images as float32, standardised with the reference's mean and std."""
    out = np.subtract(images, np.asarray(MEAN_RGB, np.float32), dtype=np.float32)
    out /= np.asarray(STDDEV_RGB, np.float32)
    return out

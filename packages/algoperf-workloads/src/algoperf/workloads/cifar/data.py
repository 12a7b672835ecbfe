"""CIFAR-10 splits and the training augmentation, in numpy (deterministic given a seed).

Splits (reference-spec 3.2): train = TFDS `cifar10:3.0.2` train[:45000], validation =
train[45000:], test = test. Images stay uint8 in memory and are normalised per batch with
the reference's per-channel mean and standard deviation of [0, 1] pixels.

Training batches are augmented as the reference's input pipeline does: zero-pad to 36x36 (2
pixels per side: its "padding 4" is the total added to each dimension by
`tf.image.resize_with_crop_or_pad`), take a random 32x32 crop and flip left-right with
probability 1/2. The augmentation runs where batches are loaded: in grain's worker
processes when the workload has any.
"""

from __future__ import annotations

import numpy as np

from algoperf.workloads._data import ArrayDataset, NumpyBatch
from algoperf.workloads._image_splits import (
    ImageSplits,
    synthetic_image_splits,
    tfds_image_splits,
)
from algoperf.workloads._pipeline import BatchRequest
from algoperf.workloads.cifar.config import NUM_CLASSES

TFDS_NAME = "cifar10:3.0.2"
IMAGE_SIZE = 32
IMAGE_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 3)
"""NHWC; the PyTorch model transposes to NCHW itself."""
NUM_TRAIN = 45_000
"""The first 45,000 TFDS training images train; the remaining 5,000 validate."""
PAD = 2
"""Zero pixels added on each side before the random crop."""
MEAN = np.array((0.49139968, 0.48215827, 0.44653124), np.float32)
STD = np.array((0.24703233, 0.24348505, 0.26158768), np.float32)
SYNTHETIC_SIZES = {"train": 64, "validation": 32, "test": 32}
"""Examples per synthetic split: small, so a ResNet-18 eval stays within seconds on a CPU."""


def normalize(images: np.ndarray) -> np.ndarray:
    """(B, 32, 32, 3) uint8 images as float32 [0, 1] pixels standardised per channel."""
    return (images.astype(np.float32) / 255.0 - MEAN) / STD


def augment(images: np.ndarray, request: BatchRequest) -> np.ndarray:
    """Random `PAD`-padded 32x32 crops of (B, 32, 32, 3) images, half of them flipped.

    Each image's crop and flip come from its own key in `request`, so they do not depend
    on the batch it lands in, the process that loads it or the number of workers.
    """
    size = images.shape[1]
    padded = np.pad(images, ((0, 0), (PAD, PAD), (PAD, PAD), (0, 0)))  # (B, 36, 36, 3)
    top, left = (request.uniform(0, (2,)) * (2 * PAD + 1)).astype(np.int64).T
    flip = request.uniform(1) < 0.5
    rows = top[:, None] + np.arange(size)  # (B, 32)
    cols = left[:, None] + np.arange(size)  # (B, 32)
    cols = np.where(flip[:, None], cols[:, ::-1], cols)
    return padded[np.arange(len(images))[:, None, None], rows[:, :, None], cols[:, None, :]]


def train_transform(batch: NumpyBatch, request: BatchRequest) -> NumpyBatch:
    """Augmented, normalised training images."""
    return batch | {"inputs": normalize(augment(batch["inputs"], request))}


def eval_transform(batch: NumpyBatch, request: BatchRequest) -> NumpyBatch:
    """Normalised eval images, without augmentation."""
    del request
    return batch | {"inputs": normalize(batch["inputs"])}


def _dataset(splits: ImageSplits) -> ArrayDataset:
    """uint8 image splits, normalised per batch; training batches also augmented."""
    arrays = {name: _split(*pair) for name, pair in splits.items()}
    return ArrayDataset(arrays, train_transform, eval_transform)


def _split(images: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    arrays = {"inputs": np.asarray(images, np.uint8), "targets": labels.astype(np.int32)}
    for a in arrays.values():
        a.flags.writeable = False
    return arrays


def synthetic(seed: int = 0) -> ArrayDataset:
    """Random uint8 images and uniform labels of `SYNTHETIC_SIZES` per split."""
    return _dataset(synthetic_image_splits(SYNTHETIC_SIZES, IMAGE_SHAPE, NUM_CLASSES, seed))


def load(data_dir: str | None, *, num_train: int = NUM_TRAIN) -> ArrayDataset:
    """The TFDS `cifar10:3.0.2` splits under `data_dir` (TFDS's default directory when None).

    Args:
        data_dir: the TFDS data directory the dataset was prepared in.
        num_train: training images taken from the front of TFDS's train split; the rest
            validate. Only tests change it.

    Returns:
        'train', 'validation' and 'test' splits of uint8 images and int32 labels.
    """
    return _dataset(tfds_image_splits(TFDS_NAME, data_dir, num_train))

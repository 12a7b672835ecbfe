"""CIFAR-10 splits and the training augmentation, in numpy (deterministic given a seed).

Splits (reference-spec 3.2): train = TFDS `cifar10:3.0.2` train[:45000], validation =
train[45000:], test = test. Images stay uint8 in memory and are normalised per batch with
the reference's per-channel mean and standard deviation of [0, 1] pixels.

Training batches are augmented as the reference's input pipeline does: zero-pad to 36x36 (2
pixels per side: its "padding 4" is the total added to each dimension by
`tf.image.resize_with_crop_or_pad`), take a random 32x32 crop and flip left-right with
probability 1/2.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from algoperf.workloads._data import ArrayDataset, NumpyBatch
from algoperf.workloads._image_splits import synthetic_image_splits, tfds_image_splits
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


def augment(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random `PAD`-padded 32x32 crops of (B, 32, 32, 3) images, half of them flipped."""
    size = images.shape[1]
    padded = np.pad(images, ((0, 0), (PAD, PAD), (PAD, PAD), (0, 0)))  # (B, 36, 36, 3)
    top, left = rng.integers(0, 2 * PAD + 1, (2, len(images)))
    flip = rng.random(len(images)) < 0.5
    rows = top[:, None] + np.arange(size)  # (B, 32)
    cols = left[:, None] + np.arange(size)  # (B, 32)
    cols = np.where(flip[:, None], cols[:, ::-1], cols)
    return padded[np.arange(len(images))[:, None, None], rows[:, :, None], cols[:, None, :]]


@dataclass(frozen=True)
class CifarDataset:
    """uint8 image splits, normalised per batch; training batches also augmented."""

    images: ArrayDataset
    """'inputs' (N, 32, 32, 3) uint8 and 'targets' (N,) int32 per split."""

    def num_examples(self, split: str) -> int:
        """Number of examples in `split`."""
        return self.images.num_examples(split)

    def train_batches(self, seed: int, global_batch_size: int) -> Iterator[NumpyBatch]:
        """Infinite shuffled, augmented training batches; the same for the same `seed`."""
        augment_rng = np.random.default_rng([seed, 1])  # independent of the shuffle's stream
        for batch in self.images.train_batches(seed, global_batch_size):
            batch["inputs"] = normalize(augment(batch["inputs"], augment_rng))
            yield batch

    def eval_batches(
        self, split: str, global_batch_size: int, num_examples: int | None = None
    ) -> Iterator[NumpyBatch]:
        """One ordered, padded pass over `split` without augmentation."""
        for batch in self.images.eval_batches(split, global_batch_size, num_examples):
            batch["inputs"] = normalize(batch["inputs"])
            yield batch


def _split(images: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    arrays = {"inputs": np.asarray(images, np.uint8), "targets": labels.astype(np.int32)}
    for a in arrays.values():
        a.flags.writeable = False
    return arrays


def synthetic(seed: int = 0) -> CifarDataset:
    """Random uint8 images and uniform labels of `SYNTHETIC_SIZES` per split."""
    splits = synthetic_image_splits(SYNTHETIC_SIZES, IMAGE_SHAPE, NUM_CLASSES, seed)
    return CifarDataset(ArrayDataset({name: _split(*arrays) for name, arrays in splits.items()}))


def load(data_dir: str | None, *, num_train: int = NUM_TRAIN) -> CifarDataset:
    """The TFDS `cifar10:3.0.2` splits under `data_dir` (TFDS's default directory when None).

    Args:
        data_dir: the TFDS data directory the dataset was prepared in.
        num_train: training images taken from the front of TFDS's train split; the rest
            validate. Only tests change it.

    Returns:
        'train', 'validation' and 'test' splits of uint8 images and int32 labels.
    """
    splits = tfds_image_splits(TFDS_NAME, data_dir, num_train)
    return CifarDataset(ArrayDataset({name: _split(*arrays) for name, arrays in splits.items()}))

"""MNIST splits as numpy: float32 NHWC images normalised with the reference's mean and std.

Splits (reference-spec 3.2): train = TFDS `mnist` train[:50000], validation = train[50000:],
test = test. Pixels are scaled to [0, 1] before the normalisation; the reference subtracted
0.1307 and divided by 0.3081 on the raw 0..255 values, which those constants (the mean and
standard deviation of [0, 1] pixels) do not describe.
"""

from __future__ import annotations

import numpy as np

from algoperf.workloads._data import ArrayDataset
from algoperf.workloads._image_splits import synthetic_image_splits, tfds_image_splits

TFDS_NAME = "mnist:3.0.1"
NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28, 1)
"""NHWC, one channel; the PyTorch model flattens in the same order."""
NUM_TRAIN = 50_000
"""The first 50,000 TFDS training images train; the remaining 10,000 validate."""
MEAN = 0.1307
STD = 0.3081
SYNTHETIC_SIZES = {"train": 512, "validation": 256, "test": 256}
"""Examples per synthetic split: small, so synthetic evals run in well under a second."""


def normalize(images: np.ndarray) -> np.ndarray:
    """uint8 images as float32, scaled to [0, 1] and standardised with `MEAN` and `STD`."""
    return ((images.astype(np.float32) / 255.0 - MEAN) / STD).astype(np.float32)


def _split(images: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    arrays = {"inputs": normalize(images), "targets": labels.astype(np.int32)}
    for a in arrays.values():
        a.flags.writeable = False
    return arrays


def synthetic(seed: int = 0) -> ArrayDataset:
    """Random uint8 images and uniform labels of `SYNTHETIC_SIZES`, normalised as real ones are."""
    splits = synthetic_image_splits(SYNTHETIC_SIZES, IMAGE_SHAPE, NUM_CLASSES, seed)
    return ArrayDataset({name: _split(*arrays) for name, arrays in splits.items()})


def load(data_dir: str | None, *, num_train: int = NUM_TRAIN) -> ArrayDataset:
    """The TFDS `mnist` splits under `data_dir` (TFDS's default directory when None).

    Args:
        data_dir: the TFDS data directory the dataset was prepared in.
        num_train: training images taken from the front of TFDS's train split; the rest
            validate. Only tests change it.

    Returns:
        'train', 'validation' and 'test' splits of normalised images and int32 labels.
    """
    splits = tfds_image_splits(TFDS_NAME, data_dir, num_train)
    return ArrayDataset({name: _split(*arrays) for name, arrays in splits.items()})

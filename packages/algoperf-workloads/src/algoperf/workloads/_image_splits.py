"""The raw splits of the TFDS image-classification datasets (mnist, cifar): uint8 images, labels.

Both take their validation split from the end of TFDS's train split; each workload then turns
(images, labels) into its own arrays.
"""

from __future__ import annotations

import numpy as np

ImageSplits = dict[str, tuple[np.ndarray, np.ndarray]]
"""Split name ('train', 'validation', 'test') to (uint8 images, integer labels)."""


def tfds_image_splits(tfds_name: str, data_dir: str | None, num_train: int) -> ImageSplits:
    """TFDS train[:num_train], train[num_train:] and test as train, validation and test."""
    from algoperf.workloads._tfds import read_split  # lazily: tensorflow-datasets is optional

    train = read_split(tfds_name, "train", data_dir)
    test = read_split(tfds_name, "test", data_dir)
    images, labels = train["image"], train["label"]
    return {
        "train": (images[:num_train], labels[:num_train]),
        "validation": (images[num_train:], labels[num_train:]),
        "test": (test["image"], test["label"]),
    }


def synthetic_image_splits(
    sizes: dict[str, int], image_shape: tuple[int, ...], num_classes: int, seed: int
) -> ImageSplits:
    """Random uint8 images and uniform labels, `sizes[split]` of each."""
    rng = np.random.default_rng(seed)
    return {
        name: (
            rng.integers(0, 256, (size, *image_shape), dtype=np.uint8),
            rng.integers(0, num_classes, size),
        )
        for name, size in sizes.items()
    }

"""The digits data: a fixed split of scikit-learn's 1,797 8x8 images, normalised; numpy only."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits

from algoperf.workloads._data import ArrayDataset

NUM_CLASSES = 10
IMAGE_SHAPE = (8, 8, 1)
"""NHWC, one channel; the PyTorch models transpose to NCHW themselves."""
SPLIT_SIZES = {"train": 1_297, "validation": 250, "test": 250}
SPLIT_SEED = 0
"""Seed of the one fixed permutation that assigns images to splits."""


def _splits(inputs: np.ndarray, targets: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """Consecutive slices of the arrays, sized by `SPLIT_SIZES`, as read-only arrays."""
    splits, start = {}, 0
    for name, size in SPLIT_SIZES.items():
        arrays = {"inputs": inputs[start : start + size], "targets": targets[start : start + size]}
        for a in arrays.values():
            a.flags.writeable = False
        splits[name], start = arrays, start + size
    return splits


def load(*, synthetic: bool = False) -> ArrayDataset:
    """The digits splits: float32 NHWC inputs standardised with train statistics, int32 labels.

    Args:
        synthetic: standard-normal inputs and uniform labels of the same shapes, dtypes and
            split sizes instead of the real images.
    """
    n = sum(SPLIT_SIZES.values())
    if synthetic:
        rng = np.random.default_rng(SPLIT_SEED)
        inputs = rng.standard_normal((n, *IMAGE_SHAPE), dtype=np.float32)
        return ArrayDataset(_splits(inputs, rng.integers(0, NUM_CLASSES, n, dtype=np.int32)))
    pixels, labels = load_digits(return_X_y=True)  # (N, 64) row-major 8x8 images, (N,)
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    images = np.asarray(pixels).reshape(-1, 8, 8)[order].astype(np.float32)[..., None]
    train = images[: SPLIT_SIZES["train"]]  # images: (N, 8, 8, 1), values 0..16
    inputs = (images - train.mean()) / train.std()
    targets = np.asarray(labels)[order].astype(np.int32)
    return ArrayDataset(_splits(inputs.astype(np.float32), targets))

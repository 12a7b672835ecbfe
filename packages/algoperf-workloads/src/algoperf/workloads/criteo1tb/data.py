"""Criteo 1TB batches as numpy: (B, 39) float32 inputs, (B,) float32 click labels.

Inputs are the reference's layout: 13 dense counts as log(relu(x) + 1), then 26 categorical
ids (hash buckets, taken modulo the vocabulary inside the model) stored as floats.
"""

from __future__ import annotations

import numpy as np

from algoperf.workloads._data import ArrayDataset
from algoperf.workloads.criteo1tb.config import NUM_DENSE_FEATURES, NUM_SPARSE_FEATURES

SYNTHETIC_SIZES = {"train": 2_048, "validation": 512, "test": 512}
"""Examples per synthetic split: small, so synthetic evals run in seconds on a CPU."""
_CLICK_RATE = 0.25
"""Synthetic positive rate; higher than Criteo's ~3% so small batches hold both labels."""


def dense_transform(counts: np.ndarray) -> np.ndarray:
    """The reference's log(relu(x) + 1) of the raw integer features, as float32."""
    return np.log(np.maximum(counts, 0) + 1).astype(np.float32)


def synthetic_split(num_examples: int, vocab_size: int, seed: int) -> dict[str, np.ndarray]:
    """Random examples: geometric dense counts, uniform categorical ids below `vocab_size`."""
    rng = np.random.default_rng(seed)
    counts = rng.geometric(0.05, (num_examples, NUM_DENSE_FEATURES)) - 2  # some negatives
    ids = rng.integers(0, vocab_size, (num_examples, NUM_SPARSE_FEATURES))
    inputs = np.concatenate([dense_transform(counts), ids.astype(np.float32)], axis=1)
    targets = (rng.random(num_examples) < _CLICK_RATE).astype(np.float32)
    return {"inputs": inputs, "targets": targets}


def synthetic(vocab_size: int, seed: int = 0) -> ArrayDataset:
    """Synthetic train, validation and test splits of `SYNTHETIC_SIZES` examples."""
    return ArrayDataset(
        {
            name: synthetic_split(size, min(vocab_size, 2**24), seed + i)  # exact in float32
            for i, (name, size) in enumerate(SYNTHETIC_SIZES.items())
        }
    )

"""Numpy metrics shared by both frameworks: one implementation, so they cannot disagree.

Each eval batch gives weighted *sums* (padding has weight 0); sums are added over batches and
devices and divided once at the end, so results do not depend on batch size or device count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np

from algoperf.api import WorkloadSpec

MetricSums = dict[str, float]
"""Weighted sums of per-example metrics plus their total weight under 'num_examples'."""


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-example softmax cross-entropy of integer `labels`, computed in float64."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return -np.take_along_axis(log_probs, labels[:, None].astype(np.int64), axis=-1)[:, 0]


def classification_sums(logits: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> MetricSums:
    """Weighted sums of cross-entropy and accuracy over one batch."""
    weights = np.asarray(weights, dtype=np.float64)
    correct = np.argmax(logits, axis=-1) == labels
    return {
        "loss": float(np.sum(weights * softmax_cross_entropy(logits, labels))),
        "accuracy": float(np.sum(weights * correct)),
        "num_examples": float(np.sum(weights)),
    }


def add_sums(a: Mapping[str, float], b: Mapping[str, float]) -> MetricSums:
    """Element-wise sum of two `MetricSums` (either may be empty)."""
    return {k: a.get(k, 0.0) + b.get(k, 0.0) for k in {*a, *b}}


def eval_all_splits(
    spec: WorkloadSpec, eval_split: Callable[[str, int], Iterable[MetricSums]]
) -> dict[str, float]:
    """Evaluate eval_train, validation and test; keys like 'validation/accuracy'.

    Args:
        spec: the workload's metadata (split sizes).
        eval_split: `(split, num_examples)` to the metric sums of each of its batches.

    Returns:
        Mean metrics per split prefix ('train/', 'validation/', 'test/') plus
        'validation/num_examples' and 'test/num_examples'.
    """
    splits = [("train", "eval_train", spec.num_eval_train_examples)]
    splits.append(("validation", "validation", spec.num_validation_examples))
    if spec.num_test_examples is not None:
        splits.append(("test", "test", spec.num_test_examples))
    results: dict[str, float] = {}
    for prefix, split, num_examples in splits:
        total: MetricSums = {}
        for sums in eval_split(split, num_examples):
            total = add_sums(total, sums)
        count = total.pop("num_examples")
        results |= {f"{prefix}/{k}": v / count for k, v in total.items()}
        if prefix != "train":
            results[f"{prefix}/num_examples"] = count
    return results

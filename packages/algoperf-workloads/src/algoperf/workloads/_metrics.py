"""Numpy metrics shared by both frameworks: one implementation, so they cannot disagree.

Most metrics are weighted *sums* per eval batch (padding has weight 0), added over batches and
devices and divided once at the end, so results do not depend on batch size or device count.
Metrics that are not sums (OGBG's mean average precision) are computed once per split.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

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


def binary_cross_entropy(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Element-wise sigmoid cross-entropy of 0/1 `targets`, in float64 (log-sigmoid form)."""
    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    # -[y log s(x) + (1-y) log s(-x)] = y softplus(-x) + (1-y) softplus(x)
    return targets * np.logaddexp(0.0, -logits) + (1.0 - targets) * np.logaddexp(0.0, logits)


def add_sums(a: Mapping[str, float], b: Mapping[str, float]) -> MetricSums:
    """Element-wise sum of two `MetricSums` (either may be empty)."""
    return {k: a.get(k, 0.0) + b.get(k, 0.0) for k in {*a, *b}}


def mean_of_sums(sums: Mapping[str, float]) -> dict[str, float]:
    """Each sum divided by the total weight; 'num_examples' is kept as it is."""
    count = sums["num_examples"]
    return {k: (v if k == "num_examples" else v / count) for k, v in sums.items()}


def eval_all_splits(
    spec: WorkloadSpec, eval_split: Callable[[str, int], Mapping[str, float]]
) -> dict[str, float]:
    """Evaluate eval_train, validation and test; keys like 'validation/accuracy'.

    Args:
        spec: the workload's metadata (split sizes).
        eval_split: `(split, num_examples)` to that split's final metrics, including the
            number of examples evaluated under 'num_examples'.

    Returns:
        Metrics per split prefix ('train/', 'validation/', 'test/') plus
        'validation/num_examples' and 'test/num_examples'.
    """
    splits = [("train", "eval_train", spec.num_eval_train_examples)]
    splits.append(("validation", "validation", spec.num_validation_examples))
    if spec.num_test_examples is not None:
        splits.append(("test", "test", spec.num_test_examples))
    results: dict[str, float] = {}
    for prefix, split, num_examples in splits:
        metrics = dict(eval_split(split, num_examples))
        count = metrics.pop("num_examples")
        results |= {f"{prefix}/{k}": v for k, v in metrics.items()}
        if prefix != "train":
            results[f"{prefix}/num_examples"] = count
    return results

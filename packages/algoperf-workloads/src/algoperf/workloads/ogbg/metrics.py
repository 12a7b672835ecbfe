"""ogbg metrics in numpy, shared by both frameworks: masked BCE, accuracy and mean AP."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score

from algoperf.workloads._metrics import binary_cross_entropy


def mean_average_precision(logits: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> float:
    """Mean over tasks of sklearn's average precision on each task's labelled graphs.

    Tasks whose labelled graphs lack a positive or a negative are skipped (AP is undefined);
    the reference tested both classes over all graphs, counting NaN-turned-0 labels as
    negatives. NaN when no task qualifies.
    """
    # AP depends only on the ranking; logits rank like the reference's sigmoid probabilities
    # without the ties that saturated sigmoids create.
    scores = np.asarray(logits, dtype=np.float64)
    precisions = []
    for task in range(labels.shape[1]):
        labelled = weights[:, task] > 0
        y = labels[labelled, task]
        if y.any() and not y.all():
            precisions.append(average_precision_score(y, scores[labelled, task]))
    return float(np.mean(precisions)) if precisions else float("nan")


def graph_metrics(logits: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> dict[str, float]:
    """Metrics of one whole split from its (graphs, tasks) logits, 0/1 labels and weights.

    'loss' (BCE) and 'accuracy' (logit > 0 matches the label) are means over labelled
    (graph, task) entries; 'num_examples' counts graphs with at least one label.
    """
    count = weights.sum(dtype=np.float64)
    correct = (logits > 0) == (labels > 0.5)
    return {
        "loss": float((weights * binary_cross_entropy(logits, labels)).sum() / count),
        "accuracy": float((weights * correct).sum(dtype=np.float64) / count),
        "mean_average_precision": mean_average_precision(logits, labels, weights),
        "num_examples": float((weights > 0).any(axis=1).sum()),
    }

"""ogbg-molpcba splits as `GraphSplit`s; synthetic molecule-like graphs for CI (numpy only)."""

from __future__ import annotations

import numpy as np

from algoperf.workloads.ogbg.config import EDGE_FEATURES, NODE_FEATURES, NUM_TASKS
from algoperf.workloads.ogbg.graphs import GraphSplit

SYNTHETIC_SIZES = {"train": 256, "validation": 64, "test": 64}
"""Graphs per synthetic split: small, so synthetic evals run in seconds on a CPU."""
# Category counts of the OGB atom and bond features (ogb.utils.features), so synthetic
# features take values the real ones can.
_ATOM_FEATURE_SIZES = (119, 4, 12, 12, 10, 6, 6, 2, 2)[:NODE_FEATURES]
_BOND_FEATURE_SIZES = (5, 6, 2)[:EDGE_FEATURES]
_LABELLED = 0.4
"""Fraction of (graph, task) labels present; the rest are NaN, as in molpcba."""
_POSITIVE = 0.1


def synthetic_split(num_graphs: int, seed: int) -> GraphSplit:
    """Random molecule-like graphs: 5 to 30 atoms on a random tree plus up to 3 ring bonds.

    Shapes, dtypes and value ranges follow TFDS `ogbg_molpcba`; graphs stay under the
    per-graph budget of 26 nodes and 56 (bidirectional) edges on average.
    """
    rng = np.random.default_rng(seed)
    n_node = rng.integers(5, 31, num_graphs).astype(np.int32)
    edge_lists = []
    for n in n_node:
        children = np.arange(1, n)
        tree = np.stack([rng.integers(0, children), children], axis=1)  # parent < child
        rings = rng.integers(0, n, (rng.integers(0, 4), 2))
        edge_lists.append(np.concatenate([tree, rings[rings[:, 0] != rings[:, 1]]]))
    n_edge = np.array([len(e) for e in edge_lists], np.int32)

    def features(count: int, sizes: tuple[int, ...]) -> np.ndarray:
        return rng.integers(0, sizes, (count, len(sizes))).astype(np.float32)

    labels = (rng.random((num_graphs, NUM_TASKS)) < _POSITIVE).astype(np.float32)
    labels[rng.random(labels.shape) >= _LABELLED] = np.nan
    return GraphSplit(
        nodes=features(int(n_node.sum()), _ATOM_FEATURE_SIZES),
        edges=features(int(n_edge.sum()), _BOND_FEATURE_SIZES),
        edge_index=np.concatenate(edge_lists).astype(np.int32),
        n_node=n_node,
        n_edge=n_edge,
        labels=labels,
    )


def synthetic_splits(seed: int = 0) -> dict[str, GraphSplit]:
    """Synthetic train, validation and test splits of `SYNTHETIC_SIZES` graphs."""
    return {
        name: synthetic_split(size, seed + i)
        for i, (name, size) in enumerate(SYNTHETIC_SIZES.items())
    }

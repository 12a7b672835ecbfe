"""ogbg-molpcba splits as `GraphSplit`s: TFDS read without TensorFlow, or synthetic for CI.

Numpy only; tensorflow_datasets is imported only when real data is read.
"""

from __future__ import annotations

import numpy as np

from algoperf.workloads import _tfds
from algoperf.workloads.ogbg.config import EDGE_FEATURES, NODE_FEATURES, NUM_TASKS
from algoperf.workloads.ogbg.graphs import GraphSplit

TFDS_NAME = "ogbg_molpcba:0.1.3"
"""The TFDS dataset the reference reads; `algoperf-datasets prepare ogbg_molpcba` writes it."""
SPLITS = ("train", "validation", "test")
_RAGGED = ("node_feat", "edge_feat", "edge_index", "num_nodes", "num_edges")
"""Features whose first axis varies per graph (num_nodes and num_edges hold one count each)."""

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


def load_splits(data_dir: str | None) -> dict[str, GraphSplit]:
    """The train, validation and test splits of TFDS `ogbg_molpcba:0.1.3` under `data_dir`.

    Bonds are kept once, as stored; batching makes them bidirectional (`GraphSplit.graph`),
    as the reference does. NaN labels stay NaN (weight 0 in batches).

    Raises:
        TfdsNotInstalledError: if the `tfds` extra is not installed.
        DatasetNotPreparedError: if the dataset is not prepared under `data_dir`.
        ValueError: if the records are inconsistent (counts, or edges pointing outside a graph).
    """
    return {
        split: graph_split(_tfds.read_ragged_split(TFDS_NAME, split, data_dir, _RAGGED), split)
        for split in SPLITS
    }


def graph_split(columns: _tfds.RaggedSplit, split: str = "") -> GraphSplit:
    """A `GraphSplit` from the columns of TFDS ogbg_molpcba records, checked for consistency.

    Raises:
        ValueError: if the stored counts disagree with the arrays, or an edge points outside
            its graph.
    """
    arrays, rows = columns.arrays, columns.row_counts
    n_node, n_edge = rows["node_feat"].astype(np.int32), rows["edge_index"].astype(np.int32)
    problems = []
    if not np.array_equal(arrays["num_nodes"], n_node) or (rows["num_nodes"] != 1).any():
        problems.append("num_nodes differs from the rows of node_feat")
    if not np.array_equal(arrays["num_edges"], n_edge) or (rows["num_edges"] != 1).any():
        problems.append("num_edges differs from the rows of edge_index")
    if not np.array_equal(rows["edge_feat"], rows["edge_index"]):
        problems.append("edge_feat and edge_index have different rows")
    edge_index = arrays["edge_index"].astype(np.int32)
    graph_of_edge = np.repeat(np.arange(len(n_edge)), n_edge)
    if not problems and ((edge_index < 0) | (edge_index >= n_node[graph_of_edge, None])).any():
        problems.append("an edge_index points outside its graph")
    if problems:
        raise ValueError(f"{TFDS_NAME} {split}: inconsistent records: {'; '.join(problems)}")
    return GraphSplit(
        nodes=arrays["node_feat"].astype(np.float32),
        edges=arrays["edge_feat"].astype(np.float32),
        edge_index=edge_index,
        n_node=n_node,
        n_edge=n_edge,
        labels=arrays["labels"].astype(np.float32),
    )

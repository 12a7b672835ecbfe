"""Padded graph batching in numpy (what jraph's `dynamically_batch` did for the reference).

A global batch is `num_shards` sub-batches, one per device or process, concatenated. Each
sub-batch packs whole graphs greedily, in order, under the per-device budgets of the
reference (pbs = per-device batch size): at most 26·pbs+1 nodes, 56·pbs edges and pbs+1
graphs, then pads to exactly those sizes. Padding nodes and edges all belong to one padding
graph (padding edges join the first padding node to itself); further padding graphs are
empty. Sender and receiver indices are global within a process's concatenated sub-batches,
so a model sees one flat graph whatever the device count.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

import numpy as np

from algoperf.workloads._pipeline import SINGLE_PROCESS, EpochOrder, NumpyBatch, ProcessShare

AVG_NODES_PER_GRAPH = 26
AVG_EDGES_PER_GRAPH = 56
"""Per-graph budgets of the reference; edges count both directions."""


ArrayT = TypeVar("ArrayT")
"""The array type of a `GraphsTuple`: numpy in the data pipeline, then jax or torch."""


class GraphsTuple(NamedTuple, Generic[ArrayT]):
    """A batch of graphs as flat arrays (jraph's layout, without globals)."""

    nodes: ArrayT
    """(N, F_node) node features."""
    edges: ArrayT
    """(E, F_edge) edge features."""
    senders: ArrayT
    """(E,) int32 index of each edge's source node."""
    receivers: ArrayT
    """(E,) int32 index of each edge's target node."""
    n_node: ArrayT
    """(G,) int32 nodes per graph; graph g owns the next n_node[g] nodes."""
    n_edge: ArrayT
    """(G,) int32 edges per graph, in the same order."""


@dataclass(frozen=True)
class Budget:
    """Fixed sizes of one padded sub-batch."""

    nodes: int
    edges: int
    graphs: int

    @classmethod
    def for_batch_size(cls, per_device_batch_size: int) -> Budget:
        """The reference's budget for `per_device_batch_size` graphs per device."""
        pbs = per_device_batch_size
        return cls(AVG_NODES_PER_GRAPH * pbs + 1, AVG_EDGES_PER_GRAPH * pbs, pbs + 1)


@dataclass(frozen=True)
class GraphSplit:
    """One split's graphs as flat arrays; edges are stored once, as in the dataset."""

    nodes: np.ndarray
    """(sum of n_node, 9) float32 atom features."""
    edges: np.ndarray
    """(sum of n_edge, 3) float32 bond features."""
    edge_index: np.ndarray
    """(sum of n_edge, 2) int32 (sender, receiver) per bond, indices local to its graph."""
    n_node: np.ndarray
    """(G,) int32."""
    n_edge: np.ndarray
    """(G,) int32 bonds per graph (before they are made bidirectional)."""
    labels: np.ndarray
    """(G, 128) float32 task labels 0/1, NaN where unlabelled."""

    @functools.cached_property
    def _node_start(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.n_node)])

    @functools.cached_property
    def _edge_start(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.n_edge)])

    def __len__(self) -> int:
        return len(self.n_node)

    def size(self, i: int) -> tuple[int, int]:
        """Nodes and (bidirectional) edges of graph `i`."""
        return int(self.n_node[i]), 2 * int(self.n_edge[i])

    def graph(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nodes, bidirectional edges and their (sender, receiver) local indices of graph `i`."""
        n0, n1 = self._node_start[i], self._node_start[i + 1]
        e0, e1 = self._edge_start[i], self._edge_start[i + 1]
        index = self.edge_index[e0:e1]
        both = np.concatenate([index, index[:, ::-1]])  # each bond in both directions
        return self.nodes[n0:n1], np.concatenate([self.edges[e0:e1]] * 2), both


def pad_graphs(split: GraphSplit, indices: Sequence[int], budget: Budget) -> NumpyBatch:
    """Graphs `indices` of `split` as one sub-batch padded to `budget`.

    Returns:
        {'inputs': GraphsTuple, 'targets': (graphs, 128) labels with NaN→0,
        'weights': (graphs, 128) 1 where a real graph's task is labelled, else 0}.
    """
    parts = [split.graph(i) for i in indices]
    n_node = [len(p[0]) for p in parts]
    n_edge = [len(p[1]) for p in parts]
    num_nodes, num_edges = sum(n_node), sum(n_edge)
    if num_nodes >= budget.nodes or num_edges > budget.edges or len(parts) >= budget.graphs:
        raise ValueError(f"graphs of {num_nodes} nodes and {num_edges} edges exceed {budget}")
    offsets = np.cumsum([0, *n_node])[:-1]
    index = np.concatenate(
        [p[2] + off for p, off in zip(parts, offsets, strict=True)] or [np.zeros((0, 2))]
    )
    pad_edges = budget.edges - num_edges
    index = np.concatenate([index, np.full((pad_edges, 2), num_nodes)]).astype(np.int32)
    feature = split.nodes.shape[1], split.edges.shape[1]
    nodes = np.zeros((budget.nodes, feature[0]), np.float32)
    nodes[:num_nodes] = np.concatenate([p[0] for p in parts] or [nodes[:0]])
    edges = np.zeros((budget.edges, feature[1]), np.float32)
    edges[:num_edges] = np.concatenate([p[1] for p in parts] or [edges[:0]])
    pad_graph_sizes = [0] * (budget.graphs - len(parts))
    pad_graph_sizes[0] = budget.nodes - num_nodes
    pad_edge_sizes = [0] * (budget.graphs - len(parts))
    pad_edge_sizes[0] = pad_edges
    labels = np.zeros((budget.graphs, split.labels.shape[1]), np.float32)
    labels[: len(parts)] = split.labels[list(indices)]
    weights = (~np.isnan(labels)).astype(np.float32)
    weights[len(parts) :] = 0.0
    graphs = GraphsTuple(
        nodes=nodes,
        edges=edges,
        senders=index[:, 0],
        receivers=index[:, 1],
        n_node=np.array(n_node + pad_graph_sizes, np.int32),
        n_edge=np.array(n_edge + pad_edge_sizes, np.int32),
    )
    return {"inputs": graphs, "targets": np.nan_to_num(labels, nan=0.0), "weights": weights}


def concat_graph_batches(parts: Sequence[NumpyBatch]) -> NumpyBatch:
    """Sub-batches concatenated into one batch, node indices shifted to stay global."""
    offsets = np.cumsum([0] + [len(p["inputs"].nodes) for p in parts[:-1]])
    inputs = [p["inputs"] for p in parts]
    graphs = GraphsTuple(
        nodes=np.concatenate([g.nodes for g in inputs]),
        edges=np.concatenate([g.edges for g in inputs]),
        senders=np.concatenate([g.senders + o for g, o in zip(inputs, offsets, strict=True)]),
        receivers=np.concatenate([g.receivers + o for g, o in zip(inputs, offsets, strict=True)]),
        n_node=np.concatenate([g.n_node for g in inputs]),
        n_edge=np.concatenate([g.n_edge for g in inputs]),
    )
    return {
        "inputs": graphs._replace(
            senders=graphs.senders.astype(np.int32), receivers=graphs.receivers.astype(np.int32)
        ),
        "targets": np.concatenate([p["targets"] for p in parts]),
        "weights": np.concatenate([p["weights"] for p in parts]),
    }


class GraphBatches(Iterator[NumpyBatch]):
    """Global batches packed greedily from a stream of graphs; this process builds its own.

    Every process plans all `num_shards` sub-batches of each global batch (from graph sizes
    alone, which is cheap) and gathers and pads only those of its share, so the union over
    processes is the single-process batch. Greedy packing starts afresh at every sub-batch,
    so the stream's state is the position of the next unpacked graph: it resumes in O(1).
    """

    def __init__(
        self,
        split: GraphSplit,
        order: Callable[[int], int],
        budget: Budget,
        num_shards: int,
        share: ProcessShare,
        end: int | None = None,
    ) -> None:
        """`order` maps stream positions to graphs; an eval stream ends at position `end`."""
        self.split, self.order, self.budget, self.end = split, order, budget, end
        self.num_shards = num_shards
        self.mine = share.rows(num_shards)
        self.sizes = list(zip(split.n_node.tolist(), (2 * split.n_edge).tolist(), strict=True))
        self.position = 0

    def _plan(self) -> list[int]:
        """The graphs of the next sub-batch, advancing `position` past them."""
        graphs: list[int] = []
        nodes = edges = 0
        while self.end is None or self.position < self.end:
            i = self.order(self.position)
            n, e = self.sizes[i]
            if n >= self.budget.nodes or e > self.budget.edges:
                raise ValueError(
                    f"graph {i} ({n} nodes, {e} edges) exceeds the batch budget {self.budget}"
                )
            full = len(graphs) + 1 >= self.budget.graphs
            if full or nodes + n >= self.budget.nodes or edges + e > self.budget.edges:
                break
            graphs.append(i)
            nodes, edges = nodes + n, edges + e
            self.position += 1
        return graphs

    def __next__(self) -> NumpyBatch:
        if self.end is not None and self.position >= self.end:
            raise StopIteration
        plans = [self._plan() for _ in range(self.num_shards)]
        parts = [pad_graphs(self.split, plans[s], self.budget) for s in self.mine]
        return concat_graph_batches(parts)

    def get_state(self) -> dict[str, Any]:
        """The stream position of the next graph to pack."""
        return {"position": self.position}

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue packing at `state['position']`."""
        self.position = int(state["position"])


@dataclass(frozen=True)
class GraphDataset:
    """Splits of graphs batched into `num_shards` padded sub-batches per global batch."""

    splits: dict[str, GraphSplit]
    num_shards: int
    """Sub-batches per global batch: the devices (JAX) or processes (PyTorch) by default."""

    def num_examples(self, split: str) -> int:
        """Graphs in `split`."""
        return len(self.splits[split])

    def budget(self, global_batch_size: int) -> Budget:
        """The per-sub-batch budget of `global_batch_size` graphs.

        Raises:
            ValueError: if `global_batch_size` is not divisible by `num_shards`.
        """
        if global_batch_size % self.num_shards:
            raise ValueError(
                f"global batch size {global_batch_size} is not divisible by the "
                f"{self.num_shards} graph sub-batches (devices)"
            )
        return Budget.for_batch_size(global_batch_size // self.num_shards)

    def train_batches(
        self,
        seed: int,
        global_batch_size: int,
        share: ProcessShare = SINGLE_PROCESS,
        workers: int = 0,
    ) -> GraphBatches:
        """Infinite global batches over per-epoch permutations of the training graphs.

        Packing is cheap and in memory, so it runs in this process whatever `workers` says.
        """
        del workers
        split = self.splits["train"]
        order = EpochOrder(seed, len(split))
        budget = self.budget(global_batch_size)
        return GraphBatches(split, order.at, budget, self.num_shards, share)

    def eval_batches(
        self,
        split: str,
        global_batch_size: int,
        num_examples: int | None = None,
        share: ProcessShare = SINGLE_PROCESS,
        workers: int = 0,
    ) -> GraphBatches:
        """One ordered pass over the first `num_examples` graphs; 'eval_train' reads train."""
        del workers
        graphs = self.splits["train" if split == "eval_train" else split]
        count = len(graphs) if num_examples is None else num_examples
        budget = self.budget(global_batch_size)
        return GraphBatches(graphs, int, budget, self.num_shards, share, end=count)

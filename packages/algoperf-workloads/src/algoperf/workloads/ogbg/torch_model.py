"""The GraphNet GNN in PyTorch; the same function as `jax_model` (segment sums by index_add_).

Weights start from Flax's default initialisation. Shapes: N nodes, E edges, G graphs,
L latent width, H the last hidden width, T tasks.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from algoperf.workloads.ogbg.config import DROPOUT_RATE, EDGE_FEATURES, NODE_FEATURES, GNNConfig
from algoperf.workloads.ogbg.graphs import GraphsTuple
from algoperf.workloads.torch_init import flax_default_init

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "gelu": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
}


def segment_sum(data: torch.Tensor, segment_ids: torch.Tensor, num_segments: int) -> torch.Tensor:
    """Rows of `data` summed per segment: (rows, D) → (num_segments, D)."""
    out = data.new_zeros((num_segments, data.shape[1]))
    return out.index_add_(0, segment_ids.long(), data)


class UpdateMLP(nn.Module):
    """[Dense → LayerNorm → activation → dropout] per hidden width."""

    def __init__(self, in_dim: int, hidden_dims: tuple[int, ...], activation: str) -> None:
        super().__init__()
        dims = (in_dim, *hidden_dims)
        self.dense = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(dims))
        self.norm = nn.ModuleList(nn.LayerNorm(d, eps=1e-6) for d in hidden_dims)
        self.activation = ACTIVATIONS[activation]

    def forward(self, x: torch.Tensor, dropout_rate: float) -> torch.Tensor:
        """(rows, in) → (rows, hidden_dims[-1])."""
        for dense, norm in zip(self.dense, self.norm, strict=True):
            x = self.activation(norm(dense(x)))
            x = F.dropout(x, dropout_rate, training=self.training)
        return x


class GraphNet(nn.Module):
    """Embed nodes and edges, run full GraphNetwork steps, decode the globals to task logits."""

    def __init__(self, config: GNNConfig) -> None:
        super().__init__()
        c = self.config = config
        out = c.hidden_dims[-1]
        self.node_embedding = nn.Linear(NODE_FEATURES, c.latent_dim)
        self.edge_embedding = nn.Linear(EDGE_FEATURES, c.latent_dim)
        edge_mlps, node_mlps, global_mlps = [], [], []
        node_dim = edge_dim = c.latent_dim
        global_dim = c.num_outputs
        for _ in range(c.num_message_passing_steps):
            edge_mlps.append(
                UpdateMLP(edge_dim + 2 * node_dim + global_dim, c.hidden_dims, c.activation)
            )
            node_mlps.append(
                UpdateMLP(node_dim + 2 * out + global_dim, c.hidden_dims, c.activation)
            )
            global_mlps.append(UpdateMLP(2 * out + global_dim, c.hidden_dims, c.activation))
            node_dim = edge_dim = global_dim = out
        self.edge_mlp = nn.ModuleList(edge_mlps)
        self.node_mlp = nn.ModuleList(node_mlps)
        self.global_mlp = nn.ModuleList(global_mlps)
        self.decoder = nn.Linear(out, c.num_outputs)
        flax_default_init(self)

    def forward(
        self, graph: GraphsTuple[torch.Tensor], dropout_rate: float = DROPOUT_RATE
    ) -> torch.Tensor:
        """(G, T) logits of a padded graph batch."""
        num_nodes, num_graphs = len(graph.nodes), len(graph.n_node)
        graph_ids = torch.arange(num_graphs, device=graph.nodes.device)
        node_graph = torch.repeat_interleave(graph_ids, graph.n_node, output_size=num_nodes)  # (N,)
        edge_graph = torch.repeat_interleave(  # (E,)
            graph_ids, graph.n_edge, output_size=len(graph.edges)
        )
        senders, receivers = graph.senders.long(), graph.receivers.long()
        nodes = self.node_embedding(graph.nodes)  # (N, L)
        edges = self.edge_embedding(graph.edges)  # (E, L)
        globals_ = nodes.new_zeros((num_graphs, self.config.num_outputs))  # (G, T)
        for edge_mlp, node_mlp, global_mlp in zip(
            self.edge_mlp, self.node_mlp, self.global_mlp, strict=True
        ):
            edge_in = [edges, nodes[senders], nodes[receivers], globals_[edge_graph]]
            edges = edge_mlp(torch.cat(edge_in, 1), dropout_rate)  # (E, H)
            sent = segment_sum(edges, senders, num_nodes)  # (N, H)
            received = segment_sum(edges, receivers, num_nodes)  # (N, H)
            nodes = node_mlp(
                torch.cat([nodes, sent, received, globals_[node_graph]], 1), dropout_rate
            )
            global_in = [
                segment_sum(nodes, node_graph, num_graphs),  # (G, H)
                segment_sum(edges, edge_graph, num_graphs),  # (G, H)
                globals_,
            ]
            globals_ = global_mlp(torch.cat(global_in, 1), dropout_rate)  # (G, H)
        return self.decoder(globals_)  # (G, T)

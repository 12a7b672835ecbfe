"""The GraphNet GNN in Flax (linen): jraph's GraphNetwork written out, segment sums via JAX.

`torch_model` computes the same function. Shapes: N nodes, E edges, G graphs, L latent width,
H the last hidden width, T tasks.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from algoperf.workloads.ogbg.config import DROPOUT_RATE, GNNConfig
from algoperf.workloads.ogbg.graphs import GraphsTuple

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu,
    "gelu": lambda x: nn.gelu(x, approximate=True),
    "silu": nn.silu,
}


class UpdateMLP(nn.Module):
    """[Dense → LayerNorm → activation → dropout] per hidden width."""

    hidden_dims: tuple[int, ...]
    activation: str

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool, dropout_rate: float) -> jax.Array:
        """(rows, in) → (rows, hidden_dims[-1])."""
        for i, dim in enumerate(self.hidden_dims):
            x = nn.Dense(dim, name=f"dense_{i}")(x)
            x = nn.LayerNorm(epsilon=1e-6, name=f"norm_{i}")(x)
            x = ACTIVATIONS[self.activation](x)
            x = nn.Dropout(dropout_rate, deterministic=not train)(x)
        return x


class GraphNet(nn.Module):
    """Embed nodes and edges, run full GraphNetwork steps, decode the globals to task logits."""

    config: GNNConfig

    @nn.compact
    def __call__(
        self, graph: GraphsTuple[jax.Array], *, train: bool, dropout_rate: float = DROPOUT_RATE
    ) -> jax.Array:
        """(G, T) logits of a padded graph batch."""
        c = self.config
        num_nodes, num_edges, num_graphs = len(graph.nodes), len(graph.edges), len(graph.n_node)
        node_graph = jnp.repeat(  # (N,) graph of each node
            jnp.arange(num_graphs), graph.n_node, total_repeat_length=num_nodes
        )
        edge_graph = jnp.repeat(  # (E,) graph of each edge
            jnp.arange(num_graphs), graph.n_edge, total_repeat_length=num_edges
        )
        nodes = nn.Dense(c.latent_dim, name="node_embedding")(graph.nodes)  # (N, L)
        edges = nn.Dense(c.latent_dim, name="edge_embedding")(graph.edges)  # (E, L)
        globals_ = jnp.zeros((num_graphs, c.num_outputs), nodes.dtype)  # (G, T)
        mlp = {"hidden_dims": c.hidden_dims, "activation": c.activation}
        run = {"train": train, "dropout_rate": dropout_rate}
        for step in range(c.num_message_passing_steps):
            edge_in = [edges, nodes[graph.senders], nodes[graph.receivers], globals_[edge_graph]]
            edges = UpdateMLP(**mlp, name=f"edge_mlp_{step}")(jnp.concatenate(edge_in, 1), **run)
            sent = jax.ops.segment_sum(edges, graph.senders, num_nodes)  # (N, H)
            received = jax.ops.segment_sum(edges, graph.receivers, num_nodes)  # (N, H)
            node_in = [nodes, sent, received, globals_[node_graph]]
            nodes = UpdateMLP(**mlp, name=f"node_mlp_{step}")(jnp.concatenate(node_in, 1), **run)
            global_in = [
                jax.ops.segment_sum(nodes, node_graph, num_graphs),  # (G, H)
                jax.ops.segment_sum(edges, edge_graph, num_graphs),  # (G, H)
                globals_,
            ]
            globals_ = UpdateMLP(**mlp, name=f"global_mlp_{step}")(
                jnp.concatenate(global_in, 1), **run
            )  # (G, H)
        return nn.Dense(c.num_outputs, name="decoder")(globals_)  # (G, T)

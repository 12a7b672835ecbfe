"""Beam search in JAX: the whole decoding loop is one `lax.while_loop`, jitted by the caller.

The algorithm of flax's WMT example (which the reference uses): keep the `beam_size` best
live hypotheses and the `beam_size` best finished ones (score = log-probability divided by
the length penalty ((5 + length) / 6)^alpha); stop at the maximum length, or once no live
hypothesis can beat the worst finished one. Beams are kept best first.
`torch_decode.beam_search` is the same algorithm in PyTorch, step for step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from algoperf.workloads.wmt.config import BEAM_SIZE, EOS_ID, LENGTH_PENALTY

NEG_INF = -1.0e7
"""The score of impossible hypotheses (finite, so sums stay ordered)."""


def length_penalty(alpha: float, length: Any) -> Any:
    """((5 + length) / 6)^alpha, the divisor of a finished hypothesis's log-probability."""
    return ((5.0 + length) / 6.0) ** alpha


def _gather(tree: Any, indices: jax.Array) -> Any:
    """Rows `indices` (B, K') of every (B, K, ...) leaf; scalars (cache indices) as they are."""

    def gather(x: jax.Array) -> jax.Array:
        if x.ndim < 2:
            return x
        return x[jnp.arange(len(x))[:, None], indices]

    return jax.tree.map(gather, tree)


def _beams(x: jax.Array, k: int) -> jax.Array:
    """(B·K, ...) → (B, K, ...); scalars as they are."""
    return x if x.ndim < 1 else x.reshape((-1, k, *x.shape[1:]))


def _flat(x: jax.Array) -> jax.Array:
    """(B, K, ...) → (B·K, ...); scalars as they are."""
    return x if x.ndim < 2 else x.reshape((-1, *x.shape[2:]))


class BeamState(NamedTuple):
    """The loop state of `beam_search` (B examples, K beams, L positions)."""

    position: jax.Array
    """Position of the last token of the live hypotheses (0: the start token)."""
    live_logprobs: jax.Array  # (B, K)
    live_seqs: jax.Array  # (B, K, L) int32, position 0 the start token 0
    finished_scores: jax.Array  # (B, K)
    finished_seqs: jax.Array  # (B, K, L)
    finished_flags: jax.Array  # (B, K) bool: the slot holds a real finished hypothesis
    cache: Any  # the decoder's cache, leaves (B, K, ...)


def beam_search(
    batch_size: int,
    cache: Any,
    tokens_to_logits: Callable[[jax.Array, Any], tuple[jax.Array, Any]],
    max_decode_len: int,
    beam_size: int = BEAM_SIZE,
    alpha: float = LENGTH_PENALTY,
    eos_id: int = EOS_ID,
) -> jax.Array:
    """(B, max_decode_len - 1) int32 best hypothesis per row, without the start token.

    Args:
        batch_size: B.
        cache: the decoder's cache for B·K rows (row b·K + k is beam k of example b).
        tokens_to_logits: (B·K,) or (B·K, 1) token ids and the cache → (B·K, vocab) logits
            of the next position and the updated cache.
        max_decode_len: positions of a hypothesis, the start token included.
        beam_size: K, hypotheses kept per example.
        alpha: the length penalty's exponent.
        eos_id: the id that ends a hypothesis.
    """
    k = beam_size
    live = jnp.full((batch_size, k), NEG_INF).at[:, 0].set(0.0)
    state = BeamState(
        position=jnp.array(0),
        live_logprobs=live,
        live_seqs=jnp.zeros((batch_size, k, max_decode_len), jnp.int32),
        finished_scores=jnp.full((batch_size, k), NEG_INF),
        finished_seqs=jnp.zeros((batch_size, k, max_decode_len), jnp.int32),
        finished_flags=jnp.zeros((batch_size, k), bool),
        cache=jax.tree.map(lambda x: _beams(x, k) if x.ndim else x, cache),
    )

    def cond(s: BeamState) -> jax.Array:
        best_live = s.live_logprobs[:, 0] / length_penalty(alpha, max_decode_len)
        worst_finished = jnp.where(s.finished_flags, s.finished_scores[:, -1:], NEG_INF)
        done = jnp.all(worst_finished > best_live[:, None])
        return (s.position < max_decode_len - 1) & ~done

    def body(s: BeamState) -> BeamState:
        ids = s.live_seqs[:, :, s.position].reshape(-1, 1)
        logits, cache = tokens_to_logits(ids, jax.tree.map(_flat, s.cache))
        cache = jax.tree.map(lambda x: _beams(x, k), cache)
        vocab = logits.shape[-1]
        log_probs = jax.nn.log_softmax(logits.astype(jnp.float32)).reshape(batch_size, k, vocab)
        log_probs = log_probs + s.live_logprobs[:, :, None]
        top_logprobs, top_flat = jax.lax.top_k(log_probs.reshape(batch_size, -1), 2 * k)
        top_beam = top_flat // vocab
        top_seqs = _gather(s.live_seqs, top_beam)
        top_seqs = top_seqs.at[:, :, s.position + 1].set(top_flat % vocab)
        finished = top_seqs[:, :, s.position + 1] == eos_id

        # Live: the best K of the 2K that did not just end.
        alive_logprobs = top_logprobs + finished * NEG_INF
        alive_logprobs, keep = jax.lax.top_k(alive_logprobs, k)
        live_seqs = _gather(top_seqs, keep)
        cache = _gather(cache, jnp.take_along_axis(top_beam, keep, 1))

        # Finished: the best K of the old finished and the 2K new ones that ended.
        scores = top_logprobs / length_penalty(alpha, s.position + 1) + (~finished) * NEG_INF
        all_scores = jnp.concatenate([s.finished_scores, scores], 1)
        all_seqs = jnp.concatenate([s.finished_seqs, top_seqs], 1)
        all_flags = jnp.concatenate([s.finished_flags, finished], 1)
        finished_scores, best = jax.lax.top_k(all_scores, k)
        return BeamState(
            position=s.position + 1,
            live_logprobs=alive_logprobs,
            live_seqs=live_seqs,
            finished_scores=finished_scores,
            finished_seqs=_gather(all_seqs, best),
            finished_flags=_gather(all_flags, best),
            cache=cache,
        )

    final = jax.lax.while_loop(cond, body, state)
    # An example with no finished hypothesis returns its best live one.
    any_finished = final.finished_flags.any(axis=1)
    seqs = jnp.where(any_finished[:, None], final.finished_seqs[:, 0], final.live_seqs[:, 0])
    return seqs[:, 1:]


def translate(
    params: Any, inputs: jax.Array, model: Any, max_decode_len: int, beam_size: int = BEAM_SIZE
) -> jax.Array:
    """(B, max_decode_len - 1) beam-search translations of `inputs` (B, L) by a Transformer.

    `model` is the `jax_model.Transformer` built with `decode=True`; its cache starts at zero.
    """
    n = inputs.shape[0] * beam_size
    encoded = model.apply({"params": params}, inputs, method=model.encode)
    encoded = jnp.repeat(encoded, beam_size, 0)
    flat_inputs = jnp.repeat(inputs, beam_size, 0)
    batch = {"inputs": flat_inputs, "targets": jnp.zeros((n, max_decode_len), jnp.int32)}
    shapes = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), batch))["cache"]
    cache = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)

    def tokens_to_logits(ids: jax.Array, cache: Any) -> tuple[jax.Array, Any]:
        logits, variables = model.apply(
            {"params": params, "cache": cache},
            encoded,
            flat_inputs,
            ids,
            mutable=["cache"],
            method=model.decode_logits,
        )
        return logits[:, 0], variables["cache"]

    return beam_search(inputs.shape[0], cache, tokens_to_logits, max_decode_len, beam_size)

"""Beam search in PyTorch: `jax_decode.beam_search`'s algorithm, step for step, batched.

Top-k selections use a stable descending sort, so ties resolve to the lower index, as
`jax.lax.top_k` does; the same weights give the same hypotheses in both frameworks.
"""

from __future__ import annotations

import torch

from algoperf.workloads.wmt.config import BEAM_SIZE, EOS_ID, LENGTH_PENALTY
from algoperf.workloads.wmt.jax_decode import NEG_INF, length_penalty
from algoperf.workloads.wmt.torch_model import Transformer


def _top_k(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k largest entries of each row and their indices, ties to the lower index."""
    values, indices = torch.sort(x, dim=-1, descending=True, stable=True)
    return values[..., :k], indices[..., :k]


def _gather(x: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Rows `indices` (B, K') of a (B, K, ...) tensor."""
    return x[torch.arange(len(x), device=x.device)[:, None], indices]


@torch.no_grad()
def beam_search(
    model: Transformer,
    inputs: torch.Tensor,
    max_decode_len: int,
    beam_size: int = BEAM_SIZE,
    alpha: float = LENGTH_PENALTY,
    eos_id: int = EOS_ID,
) -> torch.Tensor:
    """(B, max_decode_len - 1) best hypothesis per row of `inputs` (B, L), no start token."""
    b, k, device = len(inputs), beam_size, inputs.device
    encoded = model.encode(inputs)
    flat_inputs = inputs.repeat_interleave(k, 0)
    cache = model.start_decoding(encoded.repeat_interleave(k, 0), flat_inputs, max_decode_len)
    live_logprobs = torch.full((b, k), NEG_INF, device=device)
    live_logprobs[:, 0] = 0.0
    live_seqs = torch.zeros((b, k, max_decode_len), dtype=torch.long, device=device)
    finished_scores = torch.full((b, k), NEG_INF, device=device)
    finished_seqs = torch.zeros_like(live_seqs)
    finished_flags = torch.zeros((b, k), dtype=torch.bool, device=device)
    offsets = torch.arange(b, device=device)[:, None] * k
    min_penalty = length_penalty(alpha, max_decode_len)
    for index in range(max_decode_len - 1):
        best_live = live_logprobs[:, 0] / min_penalty
        worst_finished = torch.where(
            finished_flags, finished_scores[:, -1:], torch.tensor(NEG_INF, device=device)
        )
        if bool((worst_finished > best_live[:, None]).all()):
            break
        logits = model.step(live_seqs[:, :, index].reshape(-1), cache)
        vocab = logits.shape[-1]
        log_probs = torch.log_softmax(logits.float(), dim=-1).reshape(b, k, vocab)
        log_probs = log_probs + live_logprobs[:, :, None]
        top_logprobs, top_flat = _top_k(log_probs.reshape(b, -1), 2 * k)
        top_beam = top_flat // vocab
        top_seqs = _gather(live_seqs, top_beam)
        top_seqs[:, :, index + 1] = top_flat % vocab
        finished = top_seqs[:, :, index + 1] == eos_id

        alive_logprobs = top_logprobs + finished * NEG_INF
        live_logprobs, keep = _top_k(alive_logprobs, k)
        live_seqs = _gather(top_seqs, keep)
        cache.reorder((offsets + torch.gather(top_beam, 1, keep)).reshape(-1))

        scores = top_logprobs / length_penalty(alpha, index + 1) + (~finished) * NEG_INF
        finished_scores, best = _top_k(torch.cat([finished_scores, scores], 1), k)
        finished_seqs = _gather(torch.cat([finished_seqs, top_seqs], 1), best)
        finished_flags = _gather(torch.cat([finished_flags, finished], 1), best)
    any_finished = finished_flags.any(dim=1)
    seqs = torch.where(any_finished[:, None], finished_seqs[:, 0], live_seqs[:, 0])
    return seqs[:, 1:]

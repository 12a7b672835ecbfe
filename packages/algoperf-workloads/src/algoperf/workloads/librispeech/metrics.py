"""CTC greedy decoding, word edit distance and WER: numpy, shared by both frameworks."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def greedy_decode(argmax: np.ndarray, paddings: np.ndarray) -> list[list[int]]:
    """Token ids per example from (B, T) best classes: collapse repeats, then drop blanks (0).

    Padded frames are skipped (they neither emit nor separate repeats).
    """
    decoded = []
    for ids, pads in zip(argmax, paddings, strict=True):
        ids = ids[pads < 0.5]
        keep = np.ones(len(ids), dtype=bool)
        keep[1:] = ids[1:] != ids[:-1]
        decoded.append([int(i) for i in ids[keep] if i != 0])
    return decoded


def edit_distance(reference: Sequence[object], hypothesis: Sequence[object]) -> int:
    """Levenshtein distance (substitutions, insertions, deletions, each 1) of two sequences."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, start=1):
        current = [i] + [0] * len(hypothesis)
        for j, hyp in enumerate(hypothesis, start=1):
            current[j] = min(
                previous[j] + 1,  # deletion
                current[j - 1] + 1,  # insertion
                previous[j - 1] + (ref != hyp),  # substitution or match
            )
        previous = current
    return previous[-1]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word edits, reference words) of one transcript; WER = Σ edits / Σ words over a split."""
    ref, hyp = reference.split(), hypothesis.split()
    return edit_distance(ref, hyp), len(ref)


def ids_as_words(ids: Sequence[int]) -> str:
    """Synthetic data's detokeniser: every token id is a word."""
    return " ".join(str(i) for i in ids)


def wer_sums(
    argmax: np.ndarray,
    logit_paddings: np.ndarray,
    targets: np.ndarray,
    target_paddings: np.ndarray,
    weights: np.ndarray,
    detokenize: Callable[[Sequence[int]], str],
) -> tuple[float, float]:
    """Weighted (word edits, reference words) of one eval batch (padding rows have weight 0)."""
    hypotheses = greedy_decode(argmax, logit_paddings)
    errors = words = 0.0
    for hyp, ref, pads, w in zip(hypotheses, targets, target_paddings, weights, strict=True):
        if w == 0:
            continue
        reference = [int(i) for i in ref[pads < 0.5]]
        e, n = word_errors(detokenize(reference), detokenize(hyp))
        errors += w * e
        words += w * n
    return errors, words

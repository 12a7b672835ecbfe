"""Corpus BLEU with sacrebleu, and the conversion of token ids into the text it scores.

The reference scores with its own copy of sacreBLEU 1.3.1's `corpus_bleu` (13a tokeniser,
exponential smoothing, no lowercasing); this uses sacrebleu itself with those settings.
Compared line by line, the two compute the same score: the same 13a regular expressions
and entity replacements, n-gram counts clipped by the reference's counts, the closest
reference length (one reference here), the brevity penalty exp(1 - r/c) when c < r (0 for
an empty output), exp smoothing (a zero count at order n gets 100 / (2^k total_n)), orders
with no n-gram at all ending the sum with log 0 floored to -9999999999 (BLEU 0), and no
effective order. The one difference is outside the score: under PyTorch DDP the reference
all-reduces the statistics of each rank's sentences, whereas this gathers every rank's
token ids and scores the whole corpus once (the same statistics).
`tests/test_wmt.py` checks sacrebleu against BLEU computed from its definition.

Converting ids to text differs in one case: the reference keeps a row's ids up to its first
EOS, but for a row without EOS (a hypothesis that reached the maximum decode length) only
its first id (`argmax` of an all-False mask is 0); `sentence_ids` keeps the whole row.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from algoperf.workloads.wmt.config import EOS_ID


class Detokenizer(Protocol):
    """Ids (without EOS or padding) to text."""

    def __call__(self, ids: Sequence[int]) -> str:
        """The text of `ids`."""
        ...


def synthetic_detokenize(ids: Sequence[int]) -> str:
    """One word per id ('w17 w3 ...'): synthetic data has no SentencePiece model."""
    return " ".join(f"w{i}" for i in ids)


class SentencePieceDetokenizer:
    """Decodes with a SentencePiece model file (the one `prepare wmt` trained)."""

    def __init__(self, model_file: str | Path) -> None:
        import sentencepiece as spm  # the `wmt` extra

        if not Path(model_file).exists():
            raise FileNotFoundError(
                f"{model_file} is missing; prepare it with: algoperf-datasets prepare wmt"
            )
        self.processor = spm.SentencePieceProcessor(model_file=str(model_file))

    def __call__(self, ids: Sequence[int]) -> str:
        """The text of `ids`."""
        return self.processor.decode([int(i) for i in ids])


def sentence_ids(row: np.ndarray) -> list[int]:
    """A row's ids before its first EOS (all of them if none), without padding."""
    row = np.asarray(row)
    ends = np.flatnonzero(row == EOS_ID)
    ids = row[: ends[0]] if len(ends) else row
    return [int(i) for i in ids if i != 0]


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (0-100) of `hypotheses` against one reference each (13a, exp smoothing)."""
    import sacrebleu  # the `wmt` extra

    return float(
        sacrebleu.corpus_bleu(
            list(hypotheses), [list(references)], smooth_method="exp", tokenize="13a"
        ).score
    )

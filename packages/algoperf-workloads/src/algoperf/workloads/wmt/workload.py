"""The framework-neutral half of the wmt workloads: data, eval metrics and BLEU."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from algoperf.api import RuleVersion, WorkloadSpec
from algoperf.workloads._base import NumpyDataWorkload
from algoperf.workloads._data import NumpyBatch
from algoperf.workloads.wmt import data
from algoperf.workloads.wmt.bleu import (
    Detokenizer,
    SentencePieceDetokenizer,
    corpus_bleu,
    sentence_ids,
    synthetic_detokenize,
)
from algoperf.workloads.wmt.config import CONFIGS, DROPOUT_RATE, TransformerConfig


class WmtBase(NumpyDataWorkload):
    """wmt and its variants (chosen by the spec's name); mixed into the framework halves.

    Options:
        model_config: a `TransformerConfig` (or a dict of its fields overriding the
            variant's) instead of the full-size model, e.g. a narrow one for CPU tests;
            `max_len` is also the sequence length of batches.
        eval_chunk: rows per compiled eval call (teacher-forced sums and beam search); eval
            batches are cut into chunks of this many rows, the last padded. Default: the whole
            batch. Workloads of one configuration share their compiled JAX functions, so a
            fixed chunk compiles them once for every eval batch size.
    """

    default_dropout_rate = DROPOUT_RATE

    def __init__(
        self,
        spec: WorkloadSpec,
        rules: str | RuleVersion | None = None,
        *,
        model_config: TransformerConfig | Mapping[str, Any] | None = None,
        eval_chunk: int | None = None,
        **options: Any,
    ) -> None:
        base = CONFIGS[spec.name]
        if isinstance(model_config, Mapping):
            model_config = dataclasses.replace(base, **model_config)
        self._config = model_config or base
        super().__init__(spec, rules, **options)
        if eval_chunk is not None and (eval_chunk < 1 or eval_chunk % self.num_batch_shards):
            raise ValueError(
                f"eval_chunk={eval_chunk} must be a positive multiple of the "
                f"{self.num_batch_shards} devices or processes"
            )
        self.eval_chunk = eval_chunk
        self._detokenizer: Detokenizer | None = None

    @property
    def config(self) -> TransformerConfig:
        """This workload's model configuration."""
        return self._config

    def load_dataset(self, data_dir: str | None) -> data.WmtDataset:
        """Synthetic pairs, or the tokenised splits `prepare wmt` wrote under `data_dir`.

        Raises:
            WmtDataNotPreparedError: if the tokenised splits are missing.
        """
        cfg = self.config
        if self.synthetic:
            splits = {
                name: data.synthetic_split(size, seed, cfg.vocab_size, cfg.max_len)
                for seed, (name, size) in enumerate(data.SYNTHETIC_SIZES.items())
            }
            self._detokenizer = synthetic_detokenize
        else:
            splits = data.load_splits(data_dir)
            self._detokenizer = SentencePieceDetokenizer(Path(str(data_dir)) / data.SPM_MODEL)
        return data.WmtDataset(splits, cfg.max_len)

    @abc.abstractmethod
    def token_sums(self, params: Any, batch: NumpyBatch) -> np.ndarray:
        """(rows, 3) per-row sums of token loss, correct tokens and weights, this process's rows."""

    @abc.abstractmethod
    def translate(self, params: Any, batch: NumpyBatch) -> np.ndarray:
        """(rows, max_len - 1) beam-search translations of this process's rows."""

    def _chunks(self, batch: NumpyBatch) -> Iterable[tuple[NumpyBatch, int]]:
        """`batch` in chunks of `eval_chunk` rows (the last padded), with their real rows."""
        size = len(batch["targets"])
        chunk = self.eval_chunk or size
        for start in range(0, size, chunk):
            part = {k: v[start : start + chunk] for k, v in batch.items()}
            rows = len(part["targets"])
            if rows < chunk:
                part = {
                    k: np.concatenate([v, np.zeros((chunk - rows, *v.shape[1:]), v.dtype)])
                    for k, v in part.items()
                }
            yield part, rows

    def split_metrics(
        self, params: Any, model_state: Any, batches: Iterable[NumpyBatch]
    ) -> dict[str, float]:
        """Per-token loss and accuracy (teacher forcing), and BLEU of beam-search translations.

        Padding rows (no target token) count for nothing; 'num_examples' counts sentences.
        """
        del model_state
        sums, hypotheses, targets = [], [], []
        for batch in batches:
            for chunk, rows in self._chunks(batch):
                sums.append(self.token_sums(params, chunk)[:rows])
                hypotheses.append(self.translate(params, chunk)[:rows])
            targets.append(batch["targets"])
        row_sums = self.gather_over_processes(np.concatenate(sums).astype(np.float64))
        hyps = self.gather_over_processes(np.concatenate(hypotheses))
        refs = self.gather_over_processes(np.concatenate(targets))
        real = row_sums[:, 2] > 0
        assert self._detokenizer is not None  # set by load_dataset
        detok = self._detokenizer
        bleu = corpus_bleu(
            [detok(sentence_ids(h)) for h in hyps[real]],
            [detok(sentence_ids(r)) for r in refs[real]],
        )
        total = row_sums.sum(axis=0)
        return {
            "loss": float(total[0] / total[2]),
            "accuracy": float(total[1] / total[2]),
            "bleu": bleu,
            "num_examples": float(real.sum()),
        }

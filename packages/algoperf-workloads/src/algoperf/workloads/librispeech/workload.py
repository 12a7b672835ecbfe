"""The framework-neutral half of the LibriSpeech workloads: data, options and split metrics."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from algoperf.api import RuleVersion, WorkloadSpec
from algoperf.workloads._base import NumpyDataWorkload
from algoperf.workloads._data import Dataset, NumpyBatch
from algoperf.workloads._metrics import MetricSums, add_sums
from algoperf.workloads.librispeech import config as C
from algoperf.workloads.librispeech import data, reader
from algoperf.workloads.librispeech.metrics import ids_as_words, wer_sums


class LibriSpeechBase(NumpyDataWorkload):
    """Conformer, DeepSpeech and their variants (chosen by the spec's name).

    Options:
        model_config: overrides of the model configuration's fields (reduced widths for
            tests), e.g. `{"encoder_dim": 16}`.
        audio_length: samples per example after padding (default 320,000); synthetic audio
            is at most this long.
        target_length: token ids per example after padding (default 256).
    """

    default_dropout_rate = C.DROPOUT_RATE

    def __init__(
        self,
        spec: WorkloadSpec,
        rules: str | RuleVersion | None = None,
        *,
        model_config: Mapping[str, Any] | None = None,
        audio_length: int = C.MAX_AUDIO_LENGTH,
        target_length: int = C.MAX_TARGET_LENGTH,
        **options: Any,
    ) -> None:
        if audio_length < C.FRAME_SIZE or target_length < 1:
            raise ValueError(
                f"audio_length must be at least {C.FRAME_SIZE} samples and target_length at "
                f"least 1, got {audio_length} and {target_length}"
            )
        self.config = C.with_overrides(C.CONFIGS[spec.name], model_config)
        """This workload's model configuration."""
        self.audio_length = audio_length
        self.target_length = target_length
        super().__init__(spec, rules, **options)

    def load_dataset(self, data_dir: str | None) -> Dataset:
        """Synthetic splits, or LibriSpeech as `prepare` wrote it under `data_dir`.

        Raises:
            DatasetNotPreparedError: if it is not prepared there.
        """
        if self.synthetic:
            return data.synthetic_dataset(self.audio_length, self.target_length)
        if data_dir is None:
            raise reader.DatasetNotPreparedError(f"{self.name} needs a data_dir")
        dataset = reader.LibriSpeechDataset(Path(data_dir), self.audio_length, self.target_length)
        self._detokenizer = dataset.detokenizer()
        return dataset

    def detokenizer(self) -> Callable[[Sequence[int]], str]:
        """Token ids to a transcript.

        SentencePiece's for real data; for synthetic data every id is a word.
        """
        return getattr(self, "_detokenizer", ids_as_words)

    @abc.abstractmethod
    def eval_ctc(
        self, params: Any, model_state: Any, batch: NumpyBatch
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Eval-mode per-example CTC losses, best classes and logit paddings.

        Of this process's rows of a global batch; classes and paddings are (B, T).
        """

    def batch_sums(self, params: Any, model_state: Any, batch: NumpyBatch) -> MetricSums:
        """Weighted CTC loss, target tokens, word edits and reference words of one batch."""
        losses, argmax, logit_paddings = self.eval_ctc(params, model_state, batch)
        weights = np.asarray(batch["weights"], np.float64)
        ids, target_paddings = batch["targets"]
        errors, words = wer_sums(
            argmax, logit_paddings, ids, target_paddings, weights, self.detokenizer()
        )
        tokens = np.sum(1.0 - np.asarray(target_paddings, np.float64), axis=1)
        return {
            "ctc_loss": float(np.sum(weights * np.asarray(losses, np.float64))),
            "tokens": float(np.sum(weights * tokens)),
            "word_errors": errors,
            "words": words,
            "num_examples": float(np.sum(weights)),
        }

    def split_metrics(
        self, params: Any, model_state: Any, batches: Iterable[NumpyBatch]
    ) -> dict[str, float]:
        """CTC loss per target token and WER (Σ word edits / Σ reference words) of a split."""
        total: MetricSums = {}
        for batch in batches:
            total = add_sums(total, self.batch_sums(params, model_state, batch))
        total = self.sum_over_processes(total)
        return {
            "ctc_loss": total["ctc_loss"] / max(total["tokens"], 1.0),
            "wer": total["word_errors"] / max(total["words"], 1.0),
            "num_examples": total["num_examples"],
        }

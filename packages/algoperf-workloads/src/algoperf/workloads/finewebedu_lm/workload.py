"""The framework-neutral half of `finewebedu_lm`: configuration, data and the eval loop."""

from __future__ import annotations

import abc
import math
from collections.abc import Iterable, Mapping
from typing import Any

from algoperf.api import RuleVersion, Split, WorkloadSpec
from algoperf.workloads._base import NumpyDataWorkload
from algoperf.workloads._data import NumpyBatch
from algoperf.workloads.finewebedu_lm import data
from algoperf.workloads.finewebedu_lm.config import CONFIGS, LMConfig, config_from


class LMBase(NumpyDataWorkload):
    """The decoder-only LM on FineWeb-Edu; mixed into the framework halves.

    Options:
        model_config: fields of `LMConfig` to change (e.g. a reduced width for tests, or
            `compute_dtype='float32'`), or a whole `LMConfig`.

    Metrics: 'loss' is the mean token cross-entropy over the split's real tokens and
    'ppl' = exp(loss). Eval sums the loss on the device: a batch's logits (256 x 1,024 x
    50,257) would take 26 GB on the host.
    """

    output_layer = "embed"
    """The output layer is the (tied) embedding."""
    default_dropout_rate = None  # the model has no dropout

    def __init__(
        self,
        spec: WorkloadSpec,
        rules: str | RuleVersion | None = None,
        *,
        model_config: Mapping[str, Any] | LMConfig | None = None,
        **options: Any,
    ) -> None:
        self.config = config_from(CONFIGS[spec.name], model_config)
        """This workload's model configuration."""
        super().__init__(spec, rules, **options)

    def load_dataset(self, data_dir: str | None) -> data.TokenDataset:
        """Synthetic token windows, or the prepared shards under `data_dir`.

        Raises:
            FineWebEduNotPreparedError: if the dataset is not prepared under `data_dir`.
        """
        if self.synthetic:
            return data.synthetic(self.config.vocab_size, self.config.seq_len)
        return data.load(data_dir, self.config.seq_len)

    def eval_size(self, split: Split, num_examples: int, data_dir: str | None) -> int:
        """Windows of `split` to evaluate.

        The reference counts 100,000 validation sequences, but its validation split holds
        9,757 windows (39 batches of 256, the last padded), which its eval iterator cycles
        through (`take(n).repeat()`): 391 batches are 10 passes plus the first batch again.
        Its mean is one pass's moved by 256 / 97,826 of the gap between the first batch's
        mean token loss and the split's (under 0.3 %), so the split is read once.
        """
        if split == "validation" and not self.synthetic:
            return min(num_examples, self.dataset(data_dir).num_examples(split))
        return super().eval_size(split, num_examples, data_dir)

    @abc.abstractmethod
    def loss_sums(self, params: Any, model_state: Any, batch: NumpyBatch) -> tuple[float, float]:
        """Summed token cross-entropy and summed token weights of this process's rows."""

    def split_metrics(
        self, params: Any, model_state: Any, batches: Iterable[NumpyBatch]
    ) -> dict[str, float]:
        """Mean token loss and perplexity of a split, summed over batches and processes."""
        total = {"loss": 0.0, "tokens": 0.0, "num_examples": 0.0}
        for batch in batches:
            loss, tokens = self.loss_sums(params, model_state, batch)
            total["loss"] += loss
            total["tokens"] += tokens
            total["num_examples"] += float(batch["weights"][:, 0].sum())
        total = self.sum_over_processes(total)
        loss = total["loss"] / total["tokens"]
        return {"loss": loss, "ppl": math.exp(loss), "num_examples": total["num_examples"]}

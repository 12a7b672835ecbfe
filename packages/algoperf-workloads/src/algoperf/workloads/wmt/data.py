"""wmt token data: tokenised splits, sequence packing for training, padded eval batches.

Numpy only. A split holds each sentence pair's SentencePiece ids (EOS-terminated) as flat
arrays with offsets. Training rows pack whole pairs greedily, in the order of per-epoch
permutations, into rows of `seq_len` tokens on both sides (each pair its own segment, with
positions restarting at 0); a pair that does not fit closes the row and opens the next.
Every process plans every row of a global batch from the pair lengths (cheap) and builds
only its own, so the union over processes is the single-process batch, packing is the same
for any number of processes, and a stream resumes in O(1) from the position of its next
unpacked pair. Eval rows hold one pair each, padded with zeros.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from algoperf.workloads._pipeline import SINGLE_PROCESS, EpochOrder, NumpyBatch, ProcessShare
from algoperf.workloads.wmt.config import EOS_ID

SPLITS = ("train", "validation", "test")
SYNTHETIC_SIZES = {"train": 48, "validation": 24, "test": 20}
"""Pairs per synthetic split: small, so a synthetic eval (with beam search) takes seconds."""
TOKENIZED_DIR = "wmt/tokenized"
"""Where `algoperf-datasets prepare wmt` writes `{split}.npz` under the data dir."""
SPM_MODEL = "wmt/sentencepiece.model"
"""The SentencePiece model beside the data (relative to the data dir)."""


class WmtDataNotPreparedError(FileNotFoundError):
    """The tokenised wmt splits are missing from the data dir."""


@dataclass(frozen=True)
class TokenSplit:
    """Sentence pairs as flat id arrays with offsets.

    Pair i's inputs lie between `in_offsets[i]` and `in_offsets[i + 1]`.
    """

    inputs: np.ndarray
    in_offsets: np.ndarray
    targets: np.ndarray
    out_offsets: np.ndarray

    def __post_init__(self) -> None:
        for ids, offsets, side in (
            (self.inputs, self.in_offsets, "inputs"),
            (self.targets, self.out_offsets, "targets"),
        ):
            if offsets[0] != 0 or offsets[-1] != len(ids) or (np.diff(offsets) < 0).any():
                raise ValueError(f"TokenSplit: the {side} offsets do not delimit its ids")
        if len(self.in_offsets) != len(self.out_offsets):
            raise ValueError("TokenSplit: inputs and targets hold different numbers of pairs")

    def __len__(self) -> int:
        return len(self.in_offsets) - 1

    def lengths(self) -> tuple[np.ndarray, np.ndarray]:
        """Tokens of each pair's inputs and targets."""
        return np.diff(self.in_offsets), np.diff(self.out_offsets)

    def pair(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Pair i's input and target ids."""
        a, b = self.in_offsets[i], self.in_offsets[i + 1]
        c, d = self.out_offsets[i], self.out_offsets[i + 1]
        return self.inputs[a:b], self.targets[c:d]

    def subset(self, keep: np.ndarray) -> TokenSplit:
        """The pairs at indices `keep`, in that order."""
        pairs = [self.pair(int(i)) for i in keep]
        return from_pairs([p[0] for p in pairs], [p[1] for p in pairs])

    def save(self, path: str | Path) -> None:
        """Writes the split as one .npz."""
        np.savez(
            path,
            inputs=self.inputs,
            in_offsets=self.in_offsets,
            targets=self.targets,
            out_offsets=self.out_offsets,
        )

    @classmethod
    def load(cls, path: str | Path) -> TokenSplit:
        """Reads a split `save` wrote."""
        with np.load(path) as f:
            return cls(f["inputs"], f["in_offsets"], f["targets"], f["out_offsets"])


def from_pairs(inputs: list[np.ndarray], targets: list[np.ndarray]) -> TokenSplit:
    """A `TokenSplit` from per-pair id arrays."""

    def flat(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
        ids = np.concatenate(parts).astype(np.int32) if parts else np.zeros(0, np.int32)
        return ids, offsets

    return TokenSplit(*flat(inputs), *flat(targets))


def synthetic_split(num_pairs: int, seed: int, vocab_size: int, max_len: int) -> TokenSplit:
    """Random pairs of 1 to max_len/2 ids in [3, vocab), each ended by EOS.

    Shapes and dtypes follow the tokenised dataset; half-length pairs let packing put
    several in a row.
    """
    rng = np.random.default_rng(seed)

    def sentence() -> np.ndarray:
        n = int(rng.integers(1, max(max_len // 2, 2)))
        return np.append(rng.integers(3, vocab_size, n), EOS_ID).astype(np.int32)

    pairs = [(sentence(), sentence()) for _ in range(num_pairs)]
    return from_pairs([p[0] for p in pairs], [p[1] for p in pairs])


def load_splits(data_dir: str | None) -> dict[str, TokenSplit]:
    """The tokenised train, validation and test splits under `data_dir`.

    Raises:
        WmtDataNotPreparedError: naming the missing file and the command that writes it.
    """
    if data_dir is None:
        raise WmtDataNotPreparedError(
            "wmt needs a data dir; prepare it with: algoperf-datasets prepare wmt --data-dir DIR"
        )
    splits = {}
    for split in SPLITS:
        path = Path(data_dir) / TOKENIZED_DIR / f"{split}.npz"
        if not path.exists():
            raise WmtDataNotPreparedError(
                f"{path} is missing; prepare it with: "
                f"algoperf-datasets prepare wmt --data-dir {data_dir}"
            )
        splits[split] = TokenSplit.load(path)
    return splits


def _row(split: TokenSplit, pairs: list[int], seq_len: int) -> tuple[np.ndarray, ...]:
    """One packed row: inputs, targets and their positions and segmentations (1, 2, ...)."""
    row = [np.zeros(seq_len, np.int32) for _ in range(6)]
    inputs, targets, in_pos, out_pos, in_seg, out_seg = row
    a = c = 0
    for segment, i in enumerate(pairs, start=1):
        x, y = split.pair(i)
        inputs[a : a + len(x)], in_pos[a : a + len(x)], in_seg[a : a + len(x)] = (
            x,
            np.arange(len(x)),
            segment,
        )
        targets[c : c + len(y)], out_pos[c : c + len(y)], out_seg[c : c + len(y)] = (
            y,
            np.arange(len(y)),
            segment,
        )
        a, c = a + len(x), c + len(y)
    return tuple(row)


def _stack_rows(rows: list[tuple[np.ndarray, ...]]) -> NumpyBatch:
    names = (
        "inputs",
        "targets",
        "inputs_position",
        "targets_position",
        "inputs_segmentation",
        "targets_segmentation",
    )
    batch = {name: np.stack([r[k] for r in rows]) for k, name in enumerate(names)}
    batch["weights"] = (batch["targets"] > 0).astype(np.float32)
    return batch


class PackedBatches(Iterator[NumpyBatch]):
    """Infinite global batches of packed rows; this process builds only its rows."""

    def __init__(
        self,
        split: TokenSplit,
        order: Callable[[int], int],
        global_batch_size: int,
        seq_len: int,
        share: ProcessShare = SINGLE_PROCESS,
    ) -> None:
        self.split, self.order, self.seq_len = split, order, seq_len
        self.global_batch_size = global_batch_size
        self.mine = share.rows(global_batch_size)
        in_len, out_len = split.lengths()
        self.in_len, self.out_len = in_len.tolist(), out_len.tolist()
        self.position = 0
        """Stream position of the next pair to pack."""

    def _plan_row(self) -> list[int]:
        pairs: list[int] = []
        a = c = 0
        while True:
            i = self.order(self.position)
            if max(self.in_len[i], self.out_len[i]) > self.seq_len:
                raise ValueError(f"training pair {i} exceeds {self.seq_len} tokens")
            if pairs and (a + self.in_len[i] > self.seq_len or c + self.out_len[i] > self.seq_len):
                return pairs
            pairs.append(i)
            a, c = a + self.in_len[i], c + self.out_len[i]
            self.position += 1

    def __next__(self) -> NumpyBatch:
        plans = [self._plan_row() for _ in range(self.global_batch_size)]
        return _stack_rows([_row(self.split, plans[r], self.seq_len) for r in self.mine])

    def get_state(self) -> dict[str, Any]:
        """The stream position of the next pair to pack."""
        return {"position": self.position}

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue packing at `state['position']`."""
        self.position = int(state["position"])

    def close(self) -> None:
        """Nothing to release: packing runs in this process."""


def eval_batches(
    split: TokenSplit, global_batch_size: int, count: int, seq_len: int, share: ProcessShare
) -> Iterator[NumpyBatch]:
    """The first `count` pairs in order, one per row padded to `seq_len` (longer ones cut).

    Global batches of this process's rows; padding rows have weight 0.
    """
    rows = share.rows(global_batch_size)
    for start in range(0, count, global_batch_size):
        batch = []
        for r in rows:
            i = start + r
            if i < count:
                x, y = split.pair(i)
                row = _row(from_pairs([x[:seq_len]], [y[:seq_len]]), [0], seq_len)
            else:
                row = tuple(np.zeros(seq_len, np.int32) for _ in range(6))
            batch.append(row)
        out = _stack_rows(batch)
        yield {k: out[k] for k in ("inputs", "targets", "weights")}


@dataclass(frozen=True)
class WmtDataset:
    """Tokenised splits batched into packed training rows and padded eval rows."""

    splits: dict[str, TokenSplit]
    seq_len: int

    def num_examples(self, split: str) -> int:
        """Sentence pairs in `split`."""
        return len(self.splits[split])

    def train_batches(
        self,
        seed: int,
        global_batch_size: int,
        share: ProcessShare = SINGLE_PROCESS,
        workers: int = 0,
    ) -> PackedBatches:
        """Packed rows over per-epoch permutations of the training pairs that fit `seq_len`.

        Packing reads ids from memory, so it runs in this process whatever `workers` says.
        """
        del workers
        split = self.splits["train"]
        in_len, out_len = split.lengths()
        keep = np.flatnonzero((in_len <= self.seq_len) & (out_len <= self.seq_len))
        order = EpochOrder(seed, len(keep))
        return PackedBatches(
            split, lambda p: int(keep[order.at(p)]), global_batch_size, self.seq_len, share
        )

    def eval_batches(
        self,
        split: str,
        global_batch_size: int,
        num_examples: int | None = None,
        share: ProcessShare = SINGLE_PROCESS,
        workers: int = 0,
    ) -> Iterator[NumpyBatch]:
        """One ordered pass over the first `num_examples` pairs; 'eval_train' reads train."""
        del workers
        pairs = self.splits["train" if split == "eval_train" else split]
        count = len(pairs) if num_examples is None else num_examples
        return eval_batches(pairs, global_batch_size, count, self.seq_len, share)

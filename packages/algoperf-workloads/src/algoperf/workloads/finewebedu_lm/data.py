"""FineWeb-Edu token windows: random-access reading of uint16 token shards.

A split is the concatenation of its shards' tokens. Example `i` is the window of
`window = L + 1` tokens starting at token `i · window` (non-overlapping, as the reference's
`batch(SEQUENCE_LENGTH + 1, drop_remainder=True)`); its inputs are the first L tokens and its
targets the last L. A window may straddle two shards. Training draws windows through the
shared streaming layer (`_pipeline`: per-epoch permutations, sharded by process, resumable in
O(1)); eval passes are ordered and padded with weight 0 (weights per token, shape (B, L)).

On disk (written by `prepare`): `<data_dir>/finewebedu/index.json` and the shards it names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from algoperf.api import AlgoPerfError
from algoperf.workloads._data import StreamedDataset
from algoperf.workloads._pipeline import (
    BatchRequest,
    NumpyBatch,
)

DATASET_DIR = "finewebedu"
INDEX_FILE = "index.json"
INDEX_FORMAT = 1
SPLITS = ("train", "validation")
SYNTHETIC_WINDOWS = {"train": 64, "validation": 40}
"""Windows per synthetic split: small, so synthetic evals run in seconds on a CPU."""


class FineWebEduNotPreparedError(AlgoPerfError, FileNotFoundError):
    """The token shards or their index are missing or do not match each other."""


def prepare_command(data_dir: str | Path) -> str:
    """The shell command that prepares FineWeb-Edu under `data_dir`."""
    return f"algoperf-datasets prepare finewebedu --data-dir {data_dir}"


@dataclass
class TokenWindows:
    """Fixed windows over a token stream held in one or more 1-D arrays (shards).

    Shards given as paths are memory-mapped on first use, so the object pickles cheaply.
    """

    shards: Sequence[np.ndarray | Path]
    window: int
    _arrays: list[np.ndarray] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        sizes = [self._size(s) for s in self.shards]
        self._starts = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        self.num_tokens = int(self._starts[-1])

    @staticmethod
    def _size(shard: np.ndarray | Path) -> int:
        if isinstance(shard, np.ndarray):
            return len(shard)
        return Path(shard).stat().st_size // np.dtype(np.uint16).itemsize

    def __len__(self) -> int:
        return self.num_tokens // self.window

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_arrays": None}

    def arrays(self) -> list[np.ndarray]:
        """The shards as arrays (memory maps for paths)."""
        if self._arrays is None:
            self._arrays = [
                s if isinstance(s, np.ndarray) else np.memmap(s, np.uint16, "r")
                for s in self.shards
            ]
        return self._arrays

    def read(self, ids: np.ndarray) -> np.ndarray:
        """(len(ids), window) int32 tokens of windows `ids`.

        Raises:
            IndexError: for an id outside [0, len(self)).
        """
        ids = np.asarray(ids, np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise IndexError(f"window ids must lie in [0, {len(self)}), got {ids}")
        arrays, out = self.arrays(), np.empty((len(ids), self.window), np.int32)
        for row, i in enumerate(ids):
            start = int(i) * self.window
            stop, filled = start + self.window, 0
            shard = int(np.searchsorted(self._starts, start, side="right")) - 1
            while filled < self.window:
                lo = start + filled - int(self._starts[shard])
                hi = min(stop - int(self._starts[shard]), len(arrays[shard]))
                out[row, filled : filled + hi - lo] = arrays[shard][lo:hi]
                filled += hi - lo
                shard += 1
        return out


@dataclass(frozen=True)
class _WindowLoader:
    """A request's windows as inputs, shifted targets and per-token weights (picklable)."""

    windows: TokenWindows

    def __call__(self, request: BatchRequest) -> NumpyBatch:
        tokens = self.windows.read(request.ids)
        weights = np.broadcast_to(request.weights[:, None], (len(tokens), tokens.shape[1] - 1))
        return {
            "inputs": tokens[:, :-1],
            "targets": tokens[:, 1:],
            "weights": np.ascontiguousarray(weights, np.float32),
        }


@dataclass(frozen=True)
class TokenDataset(StreamedDataset):
    """The 'train' and 'validation' splits as token windows (see the module docstring)."""

    splits: Mapping[str, TokenWindows]

    def num_examples(self, split: str) -> int:
        """Windows in `split` ('eval_train' reads 'train')."""
        return len(self.splits["train" if split == "eval_train" else split])

    def loader(self, split: str, training: bool) -> _WindowLoader:
        """Reads `split`'s windows ('eval_train' reads 'train'), alike for training and eval."""
        del training
        return _WindowLoader(self.splits["train" if split == "eval_train" else split])


def synthetic(vocab_size: int, seq_len: int, seed: int = 0) -> TokenDataset:
    """Uniform random tokens below `vocab_size`, `SYNTHETIC_WINDOWS` windows per split."""
    rng = np.random.default_rng(seed)
    return TokenDataset(
        {
            name: TokenWindows(
                [rng.integers(0, vocab_size, size * (seq_len + 1)).astype(np.uint16)],
                seq_len + 1,
            )
            for name, size in SYNTHETIC_WINDOWS.items()
        }
    )


def dataset_dir(data_dir: str | Path | None) -> Path:
    """The folder holding `index.json`: `data_dir` itself or its `finewebedu` subfolder."""
    if data_dir is None:
        raise FineWebEduNotPreparedError(
            "finewebedu_lm needs --data-dir (or synthetic=True); prepare the dataset with: "
            + prepare_command("DATA_DIR")
        )
    root = Path(data_dir).expanduser()
    return root if (root / INDEX_FILE).is_file() else root / DATASET_DIR


def read_index(folder: Path) -> dict[str, Any]:
    """The prepared dataset's index.

    Raises:
        FineWebEduNotPreparedError: if it is missing, unfinished or of another format.
    """
    path = folder / INDEX_FILE
    if not path.is_file():
        raise FineWebEduNotPreparedError(
            f"{path}: not found; prepare the dataset with: {prepare_command(folder.parent)}"
        )
    index = json.loads(path.read_text())
    if index.get("format") != INDEX_FORMAT or not index.get("complete"):
        raise FineWebEduNotPreparedError(
            f"{path}: field 'complete' is not true or 'format' is not {INDEX_FORMAT} "
            f"(an interrupted or older preparation); run again to finish it: "
            f"{prepare_command(folder.parent)}"
        )
    return index


def load(data_dir: str | Path | None, seq_len: int) -> TokenDataset:
    """The prepared splits under `data_dir`, checked against the index's token counts.

    Raises:
        FineWebEduNotPreparedError: for a missing index, a missing shard, or a shard whose
            size differs from the index.
    """
    folder = dataset_dir(data_dir)
    index = read_index(folder)
    splits = {}
    for name in SPLITS:
        shards = []
        for shard in index["splits"][name]["shards"]:
            path = folder / shard["file"]
            size = path.stat().st_size if path.is_file() else -1
            if size != 2 * shard["tokens"]:
                raise FineWebEduNotPreparedError(
                    f"{path}: expected {shard['tokens']} uint16 tokens "
                    f"({'missing' if size < 0 else f'{size} bytes'}); prepare it again with: "
                    f"{prepare_command(folder.parent)}"
                )
            shards.append(path)
        splits[name] = TokenWindows(shards, seq_len + 1)
    return TokenDataset(splits)

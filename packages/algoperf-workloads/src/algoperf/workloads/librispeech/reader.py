"""Reading prepared LibriSpeech (`prepare`'s ArrayRecord files) as the workloads' splits.

Each split concatenates its subsets' records; a batch reads its examples by index (random
access, group size 1), pads audio to the workload's length and ids to its target length, and
turns them into model batches (`data.to_model_batch`). Loaders are picklable and open their
files lazily, so grain's worker processes each open their own readers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from algoperf.workloads._data import StreamedDataset
from algoperf.workloads._pipeline import BatchRequest, NumpyBatch, batch_array
from algoperf.workloads.librispeech import files
from algoperf.workloads.librispeech.data import Padded


class DatasetNotPreparedError(FileNotFoundError):
    """The prepared LibriSpeech files are missing."""


@dataclass
class _Loader:
    """Loads a request's examples of one split (several record files, in order)."""

    paths: tuple[str, ...]
    sizes: tuple[int, ...]
    audio_length: int
    target_length: int
    _readers: list[Any] = field(default_factory=list, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_readers": []}  # readers are per process

    def _read(self, index: int) -> bytes:
        from array_record.python.array_record_module import ArrayRecordReader

        if not self._readers:
            # Random access: no read-ahead (its default reads 16 MB around every record).
            self._readers = [ArrayRecordReader(p, "readahead_buffer_size:0") for p in self.paths]
        for reader, size in zip(self._readers, self.sizes, strict=True):
            if index < size:
                return reader.read([index])[0]
            index -= size
        raise IndexError(index)

    def __call__(self, request: BatchRequest) -> NumpyBatch:
        examples = [files.decode(self._read(int(index))) for index in request.ids]
        for index, (a, t) in zip(request.ids, examples, strict=True):
            if len(a) > self.audio_length or len(t) > self.target_length:
                raise ValueError(
                    f"example {index} of {self.paths}: {len(a)} samples and {len(t)} tokens "
                    f"exceed the workload's {self.audio_length} and {self.target_length}"
                )
        # Written row by row straight into the padded float32 arrays (one pass over memory),
        # in shared memory when this is a worker process.
        n = len(examples)
        audio = batch_array((n, self.audio_length), np.float32)
        audio_pads = batch_array((n, self.audio_length), np.float32, fill=1)
        ids = batch_array((n, self.target_length), np.int32)
        id_pads = batch_array((n, self.target_length), np.float32, fill=1)
        for row, (a, t) in enumerate(examples):
            audio[row, : len(a)], audio_pads[row, : len(a)] = a, 0.0
            ids[row, : len(t)], id_pads[row, : len(t)] = t, 0.0
        return {
            "inputs": Padded(audio, audio_pads),
            "targets": Padded(ids, id_pads),
            "weights": request.weights,
        }


@dataclass(frozen=True)
class LibriSpeechDataset(StreamedDataset):
    """The train, validation and test splits of prepared LibriSpeech under `data_dir`."""

    data_dir: Path
    audio_length: int = files.MAX_AUDIO_SAMPLES
    target_length: int = 256

    def __post_init__(self) -> None:
        counts = Path(self.data_dir) / files.DIRNAME / files.COUNTS
        missing = [
            s
            for subsets in files.SPLITS.values()
            for s in subsets
            if not files.record_path(self.data_dir, s).exists()
        ]
        if missing or not counts.exists():
            raise DatasetNotPreparedError(
                f"LibriSpeech is not prepared under {self.data_dir} (missing: "
                f"{', '.join(missing) or files.COUNTS}); run "
                f"`algoperf-datasets prepare librispeech --data-dir {self.data_dir}`"
            )

    def _counts(self) -> dict[str, dict[str, int]]:
        return json.loads((Path(self.data_dir) / files.DIRNAME / files.COUNTS).read_text())

    def loader(self, split: str, training: bool) -> _Loader:
        """Reads `split`'s record files ('eval_train' reads the training subsets).

        Training and eval batches are read alike: SpecAugment is in the model.
        """
        del training
        subsets = files.SPLITS["train" if split == "eval_train" else split]
        counts = self._counts()
        return _Loader(
            tuple(str(files.record_path(self.data_dir, s)) for s in subsets),
            tuple(counts[s]["kept"] for s in subsets),
            self.audio_length,
            self.target_length,
        )

    def num_examples(self, split: str) -> int:
        """Kept utterances of `split`."""
        return sum(self.loader(split, training=False).sizes)

    def detokenizer(self) -> Any:
        """Token ids to text with the prepared SentencePiece model (EOS and blanks dropped)."""
        return _Detokenizer(str(Path(self.data_dir) / files.DIRNAME / files.TOKENIZER))


@dataclass
class _Detokenizer:
    path: str
    _sp: Any = None

    def __call__(self, ids: Any) -> str:
        if self._sp is None:
            import sentencepiece as spm

            self._sp = spm.SentencePieceProcessor(model_file=self.path)
        return self._sp.decode([int(i) for i in ids if int(i) != 0])

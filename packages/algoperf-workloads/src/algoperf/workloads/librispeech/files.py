"""The prepared LibriSpeech layout, shared by `prepare` (writer) and `reader`.

Under `DATA_DIR/librispeech/`: one ArrayRecord file per LibriSpeech subset (`<subset>.array_record`,
one record per kept utterance, in sorted speaker/chapter/utterance order), the SentencePiece
model `spm_model.model`, and `counts.json` (raw and kept utterances per subset).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np

DIRNAME = "librispeech"
TOKENIZER = "spm_model.model"
COUNTS = "counts.json"
SPLITS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "train": ("train-clean-100", "train-clean-360", "train-other-500"),
        "validation": ("dev-clean", "dev-other"),
        "test": ("test-clean",),
    }
)
"""The workloads' splits and the LibriSpeech subsets they concatenate, in order."""
RAW_COUNTS: Mapping[str, int] = MappingProxyType(
    {
        "train-clean-100": 28_539,
        "train-clean-360": 104_014,
        "train-other-500": 148_688,
        "dev-clean": 2_703,
        "dev-other": 2_864,
        "test-clean": 2_620,
    }
)
"""Utterances per subset before filtering (the reference checks these)."""
MAX_TRANSCRIPT_CHARS = 256
MAX_AUDIO_SAMPLES = 320_000


def record_path(data_dir: str | Path, subset: str) -> Path:
    """The ArrayRecord file of `subset`."""
    return Path(data_dir) / DIRNAME / f"{subset}.array_record"


def encode(audio: np.ndarray, ids: np.ndarray) -> bytes:
    """One record: int32 [samples, tokens], then int16 PCM, then int32 token ids."""
    header = np.array([len(audio), len(ids)], np.int32)
    return header.tobytes() + audio.astype(np.int16).tobytes() + ids.astype(np.int32).tobytes()


def decode(record: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(int16 audio, int32 token ids) of one record."""
    samples, tokens = np.frombuffer(record[:8], np.int32)
    audio = np.frombuffer(record[8 : 8 + 2 * samples], np.int16)
    ids = np.frombuffer(record[8 + 2 * samples : 8 + 2 * samples + 4 * tokens], np.int32)
    return audio, ids

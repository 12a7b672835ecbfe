"""LibriSpeech batches: (audio, paddings) inputs and (token ids, paddings) targets.

Examples are stored unpadded-length arrays (audio as int16 PCM, ids as int32) with their
lengths; batches are padded to the workload's lengths (320,000 samples, 256 tokens) at load
time, with paddings 1 past each example's length.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from algoperf.workloads._data import ArrayDataset
from algoperf.workloads._pipeline import BatchRequest, NumpyBatch
from algoperf.workloads.librispeech.config import VOCAB_SIZE, num_logit_frames

SYNTHETIC_SIZES = {"train": 32, "validation": 24, "test": 16}
"""Examples per synthetic split: small, and not a multiple of the contract's eval batches."""


class Padded(NamedTuple):
    """A padded batch of sequences: values (B, L) and paddings (B, L), 1.0 on padding."""

    values: np.ndarray
    paddings: np.ndarray


def lengths_to_paddings(lengths: np.ndarray, size: int) -> np.ndarray:
    """(B, size) float32 paddings: 1 at positions >= each length."""
    return (np.arange(size)[None, :] >= np.asarray(lengths)[:, None]).astype(np.float32)


def to_model_batch(batch: NumpyBatch, request: BatchRequest | None = None) -> NumpyBatch:
    """Stored arrays (audio, lengths, ids, lengths) to padded float audio and int32 ids."""
    del request
    audio = batch["inputs"].astype(np.float32)
    ids = batch["targets"].astype(np.int32)
    return {
        "inputs": Padded(audio, lengths_to_paddings(batch["input_lengths"], audio.shape[1])),
        "targets": Padded(ids, lengths_to_paddings(batch["target_lengths"], ids.shape[1])),
        "weights": batch["weights"],
    }


def synthetic_split(
    num: int, audio_length: int, target_length: int, seed: int
) -> dict[str, np.ndarray]:
    """Random speech-shaped examples: noise of random length, feasible random transcripts.

    Audio lengths are in [audio_length / 2, audio_length]; transcripts have at most half the
    model's output frames of tokens, so CTC always has an alignment.
    """
    rng = np.random.default_rng(seed)
    input_lengths = rng.integers(audio_length // 2, audio_length + 1, num)
    audio = rng.normal(0.0, 3000.0, (num, audio_length)).clip(-32768, 32767).astype(np.int16)
    audio *= (np.arange(audio_length)[None, :] < input_lengths[:, None]).astype(np.int16)
    max_tokens = max(1, min(target_length, num_logit_frames(audio_length // 2) // 2))
    target_lengths = rng.integers(1, max_tokens + 1, num)
    ids = rng.integers(1, VOCAB_SIZE, (num, target_length)).astype(np.int32)
    ids *= (np.arange(target_length)[None, :] < target_lengths[:, None]).astype(np.int32)
    return {
        "inputs": audio,
        "input_lengths": input_lengths.astype(np.int32),
        "targets": ids,
        "target_lengths": target_lengths.astype(np.int32),
    }


def synthetic_dataset(audio_length: int, target_length: int) -> ArrayDataset:
    """Synthetic train, validation and test splits (`SYNTHETIC_SIZES`)."""
    splits = {
        name: synthetic_split(num, audio_length, target_length, seed)
        for seed, (name, num) in enumerate(SYNTHETIC_SIZES.items())
    }
    return ArrayDataset(splits, to_model_batch, to_model_batch)

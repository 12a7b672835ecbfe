"""How fast the LibriSpeech reader turns prepared records into padded (B, 320,000) batches.

Writes --utterances synthetic utterances in `prepare`'s format (int16 audio with LibriSpeech's
lengths, about 12.3 s on average, capped at 20 s; 1,024-vocabulary token ids), then times
`LibriSpeechDataset.train_batches` on one worker (random access, decode, pad, paddings) and,
as a baseline in the same run, a plain `np.load` of per-utterance `.npy` files, the
reference's layout. Prints utterances/s per worker (wall clock and per CPU second: trust the
CPU figure on a shared machine) against what the Conformer consumes on the reference's
8xV100 (batch 256, 76,000 steps in 58,015 s: about 335 utterances/s).

Usage: uv run python benchmarks/librispeech_reader.py [--utterances 512] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from array_record.python.array_record_module import ArrayRecordWriter

from algoperf.workloads.librispeech import files
from algoperf.workloads.librispeech.reader import LibriSpeechDataset

REFERENCE_RATE = 256 * 76_000 / 58_015


def write_dataset(root: Path, n: int, rng: np.random.Generator) -> list[Path]:
    """`n` utterances in every train subset's record file; also as .npy files (baseline)."""
    (root / files.DIRNAME).mkdir(parents=True)
    npys = []
    counts = {}
    for subset in files.RAW_COUNTS:
        size = n if subset in files.SPLITS["train"] else 1
        writer = ArrayRecordWriter(
            str(files.record_path(root, subset)), "group_size:1,uncompressed"
        )
        for i in range(size):
            length = int(np.clip(rng.normal(197_000, 60_000), 16_000, files.MAX_AUDIO_SAMPLES))
            audio = rng.integers(-3000, 3000, length).astype(np.int16)
            ids = rng.integers(1, 1024, int(rng.integers(20, 120))).astype(np.int32)
            writer.write(files.encode(audio, ids))
            if subset == "train-clean-100":
                path = root / f"{i}_audio.npy"
                np.save(path, audio.astype(np.int64))  # the reference stores int64 PCM
                npys.append(path)
        writer.close()
        counts[subset] = {"raw": size, "kept": size}
    (root / files.DIRNAME / files.COUNTS).write_text(json.dumps(counts))
    return npys


def timed(fn: object, count: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()  # type: ignore[operator]
    return count / (time.perf_counter() - wall), count / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        npys = write_dataset(root, args.utterances, np.random.default_rng(0))
        dataset = LibriSpeechDataset(root)
        stream = dataset.train_batches(0, args.batch_size)
        next(stream)
        batches = 3 * args.utterances // args.batch_size - 1

        def consume() -> None:
            for _ in range(batches):
                next(stream)  # not kept: a batch of 64 is 160 MB

        ours = timed(consume, batches * args.batch_size)

        def baseline() -> None:
            for start in range(0, len(npys), args.batch_size):
                audio = np.zeros((args.batch_size, files.MAX_AUDIO_SAMPLES), np.float32)
                for row, path in enumerate(npys[start : start + args.batch_size]):
                    a = np.load(path)
                    audio[row, : len(a)] = a

        base = timed(baseline, len(npys))
    print(f"{'pipeline':<28} {'utt/s wall':>11} {'utt/s CPU':>10} {'x 8xV100 need':>14}")
    for name, (wall, cpu) in (
        ("ours (ArrayRecord, 1 worker)", ours),
        ("reference .npy files", base),
    ):
        print(f"{name:<28} {wall:>11.0f} {cpu:>10.0f} {cpu / REFERENCE_RATE:>14.2f}")
    print(f"Conformer on 8xV100 consumes {REFERENCE_RATE:.0f} utterances/s")


if __name__ == "__main__":
    main()

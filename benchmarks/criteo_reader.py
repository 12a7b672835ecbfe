"""How fast the Criteo 1TB reader turns day-file lines into (B, 39) float32 batches.

Writes a synthetic day file (or takes one with --file), then times on the same lines:

- the reader: `CriteoDataset.eval_batches` (blocks parsed by pyarrow's CSV reader on a
  thread pool, vectorised FarmHash, a prefetch thread), in batches of --batch-size, with
  --threads parsing threads (default: min(8, CPUs)) and with one;
- one rank of 2 and of 4 (`ProcessShare`), on one thread: each parses only its rows of
  every batch, so its time should fall about linearly with the rank count (every rank still
  reads all bytes and finds their line ends);
- a baseline: the straightforward per-line port of the reference's parsing (split the line,
  float() the counts, `farmhash.fingerprint64` each categorical value), on the first
  --baseline-lines lines;

checks that both give the same inputs, and prints examples/s (wall clock and per CPU
second: the CPU figure is the one to trust on a shared machine), the speed-up, and what the
criteo1tb model consumes on one H100 (batch 262,144 at roughly 0.1-0.3 s per step).
The synthetic lines follow Criteo's shape: 3% clicks, heavy-tailed counts with missing
fields and '-1', 26 categorical columns of 8 hex characters drawn Zipf-like from each
column's vocabulary, with missing fields.

Usage: uv run python benchmarks/criteo_reader.py [--lines 1000000] [--file PATH]
[--threads N] [--batch-size 262144] [--baseline-lines 100000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from algoperf.workloads._pipeline import SINGLE_PROCESS, ProcessShare
from algoperf.workloads.criteo1tb.reader import RAW_VOCAB_SIZES, CriteoDataset

STEP_SECONDS = (0.1, 0.3)
"""A criteo1tb training step on one H100 at batch 262,144, roughly."""
MODEL_BATCH = 262_144


def _hex_values(ids: np.ndarray, column: int) -> np.ndarray:
    """Distinct 8-hex-character strings (dtype S8) for integer ids, mixed per column."""
    mixed = (ids.astype(np.uint64) + np.uint64(column + 1)) * np.uint64(0x9E3779B97F4A7C15)
    mixed ^= mixed >> np.uint64(29)
    nibbles = (mixed[:, None] >> (np.arange(28, -1, -4, dtype=np.uint64))) & np.uint64(15)
    digits = np.frombuffer(b"0123456789abcdef", np.uint8)[nibbles.astype(np.intp)]
    return np.ascontiguousarray(digits).view("S8").ravel()


def _column(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    values = values.astype("S")
    values[missing] = b""
    return values


def write_day_file(path: Path, lines: int, seed: int = 0) -> None:
    """`lines` synthetic Criteo lines (label, 13 counts, 26 categoricals) into `path`."""
    rng = np.random.default_rng(seed)
    columns = [(rng.random(lines) < 0.03).astype(np.int64).astype("S")]
    for i in range(13):
        counts = rng.geometric(0.02 + 0.01 * i, lines) - 2  # some -1, mostly small counts
        columns.append(_column(counts, rng.random(lines) < 0.05 * (i % 5)))
    for i, vocab in enumerate(RAW_VOCAB_SIZES):
        ids = np.minimum(rng.zipf(1.15, lines), vocab) - 1
        columns.append(_column(_hex_values(ids, i), rng.random(lines) < 0.1 * (i % 4)))
    with path.open("wb") as f:
        step = 100_000
        for start in range(0, lines, step):
            rows = zip(*(c[start : start + step] for c in columns), strict=True)
            f.write(b"".join(b"\t".join(row) + b"\n" for row in rows))


def _layout(source: Path, root: Path) -> Path:
    """A data dir whose validation split is `source` alone (every other file is empty)."""
    root.mkdir()
    for name in [f"day_{d}_00" for d in range(23)] + [f"day_23_{i:02d}" for i in range(35)]:
        (root / name).write_bytes(b"")
    (root / "day_23_35").symlink_to(source.resolve())
    return root


def time_reader(
    data_dir: Path, batch_size: int, threads: int | None, share: ProcessShare = SINGLE_PROCESS
) -> tuple[float, float, list]:
    """Wall and CPU seconds of one process's pass over the synthetic file, and its batches."""
    dataset = CriteoDataset(data_dir, num_threads=threads)
    start, cpu = time.perf_counter(), time.process_time()
    batches = list(dataset.eval_batches("validation", batch_size, share=share))
    return time.perf_counter() - start, time.process_time() - cpu, batches


def time_ranks(data_dir: Path, batch_size: int) -> None:
    """Print rank 0's parse time and rate, on one thread, with 1, 2 and 4 ranks."""
    single_rows, single_cpu = 0, 0.0
    for count in (1, 2, 4):
        seconds, cpu, batches = time_reader(data_dir, batch_size, 1, ProcessShare(0, count))
        rows = int(sum(b["weights"].sum() for b in batches))
        single_rows, single_cpu = single_rows or rows, single_cpu or cpu
        print(
            f"rank 0 of {count} (1 thread): {rows:,} rows ({rows / single_rows:.2f} of all) "
            f"in {seconds:.2f} s, {cpu:.2f} CPU s ({cpu / single_cpu:.2f} of one rank's) = "
            f"{rows / cpu / 1e6:.2f} M rows per CPU second"
        )


def baseline_parse(line: bytes) -> tuple[np.ndarray, float]:
    """One line the straightforward way: split, float(), `farmhash.fingerprint64` per value."""
    import farmhash

    fields = line.rstrip(b"\n").split(b"\t")
    numbers = [0.0 if f in (b"", b"-1") else float(f) for f in fields[:14]]
    dense = np.log(np.maximum(np.array(numbers[1:], np.float32), np.float32(0)) + np.float32(1))
    ids = [
        farmhash.fingerprint64((f if f not in (b"", b"-1") else b"00000000") + b"%d" % i) % vocab
        for i, (f, vocab) in enumerate(zip(fields[14:], RAW_VOCAB_SIZES, strict=True))
    ]
    return np.concatenate([dense, np.array(ids, np.float32)]), numbers[0]


def time_baseline(path: Path, lines: int) -> tuple[float, np.ndarray]:
    """Seconds for the first `lines` lines through `baseline_parse`, and their inputs."""
    start = time.perf_counter()
    with path.open("rb") as f:
        inputs = [baseline_parse(line)[0] for line, _ in zip(f, range(lines), strict=False)]
    return time.perf_counter() - start, np.stack(inputs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--file", type=Path, help="an existing day file (skips generation)")
    parser.add_argument("--batch-size", type=int, default=MODEL_BATCH)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--baseline-lines", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = args.file
        if path is None:
            path = root / "synthetic_day"
            start = time.perf_counter()
            write_day_file(path, args.lines)
            print(
                f"wrote {args.lines:,} lines ({path.stat().st_size / 2**20:.0f} MiB) "
                f"in {time.perf_counter() - start:.1f} s"
            )
        data_dir = _layout(path, root / "data")
        for threads in (args.threads, 1):
            seconds, cpu, batches = time_reader(data_dir, args.batch_size, threads)
            count = int(sum(b["weights"].sum() for b in batches))
            rate = count / seconds
            print(
                f"reader ({threads or 'default'} threads, {os.cpu_count()} CPUs): "
                f"{count:,} examples in {seconds:.2f} s = {rate / 1e6:.2f} M examples/s; "
                f"{count / cpu / 1e6:.2f} M examples per CPU second"
            )
        time_ranks(data_dir, args.batch_size)
        base_seconds, base_inputs = time_baseline(path, min(count, args.baseline_lines))
        base_rate = len(base_inputs) / base_seconds
        print(
            f"baseline: {len(base_inputs):,} examples in {base_seconds:.2f} s = "
            f"{base_rate / 1e6:.3f} M examples/s (per line: split, float(), "
            "farmhash.fingerprint64 per value)"
        )
        ours = np.concatenate([b["inputs"][b["weights"] > 0] for b in batches])
        np.testing.assert_array_equal(ours[: len(base_inputs)], base_inputs)
        print(
            f"speed-up: {rate / base_rate:.1f}x, reader on one thread vs the single-threaded "
            "baseline (same inputs on the baseline's lines)"
        )
        low, high = (MODEL_BATCH / s / 1e6 for s in reversed(STEP_SECONDS))
        print(
            f"model need: {low:.1f}-{high:.1f} M examples/s (batch {MODEL_BATCH:,} at "
            f"{STEP_SECONDS[0]}-{STEP_SECONDS[1]} s/step on one H100)"
        )


if __name__ == "__main__":
    main()

"""A TF-free reader of the Criteo 1TB day files: pyarrow's CSV parser plus numpy hashing.

It reproduces the reference's `_parse_example_fn` (tf.io.decode_csv with na_value '-1', then
`log(relu(x) + 1)` on the 13 counts and `to_hash_bucket_fast(value + str(column), raw_vocab)`
on the 26 categorical values, cast to float32) and its order: training reads a seeded
shuffle of the file list (a new one each pass), files one after another and rows in file
order, in full batches that cross file boundaries, dropping each pass's remainder; eval
splits read their files in order and pad the last batch with `weights` 0.

A global batch of G examples is G consecutive lines, so a process's rows of it
(`ProcessShare`) are a run of consecutive lines. Files are streamed in blocks of
`block_bytes` that end at line ends (never a whole 5,000,000-line file at once); numpy finds
each block's line ends, and only this process's lines go to a thread pool that parses them
with pyarrow's CSV reader and hashes them with the vectorised FarmHash of `hashing` (both
release the GIL). Training streams resume from a byte offset (`TrainBatches`); the
workload's input queue prefetches them, and eval streams keep `prefetch` batches ready on a
thread of their own.
"""

from __future__ import annotations

import collections
import importlib
import itertools
import os
import queue
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from algoperf.api import AlgoPerfError
from algoperf.workloads._data import NumpyBatch
from algoperf.workloads._pipeline import SINGLE_PROCESS, ProcessShare
from algoperf.workloads.criteo1tb import files as _files
from algoperf.workloads.criteo1tb.config import NUM_DENSE_FEATURES, NUM_SPARSE_FEATURES
from algoperf.workloads.criteo1tb.hashing import fingerprint64_many, fingerprint64_suffixed

RAW_VOCAB_SIZES = (
    39884406, 39043, 17289, 7420, 20263, 3, 7120, 1543, 63, 38532951, 2953546, 403346, 10,
    2208, 11938, 155, 4, 976, 14, 39979771, 25641295, 39664984, 585935, 12972, 108, 36,
)  # fmt: skip
"""Hash buckets per categorical column, as in the reference (from the DLRM TPU tutorial)."""
DEFAULT_VALUE = b"00000000"
"""The reference's default for an empty (or '-1') categorical field."""
NA_VALUE = "-1"
"""decode_csv's `na_value`: a field equal to it takes the column's default."""
_NA = NA_VALUE.encode()
NUM_FEATURES = NUM_DENSE_FEATURES + NUM_SPARSE_FEATURES
BLOCK_BYTES = 1 << 23
"""Bytes of text parsed at a time by one thread (about 35,000 Criteo lines)."""
EVAL_TRAIN_SEED = 0
"""Seed of the fixed file order of eval_train (the reference shuffles it once per run too)."""

_LABEL = "label"
_DENSE = tuple(f"int_{i}" for i in range(NUM_DENSE_FEATURES))
_SPARSE = tuple(f"cat_{i}" for i in range(NUM_SPARSE_FEATURES))
_COLUMNS = (_LABEL, *_DENSE, *_SPARSE)
_DEFAULT_WORD = int.from_bytes(DEFAULT_VALUE, "little")
_NEWLINE = ord("\n")

Chunk = tuple[np.ndarray, np.ndarray]
"""(features (39, n) float32, targets (n,) float32) of consecutive lines, feature-major."""


class PyarrowNotInstalledError(AlgoPerfError, ImportError):
    """Reading the Criteo 1TB files needs pyarrow."""


def import_pyarrow() -> tuple[Any, Any]:
    """The `pyarrow` and `pyarrow.csv` modules, imported on first use.

    Raises:
        PyarrowNotInstalledError: naming the extra to install when pyarrow is missing.
    """
    try:
        importlib.import_module("pyarrow.compute")  # sets pyarrow.compute
        return importlib.import_module("pyarrow"), importlib.import_module("pyarrow.csv")
    except ImportError as error:
        raise PyarrowNotInstalledError(
            f"reading the Criteo 1TB files needs pyarrow ({error}); "
            "install it with: pip install 'algoperf-workloads[criteo]'"
        ) from error


# ---------------------------------------------------------------- parsing one block


def _csv_options(block_bytes: int, counts: str = "int64") -> tuple[Any, Any, Any]:
    """The pyarrow read, parse and convert options for a block of headerless Criteo lines.

    The 13 counts are parsed as `counts` ('int64', the fast parser for Criteo's integers, or
    'float32', which accepts whatever decode_csv's strtof does); converting either to
    float32 rounds once, as strtof does. An empty count is null (the default 0.0) and '-1'
    stays -1, which relu turns into 0, the same as the default. Label and categoricals stay
    raw bytes, so that only the exact text '-1' (the reference's `na_value`) or an empty
    field takes the default, with no slow null matching on them. Quoting is off: Criteo
    lines contain no quotes.
    """
    pa, csv = import_pyarrow()
    types = {name: pa.type_for_alias(counts) for name in _DENSE}
    types.update({name: pa.binary() for name in (_LABEL, *_SPARSE)})
    return (
        csv.ReadOptions(column_names=_COLUMNS, block_size=block_bytes, use_threads=False),
        csv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False),
        csv.ConvertOptions(column_types=types, null_values=[""], strings_can_be_null=False),
    )


def _binary_words(column: Any) -> tuple[np.ndarray, np.ndarray]:
    """8-byte values of a binary column as little-endian words; empty (or null) as default.

    Returns:
        The words, and the rows whose values are neither empty nor 8 bytes long ('-1' or
        anything unusual), for the caller to hash one by one.
    """
    n = len(column)
    offsets = np.frombuffer(column.buffers()[1], np.int32, n + 1, column.offset * 4)
    lengths = np.diff(offsets)
    eight = lengths == 8
    count = int(np.count_nonzero(eight))
    start, stop = int(offsets[0]), int(offsets[-1])
    if stop - start == 8 * count:  # the usual case: 8-byte values, the rest empty or null
        packed = (
            np.frombuffer(column.buffers()[2], "<u8", count, start)
            if count
            else np.empty(0, np.uint64)
        )
        if count == n:
            return packed, np.empty(0, np.intp)
        words = np.full(n, _DEFAULT_WORD, dtype=np.uint64)
        words[eight] = packed
        return words, np.empty(0, np.intp)
    valid = column.is_valid().to_numpy(zero_copy_only=False) & (lengths > 0)
    words = np.full(n, _DEFAULT_WORD, dtype=np.uint64)
    eight &= valid
    raw = np.frombuffer(column.buffers()[2], np.uint8)
    words[eight] = raw[offsets[:-1][eight, None] + np.arange(8)].view("<u8").ravel()
    return words, np.flatnonzero(valid & ~eight)


def hash_column(column: Any, index: int, out: np.ndarray) -> None:
    """Hash bucket ids of one categorical column, as the reference's float32 values.

    Args:
        column: a pyarrow binary array of the raw field text.
        index: the column's position among the 26 categoricals.
        out: float32 (n,), set to `Fingerprint64(value + str(index)) % RAW_VOCAB_SIZES[index]`.
    """
    words, odd = _binary_words(column)
    odd_values = column.take(pa_array(odd)).to_pylist() if len(odd) else []
    bucket_ids(words, index, out, odd, odd_values)


def bucket_ids(
    words: np.ndarray,
    index: int,
    out: np.ndarray,
    odd_rows: np.ndarray | None = None,
    odd_values: list[bytes] | None = None,
) -> None:
    """`out[:] = Fingerprint64(value + str(index)) % RAW_VOCAB_SIZES[index]` as float32.

    Args:
        words: each row's 8-byte value as a little-endian uint64.
        index: the categorical column (0-25).
        out: float32 array of the rows' ids.
        odd_rows: rows whose values are not 8 bytes long (their `words` are ignored).
        odd_values: the values of `odd_rows`, hashed one by one (they are rare); '-1' is
            the default value.
    """
    suffix = str(index).encode()
    fingerprints = fingerprint64_suffixed(words, suffix)
    if odd_rows is not None and len(odd_rows):
        values = [DEFAULT_VALUE if v == _NA else v for v in odd_values or []]
        fingerprints[odd_rows] = fingerprint64_many([v + suffix for v in values])
    buckets = np.uint64(RAW_VOCAB_SIZES[index])
    quotients = fingerprints // buckets  # `//` by a scalar is libdivide-fast, `%` is not
    quotients *= buckets
    fingerprints -= quotients
    out[...] = fingerprints.view(np.int64)  # ids < 2**26: int64 -> float32 is the fast cast


def pa_array(values: np.ndarray) -> Any:
    """A pyarrow array of a numpy array."""
    return import_pyarrow()[0].array(values)


def parse_batch(record_batch: Any) -> Chunk:
    """(features, targets) of one pyarrow record batch of Criteo lines.

    Args:
        record_batch: columns 'label' (binary), 'int_0'-'int_12' (int64 or float32, null when
            empty), 'cat_0'-'cat_25' (binary).

    Returns:
        features (39, n) float32, feature-major (13 `log(relu(x) + 1)` then 26 bucket ids;
        batches transpose them into (B, 39) inputs), and targets (n,) float32.
    """
    features = np.empty((NUM_FEATURES, record_batch.num_rows), dtype=np.float32)
    for i, name in enumerate(_DENSE):
        row = features[i]
        np.fmax(_floats(record_batch.column(name)), np.float32(0), out=row)  # relu
        row += np.float32(1)
        np.log(row, out=row)  # in float32, as TF computes it
    for i, name in enumerate(_SPARSE):
        hash_column(record_batch.column(name), i, features[NUM_DENSE_FEATURES + i])
    return features, _labels(record_batch.column(_LABEL))


def _floats(column: Any) -> np.ndarray:
    """A numeric column as float32 numpy, null (an empty field) as the default 0.0."""
    if column.null_count:
        column = import_pyarrow()[0].compute.fill_null(column, 0)
    return column.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)


def _labels(column: Any) -> np.ndarray:
    """Labels from their text: '0' and '1' fast, '' and '-1' as 0.0, anything else by float()."""
    n = len(column)
    offsets = np.frombuffer(column.buffers()[1], np.int32, n + 1, column.offset * 4)
    lengths = np.diff(offsets)
    data = np.frombuffer(column.buffers()[2] or b"", np.uint8)
    labels = np.zeros(n, np.float32)
    one = lengths == 1
    labels[one] = data[offsets[:-1][one]] - np.float32(ord("0"))
    other = np.flatnonzero((lengths > 1) | (one & ((labels < 0) | (labels > 9))))
    for i in other.tolist():
        text = column[i].as_py()
        try:
            labels[i] = 0.0 if text == _NA else float(text)
        except ValueError:
            raise ValueError(f"label {text!r} is not a number") from None
    return labels


def parse_block(data: Any, path: Path | str = "<block>") -> Chunk:
    """(features, targets) of a block of whole Criteo lines (bytes or a memoryview).

    Raises:
        ValueError: naming `path`, if a line does not have 40 tab-separated fields or a
            count does not parse as a number.
    """
    pa, csv = import_pyarrow()
    source = pa.py_buffer(data)

    def read_csv(counts: str) -> Any:
        read, parse, convert = _csv_options(len(data) + 1, counts)  # one batch per block
        return csv.read_csv(
            pa.BufferReader(source),
            read_options=read,
            parse_options=parse,
            convert_options=convert,
        )

    try:
        table = read_csv("int64")
    except pa.ArrowInvalid:  # decimals or exponents among the counts
        try:
            table = read_csv("float32")
        except pa.ArrowInvalid as error:
            raise ValueError(
                f"{path}: not Criteo 1TB lines of 40 tab-separated fields ({error})"
            ) from error
    batches = table.combine_chunks().to_batches()
    if not batches:
        return np.empty((NUM_FEATURES, 0), np.float32), np.empty(0, np.float32)
    try:
        return parse_batch(batches[0])
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error


# ---------------------------------------------------------------- this process's lines


def read_blocks(path: Path, block_bytes: int = BLOCK_BYTES, start: int = 0) -> Iterator[memoryview]:
    """Consecutive blocks of about `block_bytes` of a text file, each ending at a line end.

    Reading starts at byte `start`, which must be a line start.
    """
    with path.open("rb") as f:
        f.seek(start)
        while data := f.read(block_bytes):
            cut = data.rfind(b"\n") + 1
            while cut == 0 and (more := f.read(block_bytes)):  # a line longer than a block
                data += more
                cut = data.rfind(b"\n") + 1
            if cut == 0:
                cut = len(data)  # the file's last line, without a newline
            f.seek(cut - len(data), os.SEEK_CUR)  # the partial line starts the next block
            yield memoryview(data)[:cut]


def line_ends(block: memoryview) -> np.ndarray:
    """The offset just past each line of a block of whole lines (the last may lack its newline).

    numpy finds the newlines far faster than pyarrow parses the lines (several GB/s per
    core), so every process can afford to count all lines and parse only its own.
    """
    ends = np.flatnonzero(np.frombuffer(block, np.uint8) == _NEWLINE) + 1
    if len(block) and block[-1] != _NEWLINE:
        ends = np.append(ends, len(block))
    return ends


@dataclass(frozen=True)
class Piece:
    """Text of consecutive lines, all among this process's rows of one global batch."""

    data: memoryview
    path: Path
    lines: int


@dataclass(frozen=True)
class BatchEnd:
    """The end of a global batch: its line count and where the line after it starts."""

    lines: int
    """Lines in the batch: the global batch size, or fewer where the lines ran out."""
    file: int
    """Index of the file the next line is in, among the scanned files."""
    offset: int
    """Byte offset of the next line in that file."""


def scan_lines(
    paths: Sequence[Path],
    global_batch_size: int,
    rows: range,
    start: tuple[int, int] = (0, 0),
    limit: int | None = None,
    block_bytes: int = BLOCK_BYTES,
) -> Iterator[tuple[list[Piece], BatchEnd]]:
    """The lines of `paths` cut into global batches, each with the text of its rows `rows`.

    Lines are only counted, so the caller parses this process's rows and nothing else.

    Args:
        paths: files read one after another, rows in file order, batches across files.
        global_batch_size: lines per global batch.
        rows: this process's rows of each global batch (`ProcessShare.rows`).
        start: (file index, byte offset of a line start) where the first batch begins.
        limit: lines to read at most; None reads to the end of the last file.
        block_bytes: bytes read at a time.

    Yields:
        Per global batch, the pieces of text holding its `rows` (a short last batch holds
        only the rows that exist) and its end. Only the last batch may be short.
    """
    pieces: list[Piece] = []
    line = 0
    where = start
    for index, at, block in _blocks(paths, start, block_bytes):
        ends = line_ends(block)
        count = len(ends) if limit is None else min(len(ends), limit - line)
        done = 0
        while done < count:
            into = line % global_batch_size
            mine = rows.start <= into < rows.stop
            stop = rows.start if into < rows.start else rows.stop if mine else global_batch_size
            take = min(stop - into, count - done)
            if mine:
                begin = int(ends[done - 1]) if done else 0
                pieces.append(Piece(block[begin : int(ends[done + take - 1])], paths[index], take))
            done, line = done + take, line + take
            where = (index, at + int(ends[done - 1]))
            if line % global_batch_size == 0:
                yield pieces, BatchEnd(global_batch_size, *where)
                pieces = []
        if limit is not None and line >= limit:
            break
    if line % global_batch_size:
        yield pieces, BatchEnd(line % global_batch_size, *where)


def _blocks(
    paths: Sequence[Path], start: tuple[int, int], block_bytes: int
) -> Iterator[tuple[int, int, memoryview]]:
    """(file index, byte offset, block) of every block of `paths` from `start` on."""
    for index in range(start[0], len(paths)):
        at = start[1] if index == start[0] else 0
        for block in read_blocks(paths[index], block_bytes, at):
            yield index, at, block
            at += len(block)


def _parse_piece(item: Piece | BatchEnd) -> Chunk | BatchEnd:
    """Parse a piece (checking it held whole Criteo lines); pass batch ends through."""
    if isinstance(item, BatchEnd):
        return item
    chunk = parse_block(item.data, item.path)
    if len(chunk[1]) != item.lines:
        raise ValueError(
            f"{item.path}: {item.lines} lines parsed as {len(chunk[1])} rows (an empty line "
            "or a stray '\\r'); prepare the files again with: "
            f"{_files.prepare_command(item.path.parent)}"
        )
    return chunk


def ordered_map(
    fn: Callable[[Any], Any], items: Iterable[Any], pool: ThreadPoolExecutor, window: int
) -> Generator[Any]:
    """`map(fn, items)` on `pool`, in order, with at most `window` items in flight."""
    pending: collections.deque[Future[Any]] = collections.deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


def parse_batches(
    plan: Iterable[tuple[list[Piece], BatchEnd]], size: int, num_threads: int = 1
) -> Iterator[tuple[NumpyBatch, BatchEnd]]:
    """Batches of `size` rows parsed from `scan_lines`' pieces, zero-padded with weight 0.

    Pieces are parsed and hashed on `num_threads` threads (pyarrow and numpy release the
    GIL); at most `num_threads + 1` are in flight, so memory stays bounded.
    """
    items = (item for pieces, end in plan for item in (*pieces, end))
    chunks: list[Chunk] = []
    pool = ThreadPoolExecutor(num_threads, "criteo-parse")
    try:
        for item in ordered_map(_parse_piece, items, pool, num_threads + 1):
            if isinstance(item, BatchEnd):
                yield _assemble(chunks, size), item
                chunks = []
            else:
                chunks.append(item)
    finally:
        # No waiting: an abandoned stream may be closed by the garbage collector on any
        # thread, one of this pool's included, which cannot join itself.
        pool.shutdown(wait=False, cancel_futures=True)


def _assemble(chunks: list[Chunk], size: int) -> NumpyBatch:
    """Consecutive feature-major chunks as one batch of `size` rows, padded with weight 0."""
    inputs = np.zeros((size, NUM_FEATURES), np.float32)
    targets = np.zeros(size, np.float32)
    filled = 0
    for features, labels in chunks:
        inputs[filled : filled + len(labels)] = features.T
        targets[filled : filled + len(labels)] = labels
        filled += len(labels)
    weights = np.zeros(size, np.float32)
    weights[:filled] = 1.0
    return {"inputs": inputs, "targets": targets, "weights": weights}


def prefetch(iterator: Iterator[Any], depth: int) -> Iterator[Any]:
    """`iterator`'s items, produced `depth` ahead on a background thread.

    Errors in the producer are raised in the consumer; closing the returned generator (or
    dropping it) stops the producer.
    """
    if depth <= 0:
        yield from iterator
        return
    items: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(kind: str, value: Any) -> bool:
        """Queue an item unless the consumer has gone; False once it has."""
        while not stop.is_set():
            try:
                items.put((kind, value), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in iterator:
                if not put("item", item):
                    return
            put("end", None)
        except BaseException as error:  # handed to the consumer, which re-raises it
            put("error", error)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="criteo-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = items.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        thread.join()


# ---------------------------------------------------------------- the dataset


@dataclass(frozen=True)
class _TrainOrder:
    """What a training stream reads, apart from where it is.

    Its generator holds this, not the stream, so a dropped stream closes at once.
    """

    dataset: CriteoDataset
    paths: list[Path]
    seed: int
    global_batch_size: int
    rows: range

    def pass_order(self, number: int) -> list[Path]:
        """The files of pass `number`, in reading order."""
        order = np.random.default_rng([self.seed, number]).permutation(len(self.paths))
        return [self.paths[i] for i in order]

    def batches(self, state: dict[str, int]) -> Generator[tuple[NumpyBatch, dict[str, int]]]:
        """(batch, state after it) from `state` on, forever."""
        number, start = state["pass"], (state["file"], state["offset"])
        size, block_bytes = self.global_batch_size, self.dataset.block_bytes
        while True:
            plan = scan_lines(self.pass_order(number), size, self.rows, start, None, block_bytes)
            full = itertools.takewhile(lambda batch: batch[1].lines == size, plan)
            yielded = False
            for batch, end in parse_batches(full, len(self.rows), self.dataset.num_threads):
                yielded = True
                yield batch, {"pass": number, "file": end.file, "offset": end.offset}
            if not yielded and start == (0, 0):
                raise ValueError(
                    f"the Criteo training files in {self.dataset.data_dir} hold fewer "
                    f"examples than one batch of {size}; use a smaller batch size"
                )
            number, start = number + 1, (0, 0)  # the pass's remainder is dropped


class TrainBatches(Iterator[NumpyBatch]):
    """This process's rows of the Criteo training batches, resumable in O(1).

    Pass `p` reads the files in the order `default_rng([seed, p])` shuffles them to. The
    state is where the next global batch starts: the pass, the file's index in that pass's
    order and the byte offset of the line, the same on every process, so `set_state` seeks
    there and reads nothing before it (and a trial may resume with another process count).
    """

    def __init__(
        self, dataset: CriteoDataset, seed: int, global_batch_size: int, share: ProcessShare
    ) -> None:
        rows = share.rows(global_batch_size)
        self._order = _TrainOrder(dataset, dataset.files("train"), seed, global_batch_size, rows)
        self._state = {"pass": 0, "file": 0, "offset": 0}
        self._batches: Generator[tuple[NumpyBatch, dict[str, int]]] | None = None

    def pass_order(self, number: int) -> list[Path]:
        """The files of pass `number`, in reading order."""
        return self._order.pass_order(number)

    def __next__(self) -> NumpyBatch:
        if self._batches is None:
            self._batches = self._order.batches(self._state)
        batch, self._state = next(self._batches)
        return batch

    def get_state(self) -> dict[str, Any]:
        """Where the next global batch starts: {'pass', 'file', 'offset'} (JSON-serialisable)."""
        return dict(self._state)

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue at `state`, a `get_state()` of a Criteo training stream.

        Raises:
            ValueError: if `state` is not one.
        """
        try:
            restored = {key: int(state[key]) for key in ("pass", "file", "offset")}
        except (KeyError, TypeError, ValueError):
            raise ValueError(
                f"{state!r} is not the state of a Criteo training stream; pass one that "
                "CriteoDataset.train_batches(...).get_state() returned"
            ) from None
        self.close()
        self._state = restored

    def close(self) -> None:
        """Stop the parsing threads; the next batch starts from the current state."""
        if self._batches is not None:
            self._batches.close()
            self._batches = None


class CriteoDataset:
    """The Criteo 1TB splits under `data_dir` as the `Dataset` protocol's numpy batches.

    Each process reads only its rows of every global batch (`ProcessShare`): it scans every
    line's end but parses its own lines alone. Split sizes come from `files.count_examples`:
    the layout fixes all but the last file of each day, so only those are counted, once.
    """

    def __init__(
        self,
        data_dir: str | Path,
        *,
        lines_per_file: int | None = _files.LINES_PER_FILE,
        block_bytes: int = BLOCK_BYTES,
        num_threads: int | None = None,
        prefetch: int = 2,
    ) -> None:
        """A reader of the day files in `data_dir` (nothing is read yet).

        Args:
            data_dir: the folder holding the `day_{d}_{NN}` files.
            lines_per_file: lines of every file but the last of a day; None counts all lines.
            block_bytes: bytes read at a time, and the most parsed at once by one thread.
            num_threads: threads parsing and hashing blocks; None for min(8, CPU count).
            prefetch: eval batches prepared ahead on a background thread (0: none); training
                batches are prepared ahead by the workload's input queue.
        """
        import_pyarrow()  # fail early, naming the extra to install
        self.data_dir = Path(data_dir)
        _files.check_present(self.data_dir)
        self.lines_per_file = lines_per_file
        self.block_bytes = block_bytes
        self.num_threads = num_threads or min(8, os.cpu_count() or 1)
        self.prefetch = prefetch
        self._sizes: dict[str, int] = {}

    def files(self, split: str) -> list[Path]:
        """The files of `split` in reading order (train files before shuffling)."""
        return _files.split_files(self.data_dir, split)

    def num_examples(self, split: str) -> int:
        """Examples in `split`, counted once (cheaply; see `files.count_examples`)."""
        split = "train" if split == "eval_train" else split
        if split not in self._sizes:
            self._sizes[split] = _files.count_examples(self.data_dir, split, self.lines_per_file)
        return self._sizes[split]

    def train_batches(
        self,
        seed: int,
        global_batch_size: int,
        share: ProcessShare = SINGLE_PROCESS,
        workers: int = 0,
    ) -> TrainBatches:
        """Infinite training batches: a seeded shuffle of the files per pass, rows in order.

        Batches run across file boundaries; each pass drops its last partial batch (the
        reference's `drop_remainder` before `repeat`). `workers` is ignored: parsing runs on
        `num_threads` threads, which release the GIL, so processes would only add copies.
        """
        del workers
        return TrainBatches(self, seed, global_batch_size, share)

    def eval_paths(self, split: str) -> list[Path]:
        """The files an eval pass over `split` reads, in order.

        eval_train reads the training files in a fixed shuffled order, so its first
        examples sample every day rather than the start of day 0.
        """
        paths = self.files(split)
        if split in ("train", "eval_train"):
            order = np.random.default_rng(EVAL_TRAIN_SEED).permutation(len(paths))
            paths = [paths[i] for i in order]
        return paths

    def eval_batches(
        self,
        split: str,
        global_batch_size: int,
        num_examples: int | None = None,
        share: ProcessShare = SINGLE_PROCESS,
        workers: int = 0,
    ) -> Iterator[NumpyBatch]:
        """One ordered pass over the first `num_examples` of `split`, padded to full batches.

        Padding rows are zeros with `weights` 0. 'eval_train' reads the training files.
        `workers` is ignored, as in `train_batches`.
        """
        del workers
        rows = share.rows(global_batch_size)
        if num_examples is not None and num_examples <= 0:
            return iter(())
        paths = self.eval_paths(split)
        plan = scan_lines(paths, global_batch_size, rows, (0, 0), num_examples, self.block_bytes)
        batches = parse_batches(plan, len(rows), self.num_threads)
        return prefetch((batch for batch, _ in batches), self.prefetch)

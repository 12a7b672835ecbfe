"""Sharded, resumable batch streams on grain: what each process loads for each global batch.

A stream maps global batch numbers to batches: in this process, or in grain worker
processes (a grain `MapDataset` over batch numbers with `mp_prefetch`; grain is imported
only then). Batch `b` of a training stream
holds the examples at positions `b·G … (b+1)·G - 1` of an infinite sequence of per-epoch
permutations (G = the global batch size); a process loads only its rows of it
(`ProcessShare`). Every random choice an example's transform makes comes from a key derived
from (seed, position), so a batch is a pure function of (seed, batch number, share): the
same whatever the number of worker processes or the order they finish in, the union over
processes is the single-process batch, and a stream resumes in O(1) from the number of
batches it has handed out (`get_state` / `set_state`), without replaying them.

Eval streams read positions `0 … N-1` in order; rows past N load example 0 with weight 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

NumpyBatch = dict[str, Any]
"""A batch of numpy arrays with a leading batch axis: 'inputs', 'targets' and 'weights'.

'inputs' is an array, or a NamedTuple of arrays for structured inputs such as graphs.
"""

_UNBOUNDED = 2**62
"""Batch numbers of a training stream: more than any trial draws."""
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """A bijective 64-bit mix (SplitMix64's finaliser), elementwise, wrapping in uint64."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


@dataclass(frozen=True)
class ProcessShare:
    """Which rows of every global batch this process loads: the `index`-th of `count` slices."""

    index: int = 0
    count: int = 1

    def rows(self, global_batch_size: int) -> range:
        """This process's rows of a global batch.

        Raises:
            ValueError: if the global batch size is not divisible by the process count.
        """
        if global_batch_size % self.count:
            raise ValueError(
                f"global batch size {global_batch_size} is not divisible by the {self.count} "
                "processes; choose a batch size that is a multiple of the process count"
            )
        size = global_batch_size // self.count
        return range(self.index * size, (self.index + 1) * size)


SINGLE_PROCESS = ProcessShare()
"""The share of a job of one process: every row."""


@dataclass(frozen=True)
class BatchRequest:
    """The examples one process loads for one batch, and the randomness they may use."""

    ids: np.ndarray
    """(B,) int64 example indices into the split (0 on padding rows)."""
    keys: np.ndarray
    """(B,) uint64 per-example keys from (seed, stream position): the only source of randomness."""
    weights: np.ndarray
    """(B,) float32: 1 for real examples, 0 for padding."""

    def uniform(self, stream: int, shape: tuple[int, ...] = ()) -> np.ndarray:
        """(B, *shape) uniform floats in [0, 1), independent per `stream` and example."""
        count = math.prod(shape)
        counters = np.arange(count, dtype=np.uint64) + np.uint64(stream) * np.uint64(1 << 32)
        bits = _splitmix64(self.keys[:, None] ^ _splitmix64(counters)[None, :])
        return ((bits >> np.uint64(11)) * 2.0**-53).reshape(len(self.keys), *shape)

    def generators(self) -> list[np.random.Generator]:
        """One numpy generator per example, for transforms that draw many numbers each."""
        return [np.random.Generator(np.random.Philox(key=int(k))) for k in self.keys]


BatchLoader = Callable[[BatchRequest], NumpyBatch]
"""Loads (reads, decodes, transforms) the requested examples as a batch with 'weights'."""


def example_keys(seed: int, positions: np.ndarray) -> np.ndarray:
    """Per-example keys of stream `positions` under `seed`."""
    return _splitmix64(_splitmix64(np.array([seed], np.uint64)) ^ positions.astype(np.uint64))


class EpochOrder:
    """Stream position → example index: a fresh permutation of the examples every epoch."""

    def __init__(self, seed: int, num_examples: int) -> None:
        self.seed, self.num_examples = seed, num_examples
        self._cache: dict[int, np.ndarray] = {}

    def permutation(self, epoch: int) -> np.ndarray:
        """The order of epoch `epoch` (the two latest are kept: a batch can straddle two)."""
        if epoch not in self._cache:
            if len(self._cache) >= 2:
                self._cache.pop(min(self._cache))
            rng = np.random.default_rng([self.seed, epoch])
            self._cache[epoch] = rng.permutation(self.num_examples)
        return self._cache[epoch]

    def at(self, position: int) -> int:
        """The example at one stream position."""
        epoch, offset = divmod(position, self.num_examples)
        return int(self.permutation(epoch)[offset])

    def __call__(self, positions: np.ndarray) -> np.ndarray:
        epochs, offsets = np.divmod(positions, self.num_examples)
        ids = np.empty(len(positions), np.int64)
        for epoch in np.unique(epochs):
            at = epochs == epoch
            ids[at] = self.permutation(int(epoch))[offsets[at]]
        return ids


@dataclass(frozen=True)
class _TrainRequests:
    """Batch number → this process's `BatchRequest` (picklable, for grain's workers)."""

    seed: int
    order: EpochOrder
    global_batch_size: int
    rows: range

    def __call__(self, batch: int) -> BatchRequest:
        positions = batch * self.global_batch_size + np.arange(self.rows.start, self.rows.stop)
        return BatchRequest(
            ids=self.order(positions),
            keys=example_keys(self.seed, positions),
            weights=np.ones(len(positions), np.float32),
        )


@dataclass(frozen=True)
class _EvalRequests:
    """Batch number → this process's rows of an ordered pass, padded past `num_examples`."""

    num_examples: int
    global_batch_size: int
    rows: range

    def __call__(self, batch: int) -> BatchRequest:
        positions = batch * self.global_batch_size + np.arange(self.rows.start, self.rows.stop)
        real = positions < self.num_examples
        return BatchRequest(
            ids=np.where(real, positions, 0),
            keys=example_keys(0, positions),
            weights=real.astype(np.float32),
        )


class BatchStream(Iterator[NumpyBatch]):
    """Batches loaded by number, in this process or by grain's workers, counted.

    Its state is the count handed out, so it restores in O(1) whatever the number of
    workers, and a trial may resume with a different worker count.
    """

    def __init__(
        self,
        requests: Callable[[int], BatchRequest],
        load: BatchLoader,
        num_batches: int,
        workers: int = 0,
    ) -> None:
        self._requests, self._load = requests, load
        self._num_batches, self._workers = num_batches, workers
        self._next = 0
        self._iterator: Iterator[NumpyBatch] = iter(())
        self._open(0)

    def _open(self, start: int) -> None:
        self.close()
        batches = range(start, self._num_batches)
        if self._workers:
            self._iterator = _grain_workers(batches, self._requests, self._load, self._workers)
        else:  # what grain would do in this process, without its import cost
            self._iterator = map(self._load, map(self._requests, batches))
        self._next = start

    def __next__(self) -> NumpyBatch:
        batch = next(self._iterator)
        self._next += 1
        return batch

    def get_state(self) -> dict[str, Any]:
        """The batches handed out so far (JSON-serialisable)."""
        return {"next_batch": self._next}

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue after `state['next_batch']` batches, loading none of them."""
        self._open(int(state["next_batch"]))

    def close(self) -> None:
        """Stop the worker processes, if any."""
        close = getattr(self._iterator, "close", None)
        if close is not None:
            close()

    def __del__(self) -> None:
        self.close()


def _grain_workers(
    batches: range,
    requests: Callable[[int], BatchRequest],
    load: BatchLoader,
    workers: int,
) -> Iterator[NumpyBatch]:
    """`load(requests(b))` for `b` in `batches`, in order, computed by grain worker processes.

    grain is imported here, not at module level: with jax installed it imports jax's
    profiler and orbax (3.6 s on this project's CI machine), which in-process loading and
    PyTorch processes do not need.
    """
    import grain

    _allow_grain_workers()
    dataset = (
        grain.MapDataset.range(batches.start, batches.stop)
        .map(requests)
        .map(_InWorker(load))
        # No read-ahead threads: the workers load ahead, and so does the input queue.
        .to_iter_dataset(grain.ReadOptions(num_threads=0, prefetch_buffer_size=0))
        .mp_prefetch(grain.MultiprocessingOptions(num_workers=workers))
    )
    return iter(dataset)


_in_worker = False
"""Set in grain's worker processes, whose batch arrays `batch_array` puts in shared memory."""


def batch_array(shape: tuple[int, ...], dtype: Any, fill: float = 0) -> np.ndarray:
    """A `fill`ed array for a batch a loader builds: in shared memory in a grain worker.

    grain hands a `SharedMemoryArray` to the main process by name, where it would otherwise
    copy the array into a new shared-memory block: for LibriSpeech's 2.6 MB of padded audio
    an utterance that copy costs more than reading and decoding it.
    """
    if not _in_worker:
        return np.full(shape, fill, dtype)
    from grain.multiprocessing import SharedMemoryArray

    out = SharedMemoryArray(shape, dtype)  # a new block reads as zeros
    if fill:
        out.fill(fill)
    return out


@dataclass(frozen=True)
class _InWorker:
    """`load`, marking the process it runs in as a grain worker (see `batch_array`)."""

    load: BatchLoader

    def __call__(self, request: BatchRequest) -> NumpyBatch:
        global _in_worker
        _in_worker = True
        return self.load(request)


def _allow_grain_workers() -> None:
    """Let grain's worker start-up read its absl flags' defaults in a program without absl.

    grain reads a profiling flag when it starts workers; absl refuses any flag read before
    the command line was parsed, which only absl programs do.
    """
    from absl import flags  # noqa: TID251 -- only to let grain read its own defaults

    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()


def train_stream(
    load: BatchLoader,
    num_examples: int,
    seed: int,
    global_batch_size: int,
    share: ProcessShare = SINGLE_PROCESS,
    workers: int = 0,
) -> BatchStream:
    """Infinite shuffled training batches: this process's rows of every global batch."""
    rows = share.rows(global_batch_size)
    requests = _TrainRequests(seed, EpochOrder(seed, num_examples), global_batch_size, rows)
    return BatchStream(requests, load, _UNBOUNDED, workers)


def eval_stream(
    load: BatchLoader,
    num_examples: int,
    global_batch_size: int,
    share: ProcessShare = SINGLE_PROCESS,
    workers: int = 0,
) -> BatchStream:
    """One ordered pass over the first `num_examples`, padded to whole global batches."""
    requests = _EvalRequests(num_examples, global_batch_size, share.rows(global_batch_size))
    return BatchStream(requests, load, math.ceil(num_examples / global_batch_size), workers)

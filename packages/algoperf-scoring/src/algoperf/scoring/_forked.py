"""Share work with forked child processes and take back their pickled results.

Reading thousands of trial files, and scoring a thousand bootstrap resamples, keep a CPU
busy; on Linux a forked child shares that work without importing anything again. A plain
fork, not a multiprocessing pool: the pool's import and start-up cost a tenth of a whole
scoring run. A result comes back through an in-memory file (`memfd_create`) rather than a
pipe, whose 64 KiB buffer would stall the child until the parent, busy with its own
share, gets round to reading.
"""

from __future__ import annotations

import itertools
import os
import pickle
import signal
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Forked(Generic[T]):
    """`fn(*args)` running in a forked child; `result()` waits for it, `close()` stops it.

    The child only computes and writes its result, then leaves with `os._exit` (no atexit
    handlers, no flushing of buffers it inherited).
    """

    def __init__(self, fn: Callable[..., T], *args: object) -> None:
        self._file: int | None = os.memfd_create("algoperf-forked", os.MFD_CLOEXEC)
        # Python >= 3.12 warns that forking a process with threads (numpy's BLAS pool) may
        # deadlock; the child takes none of their locks: it reads files and computes with
        # numpy (no BLAS).
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", ".* is multi-threaded", DeprecationWarning)
            self._pid = os.fork()
        if self._pid == 0:
            status = 1
            try:
                with open(self._file, "wb") as out:
                    pickle.dump(fn(*args), out, protocol=pickle.HIGHEST_PROTOCOL)
                status = 0
            finally:
                os._exit(status)

    def result(self) -> T | None:
        """The child's return value, or None when it failed (its share is then redone)."""
        if self._file is None:
            return None
        _, status = os.waitpid(self._pid, 0)
        with open(self._file, "rb") as saved:
            self._file = None
            saved.seek(0)
            data = saved.read()
        if status != 0 or not data:
            return None
        return pickle.loads(data)

    def close(self) -> None:
        """Stop and reap the child if `result` was not taken (the parent failed first)."""
        if self._file is None:
            return
        os.close(self._file)
        self._file = None
        os.kill(self._pid, signal.SIGKILL)
        os.waitpid(self._pid, 0)


A = TypeVar("A")

# Items go in at most this many blocks (block numbers fill a pipe's first page), and at
# least this many items each, so that claiming one costs little against computing it.
_MAX_BLOCKS = 1024
_MIN_BLOCK = 32


def fork_processes(tasks: int, per_process: int, requested: int | None = None) -> int:
    """How many processes share `tasks`: 1 where forking is impossible or unsafe.

    Otherwise `requested`, or one per CPU with at least `per_process` tasks each. Forking
    needs Linux, and a process without JAX's or PyTorch's threads: JAX warns that a fork
    of its runtime may deadlock (the harness scores in the process that trained).
    """
    if not sys.platform.startswith("linux") or any(m in sys.modules for m in ("jax", "torch")):
        return 1
    if requested is None:
        requested = min(len(os.sched_getaffinity(0)), tasks // per_process)
    return max(1, min(requested, tasks))


def map_forked(
    fn: Callable[[A], T],
    items: Sequence[A],
    processes: int,
    pack: Callable[[list[T]], Any] | None = None,
    unpack: Callable[[list[A], Any], Iterable[T]] | None = None,
    block: int | None = None,
) -> list[T]:
    """`[fn(item) for item in items]`, computed here and in `processes - 1` forked children.

    Items go in blocks, and whichever process is free takes the next block number from a
    pipe they share: a process slowed down by others on the machine takes fewer. A child's
    results travel as `pack` makes them (default: as they are), and `unpack`, given its
    items, restores them. The blocks of a child that failed are computed here. `block`:
    items per block (default: at least 32, and at most 1,024 blocks).
    """
    size = max(block or _MIN_BLOCK, -(-len(items) // _MAX_BLOCKS))
    blocks = [list(items[i : i + size]) for i in range(0, len(items), size)]
    claims, dispenser = os.pipe()
    try:
        os.write(dispenser, b"".join(k.to_bytes(2, "little") for k in range(len(blocks))))
        os.close(dispenser)
        children = [Forked(_claim_and_pack, fn, blocks, claims, pack) for _ in range(processes - 1)]
        try:
            done = _claim(fn, blocks, claims)
            for child in children:
                returned = child.result()
                if returned is not None:
                    taken, packed = returned
                    if unpack is not None:
                        packed = unpack([i for k in taken for i in blocks[k]], packed)
                    results = iter(packed)
                    done |= {k: list(itertools.islice(results, len(blocks[k]))) for k in taken}
        finally:
            for child in children:
                child.close()
    finally:
        os.close(claims)
    return [r for k, part in enumerate(blocks) for r in (done[k] if k in done else map(fn, part))]


def _claim(fn: Callable[[A], T], blocks: list[list[A]], claims: int) -> dict[int, list[T]]:
    """Compute the blocks whose numbers this process reads from `claims`, until none is left."""
    done = {}
    while claim := os.read(claims, 2):
        k = int.from_bytes(claim, "little")
        done[k] = [fn(item) for item in blocks[k]]
    return done


def _claim_and_pack(
    fn: Callable[[A], T],
    blocks: list[list[A]],
    claims: int,
    pack: Callable[[list[T]], Any] | None,
) -> tuple[list[int], Any]:
    """`_claim` in a child: the numbers of the blocks it computed, and their packed results."""
    done = _claim(fn, blocks, claims)
    results = [r for part in done.values() for r in part]
    return list(done), results if pack is None else pack(results)

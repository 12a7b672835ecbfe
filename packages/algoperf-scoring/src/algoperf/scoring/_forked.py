"""Run a function in a forked child process and take back its pickled result.

Reading thousands of trial files is bound by parsing; on Linux a forked child shares that
work without importing anything again. A plain fork and a pipe, not a multiprocessing pool:
the pool's import and start-up cost a tenth of a whole scoring run.
"""

from __future__ import annotations

import os
import pickle
import signal
import warnings
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Forked(Generic[T]):
    """`fn(*args)` running in a forked child; `result()` waits for it, `close()` stops it.

    The child only computes and writes its result to a pipe, then leaves with `os._exit`
    (no atexit handlers, no flushing of buffers it inherited).
    """

    def __init__(self, fn: Callable[..., T], *args: object) -> None:
        reader, writer = os.pipe()
        # Python >= 3.12 warns that forking a process with threads (numpy's BLAS pool) may
        # deadlock; the child takes none of their locks, it reads files and parses numbers.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", ".* is multi-threaded", DeprecationWarning)
            self._pid = os.fork()
        if self._pid == 0:
            os.close(reader)
            status = 1
            try:
                with open(writer, "wb") as out:
                    pickle.dump(fn(*args), out, protocol=pickle.HIGHEST_PROTOCOL)
                status = 0
            finally:
                os._exit(status)
        os.close(writer)
        self._reader: int | None = reader

    def result(self) -> T | None:
        """The child's return value, or None when it failed (its share is then redone)."""
        if self._reader is None:
            return None
        with open(self._reader, "rb") as pipe:
            self._reader = None
            data = pipe.read()
        _, status = os.waitpid(self._pid, 0)
        if status != 0 or not data:
            return None
        return pickle.loads(data)

    def close(self) -> None:
        """Stop and reap the child if `result` was not taken (the parent failed first)."""
        if self._reader is None:
            return
        os.close(self._reader)
        self._reader = None
        os.kill(self._pid, signal.SIGKILL)
        os.waitpid(self._pid, 0)

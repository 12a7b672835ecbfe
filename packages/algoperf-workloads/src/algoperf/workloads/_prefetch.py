"""The training input queue: batches loaded and placed on devices ahead of use.

A background thread takes numpy batches from a resumable stream and places them (a sharded
`device_put` in JAX, pinned memory and non-blocking copies in PyTorch), `depth` batches
ahead, so input work overlaps the device's. Time the submission still waits for a batch
stays inside its timed `data_selection`, as the rules say. The queue's state is the stream's
state after the last batch handed out, not after the ones waiting in the buffer, so a
checkpoint resumes exactly where the submission was.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from algoperf.workloads._data import NumpyBatch, ResumableBatches

_POLL_SEC = 0.1
"""How often a blocked producer checks whether the queue was closed."""


class _End:
    """The stream ended (or failed with `error`)."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class InputQueue(Iterator[Any]):
    """Placed batches from `stream`, prefetched by a thread; resumable like the stream."""

    def __init__(
        self, stream: ResumableBatches, place: Callable[[NumpyBatch], Any], depth: int = 2
    ) -> None:
        self._stream, self._place, self._depth = stream, place, depth
        self._state = stream.get_state()
        self._start()

    def _start(self) -> None:
        self._buffer: queue.Queue[Any] = queue.Queue(self._depth)
        self._closed = threading.Event()
        # The thread holds no reference to the queue, so a dropped queue is collected and
        # its `__del__` stops the thread.
        self._thread = threading.Thread(
            target=_produce,
            args=(self._stream, self._place, self._buffer, self._closed),
            name="input-prefetch",
            daemon=True,
        )
        self._thread.start()

    def __next__(self) -> Any:
        item = self._buffer.get()
        if isinstance(item, _End):
            self._buffer.put(item)  # every later call ends the same way
            if item.error is not None:
                raise item.error
            raise StopIteration
        batch, self._state = item
        return batch

    def get_state(self) -> dict[str, Any]:
        """The stream's state after the last batch this queue handed out."""
        return dict(self._state)

    def set_state(self, state: dict[str, Any]) -> None:
        """Drop the prefetched batches and continue from `state`."""
        self._stop()
        self._stream.set_state(state)
        self._state = dict(state)
        self._start()

    def _stop(self) -> None:
        self._closed.set()
        self._thread.join()

    def close(self) -> None:
        """Stop the thread and the stream's workers."""
        self._stop()
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()

    def __del__(self) -> None:
        self._closed.set()


def _produce(
    stream: ResumableBatches,
    place: Callable[[NumpyBatch], Any],
    buffer: queue.Queue[Any],
    closed: threading.Event,
) -> None:
    """Fill `buffer` with (placed batch, stream state after it) until `closed` is set."""
    try:
        for batch in stream:
            if not _put(buffer, closed, (place(batch), stream.get_state())):
                return
    except BaseException as error:  # handed to the consumer, which raises it
        _put(buffer, closed, _End(error))
        return
    _put(buffer, closed, _End())


def _put(buffer: queue.Queue[Any], closed: threading.Event, item: Any) -> bool:
    """Put `item` unless `closed` is set first; whether it was put."""
    while not closed.is_set():
        try:
            buffer.put(item, timeout=_POLL_SEC)
            return True
        except queue.Full:
            continue
    return False

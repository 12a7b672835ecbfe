"""Sharded, resumable grain batch streams and the prefetching input queue."""

import numpy as np
import pytest

from algoperf.workloads._data import ArrayDataset
from algoperf.workloads._pipeline import (
    BatchRequest,
    EpochOrder,
    ProcessShare,
    batch_array,
    example_keys,
    train_stream,
)
from algoperf.workloads._prefetch import InputQueue


def _dataset(n=10, transform=None):
    """Inputs equal to the example index; the transform may add per-example randomness."""
    arrays = {"inputs": np.arange(n, dtype=np.float32), "targets": np.arange(n, dtype=np.int32)}
    return ArrayDataset({"train": arrays, "validation": arrays}, transform, transform)


def _with_noise(batch, request):
    """Adds one uniform number per example, from the example's own key."""
    return batch | {"noise": request.uniform(0)}


def _take(stream, count):
    return [next(stream) for _ in range(count)]


@pytest.mark.parametrize("processes", [2, 4])
def test_the_union_over_processes_is_the_single_process_batch(processes):
    ds = _dataset(transform=_with_noise)
    whole = _take(ds.train_batches(3, 8), 6)  # ~5 epochs of 10 examples
    shares = [
        _take(ds.train_batches(3, 8, ProcessShare(p, processes)), 6) for p in range(processes)
    ]
    for b, batch in enumerate(whole):
        for key in ("targets", "noise", "weights"):
            joined = np.concatenate([share[b][key] for share in shares])
            np.testing.assert_array_equal(joined, batch[key])


@pytest.mark.parametrize("processes", [1, 2, 4])
def test_sharded_eval_sees_every_example_once(processes):
    ds = _dataset(n=11)
    seen = []
    for p in range(processes):
        for batch in ds.eval_batches("validation", 8, share=ProcessShare(p, processes)):
            assert len(batch["targets"]) == 8 // processes
            seen += batch["targets"][batch["weights"] > 0].tolist()
    assert sorted(seen) == list(range(11))


def test_a_restored_stream_continues_without_loading_the_batches_before():
    loaded = []

    def counting(batch, request):
        loaded.append(int(request.ids[0]))
        return _with_noise(batch, request)

    ds = _dataset(transform=counting)
    reference = _take(ds.train_batches(5, 4), 7)
    stream = ds.train_batches(5, 4)
    _take(stream, 3)
    state = stream.get_state()
    assert state == {"next_batch": 3}
    loaded.clear()
    fresh = ds.train_batches(5, 4)
    fresh.set_state(state)
    resumed = _take(fresh, 4)
    assert len(loaded) == 4  # only the four batches handed out were loaded
    for got, expected in zip(resumed, reference[3:], strict=True):
        np.testing.assert_array_equal(got["noise"], expected["noise"])
        np.testing.assert_array_equal(got["targets"], expected["targets"])


@pytest.mark.slow
def test_worker_processes_load_the_same_batches_as_the_main_process():
    def with_noise(batch, request):  # local, so the workers unpickle it by value
        return batch | {"noise": request.uniform(0)}

    ds = _dataset(n=37, transform=with_noise)
    in_process = _take(ds.train_batches(1, 8), 6)
    with_workers = ds.train_batches(1, 8, workers=2)
    try:
        got = _take(with_workers, 3)
        with_workers.set_state({"next_batch": 4})  # restored with the workers running
        got += _take(with_workers, 2)
    finally:
        with_workers.close()
    for a, b in zip(got, in_process[:3] + in_process[4:6], strict=True):
        np.testing.assert_array_equal(np.asarray(a["noise"]), b["noise"])
        np.testing.assert_array_equal(np.asarray(a["targets"]), b["targets"])


@pytest.mark.slow
def test_batch_arrays_built_in_a_worker_reach_the_main_process_in_shared_memory():
    from grain.multiprocessing import SharedMemoryArray

    def load(request):  # local, so the workers unpickle it by value
        ids = request.ids.astype(np.float32)
        out = batch_array((len(ids), 3), np.float32, fill=1)
        out[:, 0] = ids
        return {"values": out, "weights": request.weights}

    in_process = _take(train_stream(load, 10, 1, 4), 2)
    with_workers = train_stream(load, 10, 1, 4, workers=1)
    try:
        got = _take(with_workers, 2)
    finally:
        with_workers.close()
    for a, b in zip(got, in_process, strict=True):
        assert isinstance(a["values"], SharedMemoryArray)  # handed over without a copy
        assert not isinstance(b["values"], SharedMemoryArray)
        np.testing.assert_array_equal(a["values"], b["values"])
        assert (a["values"][:, 1:] == 1).all()


def test_each_epoch_is_a_new_permutation():
    order = EpochOrder(seed=0, num_examples=6)
    first, second = order(np.arange(6)), order(np.arange(6, 12))
    assert sorted(first) == sorted(second) == list(range(6))
    assert not np.array_equal(first, second)
    assert [order.at(p) for p in range(4, 8)] == order(np.arange(4, 8)).tolist()


def test_example_randomness_depends_on_seed_position_and_stream_only():
    keys = example_keys(7, np.arange(100, 164))
    request = BatchRequest(keys, keys, np.ones(64, np.float32))
    u = request.uniform(0, (3,))
    assert u.shape == (64, 3)
    assert (u >= 0).all()
    assert (u < 1).all()
    assert abs(u.mean() - 0.5) < 4 * (1 / 12 / u.size) ** 0.5  # four standard errors
    tail = BatchRequest(keys[32:], keys[32:], np.ones(32, np.float32))
    np.testing.assert_array_equal(tail.uniform(0, (3,)), u[32:])  # not the batch's make-up
    assert not np.array_equal(request.uniform(1, (3,)), u)
    assert not np.array_equal(example_keys(8, np.arange(100, 164)), keys)


def test_a_batch_size_the_processes_cannot_share_is_an_error():
    with pytest.raises(ValueError, match="not divisible by the 3 processes"):
        _dataset().train_batches(0, 8, ProcessShare(0, 3))


def test_the_input_queue_state_is_that_of_the_last_batch_handed_out():
    ds = _dataset(transform=_with_noise)
    reference = _take(ds.train_batches(2, 4), 6)
    queue = InputQueue(ds.train_batches(2, 4), place=lambda b: b, depth=3)
    assert queue.get_state() == {"next_batch": 0}
    _take(queue, 2)
    assert queue.get_state() == {"next_batch": 2}  # not the batches prefetched beyond
    queue.set_state({"next_batch": 4})
    np.testing.assert_array_equal(next(queue)["noise"], reference[4]["noise"])
    queue.close()


def test_the_input_queue_raises_what_loading_raised():
    def broken(batch, request):
        raise RuntimeError("cannot decode example 3")

    queue = InputQueue(_dataset(transform=broken).train_batches(0, 4), place=lambda b: b)
    for _ in range(2):  # and again on the next call
        with pytest.raises(RuntimeError, match="cannot decode example 3"):
            next(queue)
    queue.close()

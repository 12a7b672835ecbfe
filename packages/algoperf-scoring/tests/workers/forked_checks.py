"""Checks of the forked reader, each run in a fresh interpreter by test_forked.py.

A fresh one because the pytest process may hold JAX's threads (other test files load it),
and forking such a process is exactly what `read_trials` refuses to do.

Usage: python forked_checks.py CHECK [LOGS_FOLDER]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from algoperf.scoring import (
    _analysis,
    _forked,
    _readers,
    bootstrap_scores,
    load_logs,
    workload_times,
)
from algoperf.scoring._cli import cli
from algoperf.scoring._forked import Forked, map_forked


def _fail(*args: object, **kwargs: object) -> None:
    raise RuntimeError("failed on purpose")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def result_comes_back() -> None:
    big = list(range(200_000))  # more than a pipe's buffer holds
    assert Forked(sorted, big[::-1]).result() == big


def failed_child_gives_none() -> None:
    child = Forked(_fail)
    assert child.result() is None
    assert _gone(child._pid)


def close_stops_a_running_child() -> None:
    child = Forked(time.sleep, 600)
    child.close()
    assert _gone(child._pid)
    assert child.result() is None


def _where(x: int, parent: int) -> tuple[int, int]:
    # A slow parent, and children slow enough that they cannot take every block while the
    # parent is still forking them: both take blocks, whatever else the machine runs.
    time.sleep(0.05 if os.getpid() == parent else 0.002)
    return x * x, os.getpid()


def _as_is(results: list) -> list:
    return results


def _unpacked(items: list, packed: list) -> list:
    assert len(items) == len(packed)
    return packed


def map_in_order() -> None:
    items, parent = list(range(200)), os.getpid()
    results = map_forked(lambda x: _where(x, parent), items, 3, _as_is, _unpacked)
    assert [square for square, _ in results] == [x * x for x in items]
    pids = {pid for _, pid in results}
    assert os.getpid() in pids, "the parent took a block"
    assert len(pids) > 1, "a child took blocks"


def _same_trials(logs: Path) -> None:
    serial = load_logs(logs, "v0.6", workers=1)
    parallel = load_logs(logs, "v0.6", workers=2)
    assert parallel.anomalies == serial.anomalies
    assert [(t.folder, t.times.tolist(), t.values.tolist()) for t in parallel.trials] == [
        (t.folder, t.times.tolist(), t.values.tolist()) for t in serial.trials
    ]


def _count_forks() -> list[Forked]:
    """Every `Forked` made from now on, in a list."""
    forked = []
    real = _forked.Forked

    def counted(*args: object) -> Forked:
        forked.append(real(*args))
        return forked[-1]

    _forked.Forked = counted
    return forked


def workers_read_the_same(logs: Path) -> None:
    forked = _count_forks()
    _same_trials(logs)
    assert len(forked) == 1, "two workers fork one child"


def failed_child_blocks_are_read_here(logs: Path) -> None:
    claim = _forked._claim

    def claim_then_fail(*args: object) -> None:
        claim(*args[:3])  # takes blocks, then loses them
        _fail()

    _forked._claim_and_pack = claim_then_fail
    _same_trials(logs)


def no_child_outlives_a_failure(logs: Path) -> None:
    children = []

    def sleeping_child(*args: object) -> Forked:
        children.append(Forked(time.sleep, 600))
        return children[-1]

    _forked.Forked = sleeping_child
    _readers._read_job = _fail
    try:
        load_logs(logs, "v0.6", workers=2)
    except RuntimeError as e:
        if "failed on purpose" not in str(e):
            raise
    else:
        raise AssertionError("the failure here did not propagate")
    assert children
    assert all(_gone(child._pid) for child in children)


def bootstrap_same_in_two_processes(logs: Path) -> None:
    times = workload_times(load_logs(logs, "v0.6", workers=1))
    forked = _count_forks()
    serial = bootstrap_scores(times, samples=450, seed=1, max_tau=4.0, workers=1)
    assert not forked, "one worker forks nothing"
    shared = bootstrap_scores(times, samples=450, seed=1, max_tau=4.0, workers=2)
    assert forked, "the bootstrap was shared with a child"
    assert np.array_equal(shared, serial)


def one_worker_forks_nothing(logs: Path) -> None:
    forked = _count_forks()
    _analysis._BOOTSTRAP_PER_PROCESS = 1  # the bootstrap alone would fork
    assert cli([str(logs), "--rules", "v0.6", "--workers", "1", "--format", "json"]) == 0
    assert not forked


if __name__ == "__main__":
    _forked._MIN_BLOCK = 1  # the test logs have a few dozen trials: a block each
    check = globals()[sys.argv[1]]
    check(*map(Path, sys.argv[2:]))

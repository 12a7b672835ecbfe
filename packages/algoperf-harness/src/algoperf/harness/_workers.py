"""The `local` executor's parallel mode: one worker process per device.

Each worker is `algoperf sweep FILE --shard I/N` with its device as the only visible one
(`CUDA_VISIBLE_DEVICES`), so it plans its trials for that one device, runs every N-th trial of
the sweep and writes the records the sequential executor would. Completed trials are skipped
as always, so a rerun, with any number of workers, goes on where the last run stopped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from algoperf.harness._sweep import SweepError

T = TypeVar("T")


def visible_gpus() -> list[str]:
    """The GPUs this process may use: `CUDA_VISIBLE_DEVICES` if set, else `nvidia-smi -L`."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [d.strip() for d in listed.split(",") if d.strip() and d.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    result = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("GPU ")]
    return [str(i) for i in range(len(lines))] if result.returncode == 0 else []


def worker_devices(workers: int | None, gpus: Sequence[str]) -> list[str | None]:
    """Each worker's GPU (None on a machine without GPUs, where workers share the CPU).

    Args:
        workers: the number of workers; None for one per GPU (one in all without GPUs).
        gpus: the visible GPUs.

    Raises:
        SweepError: if more workers than GPUs are asked for.
    """
    if not gpus:
        return [None] * (workers or 1)
    if workers is None:
        return list(gpus)
    if workers > len(gpus):
        raise SweepError(
            f"{workers} workers asked for, but only {len(gpus)} GPUs are visible; "
            "use at most one worker per GPU"
        )
    return list(gpus[:workers])


def shard(items: Sequence[T], spec: str) -> list[T]:
    """The `I/N` shard of `items`: every N-th item from the I-th (I counts from 0).

    Raises:
        SweepError: if `spec` is not `I/N` with 0 <= I < N.
    """
    try:
        index, count = (int(part) for part in spec.split("/"))
    except ValueError:
        index, count = -1, 0
    if not 0 <= index < count:
        raise SweepError(f"--shard {spec!r}: expected I/N with 0 <= I < N, e.g. 0/4")
    return list(items[index::count])


@dataclass(frozen=True)
class WorkerResult:
    """How one worker process ended."""

    index: int
    device: str | None
    returncode: int
    log: Path


def run_workers(
    sweep_file: Path, devices: Sequence[str | None], log_dir: Path
) -> list[WorkerResult]:
    """Run the sweep as one `algoperf sweep --shard I/N` process per device; wait for all.

    Each worker's output goes to `log_dir/worker_<I>.log`.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    count = len(devices)
    running = []
    for index, device in enumerate(devices):
        env = dict(os.environ)
        if device is not None:
            env["CUDA_VISIBLE_DEVICES"] = device
        log = log_dir / f"worker_{index}.log"
        command = [
            sys.executable,
            "-m",
            "algoperf.harness",
            "sweep",
            str(sweep_file),
            "--executor",
            "local",
            "--shard",
            f"{index}/{count}",
        ]
        with open(log, "w") as out:
            process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        running.append((index, device, log, process))
    return [WorkerResult(i, d, p.wait(), log) for i, d, log, p in running]

"""The child process of a supervised group of trials (`algoperf.harness._supervisor`).

`python -m algoperf.harness._child PLAN.json` runs the plan's trials (one submission file and
workload) with `run_group`, and reports each trial's start and end as a JSON line in the
plan's events file, which the supervisor reads. Under torchrun every rank runs this; rank 0
reports and writes the records. `python -m algoperf.harness._child --hardware FRAMEWORK`
prints the hardware a trial of that framework gets here.
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from algoperf.api import Framework
from algoperf.harness._plan import ChildPlan, end_event, start_event
from algoperf.harness._runtime import get_runtime
from algoperf.harness._sweep import run_group


class _Events:
    """Appends events, each flushed at once: the supervisor reads them as they come."""

    def __init__(self, path: Path) -> None:
        self.file: IO[str] = open(path, "a")  # noqa: SIM115 - open for the child's life

    def write(self, event: dict[str, Any]) -> None:
        self.file.write(json.dumps(event) + "\n")
        self.file.flush()


def run_plan(plan: ChildPlan) -> None:
    """Run the plan's trials, reporting to its events file (rank 0 only under DDP)."""
    trials = [t.trial() for t in plan.trials]
    framework = trials[0].spec.framework
    distributed = framework is Framework.PYTORCH and "LOCAL_RANK" in os.environ
    if distributed:
        from algoperf.workloads.torch_base import init_distributed

        init_distributed()
    try:
        events = _Events(plan.events) if get_runtime(framework).is_primary else None
        run_group(
            trials,
            plan.options.options(),
            on_start=None if events is None else lambda t: events.write(start_event(t)),
            on_result=None if events is None else lambda r: events.write(end_event(r)),
        )
    finally:
        if distributed:
            from algoperf.workloads.torch_base import shutdown_distributed

            shutdown_distributed()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; see the module docstring."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 2 and args[0] == "--hardware":
        print(get_runtime(args[1]).hardware().model_dump_json())
        return 0
    faulthandler.enable()  # a crash in native code prints the Python stack to the log
    run_plan(ChildPlan.model_validate_json(Path(args[0]).read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

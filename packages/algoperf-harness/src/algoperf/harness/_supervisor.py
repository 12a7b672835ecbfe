"""Trials in child processes, so that nothing a submission does can take a sweep down.

Each group of trials (one submission file, framework and workload: they share the loaded
workload and its compiled steps) runs in a child process, `python -m algoperf.harness._child`
(under torchrun for several PyTorch processes), whose output goes to
`<experiment_dir>/.logs/<submission>_<workload>_<framework>.log`. The child reports each
trial's start and end through an events file. If the child dies before a trial it started has
ended (an exception escaping the harness, `sys.exit` or `os._exit` in the submission, a crash
in native code, the kernel's out-of-memory killer) or makes no progress within the time limit
(it is then killed), that trial is recorded as failed, with the reason and the last lines of
its output, and a new child runs the rest of the group. This process never imports a
deep-learning framework.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from algoperf.api import (
    EVALS_FILE,
    TrialOutcome,
    TrialStatus,
    get_workload_spec,
    read_evals,
    write_trial_file,
)
from algoperf.harness._checkpoint import delete_checkpoints
from algoperf.harness._claims import TrialClaim
from algoperf.harness._plan import ChildPlan, PlannedOptions, PlannedTrial, result_of
from algoperf.harness._study import trial_directory
from algoperf.harness._sweep import Sweep, SweepResult, SweepTrial, groups

OUTPUT_LINES = 20
"""Lines of a dead child's output kept in the failed trial's error."""
_POLL_SEC = 0.2
_STARTUP_SEC = 600.0
"""The least time a child gets before its first event: importing a framework and building
the workload is not a trial making no progress, and takes minutes on a loaded machine."""
_THREAD_DUMP = re.compile(r"Thread 0x[0-9a-f]+ .*\(most recent call first\):")


def without_other_threads(lines: list[str]) -> list[str]:
    """Output with a crash dump's other threads and extension-module list left out.

    On a fatal signal, faulthandler prints every thread's stack (input prefetching, grain,
    torch) and the loaded extension modules; only the crashing thread's stack ("Current
    thread") says where the crash was, and the lines before the dump say what ran.
    """
    kept, skipping = [], False
    for line in lines:
        if _THREAD_DUMP.fullmatch(line):
            skipping = True
        elif skipping and not line.startswith("  "):
            skipping = False
        if not skipping and not line.startswith("Extension modules:"):
            kept.append(line)
    return kept


def default_timeout_sec(trial: SweepTrial) -> float:
    """Twice the trial's budget plus 30 minutes: evals, setup and compilation are untimed."""
    spec = trial.spec
    budget = get_workload_spec(spec.workload).max_runtime_sec(spec.rules_version, spec.ruleset)
    return 2 * budget + 1800


def run_isolated(
    trials: Iterable[SweepTrial],
    sweep: Sweep,
    on_result: Callable[[SweepResult], None] | None = None,
) -> list[SweepResult]:
    """Run the trials, each group in child processes, with the sweep's options."""
    results = []
    for group in groups(trials):
        results += _GroupSupervisor(group, sweep, on_result).run()
    return results


@dataclass
class _ChildExit:
    """How one child process ended."""

    returncode: int
    hung_after: float | None
    """The limit without progress it was killed at, if it was."""
    running: SweepTrial | None
    """The trial it had started and not ended."""
    output_from: int
    """Where in the log that trial's (or, if none started, the child's) output begins."""


@dataclass
class _GroupSupervisor:
    group: list[SweepTrial]
    sweep: Sweep
    on_result: Callable[[SweepResult], None] | None
    results: list[SweepResult] = field(default_factory=list)

    def __post_init__(self) -> None:
        spec = self.group[0].spec
        folder = self.sweep.experiment_dir / ".logs"
        folder.mkdir(parents=True, exist_ok=True)
        self.log = folder / f"{spec.submission}_{spec.workload}_{spec.framework.value}.log"
        self.timeout = self.sweep.trial_timeout_sec or max(map(default_timeout_sec, self.group))

    def run(self) -> list[SweepResult]:
        pending = {}
        for trial in self.group:  # no child is started for trials that completed before
            if (outcome := trial.completed()) is not None:
                self._report(SweepResult(trial, outcome, skipped=True))
            else:
                pending[trial.key] = trial
        while pending:
            ended = self._run_child(list(pending.values()), pending)
            if ended.running is not None:
                del pending[ended.running.key]
                self._report(self._record_failure(ended.running, self._reason(ended)))
            elif pending:  # died before it started a trial: the rest cannot start either
                reason = self._reason(ended)
                for trial in pending.values():
                    self._report(SweepResult(trial, None, error=reason))
                pending.clear()
        return self.results

    def _report(self, result: SweepResult) -> None:
        self.results.append(result)
        if self.on_result is not None:
            self.on_result(result)

    def _run_child(self, trials: list[SweepTrial], pending: dict[str, SweepTrial]) -> _ChildExit:
        """Run one child over `trials`, reporting their results; return how it ended."""
        with tempfile.TemporaryDirectory(prefix="algoperf-child.") as scratch:
            plan_file, events_file = Path(scratch) / "plan.json", Path(scratch) / "events.jsonl"
            events_file.touch()
            plan = ChildPlan(
                trials=[PlannedTrial.of(t) for t in trials],
                options=PlannedOptions.of(self.sweep.trial_options()),
                events=events_file,
            )
            plan_file.write_text(plan.model_dump_json())
            with open(self.log, "a") as log, open(events_file) as events:
                log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {len(trials)} trials\n")
                log.flush()
                running, output_from = None, log.tell()
                process = subprocess.Popen(
                    self._command(plan_file),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=os.environ | {"PYTHONUNBUFFERED": "1"},
                    start_new_session=True,  # its own process group, killed as a whole
                )
                try:
                    last_progress, hung_after = time.monotonic(), None
                    limit = max(self.timeout, _STARTUP_SEC)  # until its first event
                    while True:
                        returncode = _wait(process, _POLL_SEC)
                        for event in _new_events(events):
                            last_progress, limit = time.monotonic(), self.timeout
                            trial = pending.get(event["key"])
                            if trial is None:
                                continue
                            if event["event"] == "start":
                                running, output_from = trial, self.log.stat().st_size
                            else:
                                running = None
                                del pending[trial.key]
                                self._report(result_of(trial, event))
                        if returncode is not None:
                            break
                        if time.monotonic() - last_progress > limit:
                            hung_after = limit
                            _kill_group(process)
                finally:
                    _kill_group(process)  # also when this process is interrupted
            return _ChildExit(process.returncode, hung_after, running, output_from)

    def _command(self, plan_file: Path) -> list[str]:
        child = ["-m", "algoperf.harness._child", str(plan_file)]
        if self.sweep.nproc == 1:
            return [sys.executable, *child]
        launcher = ["-m", "torch.distributed.run", "--standalone"]
        return [sys.executable, *launcher, f"--nproc_per_node={self.sweep.nproc}", *child]

    def _reason(self, ended: _ChildExit) -> str:
        """Why the child ended, and the last lines of its output."""
        code = ended.returncode
        if ended.hung_after is not None:
            why = f"made no progress for {ended.hung_after:.0f} s and was killed (the limit: "
            if ended.hung_after == self.timeout:
                why += "trial_timeout_sec in the sweep file, or --trial-timeout)"
            else:
                why += "the time a child gets to start, which a trial timeout only raises)"
        elif code < 0:
            name = signal.Signals(-code).name
            hint = {
                "SIGKILL": " (the kernel's out-of-memory killer sends it)",
                "SIGSEGV": " (a crash in native code)",
            }.get(name, "")
            why = f"was killed by signal {name}{hint}"
        else:
            why = f"exited with code {code} before the trial ended"
        with open(self.log, errors="replace") as log:
            log.seek(ended.output_from)
            lines = without_other_threads(log.read().splitlines())[-OUTPUT_LINES:]
        output = "\n".join(f"  {line}" for line in lines) or "  (none)"
        return f"the trial's process {why}; its last output ({self.log}):\n{output}"

    def _record_failure(self, trial: SweepTrial, reason: str) -> SweepResult:
        """Record the trial its dead child was running as failed (unless another took it)."""
        directory = trial_directory(trial.experiment_dir, trial.spec)
        with TrialClaim(directory) as held:
            if not held:
                return SweepResult(trial, None)
            evals = read_evals(directory / EVALS_FILE)
            outcome = TrialOutcome(
                status=TrialStatus.FAILED,
                global_step=evals[-1].global_step if evals else 0,
                accumulated_submission_time=evals[-1].accumulated_submission_time if evals else 0,
                error=reason,
            )
            write_trial_file(directory, trial.spec, outcome)
            if not self.sweep.keep_checkpoints:
                delete_checkpoints(directory)
        return SweepResult(trial, outcome)


def _new_events(events: Any) -> list[dict[str, Any]]:
    """The complete lines appended since the last read (a partial line waits)."""
    found = []
    while True:
        position = events.tell()
        line = events.readline()
        if not line.endswith("\n"):
            events.seek(position)
            return found
        found.append(json.loads(line))


def _wait(process: subprocess.Popen, seconds: float) -> int | None:
    try:
        return process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None


def _kill_group(process: subprocess.Popen) -> None:
    """Kill the child and everything it started (torchrun's ranks); reap it."""
    with contextlib.suppress(ProcessLookupError):  # no process of the group is left
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()

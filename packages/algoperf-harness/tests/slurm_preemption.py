"""Preempt a submitit job in the middle of its trial (test_sweep); run as a child process.

`python slurm_preemption.py SWEEP_FILE`: submits the sweep's one trial, waits for its second
eval record, sends the job's task process the signal Slurm sends before preempting a job
(SIGUSR2, as submitit expects), and prints the outcome of the requeued job. (submitit's local
controller forwards only SIGTERM, so the signal goes to the task, found through /proc.)
"""

import os
import signal
import sys
import time
from pathlib import Path

from algoperf.harness import slurm
from algoperf.harness._study import trial_directory
from algoperf.harness._sweep import Sweep, expand_sweep

sweep = Sweep.from_file(sys.argv[1])
[trial] = expand_sweep(sweep)
[job] = slurm.submit([trial], sweep.trial_options(), sweep.slurm, sweep.experiment_dir / ".x")
evals = trial_directory(sweep.experiment_dir, trial.spec) / "evals.jsonl"
deadline = time.monotonic() + 120
while not (evals.exists() and len(evals.read_text().splitlines()) >= 2):
    if job.done() or time.monotonic() > deadline:
        sys.exit(f"the job ended or stalled before its second eval: {job.state}")
    time.sleep(0.05)
controller = job._process.pid
for task in Path(f"/proc/{controller}/task/{controller}/children").read_text().split():
    os.kill(int(task), signal.SIGUSR2)
print(job.result().outcome.status.value)

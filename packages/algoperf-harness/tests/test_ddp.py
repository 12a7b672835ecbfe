"""`algoperf run` under torchrun (2 gloo ranks) matches one process on the same global batch.

The ranks run through `ddp_rank.py` (the CLI, then `shutdown_distributed`), in their own
process group that the test kills if it fails or times out.
"""

import os
import sys
from pathlib import Path

from algoperf import api
from algoperf.baselines import search_space_path, submission_path
from algoperf.harness._cli import cli
from algoperf.workloads.testing import assert_fp32_close, run_checked

RANK_SCRIPT = Path(__file__).parent / "ddp_rank.py"
TIMEOUT_S = 300
# Ranks differ from one process only in the order of fp32 sums: the all-reduced gradients
# (batch 128 split in 2), and the eval metric sums (float64 across ranks, but each rank
# sums its own examples in fp32). The longest such sum is digits_mlp's eval batch.
REDUCTION = 256


def run(tmp_path, nproc):
    directory = tmp_path / f"nproc{nproc}"
    args = [
        "run",
        str(submission_path("adamw", "pytorch")),
        "--workload=digits_mlp",
        "--framework=pytorch",
        "--rules=dev",
        f"--search-space={search_space_path('adamw')}",
        "--studies=1",
        "--trials=1",
        "--max-steps=8",
        f"--experiment-dir={directory}",
    ]
    if nproc == 1:
        assert cli(args) == 0
    else:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        cmd = [*launcher, f"--nproc-per-node={nproc}", "--local-ranks-filter=0"]
        env = os.environ | {"OMP_NUM_THREADS": "1"}
        run_checked([*cmd, str(RANK_SCRIPT), *args], env=env, timeout_s=TIMEOUT_S)
    [trial] = directory.rglob("trial.json")
    return api.read_trial(trial.parent)


def test_two_gloo_ranks_match_one_process_on_the_same_global_batch(tmp_path):
    single, ddp = run(tmp_path, 1), run(tmp_path, 2)
    assert ddp.spec.hardware.device_count == 2
    assert ddp.outcome.global_step == single.outcome.global_step == 8
    # Only rank 0 wrote: one record per eval.
    steps = [e.global_step for e in ddp.evals]
    assert len(steps) == len(set(steps))
    # Evals after step 1 and at the end are certain; others depend on wall time.
    common = {e.global_step for e in single.evals} & set(steps)
    assert {1, 8} <= common
    by_step = {e.global_step: e.metrics for e in ddp.evals}
    for e in single.evals:
        if e.global_step in common:
            for name, value in e.metrics.items():
                actual = by_step[e.global_step][name]
                assert_fp32_close(actual, value, n=REDUCTION, name=f"{e.global_step}/{name}")

"""`algoperf run --nproc 2`: a PyTorch trial under torchrun (gloo) matches one process."""

import numpy as np
import pytest

from algoperf import api
from algoperf.baselines import search_space_path, submission_path
from algoperf.harness._cli import cli

pytestmark = pytest.mark.slow  # torchrun with 2 gloo ranks


def run(tmp_path, nproc):
    directory = tmp_path / f"nproc{nproc}"
    code = cli(
        [
            "run",
            str(submission_path("adamw", "pytorch")),
            "--workload=digits_mlp",
            "--framework=pytorch",
            "--rules=dev",
            f"--search-space={search_space_path('adamw')}",
            "--studies=1",
            "--trials=1",
            "--max-steps=8",
            f"--nproc={nproc}",
            f"--experiment-dir={directory}",
        ]
    )
    assert code == 0
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
            # Summation order differs across ranks (all-reduced gradients and metric sums).
            for name, value in e.metrics.items():
                np.testing.assert_allclose(by_step[e.global_step][name], value, rtol=1e-4)

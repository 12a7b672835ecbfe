"""`shutdown_distributed`: leaves the process group, safely twice or without one."""

import os
import sys

import torch.distributed as dist

from algoperf.workloads.testing import run_checked
from algoperf.workloads.torch_base import shutdown_distributed

# Two gloo ranks: all-reduce, then leave twice; a rank that aborts at exit fails torchrun.
TWO_RANKS = """
import torch, torch.distributed as dist
from algoperf.workloads.torch_base import init_distributed, shutdown_distributed
runtime = init_distributed()
total = torch.ones(1)
dist.all_reduce(total)
assert total.item() == runtime.world_size == 2
shutdown_distributed()
assert not dist.is_initialized()
shutdown_distributed()
"""


def test_shutdown_destroys_the_group_and_is_safe_to_repeat(tmp_path):
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    try:
        shutdown_distributed()
        assert not dist.is_initialized()
        shutdown_distributed()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_shutdown_without_a_group_does_nothing():
    assert not dist.is_initialized()
    shutdown_distributed()
    assert not dist.is_initialized()


def test_two_ranks_leave_cleanly(tmp_path):
    script = tmp_path / "two_ranks.py"
    script.write_text(TWO_RANKS)
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    run_checked([*launcher, "--nproc-per-node=2", str(script)], env=env, timeout_s=120)

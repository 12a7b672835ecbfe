"""The shared train step normalises the loss by the GLOBAL number of valid examples.

Three NAdamW `update_params` steps (`workers/baseline_steps.py`) on the same global batches,
masked so that devices / ranks hold different numbers of valid examples, give the same
parameters and the same logged loss and gradient norm on 1 vs 8 virtual CPU devices (JAX) and
1 process vs 2 gloo processes under torchrun (PyTorch). A per-device mean (averaged over
devices) would weight the examples differently; a wrongly scaled gradient shows in the logged
gradient norm (Adam's update alone is nearly scale-free). The single-device side runs in this
process while both multi-device sides run in subprocesses, started together at the beginning
of the module; a failing subprocess fails its test.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from algoperf.workloads.testing import assert_fp32_close, started

WORKERS = Path(__file__).parent / "workers"
# Only the order of fp32 sums differs between device counts. The loss, the gradients and so
# the parameters come from sums of at most 128 terms (digits_mlp's hidden width; the batch is
# 64); the logged gradient norm sums the squares of every gradient element. Parameters are
# compared in the 2-norm: Adam divides each gradient element by its own magnitude, so the
# few elements whose gradient cancels to nearly zero move by more than the sums' rounding
# (up to ~40 eps of the tensor's largest element after 3 steps). A wrong normalisation
# changes every element's gradient by a sizeable fraction, which either norm shows.
REDUCTION = 128
TIMEOUT_S = 300


class Worker:
    """A multi-device worker running in the background; `result()` waits for its file."""

    def __init__(self, process: subprocess.Popen, out: Path) -> None:
        self.process = process
        self.out = out

    def result(self) -> dict[str, np.ndarray]:
        rc = self.process.wait(timeout=TIMEOUT_S)
        assert rc == 0, f"worker failed with exit status {rc}"
        return dict(np.load(self.out))


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    """Both subprocesses, started at once so they overlap the in-process halves.

    Each runs in its own process group (torchrun's ranks included), killed when the module's
    tests end, whether they passed, failed or timed out.
    """
    out = tmp_path_factory.mktemp("devices")
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    jax_env = env | {
        "XLA_FLAGS": "--xla_force_host_platform_device_count=8",
        "JAX_PLATFORMS": "cpu",
    }
    jax_cmd = [sys.executable, str(WORKERS / "jax_steps.py"), str(out)]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    torch_cmd = [*launcher, "--nproc-per-node=2", str(WORKERS / "torch_steps.py"), str(out)]
    with contextlib.ExitStack() as stack:
        yield {
            "jax": Worker(stack.enter_context(started(jax_cmd, jax_env)), out / "jax_8.npz"),
            "pytorch": Worker(stack.enter_context(started(torch_cmd, env)), out / "torch_2.npz"),
        }


def _in_process(worker: str) -> dict[str, np.ndarray]:
    """`compute()` of a worker script, run in this process."""
    spec = importlib.util.spec_from_file_location(f"baselines_{worker}", WORKERS / f"{worker}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.compute()


def _assert_same(one: dict, many: dict, counts: tuple[int, int]) -> None:
    assert (int(one.pop("devices")), int(many.pop("devices"))) == counts
    assert set(one) == set(many)
    assert len([k for k in one if k.startswith("param/")]) == 6  # 3 dense layers
    # Logged at every step (global steps 0, 100, 200), finite.
    assert sorted(k for k in one if not k.startswith("param/")) == sorted(
        f"{name}/{step}" for name in ("loss", "grad_norm") for step in (0, 100, 200)
    )
    n_params = sum(one[k].size for k in one if k.startswith("param/"))
    for key in one:
        assert np.all(np.isfinite(one[key])), key
        if key.startswith("param/"):
            assert_fp32_close(many[key], one[key], n=REDUCTION, name=key, ord=2)
        else:
            n = n_params if key.startswith("grad_norm/") else REDUCTION
            assert_fp32_close(many[key], one[key], n=n, name=key)


def test_jax_nadamw_one_vs_eight_devices(workers) -> None:
    one = _in_process("jax_steps")
    _assert_same(one, workers["jax"].result(), counts=(1, 8))


def test_pytorch_nadamw_one_vs_two_processes(workers) -> None:
    one = _in_process("torch_steps")
    _assert_same(one, workers["pytorch"].result(), counts=(1, 2))

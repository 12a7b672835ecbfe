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

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # subprocesses: see the module docstring

WORKERS = Path(__file__).parent / "workers"
# Only the reduction order differs between device counts (fp32). Logged loss and gradient
# norm within rtol 1e-5. Parameters also within atol 1e-5 (1e-3 of the learning rate): Adam
# divides a gradient component by its own magnitude, so where the gradient is nearly zero the
# reduction-order noise moves an element by up to ~2e-6 after 3 steps. A wrong normalisation
# moves elements by a sizeable fraction of the learning rate.
METRIC_TOL = {"rtol": 1e-5, "atol": 0.0}
PARAM_TOL = {"rtol": 1e-5, "atol": 1e-5}
TIMEOUT_S = 300


class Worker:
    """A multi-device worker running in the background; `result()` waits for its file."""

    def __init__(self, cmd: list[str], env_update: dict[str, str], out: Path) -> None:
        env = os.environ | {"OMP_NUM_THREADS": "1"} | env_update
        self.out = out
        self.process = subprocess.Popen(cmd, env=env)

    def result(self) -> dict[str, np.ndarray]:
        try:
            rc = self.process.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        assert rc == 0, f"worker failed with exit status {rc}"
        return dict(np.load(self.out))


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    """Both subprocesses, started at once so they overlap the in-process halves."""
    out = tmp_path_factory.mktemp("devices")
    flags = "--xla_force_host_platform_device_count=8"
    jax_cmd = [sys.executable, str(WORKERS / "jax_steps.py"), str(out)]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    torch_cmd = [*launcher, "--nproc-per-node=2", str(WORKERS / "torch_steps.py"), str(out)]
    started = {
        "jax": Worker(jax_cmd, {"XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu"}, out / "jax_8.npz"),
        "pytorch": Worker(torch_cmd, {}, out / "torch_2.npz"),
    }
    yield started
    for worker in started.values():
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait()


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
    for key in one:
        assert np.all(np.isfinite(one[key])), key
        tol = PARAM_TOL if key.startswith("param/") else METRIC_TOL
        np.testing.assert_allclose(many[key], one[key], **tol, err_msg=key)


def test_jax_nadamw_one_vs_eight_devices(workers) -> None:
    one = _in_process("jax_steps")
    _assert_same(one, workers["jax"].result(), counts=(1, 8))


def test_pytorch_nadamw_one_vs_two_processes(workers) -> None:
    one = _in_process("torch_steps")
    _assert_same(one, workers["pytorch"].result(), counts=(1, 2))

"""Device-count equivalence: 1 vs 8 virtual CPU devices (JAX), 1 vs 2 gloo processes (PyTorch).

The single-device side runs in this process (one CPU device, no process group); the other in
a subprocess, since JAX fixes its device count at start-up and DDP needs a process group. A
failing subprocess fails the test.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from algoperf.workloads.cifar.param_map import PARAM_MAPS as CIFAR_MAPS
from algoperf.workloads.criteo1tb.param_map import PARAM_MAPS as CRITEO_MAPS
from algoperf.workloads.digits.param_map import PARAM_MAPS as DIGITS_MAPS
from algoperf.workloads.mnist.param_map import PARAM_MAPS as MNIST_MAPS
from algoperf.workloads.ogbg.param_map import PARAM_MAPS as OGBG_MAPS

WORKERS = Path(__file__).parent / "workers"
sys.path.insert(0, str(WORKERS))
from cases import CASES  # noqa: E402

pytestmark = pytest.mark.slow  # subprocesses: see the module docstring

PARAM_MAPS = (DIGITS_MAPS, OGBG_MAPS, CRITEO_MAPS, MNIST_MAPS, CIFAR_MAPS)
# Only the reduction order differs between device counts.
TOL = {"rtol": 1e-5, "atol": 1e-6}
# Average precision ranks scores: rounding can swap two near-equal logits of an untrained
# model, moving the mean AP by ~1e-5.
MAP_TOL = {"rtol": 0.0, "atol": 1e-4}


def _run(cmd, env_update):
    env = os.environ | {"OMP_NUM_THREADS": "1"} | env_update
    subprocess.run(cmd, env=env, check=True, timeout=300)


def _in_process(worker):
    """`compute()` of a worker script, run in this process."""
    spec = importlib.util.spec_from_file_location(worker, WORKERS / f"{worker}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.compute()


@pytest.fixture(scope="module")
def jax_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("jax")
    script = str(WORKERS / "jax_grads.py")
    flags = "--xla_force_host_platform_device_count=8"
    _run([sys.executable, script, str(out)], {"XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu"})
    return _in_process("jax_grads"), dict(np.load(out / "jax_8.npz"))


@pytest.fixture(scope="module")
def torch_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("torch")
    script = str(WORKERS / "torch_grads.py")
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    _run([*launcher, "--nproc-per-node=2", script, str(out)], {})
    return _in_process("torch_grads"), dict(np.load(out / "torch_2.npz"))


def _assert_same(one, many, counts):
    assert (int(one.pop("devices")), int(many.pop("devices"))) == counts
    assert set(one) == set(many)
    expected = sum(len(maps[name]) for maps in PARAM_MAPS for name in CASES if name in maps)
    assert len([k for k in one if "/grad/" in k]) == expected
    for key in one:
        tol = MAP_TOL if key.endswith("mean_average_precision") else TOL
        np.testing.assert_allclose(many[key], one[key], **tol, err_msg=key)


def test_jax_one_vs_eight_devices(jax_results):
    _assert_same(*jax_results, counts=(1, 8))


def test_pytorch_one_vs_two_processes(torch_results):
    _assert_same(*torch_results, counts=(1, 2))

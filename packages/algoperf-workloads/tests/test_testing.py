"""The shared test helpers: fp32 comparisons fail on real errors, subprocesses are killed."""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from algoperf.workloads.testing import (
    FP32_EPS,
    assert_fp32_close,
    assert_trees_fp32_close,
    fp32_tolerance,
    run_checked,
    started,
)


def _gradient_like(n, seed=0):
    """A (256, 256) fp32 tensor of sums of `n` mixed-sign terms, some near zero."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((256, 256)).astype(np.float32) * np.sqrt(n)


def test_reordered_fp32_sums_pass():
    terms = np.random.default_rng(0).standard_normal((4096, 64)).astype(np.float32)
    forward = terms.sum(axis=0, dtype=np.float32)
    backward = terms[::-1].cumsum(axis=0, dtype=np.float32)[-1]  # sequential, other order
    assert_fp32_close(backward, forward, n=4096)


def test_tolerance_grows_as_sqrt_n_and_stays_below_real_errors():
    assert fp32_tolerance(4) == pytest.approx(2 * fp32_tolerance(1))
    assert fp32_tolerance(1) > FP32_EPS
    assert fp32_tolerance(2**17) < 1e-3  # the largest reductions the suites compare


@pytest.mark.parametrize("n", [64, 4096, 50_000])
def test_a_1e3_relative_error_fails(n):
    expected = _gradient_like(n)
    with pytest.raises(AssertionError, match="norm"):
        assert_fp32_close(expected * (1 + 1e-3), expected, n=n, name="scaled")
    wrong = expected.copy()
    wrong.flat[np.argmax(np.abs(wrong))] *= 1 + 1e-3  # one element
    with pytest.raises(AssertionError, match="norm"):
        assert_fp32_close(wrong, expected, n=n, name="one element")


def test_small_elements_are_measured_against_the_tensor_scale():
    expected = np.array([1.0, 1e-6], np.float32)
    actual = np.array([1.0, 2e-6], np.float32)  # 100 % off elementwise, 1e-6 of the scale
    assert_fp32_close(actual, expected, n=64)


def test_zeros_nonfinite_and_shapes():
    assert_fp32_close(np.zeros(3), np.zeros(3), n=8)
    with pytest.raises(AssertionError):
        assert_fp32_close(np.array([0.0, 1e-9]), np.zeros(2), n=8)
    assert_fp32_close(np.array([np.inf, 1.0]), np.array([np.inf, 1.0]), n=8)
    with pytest.raises(AssertionError, match="non-finite"):
        assert_fp32_close(np.array([np.nan, 1.0]), np.array([0.0, 1.0]), n=8)
    with pytest.raises(AssertionError, match="shapes"):
        assert_fp32_close(np.zeros(2), np.zeros(3), n=8)


def test_trees_need_the_same_keys():
    assert_trees_fp32_close({"a": np.ones(2)}, {"a": np.ones(2)}, n=8)
    with pytest.raises(AssertionError):
        assert_trees_fp32_close({"a": np.ones(2)}, {"b": np.ones(2)}, n=8)


def test_run_checked_raises_on_failure_and_kills_on_timeout():
    with pytest.raises(subprocess.CalledProcessError):
        run_checked([sys.executable, "-c", "raise SystemExit(3)"], timeout_s=60)
    start = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        run_checked([sys.executable, "-c", "import time; time.sleep(60)"], timeout_s=1)
    assert time.monotonic() - start < 30


def _alive(pid):
    """Whether `pid` runs (a zombie waiting for its reaper counts as dead)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_started_kills_the_whole_process_group(tmp_path):
    # The child starts a grandchild (as torchrun starts ranks) and exits at once.
    pid_file = tmp_path / "pid"
    code = (
        "import subprocess, sys; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))"
    )
    with started([sys.executable, "-c", code]) as process:
        process.wait(timeout=60)
        grandchild = int(pid_file.read_text())
        assert _alive(grandchild)
    deadline = time.monotonic() + 10
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(grandchild)


def test_two_norm_tolerates_one_ill_conditioned_element_but_not_a_scale_error():
    expected = _gradient_like(64)
    actual = expected.copy()
    actual.flat[0] += 40 * FP32_EPS * np.max(np.abs(expected))  # Adam on a near-zero gradient
    assert_fp32_close(actual, expected, n=64, ord=2)
    with pytest.raises(AssertionError, match="norm"):
        assert_fp32_close(actual * (1 + 1e-3), expected, n=64, ord=2)


def test_deeper_chains_get_proportionally_more_room_but_not_for_real_errors():
    assert fp32_tolerance(1024, layers=14) == pytest.approx(14 * fp32_tolerance(1024))
    expected = _gradient_like(1024)
    with pytest.raises(AssertionError, match="norm"):
        assert_fp32_close(expected * (1 + 1e-3), expected, n=1024, layers=14)

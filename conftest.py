"""Test-session setup shared by every package's tests."""

import os

import pytest

# The test models are tiny: one intra-op thread is fastest, and several threads per process
# contend on a 2-core CI machine (PyTorch steps ran 10-30x slower under contention).
os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep each test file on one xdist worker (`--dist loadgroup`).

    Module-scoped fixtures (compiled models, subprocess results) are then built once; a test's
    own `xdist_group` mark (the contract suite's per-workload groups) takes precedence.
    """
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))

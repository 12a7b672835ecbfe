"""The forked reader: results come back in order, a failed child's blocks are read again
here, and no child outlives a failure. Each check runs in a fresh interpreter (workers/)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CHECKS = Path(__file__).parent / "workers" / "forked_checks.py"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork: Linux only")


def _check(name: str, *args: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(CHECKS), name, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    "name",
    ["result_comes_back", "failed_child_gives_none", "close_stops_a_running_child", "map_in_order"],
)
def test_forked(name):
    _check(name)


@pytest.mark.parametrize(
    "name",
    [
        "workers_read_the_same",
        "failed_child_blocks_are_read_here",
        "no_child_outlives_a_failure",
        "bootstrap_same_in_two_processes",
        "one_worker_forks_nothing",
    ],
)
def test_shared_with_a_child(name, messy_reference):
    _check(name, messy_reference)

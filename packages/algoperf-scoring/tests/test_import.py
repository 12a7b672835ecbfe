"""`import algoperf.scoring` stays light: no deep-learning framework, no matplotlib."""

import subprocess
import sys

import pytest

import algoperf.scoring

HEAVY = ("jax", "flax", "torch", "tensorflow", "matplotlib")


@pytest.mark.slow
def test_import_leaves_frameworks_out():
    code = f"import sys, algoperf.scoring; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_public_names_are_exported():
    for name in algoperf.scoring.__all__:
        assert getattr(algoperf.scoring, name) is not None
    assert algoperf.scoring.__version__

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


@pytest.mark.slow
def test_the_cli_imports_only_what_a_report_needs():
    lazy = ("matplotlib", "pandas", "scipy")
    code = (
        f"import sys, algoperf.scoring._cli; print(sorted(m for m in {lazy!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"

"""The README's training loops, run as written: each workload reaches its validation target.

This is the "under a minute on a CPU" check, counted in steps rather than seconds: Adam at
lr 3e-3 and batch 128 must reach the target within `MAX_STEPS` (evals every 25 steps).
"""

import re
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"
MAX_STEPS = 250


@pytest.fixture(scope="module")
def readme_functions():
    """The functions defined by the README's python blocks."""
    namespace = {}
    for block in re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S):
        exec(compile(block, str(README), "exec"), namespace)
    return namespace


@pytest.mark.parametrize(
    "loop", [pytest.param("train_jax", marks=pytest.mark.slow), "train_pytorch"]
)
@pytest.mark.parametrize("name", ["digits_mlp", "digits_cnn"])
def test_readme_loop_reaches_the_validation_target(readme_functions, loop, name):
    steps = readme_functions[loop](name, max_steps=MAX_STEPS)
    assert steps is not None, f"{name} did not reach its target in {MAX_STEPS} steps"
    print(f"{loop} {name}: target reached at step {steps}")

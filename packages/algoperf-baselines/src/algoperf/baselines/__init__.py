"""AlgoPerf baseline submissions in JAX and PyTorch, with their search spaces.

Importing this package imports neither framework: it only finds files. Load a baseline with
`algoperf.api.load_submission(submission_path('nadamw', 'jax'))` and its search space with
`algoperf.api.load_search_space(search_space_path('nadamw'))`.
"""

from importlib.metadata import version as _version

from algoperf.baselines._catalog import (
    BASELINES,
    BaselineInfo,
    baseline_names,
    get_baseline,
    search_space_path,
    submission_path,
)
from algoperf.baselines._common import NADAMW_SELF_TUNING

__version__ = _version("algoperf-baselines")

__all__ = (
    "BASELINES",
    "NADAMW_SELF_TUNING",
    "BaselineInfo",
    "baseline_names",
    "get_baseline",
    "search_space_path",
    "submission_path",
)

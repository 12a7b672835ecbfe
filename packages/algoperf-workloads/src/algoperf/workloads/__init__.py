"""The AlgoPerf workload zoo: data pipelines, JAX and PyTorch models, losses and metrics.

Importing this package imports neither JAX nor PyTorch; `get_workload` imports the requested
framework's implementation only.
"""

from algoperf.workloads._zoo import (
    IMPLEMENTATIONS,
    FrameworkNotInstalledError,
    Implementation,
    get_workload,
    implemented_workloads,
)

__all__ = (
    "IMPLEMENTATIONS",
    "FrameworkNotInstalledError",
    "Implementation",
    "get_workload",
    "implemented_workloads",
)

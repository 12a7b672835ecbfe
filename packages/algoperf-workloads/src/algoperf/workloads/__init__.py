"""The AlgoPerf workload zoo: data pipelines, JAX and PyTorch models, losses and metrics.

Framework code lives in `jax_*.py` / `torch_*.py` modules imported lazily, so importing
this package pulls in neither framework.
"""

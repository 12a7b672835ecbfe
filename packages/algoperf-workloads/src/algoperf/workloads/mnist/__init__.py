"""mnist (dev): MNIST digits with a one-hidden-layer sigmoid MLP.

`data` and `workload` are numpy only; the models and workloads live in `jax_*` / `torch_*`.
This module imports no framework.
"""

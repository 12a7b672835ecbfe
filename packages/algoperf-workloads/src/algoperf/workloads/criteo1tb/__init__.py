"""criteo1tb: click-through-rate prediction on Criteo 1TB with DLRM-small and its variants.

`config`, `data` and `workload` are numpy only; the models and workloads live in
`jax_*` / `torch_*`. This module imports no framework.
"""

"""ogbg: multi-task molecular property prediction on ogbg-molpcba with a GraphNet GNN.

`graphs` (padded graph batching), `data`, `config` and `metrics` are numpy only; the models and
workloads live in `jax_*` / `torch_*`. This module imports no framework.
"""

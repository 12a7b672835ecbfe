"""cifar (dev): CIFAR-10 with a ResNet-18 (CIFAR stem) and batch norm.

`config`, `data` (augmentation included) and `workload` are numpy only; the models and
workloads live in `jax_*` / `torch_*`. This module imports no framework.
"""

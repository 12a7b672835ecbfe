"""imagenet_vit: ViT-S/16 on ImageNet, and its GLU, post-LN and MAP-head variants.

`config` and `workload` are numpy only; the models and workloads live in `jax_*` / `torch_*`.
This module imports no framework.
"""

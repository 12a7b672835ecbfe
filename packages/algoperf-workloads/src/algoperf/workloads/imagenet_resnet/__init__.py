"""imagenet_resnet: ResNet-50 v1 on ImageNet, and its SiLU, GELU and large-BN-init variants.

`config` and `workload` are numpy only; the models and workloads live in `jax_*` / `torch_*`.
This module imports no framework.
"""

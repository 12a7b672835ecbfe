"""imagenet: what the ImageNet workloads (imagenet_resnet, imagenet_vit) share.

`preprocessing` (JPEG decoding, crops), `randaugment`, `data` (splits, mixup, the TFDS JPEG
reader, synthetic data) and `workload` are numpy only (decoding needs the `imagenet` extra,
imported on first use); `jax_workload` / `torch_workload` hold the loss of integer or mixed
labels. This module imports no framework.
"""

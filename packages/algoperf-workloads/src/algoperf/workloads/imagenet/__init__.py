"""imagenet: the preprocessing shared by the ImageNet workloads (ResNet-50, ViT).

`preprocessing` is numpy only (JPEG decoding and resizing need the `imagenet` extra, imported
on first use). This module imports no framework.
"""

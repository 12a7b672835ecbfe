"""The framework-neutral half of the imagenet_vit workloads."""

from __future__ import annotations

from algoperf.workloads.imagenet import data
from algoperf.workloads.imagenet.workload import ImagenetBase
from algoperf.workloads.imagenet_vit.config import CONFIGS


class ImagenetVitBase(ImagenetBase):
    """ViT-S/16 configurations; training adds RandAugment and mixup to the crop and flip."""

    configs = CONFIGS
    augmentation = data.VIT
    default_dropout_rate = 0.0

"""The framework-neutral half of the imagenet_resnet workloads."""

from __future__ import annotations

from algoperf.workloads.imagenet import data
from algoperf.workloads.imagenet.workload import ImagenetBase
from algoperf.workloads.imagenet_resnet.config import CONFIGS


class ImagenetResnetBase(ImagenetBase):
    """ResNet-50 configurations; crop and flip only (no RandAugment, no mixup)."""

    configs = CONFIGS
    augmentation = data.RESNET
    default_dropout_rate = None  # the ResNet has no dropout

"""The framework-neutral half of the cifar workload: data and configuration."""

from __future__ import annotations

from algoperf.workloads._base import NumpyDataWorkload
from algoperf.workloads._data import ArrayDataset
from algoperf.workloads.cifar import data
from algoperf.workloads.cifar.config import CONFIGS, ResNetConfig


class CifarBase(NumpyDataWorkload):
    """cifar's data and model configuration; mixed into the framework halves."""

    output_layer = "head"
    default_data_workers = 2
    """Augmentation (pad, crop, flip) and normalisation run in two grain workers."""
    default_dropout_rate = None  # the ResNet has no dropout

    @property
    def config(self) -> ResNetConfig:
        """This workload's model configuration."""
        return CONFIGS[self.name]

    def load_dataset(self, data_dir: str | None) -> ArrayDataset:
        """Synthetic images, or TFDS `cifar10:3.0.2` from `data_dir`."""
        if self.synthetic:
            return data.synthetic()
        return data.load(data_dir)

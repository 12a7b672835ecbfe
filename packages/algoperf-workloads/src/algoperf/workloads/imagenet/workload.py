"""The framework-neutral half of the ImageNet workloads: data, input size, model configuration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from algoperf.api import RuleVersion, WorkloadSpec
from algoperf.workloads._base import NumpyDataWorkload
from algoperf.workloads._data import Dataset
from algoperf.workloads.imagenet import data
from algoperf.workloads.imagenet.preprocessing import IMAGE_SIZE


class ImagenetBase(NumpyDataWorkload):
    """ImageNet data and a model configuration per workload name; mixed into framework halves.

    Options beside the base's: `image_size` (input side in pixels, 224 for the benchmark) and
    `model_config` (a configuration of the model class instead of the workload's), which
    only tests and benchmarks change: a smaller model or input keeps a CPU check quick.
    """

    default_data_workers = 8
    """JPEG decoding and augmentation run in 8 worker processes per training process
    (`benchmarks/input_pipeline.py` measures the rate one worker sustains)."""
    eval_in_workers = True
    """Eval batches decode JPEGs too, which pays for starting the workers."""
    configs: ClassVar[Mapping[str, Any]]
    """Workload name to its model configuration."""
    augmentation: ClassVar[data.Augmentation] = data.RESNET

    def __init__(
        self,
        spec: WorkloadSpec,
        rules: str | RuleVersion | None = None,
        *,
        image_size: int = IMAGE_SIZE,
        model_config: Any = None,
        **options: Any,
    ) -> None:
        if image_size < 1:
            raise ValueError(f"image_size must be positive, got {image_size}")
        self.image_size = image_size
        """Input images are (image_size, image_size, 3)."""
        self.config = self.configs[spec.name] if model_config is None else model_config
        """This workload's model configuration."""
        super().__init__(spec, rules, **options)

    def load_dataset(self, data_dir: str | None) -> Dataset:
        """Synthetic images, or TFDS ImageNet (and ImageNet-v2) from `data_dir`."""
        if self.synthetic:
            return data.synthetic(self.image_size, self.augmentation)
        return data.load(data_dir, self.image_size, self.augmentation)

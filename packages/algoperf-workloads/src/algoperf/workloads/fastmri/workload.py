"""The framework-neutral half of the fastmri workloads: data, options and the eval loop."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
from typing import Any

from algoperf.api import RuleVersion, WorkloadSpec
from algoperf.workloads._base import NumpyDataWorkload
from algoperf.workloads._data import Dataset, NumpyBatch
from algoperf.workloads._metrics import MetricSums, add_sums, mean_of_sums
from algoperf.workloads.fastmri import data
from algoperf.workloads.fastmri.config import CONFIGS, IMAGE_SIZE, UNetConfig


class FastMRIBase(NumpyDataWorkload):
    """fastmri and its variants (chosen by the spec's name); mixed into the framework halves.

    Options beside `NumpyDataWorkload`'s: `model_config` (another U-Net configuration, or
    its fields as a mapping, e.g. a reduced one for CPU tests) and `image_size` (synthetic
    images of that side instead of 320; real data is always 320 x 320).
    """

    default_data_workers = 4
    """Reading a slice and its inverse FFT take about 10 ms; four workers keep up with a GPU."""
    eval_in_workers = True
    """Eval slices are read and transformed in the workers too (3,554 slices per split)."""

    def __init__(
        self,
        spec: WorkloadSpec,
        rules: str | RuleVersion | None = None,
        *,
        model_config: UNetConfig | Mapping[str, Any] | None = None,
        image_size: int = IMAGE_SIZE,
        **options: Any,
    ) -> None:
        if isinstance(model_config, Mapping):  # plain data, e.g. from a test's case table
            model_config = UNetConfig(**model_config)
        self._model_config = model_config
        if image_size < 2:
            raise ValueError(f"image_size must be at least 2, got {image_size}")
        self.image_size = image_size
        """Side of the (square) images."""
        super().__init__(spec, rules, **options)
        if image_size != IMAGE_SIZE and not self.synthetic:
            raise ValueError(
                f"{self.name}: image_size={image_size} needs synthetic=True; the fastMRI data "
                f"is {IMAGE_SIZE} x {IMAGE_SIZE}"
            )

    @property
    def config(self) -> UNetConfig:
        """This workload's model configuration (or the one it was built with)."""
        return self._model_config or CONFIGS[self.name]

    def load_dataset(self, data_dir: str | None) -> Dataset:
        """Synthetic images, or the knee single-coil volumes under `data_dir` (needs h5py).

        Raises:
            ValueError: if real data is asked for without a `data_dir`.
        """
        if self.synthetic:
            return data.synthetic(self.image_size)
        if data_dir is None:
            raise ValueError(
                f"{self.name} needs data_dir: the folder holding {data.TRAIN_DIR}/ and "
                f"{data.VAL_DIR}/ (prepare it with: algoperf-datasets prepare fastmri "
                "--data-dir D --manual-dir DIR_OF_THE_DOWNLOADS)"
            )
        return data.FastMRIDataset(data_dir)

    @abc.abstractmethod
    def eval_sums(self, params: Any, model_state: Any, batch: NumpyBatch) -> MetricSums:
        """Weighted sums of SSIM and loss over a global batch, computed on the device(s)."""

    def split_metrics(
        self, params: Any, model_state: Any, batches: Iterable[NumpyBatch]
    ) -> dict[str, float]:
        """Mean SSIM and loss of a split: device sums added over batches and processes."""
        total: MetricSums = {}
        for batch in batches:
            total = add_sums(total, self.eval_sums(params, model_state, batch))
        return mean_of_sums(self.sum_over_processes(total))

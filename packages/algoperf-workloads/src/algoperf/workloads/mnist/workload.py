"""The framework-neutral half of the mnist workload: its data."""

from __future__ import annotations

from algoperf.workloads._base import NumpyDataWorkload
from algoperf.workloads._data import ArrayDataset
from algoperf.workloads.mnist import data


class MnistBase(NumpyDataWorkload):
    """mnist's data; mixed into the framework halves."""

    output_layer = "head"

    def load_dataset(self, data_dir: str | None) -> ArrayDataset:
        """Synthetic images, or TFDS `mnist` from `data_dir`."""
        if self.synthetic:
            return data.synthetic()
        return data.load(data_dir)

"""The digits workloads in PyTorch."""

from __future__ import annotations

from torch import nn

from algoperf.workloads._data import ArrayDataset
from algoperf.workloads.digits import data, torch_model
from algoperf.workloads.torch_base import TorchClassificationWorkload


class DigitsWorkload(TorchClassificationWorkload):
    """`digits_mlp` or `digits_cnn`, chosen by the spec's name."""

    def load_dataset(self, data_dir: str | None) -> ArrayDataset:
        """The bundled digits; `data_dir` is unused."""
        del data_dir
        return data.load(synthetic=self.synthetic)

    def build_model(self) -> nn.Module:
        """The workload's PyTorch model."""
        return torch_model.MODELS[self.name]()

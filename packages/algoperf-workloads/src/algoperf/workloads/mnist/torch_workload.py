"""The mnist workload in PyTorch."""

from __future__ import annotations

from torch import nn

from algoperf.workloads.mnist import torch_model
from algoperf.workloads.mnist.workload import MnistBase
from algoperf.workloads.torch_base import TorchClassificationWorkload


class MnistWorkload(MnistBase, TorchClassificationWorkload):
    """mnist: a sigmoid MLP on MNIST."""

    def build_model(self) -> nn.Module:
        """The MLP."""
        return torch_model.MLP()

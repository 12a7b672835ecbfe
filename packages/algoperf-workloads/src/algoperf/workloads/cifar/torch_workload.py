"""The cifar workload in PyTorch: the running statistics live in the module, as buffers."""

from __future__ import annotations

from types import MappingProxyType

from torch import nn

from algoperf.workloads.cifar import torch_model
from algoperf.workloads.cifar.workload import CifarBase
from algoperf.workloads.torch_base import TorchClassificationWorkload
from algoperf.workloads.torch_params import BATCH_NORM


class CifarWorkload(CifarBase, TorchClassificationWorkload):
    """cifar: ResNet-18 on CIFAR-10; the model state is None (statistics are module buffers)."""

    takes_update_batch_norm = True
    param_type_rules = MappingProxyType({torch_model.BatchNorm: BATCH_NORM})

    def build_model(self) -> nn.Module:
        """The configured ResNet."""
        return torch_model.ResNet(self.config)

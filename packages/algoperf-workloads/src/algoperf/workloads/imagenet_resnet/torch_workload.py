"""The imagenet_resnet workloads in PyTorch: running statistics are module buffers."""

from __future__ import annotations

from types import MappingProxyType

from torch import nn

from algoperf.workloads.cifar.torch_model import BatchNorm
from algoperf.workloads.imagenet.torch_workload import ImagenetTorchWorkload
from algoperf.workloads.imagenet_resnet import torch_model
from algoperf.workloads.imagenet_resnet.workload import ImagenetResnetBase
from algoperf.workloads.torch_params import BATCH_NORM


class ImagenetResnetWorkload(ImagenetResnetBase, ImagenetTorchWorkload):
    """imagenet_resnet and its variants, chosen by the spec's name."""

    output_layer = "fc"
    takes_update_batch_norm = True
    param_type_rules = MappingProxyType({BatchNorm: BATCH_NORM})

    def build_model(self) -> nn.Module:
        """The configured ResNet."""
        return torch_model.ResNet(self.config)

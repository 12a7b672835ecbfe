"""The cifar workload in PyTorch: the running statistics live in the module, as buffers."""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from algoperf.api import ForwardPassMode, ParameterType
from algoperf.workloads._data import seed_from_rng
from algoperf.workloads.cifar import torch_model
from algoperf.workloads.cifar.workload import CifarBase
from algoperf.workloads.torch_base import TorchClassificationWorkload

_MODULE_PARAM_TYPES: dict[type[nn.Module], dict[str, ParameterType]] = {
    nn.Conv2d: {"weight": ParameterType.CONV_WEIGHT},
    torch_model.BatchNorm: {
        "weight": ParameterType.BATCH_NORM_SCALE,
        "bias": ParameterType.BATCH_NORM_BIAS,
    },
    nn.Linear: {"weight": ParameterType.WEIGHT, "bias": ParameterType.BIAS},
}


def resnet_param_types(model: nn.Module) -> dict[str, ParameterType]:
    """`ParameterType` per parameter name, by the type of the module that owns it."""
    return {
        f"{prefix}.{name}" if prefix else name: _MODULE_PARAM_TYPES[type(module)][name]
        for prefix, module in model.named_modules()
        for name, _ in module.named_parameters(recurse=False)
    }


class CifarWorkload(CifarBase, TorchClassificationWorkload):
    """cifar: ResNet-18 on CIFAR-10; the model state is None (statistics are module buffers)."""

    def build_model(self) -> nn.Module:
        """The configured ResNet."""
        return torch_model.ResNet(self.config)

    def init_model_fn(self, rng: Any) -> tuple[nn.Module, None]:
        """The model seeded from `rng` (same on every rank), on this rank's device."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed_from_rng(rng))
            model = self.build_model()
        self._param_shapes = {k: tuple(p.shape) for k, p in model.named_parameters()}
        self._param_types = resnet_param_types(model)
        model.to(self.runtime.device)
        if self.runtime.world_size > 1:
            ids = [self.runtime.device.index] if self.runtime.device.type == "cuda" else None
            model = DistributedDataParallel(model, device_ids=ids)
        return model, None

    def model_fn(
        self,
        params: nn.Module,
        augmented_and_preprocessed_input_batch: Any,
        model_state: Any,
        mode: ForwardPassMode,
        rng: Any,
        update_batch_norm: bool,
        dropout_rate: float | None = None,
    ) -> tuple[torch.Tensor, Any]:
        """Logits (see `Workload` for the batch-norm contract).

        TRAIN normalises with the batch statistics of the global batch (all-reduced over
        the ranks) and updates the running statistics in place only when
        `update_batch_norm`; EVAL runs `model.eval()` under `no_grad` with the running
        statistics. There is no dropout, so `rng` and `dropout_rate` are unused.
        """
        del rng, dropout_rate
        train = mode is ForwardPassMode.TRAIN
        params.train(train)
        inputs = augmented_and_preprocessed_input_batch["inputs"]
        with contextlib.nullcontext() if train else torch.no_grad():
            logits = params(inputs, update_batch_norm=train and update_batch_norm)
        return logits, model_state

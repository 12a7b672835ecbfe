"""PyTorch half of a workload: one device, or DDP when launched by torchrun.

Under DDP every rank loads only its own rows of each global batch (`process_share`), so no
rank broadcasts data (the reference broadcast from rank 0, reference-spec 2.8) and none
decodes another's examples. Eval metric sums are all-reduced.
"""

from __future__ import annotations

import abc
import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from algoperf.api import ForwardPassMode, LossOutput, RuleVersion, WorkloadSpec
from algoperf.workloads._base import NumpyDataWorkload
from algoperf.workloads._data import NumpyBatch, seed_from_rng
from algoperf.workloads._metrics import MetricSums, classification_sums
from algoperf.workloads._params import ParamRule
from algoperf.workloads._pipeline import ProcessShare
from algoperf.workloads.torch_params import torch_param_types


@dataclass(frozen=True)
class TorchRuntime:
    """This process's place in the job: rank, process count and device."""

    rank: int
    world_size: int
    device: torch.device

    @classmethod
    def current(cls) -> TorchRuntime:
        """The runtime of the initialised process group, or a single process."""
        if dist.is_available() and dist.is_initialized():
            rank, world_size = dist.get_rank(), dist.get_world_size()
        else:
            rank, world_size = 0, 1
        if torch.cuda.is_available():
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        else:
            device = torch.device("cpu")
        return cls(rank, world_size, device)


def init_distributed() -> TorchRuntime:
    """Join torchrun's process group (NCCL on GPU, gloo on CPU); call once from `main`."""
    if "LOCAL_RANK" in os.environ and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return TorchRuntime.current()


def shutdown_distributed() -> None:
    """Leave the process group cleanly: wait for every rank, then destroy the group.

    A gloo group still alive at interpreter exit can abort its rank (SIGABRT, "terminate called
    without an active exception"), and torchrun then reports the job failed. The barrier keeps a
    rank from tearing down while another still talks to it. Does nothing without a group, so a
    second call (or a call in a single process) is harmless.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def masked_loss_output(per_example: torch.Tensor, mask: torch.Tensor | None) -> LossOutput:
    """`loss_fn`'s result from unreduced losses; see `jax_base.masked_loss_output`."""
    if mask is None:
        n_valid = torch.tensor(float(per_example.numel()), device=per_example.device)
    else:
        mask = mask.reshape(per_example.shape)
        per_example = per_example * mask
        n_valid = mask.sum()
    if per_example.ndim > 1:
        per_example = per_example.reshape(len(per_example), -1).sum(dim=1)
    return {"summed": per_example.sum(), "n_valid_examples": n_valid, "per_example": per_example}


class TorchWorkload(NumpyDataWorkload):
    """A workload whose model is an `nn.Module` called as `model(x, dropout_rate=)`.

    `params` is the module itself (wrapped in DDP when there are several processes), as in
    the reference. The model state is None: batch-norm running statistics are the module's
    buffers.
    """

    output_layer: ClassVar[str] = "head"
    """Name of the output layer's submodule."""
    default_dropout_rate: ClassVar[float | None] = 0.0
    """Dropout rate used when `model_fn` gets `dropout_rate=None`; None for a model without
    dropout, which is then called without `dropout_rate`."""
    takes_update_batch_norm: ClassVar[bool] = False
    """Whether the model is called with `update_batch_norm=`: True only in TRAIN mode when the
    caller asks, so its batch norms update their running statistics only then."""
    param_type_rules: ClassVar[Mapping[type[nn.Module], ParamRule]] = MappingProxyType({})
    """Parameter types for the model's own module classes (see `torch_params.torch_param_types`)."""

    def __init__(
        self, spec: WorkloadSpec, rules: str | RuleVersion | None = None, **options: Any
    ) -> None:
        super().__init__(spec, rules, **options)
        self.runtime = TorchRuntime.current()

    @abc.abstractmethod
    def build_model(self) -> nn.Module:
        """The module, initialised from the global torch RNG."""

    @property
    def num_batch_shards(self) -> int:
        """The processes of the job."""
        return self.runtime.world_size

    @property
    def process_share(self) -> ProcessShare:
        """This rank's slice of every global batch."""
        return ProcessShare(self.runtime.rank, self.runtime.world_size)

    def place_batch(self, batch: NumpyBatch) -> dict[str, Any]:
        """This rank's rows as tensors on its device (copied from pinned memory on a GPU).

        Structured inputs (NamedTuples of arrays, such as graphs) keep their type.
        """
        device = self.runtime.device

        def place(value: Any) -> Any:
            if isinstance(value, tuple):
                return type(value)(*map(place, value))
            tensor = torch.as_tensor(value)
            if device.type != "cuda":
                return tensor
            return tensor.pin_memory().to(device, non_blocking=True)

        return {k: place(v) for k, v in batch.items()}

    def init_model_fn(self, rng: Any) -> tuple[nn.Module, None]:
        """The model seeded from `rng` (same on every rank), on this rank's device."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed_from_rng(rng))
            model = self.build_model()
        self._param_shapes = {k: tuple(p.shape) for k, p in model.named_parameters()}
        self._param_types = torch_param_types(model, self.param_type_rules)
        return self.wrap_for_processes(model.to(self.runtime.device)), None

    def wrap_for_processes(self, model: nn.Module) -> nn.Module:
        """`model` in DDP when the job has several processes; as it is otherwise.

        DDP all-reduces the gradients in `backward`, so every rank steps the same parameters.
        """
        if self.runtime.world_size == 1:
            return model
        ids = [self.runtime.device.index] if self.runtime.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def is_output_params(self, param_key: str) -> bool:
        """Whether `param_key` (e.g. 'head.weight') belongs to the output layer."""
        return param_key.removeprefix("module.").split(".")[0] == self.output_layer

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

        TRAIN normalises with the statistics of the global batch and updates the running
        statistics in place only when `update_batch_norm`; EVAL runs `model.eval()` under
        `no_grad` with the running statistics.
        """
        del rng  # dropout uses the torch RNG
        train = mode is ForwardPassMode.TRAIN
        kwargs: dict[str, Any] = {}
        if self.default_dropout_rate is not None:
            kwargs["dropout_rate"] = (
                self.default_dropout_rate if dropout_rate is None else dropout_rate
            )
        if self.takes_update_batch_norm:
            kwargs["update_batch_norm"] = train and update_batch_norm
        params.train(train)
        with contextlib.nullcontext() if train else torch.no_grad():
            logits = params(augmented_and_preprocessed_input_batch["inputs"], **kwargs)
        return logits, model_state

    def eval_outputs(
        self, params: Any, model_state: Any, batch: NumpyBatch
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Eval logits of this rank's rows of the global batch, with their labels."""
        shard = self.place_batch(batch)
        logits, _ = self.model_fn(params, shard, model_state, ForwardPassMode.EVAL, None, False)
        return tuple(  # type: ignore[return-value]
            t.float().cpu().numpy() for t in (logits, shard["targets"], shard["weights"])
        )

    def sum_over_processes(self, sums: MetricSums) -> MetricSums:
        """`sums` all-reduced over the ranks, in float64."""
        if self.runtime.world_size == 1:
            return sums
        keys = sorted(sums)
        total = torch.tensor(
            [sums[k] for k in keys], dtype=torch.float64, device=self.runtime.device
        )
        dist.all_reduce(total)
        return dict(zip(keys, total.tolist(), strict=True))

    def gather_over_processes(self, array: np.ndarray) -> np.ndarray:
        """Every rank's equally shaped `array`, concatenated on axis 0 in rank order."""
        if self.runtime.world_size == 1:
            return array
        local = torch.as_tensor(array).to(self.runtime.device)
        parts = [torch.empty_like(local) for _ in range(self.runtime.world_size)]
        dist.all_gather(parts, local)
        return torch.cat(parts).cpu().numpy()


class TorchClassificationWorkload(TorchWorkload):
    """Softmax cross-entropy over integer targets; accuracy and loss metrics."""

    def loss_fn(
        self,
        label_batch: torch.Tensor,
        logits_batch: torch.Tensor,
        mask_batch: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
    ) -> LossOutput:
        """Per-example (label-smoothed) cross-entropy, zero where `mask_batch` is 0."""
        per_example = F.cross_entropy(
            logits_batch, label_batch.long(), reduction="none", label_smoothing=label_smoothing
        )
        return masked_loss_output(per_example, mask_batch)

    def metric_sums(
        self, logits: np.ndarray, targets: np.ndarray, weights: np.ndarray
    ) -> MetricSums:
        """Loss and accuracy sums (numpy, shared with JAX)."""
        return classification_sums(logits, targets, weights)

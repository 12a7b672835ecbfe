"""PyTorch half of a workload: one device, or DDP when launched by torchrun.

Under DDP every rank loads only its own rows of each global batch (`process_share`), so no
rank broadcasts data (the reference broadcast from rank 0, reference-spec 2.8) and none
decodes another's examples. Eval metric sums are all-reduced.
"""

from __future__ import annotations

import abc
import contextlib
import os
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from algoperf.api import ForwardPassMode, LossOutput, ParameterType, RuleVersion, WorkloadSpec
from algoperf.workloads._base import NumpyDataWorkload
from algoperf.workloads._data import NumpyBatch, seed_from_rng
from algoperf.workloads._metrics import MetricSums, classification_sums
from algoperf.workloads._pipeline import ProcessShare


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


_MODULE_PARAM_TYPES: dict[type[nn.Module], dict[str, ParameterType]] = {
    nn.Linear: {"weight": ParameterType.WEIGHT, "bias": ParameterType.BIAS},
    nn.Conv2d: {"weight": ParameterType.CONV_WEIGHT, "bias": ParameterType.BIAS},
    nn.LayerNorm: {"weight": ParameterType.LAYER_NORM_SCALE, "bias": ParameterType.LAYER_NORM_BIAS},
    nn.Embedding: {"weight": ParameterType.EMBEDDING},
}


def torch_param_types(model: nn.Module) -> dict[str, ParameterType]:
    """`ParameterType` per parameter name, by the type of the module that owns it.

    Raises:
        ValueError: for a parameter of a module type without a rule.
    """
    types = {}
    for prefix, module in model.named_modules():
        for name, _ in module.named_parameters(recurse=False):
            rule = _MODULE_PARAM_TYPES.get(type(module), {})
            if name not in rule:
                raise ValueError(f"no parameter-type rule for {type(module).__name__}.{name}")
            types[f"{prefix}.{name}" if prefix else name] = rule[name]
    return types


class TorchWorkload(NumpyDataWorkload):
    """A workload whose model is an `nn.Module` called as `model(x, dropout_rate=)`.

    `params` is the module itself (wrapped in DDP when there are several processes), as in
    the reference. Models with batch norm override `model_fn`.
    """

    output_layer: ClassVar[str] = "head"
    """Name of the output layer's submodule."""
    default_dropout_rate: ClassVar[float] = 0.0
    """Dropout rate used when `model_fn` gets `dropout_rate=None`."""

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
        named = dict(model.named_parameters())
        self._param_shapes = {k: tuple(p.shape) for k, p in named.items()}
        self._param_types = torch_param_types(model)
        model.to(self.runtime.device)
        if self.runtime.world_size > 1:
            ids = [self.runtime.device.index] if self.runtime.device.type == "cuda" else None
            model = DistributedDataParallel(model, device_ids=ids)
        return model, None

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
        """Logits; EVAL mode runs `model.eval()` under `no_grad`."""
        del rng, update_batch_norm  # dropout uses the torch RNG; no batch norm here
        train = mode is ForwardPassMode.TRAIN
        rate = self.default_dropout_rate if dropout_rate is None else dropout_rate
        params.train(train)
        with contextlib.nullcontext() if train else torch.no_grad():
            logits = params(augmented_and_preprocessed_input_batch["inputs"], dropout_rate=rate)
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
        if mask_batch is None:
            n_valid = torch.tensor(float(len(per_example)), device=per_example.device)
        else:
            per_example = per_example * mask_batch
            n_valid = mask_batch.sum()
        return {
            "summed": per_example.sum(),
            "n_valid_examples": n_valid,
            "per_example": per_example,
        }

    def metric_sums(
        self, logits: np.ndarray, targets: np.ndarray, weights: np.ndarray
    ) -> MetricSums:
        """Loss and accuracy sums (numpy, shared with JAX)."""
        return classification_sums(logits, targets, weights)

"""The train step every PyTorch baseline shares, and the submission object built on it.

A baseline is a `torch.optim.Optimizer` built from the model's parameters and its
hyperparameters (a baseline file is `SUBMISSION = TorchBaseline(make_optimizer, schedule,
hyperparameter names)`), stepped with a `LambdaLR` of a schedule factor shared with JAX
(`algoperf.baselines._schedules`). The optimizer state is `{'optimizer', 'scheduler'}`,
both `state_dict()`-able.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from algoperf.api import ForwardPassMode, Hyperparameters, LossType, Workload
from algoperf.baselines import _common, _schedules
from algoperf.baselines._common import TrainOptions
from algoperf.baselines.pytorch import optimizers
from algoperf.baselines.pytorch.optimizers import gradients

OptimizerFactory = Callable[[list[nn.Parameter], Hyperparameters], torch.optim.Optimizer]
"""`make_optimizer(params, hyperparameters)`: the optimizer at the peak learning rate."""
ScheduleFactory = Callable[[Hyperparameters, int], _schedules.Schedule]
"""`make_schedule(hyperparameters, step_hint)`: the learning-rate factor of each step."""


def warmup_cosine(hparams: Hyperparameters, step_hint: int) -> _schedules.Schedule:
    """The Adam family's factor (`_schedules.warmup_cosine`)."""
    return _schedules.warmup_cosine(float(hparams.warmup_factor), step_hint)


def warmup_linear_decay(hparams: Hyperparameters, step_hint: int) -> _schedules.Schedule:
    """The SGD family's factor (`_schedules.warmup_linear_decay`)."""
    return _schedules.warmup_linear_decay(
        float(hparams.warmup_factor),
        step_hint,
        float(hparams.decay_steps_factor),
        float(hparams.end_factor),
    )


def warmup_constant(hparams: Hyperparameters, step_hint: int) -> _schedules.Schedule:
    """Schedule-Free's warmup-only factor (`_schedules.warmup_constant`)."""
    return _schedules.warmup_constant(float(hparams.warmup_factor), step_hint)


def adam_like(transform: Callable[..., torch.optim.Optimizer]) -> OptimizerFactory:
    """`make_optimizer` of an optimizer called as `transform(params, lr=, b1=, b2=, weight_decay=)`.

    See `algoperf.baselines.jax.train.adam_like`; the schedule is the baseline's, not the
    optimizer's.
    """

    def make_optimizer(
        params: list[nn.Parameter], hparams: Hyperparameters
    ) -> torch.optim.Optimizer:
        return transform(
            params,
            lr=hparams.learning_rate,
            b1=1.0 - hparams.one_minus_beta1,
            b2=hparams.beta2,
            weight_decay=hparams.weight_decay,
        )

    return make_optimizer


def mean_loss(
    workload: Workload,
    model: nn.Module,
    model_state: Any,
    batch: Mapping[str, torch.Tensor],
    options: TrainOptions,
) -> tuple[torch.Tensor, Any]:
    """Global Σloss / global n_valid of this step's batch, and the new model state.

    Under DDP each rank holds a slice. The returned loss has the value of the global mean;
    its gradient is this rank's Σloss times world size over the global n_valid, which DDP's
    gradient averaging turns into the gradient of the global mean (reference-spec 2.8). One
    plain all-reduce of (Σloss, n_valid); no differentiable collective (`torch.distributed.nn`
    is deprecated).
    """
    logits, new_model_state = workload.model_fn(
        model,
        batch,
        model_state,
        ForwardPassMode.TRAIN,
        None,
        update_batch_norm=True,
        dropout_rate=options.dropout_rate,
    )
    loss = workload.loss_fn(batch["targets"], logits, batch.get("weights"), options.label_smoothing)
    summed, n_valid = loss["summed"], loss["n_valid_examples"]
    if not (dist.is_available() and dist.is_initialized()):
        return summed / n_valid, new_model_state
    totals = torch.stack([summed.detach(), n_valid.detach().to(summed.dtype)])
    dist.all_reduce(totals)
    scaled = summed * (dist.get_world_size() / totals[1])
    return scaled + (totals[0] / totals[1] - scaled.detach()), new_model_state


def clip_grad_norm(params: list[nn.Parameter], grad_clip: float | None) -> torch.Tensor:
    """Clip gradients to global norm `grad_clip` (None: unchanged); returns the norm."""
    max_norm = math.inf if grad_clip is None else grad_clip
    return torch.nn.utils.clip_grad_norm_(params, max_norm)


class TorchBaseline(_common.Baseline):
    """The submission functions of one PyTorch baseline, as a `SUBMISSION` object.

    Subclasses change how gradients are taken (SAM) or which parameters are trained and
    evaluated (Schedule-Free).

    Args:
        make_optimizer: builds the optimizer from parameters and hyperparameters.
        make_schedule: builds the learning-rate factor from hyperparameters and step hint.
        hyperparameters: the names the two read; with those the subclass reads, the search
            space must set them (`required_hyperparameters`).
        fixed_hyperparameters: the self-tuning point; None for external tuning.
    """

    def __init__(
        self,
        make_optimizer: OptimizerFactory,
        make_schedule: ScheduleFactory,
        hyperparameters: Collection[str],
        fixed_hyperparameters: Hyperparameters | None = None,
    ) -> None:
        self.make_optimizer = make_optimizer
        self.make_schedule = make_schedule
        super().__init__(hyperparameters, fixed_hyperparameters)

    def init_optimizer_state(
        self,
        workload: Workload,
        model_params: nn.Module,
        model_state: Any,
        hyperparameters: Hyperparameters | None,
        rng: Any,
    ) -> dict[str, Any]:
        """`{'optimizer', 'scheduler'}` over the model's parameters."""
        del model_state, rng
        hparams = self.resolve(hyperparameters)
        optimizer = self.make_optimizer(list(model_params.parameters()), hparams)
        factor = self.make_schedule(hparams, workload.step_hint)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: float(factor(s)))
        return {"optimizer": optimizer, "scheduler": scheduler}

    def update_params(
        self,
        workload: Workload,
        current_param_container: nn.Module,
        current_params_types: Any,
        model_state: Any,
        hyperparameters: Hyperparameters | None,
        batch: Mapping[str, torch.Tensor],
        loss_type: LossType,
        optimizer_state: dict[str, Any],
        eval_results: Any,
        global_step: int,
        rng: Any,
    ) -> tuple[dict[str, Any], nn.Module, Any]:
        """One step; logs loss and gradient norm every `LOG_EVERY` steps."""
        del current_params_types, loss_type, eval_results, rng
        hparams = self.resolve(hyperparameters)
        options = TrainOptions.from_hyperparameters(hparams)
        model, optimizer = current_param_container, optimizer_state["optimizer"]
        self.before_step(optimizer)
        params = [p for p in model.parameters() if p.requires_grad]

        def loss_fn() -> tuple[torch.Tensor, Any]:
            return mean_loss(workload, model, model_state, batch, options)

        loss, new_model_state = self.backward(loss_fn, params, optimizer, hparams)
        grad_norm = clip_grad_norm(params, options.grad_clip)
        optimizer.step()
        optimizer_state["scheduler"].step()
        if workload.metrics_logger is not None and global_step % _common.LOG_EVERY == 0:
            metrics = {"loss": loss.item(), "grad_norm": grad_norm.item()}
            workload.metrics_logger(metrics, global_step)
        return optimizer_state, model, new_model_state

    def before_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Prepare the parameters for the gradient (nothing by default)."""
        del optimizer

    def backward(
        self,
        loss_fn: Callable[[], tuple[torch.Tensor, Any]],
        params: list[nn.Parameter],
        optimizer: torch.optim.Optimizer,
        hparams: Hyperparameters,
    ) -> tuple[torch.Tensor, Any]:
        """Fill `.grad` of `params`; returns the (detached) loss and the new model state."""
        del params, hparams
        optimizer.zero_grad(set_to_none=True)
        loss, new_model_state = loss_fn()
        loss.backward()
        return loss.detach(), new_model_state


class SamBaseline(TorchBaseline):
    """SAM over the baseline's optimizer; see `algoperf.baselines.jax.train.SamBaseline`."""

    step_hyperparameters = ("rho",)

    def backward(
        self,
        loss_fn: Callable[[], tuple[torch.Tensor, Any]],
        params: list[nn.Parameter],
        optimizer: torch.optim.Optimizer,
        hparams: Hyperparameters,
    ) -> tuple[torch.Tensor, Any]:
        """The gradient at the SAM point; the parameters are restored afterwards."""
        loss, new_model_state = super().backward(loss_fn, params, optimizer, hparams)
        with torch.no_grad():
            offsets = sam_perturbation(gradients(params), float(hparams.rho))
            for param, offset in zip(params, offsets, strict=True):
                param.add_(offset)
        optimizer.zero_grad(set_to_none=True)
        sharp_loss, _ = loss_fn()
        sharp_loss.backward()
        with torch.no_grad():
            for param, offset in zip(params, offsets, strict=True):
                param.sub_(offset)
        return loss, new_model_state


def sam_perturbation(grads: list[torch.Tensor], rho: float) -> list[torch.Tensor]:
    """`rho * g / (‖g‖ + 1e-12)` per tensor; see the JAX `sam_perturbation`."""
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    scale = rho / (norm + 1e-12)
    return [g * scale for g in grads]


class ScheduleFreeBaseline(TorchBaseline):
    """Schedule-Free AdamW: train at y, evaluate at x through `prepare_for_eval`."""

    def before_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Put the parameters back to y (they may hold x after an eval)."""
        self._schedule_free(optimizer).train()

    def prepare_for_eval(
        self,
        workload: Workload,
        current_param_container: nn.Module,
        current_params_types: Any,
        model_state: Any,
        hyperparameters: Hyperparameters | None,
        loss_type: LossType,
        optimizer_state: dict[str, Any],
        eval_results: Any,
        global_step: int,
        rng: Any,
    ) -> tuple[dict[str, Any], nn.Module, Any]:
        """Swap the parameters to the averaged sequence x."""
        del workload, current_params_types, hyperparameters, loss_type, eval_results
        del global_step, rng
        self._schedule_free(optimizer_state["optimizer"]).eval()
        return optimizer_state, current_param_container, model_state

    @staticmethod
    def _schedule_free(optimizer: torch.optim.Optimizer) -> optimizers.ScheduleFreeAdamW:
        if not isinstance(optimizer, optimizers.ScheduleFreeAdamW):
            raise TypeError(f"expected ScheduleFreeAdamW, got {type(optimizer).__name__}")
        return optimizer

"""my_submission: AdamW with linear warmup and cosine decay, as an AlgoPerf submission (PyTorch).

Written by `algoperf new`; it is yours to change. The harness calls the five functions below
by keyword (the parameter names are the contract); docs/submitting.md explains each one,
what is timed, and what the rules allow. Try it:

    algoperf check-submission my_submission.py --framework pytorch \
        --search-space my_submission_search_space.json
    algoperf benchmark --submission my_submission.py \
        --search-space my_submission_search_space.json
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
from torch import nn

from algoperf import api

DEFAULT_HYPERPARAMETERS = {
    "learning_rate": 2e-3,
    "one_minus_beta1": 0.1,
    "beta2": 0.999,
    "weight_decay": 0.05,
    "warmup_factor": 0.05,
}
"""Used when self-tuning (then `hyperparameters` is None). Under external tuning each trial
gets one point of the search space instead; it must set every name here."""
REQUIRED_HYPERPARAMETERS = tuple(DEFAULT_HYPERPARAMETERS)  # checked against the search space


def _hparams(hyperparameters: Mapping[str, Any] | None) -> dict[str, float]:
    """This trial's hyperparameters: the same on every workload, as the rules require."""
    if hyperparameters is None:
        return dict(DEFAULT_HYPERPARAMETERS)
    return {name: float(hyperparameters[name]) for name in DEFAULT_HYPERPARAMETERS}


def warmup_cosine(warmup_factor: float, step_hint: int) -> Callable[[int], float]:
    """The learning-rate factor of each step: linear warmup to 1, then cosine decay to 0.

    `step_hint` is the workload's step budget hint, the one workload-dependent number a
    schedule may use.
    """
    warmup = int(warmup_factor * step_hint)
    decay = max(step_hint - warmup, 1)

    def factor(step: int) -> float:
        if step < warmup:
            return step / warmup
        progress = min(max((step - warmup) / decay, 0.0), 1.0)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def get_batch_size(workload_name: str) -> int:
    """The global batch size: here the registry's baseline batch size of the workload.

    Raising ValueError for an unknown name makes the harness retry with the base workload.
    """
    try:
        return api.get_workload_spec(workload_name).baseline_batch_size
    except api.UnknownNameError as e:
        raise ValueError(str(e)) from None


def init_optimizer_state(
    workload: api.Workload,
    model_params: nn.Module,
    model_state: Any,
    hyperparameters: Mapping[str, Any] | None,
    rng: Any,
) -> dict[str, Any]:
    """The optimizer state: values with `state_dict()` (they are checkpointed). Untimed.

    This is where a new algorithm goes: any `torch.optim.Optimizer` subclass fits here.
    """
    del model_state, rng
    hparams = _hparams(hyperparameters)
    optimizer = torch.optim.AdamW(
        model_params.parameters(),
        lr=hparams["learning_rate"],
        betas=(1.0 - hparams["one_minus_beta1"], hparams["beta2"]),
        eps=1e-8,
        weight_decay=hparams["weight_decay"],
    )
    factor = warmup_cosine(hparams["warmup_factor"], workload.step_hint)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return {"optimizer": optimizer, "scheduler": scheduler}


def update_params(
    workload: api.Workload,
    current_param_container: nn.Module,
    current_params_types: Any,
    model_state: Any,
    hyperparameters: Mapping[str, Any] | None,
    batch: Mapping[str, torch.Tensor],
    loss_type: api.LossType,
    optimizer_state: dict[str, Any],
    eval_results: Any,
    global_step: int,
    rng: Any,
) -> tuple[dict[str, Any], nn.Module, Any]:
    """One training step (timed): returns (optimizer_state, params, model_state).

    Under DDP (`--nproc`) the model is wrapped, and `backward` averages gradients over ranks.
    """
    del current_params_types, hyperparameters, loss_type, eval_results
    model, optimizer = current_param_container, optimizer_state["optimizer"]
    optimizer.zero_grad(set_to_none=True)
    logits, new_model_state = workload.model_fn(
        model, batch, model_state, api.ForwardPassMode.TRAIN, rng, update_batch_norm=True
    )
    loss = workload.loss_fn(batch["targets"], logits, batch.get("weights"))
    mean_loss = loss["summed"] / loss["n_valid_examples"]
    mean_loss.backward()
    optimizer.step()
    optimizer_state["scheduler"].step()
    if workload.metrics_logger is not None and global_step % 100 == 0:
        workload.metrics_logger({"loss": mean_loss.item()}, global_step)  # lands in metrics.jsonl
    return optimizer_state, model, new_model_state


def prepare_for_eval(
    workload: api.Workload,
    current_param_container: nn.Module,
    current_params_types: Any,
    model_state: Any,
    hyperparameters: Mapping[str, Any] | None,
    loss_type: api.LossType,
    optimizer_state: dict[str, Any],
    eval_results: Any,
    global_step: int,
    rng: Any,
) -> tuple[dict[str, Any], nn.Module, Any]:
    """Optional; runs before each eval under v0.6 rules, and its time counts.

    Load other weights (an EMA, schedule-free's average) into the model to have those evaluated.
    """
    del workload, current_params_types, hyperparameters, loss_type, eval_results
    del global_step, rng
    return optimizer_state, current_param_container, model_state


def data_selection(
    workload: api.Workload,
    input_queue: Iterator[Mapping[str, Any]],
    optimizer_state: dict[str, Any],
    current_param_container: nn.Module,
    model_state: Any,
    hyperparameters: Mapping[str, Any] | None,
    global_step: int,
    rng: Any,
) -> Mapping[str, Any]:
    """The next training batch (timed). Reorder, filter or reweight batches here."""
    del workload, optimizer_state, current_param_container, model_state
    del hyperparameters, global_step, rng
    return next(input_queue)

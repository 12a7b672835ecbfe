"""my_submission: AdamW with linear warmup and cosine decay, as an AlgoPerf submission (JAX).

Written by `algoperf new`; it is yours to change. The harness calls the five functions below
by keyword (the parameter names are the contract); docs/submitting.md explains each one,
what is timed, and what the rules allow. Try it:

    algoperf check-submission my_submission.py --framework jax \
        --search-space my_submission_search_space.json
    algoperf benchmark --submission my_submission.py \
        --search-space my_submission_search_space.json
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax

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


def make_optimizer(hparams: Mapping[str, float], step_hint: int) -> optax.GradientTransformation:
    """The training algorithm: AdamW, its learning rate warmed up then decayed on a cosine.

    This is where a new algorithm goes. `step_hint` is the workload's step budget hint, the
    one workload-dependent number a schedule may use.
    """
    warmup = int(hparams["warmup_factor"] * step_hint)
    schedule = optax.join_schedules(
        [
            optax.linear_schedule(0.0, hparams["learning_rate"], max(warmup, 1)),
            optax.cosine_decay_schedule(hparams["learning_rate"], max(step_hint - warmup, 1)),
        ],
        boundaries=[warmup],
    )
    return optax.chain(
        optax.scale_by_adam(b1=1.0 - hparams["one_minus_beta1"], b2=hparams["beta2"], eps=1e-8),
        optax.add_decayed_weights(hparams["weight_decay"]),  # decoupled weight decay
        optax.scale_by_learning_rate(schedule),
    )


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
    model_params: Any,
    model_state: Any,
    hyperparameters: Mapping[str, Any] | None,
    rng: jax.Array,
) -> Any:
    """The optimizer state: a pytree (it is checkpointed). Called once per trial, untimed."""
    del model_state, rng
    state = make_optimizer(_hparams(hyperparameters), workload.step_hint).init(model_params)
    # Place it like the parameters (replicated over the devices), as the jitted step returns it.
    return jax.device_put(state, jax.tree.leaves(model_params)[0].sharding)


def update_params(
    workload: api.Workload,
    current_param_container: Any,
    current_params_types: Any,
    model_state: Any,
    hyperparameters: Mapping[str, Any] | None,
    batch: Mapping[str, jax.Array],
    loss_type: api.LossType,
    optimizer_state: Any,
    eval_results: Any,
    global_step: int,
    rng: jax.Array,
) -> tuple[Any, Any, Any]:
    """One training step (timed): returns (optimizer_state, params, model_state)."""
    del current_params_types, loss_type, eval_results
    hparams = tuple(sorted(_hparams(hyperparameters).items()))
    sharding = jax.tree.leaves(current_param_container)[0].sharding
    step = _train_step(workload, hparams, sharding)
    params, model_state, optimizer_state, loss = step(
        current_param_container, model_state, optimizer_state, batch, rng
    )
    if workload.metrics_logger is not None and global_step % 100 == 0:
        workload.metrics_logger({"loss": float(loss)}, global_step)  # lands in metrics.jsonl
    return optimizer_state, params, model_state


@functools.cache
def _train_step(
    workload: api.Workload, hparams: tuple[tuple[str, float], ...], sharding: Any
) -> Callable[..., Any]:
    """The jitted step of one workload and hyperparameter point.

    It compiles on its first call, and compilation counts as submission time.
    """
    tx = make_optimizer(dict(hparams), workload.step_hint)

    def step(params: Any, model_state: Any, opt_state: Any, batch: Any, rng: jax.Array) -> Any:
        def loss_fn(params: Any) -> tuple[jax.Array, Any]:
            logits, new_model_state = workload.model_fn(
                params, batch, model_state, api.ForwardPassMode.TRAIN, rng, update_batch_norm=True
            )
            loss = workload.loss_fn(batch["targets"], logits, batch.get("weights"))
            # The batch is sharded over the devices: inside jit these sums span all of them.
            return loss["summed"] / loss["n_valid_examples"], new_model_state

        (loss, model_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), model_state, opt_state, jnp.asarray(loss)

    return jax.jit(step, out_shardings=sharding)


def prepare_for_eval(
    workload: api.Workload,
    current_param_container: Any,
    current_params_types: Any,
    model_state: Any,
    hyperparameters: Mapping[str, Any] | None,
    loss_type: api.LossType,
    optimizer_state: Any,
    eval_results: Any,
    global_step: int,
    rng: jax.Array,
) -> tuple[Any, Any, Any]:
    """Optional; runs before each eval under v0.6 rules, and its time counts.

    Return other parameters (an EMA, schedule-free's average) to have those evaluated.
    """
    del workload, current_params_types, hyperparameters, loss_type, eval_results
    del global_step, rng
    return optimizer_state, current_param_container, model_state


def data_selection(
    workload: api.Workload,
    input_queue: Iterator[Mapping[str, Any]],
    optimizer_state: Any,
    current_param_container: Any,
    model_state: Any,
    hyperparameters: Mapping[str, Any] | None,
    global_step: int,
    rng: jax.Array,
) -> Mapping[str, Any]:
    """The next training batch (timed). Reorder, filter or reweight batches here."""
    del workload, optimizer_state, current_param_container, model_state
    del hyperparameters, global_step, rng
    return next(input_queue)

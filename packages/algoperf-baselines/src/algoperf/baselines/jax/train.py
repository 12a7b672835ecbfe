"""The train step every JAX baseline shares, and the submission object built on it.

A baseline is an optax transformation built from its hyperparameters and the workload's step
hint; `JaxBaseline` turns it into the submission contract's methods, so a baseline file is
`SUBMISSION = JaxBaseline(make_optimizer, hyperparameter names)`. The optimizer state is the
optax state pytree itself (no `(state, update_fn)` tuple): the transformation is rebuilt from
the hyperparameters, and its jitted step is cached per workload.

The state and the step's outputs are placed like the parameters the harness passes in (the
contract replicates them over the workload's mesh, reference-spec 2.8), so nothing here reads
a framework-specific attribute of the workload.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Collection, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax

from algoperf.api import ForwardPassMode, Hyperparameters, LossType, Workload
from algoperf.baselines import _common, _schedules
from algoperf.baselines._common import TrainOptions
from algoperf.baselines.jax import optimizers

OptimizerFactory = Callable[[Hyperparameters, int], optax.GradientTransformation]
"""`make_optimizer(hyperparameters, step_hint)`: the transformation, schedule included."""
LossFn = Callable[[Any], tuple[jax.Array, Any]]
"""Parameters to (mean loss over the global batch, new model state)."""


def warmup_cosine_lr(hparams: Hyperparameters, step_hint: int) -> optax.Schedule:
    """`learning_rate` times the shared warmup + cosine factor (`_schedules.warmup_cosine`)."""
    factor = _schedules.warmup_cosine(float(hparams.warmup_factor), step_hint, xp=jnp)
    return lambda count: float(hparams.learning_rate) * factor(count)


def warmup_linear_decay_lr(hparams: Hyperparameters, step_hint: int) -> optax.Schedule:
    """`learning_rate` times the SGD family's factor (`_schedules.warmup_linear_decay`)."""
    factor = _schedules.warmup_linear_decay(
        float(hparams.warmup_factor),
        step_hint,
        float(hparams.decay_steps_factor),
        float(hparams.end_factor),
        xp=jnp,
    )
    return lambda count: float(hparams.learning_rate) * factor(count)


def warmup_constant_lr(hparams: Hyperparameters, step_hint: int) -> optax.Schedule:
    """`learning_rate` times Schedule-Free's warmup factor (`_schedules.warmup_constant`)."""
    factor = _schedules.warmup_constant(float(hparams.warmup_factor), step_hint, xp=jnp)
    return lambda count: float(hparams.learning_rate) * factor(count)


def adam_like(
    transform: Callable[..., optax.GradientTransformation],
    schedule: Callable[[Hyperparameters, int], optax.Schedule] = warmup_cosine_lr,
) -> OptimizerFactory:
    """`make_optimizer` of a rule called as `transform(schedule, b1=, b2=, weight_decay=)`.

    b1 is 1 - `one_minus_beta1`; b2 and weight decay are `beta2` and `weight_decay`
    (`_common.ADAM_HYPERPARAMETERS` with a warmup schedule).
    """

    def make_optimizer(hparams: Hyperparameters, step_hint: int) -> optax.GradientTransformation:
        return transform(
            schedule(hparams, step_hint),
            b1=1.0 - hparams.one_minus_beta1,
            b2=hparams.beta2,
            weight_decay=hparams.weight_decay,
        )

    return make_optimizer


def params_sharding(params: Any) -> jax.sharding.Sharding:
    """The placement of the parameters, which the contract replicates over the mesh."""
    return jax.tree.leaves(params)[0].sharding


def mean_loss_fn(
    workload: Workload,
    options: TrainOptions,
    model_state: Any,
    batch: Mapping[str, jax.Array],
    rng: jax.Array,
) -> LossFn:
    """The training loss of `batch`: global Σloss / global n_valid.

    The batch is sharded over the mesh, so the sums inside `jit` already span all devices.
    """

    def loss_fn(params: Any) -> tuple[jax.Array, Any]:
        logits, new_model_state = workload.model_fn(
            params,
            batch,
            model_state,
            ForwardPassMode.TRAIN,
            rng,
            update_batch_norm=True,
            dropout_rate=options.dropout_rate,
        )
        loss = workload.loss_fn(
            batch["targets"], logits, batch.get("weights"), options.label_smoothing
        )
        return loss["summed"] / loss["n_valid_examples"], new_model_state

    return loss_fn


def plain_gradients(loss_fn: LossFn, params: Any) -> tuple[jax.Array, Any, Any]:
    """(loss, new model state, gradient) at `params`."""
    (loss, new_model_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    return loss, new_model_state, grads


def global_norm(tree: Any) -> jax.Array:
    """The l2 norm of all leaves of `tree` together."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(tree)))


def clip_by_global_norm(grads: Any, grad_clip: float | None) -> tuple[Any, jax.Array]:
    """Gradients scaled to global norm at most `grad_clip` (None: unchanged), and the norm."""
    norm = global_norm(grads)
    if grad_clip is None:
        return grads, norm
    factor = jnp.minimum(1.0, grad_clip / (norm + _common.GRAD_CLIP_EPS))
    return jax.tree.map(lambda g: g * factor, grads), norm


class JaxBaseline(_common.Baseline):
    """The submission functions of one optax baseline, as a `SUBMISSION` object.

    Subclasses change how gradients are taken (SAM) or which parameters are trained and
    evaluated (Schedule-Free).

    Args:
        make_optimizer: builds the transformation from hyperparameters and step hint.
        hyperparameters: the names `make_optimizer` reads; with those the subclass reads, the
            search space must set them (`required_hyperparameters`).
        fixed_hyperparameters: the self-tuning point; None for external tuning.
    """

    def __init__(
        self,
        make_optimizer: OptimizerFactory,
        hyperparameters: Collection[str],
        fixed_hyperparameters: Hyperparameters | None = None,
    ) -> None:
        self.make_optimizer = make_optimizer
        super().__init__(hyperparameters, fixed_hyperparameters)
        self._steps: weakref.WeakKeyDictionary[Workload, dict[Any, Callable[..., Any]]] = (
            weakref.WeakKeyDictionary()
        )

    def init_optimizer_state(
        self,
        workload: Workload,
        model_params: Any,
        model_state: Any,
        hyperparameters: Hyperparameters | None,
        rng: jax.Array,
    ) -> Any:
        """The optax state of the baseline's transformation, placed like the parameters.

        Placing it as the jitted step returns it keeps the step from compiling twice.
        """
        del model_state, rng
        hparams = self.resolve(hyperparameters)
        state = self.make_optimizer(hparams, workload.step_hint).init(model_params)
        return jax.device_put(state, params_sharding(model_params))

    def update_params(
        self,
        workload: Workload,
        current_param_container: Any,
        current_params_types: Any,
        model_state: Any,
        hyperparameters: Hyperparameters | None,
        batch: Mapping[str, jax.Array],
        loss_type: LossType,
        optimizer_state: Any,
        eval_results: Any,
        global_step: int,
        rng: jax.Array,
    ) -> tuple[Any, Any, Any]:
        """One jitted step; logs loss and gradient norm every `LOG_EVERY` steps."""
        del current_params_types, loss_type, eval_results
        hparams = self.resolve(hyperparameters)
        step = self._train_step(workload, hparams, current_param_container)
        params, model_state, optimizer_state, loss, grad_norm = step(
            current_param_container, model_state, optimizer_state, batch, rng
        )
        if workload.metrics_logger is not None and global_step % _common.LOG_EVERY == 0:
            metrics = {"loss": float(loss), "grad_norm": float(grad_norm)}
            workload.metrics_logger(metrics, global_step)
        return optimizer_state, params, model_state

    def train_params(self, params: Any, optimizer_state: Any, hparams: Hyperparameters) -> Any:
        """The parameters the gradient is taken at (the given ones by default)."""
        del optimizer_state, hparams
        return params

    def gradients(
        self, loss_fn: LossFn, params: Any, hparams: Hyperparameters
    ) -> tuple[jax.Array, Any, Any]:
        """(loss, new model state, gradient) of `loss_fn` at `params`."""
        del hparams
        return plain_gradients(loss_fn, params)

    def _train_step(
        self, workload: Workload, hparams: Hyperparameters, params: Any
    ) -> Callable[..., Any]:
        cache = self._steps.setdefault(workload, {})
        key = _common.hyperparameters_key(hparams)
        if key not in cache:
            cache[key] = self._build_train_step(workload, hparams, params_sharding(params))
        return cache[key]

    def _build_train_step(
        self, workload: Workload, hparams: Hyperparameters, sharding: jax.sharding.Sharding
    ) -> Callable[..., Any]:
        tx = self.make_optimizer(hparams, workload.step_hint)
        options = TrainOptions.from_hyperparameters(hparams)

        def step(params: Any, model_state: Any, opt_state: Any, batch: Any, rng: jax.Array) -> Any:
            params = self.train_params(params, opt_state, hparams)
            loss_fn = mean_loss_fn(workload, options, model_state, batch, rng)
            loss, model_state, grads = self.gradients(loss_fn, params, hparams)
            grads, grad_norm = clip_by_global_norm(grads, options.grad_clip)
            updates, opt_state = tx.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), model_state, opt_state, loss, grad_norm

        return jax.jit(step, out_shardings=sharding)


class SamBaseline(JaxBaseline):
    r"""Sharpness-Aware Minimisation (Foret et al., 2021) over the baseline's optimizer.

    The gradient is taken at $\theta + \rho\, g / (\lVert g\rVert + 10^{-12})$, where $g$
    is the gradient at $\theta$ and $\rho$ the `rho` hyperparameter; the loss reported is
    the one at $\theta$. The PyTorch `SamBaseline` computes the same.
    """

    step_hyperparameters = ("rho",)

    def gradients(
        self, loss_fn: LossFn, params: Any, hparams: Hyperparameters
    ) -> tuple[jax.Array, Any, Any]:
        """The SAM gradient; the model state comes from the first (unperturbed) pass."""
        loss, model_state, grads = plain_gradients(loss_fn, params)
        perturbed = sam_perturbation(params, grads, float(hparams.rho))
        _, _, sharp_grads = plain_gradients(loss_fn, perturbed)
        return loss, model_state, sharp_grads


def sam_perturbation(params: Any, grads: Any, rho: float) -> Any:
    """The point SAM differentiates at: theta + rho * g / (||g|| + 1e-12)."""
    scale = rho / (global_norm(grads) + 1e-12)
    return jax.tree.map(lambda p, g: p + scale * g, params, grads)


class ScheduleFreeBaseline(JaxBaseline):
    """Schedule-Free AdamW: train at y, evaluate at x through `prepare_for_eval`.

    The optimizer state must be `optimizers.ScheduleFreeState`.
    """

    def train_params(self, params: Any, optimizer_state: Any, hparams: Hyperparameters) -> Any:
        """y, rebuilt from the state (the container may hold x after an eval)."""
        del params
        return optimizers.schedule_free_train_params(
            optimizer_state, 1.0 - float(hparams.one_minus_beta1)
        )

    def prepare_for_eval(
        self,
        workload: Workload,
        current_param_container: Any,
        current_params_types: Any,
        model_state: Any,
        hyperparameters: Hyperparameters | None,
        loss_type: LossType,
        optimizer_state: Any,
        eval_results: Any,
        global_step: int,
        rng: jax.Array,
    ) -> tuple[Any, Any, Any]:
        """Swap the evaluated parameters to the averaged sequence x."""
        del workload, current_param_container, current_params_types, hyperparameters
        del loss_type, eval_results, global_step, rng
        return optimizer_state, optimizers.schedule_free_eval_params(optimizer_state), model_state

"""Schedule-Free AdamW in JAX: warmup only, evaluated at the averaged sequence x.

`prepare_for_eval` swaps in x before each eval (reference-spec 1.2). A baseline the reference
lacks; search space `search_space_path('schedule_free_adamw')`.
"""

from __future__ import annotations

import optax

from algoperf.api import Hyperparameters
from algoperf.baselines.jax import optimizers, train


def make_optimizer(
    hyperparameters: Hyperparameters, step_hint: int
) -> optax.GradientTransformation:
    """Schedule-Free AdamW (see `optimizers.schedule_free_adamw`)."""
    return optimizers.schedule_free_adamw(
        train.warmup_constant_lr(hyperparameters, step_hint),
        b1=1.0 - hyperparameters.one_minus_beta1,
        b2=hyperparameters.beta2,
        weight_decay=hyperparameters.weight_decay,
    )


BASELINE = train.ScheduleFreeBaseline(make_optimizer)
get_batch_size = BASELINE.get_batch_size
init_optimizer_state = BASELINE.init_optimizer_state
update_params = BASELINE.update_params
data_selection = BASELINE.data_selection
prepare_for_eval = BASELINE.prepare_for_eval

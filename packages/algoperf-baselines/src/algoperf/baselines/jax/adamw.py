"""AdamW (`optax.adamw`) in JAX, with warmup + cosine decay.

Search space: reference-spec 6.4 (`search_space_path('adamw')`).
"""

from __future__ import annotations

import optax

from algoperf.api import Hyperparameters
from algoperf.baselines.jax import train


def make_optimizer(
    hyperparameters: Hyperparameters, step_hint: int
) -> optax.GradientTransformation:
    """AdamW with decoupled weight decay scaled by the learning rate."""
    return optax.adamw(
        train.warmup_cosine_lr(hyperparameters, step_hint),
        b1=1.0 - hyperparameters.one_minus_beta1,
        b2=hyperparameters.beta2,
        eps=1e-8,
        weight_decay=hyperparameters.weight_decay,
    )


BASELINE = train.JaxBaseline(make_optimizer)
get_batch_size = BASELINE.get_batch_size
init_optimizer_state = BASELINE.init_optimizer_state
update_params = BASELINE.update_params
data_selection = BASELINE.data_selection

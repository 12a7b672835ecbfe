"""Adafactor in JAX, with warmup + cosine decay.

Search space: reference-spec 6.4 (`search_space_path('adafactor')`).
"""

from __future__ import annotations

import optax

from algoperf.api import Hyperparameters
from algoperf.baselines.jax import optimizers, train


def make_optimizer(
    hyperparameters: Hyperparameters, step_hint: int
) -> optax.GradientTransformation:
    """Adafactor with momentum (see `optimizers.adafactor`)."""
    return optimizers.adafactor(
        train.warmup_cosine_lr(hyperparameters, step_hint),
        b1=1.0 - hyperparameters.one_minus_beta1,
        weight_decay=hyperparameters.weight_decay,
    )


BASELINE = train.JaxBaseline(make_optimizer)
get_batch_size = BASELINE.get_batch_size
init_optimizer_state = BASELINE.init_optimizer_state
update_params = BASELINE.update_params
data_selection = BASELINE.data_selection

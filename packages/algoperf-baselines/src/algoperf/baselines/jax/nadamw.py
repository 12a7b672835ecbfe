"""NAdamW, AlgoPerf's baseline (reference-spec 6.2), in JAX: external tuning.

Tuned over the reference's list of 5 points (`search_space_path('nadamw')`); the schedule is
warmup + cosine decay by step hint.
"""

from __future__ import annotations

import optax

from algoperf.api import Hyperparameters
from algoperf.baselines.jax import optimizers, train


def make_optimizer(
    hyperparameters: Hyperparameters, step_hint: int
) -> optax.GradientTransformation:
    """NAdamW with warmup + cosine decay."""
    return optimizers.nadamw(
        train.warmup_cosine_lr(hyperparameters, step_hint),
        b1=1.0 - hyperparameters.one_minus_beta1,
        b2=hyperparameters.beta2,
        weight_decay=hyperparameters.weight_decay,
    )


BASELINE = train.JaxBaseline(make_optimizer)
get_batch_size = BASELINE.get_batch_size
init_optimizer_state = BASELINE.init_optimizer_state
update_params = BASELINE.update_params
data_selection = BASELINE.data_selection

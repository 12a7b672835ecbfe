"""Adafactor in JAX, with warmup + cosine decay.

Search space: reference-spec 6.4 (`search_space_path('adafactor')`).
"""

from __future__ import annotations

import optax

from algoperf.api import Hyperparameters
from algoperf.baselines._common import ADAFACTOR_HYPERPARAMETERS
from algoperf.baselines.jax import optimizers, train


def make_optimizer(
    hyperparameters: Hyperparameters, step_hint: int
) -> optax.GradientTransformation:
    """Adafactor with momentum (see `optimizers.adafactor`); it has no `beta2`."""
    return optimizers.adafactor(
        train.warmup_cosine_lr(hyperparameters, step_hint),
        b1=1.0 - hyperparameters.one_minus_beta1,
        weight_decay=hyperparameters.weight_decay,
    )


SUBMISSION = train.JaxBaseline(make_optimizer, ADAFACTOR_HYPERPARAMETERS)

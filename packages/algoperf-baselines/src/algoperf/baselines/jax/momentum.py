"""Heavy-ball momentum SGD in JAX, with warmup + linear decay.

L2 weight decay is added to the gradient before momentum, as in the reference and in
`torch.optim.SGD`. Search space: reference-spec 6.4 (`search_space_path('momentum')`).
"""

from __future__ import annotations

import optax

from algoperf.api import Hyperparameters
from algoperf.baselines._common import SGD_HYPERPARAMETERS
from algoperf.baselines.jax import train


def make_optimizer(
    hyperparameters: Hyperparameters, step_hint: int, nesterov: bool = False
) -> optax.GradientTransformation:
    """SGD with momentum 1 - one_minus_beta1 after L2 weight decay (`nesterov.py` sets it)."""
    return optax.chain(
        optax.add_decayed_weights(hyperparameters.weight_decay),
        optax.sgd(
            train.warmup_linear_decay_lr(hyperparameters, step_hint),
            momentum=1.0 - hyperparameters.one_minus_beta1,
            nesterov=nesterov,
        ),
    )


SUBMISSION = train.JaxBaseline(make_optimizer, SGD_HYPERPARAMETERS)

"""Heavy-ball momentum SGD in JAX, with warmup + linear decay.

L2 weight decay is added to the gradient before momentum, as in the reference and in
`torch.optim.SGD`. Search space: reference-spec 6.4 (`search_space_path('momentum')`).
"""

from __future__ import annotations

import optax

from algoperf.api import Hyperparameters
from algoperf.baselines.jax import train


def make_optimizer(
    hyperparameters: Hyperparameters, step_hint: int
) -> optax.GradientTransformation:
    """SGD with momentum 1 - one_minus_beta1 (nesterov=False) after L2 weight decay."""
    return optax.chain(
        optax.add_decayed_weights(hyperparameters.weight_decay),
        optax.sgd(
            train.warmup_linear_decay_lr(hyperparameters, step_hint),
            momentum=1.0 - hyperparameters.one_minus_beta1,
            nesterov=False,
        ),
    )


BASELINE = train.JaxBaseline(make_optimizer)
get_batch_size = BASELINE.get_batch_size
init_optimizer_state = BASELINE.init_optimizer_state
update_params = BASELINE.update_params
data_selection = BASELINE.data_selection

"""Schedule-Free AdamW in PyTorch: warmup only, evaluated at the averaged sequence x.

The same function as `algoperf.baselines.jax.schedule_free_adamw`; `prepare_for_eval` swaps in x.
Search space `search_space_path('schedule_free_adamw')`.
"""

from __future__ import annotations

import torch
from torch import nn

from algoperf.api import Hyperparameters
from algoperf.baselines.pytorch import optimizers, train


def make_optimizer(
    params: list[nn.Parameter], hyperparameters: Hyperparameters
) -> torch.optim.Optimizer:
    """Schedule-Free AdamW at the peak learning rate (the warmup scales it)."""
    return optimizers.ScheduleFreeAdamW(
        params,
        lr=hyperparameters.learning_rate,
        b1=1.0 - hyperparameters.one_minus_beta1,
        b2=hyperparameters.beta2,
        weight_decay=hyperparameters.weight_decay,
    )


BASELINE = train.ScheduleFreeBaseline(make_optimizer, train.warmup_constant)
get_batch_size = BASELINE.get_batch_size
init_optimizer_state = BASELINE.init_optimizer_state
update_params = BASELINE.update_params
data_selection = BASELINE.data_selection
prepare_for_eval = BASELINE.prepare_for_eval
